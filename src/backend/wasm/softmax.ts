/**
 * Softmax / log-softmax kernels of the wasm backend over the middle axis of `[outer, dim, inner]`.
 * Rows over the last axis (`inner` = 1, the attention and loss case) run in the SIMD kernels of the
 * wasm module (wasm/elementwise.ts `ewSoftmaxRows`, normaliser summed in float64), streamed through
 * wasm memory in whole rows and split over threads by rows when large (./stream.ts); other layouts
 * use the plain-JS loops. The fused causal kernels (`causalSoftmax`, `causalSoftmaxGrad` of the kernel
 * table) always run in wasm (`ewCausalSoftmaxRows` / `ewCausalSoftmaxGradRows`), split by rows.
 *
 * @module
 */

import { useWasm } from "./elementwise.ts";
import { wasm } from "./memory.ts";
import { PARALLEL_MIN, PARALLEL_MIN_HEAVY, streamRows } from "./stream.ts";
import { getNumThreads, parallelCall, rangeSlices, splitThreshold } from "../threads/pool.ts";

let row = new Float64Array(256);

function useRows(inner: number, n: number, heavy: boolean): boolean {
  return inner === 1 && useWasm(n, heavy);
}

/** Numerically stable softmax (or log-softmax) of `x` into `out` (distinct arrays). */
export function softmaxKernel(
  x: Float32Array,
  out: Float32Array,
  outer: number,
  dim: number,
  inner: number,
  log: boolean,
): void {
  if (useRows(inner, x.length, true)) {
    streamRows({
      fn: "ewSoftmaxRows",
      rows: outer,
      ins: [{ a: x, w: dim }],
      outs: [{ a: out, w: dim }],
      minSplit: PARALLEL_MIN_HEAVY,
      args: ([px], [po], _f, _r0, rows) => [px, po, rows, dim, log ? 1 : 0],
    });
  } else softmaxJs(x, out, outer, dim, inner, log);
}

/** Gradient of {@link softmaxKernel} from its output `y` and upstream gradient `g`. */
export function softmaxGradKernel(
  y: Float32Array,
  g: Float32Array,
  out: Float32Array,
  outer: number,
  dim: number,
  inner: number,
  log: boolean,
): void {
  if (useRows(inner, y.length, log)) {
    streamRows({
      fn: "ewSoftmaxGradRows",
      rows: outer,
      ins: [{ a: y, w: dim }, { a: g, w: dim }],
      outs: [{ a: out, w: dim }],
      minSplit: log ? PARALLEL_MIN_HEAVY : PARALLEL_MIN,
      args: ([py, pg], [po], _f, _r0, rows) => [py, pg, po, rows, dim, log ? 1 : 0],
    });
  } else softmaxGradJs(y, g, out, outer, dim, inner, log);
}

/**
 * Shape and parameters of the causal softmax kernels: `[rows, cols]` rows stacked in blocks of `period`
 * query positions, `offset` keys before the first, scores times `scale` (the kernel table's attributes
 * of `causalSoftmax`).
 */
export interface CausalRows {
  /** Rows (queries of every head). */
  rows: number;
  /** Columns (keys). */
  cols: number;
  /** Multiplies the scores (forward) and the gradient. */
  scale: number;
  /** Query positions per stacked block: row i is position `i mod period`. */
  period: number;
  /** Keys before the first query: row i sees keys `0 … min((i mod period) + offset, cols − 1)`. */
  offset: number;
}

/**
 * Causal softmax of `scale·x` over the rows of `x` `[rows, cols]` into `out` (distinct arrays): row i
 * over its first `min((i mod period) + offset, cols − 1) + 1` entries, zeros beyond (entries of x there
 * are never used). Kernel `causalSoftmax` (src/backend/kernels.ts).
 */
export function causalSoftmaxKernel(x: Float32Array, out: Float32Array, a: CausalRows): void {
  causalRows("ewCausalSoftmaxRows", [x], out, a, PARALLEL_MIN_HEAVY);
}

/**
 * Gradient of {@link causalSoftmaxKernel} from its output `y` and upstream `g`:
 * `out = scale·y·(g − Σ g·y)` over each row's visible entries, zeros beyond (g there never used).
 */
export function causalSoftmaxGradKernel(
  y: Float32Array,
  g: Float32Array,
  out: Float32Array,
  a: CausalRows,
): void {
  causalRows("ewCausalSoftmaxGradRows", [y, g], out, a, PARALLEL_MIN);
}

type CausalFn = "ewCausalSoftmaxRows" | "ewCausalSoftmaxGradRows";

