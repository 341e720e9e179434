/**
 * Batched real FFT / inverse real FFT of any length n on the WebGPU executor, driven by the one
 * planner (src/fft/plan.ts, with this executor's radix set {@link WEBGPU_FFT_CAPABILITIES}: radix
 * 4/2/3/5 Stockham passes in the planner's order with its float32 twiddles, the half-length complex trick for even n, Bluestein with the planner's
 * chirp, filter and smooth length M for other lengths). Conventions: `rfft` is unnormalised
 * (`[batch, floor(n/2)+1]` complex, interleaved re/im), `irfft` divides by n and ignores the
 * imaginary parts of bin 0 (and of bin n/2 for even n), like numpy / torch and the wasm backend.
 *
 * Layout on the GPU: complex signals are `array<vec2<f32>>` rows in two ping-pong work buffers; each
 * Stockham pass is one dispatch (one invocation per radix butterfly). Only forward complex transforms
 * are run: inverses use `IDFT(X) = conj(DFT(conj X))` with the conjugations folded into the pre- and
 * post-processing kernels, as the wasm kernels do. Batches are processed in chunks whose work buffers
 * fit one storage binding.
 *
 * @module
 */

import {
  BASE_FFT_CAPABILITIES,
  type ComplexPlan,
  type FftCapabilities,
  getComplexPlan,
  getFftPlan,
  type StockhamPlan,
} from "../../fft/plan.ts";

/** Radices of the WebGPU FFT kernels: 2, 3, 4 and 5. */
export const WEBGPU_FFT_CAPABILITIES: FftCapabilities = BASE_FFT_CAPABILITIES;
import { f32bits, type GpuExecutor, type Kernel, PARAMS_DECL, WG, WGSL_COMMON } from "./executor.ts";

const CPLX = `
fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
fn conj(a: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x, -a.y); }
fn mulNegI(v: vec2<f32>) -> vec2<f32> { return vec2<f32>(v.y, -v.x); }
`;

const MAIN =
  `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let g = gidx(wid, nwg, lid, ${WG}u);
  if (g >= P[0]) { return; }`;

function kern(key: string, layout: string, decls: string, body: string): Kernel {
  return { key, layout, code: () => `${PARAMS_DECL}\n${decls}\n${WGSL_COMMON}${CPLX}\n${MAIN}\n${body}\n}` };
}

const C3 = "0.8660254037844386"; // sin(2π/3)
const C5 = ["0.30901699437494745", "-0.8090169943749473", "0.9510565162951535", "0.5877852522924732"]; // c1 c2 s1 s2

/** WGSL computing y0..y(R-1) = Σ_k a_k e^(-2πi kt/R) from a0..a(R-1). */
function butterfly(radix: number): string {
  switch (radix) {
    case 2:
      return `let y0 = a0 + a1; let y1 = a0 - a1;`;
    case 3:
      return `let sm = a1 + a2; let df = a1 - a2;
    let y0 = a0 + sm;
    let h = a0 - 0.5 * sm;
    let r = ${C3} * df;
    let y1 = h + mulNegI(r); let y2 = h - mulNegI(r);`;
    case 4:
      return `let t0 = a0 + a2; let t1 = a0 - a2; let t2 = a1 + a3; let t3 = mulNegI(a1 - a3);
    let y0 = t0 + t2; let y2 = t0 - t2; let y1 = t1 + t3; let y3 = t1 - t3;`;
    case 5:
      return `let b1 = a1 + a4; let b2 = a2 + a3; let d1 = a1 - a4; let d2 = a2 - a3;
    let y0 = a0 + b1 + b2;
    let p1 = a0 + ${C5[0]} * b1 + ${C5[1]} * b2;
    let q1 = mulNegI(${C5[2]} * d1 + ${C5[3]} * d2);
    let p2 = a0 + ${C5[1]} * b1 + ${C5[0]} * b2;
    let q2 = mulNegI(${C5[3]} * d1 - ${C5[2]} * d2);
    let y1 = p1 + q1; let y4 = p1 - q1; let y2 = p2 + q2; let y3 = p2 - q2;`;
    default:
      throw new RangeError(`FFT radix ${radix} is not supported (plans use 2, 3, 4, 5)`);
  }
}

