/**
 * Stride planning shared by every backend executor (wasm loops and WGSL shaders run the same plan).
 *
 * @module
 */

/**
 * Merges adjacent dimensions that are contiguous for every stride list (and drops size-1
 * dimensions), so strided loops run over as few, as long, dimensions as possible.
 */
export function collapseDims(
  shape: readonly number[],
  strideLists: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strideLists.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const last = outShape.length - 1;
    let merge = last >= 0;
    if (merge) {
      for (let s = 0; s < strideLists.length; s++) {
        if (outStrides[s][last] !== strideLists[s][d] * n) {
          merge = false;
          break;
        }
      }
    }
    if (merge) {
      outShape[last] *= n;
      for (let s = 0; s < strideLists.length; s++) outStrides[s][last] = strideLists[s][d];
    } else {
      outShape.push(n);
      for (let s = 0; s < strideLists.length; s++) outStrides[s].push(strideLists[s][d]);
    }
  }
  return { shape: outShape, strides: outStrides };
}
