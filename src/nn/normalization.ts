/**
 * Normalisation layers: `RMSNorm` (Hugging Face `LlamaRMSNorm` / PyTorch `nn.RMSNorm`) and
 * `LayerNorm` (PyTorch `nn.LayerNorm`), both over the last dimension.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { ones, zeros } from "../tensor/creation.ts";
import { layerNorm, rmsNorm } from "../ops/nn.ts";
import { Module } from "./module.ts";
import { Parameter } from "./parameter.ts";

function checkDim(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${what}: normalized size must be an integer >= 1, got ${n}`);
  }
}

/** Options of {@link RMSNorm}. */
export interface RMSNormOptions {
  /** Added to the mean square (default 1e-6, Hugging Face Llama's `rms_norm_eps` default). */
  eps?: number;
  /** Learn a per-feature scale `weight` `[size]`, initialised to ones (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Root-mean-square norm over the last dimension: `y = x / sqrt(mean(x², -1) + eps) · weight`, x
 * `[..., size]` → same shape. Parameter `weight` `[size]` (ones). Matches Hugging Face
 * `LlamaRMSNorm(hidden_size, eps)` (parameter name `weight`).
 *
 * @example
 * ```ts
 * const norm = new RMSNorm(32, { eps: 1e-6 });
 * ```
 */
export class RMSNorm extends Module {
  /** Normalised (last) dimension. */
  readonly normalizedShape: number;
  /** Epsilon added to the mean square. */
  readonly eps: number;
  /** `[size]` or null. */
  weight: Parameter | null;

  /**
   * Creates a RMSNorm.
   *
   * @throws {RangeError} when `size` is not a positive integer or eps is negative.
   */
  constructor(size: number, opts: RMSNormOptions = {}) {
    super();
    checkDim(size, "RMSNorm");
    const eps = opts.eps ?? 1e-6;
    if (!(eps >= 0)) throw new RangeError(`RMSNorm: eps must be >= 0, got ${eps}`);
    this.normalizedShape = size;
    this.eps = eps;
    this.weight = opts.elementwiseAffine ?? true ? new Parameter(ones([size])) : null;
  }

  /**
   * Applies the module to its input.
   *
   * @param x `[..., size]`.
   * @throws {RangeError} when the last dimension is not `size`.
   */
  override forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }

  /** PyTorch-style summary. */
  override extraRepr(): string {
    return `(${this.normalizedShape},), eps=${this.eps}`;
  }
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5, PyTorch's default). */
  eps?: number;
  /** Learn `weight` (ones) and, unless `bias` is false, `bias` (zeros). Default true. */
  elementwiseAffine?: boolean;
  /** Learn `bias` when affine (default true). */
  bias?: boolean;
}

/**
 * Layer normalisation over the last dimension: `y = (x − mean) / sqrt(var + eps) · weight + bias`
 * (biased variance), x `[..., size]` → same shape. Parameters `weight` `[size]` (ones), `bias`
 * `[size]` (zeros). Mirrors `torch.nn.LayerNorm(size)` for a single normalised dimension.
 */
export class LayerNorm extends Module {
  /** Normalised (last) dimension. */
  readonly normalizedShape: number;
  /** Epsilon added to the variance. */
  readonly eps: number;
  /** `[size]` or null. */
  weight: Parameter | null;
  /** `[size]` or null. */
  bias: Parameter | null;

  /**
   * Creates a LayerNorm.
   *
   * @throws {RangeError} when `size` is not a positive integer or eps is negative.
   */
  constructor(size: number, opts: LayerNormOptions = {}) {
    super();
    checkDim(size, "LayerNorm");
    const eps = opts.eps ?? 1e-5;
    if (!(eps >= 0)) throw new RangeError(`LayerNorm: eps must be >= 0, got ${eps}`);
    this.normalizedShape = size;
    this.eps = eps;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(ones([size])) : null;
    this.bias = affine && (opts.bias ?? true) ? new Parameter(zeros([size])) : null;
  }

  /**
   * Applies the module to its input.
   *
   * @param x `[..., size]`.
   * @throws {RangeError} when the last dimension is not `size`.
   */
  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }

  /** PyTorch-style summary. */
  override extraRepr(): string {
    return `(${this.normalizedShape},), eps=${this.eps}, elementwise_affine=${this.weight !== null}`;
  }
}
