/**
 * Elementwise kernels of the wasm backend on plain Float32Arrays: unary ops and their gradients,
 * broadcasting binary ops, scalar ops, `axpby`, and the fused kernels behind the optional backend
 * methods (RMSNorm, SwiGLU, rotary embedding, Adam/AdamW).
 *
 * Two implementations of each kernel:
 * - SIMD kernels of the wasm module (wasm/elementwise.ts; polynomial exp/log/tanh/sigmoid/erf with the
 *   error bounds documented there). Tensor data lives in JS arrays (ownership rule of ./memory.ts), so
 *   each call streams its operands through a small persistent staging area in wasm memory in chunks of
 *   {@link STAGE_CHUNK} elements (copy chunk in, run, copy chunk out): the working set stays in cache
 *   and nothing is allocated per call.
 * - Plain-JS loops (`*Js`), used for ops the wasm module lacks (sin, cos, pow, where), for strided
 *   patterns it does not cover, and for arrays shorter than {@link wasmElementwise}`.minElements`
 *   where the call overhead outweighs the SIMD speed-up (bench/elementwise_bench.ts measures both).
 *
 * The dispatchers (`unaryKernel`, `binaryKernel`, ...) pick one; results of the two agree to a few
 * float32 ulps (tests/wasm_elementwise_test.ts).
 *
 * @module
 */

import type { Backend, BinaryOp, UnaryOp } from "../backend.ts";

/** Hyper-parameters of {@link adamStepKernel} (those of `Backend.adamStep`). */
export type AdamStepParams = Parameters<NonNullable<Backend["adamStep"]>>[5];
/** Layout of {@link rotaryKernel}'s input (that of `Backend.rotaryEmb`). */
export type RotaryParams = Parameters<NonNullable<Backend["rotaryEmb"]>>[3];
import { free, malloc, memory, wasm } from "./memory.ts";
import { collapseDims } from "../strides.ts";

const INV_SQRT_2PI = 0.3989422804014327;
const GELU_K = 0.7978845608028654; // sqrt(2/pi)
const GELU_C = 0.044715;

// ------------------------------------------------------------------------------------------ config

/**
 * Switches of the wasm elementwise path (for tests and benchmarks; the defaults are what the
 * measurements in bench/elementwise_bench.ts favour).
 */
export const wasmElementwise: {
  /** Use the SIMD kernels at all (false: plain JS everywhere). */
  enabled: boolean;
  /** Arrays with fewer elements use the JS loops for cheap ops (arithmetic, comparisons, copies). */
  minElements: number;
  /**
   * Same for ops that evaluate exp/log/tanh/erf (unary transcendental ops and their gradients,
   * softmax), where the SIMD kernel wins already on short arrays.
   */
  minElementsTranscendental: number;
} = { enabled: true, minElements: 256, minElementsTranscendental: 16 };

/** Elements per operand and chunk streamed through wasm memory. */
export const STAGE_CHUNK = 8192;
const PAD = 16; // floats after every slot: kernels read and write whole vectors (up to 3 extra lanes)

// ------------------------------------------------------------------------------------------ scalar math

// Coefficients shared with wasm/elementwise.ts (fitted there): erf(z)/z ≈ P(z²) on [0, 1],
// erfc(z)·exp(z²)/t ≈ F(t) with t = 1/(1 + z/2) on [1, 10.5].
const ERF_P = [
  7.87587506e-5,
  -0.000801686429,
  0.00518908742,
  -0.026854212,
  0.112835947,
  -0.376126267,
  1.12837917,
];
const ERFC_F = [
  -0.0415744287,
  0.230644612,
  -0.4189295,
  0.232655591,
  -0.00990826907,
  0.199500275,
  0.243311391,
  0.282394237,
  0.282083894,
];

function horner(c: readonly number[], x: number): number {
  let r = c[0];
  for (let i = 1; i < c.length; i++) r = r * x + c[i];
  return r;
}

/**
 * Standard normal CDF Φ(x) = erfc(−x/√2)/2 in float64 arithmetic with the approximation of the wasm
 * kernel (erf series fit for |x|/√2 < 1, erfc·exp(z²) fit beyond; absolute error < 2e-9, relative
 * error of the lower tail < 1e-8 down to underflow). NaN for NaN.
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) * Math.SQRT1_2;
  let h: number;
  if (z < 1) h = 0.5 - 0.5 * z * horner(ERF_P, z * z);
  else {
    const t = 1 / (1 + 0.5 * z);
    h = 0.5 * t * horner(ERFC_F, t) * Math.exp(-z * z);
  }
  return x >= 0 ? 1 - h : h;
}

/** erf(x) = 2Φ(x√2) − 1 (see {@link normalCdf}; absolute error < 4e-9). */
export function erf(x: number): number {
  if (x !== x) return x;
  return x >= 0 ? 1 - 2 * normalCdf(-x * Math.SQRT2) : 2 * normalCdf(x * Math.SQRT2) - 1;
}

