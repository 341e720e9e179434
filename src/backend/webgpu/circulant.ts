/**
 * C3A block-circulant products on the WebGPU executor (spec/c3a.md §1.3–§1.5), the GPU counterpart of
 * src/backend/wasm/circulant.ts with the same raw (unscaled) semantics and the TRUE gradients:
 *
 * - kernel spectrum: `W = rfft(w)` `[m, n, F]` complex, F = floor(b/2)+1 (kept as storage so a
 *   forward and its backward transform the kernel once);
 * - forward: `Y[r,i] = Σ_j X[r,j] ∘ conj(W[i,j])`, `y = irfft(Y)`, with `X = rfft(x)` `[rows, n, F]`;
 * - input gradient: `GX[r,j] = Σ_i G[r,i] ∘ W[i,j]`, `gradX = irfft(GX)`;
 * - kernel gradient: `GW[i,j] = Σ_r X[r,j] ∘ conj(G[r,i])`, `gradKernel = irfft(GW)`;
 * - `getCirculant`: the dense `[m·b, n·b]` matrix `A[i·b+s][j·b+t] = w[i][j][(t−s) mod b]`.
 *
 * The FFTs are ./fft.ts (same plans as the wasm kernels). Rows are processed in chunks whose spectra
 * fit one storage binding; kernel-gradient partial sums accumulate across chunks.
 *
 * @module
 */

import { type GpuExecutor, type Kernel, PARAMS_DECL, WG, WGSL_COMMON } from "./executor.ts";
import { irfftBuffers, rfftBuffers } from "./fft.ts";

const HEAD = `
fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
fn cmulConj(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y); }
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let g = gidx(wid, nwg, lid, ${WG}u);
  if (g >= P[0]) { return; }`;

function kern(key: string, layout: string, decls: string, body: string): Kernel {
  return { key, layout, code: () => `${PARAMS_DECL}\n${decls}\n${WGSL_COMMON}${HEAD}\n${body}\n}` };
}

const DECL3 = `@group(0) @binding(1) var<storage, read_write> O: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> A: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> W: array<vec2<f32>>;`;

// forward: O[r,i,f] = Σ_j A[r,j,f]·conj(W[i,j,f]). Params: 0 threads (rows·m·F), 1 m, 2 n, 3 F.
const FORWARD = kern(
  "c3aForward",
  "wrr",
  DECL3,
  `  let m = P[1]; let n = P[2]; let F = P[3];
  let f = g % F; let ri = g / F; let i = ri % m; let r = ri / m;
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = 0u; j < n; j++) { acc += cmulConj(A[(r * n + j) * F + f], W[(i * n + j) * F + f]); }
  O[g] = acc;`,
);

// input grad: O[r,j,f] = Σ_i A[r,i,f]·W[i,j,f]. Params: 0 threads (rows·n·F), 1 m, 2 n, 3 F.
const INPUT_GRAD = kern(
  "c3aInputGrad",
  "wrr",
  DECL3,
  `  let m = P[1]; let n = P[2]; let F = P[3];
  let f = g % F; let rj = g / F; let j = rj % n; let r = rj / n;
  var acc = vec2<f32>(0.0, 0.0);
  for (var i = 0u; i < m; i++) { acc += cmul(A[(r * m + i) * F + f], W[(i * n + j) * F + f]); }
  O[g] = acc;`,
);

// kernel grad: O[i,j,f] (+)= Σ_r X[r,j,f]·conj(G[r,i,f]). Params: 0 threads (m·n·F), 1 m, 2 n, 3 F,
// 4 rows, 5 accumulate (0/1).
const KERNEL_GRAD = kern(
  "c3aKernelGrad",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> X: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> G: array<vec2<f32>>;`,
  `  let m = P[1]; let n = P[2]; let F = P[3]; let rows = P[4];
  let f = g % F; let ij = g / F; let j = ij % n; let i = ij / n;
  var acc = vec2<f32>(0.0, 0.0);
  var blk = vec2<f32>(0.0, 0.0);
  for (var r = 0u; r < rows; r++) {
    blk += cmulConj(X[(r * n + j) * F + f], G[(r * m + i) * F + f]);
    if ((r & 63u) == 63u) { acc += blk; blk = vec2<f32>(0.0, 0.0); }
  }
  acc += blk;
  if (P[5] != 0u) { acc += O[g]; }
  O[g] = acc;`,
);

// dense matrix: params 0 threads (rows·in in this chunk), 1 n, 2 b, 3 row0 (global row), 4 outBase
const CIRCULANT = kern(
  "c3aGetCirculant",
  "wr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;`,
  `  let n = P[1]; let b = P[2];
  let inF = n * b;
  let row = P[3] + g / inF; let col = g % inF;
  let i = row / b; let s = row % b; let j = col / b; let t = col % b;
  O[P[4] + g] = K[(i * n + j) * b + (t + b - s) % b];`,
);

function bins(b: number): number {
  return (b >> 1) + 1;
}

/** Writes the packed spectrum `rfft(kernel)` `[m, n, F, 2]` of storage `kernel` into storage `spec`. */
export function c3aSpectrum(
  ex: GpuExecutor,
  kernel: number,
  spec: number,
  m: number,
  n: number,
  b: number,
): void {
  rfftBuffers(ex, ex.buf(kernel).buffer, 0, ex.buf(spec).buffer, 0, b, m * n);
}

