/**
 * Tiled SGEMM of the WebGPU executor: `C[b] = op(A[b])·op(B[b]) (+ bias)`, row-major, with
 * transposes, batch strides (0 broadcasts) and an optional bias row — the semantics of
 * `Backend.matmul` (src/backend/backend.ts) and of H3's wasm `sgemm`.
 *
 * Each 16×16 workgroup computes a 64×64 tile of C (4×4 per invocation), staging 64×8 panels of A
 * and 8×64 panels of B in workgroup memory (K tile 8: on llvmpipe a K tile of 16 takes 3.5× longer to
 * compile, ~5 s, for no gain). Batches go on the z grid dimension. Work is split over
 * batch, row and column ranges so that every operand's touched range fits one storage binding and
 * the grid fits the dispatch limits.
 *
 * @module
 */

import { type GpuExecutor, type Kernel, PARAMS_DECL } from "./executor.ts";

const TM = 64, TN = 64, TK = 8;

// Params: 0 k, 1 m (full), 2 n (full), 3 rows, 4 cols, 5 strideA, 6 strideB, 7 aBase, 8 bBase,
// 9 cBase, 10 biasBase, 11 strideC (m·n), 12 A row stride, 13 A k stride, 14 B k stride,
// 15 B column stride, 16 has bias, 17 accumulate into C (k split). Transposes are strides, so one pipeline serves every variant
// (each pipeline costs seconds of shader compilation on llvmpipe).
const SGEMM: Kernel = {
  key: "sgemm",
  layout: "wrrr",
  code: () =>
    `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> Bias: array<f32>;
var<workgroup> As: array<vec4<f32>, ${(TM * TK) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TK * TN) / 4}>;
fn store(cOff: u32, r: u32, c: u32, rows: u32, cols: u32, N: u32, v: vec4<f32>) {
  if (r >= rows) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (c + j < cols) {
      var o = v[j];
      if (P[16] != 0u) { o += Bias[P[10] + c + j]; }
      if (P[17] != 0u) { o += C[cOff + r * N + c + j]; }
      C[cOff + r * N + c + j] = o;
    }
  }
}
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let K = P[0]; let N = P[2]; let rows = P[3]; let cols = P[4];
  let ars = P[12]; let aks = P[13]; let bks = P[14]; let bcs = P[15];
  let bt = wid.z;
  let aOff = P[7] + bt * P[5];
  let bOff = P[8] + bt * P[6];
  let r0 = wid.y * ${TM}u; let c0 = wid.x * ${TN}u;
  let t = lid.y * 16u + lid.x;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    for (var q = 0u; q < ${(TM * TK) / 256}u; q++) {
      let idx = t + q * 256u;
      let r = idx / ${TK}u; let kk = idx % ${TK}u;
      let gr = r0 + r; let gk = k0 + kk;
      var v = 0.0;
      if (gr < rows && gk < K) { v = A[aOff + gr * ars + gk * aks]; }
      As[kk * ${TM / 4}u + r / 4u][r % 4u] = v;
    }
    for (var q = 0u; q < ${(TM * TK) / 256}u; q++) {
      let idx = t + q * 256u;
      let c = idx / ${TK}u; let kk = idx % ${TK}u;
      let gc = c0 + c; let gk = k0 + kk;
      var v = 0.0;
      if (gc < cols && gk < K) { v = B[bOff + gk * bks + gc * bcs]; }
      Bs[kk * ${TN / 4}u + c / 4u][c % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      let a = As[kk * ${TM / 4}u + lid.y];
      let b = Bs[kk * ${TN / 4}u + lid.x];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let cOff = P[9] + bt * P[11];
  let c = c0 + lid.x * 4u;
  let r = r0 + lid.y * 4u;
  store(cOff, r, c, rows, cols, N, acc0);
  store(cOff, r + 1u, c, rows, cols, N, acc1);
  store(cOff, r + 2u, c, rows, cols, N, acc2);
  store(cOff, r + 3u, c, rows, cols, N, acc3);
}`,
};

/** Parameters of {@link matmul} (resolved: every field set). */
export interface ResolvedMatmul {
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Inner size. */
  k: number;
  /** Matrices. */
  batch: number;
  /** A stored `[k, m]`. */
  transA: boolean;
  /** B stored `[n, k]`. */
  transB: boolean;
  /** Elements between A matrices (0 broadcasts). */
  strideA: number;
  /** Elements between B matrices (0 broadcasts). */
  strideB: number;
  /** Storage id of the `[n]` bias, or -1. */
  bias: number;
}

