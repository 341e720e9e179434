/**
 * The key/value cache of incremental decoding (transformers' `DynamicCache`): per layer, the keys and
 * values of every position seen so far, so that a new token's forward computes one position and
 * attends to the stored ones.
 *
 * @module
 */

import { keep } from "../tensor/scope.ts";
import { concat } from "../ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Keys and values per decoder layer, `[B, Hkv, S, D]` each (after the rotary embedding), grown by
 * {@link DynamicCache.update}. Tensors it holds survive `tidy` scopes; {@link DynamicCache.dispose}
 * releases them.
 */
export class DynamicCache {
  #keys: Tensor[] = [];
  #values: Tensor[] = [];

  /** Positions stored (those of layer 0; 0 when empty). HF `get_seq_length()`. */
  get length(): number {
    return this.#keys[0]?.shape[2] ?? 0;
  }

  /**
   * Appends `k`, `v` (`[B, Hkv, T, D]`) to layer `layer` and returns the layer's full keys and values
   * `[B, Hkv, S + T, D]`.
   */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const oldK = this.#keys[layer], oldV = this.#values[layer];
    const nk = keep(oldK ? concat([oldK, k], 2) : k.clone());
    const nv = keep(oldV ? concat([oldV, v], 2) : v.clone());
    oldK?.dispose();
    oldV?.dispose();
    this.#keys[layer] = nk;
    this.#values[layer] = nv;
    return [nk, nv];
  }

  /** Releases every stored tensor; the cache is empty afterwards. */
  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
    this.#keys = [];
    this.#values = [];
  }
}
