/**
 * A Llama-architecture decoder with Hugging Face module and weight names (transformers
 * `LlamaForCausalLM`): token embedding, `num_hidden_layers` pre-norm blocks of grouped-query causal
 * self-attention with rotary position embeddings and a SwiGLU MLP, a final RMSNorm and the LM head.
 * Built from an HF `config.json`-style object; {@link LlamaForCausalLM.fromPretrained} loads a
 * checkpoint directory (`config.json` + `model.safetensors`, or a sharded
 * `model.safetensors.index.json`) so a real small HF Llama on disk loads the same way as the
 * fixtures.
 *
 * Module paths (what C3A's `targetModules` match): `model.embed_tokens`,
 * `model.layers.N.self_attn.{q,k,v,o}_proj`, `model.layers.N.mlp.{gate,up,down}_proj`,
 * `model.layers.N.{input_layernorm,post_attention_layernorm}`, `model.norm`, `lm_head`.
 *
 * @module
 */

import { checkRopeScaling, ropeInvFreq } from "./rope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { noInitWeights, normal_ } from "../tensor/random.ts";
import { isGradEnabled, noGrad } from "../autograd/grad_mode.ts";
import { keep, tidy } from "../tensor/scope.ts";
import { mul } from "../ops/elementwise.ts";
import { gelu, relu, silu } from "../ops/activation.ts";
import { crossEntropy } from "../ops/loss.ts";
import { type IndexLike, toIndexArray } from "../ops/indexing.ts";
import { applyRotaryEmb, scaledDotProductAttention, swiglu } from "../ops/nn.ts";
import { Module, type StateDictValue } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Embedding } from "../nn/embedding.ts";
import { RMSNorm } from "../nn/normalization.ts";
import { ModuleList } from "../nn/container.ts";
import { openCheckpoint, saveCheckpoint, type SaveCheckpointOptions } from "../io/checkpoint.ts";
import type { DynamicCache } from "./cache.ts";
import { generate, type GenerateOptions } from "./generate.ts";
import {
  castBaseWeights,
  type LoadPretrainedOptions,
  resolveTorchDtype,
  splitLoadOptions,
} from "./torch_dtype.ts";

/**
 * Hyper-parameters in Hugging Face `LlamaConfig` / `config.json` names (snake_case, as stored on
 * disk). Omitted fields take transformers' defaults where they have one.
 */
export interface LlamaConfig {
  /** HF architecture name (default "llama"); PEFT picks default target modules by it. */
  model_type?: string;
  /** Vocabulary size V. */
  vocab_size: number;
  /** Model width C. */
  hidden_size: number;
  /** Width of the SwiGLU MLP. */
  intermediate_size: number;
  /** Number of decoder blocks L. */
  num_hidden_layers: number;
  /** Query heads Hq. */
  num_attention_heads: number;
  /** Key/value heads Hkv (default Hq; Hq must be a multiple). */
  num_key_value_heads?: number;
  /** Per-head size (default hidden_size / num_attention_heads). */
  head_dim?: number;
  /** RMSNorm epsilon (default 1e-6). */
  rms_norm_eps?: number;
  /** RoPE base (default 10000). */
  rope_theta?: number;
  /**
   * RoPE scaling (`{rope_type, factor, …}`): "default", "linear" and "llama3" are supported (see
   * ./rope.ts); other types throw.
   */
  rope_scaling?: Record<string, unknown> | null;
  /**
   * transformers ≥ 4.56 / v5 form of the RoPE settings: `{rope_type, rope_theta, …}`; its `rope_theta`
   * is used when the top-level `rope_theta` is absent (they must agree when both are given). Types as
   * for `rope_scaling`.
   */
  rope_parameters?: Record<string, unknown> | null;
  /** Share `lm_head.weight` with `model.embed_tokens.weight` (default false). */
  tie_word_embeddings?: boolean;
  /** Longest sequence the model is meant for (default 2048); longer inputs throw. */
  max_position_embeddings?: number;
  /** Biases on q/k/v/o projections (default false). */
  attention_bias?: boolean;
  /** Biases on gate/up/down projections (default false). */
  mlp_bias?: boolean;
  /** MLP activation: "silu" (default), "gelu", "gelu_pytorch_tanh" or "relu". */
  hidden_act?: string;
  /** Std of the normal initialisation of a fresh model (default 0.02). */
  initializer_range?: number;
  /** Mistral/Qwen2: keys a query may attend to (itself included) in sliding-window layers; null = all. */
  sliding_window?: number | null;
  /** Qwen2: whether layers `>= max_window_layers` use `sliding_window` (default false). */
  use_sliding_window?: boolean;
  /** Qwen2: first layer index with sliding-window attention when `use_sliding_window`. */
  max_window_layers?: number;
  /** Sequence classification: number of labels (default 2, or the size of `id2label`). */
  num_labels?: number;
  /** Sequence classification: label names by index (string keys, as in config.json). */
  id2label?: Record<string, string>;
  /** Padding token id (sequence classification pools the last token that is not this id). */
  pad_token_id?: number | null;
  /** End-of-sequence token id(s) (the default `eosTokenId` of generate). */
  eos_token_id?: number | number[] | null;
  /**
   * c3a extension (not an HF field): false builds the decoder without rotary embeddings (the
   * mini_llama fixture). Default true.
   */
  use_rotary_embeddings?: boolean;
  /** Other config.json fields are accepted and ignored. */
  [key: string]: unknown;
}

