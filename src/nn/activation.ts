/**
 * Parameter-free layers: activations (`ReLU`, `SiLU`, `GELU`, `Tanh`, `Sigmoid`), `Identity`,
 * `Dropout`, `LogSoftmax` / `Softmax` (PyTorch `torch.nn` modules of the same names).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { gelu, type GeluOptions, relu, sigmoid, silu, tanh } from "../ops/activation.ts";
import { logSoftmax, softmax } from "../ops/softmax.ts";
import { dropout } from "../ops/nn.ts";
import type { Generator } from "../tensor/random.ts";
import { Module } from "./module.ts";

/** `max(x, 0)` elementwise, any shape. Mirrors `torch.nn.ReLU`. */
export class ReLU extends Module {
  /**
   * Applies the module to its input.
   *
   * @param x any shape.
   */
  override forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** `x · sigmoid(x)` elementwise (Swish; Llama's `hidden_act="silu"`). Mirrors `torch.nn.SiLU`. */
export class SiLU extends Module {
  /**
   * Applies the module to its input.
   *
   * @param x any shape.
   */
  override forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/** Gaussian error linear unit, exact (erf) or `approximate: "tanh"`. Mirrors `torch.nn.GELU`. */
export class GELU extends Module {
  /** "none" (exact) or "tanh". */
  readonly approximate: "none" | "tanh";
  /**
   * Creates a GELU.
   *
   * @param opts `{approximate}` as `torch.nn.GELU(approximate=...)`.
   */
  constructor(opts: GeluOptions = {}) {
    super();
    this.approximate = opts.approximate ?? "none";
  }
  /**
   * Applies the module to its input.
   *
   * @param x any shape.
   */
  override forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
  /** PyTorch-style summary. */
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** Hyperbolic tangent. Mirrors `torch.nn.Tanh`. */
export class Tanh extends Module {
  /**
   * Applies the module to its input.
   *
   * @param x any shape.
   */
  override forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** Logistic sigmoid. Mirrors `torch.nn.Sigmoid`. */
export class Sigmoid extends Module {
  /**
   * Applies the module to its input.
   *
   * @param x any shape.
   */
  override forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Returns its input. Mirrors `torch.nn.Identity`. */
export class Identity extends Module {
  /**
   * Applies the module to its input.
   *
   * @param x any value; returned unchanged.
   */
  override forward<T>(x: T): T {
    return x;
  }
}

/** `log_softmax` over `dim` (default -1). Mirrors `torch.nn.LogSoftmax`. */
export class LogSoftmax extends Module {
  /** Axis. */
  readonly dim: number;
  /**
   * Creates a LogSoftmax.
   *
   * @param dim axis (negative counts from the end).
   */
  constructor(dim = -1) {
    super();
    this.dim = dim;
  }
  /**
   * Applies the module to its input.
   *
   * @param x any shape; @throws {RangeError} for a bad axis.
   */
  override forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }
}

/** `softmax` over `dim` (default -1). Mirrors `torch.nn.Softmax`. */
export class Softmax extends Module {
  /** Axis. */
  readonly dim: number;
  /**
   * Creates a Softmax.
   *
   * @param dim axis (negative counts from the end).
   */
  constructor(dim = -1) {
    super();
    this.dim = dim;
  }
  /**
   * Applies the module to its input.
   *
   * @param x any shape; @throws {RangeError} for a bad axis.
   */
  override forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
}

/**
 * Inverted dropout with probability `p` while `training`, identity in `eval()` mode. Mirrors
 * `torch.nn.Dropout`.
 */
export class Dropout extends Module {
  /** Drop probability. */
  readonly p: number;
  /** Random source (default the global generator). */
  generator: Generator | undefined;
  /**
   * Creates a Dropout.
   *
   * @throws {RangeError} when p is not in [0, 1].
   */
  constructor(p = 0.5, opts: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
    this.generator = opts.generator;
  }
  /**
   * Applies the module to its input.
   *
   * @param x any shape.
   */
  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, { generator: this.generator });
  }
  /** PyTorch-style summary. */
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
