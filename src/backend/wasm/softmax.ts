/**
 * Softmax / log-softmax kernels of the wasm backend over the middle axis of `[outer, dim, inner]`.
 *
 * @module
 */

let row = new Float64Array(256);

/** Numerically stable softmax (or log-softmax) of `x` into `out` (distinct arrays). */
export function softmaxKernel(
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