// ------------------------------------------------------------------------------------------ staging

let stageBase = 0, stageBytes = 0;
let heap = new Float32Array(memory.buffer);

/** The current Float32 view of wasm memory (re-derived after memory growth). */
export function heapF32(): Float32Array {
  if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
  return heap;
}

/**
 * Byte offsets of `count` staging slots of `floats` elements each (plus padding) in a persistent
 * wasm-memory area that grows on demand. Invalidates Float32 views (call {@link heapF32} after).
 */
export function stageSlots(count: number, floats: number = STAGE_CHUNK): number[] {
  const slot = Math.ceil((floats + PAD) / 16) * 64;
  const need = slot * count;
  if (need > stageBytes) {
    if (stageBytes > 0) free(stageBase);
    stageBytes = Math.max(need, 8 * (STAGE_CHUNK + PAD) * 4);
    stageBase = malloc(stageBytes);
  }
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = stageBase + i * slot;
  return out;
}

/** Copies `src[off, off+len)` to wasm memory at byte offset `ptr` (`h` from {@link heapF32}). */
export function put(h: Float32Array, src: Float32Array, off: number, len: number, ptr: number): void {
  const base = ptr >>> 2;
  if (len <= 24) {
    for (let i = 0; i < len; i++) h[base + i] = src[off + i];
  } else h.set(off === 0 && len === src.length ? src : src.subarray(off, off + len), base);
}

/** Copies `len` floats at byte offset `ptr` into `dst[off, off+len)` (`h` from {@link heapF32}). */
export function get(h: Float32Array, ptr: number, dst: Float32Array, off: number, len: number): void {
  const base = ptr >>> 2;
  if (len <= 24) {
    for (let i = 0; i < len; i++) dst[off + i] = h[base + i];
  } else dst.set(h.subarray(base, base + len), off);
}

/**
 * Streams `rows` rows of `dim` elements of every array in `ins` through staging slots in chunks of
 * whole rows, calls `run(inPtrs, outPtrs, rowsInChunk)` per chunk, and copies the chunk of every
 * array in `outs` (also `[rows, dim]`) back.
 */
export function rowsWasm(
  ins: readonly Float32Array[],
  outs: readonly Float32Array[],
  rows: number,
  dim: number,
  run: (pin: number[], pout: number[], rows: number) => void,
): void {
  if (rows === 0 || dim === 0) return;
  const slotF = Math.max(STAGE_CHUNK, dim);
  const slots = stageSlots(ins.length + outs.length, slotF);
  const pin = slots.slice(0, ins.length), pout = slots.slice(ins.length);
  const h = heapF32();
  const k = Math.floor(slotF / dim);
  for (let r0 = 0; r0 < rows; r0 += k) {
    const kk = Math.min(k, rows - r0), off = r0 * dim, len = kk * dim;
    for (let i = 0; i < ins.length; i++) put(h, ins[i], off, len, pin[i]);
    run(pin, pout, kk);
    for (let i = 0; i < outs.length; i++) get(h, pout[i], outs[i], off, len);
  }
}

// ------------------------------------------------------------------------------------------ op codes

/** Unary op codes of the wasm kernels (wasm/elementwise.ts U_*); ops missing here run in JS. */
const UNARY_CODE: Partial<Record<UnaryOp, number>> = {
  neg: 0,
  abs: 1,
  sign: 2,
  exp: 3,
  log: 4,
  sqrt: 5,
  rsqrt: 6,
  square: 7,
  reciprocal: 8,
  tanh: 9,
  sigmoid: 10,
  relu: 11,
  gelu: 12,
  geluTanh: 13,
  silu: 14,
};

/** Binary op codes of the wasm kernels (wasm/elementwise.ts B_*); `pow` runs in JS. */
const BINARY_CODE: Partial<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  max: 4,
  min: 5,
  eq: 6,
  ne: 7,
  gt: 8,
  ge: 9,
  lt: 10,
  le: 11,
};

/** Which operands a unary gradient reads: 1 = x, 2 = y (g always). */
const GRAD_READS: Partial<Record<UnaryOp, number>> = {
  neg: 0,
  abs: 1,
  sign: 0,
  exp: 2,
  log: 1,
  sqrt: 2,
  rsqrt: 2,
  square: 1,
  reciprocal: 2,
  tanh: 2,
  sigmoid: 2,
  relu: 1,
  gelu: 1,
  geluTanh: 1,
  silu: 1,
};

/** Unary ops whose kernels evaluate exp/log/tanh/erf. */
const TRANSCENDENTAL = new Set<UnaryOp>(["exp", "log", "tanh", "sigmoid", "gelu", "geluTanh", "silu"]);

