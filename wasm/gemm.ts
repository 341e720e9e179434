// Single-precision GEMM kernels: C[m,n] = op(A)·op(B) (+ C), row-major, batched.
//
// Blocked GEMM in the Goto/BLIS layout:
//   for jc over n in steps of NC:            (B block of KC x NC lives in L2/L3)
//     for pc over k in steps of KC:
//       pack B[pc:pc+KC, jc:jc+NC] into NR-column panels   (Bp: per panel, KC rows of NR floats)
//       for ic over m in steps of MC:         (A block of MC x KC lives in L2)
//         pack A[ic:ic+MC, pc:pc+KC] into MR-row panels   (Ap: per panel, KC columns of MR floats)
//         for jr over the NR panels, for ir over the MR panels:
//           MR x NR register tile += Ap panel · Bp panel   (micro-kernel, f32x4 SIMD)
// Packing reads op(A)/op(B) through (row, column) element strides, so the transposes cost nothing in
// the micro-kernel; panels are zero-padded to full MR/NR so the micro-kernel has no edge cases (edge
// tiles are written through a small edge tile). Nothing is allocated and nothing static is written:
// the packing buffers and the edge tile are a workspace passed in by the caller (sgemmWorkspaceBytes),
// so threads sharing one memory run sgemm concurrently, each with its own workspace.
// Built with relaxed SIMD (kernels_relaxed.wasm), every multiply-add of the micro-kernel is one
// f32x4.relaxed_madd (a fused multiply-add where the CPU has one) and the k loop is not unrolled (the
// 12 accumulators, 2 B vectors and the broadcast A value then fit the 15 vector registers V8 gives
// wasm on x64 without spills); the plain SIMD build multiplies and adds, unrolled by two.
// All pointers are byte offsets into linear memory; strides and leading dimensions are in elements.

import { madd } from "./simd";

const MR: i32 = 6; // rows of the register tile
const NR: i32 = 8; // columns of the register tile (2 x f32x4)
const KC: i32 = ASC_FEATURE_RELAXED_SIMD ? 384 : 256; // depth of a packed block
const MC: i32 = 120; // rows of a packed A block (multiple of MR)
const NC: i32 = 2048; // columns of a packed B block (multiple of NR)

// Edge tile: MR x NR floats at the end of the workspace, written by the micro-kernel when the tile
// sticks out of C.
const EDGE_BYTES: i32 = MR * NR * 4;

function roundUp(x: i32, to: i32): i32 {
  return ((x + to - 1) / to) * to;
}

