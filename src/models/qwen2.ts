/**
 * Qwen2 (HF `Qwen2ForCausalLM`, `model_type` "qwen2"; Qwen2 and Qwen2.5 checkpoints): the Llama
 * decoder of src/models/llama.ts with biases on the q/k/v projections and none on o (whatever
 * `attention_bias` says), Qwen2's config defaults, and sliding-window attention on layers
 * `>= max_window_layers` when `use_sliding_window`. Module and weight names are Llama's.
 *
 * @module
 */

import { type DecoderArchitecture, LlamaForCausalLM } from "./llama.ts";
import { LlamaForSequenceClassification } from "./sequence_classification.ts";

/** Qwen2's differences from Llama (transformers `Qwen2Config` defaults, `Qwen2Attention` biases). */
export const QWEN2_ARCHITECTURE: DecoderArchitecture = {
  modelType: "qwen2",
  classNames: { causalLm: "Qwen2ForCausalLM", sequenceClassification: "Qwen2ForSequenceClassification" },
  defaults: {
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    use_sliding_window: false,
    sliding_window: 4096,
    max_window_layers: 28,
  },
  projectionBias: () => ({ qkv: true, o: false }),
  slidingWindow: (cfg, layer) =>
    cfg.use_sliding_window && cfg.sliding_window != null && layer >= (cfg.max_window_layers ?? 28)
      ? cfg.sliding_window
      : null,
};

/**
 * Qwen2 decoder with LM head (HF `Qwen2ForCausalLM`): {@link LlamaForCausalLM} with
 * {@link QWEN2_ARCHITECTURE}. `tie_word_embeddings` and `rope_theta` come from config.json
 * (Qwen2.5-0.5B: tied, 1e6).
 *
 * @example
 * ```ts
 * const lm = new Qwen2ForCausalLM({ vocab_size: 64, hidden_size: 32, intermediate_size: 64,
 *   num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true });
 * lm.model.layers.at(0).self_attn.k_proj.bias !== null; // true; o_proj has none
 * ```
 */
export class Qwen2ForCausalLM extends LlamaForCausalLM {
  /** Qwen2's architecture. */
  static override architecture: DecoderArchitecture = QWEN2_ARCHITECTURE;
}

/** Qwen2 with a sequence-classification head (HF `Qwen2ForSequenceClassification`). */
export class Qwen2ForSequenceClassification extends LlamaForSequenceClassification {
  /** Qwen2's architecture. */
  static override architecture: DecoderArchitecture = QWEN2_ARCHITECTURE;
}