/** Unary ops whose gradient evaluates transcendental functions (the others reuse the output y). */
const GRAD_TRANSCENDENTAL = new Set<UnaryOp>(["gelu", "geluTanh", "silu"]);

/** Whether an n-element call runs in wasm (`heavy`: the op evaluates transcendental functions). */
export function useWasm(n: number, heavy = false): boolean {
  return wasmElementwise.enabled &&
    n >= (heavy ? wasmElementwise.minElementsTranscendental : wasmElementwise.minElements);
}

// ------------------------------------------------------------------------------------------ wasm kernels

/**
 * SIMD `out[i] = op(x[i])` (`out` may alias `x`).
 *
 * @throws {RangeError} for an op without a wasm kernel (sin, cos).
 */
export function unaryWasm(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const code = UNARY_CODE[op];
  if (code === undefined) throw new RangeError(`unary op "${op}" has no wasm kernel`);
  rowsWasm([x], [out], x.length, 1, ([px], [po], len) => wasm.ewUnary(code, px, po, len));
}

/**
 * SIMD gradient of a unary op: `gx[i] = g[i]·op'(x[i])` from the input `x`, output `y`, upstream `g`.
 *
 * @throws {RangeError} for an op without a wasm kernel (sin, cos).
 */
export function unaryGradWasm(
  op: UnaryOp,
  x: Float32Array,
  y: Float32Array,
  g: Float32Array,
  gx: Float32Array,
): void {
  const code = UNARY_CODE[op];
  const reads = GRAD_READS[op];
  if (code === undefined || reads === undefined) throw new RangeError(`unary op "${op}" has no wasm kernel`);
  const n = g.length;
  const [px, py, pg, po] = stageSlots(4);
  const h = heapF32();
  for (let off = 0; off < n; off += STAGE_CHUNK) {
    const len = Math.min(STAGE_CHUNK, n - off);
    if (reads & 1) put(h, x, off, len, px);
    if (reads & 2) put(h, y, off, len, py);
    put(h, g, off, len, pg);
    wasm.ewUnaryGrad(code, px, py, pg, po, len);
    get(h, po, gx, off, len);
  }
}

/**
 * SIMD binary op on a 2-D pattern: `out[oo + r·cols + j] = op(a[oa + r·sa + j·ia], b[ob + r·sb + j·ib])`
 * for r < rows, j < cols, with ia, ib in {0, 1} and row strides sa, sb >= 0.
 */
function binary2d(
  code: number,
  a: Float32Array,
  oa: number,
  sa: number,
  ia: number,
  b: Float32Array,
  ob: number,
  sb: number,
  ib: number,
  out: Float32Array,
  oo: number,
  rows: number,
  cols: number,
): void {
  const [pa, pb, po] = stageSlots(3);
  const h = heapF32();
  const cap = STAGE_CHUNK;
  // rows per chunk so that every staged span fits a slot
  let k = Math.floor(cap / cols);
  if (sa > 0) k = Math.min(k, Math.floor((cap - (cols - 1) * ia - 1) / sa) + 1);
  if (sb > 0) k = Math.min(k, Math.floor((cap - (cols - 1) * ib - 1) / sb) + 1);
  if (k >= 1) {
    for (let r0 = 0; r0 < rows; r0 += k) {
      const kk = Math.min(k, rows - r0);
      put(h, a, oa + r0 * sa, (kk - 1) * sa + (cols - 1) * ia + 1, pa);
      put(h, b, ob + r0 * sb, (kk - 1) * sb + (cols - 1) * ib + 1, pb);
      wasm.ewBinary(code, pa, sa, ia, pb, sb, ib, po, kk, cols);
      get(h, po, out, oo + r0 * cols, kk * cols);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let c0 = 0; c0 < cols; c0 += cap) {
      const len = Math.min(cap, cols - c0);
      put(h, a, oa + r * sa + c0 * ia, ia ? len : 1, pa);
      put(h, b, ob + r * sb + c0 * ib, ib ? len : 1, pb);
      wasm.ewBinary(code, pa, 0, ia, pb, 0, ib, po, 1, len);
      get(h, po, out, oo + r * cols + c0, len);
    }
  }
}

/**
 * SIMD broadcasting binary op (same contract as {@link binaryJs}). Returns false, doing nothing,
 * when the op or the stride pattern has no wasm path (the caller then uses the JS loop): after
 * merging contiguous dimensions the innermost strides must be 0 or 1, and problems with more than
 * two dimensions must have inner blocks of at least 1024 elements.
 */