function min32(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Bytes of packing workspace `sgemm` needs for these sizes (64-byte aligned parts). */
export function sgemmWorkspaceBytes(m: i32, n: i32, k: i32): usize {
  const kc = min32(k, KC);
  const mc = min32(roundUp(m, MR), MC);
  const nc = min32(roundUp(n, NR), NC);
  const aBytes = <usize> roundUp(mc * kc * 4, 64);
  const bBytes = <usize> roundUp(nc * kc * 4, 64);
  return aBytes + bBytes + <usize> roundUp(EDGE_BYTES, 64) + 64;
}

/**
 * Batched sgemm. For each batch item t: C_t = op(A_t)·op(B_t) (+ C_t if accumulate != 0), where
 * A_t = a + t*strideA elements (op(A) = A [m,k] with row stride lda, or Aᵀ when transA != 0, A then
 * being [k,m] with row stride lda), likewise B ([k,n] or [n,k]) and C [m,n] with row stride ldc.
 * strideC == 0 sums all items into one C. `work` points to sgemmWorkspaceBytes(m, n, k) bytes.
 *
 * `causal` (0: none) describes a causal attention product whose skipped work the blocked path leaves
 * out (see causalTile; the small-m paths compute everything, which is also a valid result). Row i of
 * C (or index p of the contracted axis) is position (i + cRow0) mod cPeriod (p mod cPeriod), which
 * sees columns up to lim = position + cOff:
 *   1  C[i, j] for j > lim(i) is not needed: micro-tiles wholly past the limit are written as 0
 *      (left as they are when accumulating); tiles that straddle it are computed.
 *   2  op(A)[i, p] = 0 for p > lim(i): each tile's contraction stops after its rows' largest limit.
 *   3  op(A)[i, p] = 0 for i + cRow0 > lim(p): each tile skips, in every period of p, the positions
 *      below its first row's (ranges after the first added to C as later depth blocks are).
 * Forms 2 and 3 leave out products with a zero factor (B finite: the sums are those of the full
 * product, up to the sign of an exact zero, and form 3's order of additions); cPeriod divides the
 * rows of C for forms 1 and 2 (batch items are stacked when folded).
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
  causal: i32,
  cPeriod: i32,
  cRow0: i32,
  cOff: i32,
): void {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  // Fold batches into one larger product when the layout allows (fewer, bigger blocks):
  // shared B, A and C stacked contiguously: [batch*m, k] · B
  // (not for causal form 3, whose rows are not periodic)
  if (batch > 1 && strideB == 0 && !transA && strideA == m * lda && strideC == m * ldc && causal != 3) {
    m *= batch;
    batch = 1;
  }
  // C shared (summed), A and B stacked along k: Σ_t A_tᵀ B_t = [batch*k, m]ᵀ · [batch*k, n]
  if (
    batch > 1 && strideC == 0 && transA && !transB && strideA == k * lda && strideB == k * ldb && causal == 0
  ) {
    k *= batch;
    batch = 1;
  }
  for (let t = 0; t < batch; t++) {
    const pa = a + (<usize> t * <usize> strideA << 2);
    const pb = b + (<usize> t * <usize> strideB << 2);
    const pc = c + (<usize> t * <usize> strideC << 2);
    // strideC == 0: every item after the first adds into the same C
    const acc = accumulate != 0 || (strideC == 0 && t > 0) ? 1 : 0;
    if (m <= SMALL_M && k > 0 && !transB) {
      smallAxpy(transA, m, n, k, pa, lda, pb, ldb, pc, ldc, acc);
    } else if (m <= SMALL_M && transB && !transA && (m <= 4 || k >= 256)) {
      smallDot(m, n, k, pa, lda, pb, ldb, pc, ldc, acc);
    } else {
      blockedGemm(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, acc, work, 0, 0, 0, 0, 0, 0, causal, cPeriod, cRow0, cOff);
    }
  }
}

/**
 * `C = op(A)·op(B + W)` (+ C if accumulate != 0) for one product (batch 1), where W is the
 * block-circulant matrix of the kernel w `[rows(B)/bs, blocks, bs]` at `circ`, added to the stored B
 * (`[n, k]` when transB, else `[k, n]`) while B is packed, never formed in memory:
 * `W[R][C] = w[R / bs][C / bs][(C − R) mod bs]` (src/ops/circulant.ts getCirculant). `rowOff` is the row
 * of the whole op(B) where this call's op(B) starts (a k-range of a larger product); `colOff` is the
 * column of the whole op(B) where this call's op(B) starts (a column slice of a larger product). The
 * packed values are exactly `B + W` rounded to float32, so the result equals sgemm on a stored `B + W`.
 * Arguments as {@link sgemm} (strides unused), plus `circ`, `tab` (w's rows doubled, see
 * addCirculant; read only when bs is a multiple of 4), `blocks`, `bs`, `colOff`, `rowOff`.
 */
export function sgemmCirculant(
  transA: i32,
  transB: i32,
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  lda: i32,
  _strideA: i32,
  b: usize,
  ldb: i32,
  _strideB: i32,
  c: usize,
  ldc: i32,
  _strideC: i32,
  batch: i32,
  accumulate: i32,
  work: usize,
  circ: usize,
  tab: usize,
  blocks: i32,
  bs: i32,
  colOff: i32,
  rowOff: i32,
): void {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  blockedGemm(
    transA,
    transB,
    m,
    n,
    k,
    a,
    lda,
    b,
    ldb,
    c,
    ldc,
    accumulate,
    work,
    circ,
    tab,
    blocks,
    bs,
    colOff,
    rowOff,
  );
}

// Few rows (m <= SMALL_M): a 6-row register tile would mostly multiply zero padding and packing B
// would cost as much as the product, so these products stream B directly instead.
const SMALL_M: i32 = 10;
const JCHUNK: i32 = 512; // columns of C kept in L1 by smallAxpy

/**
 * Small m, op(B) = B row-major: C[i, :] += Σ_p op(A)[i, p] · B[p, :], four p at a time, over chunks of
 * JCHUNK columns so the C rows stay in L1 while B streams through once.
 */
function smallAxpy(
  transA: i32,
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
  const aRow: usize = transA ? 1 : <usize> lda;
  const aColB: usize = (transA ? <usize> lda : 1) << 2;
  const ldbB = <usize> ldb << 2;
  const ldcB = <usize> ldc << 2;
  if (!accumulate) {
    for (let i = 0; i < m; i++) memory.fill(c + <usize> i * ldcB, 0, <usize> n << 2);
  }
  for (let j0 = 0; j0 < n; j0 += JCHUNK) {
    const nj = min32(JCHUNK, n - j0);
    const nv = nj & ~3;
    const col = <usize> j0 << 2;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const b0 = b + <usize> p * ldbB + col;
      const b1 = b0 + ldbB, b2 = b1 + ldbB, b3 = b2 + ldbB;
      for (let i = 0; i < m; i++) {
        const ap = a + ((<usize> i * aRow) << 2) + <usize> p * aColB;
        const s0 = load<f32>(ap), s1 = load<f32>(ap + aColB);
        const s2 = load<f32>(ap + 2 * aColB), s3 = load<f32>(ap + 3 * aColB);
        const v0 = f32x4.splat(s0), v1 = f32x4.splat(s1), v2 = f32x4.splat(s2), v3 = f32x4.splat(s3);
        const cr = c + <usize> i * ldcB + col;
        let j = 0;
        for (; j < nv; j += 4) {
          const off = <usize> j << 2;
          let x = v128.load(cr + off);
          x = madd(v0, v128.load(b0 + off), x);
          x = madd(v1, v128.load(b1 + off), x);
          x = madd(v2, v128.load(b2 + off), x);
          x = madd(v3, v128.load(b3 + off), x);
          v128.store(cr + off, x);
        }
        for (; j < nj; j++) {
          const off = <usize> j << 2;
          let x = load<f32>(cr + off);
          x += s0 * load<f32>(b0 + off);
          x += s1 * load<f32>(b1 + off);
          x += s2 * load<f32>(b2 + off);
          x += s3 * load<f32>(b3 + off);
          store<f32>(cr + off, x);
        }
      }
    }
    for (; p < k; p++) {
      const b0 = b + <usize> p * ldbB + col;
      for (let i = 0; i < m; i++) {
        const s0 = load<f32>(a + ((<usize> i * aRow) << 2) + <usize> p * aColB);
        const v0 = f32x4.splat(s0);
        const cr = c + <usize> i * ldcB + col;
        let j = 0;
        for (; j < nv; j += 4) {
          const off = <usize> j << 2;
          v128.store(cr + off, madd(v0, v128.load(b0 + off), v128.load(cr + off)));
        }
        for (; j < nj; j++) {
          const off = <usize> j << 2;
          store<f32>(cr + off, load<f32>(cr + off) + s0 * load<f32>(b0 + off));
        }
      }
    }
  }
}

