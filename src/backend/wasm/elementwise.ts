/**
 * Elementwise kernels of the wasm backend on plain Float32Arrays: unary ops and their gradients,
 * broadcasting binary ops, scalar ops, `axpby`, and the fused kernels behind the optional backend
 * methods (RMSNorm, SwiGLU, rotary embedding, Adam/AdamW).
 *
 * Two implementations of each kernel:
 * - SIMD kernels of the wasm module (wasm/elementwise.ts; polynomial exp/log/tanh/sigmoid/erf with the
 *   error bounds documented there). Tensor data lives in JS arrays (ownership rule of ./memory.ts), so
 *   each call streams its operands through a persistent staging area in wasm memory (./stream.ts):
 *   chunks of {@link STAGE_CHUNK} elements on one thread, and large calls split over the worker pool
 *   by rows (results bit-identical for every thread count).
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
import { memory, wasm } from "./memory.ts";
import { getNumThreads, parallelCall, rangeSlices } from "../threads/pool.ts";
import { collapseDims } from "../strides.ts";
import {
  get,
  heapF32,
  PARALLEL_MIN,
  PARALLEL_MIN_HEAVY,
  put,
  type RowOperand,
  STAGE_CHUNK,
  stageSlots,
  streamRows,
} from "./stream.ts";

export { get, heapF32, put, rowsWasm, STAGE_CHUNK, stageArea, stageSlots } from "./stream.ts";

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
 * SIMD `out[i] = op(x[i])` (`out` may alias `x`); split over threads when large.
 *
 * @throws {RangeError} for an op without a wasm kernel (sin, cos).
 */
export function unaryWasm(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const code = UNARY_CODE[op];
  if (code === undefined) throw new RangeError(`unary op "${op}" has no wasm kernel`);
  streamRows({
    fn: "ewUnary",
    rows: x.length,
    ins: [{ a: x, w: 1 }],
    outs: [{ a: out, w: 1 }],
    minSplit: TRANSCENDENTAL.has(op) ? PARALLEL_MIN_HEAVY : PARALLEL_MIN,
    args: ([px], [po], _f, _r0, n) => [code, px, po, n],
  });
}

/**
 * SIMD gradient of a unary op: `gx[i] = g[i]·op'(x[i])` from the input `x`, output `y`, upstream `g`;
 * split over threads when large.
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
  // inputs: g, then x and y when read (unread operands point at g's staged rows)
  const ins: RowOperand[] = [{ a: g, w: 1 }];
  const ix = reads & 1 ? ins.push({ a: x, w: 1 }) - 1 : 0;
  const iy = reads & 2 ? ins.push({ a: y, w: 1 }) - 1 : 0;
  streamRows({
    fn: "ewUnaryGrad",
    rows: g.length,
    ins,
    outs: [{ a: gx, w: 1 }],
    minSplit: GRAD_TRANSCENDENTAL.has(op) ? PARALLEL_MIN_HEAVY : PARALLEL_MIN,
    args: (pin, [po], _f, _r0, n) => [code, pin[ix], pin[iy], pin[0], po, n],
  });
}

/**
 * One operand of {@link binary2d} as a streamed row operand (`w` elements per row, staged row stride
 * `stride`) or a fixed vector (`fixed`, staged stride 0); null when the pattern has no streamed form.
 */
function binaryOperand(
  x: Float32Array,
  o: number,
  s: number,
  i: number,
  rows: number,
  cols: number,
): { row: RowOperand | null; fixed: Float32Array | null; stride: number } | null {
  if (rows === 1) {
    // one row: stream its elements (rows of one element), or a broadcast scalar
    return i === 1 ? { row: { a: x, w: 1, off: o }, fixed: null, stride: 0 } : {
      row: null,
      fixed: x.subarray(o, o + 1),
      stride: 0,
    };
  }
  if (s === 0) return { row: null, fixed: x.subarray(o, o + (cols - 1) * i + 1), stride: 0 };
  if (i === 1 && s === cols) return { row: { a: x, w: cols, off: o }, fixed: null, stride: cols };
  if (i === 0 && s === 1) return { row: { a: x, w: 1, off: o }, fixed: null, stride: 1 };
  return null;
}

