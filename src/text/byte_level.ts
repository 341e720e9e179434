/**
 * Byte-level tokenizer files: a `tokenizer.json` whose ids are the UTF-8 bytes themselves (id = byte
 * value, 256 ids, no merges), in the standard byte-level BPE form (GPT-2's byte-to-character table, a
 * `ByteLevel` pre-tokenizer and decoder, a BPE model without merges), so a byte-level checkpoint loads
 * through {@linkcode AutoTokenizer} like any other, in this library and in Hugging Face `tokenizers`.
 *
 * @module
 */

/**
 * GPT-2's `bytes_to_unicode` table: byte `b` → the printable character byte-level tokenizers use for it
 * (printable Latin-1 bytes map to themselves, the rest to U+0100 onwards).
 */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out = new Array<string>(256);
  for (const b of keep) out[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCodePoint(256 + n++);
  return out;
}

/** The two files {@linkcode byteLevelTokenizerFiles} makes. */
export interface TokenizerFiles {
  /** Contents of `tokenizer.json`. */
  tokenizerJson: Record<string, unknown>;
  /** Contents of `tokenizer_config.json`. */
  tokenizerConfig: Record<string, unknown>;
}

/**
 * `tokenizer.json` + `tokenizer_config.json` for a byte-level model (vocabulary 256, id = UTF-8 byte, no
 * special tokens, so no padding token: batches of equal length need no padding). Decoding is exact for
 * valid UTF-8 (`clean_up_tokenization_spaces: false`); bytes that are not valid UTF-8 decode to U+FFFD.
 *
 * @param modelMaxLength written as `model_max_length` (the model's context, e.g. 128); default: no limit
 * @throws {RangeError} when `modelMaxLength` is not a positive integer
 */
export function byteLevelTokenizerFiles(modelMaxLength?: number): TokenizerFiles {
  if (modelMaxLength !== undefined && !(Number.isInteger(modelMaxLength) && modelMaxLength >= 1)) {
    throw new RangeError(`modelMaxLength must be an integer >= 1, got ${modelMaxLength}`);
  }
  const chars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  chars.forEach((c, b) => vocab[c] = b);
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    tokenizerJson: {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: [],
      },
    },
    tokenizerConfig: {
      tokenizer_class: "PreTrainedTokenizerFast",
      clean_up_tokenization_spaces: false,
      model_max_length: modelMaxLength ?? 1e30,
      padding_side: "right",
      truncation_side: "right",
      added_tokens_decoder: {},
    },
  };
}