function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Small m, op(A) = A row-major, op(B) = Bᵀ (B stored [n, k], a Linear weight): C[i, j] is the dot
 * product of row i of A and row j of B, both contiguous; two rows of A share each load of B.
 */
function smallDot(
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
  const ldaB = <usize> lda << 2;
  const kv = k & ~7;
  for (let j = 0; j < n; j++) {
    const bj = b + (<usize> j * <usize> ldb << 2);
    const cj = c + (<usize> j << 2);
    let i = 0;
    for (; i + 2 <= m; i += 2) {
      const a0 = a + <usize> i * ldaB, a1 = a0 + ldaB;
      let x0 = f32x4.splat(0), x1 = f32x4.splat(0), y0 = f32x4.splat(0), y1 = f32x4.splat(0);
      let p = 0;
      for (; p < kv; p += 8) {
        const off = <usize> p << 2;
        const u = v128.load(bj + off), w = v128.load(bj + off, 16);
        x0 = madd(v128.load(a0 + off), u, x0);
        x1 = madd(v128.load(a0 + off, 16), w, x1);
        y0 = madd(v128.load(a1 + off), u, y0);
        y1 = madd(v128.load(a1 + off, 16), w, y1);
      }
      let s0 = hsum(f32x4.add(x0, x1)), s1 = hsum(f32x4.add(y0, y1));
      for (; p < k; p++) {
        const off = <usize> p << 2;
        const bv = load<f32>(bj + off);
        s0 += load<f32>(a0 + off) * bv;
        s1 += load<f32>(a1 + off) * bv;
      }
      const c0 = cj + <usize> i * (<usize> ldc << 2), c1 = c0 + (<usize> ldc << 2);
      store<f32>(c0, accumulate ? load<f32>(c0) + s0 : s0);
      store<f32>(c1, accumulate ? load<f32>(c1) + s1 : s1);
    }
    if (i < m) {
      const a0 = a + <usize> i * ldaB;
      let x0 = f32x4.splat(0), x1 = f32x4.splat(0);
      let p = 0;
      for (; p < kv; p += 8) {
        const off = <usize> p << 2;
        x0 = madd(v128.load(a0 + off), v128.load(bj + off), x0);
        x1 = madd(v128.load(a0 + off, 16), v128.load(bj + off, 16), x1);
      }
      let s0 = hsum(f32x4.add(x0, x1));
      for (; p < k; p++) {
        const off = <usize> p << 2;
        s0 += load<f32>(a0 + off) * load<f32>(bj + off);
      }
      const c0 = cj + <usize> i * (<usize> ldc << 2);
      store<f32>(c0, accumulate ? load<f32>(c0) + s0 : s0);
    }
  }
}

