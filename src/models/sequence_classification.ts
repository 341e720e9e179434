/**
 * Sequence classification on the shared decoder (HF `LlamaForSequenceClassification`, and through
 * subclasses Qwen2's): the decoder stack `model` and a `score` Linear `[num_labels, C]` without bias
 * applied to the hidden state of each row's last token that is not `pad_token_id` (the last token
 * when no pad id is set, which then allows one row only, as transformers).
 *
 * @module
 */

import { Module, type StateDictValue } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { noInitWeights, normal_ } from "../tensor/random.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { indexSelect } from "../ops/indexing.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { openCheckpoint, saveCheckpoint, type SaveCheckpointOptions } from "../io/checkpoint.ts";
import {
  castBaseWeights,
  type LoadPretrainedOptions,
  resolveTorchDtype,
  splitLoadOptions,
} from "./torch_dtype.ts";
import {
  checkShapes,
  configForSave,
  type DecoderArchitecture,
  idsAndShape,
  initDecoderWeights,
  LLAMA_ARCHITECTURE,
  type LlamaConfig,
  type LlamaInitOptions,
  type LlamaInputIds,
  LlamaModel,
  type ResolvedLlamaConfig,
  resolveLlamaConfig,
} from "./llama.ts";

/** Options of {@link LlamaForSequenceClassification.forward}. */
export interface SequenceClassificationForwardOptions {
  /** Shape `[B, T]` of flat ids. */
  shape?: readonly [number, number];
  /** Padding mask `[B, T]` (1 = token, 0 = padding), used by attention. */
  attentionMask?: ArrayLike<number>;
}

/** The label count of a config: `num_labels`, else the size of `id2label`, else 2 (transformers). */
function numLabels(cfg: LlamaConfig): number {
  const n = cfg.num_labels ?? (cfg.id2label ? Object.keys(cfg.id2label).length : 2);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`num_labels must be a positive integer, got ${JSON.stringify(n)}`);
  }
  return n;
}

/**
 * The decoder with a classification head (HF `LlamaForSequenceClassification`): `model`
 * ({@link LlamaModel}) and `score` `[num_labels, C]`, no bias. Labels: `num_labels` / `id2label` of the
 * config (default 2). With C3A (`taskType: "SEQ_CLS"`) the head is added to `modulesToSave`, so it
 * trains and is stored in the adapter files, as PEFT does.
 *
 * @example
 * ```ts
 * const clf = new LlamaForSequenceClassification({ vocab_size: 32, hidden_size: 16, intermediate_size: 32,
 *   num_hidden_layers: 1, num_attention_heads: 2, num_labels: 3, pad_token_id: 0 });
 * const logits = clf.forward([[5, 6, 7, 0], [8, 9, 0, 0]]); // [2, 3], rows pooled at tokens 2 and 1
 * ```
 */
export class LlamaForSequenceClassification extends Module {
  /** The architecture this class builds (subclasses override). */
  static architecture: DecoderArchitecture = LLAMA_ARCHITECTURE;
  /** The decoder stack. */
  model: LlamaModel;
  /** `[num_labels, C]` classification head. */
  score: Linear;
  /** The resolved configuration (`num_labels` filled in). */
  readonly config: ResolvedLlamaConfig & { num_labels: number };

  /**
   * Builds the model from an HF-style config.
   *
   * @throws {RangeError} for an invalid config (see `resolveLlamaConfig`) or `num_labels`.
   */
  constructor(config: LlamaConfig, opts: LlamaInitOptions = {}) {
    super();
    const arch = (this.constructor as typeof LlamaForSequenceClassification).architecture;
    this.config = { ...resolveLlamaConfig(config, arch), num_labels: numLabels(config) };
    this.model = new LlamaModel(this.config, arch);
    this.score = new Linear(this.config.hidden_size, this.config.num_labels, { bias: false });
    if (opts.init ?? true) initDecoderWeights(this, this.config.initializer_range);
  }