// Stockham pass. Params: 0 threads, 1 L, 2 l, 3 s, 4 twOff (complex), 5 srcBase, 6 dstBase.
function passKernel(radix: number): Kernel {
  const loads: string[] = [], stores: string[] = [];
  for (let k = 0; k < radix; k++) loads.push(`let a${k} = S[ib + ${k}u * sl];`);
  stores.push(`D[ob] = y0;`);
  for (let t = 1; t < radix; t++) stores.push(`D[ob + ${t}u * s] = cmul(y${t}, T[tw + ${t - 1}u]);`);
  return kern(
    `fftPass|${radix}`,
    "wrr",
    `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> S: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> T: array<vec2<f32>>;`,
    `  let L = P[1]; let l = P[2]; let s = P[3];
  let per = l * s;
  let b = g / per; let rem = g % per;
  let j = rem / s; let q = rem % s;
  let sl = s * l;
  let ib = P[5] + b * L + q + s * j;
  let ob = P[6] + b * L + q + s * ${radix}u * j;
  let tw = P[4] + j * ${radix - 1}u;
  ${loads.join(" ")}
  ${butterfly(radix)}
  ${stores.join(" ")}`,
  );
}

// Bluestein pre: D[b·M + j] = j < L ? S[b·L + j]·chirp[j] : 0. Params: 0 threads, 1 L, 2 M.
const BLUE_PRE = kern(
  "fftBluePre",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> S: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> C: array<vec2<f32>>;`,
  `  let L = P[1]; let M = P[2];
  let b = g / M; let j = g % M;
  var v = vec2<f32>(0.0, 0.0);
  if (j < L) { v = cmul(S[b * L + j], C[j]); }
  D[g] = v;`,
);

// Bluestein middle: D = conj(S·filter). Params: 0 threads, 1 M.
const BLUE_MID = kern(
  "fftBlueMid",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> S: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> F: array<vec2<f32>>;`,
  `  D[g] = conj(cmul(S[g], F[g % P[1]]));`,
);

// Bluestein post: D[b·L + k] = chirp[k]·conj(S[b·M + k]). Params: 0 threads, 1 L, 2 M.
const BLUE_POST = kern(
  "fftBluePost",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> S: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> C: array<vec2<f32>>;`,
  `  let L = P[1]; let M = P[2];
  let b = g / L; let k = g % L;
  D[g] = cmul(C[k], conj(S[b * M + k]));`,
);

// Even n split: X_k = E + (-i)·w^k·D, E = (Z_k + conj Z_(m-k))/2, D = (Z_k - conj Z_(m-k))/2.
// Params: 0 threads (batch·(m+1)), 1 m, 2 outBase (complex).
const SPLIT = kern(
  "fftSplit",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> Z: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> W: array<vec2<f32>>;`,
  `  let m = P[1];
  let b = g / (m + 1u); let k = g % (m + 1u);
  let a = Z[b * m + k % m];
  let c = conj(Z[b * m + (m - k) % m]);
  let e = 0.5 * (a + c);
  let d = 0.5 * (a - c);
  O[P[2] + g] = e + mulNegI(cmul(W[k], d));`,
);

// Odd n, forward: complex rows from real input. Params: 0 threads (batch·n), 1 inBase (floats).
const EXPAND = kern(
  "fftExpand",
  "wr",
  `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> X: array<f32>;`,
  `  D[g] = vec2<f32>(X[P[1] + g], 0.0);`,
);

// Odd n, forward: first h bins of each row. Params: 0 threads (batch·h), 1 n, 2 h, 3 outBase.
const TRUNCATE = kern(
  "fftTruncate",
  "wr",
  `@group(0) @binding(1) var<storage, read_write> O: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> Z: array<vec2<f32>>;`,
  `  let b = g / P[2]; let k = g % P[2];
  O[P[3] + g] = Z[b * P[1] + k];`,
);