export function binaryWasm(
  op: BinaryOp,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): boolean {
  const code = BINARY_CODE[op];
  if (code === undefined) return false;
  const total = out.length;
  if (total === 0) return true;
  const outStrides = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    outStrides[i] = acc;
    acc *= shape[i];
  }
  const c = collapseDims(shape, [aStrides, bStrides, outStrides]);
  const nd = c.shape.length;
  if (nd === 0) return false;
  const [sa, sb] = c.strides;
  const cols = c.shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  if ((ia !== 0 && ia !== 1) || (ib !== 0 && ib !== 1)) return false;
  if (nd === 1) {
    binary2d(code, a, 0, 0, ia, b, 0, 0, ib, out, 0, 1, cols);
    return true;
  }
  const rows = c.shape[nd - 2], ra = sa[nd - 2], rb = sb[nd - 2];
  if (nd === 2) {
    binary2d(code, a, 0, ra, ia, b, 0, rb, ib, out, 0, rows, cols);
    return true;
  }
  const block = rows * cols;
  if (block < 1024) return false;
  const outer = nd - 2;
  const idx = new Array<number>(outer).fill(0);
  let pa = 0, pb = 0;
  for (let po = 0; po < total; po += block) {
    binary2d(code, a, pa, ra, ia, b, pb, rb, ib, out, po, rows, cols);
    for (let d = outer - 1; d >= 0; d--) {
      idx[d]++;
      pa += sa[d];
      pb += sb[d];
      if (idx[d] < c.shape[d]) break;
      pa -= sa[d] * c.shape[d];
      pb -= sb[d] * c.shape[d];
      idx[d] = 0;
    }
  }
  return true;
}

/**
 * SIMD `out[i] = op(x[i], s)` (or `op(s, x[i])` when `reverse`); `s` is rounded to float32 first.
 * `out` may alias `x`.
 *
 * @throws {RangeError} for `pow` (no wasm kernel).
 */
export function scalarWasm(
  op: BinaryOp,
  x: Float32Array,
  s: number,
  reverse: boolean,
  out: Float32Array,
): void {
  const code = BINARY_CODE[op];
  if (code === undefined) throw new RangeError(`binary op "${op}" has no wasm kernel`);
  const n = x.length;
  const [px, ps, po] = stageSlots(3);
  const h = heapF32();
  h[ps >>> 2] = s;
  for (let off = 0; off < n; off += STAGE_CHUNK) {
    const len = Math.min(STAGE_CHUNK, n - off);
    put(h, x, off, len, px);
    if (reverse) wasm.ewBinary(code, ps, 0, 0, px, 0, 1, po, 1, len);
    else wasm.ewBinary(code, px, 0, 1, ps, 0, 0, po, 1, len);
    get(h, po, out, off, len);
  }
}

/** SIMD `out[i] = alpha·x[i] + beta·y[i]` (float32 arithmetic); `out` may alias `x` or `y`. */
export function axpbyWasm(
  x: Float32Array,
  alpha: number,
  y: Float32Array,
  beta: number,
  out: Float32Array,
): void {
  rowsWasm([x, y], [out], x.length, 1, ([px, py], [po], len) => wasm.ewAxpby(px, alpha, py, beta, po, len));
}

/** Plain-JS `out[i] = alpha·x[i] + beta·y[i]` (float64 arithmetic, rounded once). */
export function axpbyJs(
  x: Float32Array,
  alpha: number,
  y: Float32Array,
  beta: number,
  out: Float32Array,
): void {
  const n = x.length;
  if (alpha === 1 && beta === 1) { for (let i = 0; i < n; i++) out[i] = x[i] + y[i]; }
  else if (alpha === 1) { for (let i = 0; i < n; i++) out[i] = x[i] + beta * y[i]; }
  else for (let i = 0; i < n; i++) out[i] = alpha * x[i] + beta * y[i];
}

// ------------------------------------------------------------------------------------------ dispatchers

/** `out[i] = op(x[i])`; `out` may alias `x`. SIMD when available and large enough, else JS. */
export function unaryKernel(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  if (UNARY_CODE[op] !== undefined && useWasm(x.length, TRANSCENDENTAL.has(op))) unaryWasm(op, x, out);
  else unaryJs(op, x, out);
}

/** `gx[i] = g[i] · op'(x[i])` (SIMD when available and large enough, else JS). */
export function unaryGradKernel(
  op: UnaryOp,
  x: Float32Array,
  y: Float32Array,
  g: Float32Array,
  gx: Float32Array,
): void {
  if (UNARY_CODE[op] !== undefined && useWasm(g.length, GRAD_TRANSCENDENTAL.has(op))) {
    unaryGradWasm(op, x, y, g, gx);
  } else unaryGradJs(op, x, y, g, gx);
}

/** Broadcasting binary kernel (SIMD for the common patterns, else JS); see {@link binaryJs}. */
export function binaryKernel(
  op: BinaryOp,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): void {
  if (useWasm(out.length) && binaryWasm(op, a, b, out, shape, aStrides, bStrides)) return;
  binaryJs(op, a, b, out, shape, aStrides, bStrides);
}