/** A config with every default resolved. */
export interface ResolvedLlamaConfig extends LlamaConfig {
  /** Architecture name ("llama" unless the config said otherwise). */
  model_type: string;
  /** Key/value heads. */
  num_key_value_heads: number;
  /** Per-head size. */
  head_dim: number;
  /** RMSNorm epsilon. */
  rms_norm_eps: number;
  /** RoPE base. */
  rope_theta: number;
  /** Tied embeddings. */
  tie_word_embeddings: boolean;
  /** Maximum sequence length. */
  max_position_embeddings: number;
  /** Attention biases. */
  attention_bias: boolean;
  /** MLP biases. */
  mlp_bias: boolean;
  /** MLP activation. */
  hidden_act: string;
  /** Init std. */
  initializer_range: number;
  /** Rotary on/off. */
  use_rotary_embeddings: boolean;
}

function posInt(cfg: LlamaConfig, key: string): number {
  const v = cfg[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`LlamaConfig.${key} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

const ACTS: Record<string, (x: Tensor) => Tensor> = {
  silu,
  swish: silu,
  gelu: (x) => gelu(x),
  gelu_pytorch_tanh: (x) => gelu(x, { approximate: "tanh" }),
  relu,
};

/**
 * Fills transformers' defaults into `cfg` (the architecture's defaults first, e.g. Mistral's
 * `sliding_window` 4096) and validates it.
 *
 * @param cfg the config.json object.
 * @param arch the architecture (default Llama); its `model_type` is the default.
 * @throws {RangeError} for non-positive sizes, Hq not a multiple of Hkv, hidden_size not divisible by
 *   the head count (without head_dim), an unknown activation, or an unsupported `rope_scaling` /
 *   `rope_parameters` (type or fields).
 */
export function resolveLlamaConfig(
  config: LlamaConfig,
  arch: DecoderArchitecture = LLAMA_ARCHITECTURE,
): ResolvedLlamaConfig {
  const cfg = { ...arch.defaults, ...config } as LlamaConfig;
  for (
    const k of ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"]
  ) {
    posInt(cfg, k);
  }
  const hq = cfg.num_attention_heads;
  const out: ResolvedLlamaConfig = {
    ...cfg,
    model_type: cfg.model_type ?? arch.modelType,
    num_key_value_heads: cfg.num_key_value_heads ?? hq,
    head_dim: cfg.head_dim ?? cfg.hidden_size / hq,
    rms_norm_eps: cfg.rms_norm_eps ?? 1e-6,
    rope_theta: cfg.rope_theta ?? ropeThetaOf(cfg.rope_parameters) ?? 10000,
    tie_word_embeddings: cfg.tie_word_embeddings ?? false,
    max_position_embeddings: cfg.max_position_embeddings ?? 2048,
    attention_bias: cfg.attention_bias ?? false,
    mlp_bias: cfg.mlp_bias ?? false,
    hidden_act: cfg.hidden_act ?? "silu",
    initializer_range: cfg.initializer_range ?? 0.02,
    use_rotary_embeddings: cfg.use_rotary_embeddings ?? true,
  };
  posInt(out, "num_key_value_heads");
  if (!Number.isInteger(out.head_dim) || out.head_dim < 1) {
    throw new RangeError(
      `LlamaConfig: hidden_size ${cfg.hidden_size} is not divisible by num_attention_heads ${hq}; set head_dim`,
    );
  }
  if (hq % out.num_key_value_heads !== 0) {
    throw new RangeError(
      `LlamaConfig: num_attention_heads (${hq}) must be a multiple of num_key_value_heads (${out.num_key_value_heads})`,
    );
  }
  const w = out.sliding_window;
  if (w != null && (typeof w !== "number" || !Number.isInteger(w) || w < 1)) {
    throw new RangeError(
      `LlamaConfig.sliding_window must be a positive integer or null, got ${JSON.stringify(w)}`,
    );
  }
  if (out.use_rotary_embeddings && out.head_dim % 2 !== 0) {
    throw new RangeError(`LlamaConfig: rotary embeddings need an even head_dim, got ${out.head_dim}`);
  }
  if (!(out.hidden_act in ACTS)) {
    throw new RangeError(
      `LlamaConfig.hidden_act "${out.hidden_act}" is not supported (${Object.keys(ACTS).join(", ")})`,
    );
  }
  checkRopeScaling("rope_scaling", cfg.rope_scaling);
  checkRopeScaling("rope_parameters", cfg.rope_parameters);
  if (cfg.rope_scaling != null && cfg.rope_parameters != null) {
    throw new RangeError("LlamaConfig: give rope_scaling or rope_parameters, not both");
  }
  const inner = ropeThetaOf(cfg.rope_parameters);
  if (cfg.rope_theta !== undefined && inner !== undefined && inner !== cfg.rope_theta) {
    throw new RangeError(
      `LlamaConfig: rope_theta ${cfg.rope_theta} and rope_parameters.rope_theta ${inner} disagree`,
    );
  }
  if (!(typeof out.rope_theta === "number" && out.rope_theta > 0)) {
    throw new RangeError(
      `LlamaConfig.rope_theta must be a positive number, got ${JSON.stringify(out.rope_theta)}`,
    );
  }
  return out;
}

/** `rope_parameters.rope_theta` when given (transformers v5 configs), else undefined. */
function ropeThetaOf(p: Record<string, unknown> | null | undefined): number | undefined {
  const t = p?.rope_theta;
  return t === undefined || t === null ? undefined : t as number;
}

/**
 * What distinguishes one Hugging Face decoder family from another in the shared decoder code: the
 * `model_type`, class names, config defaults, which projections carry biases and which layers use
 * sliding-window attention. {@link LlamaForCausalLM} and its subclasses (`Qwen2ForCausalLM`,
 * `MistralForCausalLM`) are the same decoder with different architectures.
 */
export interface DecoderArchitecture {
  /** HF `model_type` ("llama", "qwen2", "mistral"). */
  modelType: string;
  /** HF class names written to config.json's `architectures`. */
  classNames: { causalLm: string; sequenceClassification: string };
  /** Defaults of the HF config class where they differ from Llama's. */
  defaults: Partial<LlamaConfig>;
  /** Whether q/k/v and o projections have biases, given the resolved config. */
  projectionBias(cfg: ResolvedLlamaConfig): { qkv: boolean; o: boolean };
  /** The sliding window (keys a query may see, itself included) of layer `layer`, or null for full attention. */
  slidingWindow(cfg: ResolvedLlamaConfig, layer: number): number | null;
}

/** HF Llama: `attention_bias` puts biases on q/k/v/o; full attention everywhere. */
export const LLAMA_ARCHITECTURE: DecoderArchitecture = {
  modelType: "llama",
  classNames: { causalLm: "LlamaForCausalLM", sequenceClassification: "LlamaForSequenceClassification" },
  defaults: {},
  projectionBias: (cfg) => ({ qkv: cfg.attention_bias, o: cfg.attention_bias }),
  slidingWindow: () => null,
};

/** Per-call context passed from the model to every block. */
export interface LlamaForwardContext {
  /** Position of each token, `[T]` or `[B, T]` row-major (default past..past+T-1). */
  positionIds?: ArrayLike<number>;
  /**
   * The additive attention mask `[B, 1, T, S]` for a layer with sliding window `window` (null: full
   * attention), or null when plain causal attention (PyTorch `is_causal`) is exact.
   */
  attnBias?: (window: number | null) => Tensor | null;
  /** Key/value cache to read and extend (incremental decoding). */
  cache?: DynamicCache;
}

/**
 * Grouped-query causal self-attention with rotary embeddings (HF `LlamaAttention`): `q_proj`
 * `[Hq·hd, C]`, `k_proj`/`v_proj` `[Hkv·hd, C]`, `o_proj` `[C, Hq·hd]`; biases and sliding window
 * as the architecture says.
 */
export class LlamaAttention extends Module {
  /** Query projection. */
  q_proj: Linear;
  /** Key projection. */
  k_proj: Linear;
  /** Value projection. */
  v_proj: Linear;
  /** Output projection. */
  o_proj: Linear;
  readonly #cfg: ResolvedLlamaConfig;
  readonly #layer: number;
  readonly #window: number | null;
  readonly #invFreq: Float64Array | undefined;

  /**
   * Creates the four projections.
   *
   * @param cfg resolved config.
   * @param layerIdx index of the block (cache slot, per-layer sliding window).
   * @param arch architecture (biases, sliding window); default Llama.
   */
  constructor(cfg: ResolvedLlamaConfig, layerIdx = 0, arch: DecoderArchitecture = LLAMA_ARCHITECTURE) {
    super();
    this.#cfg = cfg;
    this.#layer = layerIdx;
    this.#window = arch.slidingWindow(cfg, layerIdx);
    this.#invFreq = ropeInvFreq(cfg.rope_theta, cfg.head_dim, cfg.rope_scaling ?? cfg.rope_parameters);
    const c = cfg.hidden_size, hd = cfg.head_dim, bias = arch.projectionBias(cfg);
    this.q_proj = new Linear(c, cfg.num_attention_heads * hd, { bias: bias.qkv });
    this.k_proj = new Linear(c, cfg.num_key_value_heads * hd, { bias: bias.qkv });
    this.v_proj = new Linear(c, cfg.num_key_value_heads * hd, { bias: bias.qkv });
    this.o_proj = new Linear(cfg.num_attention_heads * hd, c, { bias: bias.o });
  }

  /** The sliding window of this layer (null: full causal attention). */
  get slidingWindow(): number | null {
    return this.#window;
  }

  /**
   * Self-attention over `h` (and the cached positions, when `ctx.cache` is given).
   *
   * @param h `[B, T, C]` (normalised hidden states).
   * @returns `[B, T, C]`.
   */
  override forward(h: Tensor, ctx: LlamaForwardContext = {}): Tensor {
    const cfg = this.#cfg;
    const [b, t] = h.shape;
    const hq = cfg.num_attention_heads, hkv = cfg.num_key_value_heads, hd = cfg.head_dim;
    let q = this.q_proj.forward(h).reshape([b, t, hq, hd]).transpose(1, 2);
    let k = this.k_proj.forward(h).reshape([b, t, hkv, hd]).transpose(1, 2);
    let v = this.v_proj.forward(h).reshape([b, t, hkv, hd]).transpose(1, 2);
    if (cfg.use_rotary_embeddings) {
      const ro = { positions: ctx.positionIds, theta: cfg.rope_theta, invFreq: this.#invFreq };
      q = applyRotaryEmb(q, ro);
      k = applyRotaryEmb(k, ro);
    }
    if (ctx.cache) [k, v] = ctx.cache.update(this.#layer, k, v);
    const mask = ctx.attnBias?.(this.#window) ?? null;
    const o = scaledDotProductAttention(q, k, v, mask ? { attnMask: mask } : { causal: true });
    return this.o_proj.forward(o.transpose(1, 2).reshape([b, t, hq * hd]));
  }
}

/** SwiGLU feed-forward (HF `LlamaMLP`): `down_proj(act(gate_proj(x)) · up_proj(x))`. */
export class LlamaMLP extends Module {
  /** `[I, C]`. */
  gate_proj: Linear;
  /** `[I, C]`. */
  up_proj: Linear;
  /** `[C, I]`. */
  down_proj: Linear;
  readonly #act: (x: Tensor) => Tensor;
  /** True for silu/swish: `act(gate)·up` is one fused SwiGLU op (nn.functional.swiglu). */
  readonly #swiglu: boolean;

  /** Creates the three projections from a resolved config. */
  constructor(cfg: ResolvedLlamaConfig) {
    super();
    const c = cfg.hidden_size, i = cfg.intermediate_size, bias = cfg.mlp_bias;
    this.gate_proj = new Linear(c, i, { bias });
    this.up_proj = new Linear(c, i, { bias });
    this.down_proj = new Linear(i, c, { bias });
    this.#act = ACTS[cfg.hidden_act];
    this.#swiglu = this.#act === silu;
  }

  /**
   * The feed-forward block. With silu (Llama's default) the gated product is the fused
   * {@link swiglu} op: one pass forward and one backward instead of silu, mul and their three
   * backward passes, with the same float32 operations (the results equal the composed form's).
   *
   * @param x `[..., C]`.
   * @returns `[..., C]`.
   */
  override forward(x: Tensor): Tensor {
    const gate = this.gate_proj.forward(x), up = this.up_proj.forward(x);
    return this.down_proj.forward(this.#swiglu ? swiglu(gate, up) : mul(this.#act(gate), up));
  }
}

/** One pre-norm decoder block (HF `LlamaDecoderLayer`). */
export class LlamaDecoderLayer extends Module {
  /** Attention. */
  self_attn: LlamaAttention;
  /** Feed-forward. */
  mlp: LlamaMLP;
  /** Norm before attention. */
  input_layernorm: RMSNorm;
  /** Norm before the MLP. */
  post_attention_layernorm: RMSNorm;

  /** Creates block `layerIdx` from a resolved config and the architecture (default Llama). */
  constructor(cfg: ResolvedLlamaConfig, layerIdx = 0, arch: DecoderArchitecture = LLAMA_ARCHITECTURE) {
    super();
    this.self_attn = new LlamaAttention(cfg, layerIdx, arch);
    this.mlp = new LlamaMLP(cfg);
    this.input_layernorm = new RMSNorm(cfg.hidden_size, { eps: cfg.rms_norm_eps });
    this.post_attention_layernorm = new RMSNorm(cfg.hidden_size, { eps: cfg.rms_norm_eps });
  }

  /**
   * `h ← h + attn(norm(h)); h ← h + mlp(norm(h))`.
   *
   * @param h `[B, T, C]`.
   * @returns `[B, T, C]`.
   */
  override forward(h: Tensor, ctx: LlamaForwardContext = {}): Tensor {
    const a = h.add(this.self_attn.forward(this.input_layernorm.forward(h), ctx));
    return a.add(this.mlp.forward(this.post_attention_layernorm.forward(a)));
  }
}

/** Options of {@link LlamaModel.forward} / {@link LlamaForCausalLM.forward}. */
export interface LlamaForwardOptions {
  /** Shape `[B, T]` of `inputIds` when it is a flat Int32Array / number[]. */
  shape?: readonly [number, number];
  /**
   * Position of each token, `[T]` or `[B, T]` row-major (default `past..past+T-1`, as HF without
   * padding). Given positions also lift the `max_position_embeddings` check (the caller owns them).
   */
  positionIds?: ArrayLike<number>;
  /**
   * Padding mask `[B, S]` row-major over the cached and the new positions (S = cached + T): 1 = real
   * token, 0 = padding (keys at 0 are not attended to; a padding query attends to itself only, so
   * its row stays finite). HF `attention_mask`.
   */
  attentionMask?: ArrayLike<number>;
  /**
   * Key/value cache (HF `past_key_values`): the new tokens attend to the cached positions and their
   * keys/values are appended. Inference only (no gradients through the cache).
   */
  pastKeyValues?: DynamicCache;
  /** Also return every block's input and the last block's output (see {@link LlamaOutput}). */
  outputHiddenStates?: boolean;
}

/** Output of {@link LlamaModel.forward} (HF `BaseModelOutputWithPast` without the cache). */
export interface LlamaModelOutput {
  /** Final normalised hidden states `[B, T, C]`. */
  lastHiddenState: Tensor;
  /** As {@link LlamaOutput.hiddenStates}. */
  hiddenStates?: Tensor[];
}

/** Output of {@link LlamaForCausalLM.forward} with `outputHiddenStates`. */
export interface LlamaOutput {
  /** `[B, T, V]` next-token logits. */
  logits: Tensor;
  /**
   * `L + 1` tensors `[B, T, C]`: index 0 the embeddings, index `l + 1` the output of block l. All are
   * BEFORE the final norm (the fixtures' convention; HF's last entry is after `model.norm`).
   * Present when `outputHiddenStates`.
   */
  hiddenStates?: Tensor[];
}

/** Token ids accepted by the Llama forward: a `[B, T]` tensor, nested arrays, or flat ids + shape. */
export type LlamaInputIds = Tensor | readonly (readonly number[])[] | IndexLike;

/** Flat ids and `[B, T]` of any {@link LlamaInputIds}. */
export function idsAndShape(
  ids: LlamaInputIds,
  shape?: readonly [number, number],
): { idx: Int32Array; b: number; t: number } {
  if (ids instanceof Tensor) {
    if (ids.ndim !== 2) {
      throw new RangeError(`Llama: inputIds must be [B, T], got shape [${ids.shape.join(", ")}]`);
    }
    return { idx: toIndexArray(ids, "inputIds"), b: ids.shape[0], t: ids.shape[1] };
  }
  if (Array.isArray(ids) && ids.length > 0 && Array.isArray(ids[0])) {
    const rows = ids as readonly (readonly number[])[];
    const t = rows[0].length;
    if (rows.some((r) => r.length !== t)) throw new RangeError("Llama: inputIds rows have different lengths");
    return { idx: toIndexArray(rows.flat(), "inputIds"), b: rows.length, t };
  }
  const idx = toIndexArray(ids as IndexLike, "inputIds");
  const [b, t] = shape ?? [1, idx.length];
  if (b * t !== idx.length) throw new RangeError(`Llama: shape [${b}, ${t}] does not hold ${idx.length} ids`);
  return { idx, b, t };
}

/**
 * The additive mask `[B, 1, T, S]` (0 or −∞) for T queries at positions `past..past+T-1` over S keys:
 * causal, within `window` keys (itself included) when given, padding keys (`keyMask` 0) blocked
 * except a query's own key. Null when plain causal attention is exact.
 */
function attentionBias(
  b: number,
  t: number,
  past: number,
  keyMask: ArrayLike<number> | undefined,
  window: number | null,
): Float32Array | null {
  const s = past + t;
  if (past === 0 && !keyMask && (window === null || window >= t)) return null;
  const d = new Float32Array(b * t * s);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++) {
      const qi = past + i, row = (r * t + i) * s;
      for (let j = 0; j < s; j++) {
        const ok = j <= qi && (window === null || j > qi - window) &&
          (!keyMask || keyMask[r * s + j] !== 0 || j === qi);
        if (!ok) d[row + j] = -Infinity;
      }
    }
  }
  return d;
}

/** The decoder stack without the LM head (HF `LlamaModel`): `embed_tokens`, `layers`, `norm`. */
export class LlamaModel extends Module {
  /** `[V, C]` token embeddings. */
  embed_tokens: Embedding;
  /** The decoder blocks. */
  layers: ModuleList<LlamaDecoderLayer>;
  /** Final RMSNorm. */
  norm: RMSNorm;
  /** The resolved configuration. */
  readonly config: ResolvedLlamaConfig;

  /** Creates the stack from a resolved config and the architecture (default Llama). */
  constructor(cfg: ResolvedLlamaConfig, arch: DecoderArchitecture = LLAMA_ARCHITECTURE) {
    super();
    this.config = cfg;
    this.embed_tokens = new Embedding(cfg.vocab_size, cfg.hidden_size);
    this.layers = new ModuleList(
      Array.from({ length: cfg.num_hidden_layers }, (_, i) => new LlamaDecoderLayer(cfg, i, arch)),
    );
    this.norm = new RMSNorm(cfg.hidden_size, { eps: cfg.rms_norm_eps });
  }

  /**
   * Runs the stack; returns the final normalised hidden states `[B, T, C]` (and every block's output
   * when asked).
   *
   * @throws {RangeError} for ids outside the vocabulary, T above `max_position_embeddings` (without
   *   explicit `positionIds`), or masks / positions of the wrong length.
   */
  override forward(inputIds: LlamaInputIds, opts: LlamaForwardOptions = {}): LlamaModelOutput {
    const { idx, b, t } = idsAndShape(inputIds, opts.shape);
    const cfg = this.config;
    const cache = opts.pastKeyValues;
    const past = cache?.length ?? 0;
    if (opts.positionIds === undefined && past + t > cfg.max_position_embeddings) {
      throw new RangeError(
        `Llama: sequence length ${past + t} exceeds max_position_embeddings ${cfg.max_position_embeddings}`,
      );
    }
    const m = opts.attentionMask;
    if (m && m.length !== b * (past + t)) {
      throw new RangeError(
        `Llama: attentionMask has ${m.length} entries, need B·(cached + T) = ${b * (past + t)}`,
      );
    }
    const backend = this.embed_tokens.weight.backend;
    // Without a graph (inference, generation) each layer's temporaries are disposed as soon as the layer
    // returns, and its input once the next hidden state exists: memory then holds one layer's working set,
    // not all of them until the garbage collector runs (a batch × length forward of a 0.5B model otherwise
    // outgrew 24 GiB). With a graph the activations belong to it and backward frees them.
    const lean = !isGradEnabled() && !opts.outputHiddenStates;
    const masks = new Map<number | null, Tensor | null>();
    const ctx: LlamaForwardContext = {
      positionIds: opts.positionIds ?? (past > 0 ? Array.from({ length: t }, (_, i) => past + i) : undefined),
      cache,
      attnBias: (window) => {
        if (!masks.has(window)) {
          const d = attentionBias(b, t, past, m, window);
          const bias = d && Tensor.fromStorage(backend.fromArray(d, true), [b, 1, t, past + t]);
          // shared by every layer: outlives the per-layer scopes of a lean forward (disposed after the loop)
          masks.set(window, lean && bias ? keep(bias) : bias);
        }
        return masks.get(window)!;
      },
    };
    let h = this.embed_tokens.forward(idx, [b, t]);
    const hidden: Tensor[] | undefined = opts.outputHiddenStates ? [h] : undefined;
    for (const layer of this.layers) {
      if (lean) {
        const input = h;
        h = tidy(() => layer.forward(input, ctx));
        input.dispose();
      } else h = layer.forward(h, ctx);
      hidden?.push(h);
    }
    if (lean) {
      for (const bias of masks.values()) bias?.dispose();
      const last = h;
      const out = this.norm.forward(last);
      last.dispose();
      return { lastHiddenState: out, hiddenStates: hidden };
    }
    return { lastHiddenState: this.norm.forward(h), hiddenStates: hidden };
  }
}

/** Options of the {@link LlamaForCausalLM} constructor. */
export interface LlamaInitOptions {
  /**
   * Draw fresh weights N(0, initializer_range²) for Linear/Embedding (biases 0, norms 1) as HF's
   * `_init_weights` does (default true). `fromPretrained` skips it.
   */
  init?: boolean;
}

/** HF `_init_weights` over `root`'s modules: Linear/Embedding N(0, std²), biases 0, norms 1. */
export function initDecoderWeights(root: Module, std: number): void {
  noGrad(() => {
    for (const m of root.modules()) {
      if (m instanceof Linear) {
        normal_(m.weight, 0, std);
        m.bias?.zero_();
      } else if (m instanceof Embedding) normal_(m.weight, 0, std);
      else if (m instanceof RMSNorm) m.weight?.fill_(1);
    }
  });
}

/** The config.json object of a model: the resolved config, class name and model type (c3a-only keys dropped). */
export function configForSave(cfg: ResolvedLlamaConfig, className: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg, architectures: [className] };
  if (out.use_rotary_embeddings === true) delete out.use_rotary_embeddings;
  delete out.torch_dtype;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Checks the shape of every tensor of `sd` that `model` has against the model's own (built from the
 * config), before anything is copied.
 *
 * @throws {RangeError} one line naming the first tensor whose shape differs, its shape and the shape
 *   the config implies.
 */
export function checkShapes(model: Module, sd: Record<string, StateDictValue>): void {
  const own = model.stateDict();
  for (const [k, v] of Object.entries(sd)) {
    const mine = own[k];
    if (!mine) continue;
    const shape = Array.from(v.shape);
    if (shape.length !== mine.shape.length || shape.some((d, i) => d !== mine.shape[i])) {
      throw new RangeError(
        `checkpoint tensor "${k}" has shape [${shape.join(", ")}] but the config expects [${
          mine.shape.join(", ")
        }]`,
      );
    }
  }
}

/**
 * Llama decoder with LM head (HF `LlamaForCausalLM`): `model` ({@link LlamaModel}) and `lm_head`
 * `[V, C]` (no bias; tied to `model.embed_tokens.weight` when `tie_word_embeddings`). Subclasses
 * (`Qwen2ForCausalLM`, `MistralForCausalLM`) set another {@link DecoderArchitecture}.
 *
 * @example
 * ```ts
 * const lm = new LlamaForCausalLM({ vocab_size: 256, hidden_size: 64, intermediate_size: 128,
 *   num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 });
 * const logits = lm.forward([[1, 2, 3]]); // [1, 3, 256]
 * const loss = causalLmLoss(logits, [[1, 2, 3]]);
 * const ids = await lm.generate([1, 2, 3], { maxNewTokens: 5, doSample: true, topP: 0.9, seed: 1 });
 * ids.length; // 8: the prompt and 5 new tokens
 * ```
 */
export class LlamaForCausalLM extends Module {
  /** The architecture this class builds (subclasses override). */
  static architecture: DecoderArchitecture = LLAMA_ARCHITECTURE;
  /** The decoder stack. */
  model: LlamaModel;
  /** `[V, C]` output projection. */
  lm_head: Linear;
  /** The resolved configuration. */
  readonly config: ResolvedLlamaConfig;

  /**
   * Builds the model from an HF-style config.
   *
   * @throws {RangeError} for an invalid config (see {@link resolveLlamaConfig}).
   */
  constructor(config: LlamaConfig, opts: LlamaInitOptions = {}) {
    super();
    const arch = (this.constructor as typeof LlamaForCausalLM).architecture;
    this.config = resolveLlamaConfig(config, arch);
    this.model = new LlamaModel(this.config, arch);
    this.lm_head = new Linear(this.config.hidden_size, this.config.vocab_size, { bias: false });
    if (this.config.tie_word_embeddings) this.lm_head.weight = this.model.embed_tokens.weight;
    if (opts.init ?? true) this.initWeights();
  }

  /** HF `_init_weights`: Linear and Embedding weights N(0, initializer_range²), biases 0, norms 1. */
  initWeights(): void {
    initDecoderWeights(this, this.config.initializer_range);
  }

  /**
   * Next-token logits. Returns `[B, T, V]`, or `{logits, hiddenStates}` with `outputHiddenStates`.
   *
   * @param inputIds `[B, T]` token ids (Tensor, nested arrays, or flat ids with `opts.shape`).
   * @throws {RangeError} as {@link LlamaModel.forward}.
   */
  override forward(
    inputIds: LlamaInputIds,
    opts: LlamaForwardOptions & { outputHiddenStates: true },
  ): LlamaOutput;
  /**
   * Next-token logits `[B, T, V]`.
   *
   * @param inputIds `[B, T]` token ids (Tensor, nested arrays, or flat ids with `opts.shape`).
   * @throws {RangeError} as {@link LlamaModel.forward}.
   */
  override forward(inputIds: LlamaInputIds, opts?: LlamaForwardOptions): Tensor;
  override forward(inputIds: LlamaInputIds, opts: LlamaForwardOptions = {}): Tensor | LlamaOutput {
    const out = this.model.forward(inputIds, opts);
    const logits = this.lm_head.forward(out.lastHiddenState);
    return opts.outputHiddenStates ? { logits, hiddenStates: out.hiddenStates } : logits;
  }

  /**
   * Continues token ids (transformers `generate`); see {@link generate} for the options. Returns
   * the prompt followed by the new tokens, in the shape given (one row or rows).
   */
  generate(inputIds: readonly number[], options?: GenerateOptions): Promise<number[]>;
  /** Batch form: rows of equal length (left-padded, with `attentionMask`). */
  generate(inputIds: readonly (readonly number[])[], options?: GenerateOptions): Promise<number[][]>;
  generate(
    inputIds: readonly number[] | readonly (readonly number[])[],
    options: GenerateOptions = {},
  ): Promise<number[] | number[][]> {
    return generate(this, inputIds as readonly number[], options);
  }

  /**
   * Loads an HF state dict (e.g. the tensors of `model.safetensors`): ignores legacy
   * `rotary_emb.inv_freq` buffers and fills a missing `lm_head.weight` from the embeddings when tied;
   * everything else must match exactly.
   *
   * @throws {RangeError} a tensor whose shape disagrees with the config (one line, see {@link checkShapes}).
   * @throws {Error} listing missing / unexpected keys.
   */
  loadHfStateDict(sd: Record<string, StateDictValue>): void {
    const clean: Record<string, StateDictValue> = {};
    for (const [k, v] of Object.entries(sd)) if (!k.endsWith("rotary_emb.inv_freq")) clean[k] = v;
    if (
      this.config.tie_word_embeddings && !("lm_head.weight" in clean) && "model.embed_tokens.weight" in clean
    ) {
      clean["lm_head.weight"] = clean["model.embed_tokens.weight"];
    }
    checkShapes(this, clean);
    this.loadStateDict(clean);
  }

  /**
   * Writes the model as a Hugging Face checkpoint directory (transformers `save_pretrained`):
   * `config.json` (`architectures`, `model_type`, `torch_dtype`) and `model.safetensors`, or shards
   * with `model.safetensors.index.json` past `maxShardSize`; a tied `lm_head.weight` is not stored.
   * Atomic (temporary names, then renames); existing checkpoint files are only replaced with
   * `overwrite: true`.
   *
   * @param dir target directory (created if missing).
   * @param options `dtype` ("float32" default, "float16", "bfloat16": round to nearest even),
   *   `maxShardSize` (bytes or "5GB"), `overwrite`.
   * @throws {Error} existing files without `overwrite` (names the file); a bad dtype or shard size.
   * @example
   * ```ts
   * const lm = new LlamaForCausalLM({ vocab_size: 32, hidden_size: 16, intermediate_size: 32,
   *   num_hidden_layers: 1, num_attention_heads: 2 });
   * const dir = await Deno.makeTempDir();
   * await lm.savePretrained(dir, { dtype: "bfloat16" });
   * const back = await LlamaForCausalLM.fromPretrained(dir);
   * ```
   */
  async savePretrained(dir: string, options: SaveCheckpointOptions = {}): Promise<void> {
    const arch = (this.constructor as typeof LlamaForCausalLM).architecture;
    const sd = this.stateDict();
    if (this.config.tie_word_embeddings) delete sd["lm_head.weight"];
    await saveCheckpoint(dir, configForSave(this.config, arch.classNames.causalLm), sd, options);
  }

  /**
   * Loads a Hugging Face checkpoint directory: `config.json` plus `model.safetensors` (or the shards
   * listed in `model.safetensors.index.json`). F16/BF16 weights are converted to float32, unless
   * `torchDtype` keeps the frozen base in 16 bits (see {@link LoadPretrainedOptions}). Works with
   * a local path (Deno) or an http(s) URL (fetch). Builds this class (for any `model_type` use
   * `AutoModelForCausalLM`). Lean: the model is built without initialising its weights
   * (`noInitWeights`), and each tensor is read from its file straight into its parameter (F16/BF16
   * converted 2 MiB at a time), so the resident set grows by about the model's float32 size and no
   * more (tests/load_memory_test.ts: ≤ 1.3×); a URL is fetched whole first (one copy of its bytes).
   *
   * @param dir directory path or URL.
   * @param options fields merged over `config.json` (e.g. `{use_rotary_embeddings: false}`), and the
   *   loading option `torchDtype` ("float32" default, "bfloat16", "float16", "auto": Linear and
   *   Embedding weights, tied lm_head included, stored in 16 bits, half the memory; norms stay float32).
   * @throws {Error} when files are missing (names the file) or the weights do not match the config
   *   (one line naming the tensor, its shape and the expected shape).
   * @throws {RangeError} a `torchDtype` that is not a dtype or "auto".
   * @example
   * ```ts ignore
   * // needs a downloaded Hugging Face checkpoint directory (config.json + model.safetensors)
   * const lm = await LlamaForCausalLM.fromPretrained("./SmolLM-135M", { torchDtype: "bfloat16" });
   * ```
   */
  static async fromPretrained<T extends LlamaForCausalLM>(
    this: new (config: LlamaConfig, opts?: LlamaInitOptions) => T,
    dir: string | URL,
    options: Partial<LlamaConfig> & LoadPretrainedOptions = {},
  ): Promise<T> {
    const { overrides, load } = splitLoadOptions(options);
    using ck = await openCheckpoint(dir);
    const dtype = resolveTorchDtype(load.torchDtype, ck.config);
    const lm = noInitWeights(() => new this({ ...ck.config, ...overrides } as LlamaConfig, { init: false }));
    castBaseWeights(lm, dtype, false); // 16-bit zeros: the checkpoint is rounded straight into them
    lm.loadHfStateDict(ck.tensors);
    return lm.eval();
  }
}

/**
 * Causal-LM loss as HF computes it: cross-entropy of `logits[:, :-1]` against `labels[:, 1:]` (each
 * position predicts the next token), mean over the labels that are not `ignoreIndex`.
 *
 * @param logits `[B, T, V]`.
 * @param labels `[B, T]` token ids (usually the input ids; `ignoreIndex` marks positions without loss).
 * @returns 0-d mean loss (natural log).
 * @throws {RangeError} when labels do not hold B·T entries or T < 2.
 */
export function causalLmLoss(
  logits: Tensor,
  labels: LlamaInputIds,
  opts: { ignoreIndex?: number } = {},
): Tensor {
  if (logits.ndim !== 3) {
    throw new RangeError(`causalLmLoss: logits must be [B, T, V], got [${logits.shape.join(", ")}]`);
  }
  const [b, t, v] = logits.shape;
  if (t < 2) throw new RangeError(`causalLmLoss: need T >= 2 to predict a next token, got T=${t}`);
  const { idx } = idsAndShape(labels, [b, t]);
  if (idx.length !== b * t) {
    throw new RangeError(`causalLmLoss: labels have ${idx.length} entries, need ${b * t}`);
  }
  const ignore = opts.ignoreIndex ?? -100;
  // Row (i, j) of the whole logits predicts label (i, j + 1); each sequence's last row has no next
  // label and is ignored. The same rows, losses and gradient as cross-entropy on logits[:, :-1]
  // without copying those [B, T − 1, V] logits (HF's shift_logits copy).
  const shifted = new Int32Array(b * t);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t - 1; j++) shifted[i * t + j] = idx[i * t + j + 1];
    shifted[i * t + t - 1] = ignore;
  }
  return crossEntropy(logits.reshape([b * t, v]), shifted, { ignoreIndex: ignore });
}
