/**
 * Softmax and log-softmax over one axis, numerically stable (the maximum is subtracted), with
 * autograd.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { Tensor } from "../tensor/tensor.ts";
import { normAxis, sizeOf } from "../tensor/shape.ts";

function softmaxImpl(x: Tensor, axis: number, log: boolean): Tensor {
  const name = log ? "logSoftmax" : "softmax";
  if (x.ndim === 0) return softmaxImpl(x.reshape([1]), 0, log).reshape([]);
  const a = normAxis(axis, x.ndim, x.shape);
  const outer = sizeOf(x.shape.slice(0, a)), dim = x.shape[a], inner = sizeOf(x.shape.slice(a + 1));
  const out = Tensor.fromStorage(x.backend.softmax(x.storage, outer, dim, inner, log), x.shape);
  return recordOp(name, out, [x], (g) => [
    Tensor.fromStorage(x.backend.softmaxGrad(out.storage, g.storage, outer, dim, inner, log), x.shape),
  ]);
}

/**
 * `exp(x − max) / Σ exp(x − max)` along `axis` (default last); same shape as `x`. Rows that are all
 * −Infinity give NaN, as in PyTorch. Mirrors `torch.softmax(x, dim)`.
 *
 * @throws {RangeError} for an out-of-range axis.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, false);
}

/**
 * `x − max − log Σ exp(x − max)` along `axis` (default last); same shape as `x`. Mirrors
 * `torch.log_softmax(x, dim)`.
 *
 * @throws {RangeError} for an out-of-range axis.
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, true);
}
