/**
 * Reduction kernel of the wasm backend: sum / max / min over any set of axes, output in kept-dims
 * layout. Sums accumulate in float64. Sums over trailing axes (rows of a contiguous `[rows, cols]`
 * view, e.g. `sum(x, -1)`, or everything) run in the SIMD kernel `ewSumRows` of the wasm module, sums
 * over leading axes (`[rows, cols]` → `[cols]`, bias gradients) in `ewSumColsAcc`, both split over
 * threads when large (by output element: every sum keeps its single-thread order); other reductions
 * use plain-JS loops.
 *
 * @module
 */

import type { ReduceOp } from "../backend.ts";
import { collapseDims } from "../strides.ts";
import { useWasm } from "./elementwise.ts";
import { PARALLEL_MIN, STAGE_CHUNK, streamRows } from "./stream.ts";
import { memory } from "./memory.ts";
import { getNumThreads, parallelCall, rangeSlices } from "../threads/pool.ts";

/**
 * SIMD row sums: `out[r] = Σ_j x[r·cols + j]` for r < rows (float64 accumulation, rounded once).
 * Rows longer than {@link STAGE_CHUNK} are summed in segments of that length whose float64 sums are
 * added in order. Rows (or a long row's segments) split over threads when large.
 */
export function sumRowsWasm(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  if (rows === 0) return;
  if (cols === 0) {
    out.fill(0, 0, rows);
    return;
  }
  const sumRows = (off: number, n: number, w: number, sums: Float64Array) =>
    streamRows({
      fn: "ewSumRows",
      rows: n,
      ins: [{ a: x, w, off }],
      outs: [{ a: sums, w: 1 }],
      minSplit: PARALLEL_MIN,
      args: ([px], [po], _f, _r0, k) => [px, po, k, w],
    });
  if (cols <= STAGE_CHUNK) {
    const sums = new Float64Array(rows);
    sumRows(0, rows, cols, sums);
    out.set(sums);
    return;
  }
  const full = Math.floor(cols / STAGE_CHUNK), tail = cols - full * STAGE_CHUNK;
  const parts = new Float64Array(full + 1);
  for (let r = 0; r < rows; r++) {
    sumRows(r * cols, full, STAGE_CHUNK, parts);
    if (tail > 0) sumRows(r * cols + full * STAGE_CHUNK, 1, tail, parts.subarray(full));
    let s = 0;
    for (let i = 0; i < full; i++) s += parts[i];
    if (tail > 0) s += parts[full];
    out[r] = s;
  }
}

/**
 * SIMD column sums: `out[j] = Σ_r x[r·cols + j]` for j < cols, accumulated in float64 in row order
 * (the same sums as the plain-JS loop). Large inputs split over threads by columns (each column is
 * summed by one thread, over every row, in order).
 */
export function sumColsWasm(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  if (cols === 0) return;
  if (rows === 0) {
    out.fill(0, 0, cols);
    return;
  }
  const accFloats = 2 * (Math.ceil(cols / 4) * 4); // float64 [cols] padded to whole vectors
  streamRows({
    rows,
    ins: [{ a: x, w: cols }],
    outs: [],
    fixed: [accFloats * 4],
    minSplit: PARALLEL_MIN,
    args: () => [],
    round: ([px], [pacc], _r0, k, split) => {
      const ranges = split ? rangeSlices(cols, 4, getNumThreads()) : [[0, cols]];
      parallelCall("ewSumColsAcc", ranges.map(([c0, c1]) => [px + 4 * c0, pacc + 8 * c0, k, c1 - c0, cols]));
    },
    done: ([pacc]) => out.set(new Float64Array(memory.buffer, pacc, cols)),
  });
}

/**
 * Reduces `x` (shape `shape`) over the sorted axis list `axes` into `out` (kept-dims shape,
 * row-major). Empty reductions give 0 (sum) or ∓Infinity (max/min).
 */
export function reduceKernel(
  op: ReduceOp,
  x: Float32Array,
  shape: readonly number[],
  axes: readonly number[],
  out: Float32Array,
): void {
  const nd = shape.length;
  const init = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
  const acc = op === "sum" ? new Float64Array(out.length) : null;
  if (acc === null) out.fill(init);
  if (x.length === 0) {
    out.fill(init);
    return;
  }
  // output strides in the input's index space (0 along reduced axes)
  const reduced = new Array<boolean>(nd).fill(false);
  for (const a of axes) reduced[a] = true;
  const oStr = new Array<number>(nd);
  const xStr = new Array<number>(nd);
  let accO = 1, accX = 1;
  for (let d = nd - 1; d >= 0; d--) {
    xStr[d] = accX;
    accX *= shape[d];
    if (reduced[d]) oStr[d] = 0;
    else {
      oStr[d] = accO;
      accO *= shape[d];
    }
  }
  const c = collapseDims(shape, [xStr, oStr]);
  const cnd = c.shape.length;
  if (
    op === "sum" && useWasm(x.length, true) &&
    cnd >= 1 && cnd <= 2 && c.strides[1][cnd - 1] === 0 && (cnd === 1 || c.strides[1][0] === 1)
  ) {
    // trailing-axes sum: [rows, cols] -> [rows]
    sumRowsWasm(x, out, cnd === 1 ? 1 : c.shape[0], c.shape[cnd - 1]);
    return;
  }
  if (op === "sum" && useWasm(x.length) && cnd === 2 && c.strides[1][0] === 0 && c.strides[1][1] === 1) {
    // leading-axes sum: [rows, cols] -> [cols]
    sumColsWasm(x, out, c.shape[0], c.shape[1]);
    return;
  }
  const so = c.strides[1];
  const inner = cnd === 0 ? 1 : c.shape[cnd - 1];
  const io = cnd === 0 ? 0 : so[cnd - 1];
  const idx = new Array<number>(Math.max(cnd - 1, 0)).fill(0);
  const total = x.length;
  let po = 0;
  for (let px = 0; px < total; px += inner) {
    const end = px + inner;
    if (acc !== null) {
      if (io === 0) {
        let s = 0;
        for (let i = px; i < end; i++) s += x[i];
        acc[po] += s;
      } else {
        for (let i = px, o = po; i < end; i++, o++) acc[o] += x[i];
      }
    } else if (op === "max") {
      if (io === 0) {
        let m = out[po];
        for (let i = px; i < end; i++) {
          const v = x[i];
          if (v > m || v !== v) m = v;
        }
        out[po] = m;
      } else {
        for (let i = px, o = po; i < end; i++, o++) {
          const v = x[i];
          if (v > out[o] || v !== v) out[o] = v;
        }
      }
    } else {
      if (io === 0) {
        let m = out[po];
        for (let i = px; i < end; i++) {
          const v = x[i];
          if (v < m || v !== v) m = v;
        }
        out[po] = m;
      } else {
        for (let i = px, o = po; i < end; i++, o++) {
          const v = x[i];
          if (v < out[o] || v !== v) out[o] = v;
        }
      }
    }
    for (let d = cnd - 2; d >= 0; d--) {
      idx[d]++;
      po += so[d];
      if (idx[d] < c.shape[d]) break;
      po -= so[d] * c.shape[d];
      idx[d] = 0;
    }
  }
  if (acc !== null) out.set(acc);
}