/** `out[i] = op(x[i], s)`, or `op(s, x[i])` when `reverse` (SIMD when possible). `out` may alias `x`. */
export function scalarKernel(
  op: BinaryOp,
  x: Float32Array,
  s: number,
  reverse: boolean,
  out: Float32Array,
): void {
  if (BINARY_CODE[op] !== undefined && useWasm(x.length)) scalarWasm(op, x, s, reverse, out);
  else scalarJs(op, x, s, reverse, out);
}

/** `out[i] = alpha·x[i] + beta·y[i]`; `out` may alias `x` or `y`. */
export function axpbyKernel(
  x: Float32Array,
  alpha: number,
  y: Float32Array,
  beta: number,
  out: Float32Array,
): void {
  if (useWasm(x.length)) axpbyWasm(x, alpha, y, beta, out);
  else axpbyJs(x, alpha, y, beta, out);
}

// ------------------------------------------------------------------------------------------ fused kernels

/**
 * RMSNorm forward over rows of `x` `[rows, d]`: `rstd[r] = 1/√(mean(x[r]²) + eps)` (float64, rounded
 * to float32), `y = (x·rstd)·w` (`w` `[d]`, or no scale when null). SIMD, chunked by rows.
 */
export function rmsNormKernel(
  x: Float32Array,
  w: Float32Array | null,
  y: Float32Array,
  rstd: Float32Array,
  rows: number,
  d: number,
  eps: number,
): void {
  if (rows === 0 || d === 0) return;
  const slotF = Math.max(STAGE_CHUNK, d);
  const [px, py, pw, pr] = stageSlots(4, slotF);
  const h = heapF32();
  if (w) put(h, w, 0, d, pw);
  const k = Math.floor(slotF / d);
  for (let r0 = 0; r0 < rows; r0 += k) {
    const kk = Math.min(k, rows - r0);
    put(h, x, r0 * d, kk * d, px);
    wasm.ewRmsNorm(px, pw, py, pr, kk, d, eps, w ? 1 : 0);
    get(h, py, y, r0 * d, kk * d);
    get(h, pr, rstd, r0, kk);
  }
}

/**
 * RMSNorm backward (see {@link rmsNormKernel}): with `n = x·rstd`, `gn = g·w`,
 * `gx = rstd·(gn − n·mean(gn·n))`; `gw = Σ_rows g·n` (float64 accumulation) into `gw` when both `w`
 * and `gw` are given.
 */
export function rmsNormGradKernel(
  g: Float32Array,
  x: Float32Array,
  w: Float32Array | null,
  rstd: Float32Array,
  gx: Float32Array,
  gw: Float32Array | null,
  rows: number,
  d: number,
): void {
  const withW = w !== null;
  if (gw) gw.fill(0);
  if (rows === 0 || d === 0) return;
  const slotF = Math.max(STAGE_CHUNK, d);
  const [pg, px, po, pw, pr, pacc] = stageSlots(7, slotF); // pacc spans slots 5 and 6 (float64 [d])
  const h = heapF32();
  if (withW) put(h, w, 0, d, pw);
  const accLen = 2 * (Math.ceil(d / 4) * 4);
  if (gw) h.fill(0, pacc >>> 2, (pacc >>> 2) + accLen);
  const k = Math.floor(slotF / d);
  for (let r0 = 0; r0 < rows; r0 += k) {
    const kk = Math.min(k, rows - r0);
    put(h, g, r0 * d, kk * d, pg);
    put(h, x, r0 * d, kk * d, px);
    put(h, rstd, r0, kk, pr);
    wasm.ewRmsNormGrad(pg, px, pw, pr, po, pacc, kk, d, (withW ? 1 : 0) | (withW && gw ? 2 : 0));
    get(h, po, gx, r0 * d, kk * d);
  }
  if (gw && withW) {
    const acc = new Float64Array(memory.buffer, pacc, d);
    for (let j = 0; j < d; j++) gw[j] = acc[j];
  }
}

/** SwiGLU forward `y = silu(a)·b` elementwise (SIMD). */
export function swigluKernel(a: Float32Array, b: Float32Array, y: Float32Array): void {
  rowsWasm([a, b], [y], a.length, 1, ([pa, pb], [py], len) => wasm.ewSwiglu(pa, pb, py, len));
}

/** SwiGLU backward: `ga = g·b·silu'(a)`, `gb = g·silu(a)` (SIMD). */
export function swigluGradKernel(
  a: Float32Array,
  b: Float32Array,
  g: Float32Array,
  ga: Float32Array,
  gb: Float32Array,
): void {
  rowsWasm(
    [a, b, g],
    [ga, gb],
    a.length,
    1,
    ([pa, pb, pg], [pga, pgb], len) => wasm.ewSwigluGrad(pa, pb, pg, pga, pgb, len),
  );
}

