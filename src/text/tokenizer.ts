/**
 * `PreTrainedTokenizer`: a Hugging Face "fast" tokenizer (`tokenizer.json` + `tokenizer_config.json`) with
 * transformers' calling conventions: `encode`/`decode` with or without special tokens, batches with
 * padding (left or right), truncation and attention masks, the special tokens and their ids, and
 * `applyChatTemplate`.
 *
 * The tokenization itself (normalizer, pre-tokenizer, BPE/WordPiece/Unigram model, post-processor,
 * decoder) is done by npm `@huggingface/tokenizers` (tokenizers.js, the pure-JS implementation used by
 * transformers.js); this class adds what transformers' `PreTrainedTokenizerFast` adds on top of the Rust
 * `tokenizers`: special-token bookkeeping from the config files, batching, padding, truncation and chat
 * templates.
 *
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { writeTextAtomic } from "../io/atomic.ts";
import { type ChatMessage, renderChatTemplate } from "./chat_template.ts";

/** Which end padding or truncation applies to (transformers `padding_side` / `truncation_side`). */
export type Side = "left" | "right";

/**
 * Padding strategy (transformers `padding`): `false`/`"do_not_pad"` none; `true`/`"longest"` to the longest
 * sequence of the batch; `"max_length"` to `maxLength`.
 */
export type PaddingStrategy = boolean | "longest" | "max_length" | "do_not_pad";

/** Options of {@linkcode PreTrainedTokenizer.encode}. */
export interface EncodeOptions {
  /** Add the tokenizer's special tokens (e.g. BOS) as its post-processor says. Default true. */
  addSpecialTokens?: boolean;
  /** Cut sequences longer than `maxLength` (special tokens kept). Default false. */
  truncation?: boolean;
  /** Maximum length in tokens, special tokens included (default the config's `model_max_length`). */
  maxLength?: number;
  /** Which end truncation removes tokens from (default the tokenizer's {@linkcode PreTrainedTokenizer.truncationSide}). */
  truncationSide?: Side;
}

/** Options of {@linkcode PreTrainedTokenizer.encodeBatch}. */
export interface EncodeBatchOptions extends EncodeOptions {
  /** Padding strategy (default `true`: pad to the longest sequence). */
  padding?: PaddingStrategy;
  /** Which end gets the padding (default the tokenizer's {@linkcode PreTrainedTokenizer.paddingSide}). */
  paddingSide?: Side;
}

/** Options of {@linkcode PreTrainedTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, PAD, ...). Default false. */
  skipSpecialTokens?: boolean;
}

/**
 * A batch of encoded texts (transformers `BatchEncoding`): token ids and the attention mask, one row per
 * text. Rows all have the same length when padded; `shape` is `[batch, length]` then, and `null` when the
 * rows differ in length (no padding).
 */
export interface BatchEncoding {
  /** Token ids per text (`input_ids`). */
  inputIds: number[][];
  /** 1 for a real token, 0 for padding, same layout as `inputIds` (`attention_mask`). */
  attentionMask: number[][];
  /** `[batch, length]` when every row has the same length, else null. */
  shape: [number, number] | null;
}

/** Options of {@linkcode PreTrainedTokenizer.applyChatTemplate}. */
export interface ApplyChatTemplateOptions {
  /** End with the template's "assistant turn starts here" text (`add_generation_prompt`). Default false. */
  addGenerationPrompt?: boolean;
  /** Return token ids (default true) or the rendered text (false). */
  tokenize?: boolean;
  /** A template to use instead of the tokenizer's own (a Jinja string, or the name of one of its templates). */
  chatTemplate?: string;
  /** Further variables for the template (e.g. `tools`, `date_string`), as transformers' `**kwargs`. */
  extra?: Record<string, unknown>;
}

/** The config keys this class reads from `tokenizer_config.json` / `special_tokens_map.json`. */
export interface TokenizerConfig {
  /** Special tokens: a string or `{content: string}` (AddedToken form). */
  bos_token?: string | { content: string } | null;
  /** End-of-sequence token. */
  eos_token?: string | { content: string } | null;
  /** Padding token. */
  pad_token?: string | { content: string } | null;
  /** Unknown token. */
  unk_token?: string | { content: string } | null;
  /** `"left"` or `"right"` (default right). */
  padding_side?: string;
  /** `"left"` or `"right"` (default right). */
  truncation_side?: string;
  /** Default `maxLength` for truncation. */
  model_max_length?: number;
  /** Jinja chat template, or a list of named templates. */
  chat_template?: string | { name: string; template: string }[] | null;
  /** Remove spaces before punctuation when decoding (BERT-era default true; false keeps text exact). */
  clean_up_tokenization_spaces?: boolean;
  /** Anything else the file holds. */
  [key: string]: unknown;
}

