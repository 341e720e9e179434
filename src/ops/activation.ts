/**
 * Activation functions with autograd: tanh, sigmoid, relu, gelu (exact erf by default, tanh
 * approximation on request), silu. Each runs one backend `unary` kernel forward and one `unaryGrad`
 * kernel backward (first-order gradients).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { unaryOp } from "./elementwise.ts";

/** Hyperbolic tangent, elementwise. Mirrors `torch.tanh`. */
export function tanh(x: Tensor): Tensor {
  return unaryOp("tanh", x);
}

/** Logistic sigmoid `1/(1+e^−x)`, elementwise, overflow-safe. Mirrors `torch.sigmoid`. */
export function sigmoid(x: Tensor): Tensor {
  return unaryOp("sigmoid", x);
}

/** `max(x, 0)` elementwise (gradient 0 at 0, as in PyTorch). Mirrors `torch.relu`. */
export function relu(x: Tensor): Tensor {
  return unaryOp("relu", x);
}

/** Options of {@link gelu}. */
export interface GeluOptions {
  /**
   * "none" (default, PyTorch's default): exact `x·Φ(x)` with the erf form of Φ (erf accurate to
   * 1.2e-7 absolute). "tanh": `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, as `gelu_pytorch_tanh`.
   */
  approximate?: "none" | "tanh";
}

/**
 * Gaussian error linear unit, elementwise. Mirrors `torch.nn.functional.gelu(x, approximate=...)`.
 *
 * @throws {RangeError} for an unknown `approximate` value.
 */
export function gelu(x: Tensor, opts: GeluOptions = {}): Tensor {
  const a = opts.approximate ?? "none";
  if (a !== "none" && a !== "tanh") {
    throw new RangeError(`gelu: approximate must be "none" or "tanh", got "${a as string}"`);
  }
  return unaryOp(a === "tanh" ? "geluTanh" : "gelu", x);
}

/** SiLU / swish `x·σ(x)`, elementwise. Mirrors `torch.nn.functional.silu`. */
export function silu(x: Tensor): Tensor {
  return unaryOp("silu", x);
}