/**
 * Rotary embedding with cos / signed-sin tables (`[T, D]`, or `[B, T, D]` when `perBatch`):
 * forward `y = x·cos + swapHalves(x)·sin`; `inverse` applies the transposed rotation
 * `g·cos + swapHalves(g·sin)` (the gradient). Same float32 operations as the composed form.
 */
export function rotaryKernel(
  x: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  out: Float32Array,
  p: RotaryParams,
  inverse: boolean,
): void {
  const { batch, heads, seq, dim, layout, perBatch } = p;
  if (x.length === 0 || dim === 0) return;
  const inv = inverse ? 1 : 0;
  if (layout === "BHTD") {
    const slotF = Math.max(STAGE_CHUNK, dim);
    const [px, pc, ps, po] = stageSlots(4, slotF);
    const h = heapF32();
    const k = Math.floor(slotF / dim);
    for (let b = 0; b < batch; b++) {
      const tOff = perBatch ? b * seq * dim : 0;
      for (let hd = 0; hd < heads; hd++) {
        const xOff = (b * heads + hd) * seq * dim;
        for (let t0 = 0; t0 < seq; t0 += k) {
          const kk = Math.min(k, seq - t0);
          put(h, x, xOff + t0 * dim, kk * dim, px);
          put(h, cos, tOff + t0 * dim, kk * dim, pc);
          put(h, sin, tOff + t0 * dim, kk * dim, ps);
          wasm.ewRotary(px, pc, ps, po, kk, dim, 1, inv);
          get(h, po, out, xOff + t0 * dim, kk * dim);
        }
      }
    }
  } else {
    const rowF = heads * dim;
    const slotF = Math.max(STAGE_CHUNK, rowF);
    const [px, pc, ps, po] = stageSlots(4, slotF);
    const h = heapF32();
    const k = Math.floor(slotF / rowF);
    for (let b = 0; b < batch; b++) {
      const tOff = perBatch ? b * seq * dim : 0;
      const xOff = b * seq * rowF;
      for (let t0 = 0; t0 < seq; t0 += k) {
        const kk = Math.min(k, seq - t0);
        put(h, x, xOff + t0 * rowF, kk * rowF, px);
        put(h, cos, tOff + t0 * dim, kk * dim, pc);
        put(h, sin, tOff + t0 * dim, kk * dim, ps);
        wasm.ewRotary(px, pc, ps, po, kk * heads, dim, heads, inv);
        get(h, po, out, xOff + t0 * rowF, kk * rowF);
      }
    }
  }
}

/**
 * One fused Adam/AdamW update in place over `p`, `m`, `v` (and `vmax` for AMSGrad), reading `g`
 * (PyTorch's single-tensor algorithm, float32 arithmetic; see wasm/elementwise.ts `ewAdamStep`).
 */
export function adamStepKernel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vmax: Float32Array | null,
  c: AdamStepParams,
): void {
  const n = p.length;
  const bc1 = 1 - c.beta1 ** c.step, bc2 = 1 - c.beta2 ** c.step;
  const decoupled = c.decoupled || c.weightDecay === 0;
  const flags = (decoupled ? 1 : 0) | (c.maximize ? 2 : 0) | (vmax ? 4 : 0);
  const [pp, pg, pm, pv, px] = stageSlots(5);
  const h = heapF32();
  for (let off = 0; off < n; off += STAGE_CHUNK) {
    const len = Math.min(STAGE_CHUNK, n - off);
    put(h, p, off, len, pp);
    put(h, g, off, len, pg);
    put(h, m, off, len, pm);
    put(h, v, off, len, pv);
    if (vmax) put(h, vmax, off, len, px);
    wasm.ewAdamStep(
      pp,
      pg,
      pm,
      pv,
      px,
      len,
      c.beta1,
      1 - c.beta1,
      c.beta2,
      1 - c.beta2,
      c.eps,
      c.weightDecay,
      1 - c.lr * c.weightDecay,
      c.lr / bc1,
      1 / Math.sqrt(bc2),
      flags,
    );
    get(h, pp, p, off, len);
    get(h, pm, m, off, len);
    get(h, pv, v, off, len);
    if (vmax) get(h, px, vmax, off, len);
  }
}

// ------------------------------------------------------------------------------------------ JS kernels

