/**
 * Strided copy kernel of the wasm backend (transpose, permute, slice, expand, concat). Pure data
 * movement stays in JS (a wasm kernel would add two copies): long contiguous runs use
 * `TypedArray.set`, short runs (head-dimension slices, rotary half swaps) a plain loop, which avoids
 * creating a subarray object per run.
 *
 * @module
 */

/** Contiguous runs shorter than this are copied element by element. */
const SET_MIN_RUN = 128;

import { collapseDims } from "../strides.ts";

/** `dst[dOff + i·dStr] = src[sOff + i·sStr]` for every index `i` of `shape`. */
export function copyStridedKernel(
  src: Float32Array,
  sOff: number,
  sStr: readonly number[],
  dst: Float32Array,
  dOff: number,
  dStr: readonly number[],
  shape: readonly number[],
): void {
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const c = collapseDims(shape, [sStr, dStr]);
  const nd = c.shape.length;
  if (nd === 0) {
    dst[dOff] = src[sOff];
    return;
  }
  const ss = c.strides[0], ds = c.strides[1];
  const inner = c.shape[nd - 1];
  const is = ss[nd - 1], id = ds[nd - 1];
  const idx = new Array<number>(nd - 1).fill(0);
  let ps = sOff, pd = dOff;
  for (let done = 0; done < total; done += inner) {
    if (is === 1 && id === 1) {
      if (inner >= SET_MIN_RUN) dst.set(src.subarray(ps, ps + inner), pd);
      else for (let j = 0; j < inner; j++) dst[pd + j] = src[ps + j];
    } else if (is === 0) {
      const v = src[ps];
      for (let j = 0, q = pd; j < inner; j++, q += id) dst[q] = v;
    } else {
      for (let j = 0, p = ps, q = pd; j < inner; j++, p += is, q += id) dst[q] = src[p];
    }
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      ps += ss[d];
      pd += ds[d];
      if (idx[d] < c.shape[d]) break;
      ps -= ss[d] * c.shape[d];
      pd -= ds[d] * c.shape[d];
      idx[d] = 0;
    }
  }
}
