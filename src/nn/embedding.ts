/**
 * `Embedding`: a lookup table of learnable vectors (PyTorch `torch.nn.Embedding`).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { zeros } from "../tensor/creation.ts";
import { type Generator, normal_ } from "../tensor/random.ts";
import type { IndexLike } from "../ops/indexing.ts";
import { embedding } from "../ops/nn.ts";
import { Module } from "./module.ts";
import { Parameter } from "./parameter.ts";

/** Options of {@link Embedding}. */
export interface EmbeddingModuleOptions {
  /** Row that receives no gradient and is initialised to zeros (PyTorch `padding_idx`). */
  paddingIdx?: number;
  /** Random source for the N(0, 1) initialisation. */
  generator?: Generator;
}

/**
 * Token embedding table: `weight` `[numEmbeddings, embeddingDim]`, initialised N(0, 1) (PyTorch's
 * default) with the `paddingIdx` row zeroed. `forward(ids)` maps integer ids of any shape S to
 * `[...S, embeddingDim]`. Mirrors `torch.nn.Embedding`.
 *
 * @example
 * ```ts
 * import { tensor } from "@c3a/c3a";
 *
 * const emb = new Embedding(16, 32);
 * const h = emb.forward(tensor([[1, 2, 3]])); // [1, 3, 32]
 * ```
 */
export class Embedding extends Module {
  /** Number of rows (vocabulary size). */
  readonly numEmbeddings: number;
  /** Vector size. */
  readonly embeddingDim: number;
  /** Row without gradient, or undefined. */
  readonly paddingIdx: number | undefined;
  /** `[numEmbeddings, embeddingDim]`. */
  weight: Parameter;

  /**
   * Creates a Embedding.
   *
   * @throws {RangeError} for sizes that are not non-negative integers or a `paddingIdx` out of range.
   */
  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingModuleOptions = {}) {
    super();
    for (const [n, v] of [["numEmbeddings", numEmbeddings], ["embeddingDim", embeddingDim]] as const) {
      if (!Number.isInteger(v) || v < 0) {
        throw new RangeError(`Embedding: ${n} must be an integer >= 0, got ${v}`);
      }
    }
    let pad = opts.paddingIdx;
    if (pad !== undefined) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
        throw new RangeError(
          `Embedding: paddingIdx must be in [${-numEmbeddings}, ${numEmbeddings}), got ${pad}`,
        );
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = pad;
    this.weight = new Parameter(zeros([numEmbeddings, embeddingDim]));
    normal_(this.weight, 0, 1, { generator: opts.generator });
    if (pad !== undefined) this.#zeroPad();
  }

  #zeroPad(): void {
    const p = this.paddingIdx!;
    const b = this.weight.backend;
    const z = b.full(this.embeddingDim, 0);
    b.copyStrided(z, 0, [1], this.weight.storage, p * this.embeddingDim, [1], [this.embeddingDim]);
    b.dispose(z);
  }

  /**
   * Applies the module to its input.
   *
   * @param ids integer ids (Int32Array, number[] or a float Tensor of integers), any shape.
   * @param shape shape of `ids` when it is not a Tensor (default `[ids.length]`).
   * @returns `[...shape, embeddingDim]`.
   * @throws {RangeError} for ids outside `[0, numEmbeddings)`.
   */
  override forward(ids: IndexLike, shape?: readonly number[]): Tensor {
    return embedding(ids, this.weight, { shape, paddingIdx: this.paddingIdx });
  }

  /** PyTorch-style summary. */
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${
      this.paddingIdx !== undefined ? `, padding_idx=${this.paddingIdx}` : ""
    }`;
  }
}