/** Rows per chunk so that one chunk's spectra (`perRow` complex values per row) fit a binding. */
function rowChunk(ex: GpuExecutor, perRowComplex: number, what: string): number {
  const r = Math.floor(ex.maxWindowElems / (2 * perRowComplex));
  if (r < 1) throw new RangeError(`WebGPU ${what}: one row's spectra exceed maxStorageBufferBindingSize`);
  return r;
}

/** y_raw `[rows, m·b]` (storage `out`) = x `[rows, n·b]` times the block-circulant matrix of `spec`. */
export function c3aForward(
  ex: GpuExecutor,
  x: number,
  spec: number,
  out: number,
  rows: number,
  m: number,
  n: number,
  b: number,
): void {
  if (rows === 0) return;
  const F = bins(b);
  const W = ex.whole(spec);
  const per = Math.min(rows, rowChunk(ex, Math.max(n, m) * F, "c3aForward"));
  const xs = ex.temp(per * n * F * 8), ys = ex.temp(per * m * F * 8);
  const xBuf = ex.buf(x).buffer, yBuf = ex.buf(out).buffer;
  for (let r0 = 0; r0 < rows; r0 += per) {
    const r = Math.min(per, rows - r0);
    rfftBuffers(ex, xBuf, r0 * n * b, xs, 0, b, r * n);
    const t = r * m * F;
    ex.dispatch(
      FORWARD,
      [ex.wholeBuffer(ys, t * 2), ex.wholeBuffer(xs, r * n * F * 2), W],
      [t, m, n, F],
      ex.grid(t),
    );
    irfftBuffers(ex, ys, 0, yBuf, r0 * m * b, b, r * m);
  }
}

/**
 * Backward of {@link c3aForward}: gradX `[rows, n·b]` into storage `gradX` (when >= 0) and gradKernel
 * `[m, n, b]` into storage `gradKernel` (when >= 0, needs `x`).
 */
export function c3aBackward(
  ex: GpuExecutor,
  x: number,
  spec: number,
  g: number,
  gradX: number,
  gradKernel: number,
  rows: number,
  m: number,
  n: number,
  b: number,
): void {
  const F = bins(b);
  if (rows === 0) {
    if (gradKernel >= 0) ex.fill(gradKernel, 0);
    return;
  }
  const per = Math.min(rows, rowChunk(ex, (n + m) * F, "c3aBackward"));
  const gs = ex.temp(per * m * F * 8), xs = ex.temp(per * n * F * 8);
  const gBuf = ex.buf(g).buffer;
  const gw = gradKernel >= 0 ? ex.temp(m * n * F * 8) : null;
  for (let r0 = 0; r0 < rows; r0 += per) {
    const r = Math.min(per, rows - r0);
    rfftBuffers(ex, gBuf, r0 * m * b, gs, 0, b, r * m);
    if (gradX >= 0) {
      const t = r * n * F;
      ex.dispatch(
        INPUT_GRAD,
        [ex.wholeBuffer(xs, t * 2), ex.wholeBuffer(gs, r * m * F * 2), ex.whole(spec)],
        [t, m, n, F],
        ex.grid(t),
      );
      irfftBuffers(ex, xs, 0, ex.buf(gradX).buffer, r0 * n * b, b, r * n);
    }
    if (gw !== null) {
      rfftBuffers(ex, ex.buf(x).buffer, r0 * n * b, xs, 0, b, r * n);
      const t = m * n * F;
      ex.dispatch(
        KERNEL_GRAD,
        [ex.wholeBuffer(gw, t * 2), ex.wholeBuffer(xs, r * n * F * 2), ex.wholeBuffer(gs, r * m * F * 2)],
        [t, m, n, F, r, r0 > 0 ? 1 : 0],
        ex.grid(t),
      );
    }
  }
  if (gw !== null) irfftBuffers(ex, gw, 0, ex.buf(gradKernel).buffer, 0, b, m * n);
}

/**
 * One spectral product of the kernel table (`c3aSpectralForward` / `InputGrad` / `KernelGrad`) over
 * whole storages: `out` from spectra `a` and `b` (see src/backend/kernels.ts for the layouts).
 */
export function c3aSpectral(
  ex: GpuExecutor,
  which: "forward" | "inputGrad" | "kernelGrad",
  a: number,
  b: number,
  out: number,
  rows: number,
  m: number,
  n: number,
  bs: number,
): void {
  const F = bins(bs);
  const t = which === "forward" ? rows * m * F : which === "inputGrad" ? rows * n * F : m * n * F;
  if (t === 0) return;
  if (rows === 0) return ex.fill(out, 0);
  const k = which === "forward" ? FORWARD : which === "inputGrad" ? INPUT_GRAD : KERNEL_GRAD;
  const params = which === "kernelGrad" ? [t, m, n, F, rows, 0] : [t, m, n, F];
  ex.dispatch(k, [ex.whole(out), ex.whole(a), ex.whole(b)], params, ex.grid(t));
}

/** Dense block-circulant matrix `[m·b, n·b]` of storage `kernel` `[m, n, b]` into storage `out`. */
export function getCirculant(
  ex: GpuExecutor,
  kernel: number,
  out: number,
  m: number,
  n: number,
  b: number,
): void {
  const inF = n * b, rowsTotal = m * b;
  const kw = ex.whole(kernel);
  for (const [r0, r1] of ex.chunks(rowsTotal, inF)) {
    const ow = ex.window(out, r0 * inF, r1 * inF);
    const t = (r1 - r0) * inF;
    ex.dispatch(CIRCULANT, [ow.binding, kw], [t, n, b, r0, ow.base], ex.grid(t));
  }
}