// Even n, inverse pre: conj(Z'_k)/n, Z' = S + iP, S = X_k + conj X_(m-k),
// P = (X_k - conj X_(m-k))·conj(w^k); Im X_0 = Im X_m = 0. Params: 0 threads (batch·m), 1 m,
// 2 inBase (complex), 3 scale (f32).
const IPRE_EVEN = kern(
  "ifftPreEven",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> X: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> W: array<vec2<f32>>;`,
  `  let m = P[1]; let h = m + 1u;
  let b = g / m; let k = g % m;
  var xk = X[P[2] + b * h + k];
  var xc = X[P[2] + b * h + m - k];
  if (k == 0u) { xk.y = 0.0; xc.y = 0.0; }
  let c = conj(xc);
  let sm = xk + c;
  let p = cmul(xk - c, conj(W[k]));
  D[g] = pf(3u) * vec2<f32>(sm.x - p.y, -(sm.y + p.x));`,
);

// Even n, inverse post: x_2j = Re r_j, x_2j+1 = -Im r_j. Params: 0 threads (batch·m), 1 outBase (complex).
const IPOST_EVEN = kern(
  "ifftPostEven",
  "wr",
  `@group(0) @binding(1) var<storage, read_write> O: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> Z: array<vec2<f32>>;`,
  `  O[P[1] + g] = conj(Z[g]);`,
);

// Odd n, inverse pre: conj(Z_k)/n over the Hermitian extension. Params: 0 threads (batch·n), 1 n,
// 2 h, 3 inBase (complex), 4 scale.
const IPRE_ODD = kern(
  "ifftPreOdd",
  "wr",
  `@group(0) @binding(1) var<storage, read_write> D: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> X: array<vec2<f32>>;`,
  `  let n = P[1]; let h = P[2];
  let b = g / n; let k = g % n;
  var z: vec2<f32>;
  if (k < h) {
    z = X[P[3] + b * h + k];
    if (k == 0u) { z.y = 0.0; }
  } else {
    z = conj(X[P[3] + b * h + n - k]);
  }
  D[g] = pf(4u) * conj(z);`,
);

// Odd n, inverse post: real parts. Params: 0 threads (batch·n), 1 outBase (floats).
const IPOST_ODD = kern(
  "ifftPostOdd",
  "wr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> Z: array<vec2<f32>>;`,
  `  O[P[1] + g] = Z[g].x;`,
);

interface GpuStockham {
  length: number;
  passes: Array<{ radix: number; l: number; s: number; twOff: number }>;
  tw: GPUBuffer | null;
  twElems: number;
}

interface GpuComplex {
  stockham: GpuStockham;
  bluestein: null | { length: number; m: number; chirp: GPUBuffer; filter: GPUBuffer; sub: GpuStockham };
  /** Complex elements per row a work buffer needs. */
  rowElems: number;
}

interface GpuReal {
  n: number;
  even: boolean;
  bins: number;
  complexLength: number;
  split: GPUBuffer | null;
  complex: GpuComplex;
}

function uploadStockham(ex: GpuExecutor, sp: StockhamPlan): GpuStockham {
  let total = 0;
  for (const p of sp.passes) total += p.twiddles.length;
  const all = new Float32Array(Math.max(total, 2));
  const passes: GpuStockham["passes"] = [];
  let off = 0;
  for (const p of sp.passes) {
    all.set(p.twiddles, off);
    passes.push({ radix: p.radix, l: p.l, s: p.s, twOff: off / 2 });
    off += p.twiddles.length;
  }
  return { length: sp.length, passes, tw: sp.passes.length ? ex.persistent(all) : null, twElems: all.length };
}

function gpuComplexPlan(ex: GpuExecutor, length: number): GpuComplex {
  const key = `fft:complex:${length}`;
  let g = ex.caches.get(key) as GpuComplex | undefined;
  if (g) return g;
  const cp: ComplexPlan = getComplexPlan(length, WEBGPU_FFT_CAPABILITIES);
  if (cp.kind === "stockham") {
    g = { stockham: uploadStockham(ex, cp), bluestein: null, rowElems: length };
  } else {
    const sub = uploadStockham(ex, cp.sub);
    g = {
      stockham: sub,
      bluestein: { length, m: cp.m, chirp: ex.persistent(cp.chirp), filter: ex.persistent(cp.filter), sub },
      rowElems: cp.m,
    };
  }
  ex.caches.set(key, g);
  return g;
}

