/**
 * `Parameter`: a Tensor that a {@link Module} registers as a learnable weight (PyTorch
 * `torch.nn.Parameter`).
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";

/**
 * A leaf tensor marked as a module parameter: assigning one to a property of a {@link Module} makes it
 * appear in `namedParameters()` and `stateDict()`. It shares storage with the tensor it wraps (as
 * `torch.nn.Parameter(t)` does), requires grad by default, and is exempt from any enclosing `tidy`
 * (parameters live as long as their module). float32, any shape (or a frozen bfloat16 / float16 weight,
 * which cannot require grad: pass `requiresGrad` false).
 *
 * @example
 * ```ts
 * import { nn, ones, type Tensor } from "@c3a/c3a";
 *
 * class Scale extends nn.Module {
 *   gain = new Parameter(ones([4]));
 *   override forward(x: Tensor): Tensor { return x.mul(this.gain); }
 * }
 * ```
 */
export class Parameter extends Tensor {
  /**
   * Creates a Parameter.
   *
   * @param data the values (its storage is shared, not copied; use `data.clone()` for a copy).
   * @param requiresGrad whether the optimizer should train it (default true).
   */
  constructor(data: Tensor, requiresGrad = true) {
    super(data.storage, data.shape);
    this.requiresGrad = requiresGrad;
    keep(this);
  }
}
