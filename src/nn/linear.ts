/**
 * `Linear`: the affine layer `y = x·Wᵀ + b` (PyTorch `torch.nn.Linear`).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { zeros } from "../tensor/creation.ts";
import { type Generator, kaimingUniform_, uniform_ } from "../tensor/random.ts";
import { linear } from "../ops/matmul.ts";
import { Module } from "./module.ts";
import { Parameter } from "./parameter.ts";

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Random source for the initialisation (default the global generator). */
  generator?: Generator;
}

function checkFeatures(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Linear: ${what} must be an integer >= 0, got ${n}`);
  }
}

/**
 * Fully connected layer `y = x · weightᵀ + bias`: x `[..., inFeatures]` → `[..., outFeatures]`,
 * float32. Parameters: `weight` `[outFeatures, inFeatures]`, `bias` `[outFeatures]` (or null).
 * Initialisation as PyTorch's `reset_parameters`: `kaiming_uniform_(weight, a=√5)`, i.e.
 * U(−1/√in, 1/√in), and bias U(−1/√in, 1/√in). Mirrors `torch.nn.Linear` (same parameter names, so
 * state dicts and safetensors files interchange).
 *
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const lin = new Linear(10, 20);
 * const y = lin.forward(randn([3, 10])); // [3, 20]
 * ```
 */
export class Linear extends Module {
  /** Input size. */
  readonly inFeatures: number;
  /** Output size. */
  readonly outFeatures: number;
  /** `[outFeatures, inFeatures]`. */
  weight: Parameter;
  /** `[outFeatures]`, or null without bias. */
  bias: Parameter | null;

  /**
   * Creates a Linear.
   *
   * @throws {RangeError} when a feature count is not a non-negative integer.
   */
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    checkFeatures(inFeatures, "inFeatures");
    checkFeatures(outFeatures, "outFeatures");
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = new Parameter(zeros([outFeatures, inFeatures]));
    this.bias = opts.bias ?? true ? new Parameter(zeros([outFeatures])) : null;
    this.resetParameters(opts.generator);
  }

  /** Re-draws the parameters with PyTorch's default initialisation (see the class doc). */
  resetParameters(generator?: Generator): void {
    if (this.inFeatures > 0 && this.outFeatures > 0) {
      kaimingUniform_(this.weight, { a: Math.sqrt(5), generator });
    }
    if (this.bias && this.inFeatures > 0) {
      const bound = 1 / Math.sqrt(this.inFeatures);
      uniform_(this.bias, -bound, bound, { generator });
    }
  }

  /**
   * Applies the module to its input.
   *
   * @param x `[..., inFeatures]`.
   * @returns `[..., outFeatures]`.
   * @throws {RangeError} when the last dimension of x is not `inFeatures`.
   */
  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** `in_features=…, out_features=…, bias=…` as in PyTorch. */
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
