/**
 * Mistral (HF `MistralForCausalLM`, `model_type` "mistral"): the Llama decoder of
 * src/models/llama.ts with sliding-window attention in every layer (a query attends to the last
 * `sliding_window` positions, itself included; null = full attention), no projection biases, and
 * Mistral's config defaults. Module and weight names are Llama's.
 *
 * @module
 */

import { type DecoderArchitecture, LlamaForCausalLM } from "./llama.ts";
import { LlamaForSequenceClassification } from "./sequence_classification.ts";

/** Mistral's differences from Llama (transformers `MistralConfig` defaults, `MistralAttention`). */
export const MISTRAL_ARCHITECTURE: DecoderArchitecture = {
  modelType: "mistral",
  classNames: { causalLm: "MistralForCausalLM", sequenceClassification: "MistralForSequenceClassification" },
  defaults: { max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, sliding_window: 4096 },
  projectionBias: () => ({ qkv: false, o: false }),
  slidingWindow: (cfg) => cfg.sliding_window ?? null,
};

/**
 * Mistral decoder with LM head (HF `MistralForCausalLM`): {@link LlamaForCausalLM} with
 * {@link MISTRAL_ARCHITECTURE}.
 *
 * @example
 * ```ts
 * const lm = new MistralForCausalLM({ vocab_size: 64, hidden_size: 32, intermediate_size: 64,
 *   num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, sliding_window: 8 });
 * lm.model.layers.at(0).self_attn.slidingWindow; // 8
 * ```
 */
export class MistralForCausalLM extends LlamaForCausalLM {
  /** Mistral's architecture. */
  static override architecture: DecoderArchitecture = MISTRAL_ARCHITECTURE;
}

/** Mistral with a sequence-classification head (HF `MistralForSequenceClassification`). */
export class MistralForSequenceClassification extends LlamaForSequenceClassification {
  /** Mistral's architecture. */
  static override architecture: DecoderArchitecture = MISTRAL_ARCHITECTURE;
}
