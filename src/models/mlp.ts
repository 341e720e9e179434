/**
 * `MLP`: the two-layer classifier of PEFT's custom-model tests (`tests/test_custom_models.py`,
 * class `MLP`), with configurable sizes. Module names `lin0`, `relu`, `drop`, `lin1`, `sm` match the
 * Python model, so `model.safetensors` files and C3A adapters targeting `lin0`/`lin1` interchange.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Dropout, LogSoftmax, ReLU } from "../nn/activation.ts";

/** Sizes and options of {@link MLP}; the defaults are PEFT's test model (10 → 20 → 2). */
export interface MLPOptions {
  /** Input features (default 10). */
  inFeatures?: number;
  /** Hidden features (default 20). */
  hiddenFeatures?: number;
  /** Output classes (default 2). */
  outFeatures?: number;
  /** Biases on both Linear layers (default true). */
  bias?: boolean;
  /** Dropout probability between `relu` and `lin1`, active only in training mode (default 0.5). */
  dropout?: number;
}

/**
 * `y = log_softmax(lin1(dropout(relu(lin0(x)))), -1)`: x `[..., inFeatures]` → log-probabilities
 * `[..., outFeatures]` (float32). Parameters `lin0.weight [hidden, in]`, `lin0.bias [hidden]`,
 * `lin1.weight [out, hidden]`, `lin1.bias [out]`, initialised like `torch.nn.Linear`. Dropout is the
 * identity after `eval()`.
 *
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const mlp = new MLP().eval();
 * // PyTorch/PEFT weights: mlp.loadStateDict((await loadSafetensors("model.safetensors")).tensors);
 * const logp = mlp.forward(randn([3, 10])); // [3, 2]
 * ```
 */
export class MLP extends Module {
  /** First layer `[hidden, in]`. */
  lin0: Linear;
  /** ReLU. */
  relu: ReLU;
  /** Dropout (training only). */
  drop: Dropout;
  /** Output layer `[out, hidden]`. */
  lin1: Linear;
  /** Log-softmax over the last axis. */
  sm: LogSoftmax;

  /**
   * Creates the model with PyTorch's default Linear initialisation.
   *
   * @throws {RangeError} for invalid sizes or dropout probability.
   */
  constructor(opts: MLPOptions = {}) {
    super();
    const bias = opts.bias ?? true;
    const hidden = opts.hiddenFeatures ?? 20;
    this.lin0 = new Linear(opts.inFeatures ?? 10, hidden, { bias });
    this.relu = new ReLU();
    this.drop = new Dropout(opts.dropout ?? 0.5);
    this.lin1 = new Linear(hidden, opts.outFeatures ?? 2, { bias });
    this.sm = new LogSoftmax(-1);
  }

  /**
   * Log-probabilities of each class.
   *
   * @param x `[..., inFeatures]`.
   * @returns `[..., outFeatures]`.
   * @throws {RangeError} when the last dimension of x is not `inFeatures`.
   */
  override forward(x: Tensor): Tensor {
    return this.sm.forward(this.lin1.forward(this.drop.forward(this.relu.forward(this.lin0.forward(x)))));
  }
}