/**
 * SIMD binary op on a 2-D pattern: `out[oo + r·cols + j] = op(a[oa + r·sa + j·ia], b[ob + r·sb + j·ib])`
 * for r < rows, j < cols, with ia, ib in {0, 1} and row strides sa, sb >= 0. Contiguous rows,
 * broadcast rows or columns and single rows stream through {@link streamRows} (split over threads
 * when large); other strides take a one-thread chunked loop.
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
  const ra = binaryOperand(a, oa, sa, ia, rows, cols), rb = binaryOperand(b, ob, sb, ib, rows, cols);
  if (ra !== null && rb !== null) {
    const flat = rows === 1;
    const ins: RowOperand[] = [], fixed: Float32Array[] = [];
    const where = [ra, rb].map((r) => r.row ? ins.push(r.row) - 1 : -1 - (fixed.push(r.fixed!) - 1));
    const ptr = (q: number, pin: readonly number[], pf: readonly number[]) => q >= 0 ? pin[q] : pf[-1 - q];
    streamRows({
      fn: "ewBinary",
      rows: flat ? cols : rows,
      ins,
      outs: [{ a: out, w: flat ? 1 : cols, off: oo }],
      fixed,
      minSplit: PARALLEL_MIN,
      args: (pin, [po], pf, _r0, k) =>
        flat
          ? [code, ptr(where[0], pin, pf), 0, ia, ptr(where[1], pin, pf), 0, ib, po, 1, k]
          : [code, ptr(where[0], pin, pf), ra.stride, ia, ptr(where[1], pin, pf), rb.stride, ib, po, k, cols],
    });
    return;
  }
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
 * `out` may alias `x`. Split over threads when large.
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
  streamRows({
    fn: "ewBinary",
    rows: x.length,
    ins: [{ a: x, w: 1 }],
    outs: [{ a: out, w: 1 }],
    fixed: [new Float32Array([s])],
    minSplit: PARALLEL_MIN,
    args: ([px], [po], [ps], _r0, n) =>
      reverse ? [code, ps, 0, 0, px, 0, 1, po, 1, n] : [code, px, 0, 1, ps, 0, 0, po, 1, n],
  });
}

/** SIMD `out[i] = alpha·x[i] + beta·y[i]` (float32 arithmetic); `out` may alias `x` or `y`. */
export function axpbyWasm(
  x: Float32Array,
  alpha: number,
  y: Float32Array,
  beta: number,
  out: Float32Array,
): void {
  streamRows({
    fn: "ewAxpby",
    rows: x.length,
    ins: [{ a: x, w: 1 }, { a: y, w: 1 }],
    outs: [{ a: out, w: 1 }],
    minSplit: PARALLEL_MIN,
    args: ([px, py], [po], _f, _r0, n) => [px, alpha, py, beta, po, n],
  });
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
 * to float32), `y = (x·rstd)·w` (`w` `[d]`, or no scale when null). SIMD, streamed by rows, split
 * over threads by rows when large.
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
  streamRows({
    fn: "ewRmsNorm",
    rows,
    ins: [{ a: x, w: d }],
    outs: [{ a: y, w: d }, { a: rstd, w: 1 }],
    fixed: w ? [w.subarray(0, d)] : [],
    minSplit: PARALLEL_MIN_HEAVY,
    args: ([px], [py, pr], pf, _r0, k) => [px, w ? pf[0] : px, py, pr, k, d, eps, w ? 1 : 0],
  });
}

/**
 * RMSNorm backward (see {@link rmsNormKernel}): with `n = x·rstd`, `gn = g·w`,
 * `gx = rstd·(gn − n·mean(gn·n))`; `gw = Σ_rows g·n` (float64 accumulation in row order) into `gw`
 * when both `w` and `gw` are given. Split over threads when large: `gx` by rows, then `gw` by
 * columns over each round's rows (ewRmsNormGradW: the same products and sums as the one-pass kernel).
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
  const withW = w !== null, accW = withW && gw !== null;
  if (gw) gw.fill(0);
  if (rows === 0 || d === 0) return;
  const accFloats = 2 * (Math.ceil(d / 4) * 4); // float64 [d] padded to whole vectors
  streamRows({
    fn: "ewRmsNormGrad",
    rows,
    ins: [{ a: g, w: d }, { a: x, w: d }, { a: rstd, w: 1 }],
    outs: [{ a: gx, w: d }],
    fixed: [withW ? w.subarray(0, d) : new Float32Array(0), accFloats * 4],
    minSplit: PARALLEL_MIN_HEAVY,
    args: ([pg, px, pr], [po], [pw, pacc], _r0, k, split) => [
      pg,
      px,
      withW ? pw : pg,
      pr,
      po,
      pacc,
      k,
      d,
      (withW ? 1 : 0) | (accW && !split ? 2 : 0),
    ],
    round: ([pg, px, pr], [, pacc], _r0, k, split) => {
      if (!accW || !split) return;
      const ranges = rangeSlices(d, 4, getNumThreads());
      parallelCall(
        "ewRmsNormGradW",
        ranges.map(([c0, c1]) => [pg + 4 * c0, px + 4 * c0, pr, pacc + 8 * c0, k, c1 - c0, d]),
      );
    },
    done: ([, pacc]) => {
      if (!accW) return;
      const acc = new Float64Array(memory.buffer, pacc, d);
      for (let j = 0; j < d; j++) gw![j] = acc[j];
    },
  });
}

/** SwiGLU forward `y = silu(a)·b` elementwise (SIMD, split over threads when large). */
export function swigluKernel(a: Float32Array, b: Float32Array, y: Float32Array): void {
  streamRows({
    fn: "ewSwiglu",
    rows: a.length,
    ins: [{ a, w: 1 }, { a: b, w: 1 }],
    outs: [{ a: y, w: 1 }],
    minSplit: PARALLEL_MIN_HEAVY,
    args: ([pa, pb], [py], _f, _r0, n) => [pa, pb, py, n],
  });
}

