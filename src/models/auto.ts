/**
 * `AutoModelForCausalLM` / `AutoModelForSequenceClassification` (transformers' Auto classes): read
 * `config.json`, pick the class by `model_type` (or `architectures`), load the weights.
 *
 * @module
 */

import { type LlamaConfig, LlamaForCausalLM } from "./llama.ts";
import { Qwen2ForCausalLM, Qwen2ForSequenceClassification } from "./qwen2.ts";
import { MistralForCausalLM, MistralForSequenceClassification } from "./mistral.ts";
import { LlamaForSequenceClassification } from "./sequence_classification.ts";
import { readConfigJson } from "../io/checkpoint.ts";
import { type LoadPretrainedOptions, splitLoadOptions } from "./torch_dtype.ts";

const CAUSAL_LM: Record<string, typeof LlamaForCausalLM> = {
  llama: LlamaForCausalLM,
  mistral: MistralForCausalLM,
  qwen2: Qwen2ForCausalLM,
};
const SEQ_CLS: Record<string, typeof LlamaForSequenceClassification> = {
  llama: LlamaForSequenceClassification,
  mistral: MistralForSequenceClassification,
  qwen2: Qwen2ForSequenceClassification,
};

async function modelType(
  dir: string | URL,
  options: Partial<LlamaConfig> & LoadPretrainedOptions,
): Promise<string> {
  const cfg = { ...(await readConfigJson(dir)), ...splitLoadOptions(options).overrides } as LlamaConfig;
  if (typeof cfg.model_type === "string") return cfg.model_type;
  const arch = Array.isArray(cfg.architectures) ? String(cfg.architectures[0]) : "";
  const m = /^(Llama|Mistral|Qwen2)For/.exec(arch);
  return m ? m[1].toLowerCase() : `${JSON.stringify(cfg.model_type)} (architectures ${JSON.stringify(arch)})`;
}

function pick<T>(table: Record<string, T>, type: string, who: string): T {
  if (!Object.hasOwn(table, type)) {
    throw new Error(
      `${who}: model_type ${JSON.stringify(type)} in config.json is not supported (supported: ${
        Object.keys(table).sort().join(", ")
      })`,
    );
  }
  return table[type];
}

/** Loads a causal LM of any supported architecture (transformers `AutoModelForCausalLM`). */
export class AutoModelForCausalLM {
  /** `model_type` → class. */
  static readonly supported: Readonly<Record<string, typeof LlamaForCausalLM>> = CAUSAL_LM;

  /**
   * Reads `config.json`, picks `LlamaForCausalLM`, `Qwen2ForCausalLM` or `MistralForCausalLM` by
   * `model_type` (or `architectures[0]` when it is missing) and loads the weights (see
   * `LlamaForCausalLM.fromPretrained`; `options` are its config overrides and `torchDtype`).
   *
   * @throws {Error} an unsupported `model_type` (one line naming it and the supported ones), and the
   *   loader's errors (missing files, shapes that disagree with the config).
   * @example
   * ```ts
   * import { Qwen2ForCausalLM } from "./qwen2.ts";
   *
   * const dir = await Deno.makeTempDir();
   * await new Qwen2ForCausalLM({ vocab_size: 32, hidden_size: 16, intermediate_size: 32,
   *   num_hidden_layers: 1, num_attention_heads: 2 }).savePretrained(dir);
   * const lm = await AutoModelForCausalLM.fromPretrained(dir); // a Qwen2ForCausalLM
   * ```
   */
  static async fromPretrained(
    dir: string | URL,
    options: Partial<LlamaConfig> & LoadPretrainedOptions = {},
  ): Promise<LlamaForCausalLM> {
    const cls = pick(CAUSAL_LM, await modelType(dir, options), "AutoModelForCausalLM");
    return await cls.fromPretrained(dir, options);
  }
}

/** Loads a sequence classifier of any supported architecture (transformers `AutoModelForSequenceClassification`). */
export class AutoModelForSequenceClassification {
  /** `model_type` → class. */
  static readonly supported: Readonly<Record<string, typeof LlamaForSequenceClassification>> = SEQ_CLS;

  /**
   * Reads `config.json`, picks `LlamaForSequenceClassification`, `Qwen2ForSequenceClassification` or
   * `MistralForSequenceClassification`
   * by `model_type` and loads the weights (a causal-LM checkpoint gives the backbone and a new head).
   *
   * @throws {Error} an unsupported `model_type` (one line naming the supported ones), and the loader's errors.
   */
  static async fromPretrained(
    dir: string | URL,
    options: Partial<LlamaConfig> & LoadPretrainedOptions = {},
  ): Promise<LlamaForSequenceClassification> {
    const cls = pick(SEQ_CLS, await modelType(dir, options), "AutoModelForSequenceClassification");
    return await cls.fromPretrained(dir, options);
  }
}