const SPECIAL_NAMES = ["bos", "eos", "pad", "unk"] as const;
type SpecialName = typeof SPECIAL_NAMES[number];

function tokenText(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
    return (v as { content: string }).content;
  }
  return null;
}

function checkSide(value: unknown, what: string): Side {
  if (value === "left" || value === "right") return value;
  throw new RangeError(`${what} is ${JSON.stringify(value)}; allowed: "left", "right"`);
}

function checkLength(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} is ${JSON.stringify(value)}; expected an integer >= 1`);
  }
  return value;
}

/**
 * A Hugging Face tokenizer (transformers `PreTrainedTokenizerFast`) built from the contents of
 * `tokenizer.json` and `tokenizer_config.json`; {@linkcode AutoTokenizer.fromPretrained} reads them from
 * a checkpoint directory.
 *
 * Ids are plain numbers (`number[]`), as transformers returns Python lists; `encodeBatch` gives rows of
 * equal length with an attention mask for a model's `[batch, length]` input.
 *
 * @example
 * ```ts
 * import { byteLevelTokenizerFiles, PreTrainedTokenizer } from "./mod.ts";
 *
 * const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
 * const tok = new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
 * const ids = tok.encode("Hi!"); // [72, 105, 33]: one id per UTF-8 byte
 * console.log(tok.decode(ids)); // "Hi!"
 * ```
 */
export class PreTrainedTokenizer {
  /** The `tokenizer.json` object this tokenizer was built from (written back by `savePretrained`). */
  readonly tokenizerJson: Record<string, unknown>;
  /** The parsed `tokenizer_config.json` (merged with `special_tokens_map.json` when read from a directory). */
  readonly config: TokenizerConfig;
  /** Side padding is added to (config `padding_side`, default `"right"`); may be changed. */
  paddingSide: Side;
  /** Side truncation removes tokens from (config `truncation_side`, default `"right"`); may be changed. */
  truncationSide: Side;
  /** Default maximum length for truncation (config `model_max_length`; Infinity when absent). */
  modelMaxLength: number;
  /** The chat template(s) of the config (null when it has none). */
  readonly chatTemplate: string | Record<string, string> | null;
  /** The tokenizers.js tokenizer doing the work. */
  readonly #tok: Tokenizer;
  readonly #special: Record<SpecialName, string | null>;
  readonly #specialIds: Set<number>;
  readonly #vocabSize: number;

  /**
   * Builds a tokenizer from the two files' contents (parsed JSON).
   *
   * @param tokenizerJson the object in `tokenizer.json`
   * @param tokenizerConfig the object in `tokenizer_config.json` (may be `{}`)
   * @throws {Error} when tokenizers.js cannot build the tokenizer (its message, prefixed with
   *   `tokenizer.json:`)
   * @throws {RangeError} for a bad `padding_side`, `truncation_side` or `model_max_length`, or a special
   *   token named in the config that is not in the vocabulary
   */
  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: TokenizerConfig = {}) {
    const cfg: TokenizerConfig = { ...tokenizerConfig };
    try {
      this.#tok = new Tokenizer(tokenizerJson, cfg);
    } catch (e) {
      throw new Error(`tokenizer.json: ${(e as Error).message}`, { cause: e });
    }
    this.tokenizerJson = tokenizerJson;
    this.config = cfg;
    this.paddingSide = checkSide(cfg.padding_side ?? "right", "tokenizer_config.json padding_side");
    this.truncationSide = checkSide(cfg.truncation_side ?? "right", "tokenizer_config.json truncation_side");
    // transformers writes a huge int (1e30) for "no limit"
    this.modelMaxLength = cfg.model_max_length === undefined || cfg.model_max_length >= 1e18
      ? Infinity
      : checkLength(cfg.model_max_length, "tokenizer_config.json model_max_length");
    const ct = cfg.chat_template;
    this.chatTemplate = ct == null
      ? null
      : typeof ct === "string"
      ? ct
      : Object.fromEntries(ct.map((t) => [t.name, t.template]));
    this.#special = { bos: null, eos: null, pad: null, unk: null };
    for (const n of SPECIAL_NAMES) {
      const t = tokenText(cfg[`${n}_token`]);
      if (t !== null && this.#tok.token_to_id(t) === undefined) {
        throw new RangeError(
          `tokenizer_config.json ${n}_token ${JSON.stringify(t)} is not in the vocabulary of tokenizer.json`,
        );
      }
      this.#special[n] = t;
    }
    this.#specialIds = new Set<number>();
    for (const [id, tok] of this.#tok.get_added_tokens_decoder()) {
      if (tok.special) this.#specialIds.add(id);
    }
    for (const n of SPECIAL_NAMES) {
      const t = this.#special[n];
      if (t !== null) this.#specialIds.add(this.#tok.token_to_id(t)!);
    }
    let maxId = -1;
    for (const id of this.#tok.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.#vocabSize = maxId + 1;
  }

  /** Number of ids (largest id + 1, added tokens included; transformers `len(tokenizer)`). */
  get vocabSize(): number {
    return this.#vocabSize;
  }

  /** Beginning-of-sequence token text, or null. */
  get bosToken(): string | null {
    return this.#special.bos;
  }
  /** End-of-sequence token text, or null. */
  get eosToken(): string | null {
    return this.#special.eos;
  }
  /** Padding token text, or null (then `encodeBatch` cannot pad; set {@linkcode PreTrainedTokenizer.padToken}). */
  get padToken(): string | null {
    return this.#special.pad;
  }
  /**
   * Sets the padding token (e.g. `tok.padToken = tok.eosToken`, the usual fix for Llama tokenizers).
   * @throws {RangeError} when the token is not in the vocabulary.
   */
  set padToken(t: string | null) {
    if (t !== null && this.#tok.token_to_id(t) === undefined) {
      throw new RangeError(`padToken ${JSON.stringify(t)} is not in the vocabulary`);
    }
    this.#special.pad = t;
    if (t !== null) this.#specialIds.add(this.#tok.token_to_id(t)!);
  }
  /** Unknown token text, or null. */
  get unkToken(): string | null {
    return this.#special.unk;
  }
  /** Id of {@linkcode PreTrainedTokenizer.bosToken}, or null. */
  get bosTokenId(): number | null {
    return this.#id("bos");
  }
  /** Id of {@linkcode PreTrainedTokenizer.eosToken}, or null. */
  get eosTokenId(): number | null {
    return this.#id("eos");
  }
  /** Id of {@linkcode PreTrainedTokenizer.padToken}, or null. */
  get padTokenId(): number | null {
    return this.#id("pad");
  }
  /** Id of {@linkcode PreTrainedTokenizer.unkToken}, or null. */
  get unkTokenId(): number | null {
    return this.#id("unk");
  }
  /** Ids of every special token (added tokens marked special, and bos/eos/pad/unk), ascending. */
  get allSpecialIds(): number[] {
    return [...this.#specialIds].sort((a, b) => a - b);
  }

  #id(n: SpecialName): number | null {
    const t = this.#special[n];
    return t === null ? null : this.#tok.token_to_id(t)!;
  }

  /** Token text → id (undefined when not in the vocabulary). */
  convertTokensToIds(tokens: readonly string[]): (number | undefined)[] {
    return tokens.map((t) => this.#tok.token_to_id(t));
  }

  /** Id → token text (undefined when out of range). */
  convertIdsToTokens(ids: readonly number[]): (string | undefined)[] {
    return ids.map((i) => this.#tok.id_to_token(i));
  }

  /** The tokens (strings) `text` splits into, without special tokens (transformers `tokenize`). */
  tokenize(text: string): string[] {
    return this.#tok.tokenize(text, { add_special_tokens: false });
  }

  /**
   * Text → token ids (transformers `encode`), with the special tokens the tokenizer's post-processor adds
   * unless `addSpecialTokens: false`; with `truncation`, at most `maxLength` ids, special tokens kept.
   *
   * @throws {TypeError} when `text` is not a string
   * @throws {RangeError} for a `maxLength` below 1 or below the number of special tokens, or a bad side
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError(`encode: text must be a string, got ${typeof text}`);
    const add = options.addSpecialTokens ?? true;
    const plain = this.#tok.encode(text, { add_special_tokens: false }).ids;
    let prefix: number[] = [], suffix: number[] = [];
    if (add) {
      const full = this.#tok.encode(text, { add_special_tokens: true }).ids;
      // single-sequence post-processors wrap the text: full = prefix + plain + suffix
      const extra = full.length - plain.length;
      let at = -1;
      for (let p = 0; p <= extra && at < 0; p++) {
        if (plain.every((v, i) => full[p + i] === v)) at = p;
      }
      if (at < 0) return this.#truncate(full, options, [], []); // unusual post-processor: cut the whole
      prefix = full.slice(0, at);
      suffix = full.slice(at + plain.length);
    }
    return this.#truncate(plain, options, prefix, suffix);
  }

  #truncate(ids: number[], o: EncodeOptions, prefix: number[], suffix: number[]): number[] {
    if (o.truncation) {
      const max = checkLength(o.maxLength ?? this.modelMaxLength, "maxLength");
      const room = max - prefix.length - suffix.length;
      if (room < 0) {
        throw new RangeError(
          `maxLength ${max} is shorter than the ${
            prefix.length + suffix.length
          } special tokens this tokenizer adds`,
        );
      }
      if (ids.length > room) {
        const side = checkSide(o.truncationSide ?? this.truncationSide, "truncationSide");
        ids = side === "right" ? ids.slice(0, room) : ids.slice(ids.length - room);
      }
    }
    return [...prefix, ...ids, ...suffix];
  }

  /**
   * Encodes several texts into rows of equal length with an attention mask (transformers
   * `tokenizer(texts, padding=..., truncation=..., max_length=...)`). Padding uses
   * {@linkcode PreTrainedTokenizer.padTokenId} on `paddingSide` (left for generation with a decoder-only
   * model, right for training).
   *
   * @throws {RangeError} when padding is asked for and the tokenizer has no pad token (set `padToken`),
   *   `"max_length"` padding without a finite `maxLength`, or a bad `padding` / side value
   */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    if (!Array.isArray(texts)) throw new TypeError("encodeBatch: texts must be an array of strings");
    const padding = options.padding ?? true;
    const allowed = [true, false, "longest", "max_length", "do_not_pad"];
    if (!allowed.includes(padding)) {
      throw new RangeError(
        `padding is ${JSON.stringify(padding)}; allowed: true, false, "longest", "max_length", "do_not_pad"`,
      );
    }
    const rows = texts.map((t) => this.encode(t, options));
    const masks = rows.map((r) => r.map(() => 1));
    if (padding === false || padding === "do_not_pad") {
      const same = rows.every((r) => r.length === rows[0]?.length);
      return {
        inputIds: rows,
        attentionMask: masks,
        shape: same && rows.length > 0 ? [rows.length, rows[0].length] : null,
      };
    }
    let target = Math.max(0, ...rows.map((r) => r.length));
    if (padding === "max_length") {
      target = checkLength(
        options.maxLength ?? this.modelMaxLength,
        'maxLength (needed by padding "max_length")',
      );
      const over = rows.findIndex((r) => r.length > target);
      if (over >= 0) {
        throw new RangeError(
          `text ${over} has ${
            rows[over].length
          } tokens, more than maxLength ${target}; pass truncation: true`,
        );
      }
    }
    const side = checkSide(options.paddingSide ?? this.paddingSide, "paddingSide");
    const pad = this.padTokenId;
    if (pad === null && rows.some((r) => r.length < target)) {
      throw new RangeError(
        "this tokenizer has no pad token, so it cannot pad; set tokenizer.padToken (e.g. to tokenizer.eosToken) " +
          "or pass padding: false",
      );
    }
    const inputIds = rows.map((r) => {
      const fill = new Array<number>(target - r.length).fill(pad ?? 0);
      return side === "right" ? [...r, ...fill] : [...fill, ...r];
    });
    const attentionMask = masks.map((m) => {
      const fill = new Array<number>(target - m.length).fill(0);
      return side === "right" ? [...m, ...fill] : [...fill, ...m];
    });
    return { inputIds, attentionMask, shape: [rows.length, target] };
  }

  /**
   * Token ids → text (transformers `decode`). Bytes that do not form valid UTF-8 (e.g. a character cut in
   * two) decode to U+FFFD.
   *
   * @throws {RangeError} for an id that is not an integer in `[0, vocabSize)`, naming it and its position
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list: number[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.#vocabSize) {
        throw new RangeError(
          `token id ${v} at position ${i} is outside the vocabulary [0, ${this.#vocabSize})`,
        );
      }
      list[i] = v;
    }
    const kept = options.skipSpecialTokens ? list.filter((v) => !this.#specialIds.has(v)) : list;
    return this.#tok.decode(kept, { skip_special_tokens: false });
  }

  /** {@linkcode PreTrainedTokenizer.decode} of each row (transformers `batch_decode`). */
  batchDecode(rows: readonly ArrayLike<number>[], options: DecodeOptions = {}): string[] {
    return rows.map((r) => this.decode(r, options));
  }

  /**
   * Renders a conversation with the tokenizer's chat template (Jinja, through npm `@huggingface/jinja`)
   * and, by default, encodes it without adding special tokens again (transformers
   * `apply_chat_template`). The template sees `messages`, `add_generation_prompt`, `bos_token`,
   * `eos_token`, `pad_token`, `unk_token` and `options.extra`.
   *
   * @throws {Error} when there is no chat template (names `tokenizer_config.json`'s `chat_template`), a
   *   named template that does not exist, or a template that fails to render (its message)
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: ApplyChatTemplateOptions & { tokenize: false },
  ): string;
  /** As above; returns the token ids (the default, `tokenize` not false). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions): number[];
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: ApplyChatTemplateOptions = {},
  ): number[] | string {
    const template = this.#pickTemplate(options.chatTemplate);
    const text = renderChatTemplate(template, messages, {
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: this.bosToken ?? "",
      eos_token: this.eosToken ?? "",
      pad_token: this.padToken ?? "",
      unk_token: this.unkToken ?? "",
      ...options.extra,
    });
    return options.tokenize === false ? text : this.encode(text, { addSpecialTokens: false });
  }

  #pickTemplate(asked: string | undefined): string {
    const own = this.chatTemplate;
    if (asked !== undefined) {
      if (own && typeof own === "object" && Object.hasOwn(own, asked)) return own[asked];
      return asked;
    }
    if (own === null) {
      throw new Error(
        "this tokenizer has no chat template (tokenizer_config.json has no chat_template); pass " +
          "options.chatTemplate with a Jinja template",
      );
    }
    if (typeof own === "string") return own;
    if (Object.hasOwn(own, "default")) return own.default;
    throw new Error(
      `tokenizer_config.json has named chat templates (${
        Object.keys(own).join(", ")
      }) but none called "default"; pass options.chatTemplate with one of the names`,
    );
  }

  /**
   * Writes `tokenizer.json` and `tokenizer_config.json` (with the current padding side, truncation side
   * and pad token) into `dir` (created if needed), each to a temporary name first and then renamed, so a
   * reader never sees half a file (transformers `save_pretrained`).
   *
   * An existing `tokenizer.json` or `tokenizer_config.json` in `dir` is an error unless
   * `options.overwrite` is true (this library never overwrites a user's files without being asked;
   * transformers overwrites silently).
   *
   * @param dir target directory
   * @param options `overwrite`: replace existing tokenizer files (default false)
   * @throws {Error} a tokenizer file exists and `overwrite` is not set (names the file; nothing is
   *   written); the directory cannot be created or a file cannot be written (names the file)
   */
  async savePretrained(dir: string | URL, options: { overwrite?: boolean } = {}): Promise<void> {
    const root = (dir instanceof URL ? decodeURIComponent(dir.pathname) : dir).replace(/\/+$/, "") || "/";
    if (!options.overwrite) {
      for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
        try {
          await Deno.lstat(`${root}/${f}`);
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) continue;
          throw e;
        }
        throw new Error(`savePretrained: ${root}/${f} exists; pass { overwrite: true } to replace it`);
      }
    }
    await Deno.mkdir(root, { recursive: true });
    const config: Record<string, unknown> = {
      ...this.config,
      padding_side: this.paddingSide,
      truncation_side: this.truncationSide,
      pad_token: this.padToken,
    };
    if (Number.isFinite(this.modelMaxLength)) config.model_max_length = this.modelMaxLength;
    await writeTextAtomic(`${root}/tokenizer.json`, JSON.stringify(this.tokenizerJson, null, 2) + "\n");
    await writeTextAtomic(`${root}/tokenizer_config.json`, JSON.stringify(config, null, 2) + "\n");
  }
}