/** The wasm kernel's arguments for rows r0 .. r0 + k − 1 (operands at the given byte offsets). */
function causalArgs(ins: readonly number[], po: number, r0: number, k: number, a: CausalRows): number[] {
  // rows past cols are full: the offset clamped there keeps p + offset in i32
  return [...ins, po, k, a.cols, a.scale, r0 % a.period, a.period, Math.min(a.offset, a.cols)];
}

/** The causal row kernel `fn` over the JS arrays `ins` into `out`, streamed through wasm memory. */
function causalRows(
  fn: CausalFn,
  ins: Float32Array[],
  out: Float32Array,
  a: CausalRows,
  minSplit: number,
): void {
  if (a.rows === 0 || a.cols === 0) return;
  streamRows({
    fn,
    rows: a.rows,
    ins: ins.map((x) => ({ a: x, w: a.cols })),
    outs: [{ a: out, w: a.cols }],
    minSplit,
    args: (pIn, [po], _f, r0, k) => causalArgs(pIn, po, r0, k, a),
  });
}

/**
 * {@link causalSoftmaxKernel} on operands in wasm memory: x and out at byte offsets `px` / `po`
 * (`[rows, cols]` float32, distinct, each followed by 4 floats of padding: a row's last vector may
 * spill). Rows are split over threads when large and cols is a multiple of 4 (no row spills into
 * another piece's first row); every row is computed as in one call.
 */
export function causalSoftmaxPtr(px: number, po: number, a: CausalRows): void {
  rowsPtr("ewCausalSoftmaxRows", [px], po, a, PARALLEL_MIN_HEAVY);
}

/** {@link causalSoftmaxGradKernel} on operands in wasm memory (as {@link causalSoftmaxPtr}). */
export function causalSoftmaxGradPtr(py: number, pg: number, po: number, a: CausalRows): void {
  rowsPtr("ewCausalSoftmaxGradRows", [py, pg], po, a, PARALLEL_MIN);
}

function rowsPtr(fn: CausalFn, ins: number[], po: number, a: CausalRows, minSplit: number): void {
  const { rows, cols } = a;
  if (rows === 0 || cols === 0) return;
  const at = (r0: number, r1: number) =>
    causalArgs(ins.map((p) => p + 4 * r0 * cols), po + 4 * r0 * cols, r0, r1 - r0, a);
  const threads = getNumThreads();
  if (threads === 1 || cols % 4 !== 0 || rows * cols < splitThreshold(minSplit)) {
    (wasm[fn] as (...x: number[]) => void)(...at(0, rows));
    return;
  }
  parallelCall(fn, rangeSlices(rows, 1, threads).map(([r0, r1]) => at(r0, r1)));
}

/** Plain-JS softmax (or log-softmax) over the middle axis (float64 normaliser). */
export function softmaxJs(
  x: Float32Array,
  out: Float32Array,
  outer: number,
  dim: number,
  inner: number,
  log: boolean,
): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * dim * inner + i;
      let m = -Infinity;
      for (let d = 0, p = base; d < dim; d++, p += inner) if (x[p] > m) m = x[p];
      if (m === -Infinity) m = 0; // all -inf row: avoid inf - inf
      let s = 0;
      if (log) {
        for (let d = 0, p = base; d < dim; d++, p += inner) s += Math.exp(x[p] - m);
        const lse = m + Math.log(s);
        for (let d = 0, p = base; d < dim; d++, p += inner) out[p] = x[p] - lse;
      } else {
        // one exp per element: keep exp(x - m) in float64 scratch, then normalise
        if (row.length < dim) row = new Float64Array(dim);
        for (let d = 0, p = base; d < dim; d++, p += inner) {
          const e = Math.exp(x[p] - m);
          row[d] = e;
          s += e;
        }
        const inv = 1 / s;
        for (let d = 0, p = base; d < dim; d++, p += inner) out[p] = row[d] * inv;
      }
    }
  }
}

/** Plain-JS gradient of {@link softmaxJs} from its output `y` and upstream gradient `g`. */
export function softmaxGradJs(
  y: Float32Array,
  g: Float32Array,
  out: Float32Array,
  outer: number,
  dim: number,
  inner: number,
  log: boolean,
): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * dim * inner + i;
      let s = 0;
      if (log) {
        for (let d = 0, p = base; d < dim; d++, p += inner) s += g[p];
        for (let d = 0, p = base; d < dim; d++, p += inner) out[p] = g[p] - Math.exp(y[p]) * s;
      } else {
        for (let d = 0, p = base; d < dim; d++, p += inner) s += g[p] * y[p];
        for (let d = 0, p = base; d < dim; d++, p += inner) out[p] = y[p] * (g[p] - s);
      }
    }
  }
}