/** Plain-JS `out[i] = op(x[i])` (every op); `out` may alias `x`. */
export function unaryJs(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const n = x.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -x[i];
      return;
    case "abs":
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
      return;
    case "sign":
      for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]);
      return;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]);
      return;
    case "log":
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
      return;
    case "rsqrt":
      for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]);
      return;
    case "square":
      for (let i = 0; i < n; i++) out[i] = x[i] * x[i];
      return;
    case "reciprocal":
      for (let i = 0; i < n; i++) out[i] = 1 / x[i];
      return;
    case "sin":
      for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]);
      return;
    case "cos":
      for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]);
      return;
    case "tanh":
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        // stable for both signs
        if (v >= 0) out[i] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          out[i] = e / (1 + e);
        }
      }
      return;
    case "relu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v > 0 ? v : (v !== v ? v : 0);
      }
      return;
    case "gelu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v * normalCdf(v);
      }
      return;
    case "geluTanh":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = 0.5 * v * (1 + Math.tanh(GELU_K * (v + GELU_C * v * v * v)));
      }
      return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v / (1 + Math.exp(-v));
      }
      return;
    default:
      throw new RangeError(`unknown unary op "${op as string}"`);
  }
}

/** Plain-JS `gx[i] = g[i] · op'(x[i])` (every op), using the forward output `y` where cheaper. */
export function unaryGradJs(
  op: UnaryOp,
  x: Float32Array,
  y: Float32Array,
  g: Float32Array,
  gx: Float32Array,
): void {
  const n = g.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) gx[i] = -g[i];
      return;
    case "abs":
      for (let i = 0; i < n; i++) gx[i] = g[i] * Math.sign(x[i]);
      return;
    case "sign":
      gx.fill(0);
      return;
    case "exp":
      for (let i = 0; i < n; i++) gx[i] = g[i] * y[i];
      return;
    case "log":
      for (let i = 0; i < n; i++) gx[i] = g[i] / x[i];
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) gx[i] = g[i] * 0.5 / y[i];
      return;
    case "rsqrt":
      for (let i = 0; i < n; i++) {
        const v = y[i];
        gx[i] = -0.5 * g[i] * v * v * v;
      }
      return;
    case "square":
      for (let i = 0; i < n; i++) gx[i] = 2 * g[i] * x[i];
      return;
    case "reciprocal":
      for (let i = 0; i < n; i++) gx[i] = -g[i] * y[i] * y[i];
      return;
    case "sin":
      for (let i = 0; i < n; i++) gx[i] = g[i] * Math.cos(x[i]);
      return;
    case "cos":
      for (let i = 0; i < n; i++) gx[i] = -g[i] * Math.sin(x[i]);
      return;
    case "tanh":
      for (let i = 0; i < n; i++) gx[i] = g[i] * (1 - y[i] * y[i]);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) gx[i] = g[i] * y[i] * (1 - y[i]);
      return;
    case "relu":
      for (let i = 0; i < n; i++) gx[i] = x[i] > 0 ? g[i] : 0;
      return;
    case "gelu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const cdf = normalCdf(v);
        gx[i] = g[i] * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
    case "geluTanh":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const th = Math.tanh(GELU_K * (v + GELU_C * v * v * v));
        const dInner = GELU_K * (1 + 3 * GELU_C * v * v);
        gx[i] = g[i] * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * dInner);
      }
      return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const s = 1 / (1 + Math.exp(-v));
        gx[i] = g[i] * s * (1 + v * (1 - s));
      }
      return;
    default:
      throw new RangeError(`unknown unary op "${op as string}"`);
  }
}

/**
 * One strided run of a binary op: `out[po + j] = op(a[pa + j·ia], b[pb + j·ib])` for `j < len`.
 */
export function binaryRun(
  op: BinaryOp,
  a: Float32Array,
  pa: number,
  ia: number,
  b: Float32Array,
  pb: number,
  ib: number,
  out: Float32Array,
  po: number,
  len: number,
): void {
  const end = po + len;
  switch (op) {
    case "add":
      if (ia === 1 && ib === 1) { for (let o = po; o < end; o++) out[o] = a[pa++] + b[pb++]; }
      else for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] + b[pb];
      return;
    case "sub":
      if (ia === 1 && ib === 1) { for (let o = po; o < end; o++) out[o] = a[pa++] - b[pb++]; }
      else for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] - b[pb];
      return;
    case "mul":
      if (ia === 1 && ib === 1) { for (let o = po; o < end; o++) out[o] = a[pa++] * b[pb++]; }
      else for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] * b[pb];
      return;
    case "div":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] / b[pb];
      return;
    case "pow":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = Math.pow(a[pa], b[pb]);
      return;
    case "max":
      for (let o = po; o < end; o++, pa += ia, pb += ib) {
        const x = a[pa], y = b[pb];
        out[o] = x > y || x !== x ? x : y;
      }
      return;
    case "min":
      for (let o = po; o < end; o++, pa += ia, pb += ib) {
        const x = a[pa], y = b[pb];
        out[o] = x < y || x !== x ? x : y;
      }
      return;
    case "eq":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] === b[pb] ? 1 : 0;
      return;
    case "ne":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] !== b[pb] ? 1 : 0;
      return;
    case "gt":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] > b[pb] ? 1 : 0;
      return;
    case "ge":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] >= b[pb] ? 1 : 0;
      return;
    case "lt":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] < b[pb] ? 1 : 0;
      return;
    case "le":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] <= b[pb] ? 1 : 0;
      return;
    default:
      throw new RangeError(`unknown binary op "${op as string}"`);
  }
}

