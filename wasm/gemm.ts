// Single-precision GEMM kernels: C[m,n] = op(A)·op(B) (+ C), row-major, batched.
// Simple reference version (SIMD over the columns of C); the blocked kernel replaces its inside.
// All pointers are byte offsets into linear memory; strides and leading dimensions are in elements.

/** Bytes of packing workspace `sgemm` needs for these sizes (0 for the simple kernel). */
export function sgemmWorkspaceBytes(m: i32, n: i32, k: i32): usize {
  return 0;
}

/**
 * Batched sgemm. For each batch item t: C_t = op(A_t)·op(B_t) (+ C_t if accumulate != 0), where
 * A_t = a + t*strideA elements (op(A) = A [m,k] with row stride lda, or Aᵀ when transA != 0, A then
 * being [k,m] with row stride lda), likewise B ([k,n] or [n,k]) and C [m,n] with row stride ldc.
 * `work` points to sgemmWorkspaceBytes(m, n, k) bytes of scratch.
 */
export function sgemm(
  transA: i32,
  transB: i32,
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  strideA: i32,
  b: usize,
  ldb: i32,
  strideB: i32,
  c: usize,
  ldc: i32,
  strideC: i32,
  batch: i32,
  accumulate: i32,
  work: usize,
): void {
  for (let t = 0; t < batch; t++) {
    const pa = a + (<usize> t * <usize> strideA << 2);
    const pb = b + (<usize> t * <usize> strideB << 2);
    const pc = c + (<usize> t * <usize> strideC << 2);
    // strideC == 0: every item after the first adds into the same C
    const acc = accumulate != 0 || (strideC == 0 && t > 0) ? 1 : 0;
    simpleGemm(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, acc);
  }
}

function simpleGemm(
  transA: i32,
  transB: i32,
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  accumulate: i32,
): void {
  // element (i, p) of op(A) and (p, j) of op(B)
  const aRow: usize = transA ? 1 : <usize> lda;
  const aCol: usize = transA ? <usize> lda : 1;
  const bRow: usize = transB ? 1 : <usize> ldb;
  const bCol: usize = transB ? <usize> ldb : 1;
  for (let i = 0; i < m; i++) {
    const crow = c + (<usize> i * <usize> ldc << 2);
    if (!accumulate) memory.fill(crow, 0, <usize> n << 2);
    for (let p = 0; p < k; p++) {
      const aip = load<f32>(a + ((<usize> i * aRow + <usize> p * aCol) << 2));
      const brow = b + (<usize> p * bRow << 2);
      let j = 0;
      if (bCol == 1) {
        const va = f32x4.splat(aip);
        for (; j + 4 <= n; j += 4) {
          const off = <usize> j << 2;
          v128.store(crow + off, f32x4.add(v128.load(crow + off), f32x4.mul(va, v128.load(brow + off))));
        }
      }
      for (; j < n; j++) {
        const pcij = crow + (<usize> j << 2);
        store<f32>(pcij, load<f32>(pcij) + aip * load<f32>(brow + (<usize> j * bCol << 2)));
      }
    }
  }
}