function blockedGemm(
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
  work: usize,
  circ: usize = 0,
  circTab: usize = 0,
  circBlocks: i32 = 0,
  circSize: i32 = 0,
  circColOff: i32 = 0,
  circRowOff: i32 = 0,
  causal: i32 = 0,
  cPeriod: i32 = 1,
  cRow0: i32 = 0,
  cOff: i32 = 0,
): void {
  if (k <= 0) {
    if (!accumulate) {
      for (let i = 0; i < m; i++) memory.fill(c + (<usize> i * <usize> ldc << 2), 0, <usize> n << 2);
    }
    return;
  }
  // element (i, p) of op(A) is a[i*aRow + p*aCol]; (p, j) of op(B) is b[p*bRow + j*bCol]
  const aRow: usize = transA ? 1 : <usize> lda;
  const aCol: usize = transA ? <usize> lda : 1;
  const bRow: usize = transB ? 1 : <usize> ldb;
  const bCol: usize = transB ? <usize> ldb : 1;
  const kcMax = min32(k, KC);
  const mcMax = min32(roundUp(m, MR), MC);
  const ap = (work + 63) & ~(<usize> 63);
  const bp = ap + <usize> roundUp(mcMax * kcMax * 4, 64);
  const edge = bp + <usize> roundUp(min32(roundUp(n, NR), NC) * kcMax * 4, 64);
  const ldcBytes = <usize> ldc << 2;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min32(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min32(KC, k - pc);
      const beta = accumulate != 0 || pc > 0 ? 1 : 0;
      packB(b + ((<usize> pc * bRow + <usize> jc * bCol) << 2), bRow, bCol, kc, nc, bp);
      if (circ != 0) {
        addCirculant(bp, kc, nc, circRowOff + pc, circColOff + jc, transB, circ, circTab, circBlocks, circSize);
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min32(MC, m - ic);
        packA(a + ((<usize> ic * aRow + <usize> pc * aCol) << 2), aRow, aCol, mc, kc, ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min32(NR, nc - jr);
          const bPanel = bp + (<usize> jr * <usize> kc << 2);
          const cCol = c + (<usize> (jc + jr) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min32(MR, mc - ir);
            const aPanel = ap + (<usize> ir * <usize> kc << 2);
            const cTile = cCol + <usize> (ic + ir) * ldcBytes;
            if (causal == 0) microKernel(kc, aPanel, bPanel, cTile, ldcBytes, mr, nr, beta, edge);
            else {
              const tile = causalTile(causal, cPeriod, cRow0 + ic + ir, cOff, jc + jr, pc, kc);
              if (tile < 0) {
                if (beta == 0) zeroTile(cTile, ldcBytes, mr, nr);
              } else if (causal != 3) microKernel(tile, aPanel, bPanel, cTile, ldcBytes, mr, nr, beta, edge);
              else {
                // form 3: the ranges [h·period + tile, (h + 1)·period) of this depth block
                let b = beta;
                for (let h = pc / cPeriod; h * cPeriod < pc + kc; h++) {
                  const p0 = max(h * cPeriod + tile, pc) - pc, p1 = min((h + 1) * cPeriod, pc + kc) - pc;
                  if (p1 <= p0) continue;
                  const aSeg = aPanel + (<usize> (p0 * MR) << 2), bSeg = bPanel + (<usize> (p0 * NR) << 2);
                  microKernel(p1 - p0, aSeg, bSeg, cTile, ldcBytes, mr, nr, b, edge);
                  b = 1;
                }
                if (b == 0) zeroTile(cTile, ldcBytes, mr, nr);
              }
            }
          }
        }
      }
    }
  }
}

