/**
 * Reduction kernel of the wasm backend: sum / max / min over any set of axes, output in kept-dims
 * layout. Sums accumulate in float64.
 *
 * @module
 */

import type { ReduceOp } from "../backend.ts";
import { collapseDims } from "./elementwise.ts";

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
