/**
 * `AutoTokenizer.fromPretrained(dir)`: the tokenizer of a Hugging Face checkpoint directory, read from its
 * `tokenizer.json` (required), `tokenizer_config.json` and `special_tokens_map.json` (optional).
 *
 * @module
 */

import { PreTrainedTokenizer, type TokenizerConfig } from "./tokenizer.ts";

/** File names in a tokenizer directory (transformers' names). */
export const TOKENIZER_FILE = "tokenizer.json";
/** Tokenizer settings: special tokens, padding side, chat template. */
export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
/** Older file with the special tokens only. */
export const SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json";

function toPath(p: string | URL): string {
  return p instanceof URL ? decodeURIComponent(p.pathname) : p;
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && !required) return null;
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${path} not found: a tokenizer directory needs ${TOKENIZER_FILE} (the Hugging Face "fast" tokenizer ` +
          `file; save it from Python with tokenizer.save_pretrained(dir))`,
      );
    }
    throw new Error(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `${path} must hold a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Loads tokenizers from checkpoint directories (transformers `AutoTokenizer`). Every tokenizer with a
 * `tokenizer.json` (BPE, byte-level BPE, WordPiece, Unigram) becomes a {@linkcode PreTrainedTokenizer}.
 *
 * @example
 * ```ts
 * import { AutoTokenizer } from "./mod.ts";
 *
 * const tok = await AutoTokenizer.fromPretrained("examples/checkpoints/sotu-byte-llama");
 * console.log(tok.encode("Fellow-Citizens")); // the UTF-8 bytes: [70, 101, 108, ...]
 * ```
 */
export class AutoTokenizer {
  private constructor() {}

  /**
   * Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json` and
   * `dir/special_tokens_map.json` (the config's keys win over the map's).
   *
   * @throws {Error} `dir/tokenizer.json not found: ...` (one line naming the file) when it is missing, or
   *   another file cannot be read
   * @throws {SyntaxError} a file that is not valid JSON (names it)
   * @throws {RangeError} bad settings in tokenizer_config.json (see {@linkcode PreTrainedTokenizer})
   */
  static async fromPretrained(dir: string | URL): Promise<PreTrainedTokenizer> {
    const root = toPath(dir).replace(/\/+$/, "") || "/";
    const st = await Deno.stat(root).catch(() => null);
    if (!st?.isDirectory) {
      throw new Error(`tokenizer directory "${root}" does not exist (it should hold ${TOKENIZER_FILE})`);
    }
    const json = (await readJson(`${root}/${TOKENIZER_FILE}`, true))!;
    const config = (await readJson(`${root}/${TOKENIZER_CONFIG_FILE}`, false)) ?? {};
    const map = (await readJson(`${root}/${SPECIAL_TOKENS_MAP_FILE}`, false)) ?? {};
    return new PreTrainedTokenizer(json, { ...map, ...config } as TokenizerConfig);
  }
}