/**
 * The work of one micro-tile of a causal product (sgemm's `causal` form 1, 2 or 3) whose first row of
 * C is `row` (position (row mod period)) and first column `col`, in the depth block [pc, pc + kc):
 * -1 when the tile needs nothing from this block; else for form 1 kc (computed whole), for form 2 the
 * depth to multiply (terms past the rows' largest limit are zero), for form 3 the first position
 * (mod period) with a nonzero term.
 */
function causalTile(form: i32, period: i32, row: i32, off: i32, col: i32, pc: i32, kc: i32): i32 {
  if (form == 3) {
    const skip = max(row - off, 0);
    return skip >= period ? -1 : skip;
  }
  let lim = -1;
  for (let r = 0; r < MR; r++) lim = max(lim, (row + r) % period + off);
  if (form == 1) return col > lim ? -1 : kc;
  const depth = min32(kc, lim + 1 - pc);
  return depth > 0 ? depth : -1;
}

/** Writes zeros to C[0:mr, 0:nr] at `c` (row stride `ldc` bytes). */
function zeroTile(c: usize, ldc: usize, mr: i32, nr: i32): void {
  for (let r = 0; r < mr; r++) memory.fill(c + <usize> r * ldc, 0, <usize> nr << 2);
}

/**
 * Packs op(A)[0:mc, 0:kc] (element (i,p) at src + (i*rowS + p*colS)*4) into MR-row panels: panel q
 * holds, for p = 0..kc-1, the MR floats op(A)[q*MR + r, p] (zero past mc).
 */
function packA(src: usize, rowS: usize, colS: usize, mc: i32, kc: i32, dst: usize): void {
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const rows = min32(MR, mc - i0);
    const panel = dst + (<usize> i0 * <usize> kc << 2);
    if (rows == MR && rowS == 1) {
      // op(A) = Aᵀ: the MR values for one p are contiguous
      let s = src + (<usize> i0 << 2);
      const step = colS << 2;
      let d = panel;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(s));
        store<u64>(d, load<u64>(s, 16), 16);
        s += step;
        d += <usize> MR << 2;
      }
    } else if (rows == MR && colS == 1) {
      // row-major A: six row pointers, 4 columns at a time transposed into the panel
      const s0 = src + (<usize> i0 * rowS << 2);
      const rs = rowS << 2;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const off = <usize> p << 2;
        const r0 = v128.load(s0 + off);
        const r1 = v128.load(s0 + rs + off);
        const r2 = v128.load(s0 + 2 * rs + off);
        const r3 = v128.load(s0 + 3 * rs + off);
        const r4 = v128.load(s0 + 4 * rs + off);
        const r5 = v128.load(s0 + 5 * rs + off);
        // 4x4 transpose of r0..r3
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const c0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5);
        const c1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
        const c2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5);
        const c3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
        // rows 4, 5 interleaved: (r4[q], r5[q]) pairs
        const u0 = v128.shuffle<f32>(r4, r5, 0, 4, 1, 5);
        const u1 = v128.shuffle<f32>(r4, r5, 2, 6, 3, 7);
        const d = panel + (<usize> p * <usize> MR << 2);
        v128.store(d, c0);
        v128.store_lane<i64>(d, u0, 0, 16);
        v128.store(d, c1, 24);
        v128.store_lane<i64>(d, u0, 1, 40);
        v128.store(d, c2, 48);
        v128.store_lane<i64>(d, u1, 0, 64);
        v128.store(d, c3, 72);
        v128.store_lane<i64>(d, u1, 1, 88);
      }
      for (; p < kc; p++) {
        const d = panel + (<usize> p * <usize> MR << 2);
        const off = <usize> p << 2;
        for (let r = 0; r < MR; r++) store<f32>(d + (<usize> r << 2), load<f32>(s0 + <usize> r * rs + off));
      }
    } else {
      // general / edge panel: zero-padded to MR rows
      for (let p = 0; p < kc; p++) {
        const d = panel + (<usize> p * <usize> MR << 2);
        for (let r = 0; r < MR; r++) {
          let v: f32 = 0;
          if (r < rows) v = load<f32>(src + ((<usize> (i0 + r) * rowS + <usize> p * colS) << 2));
          store<f32>(d + (<usize> r << 2), v);
        }
      }
    }
  }
}