/** SwiGLU backward: `ga = g·b·silu'(a)`, `gb = g·silu(a)` (SIMD, split over threads when large). */
export function swigluGradKernel(
  a: Float32Array,
  b: Float32Array,
  g: Float32Array,
  ga: Float32Array,
  gb: Float32Array,
): void {
  streamRows({
    fn: "ewSwigluGrad",
    rows: a.length,
    ins: [{ a, w: 1 }, { a: b, w: 1 }, { a: g, w: 1 }],
    outs: [{ a: ga, w: 1 }, { a: gb, w: 1 }],
    minSplit: PARALLEL_MIN_HEAVY,
    args: ([pa, pb, pg], [pga, pgb], _f, _r0, n) => [pa, pb, pg, pga, pgb, n],
  });
}

/**
 * Rotary embedding with cos / signed-sin tables (`[T, D]`, or `[B, T, D]` when `perBatch`):
 * forward `y = x·cos + swapHalves(x)·sin`; `inverse` applies the transposed rotation
 * `g·cos + swapHalves(g·sin)` (the gradient). Same float32 operations as the composed form. The
 * tables are staged once; rows (of one head in `BHTD`, of every head of a token in `BTHD`) stream
 * and split over threads when large.
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
  const tableLen = (perBatch ? batch : 1) * seq * dim;
  const bhtd = layout === "BHTD";
  const w = bhtd ? dim : heads * dim;
  // row r: BHTD (b, h, t) with seq·heads rows per batch item; BTHD (b, t) with seq per item
  const perItem = bhtd ? heads * seq : seq;
  streamRows({
    fn: "ewRotary",
    rows: x.length / w,
    ins: [{ a: x, w }],
    outs: [{ a: out, w }],
    fixed: [cos.subarray(0, tableLen), sin.subarray(0, tableLen)],
    block: seq,
    minSplit: PARALLEL_MIN,
    args: ([px], [po], [pc, ps], r0, k) => {
      const t = (perBatch ? Math.floor(r0 / perItem) * seq : 0) + (r0 % seq);
      const at = t * dim * 4;
      return bhtd
        ? [px, pc + at, ps + at, po, k, dim, 1, inv]
        : [px, pc + at, ps + at, po, k * heads, dim, heads, inv];
    },
  });
}

/**
 * One fused Adam/AdamW update in place over `p`, `m`, `v` (and `vmax` for AMSGrad), reading `g`
 * (PyTorch's single-tensor algorithm, float32 arithmetic; see wasm/elementwise.ts `ewAdamStep`).
 * Split over threads when large.
 */
export function adamStepKernel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vmax: Float32Array | null,
  c: AdamStepParams,
): void {
  const bc1 = 1 - c.beta1 ** c.step, bc2 = 1 - c.beta2 ** c.step;
  const decoupled = c.decoupled || c.weightDecay === 0;
  const flags = (decoupled ? 1 : 0) | (c.maximize ? 2 : 0) | (vmax ? 4 : 0);
  const ins: RowOperand[] = [{ a: p, w: 1 }, { a: g, w: 1 }, { a: m, w: 1 }, { a: v, w: 1 }];
  if (vmax) ins.push({ a: vmax, w: 1 });
  streamRows({
    fn: "ewAdamStep",
    rows: p.length,
    ins,
    outs: [{ a: p, w: 1, from: 0 }, { a: m, w: 1, from: 2 }, { a: v, w: 1, from: 3 }].concat(
      vmax ? [{ a: vmax, w: 1, from: 4 }] : [],
    ),
    minSplit: PARALLEL_MIN,
    args: ([pp, pg, pm, pv, px], _o, _f, _r0, n) => [
      pp,
      pg,
      pm,
      pv,
      px ?? 0,
      n,
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
    ],
  });
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