/** The GPU-resident plan of the real FFT of length n (made once per executor and n). */
function gpuRealPlan(ex: GpuExecutor, n: number): GpuReal {
  const key = `fft:real:${n}`;
  let g = ex.caches.get(key) as GpuReal | undefined;
  if (g) return g;
  const p = getFftPlan(n, WEBGPU_FFT_CAPABILITIES);
  g = {
    n,
    even: p.even,
    bins: p.bins,
    complexLength: p.complexLength,
    split: p.even ? ex.persistent(p.splitTwiddles) : null,
    complex: gpuComplexPlan(ex, p.complexLength),
  };
  ex.caches.set(key, g);
  return g;
}

/** Runs Stockham passes on `rows` signals in `a` (ping-pong with `b`); returns the buffer with the result. */
function runStockham(
  ex: GpuExecutor,
  sp: GpuStockham,
  a: GPUBuffer,
  b: GPUBuffer,
  rows: number,
): [GPUBuffer, GPUBuffer] {
  const L = sp.length;
  let src = a, dst = b;
  for (const p of sp.passes) {
    const threads = rows * (L / p.radix);
    ex.dispatch(
      passKernel(p.radix),
      [
        ex.wholeBuffer(dst, rows * L * 2),
        ex.wholeBuffer(src, rows * L * 2),
        ex.wholeBuffer(sp.tw!, sp.twElems),
      ],
      [threads, L, p.l, p.s, p.twOff, 0, 0],
      ex.grid(threads),
    );
    [src, dst] = [dst, src];
  }
  return [src, dst];
}

/** Forward complex DFT of `rows` length-L signals in `a` (row stride L); returns [result, other]. */
function runComplex(
  ex: GpuExecutor,
  g: GpuComplex,
  a: GPUBuffer,
  b: GPUBuffer,
  rows: number,
): [GPUBuffer, GPUBuffer] {
  const bl = g.bluestein;
  if (!bl) return runStockham(ex, g.stockham, a, b, rows);
  const { length: L, m: M } = bl;
  const nM = rows * M, nL = rows * L;
  ex.dispatch(
    BLUE_PRE,
    [ex.wholeBuffer(b, nM * 2), ex.wholeBuffer(a, nL * 2), ex.wholeBuffer(bl.chirp, L * 2)],
    [nM, L, M],
    ex.grid(nM),
  );
  const [r1, o1] = runStockham(ex, bl.sub, b, a, rows);
  ex.dispatch(
    BLUE_MID,
    [ex.wholeBuffer(o1, nM * 2), ex.wholeBuffer(r1, nM * 2), ex.wholeBuffer(bl.filter, M * 2)],
    [nM, M],
    ex.grid(nM),
  );
  const [r2, o2] = runStockham(ex, bl.sub, o1, r1, rows);
  ex.dispatch(
    BLUE_POST,
    [ex.wholeBuffer(o2, nL * 2), ex.wholeBuffer(r2, nM * 2), ex.wholeBuffer(bl.chirp, L * 2)],
    [nL, L, M],
    ex.grid(nL),
  );
  return [o2, r2];
}

/** Rows per chunk so that work buffers and operand windows fit one binding. */
function chunkRows(ex: GpuExecutor, g: GpuReal): number {
  const perRow = Math.max(2 * g.complex.rowElems, 2 * g.bins, g.n) + 8;
  const rows = Math.floor(ex.maxWindowElems / perRow);
  if (rows < 1) {
    throw new RangeError(
      `WebGPU FFT of length ${g.n}: one signal's work buffer exceeds maxStorageBufferBindingSize (${ex.limits.maxBindingBytes} bytes)`,
    );
  }
  return rows;
}

/**
 * rfft of `batch` real rows of length n read from `x` at float offset `xStart` into complex spectra
 * `[batch, floor(n/2)+1]` written to `out` at float offset `outStart`.
 */