/** Plain-JS broadcasting binary kernel: `out` (contiguous, shape `shape`) from strided reads of `a` and `b`. */
export function binaryJs(
  op: BinaryOp,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): void {
  const total = out.length;
  if (total === 0) return;
  const outStrides = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    outStrides[i] = acc;
    acc *= shape[i];
  }
  const c = collapseDims(shape, [aStrides, bStrides, outStrides]);
  const nd = c.shape.length;
  if (nd === 0) {
    binaryRun(op, a, 0, 0, b, 0, 0, out, 0, 1);
    return;
  }
  const sa = c.strides[0], sb = c.strides[1];
  const inner = c.shape[nd - 1];
  const ia = sa[nd - 1], ib = sb[nd - 1];
  if (nd === 1) {
    binaryRun(op, a, 0, ia, b, 0, ib, out, 0, inner);
    return;
  }
  const idx = new Array<number>(nd - 1).fill(0);
  let pa = 0, pb = 0;
  for (let po = 0; po < total; po += inner) {
    binaryRun(op, a, pa, ia, b, pb, ib, out, po, inner);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      pa += sa[d];
      pb += sb[d];
      if (idx[d] < c.shape[d]) break;
      pa -= sa[d] * c.shape[d];
      pb -= sb[d] * c.shape[d];
      idx[d] = 0;
    }
  }
}

/** Plain-JS `out[i] = op(x[i], s)`, or `op(s, x[i])` when `reverse`. `out` may alias `x`. */
export function scalarJs(
  op: BinaryOp,
  x: Float32Array,
  s: number,
  reverse: boolean,
  out: Float32Array,
): void {
  const n = x.length;
  if (!reverse) {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = x[i] + s;
        return;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = x[i] - s;
        return;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = x[i] * s;
        return;
      case "div":
        for (let i = 0; i < n; i++) out[i] = x[i] / s;
        return;
      case "pow":
        if (s === 2) { for (let i = 0; i < n; i++) out[i] = x[i] * x[i]; }
        else if (s === 0.5) { for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]); }
        else for (let i = 0; i < n; i++) out[i] = Math.pow(x[i], s);
        return;
    }
  } else {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = s + x[i];
        return;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = s - x[i];
        return;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = s * x[i];
        return;
      case "div":
        for (let i = 0; i < n; i++) out[i] = s / x[i];
        return;
      case "pow":
        for (let i = 0; i < n; i++) out[i] = Math.pow(s, x[i]);
        return;
    }
  }
  // comparisons and max/min: reuse the strided run with a one-element operand
  const sArr = new Float32Array([s]);
  if (reverse) binaryRun(op, sArr, 0, 0, x, 0, 1, out, 0, n);
  else binaryRun(op, x, 0, 1, sArr, 0, 0, out, 0, n);
}

/** Broadcasting select into contiguous `out`: `cond ≠ 0 ? a : b`. */
export function whereKernel(
  cond: Float32Array,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: readonly number[],
  cStr: readonly number[],
  aStr: readonly number[],
  bStr: readonly number[],
): void {
  const total = out.length;
  if (total === 0) return;
  const oStr = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    oStr[i] = acc;
    acc *= shape[i];
  }
  const c = collapseDims(shape, [cStr, aStr, bStr, oStr]);
  const nd = c.shape.length;
  const [sc, sa, sb] = c.strides;
  const inner = nd === 0 ? 1 : c.shape[nd - 1];
  const ic = nd === 0 ? 0 : sc[nd - 1], ia = nd === 0 ? 0 : sa[nd - 1], ib = nd === 0 ? 0 : sb[nd - 1];
  const idx = new Array<number>(Math.max(nd - 1, 0)).fill(0);
  let pc = 0, pa = 0, pb = 0;
  for (let po = 0; po < total; po += inner) {
    for (let j = 0, qc = pc, qa = pa, qb = pb; j < inner; j++, qc += ic, qa += ia, qb += ib) {
      out[po + j] = cond[qc] !== 0 ? a[qa] : b[qb];
    }
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      pc += sc[d];
      pa += sa[d];
      pb += sb[d];
      if (idx[d] < c.shape[d]) break;
      pc -= sc[d] * c.shape[d];
      pa -= sa[d] * c.shape[d];
      pb -= sb[d] * c.shape[d];
      idx[d] = 0;
    }
  }
}