/**
 * Packs op(B)[0:kc, 0:nc] (element (p,j) at src + (p*rowS + j*colS)*4) into NR-column panels: panel q
 * holds, for p = 0..kc-1, the NR floats op(B)[p, q*NR + c] (zero past nc).
 */
function packB(src: usize, rowS: usize, colS: usize, kc: i32, nc: i32, dst: usize): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min32(NR, nc - j0);
    const panel = dst + (<usize> j0 * <usize> kc << 2);
    if (cols == NR && colS == 1) {
      // row-major B: NR contiguous floats per p
      let s = src + (<usize> j0 << 2);
      const step = rowS << 2;
      let d = panel;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += step;
        d += <usize> NR << 2;
      }
    } else if (cols == NR && rowS == 1) {
      // op(B) = Bᵀ (B stored [n, k]): eight rows of B, 4 values of p at a time transposed
      const s0 = src + (<usize> j0 * colS << 2);
      const cs = colS << 2;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const off = <usize> p << 2;
        const d = panel + (<usize> p * <usize> NR << 2);
        for (let h = 0; h < 2; h++) {
          const sh = s0 + <usize> (4 * h) * cs + off;
          const r0 = v128.load(sh);
          const r1 = v128.load(sh + cs);
          const r2 = v128.load(sh + 2 * cs);
          const r3 = v128.load(sh + 3 * cs);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const dh = d + (<usize> h << 4);
          v128.store(dh, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(dh, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
          v128.store(dh, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
          v128.store(dh, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
        }
      }
      for (; p < kc; p++) {
        const d = panel + (<usize> p * <usize> NR << 2);
        const off = <usize> p << 2;
        for (let q = 0; q < NR; q++) store<f32>(d + (<usize> q << 2), load<f32>(s0 + <usize> q * cs + off));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + (<usize> p * <usize> NR << 2);
        for (let q = 0; q < NR; q++) {
          let v: f32 = 0;
          if (q < cols) v = load<f32>(src + ((<usize> p * rowS + <usize> (j0 + q) * colS) << 2));
          store<f32>(d + (<usize> q << 2), v);
        }
      }
    }
  }
}

/**
 * Adds a block-circulant matrix to a packed block of op(B) (see {@link sgemmCirculant}): element
 * (p, j) of the block is op(B)[p0 + p, j0 + j], i.e. stored B's (row, column) = (j0 + j, p0 + p) when
 * `transB`, else (p0 + p, j0 + j); (R, C) of the stored B gets `w[R / bs][C / bs][(C − R) mod bs]`, the
 * kernel `w` `[rows/bs, blocks, bs]` at `circ`. Padding columns past nc stay zero.
 * Full panels with bs a multiple of 4 (and j0 a multiple of 4) add 4 columns at a time from `tab`, each
 * kernel row doubled to 2·bs values so that 4 consecutive ones never wrap: `tab[blk][u] = w[blk][u mod bs]`
 * (`!transB`: along a panel row C grows, and so does (C − R) mod bs) or `w[blk][(−u) mod bs]` (`transB`:
 * R grows, (C − R) mod bs falls). Other panels add one value at a time from `w`.
 */
function addCirculant(
  dst: usize,
  kc: i32,
  nc: i32,
  p0: i32,
  j0: i32,
  transB: i32,
  circ: usize,
  tab: usize,
  blocks: i32,
  bs: i32,
): void {
  const vec = (bs & 3) == 0 && (j0 & 3) == 0;
  const tabRow = <usize> bs << 3; // bytes of one doubled kernel row
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min32(NR, nc - jp);
    const panel = dst + (<usize> jp * <usize> kc << 2);
    const start = j0 + jp; // stored B's row (transB) or column (!transB) at the panel's first column
    if (vec && cols == NR) {
      // the panel's two groups of 4 columns: each inside one block of bs
      const vb0 = start / bs, vs0 = start - vb0 * bs;
      const vb1 = (start + 4) / bs, vs1 = start + 4 - vb1 * bs;
      let fb = p0 / bs, fs = p0 - fb * bs;
      let d = panel;
      for (let p = 0; p < kc; p++) {
        let t0 = vs0 - fs, t1 = vs1 - fs;
        if (t0 < 0) t0 += bs;
        if (t1 < 0) t1 += bs;
        const k0 = transB ? vb0 * blocks + fb : fb * blocks + vb0;
        const k1 = transB ? vb1 * blocks + fb : fb * blocks + vb1;
        const s0 = tab + <usize> k0 * tabRow + (<usize> t0 << 2);
        const s1 = tab + <usize> k1 * tabRow + (<usize> t1 << 2);
        v128.store(d, f32x4.add(v128.load(d), v128.load(s0)));
        v128.store(d, f32x4.add(v128.load(d, 16), v128.load(s1)), 16);
        d += <usize> NR << 2;
        if (++fs == bs) {
          fs = 0;
          fb++;
        }
      }
      continue;
    }
    for (let p = 0; p < kc; p++) {
      // along the panel's row, the stored B's row (transB) or column (!transB) runs on from start
      const fixed = p0 + p;
      const fb = fixed / bs, fs = fixed - fb * bs;
      let vb = start / bs, vs = start - vb * bs;
      let d = panel + (<usize> p * <usize> NR << 2);
      for (let q = 0; q < cols; q++) {
        // transB: R = varying, C = fixed; else R = fixed, C = varying
        let t = transB ? fs - vs : vs - fs;
        if (t < 0) t += bs;
        const blk = transB ? vb * blocks + fb : fb * blocks + vb;
        const w = load<f32>(circ + ((<usize> blk * <usize> bs + <usize> t) << 2));
        store<f32>(d, load<f32>(d) + w);
        d += 4;
        if (++vs == bs) {
          vs = 0;
          vb++;
        }
      }
    }
  }
}