export function rfftBuffers(
  ex: GpuExecutor,
  x: GPUBuffer,
  xStart: number,
  out: GPUBuffer,
  outStart: number,
  n: number,
  batch: number,
): void {
  if (batch === 0) return;
  const g = gpuRealPlan(ex, n);
  const h = g.bins;
  const per = Math.min(batch, chunkRows(ex, g));
  const L = g.complexLength;
  const workElems = per * g.complex.rowElems * 2;
  const w0 = ex.temp(workElems * 4), w1 = ex.temp(workElems * 4);
  for (let b0 = 0; b0 < batch; b0 += per) {
    const rows = Math.min(per, batch - b0);
    const ow = ex.windowOf(out, outStart + b0 * h * 2, outStart + (b0 + rows) * h * 2);
    if (g.even) {
      ex.copyRaw(x, xStart + b0 * n, w0, 0, rows * n);
      const [r] = runComplex(ex, g.complex, w0, w1, rows);
      const t = rows * (L + 1);
      ex.dispatch(
        SPLIT,
        [ow.binding, ex.wholeBuffer(r, rows * L * 2), ex.wholeBuffer(g.split!, (L + 1) * 2)],
        [t, L, ow.base / 2],
        ex.grid(t),
      );
    } else {
      const xw = ex.windowOf(x, xStart + b0 * n, xStart + (b0 + rows) * n);
      const t = rows * n;
      ex.dispatch(EXPAND, [ex.wholeBuffer(w0, t * 2), xw.binding], [t, xw.base], ex.grid(t));
      const [r] = runComplex(ex, g.complex, w0, w1, rows);
      const th = rows * h;
      ex.dispatch(TRUNCATE, [ow.binding, ex.wholeBuffer(r, t * 2)], [th, n, h, ow.base / 2], ex.grid(th));
    }
  }
}

/**
 * irfft (divides by n) of `batch` spectra `[batch, floor(n/2)+1]` complex read from `spec` at float
 * offset `specStart` into real rows `[batch, n]` written to `out` at float offset `outStart`.
 */
export function irfftBuffers(
  ex: GpuExecutor,
  spec: GPUBuffer,
  specStart: number,
  out: GPUBuffer,
  outStart: number,
  n: number,
  batch: number,
): void {
  if (batch === 0) return;
  const g = gpuRealPlan(ex, n);
  const h = g.bins;
  const per = Math.min(batch, chunkRows(ex, g));
  const L = g.complexLength;
  const workElems = per * g.complex.rowElems * 2;
  const w0 = ex.temp(workElems * 4), w1 = ex.temp(workElems * 4);
  const scale = f32bits(1 / n);
  for (let b0 = 0; b0 < batch; b0 += per) {
    const rows = Math.min(per, batch - b0);
    const sw = ex.windowOf(spec, specStart + b0 * h * 2, specStart + (b0 + rows) * h * 2);
    const ow = ex.windowOf(out, outStart + b0 * n, outStart + (b0 + rows) * n);
    if (g.even) {
      const t = rows * L;
      ex.dispatch(
        IPRE_EVEN,
        [ex.wholeBuffer(w0, t * 2), sw.binding, ex.wholeBuffer(g.split!, (L + 1) * 2)],
        [t, L, sw.base / 2, scale],
        ex.grid(t),
      );
      const [r] = runComplex(ex, g.complex, w0, w1, rows);
      ex.dispatch(IPOST_EVEN, [ow.binding, ex.wholeBuffer(r, t * 2)], [t, ow.base / 2], ex.grid(t));
    } else {
      const t = rows * n;
      ex.dispatch(
        IPRE_ODD,
        [ex.wholeBuffer(w0, t * 2), sw.binding],
        [t, n, h, sw.base / 2, scale],
        ex.grid(t),
      );
      const [r] = runComplex(ex, g.complex, w0, w1, rows);
      ex.dispatch(IPOST_ODD, [ow.binding, ex.wholeBuffer(r, t * 2)], [t, ow.base], ex.grid(t));
    }
  }
}

/** rfft of storage `x` `[batch, n]` into storage `out` `[batch, floor(n/2)+1, 2]`. */
export function rfft(ex: GpuExecutor, x: number, out: number, n: number, batch: number): void {
  rfftBuffers(ex, ex.buf(x).buffer, 0, ex.buf(out).buffer, 0, n, batch);
}

/** irfft of storage `spec` `[batch, floor(n/2)+1, 2]` into storage `out` `[batch, n]`. */
export function irfft(ex: GpuExecutor, spec: number, out: number, n: number, batch: number): void {
  irfftBuffers(ex, ex.buf(spec).buffer, 0, ex.buf(out).buffer, 0, n, batch);
}