/** `out [batch, m, n] = op(A)·op(B) (+ bias)` on storages `a`, `b`, `out`. */
export function matmul(ex: GpuExecutor, a: number, b: number, out: number, p: ResolvedMatmul): void {
  const { m, n, k, batch, transA, transB, strideA, strideB } = p;
  if (batch * m * n === 0) return;
  if (k === 0) {
    if (p.bias >= 0) {
      const ob = ex.buf(out).buffer, bb = ex.buf(p.bias).buffer;
      for (let r = 0; r < batch * m; r++) ex.copyRaw(bb, 0, ob, r * n, n);
    } else ex.fill(out, 0);
    return;
  }
  const max = ex.maxWindowElems;
  const lim = ex.limits.maxWorkgroupsPerDim;
  let bc = Math.min(batch, lim);
  let rc = Math.min(m, lim * TM);
  let cc = Math.min(n, lim * TN);
  let kc = k;
  const lens = () => ({
    a: (bc - 1) * strideA + (transA ? (kc - 1) * m + rc : (rc - 1) * k + kc),
    b: (bc - 1) * strideB + (transB ? (cc - 1) * k + kc : (kc - 1) * n + cc),
    c: (bc - 1) * m * n + (rc - 1) * n + cc,
  });
  const half = (v: number) => Math.max(1, Math.ceil(v / 2));
  for (;;) {
    const l = lens();
    if (l.a <= max && l.b <= max && l.c <= max) break;
    if (bc > 1) bc = half(bc);
    else if (l.c > max && (rc > 1 || cc > 1)) {
      if (rc > 1) rc = half(rc);
      else cc = half(cc);
    } else if (l.a > max && (rc > 1 || kc > 1)) {
      if (transA ? kc === 1 : rc > 1) rc = half(rc);
      else kc = half(kc);
    } else if (l.b > max && (cc > 1 || kc > 1)) {
      if (transB ? cc > 1 : kc === 1) cc = half(cc);
      else kc = half(kc);
    } else {
      throw new RangeError(
        `WebGPU matmul [${batch}, ${m}, ${k}] x [${k}, ${n}]: an operand slice exceeds ` +
          `maxStorageBufferBindingSize (${ex.limits.maxBindingBytes} bytes)`,
      );
    }
  }
  const A = ex.buf(a).buffer, B = ex.buf(b).buffer, C = ex.buf(out).buffer;
  const Bias = p.bias >= 0 ? ex.buf(p.bias).buffer : null;
  for (let b0 = 0; b0 < batch; b0 += bc) {
    const nb = Math.min(bc, batch - b0);
    for (let i0 = 0; i0 < m; i0 += rc) {
      const rows = Math.min(rc, m - i0);
      for (let j0 = 0; j0 < n; j0 += cc) {
        const cols = Math.min(cc, n - j0);
        const cS = b0 * m * n + i0 * n + j0;
        const cE = (b0 + nb - 1) * m * n + (i0 + rows - 1) * n + j0 + cols;
        const cw = ex.windowOf(C, cS, cE);
        for (let k0 = 0; k0 < k; k0 += kc) {
          const kn = Math.min(kc, k - k0);
          const bLast = b0 + nb - 1;
          const aS = b0 * strideA + (transA ? k0 * m + i0 : i0 * k + k0);
          const aE = bLast * strideA +
            (transA ? (k0 + kn - 1) * m + i0 + rows : (i0 + rows - 1) * k + k0 + kn);
          const bS = b0 * strideB + (transB ? j0 * k + k0 : k0 * n + j0);
          const bE = bLast * strideB +
            (transB ? (j0 + cols - 1) * k + k0 + kn : (k0 + kn - 1) * n + j0 + cols);
          const aw = ex.windowOf(A, aS, aE), bw = ex.windowOf(B, bS, bE);
          const bindings = [cw.binding, aw.binding, bw.binding, aw.binding];
          let biasBase = 0;
          const withBias = Bias !== null && k0 === 0;
          if (withBias) {
            const w = ex.windowOf(Bias, j0, j0 + cols);
            bindings[3] = w.binding;
            biasBase = w.base;
          }
          const params = [
            kn,
            m,
            n,
            rows,
            cols,
            strideA,
            strideB,
            aw.base,
            bw.base,
            cw.base,
            biasBase,
            m * n,
            transA ? 1 : k,
            transA ? m : 1,
            transB ? 1 : n,
            transB ? k : 1,
            withBias ? 1 : 0,
            k0 > 0 ? 1 : 0,
          ];
          ex.dispatch(SGEMM, bindings, params, [Math.ceil(cols / TN), Math.ceil(rows / TM), nb]);
        }
      }
    }
  }
}