/**
 * MR x NR register tile: C[0:mr, 0:nr] = (beta ? C : 0) + Σ_p Ap[p, :] ⊗ Bp[p, :]. Panels are full
 * (zero-padded); only the write-back looks at mr, nr. `edge` is MR x NR floats of scratch for tiles that
 * stick out of C.
 */
function microKernel(
  kc: i32,
  ap: usize,
  bp: usize,
  c: usize,
  ldc: usize,
  mr: i32,
  nr: i32,
  beta: i32,
  edge: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  let b0: v128, b1: v128, av: v128;
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let p = 0; p < kc; p++) {
      b0 = v128.load(bp, 0);
      b1 = v128.load(bp, 16);
      av = v128.load32_splat(ap, 0);
      c00 = f32x4.relaxed_madd(av, b0, c00);
      c01 = f32x4.relaxed_madd(av, b1, c01);
      av = v128.load32_splat(ap, 4);
      c10 = f32x4.relaxed_madd(av, b0, c10);
      c11 = f32x4.relaxed_madd(av, b1, c11);
      av = v128.load32_splat(ap, 8);
      c20 = f32x4.relaxed_madd(av, b0, c20);
      c21 = f32x4.relaxed_madd(av, b1, c21);
      av = v128.load32_splat(ap, 12);
      c30 = f32x4.relaxed_madd(av, b0, c30);
      c31 = f32x4.relaxed_madd(av, b1, c31);
      av = v128.load32_splat(ap, 16);
      c40 = f32x4.relaxed_madd(av, b0, c40);
      c41 = f32x4.relaxed_madd(av, b1, c41);
      av = v128.load32_splat(ap, 20);
      c50 = f32x4.relaxed_madd(av, b0, c50);
      c51 = f32x4.relaxed_madd(av, b1, c51);
      ap += <usize> MR << 2;
      bp += <usize> NR << 2;
    }
  } else {
    let p = 0;
    for (; p + 2 <= kc; p += 2) {
      b0 = v128.load(bp, 0);
      b1 = v128.load(bp, 16);
      av = v128.load32_splat(ap, 0);
      c00 = f32x4.add(c00, f32x4.mul(av, b0));
      c01 = f32x4.add(c01, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 4);
      c10 = f32x4.add(c10, f32x4.mul(av, b0));
      c11 = f32x4.add(c11, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 8);
      c20 = f32x4.add(c20, f32x4.mul(av, b0));
      c21 = f32x4.add(c21, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 12);
      c30 = f32x4.add(c30, f32x4.mul(av, b0));
      c31 = f32x4.add(c31, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 16);
      c40 = f32x4.add(c40, f32x4.mul(av, b0));
      c41 = f32x4.add(c41, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 20);
      c50 = f32x4.add(c50, f32x4.mul(av, b0));
      c51 = f32x4.add(c51, f32x4.mul(av, b1));
      b0 = v128.load(bp, 32);
      b1 = v128.load(bp, 48);
      av = v128.load32_splat(ap, 24);
      c00 = f32x4.add(c00, f32x4.mul(av, b0));
      c01 = f32x4.add(c01, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 28);
      c10 = f32x4.add(c10, f32x4.mul(av, b0));
      c11 = f32x4.add(c11, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 32);
      c20 = f32x4.add(c20, f32x4.mul(av, b0));
      c21 = f32x4.add(c21, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 36);
      c30 = f32x4.add(c30, f32x4.mul(av, b0));
      c31 = f32x4.add(c31, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 40);
      c40 = f32x4.add(c40, f32x4.mul(av, b0));
      c41 = f32x4.add(c41, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 44);
      c50 = f32x4.add(c50, f32x4.mul(av, b0));
      c51 = f32x4.add(c51, f32x4.mul(av, b1));
      ap += <usize> (2 * MR) << 2;
      bp += <usize> (2 * NR) << 2;
    }
    for (; p < kc; p++) {
      b0 = v128.load(bp, 0);
      b1 = v128.load(bp, 16);
      av = v128.load32_splat(ap, 0);
      c00 = f32x4.add(c00, f32x4.mul(av, b0));
      c01 = f32x4.add(c01, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 4);
      c10 = f32x4.add(c10, f32x4.mul(av, b0));
      c11 = f32x4.add(c11, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 8);
      c20 = f32x4.add(c20, f32x4.mul(av, b0));
      c21 = f32x4.add(c21, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 12);
      c30 = f32x4.add(c30, f32x4.mul(av, b0));
      c31 = f32x4.add(c31, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 16);
      c40 = f32x4.add(c40, f32x4.mul(av, b0));
      c41 = f32x4.add(c41, f32x4.mul(av, b1));
      av = v128.load32_splat(ap, 20);
      c50 = f32x4.add(c50, f32x4.mul(av, b0));
      c51 = f32x4.add(c51, f32x4.mul(av, b1));
      ap += <usize> MR << 2;
      bp += <usize> NR << 2;
    }
  }
  if (mr == MR && nr == NR) {
    if (beta) {
      c00 = f32x4.add(c00, v128.load(c));
      c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(c + ldc));
      c11 = f32x4.add(c11, v128.load(c + ldc, 16));
      c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
      c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
      c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
      c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
      c40 = f32x4.add(c40, v128.load(c + 4 * ldc));
      c41 = f32x4.add(c41, v128.load(c + 4 * ldc, 16));
      c50 = f32x4.add(c50, v128.load(c + 5 * ldc));
      c51 = f32x4.add(c51, v128.load(c + 5 * ldc, 16));
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c + ldc, c10);
    v128.store(c + ldc, c11, 16);
    v128.store(c + 2 * ldc, c20);
    v128.store(c + 2 * ldc, c21, 16);
    v128.store(c + 3 * ldc, c30);
    v128.store(c + 3 * ldc, c31, 16);
    v128.store(c + 4 * ldc, c40);
    v128.store(c + 4 * ldc, c41, 16);
    v128.store(c + 5 * ldc, c50);
    v128.store(c + 5 * ldc, c51, 16);
    return;
  }
  v128.store(edge, c00);
  v128.store(edge, c01, 16);
  v128.store(edge, c10, 32);
  v128.store(edge, c11, 48);
  v128.store(edge, c20, 64);
  v128.store(edge, c21, 80);
  v128.store(edge, c30, 96);
  v128.store(edge, c31, 112);
  v128.store(edge, c40, 128);
  v128.store(edge, c41, 144);
  v128.store(edge, c50, 160);
  v128.store(edge, c51, 176);
  for (let r = 0; r < mr; r++) {
    const crow = c + <usize> r * ldc;
    const erow = edge + (<usize> (r * NR) << 2);
    for (let q = 0; q < nr; q++) {
      const off = <usize> q << 2;
      let v = load<f32>(erow + off);
      if (beta) v += load<f32>(crow + off);
      store<f32>(crow + off, v);
    }
  }
}
