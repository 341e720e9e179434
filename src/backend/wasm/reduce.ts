/**
 * Reduction kernel of the wasm backend: sum / max / min over any set of axes, output in kept-dims
 * layout. Sums accumulate in float64. Sums over trailing axes (rows of a contiguous `[rows, cols]`
 * view, e.g. `sum(x, -1)`, or everything) run in the SIMD kernel `ewSumRows` of the wasm module;
 * other reductions use plain-JS loops.
 *
 * @module
 */

import type { ReduceOp } from "../backend.ts";
import { collapseDims } from "../strides.ts";
import { heapF32, put, STAGE_CHUNK, stageSlots, useWasm } from "./elementwise.ts";
import { memory, wasm } from "./memory.ts";

/**
 * SIMD row sums: `out[r] = Σ_j x[r·cols + j]` for r < rows (float64 accumulation, rounded once).
 */
export function sumRowsWasm(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  if (rows === 0) return;
  if (cols === 0) {
    out.fill(0, 0, rows);
    return;
  }
  const [px, pacc] = stageSlots(3); // pacc spans two slots: up to STAGE_CHUNK float64 sums
  const h = heapF32();
  const h64 = new Float64Array(memory.buffer);
  const a64 = pacc >>> 3;
  if (cols <= STAGE_CHUNK) {
    const k = Math.floor(STAGE_CHUNK / cols);
    for (let r0 = 0; r0 < rows; r0 += k) {
      const kk = Math.min(k, rows - r0);
      put(h, x, r0 * cols, kk * cols, px);
      wasm.ewSumRows(px, pacc, kk, cols);
      for (let i = 0; i < kk; i++) out[r0 + i] = h64[a64 + i];
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c0 = 0; c0 < cols; c0 += STAGE_CHUNK) {
      const len = Math.min(STAGE_CHUNK, cols - c0);
      put(h, x, r * cols + c0, len, px);
      wasm.ewSumRows(px, pacc, 1, len);
      s += h64[a64];
    }
    out[r] = s;
  }
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