  /**
   * Class logits `[B, num_labels]` from the last non-padding token of each row.
   *
   * @param inputIds `[B, T]` token ids (Tensor, nested arrays, or flat ids with `opts.shape`).
   * @throws {RangeError} B > 1 without `pad_token_id` in the config (transformers' rule), and the
   *   errors of `LlamaModel.forward`.
   */
  override forward(inputIds: LlamaInputIds, opts: SequenceClassificationForwardOptions = {}): Tensor {
    const { idx, b, t } = idsAndShape(inputIds, opts.shape);
    const pad = this.config.pad_token_id;
    if (pad == null && b !== 1) {
      throw new RangeError(
        `sequence classification: a batch of ${b} rows needs pad_token_id in the config to find each row's last token`,
      );
    }
    const h = this.model.forward(idx, { shape: [b, t], attentionMask: opts.attentionMask }).lastHiddenState;
    const rows = new Int32Array(b);
    for (let i = 0; i < b; i++) {
      let last = pad == null ? t - 1 : 0;
      if (pad != null) { for (let j = 0; j < t; j++) if (idx[i * t + j] !== pad) last = j; }
      rows[i] = i * t + last;
    }
    const pooled = indexSelect(h.reshape([b * t, this.config.hidden_size]), rows);
    return this.score.forward(pooled);
  }

  /**
   * Loads HF tensors: those of the decoder (`model.*`) and `score.weight`; a causal-LM checkpoint's
   * `lm_head.weight` is ignored, and a missing `score.weight` is drawn N(0, initializer_range²) (as
   * transformers initialises a new head).
   *
   * @throws {RangeError} a shape that disagrees with the config (one line); {@link Error} other
   *   missing or unexpected keys.
   */
  loadHfStateDict(sd: Record<string, StateDictValue>): void {
    const clean: Record<string, StateDictValue> = {};
    for (const [k, v] of Object.entries(sd)) {
      if (!k.endsWith("rotary_emb.inv_freq") && k !== "lm_head.weight") clean[k] = v;
    }
    if (!("score.weight" in clean)) {
      noGrad(() => normal_(this.score.weight, 0, this.config.initializer_range));
      clean["score.weight"] = this.score.weight;
    }
    checkShapes(this, clean);
    this.loadStateDict(clean);
  }

  /**
   * Writes a Hugging Face checkpoint directory (see `LlamaForCausalLM.savePretrained`); config.json
   * carries `num_labels` and `id2label`/`label2id`.
   */
  async savePretrained(dir: string, options: SaveCheckpointOptions = {}): Promise<void> {
    const arch = (this.constructor as typeof LlamaForSequenceClassification).architecture;
    const n = this.config.num_labels;
    const id2label = this.config.id2label ??
      Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
    const label2id = Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)]));
    const cfg = { ...configForSave(this.config, arch.classNames.sequenceClassification), id2label, label2id };
    await saveCheckpoint(dir, cfg, this.stateDict(), options);
  }

  /**
   * Loads a checkpoint directory (a sequence-classification checkpoint, or a causal LM whose decoder
   * becomes the backbone and whose head is new). `options` sets config fields, e.g. `num_labels`,
   * `id2label`, `pad_token_id`; `torchDtype` keeps the backbone's Linear and Embedding weights in 16
   * bits (the `score` head stays float32).
   *
   * @throws {Error} as `LlamaForCausalLM.fromPretrained`.
   */
  static async fromPretrained<T extends LlamaForSequenceClassification>(
    this: new (config: LlamaConfig, opts?: LlamaInitOptions) => T,
    dir: string | URL,
    options: Partial<LlamaConfig> & LoadPretrainedOptions = {},
  ): Promise<T> {
    const { overrides, load } = splitLoadOptions(options);
    using ck = await openCheckpoint(dir);
    const dtype = resolveTorchDtype(load.torchDtype, ck.config);
    const m = noInitWeights(() => new this({ ...ck.config, ...overrides } as LlamaConfig, { init: false }));
    castBaseWeights(m.model, dtype, false); // 16-bit zeros: the checkpoint is rounded straight into them
    m.loadHfStateDict(ck.tensors);
    return m.eval();
  }
}
