/**
 * `generate()`: autoregressive decoding of a causal LM as transformers' `GenerationMixin.generate`
 * does it for greedy search and sampling: logits processors in transformers' order (repetition
 * penalty, then temperature, top-k, top-p), a key/value cache (each new token runs one position
 * through the model), left-padded batches with position ids taken from the attention mask, stopping
 * rows at an end-of-sequence token (later tokens are the pad token), seeded sampling.
 *
 * @module
 */

import { noGrad } from "../autograd/grad_mode.ts";
import { tidy } from "../tensor/scope.ts";
import { Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { DynamicCache } from "./cache.ts";
import { checkOptionKeys, keysOf } from "../util/options.ts";

/** Options of {@link generate} (transformers' `GenerationConfig` names in camelCase). */
export interface GenerateOptions {
  /** New tokens to generate, an integer >= 0 (default 20, as transformers' `max_length` 20). */
  maxNewTokens?: number;
  /** Sample from the processed distribution (default false: greedy, the most likely token). */
  doSample?: boolean;
  /** Divide the logits by this before sampling, > 0 (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling (ties at the k-th kept); 0 = off. Default 50, as transformers. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP, in (0, 1] (default 1 = off). */
  topP?: number;
  /**
   * Penalise tokens already in the row (prompt included), > 0 (default 1 = off): positive logits
   * are divided by it, negative ones multiplied (CTRL, transformers' `repetition_penalty`).
   */
  repetitionPenalty?: number;
  /** Token id(s) that end a row (default the config's `eos_token_id`; none if unset). */
  eosTokenId?: number | readonly number[] | null;
  /** Token written after a row ended (default the config's `pad_token_id`, else the first eos id). */
  padTokenId?: number | null;
  /** Seed of the sampling generator (default 0); the same seed gives the same tokens. */
  seed?: number;
  /** The sampling generator (overrides `seed`). */
  generator?: Generator;
  /**
   * Padding mask of the prompt: 1 = token, 0 = padding (left padding, as transformers expects for
   * decoder-only models). One row (`number[]`) or rows. Position ids are taken from it as
   * transformers does (`cumsum(mask) - 1`).
   */
  attentionMask?: readonly number[] | readonly (readonly number[])[];
  /** Reuse keys/values of earlier positions (default true); false recomputes the whole sequence per token. */
  useCache?: boolean;
  /** Called after each step with the new token of every row and the step index (0-based). */
  onToken?: (tokens: number[], step: number) => void;
}

/** What {@link generate} needs from a model: a causal-LM forward with cache and positions, its config. */
export interface GenerativeModel {
  /** Read for `max_position_embeddings` and the default eos / pad ids. */
  readonly config: {
    max_position_embeddings: number;
    eos_token_id?: number | number[] | null;
    pad_token_id?: number | null;
  };
  /** Training mode (restored after generating; generation runs in eval mode). */
  readonly training: boolean;
  /** Sets the mode. */
  train(mode?: boolean): unknown;
  /** Logits `[B, T, V]`. */
  forward(
    ids: Int32Array,
    opts: {
      shape: readonly [number, number];
      positionIds: ArrayLike<number>;
      attentionMask?: ArrayLike<number>;
      pastKeyValues?: DynamicCache;
    },
  ): Tensor;
}

function checkNumber(name: string, v: number, ok: boolean, allowed: string): void {
  if (!ok) throw new RangeError(`generate: ${name} ${JSON.stringify(v)} is invalid; need ${allowed}`);
}

/** transformers' logits processing + choice for one row; `scores` is modified. */
function pickToken(
  scores: Float64Array,
  row: readonly number[],
  o: { doSample: boolean; temperature: number; topK: number; topP: number; penalty: number },
  gen: Generator,
): number {
  const v = scores.length;
  if (o.penalty !== 1) {
    for (const id of new Set(row)) {
      const s = scores[id];
      scores[id] = s < 0 ? s * o.penalty : s / o.penalty;
    }
  }
  if (!o.doSample) {
    let best = 0;
    for (let i = 1; i < v; i++) if (scores[i] > scores[best]) best = i;
    return best;
  }
  if (o.temperature !== 1) { for (let i = 0; i < v; i++) scores[i] /= o.temperature; }
  if (o.topK > 0 && o.topK < v) {
    const kth = Float64Array.from(scores).sort()[v - o.topK]; // k-th largest
    for (let i = 0; i < v; i++) if (scores[i] < kth) scores[i] = -Infinity;
  }
  let max = -Infinity;
  for (let i = 0; i < v; i++) if (scores[i] > max) max = scores[i];
  const p = new Float64Array(v);
  let z = 0;
  for (let i = 0; i < v; i++) z += p[i] = Math.exp(scores[i] - max);
  for (let i = 0; i < v; i++) p[i] /= z;
  if (o.topP < 1) {
    // transformers' TopPLogitsWarper: ascending order, drop tokens whose cumulative probability is
    // <= 1 - topP; the most likely token always stays.
    const order = Array.from({ length: v }, (_, i) => i).sort((a, b) => p[a] - p[b]);
    let cum = 0;
    for (let j = 0; j < v - 1; j++) {
      cum += p[order[j]];
      if (cum <= 1 - o.topP) p[order[j]] = 0;
    }
    z = 0;
    for (let i = 0; i < v; i++) z += p[i];
    for (let i = 0; i < v; i++) p[i] /= z;
  }
  let u = gen.nextFloat();
  let last = 0;
  for (let i = 0; i < v; i++) {
    if (p[i] <= 0) continue;
    last = i;
    u -= p[i];
    if (u < 0) return i;
  }
  return last;
}

const GENERATE_KEYS = keysOf<GenerateOptions>({
  maxNewTokens: true,
  doSample: true,
  temperature: true,
  topK: true,
  topP: true,
  repetitionPenalty: true,
  eosTokenId: true,
  padTokenId: true,
  seed: true,
  generator: true,
  attentionMask: true,
  useCache: true,
  onToken: true,
});

/**
 * Continues token ids with `model` (transformers `model.generate(input_ids, ...)`): greedy by default,
 * sampling with `doSample`; returns every row's prompt followed by its new tokens (as transformers
 * does). A row stops at an `eosTokenId` (that token included; the row is filled with `padTokenId`
 * while other rows go on); generation ends after `maxNewTokens` or when every row has stopped.
 *
 * Runs in eval mode without gradients (the previous mode is restored). With the cache (default)
 * the prompt is processed once and each new token costs one position; `useCache: false` re-runs
 * the whole sequence per token (the same tokens up to float rounding).
 *
 * @param model a causal LM (`LlamaForCausalLM` and subclasses; a `C3AModel` forwards to its base).
 * @param inputIds one prompt (`number[]`) or equal-length rows (left-padded, with `attentionMask`).
 * @param options see {@link GenerateOptions}.
 * @returns the prompt(s) with the new tokens: `number[]` for one prompt, `number[][]` for rows.
 * @throws {TypeError} an unknown option key (e.g. `max_new_tokens`), named with the key meant.
 * @throws {RangeError} (one line naming the value) for `maxNewTokens` not an integer >= 0, an empty
 *   prompt, rows of different lengths, a prompt longer than `max_position_embeddings`, a mask of
 *   the wrong length, `temperature` <= 0, `topK` not an integer >= 0, `topP` outside (0, 1],
 *   `repetitionPenalty` <= 0, token ids outside the vocabulary.
 */
export async function generate(
  model: GenerativeModel,
  inputIds: readonly number[] | readonly (readonly number[])[],
  options: GenerateOptions = {},
): Promise<number[] | number[][]> {
  checkOptionKeys("generate", options, GENERATE_KEYS);
  const single = !Array.isArray(inputIds[0]);
  const rows: number[][] = single
    ? [Array.from(inputIds as readonly number[])]
    : (inputIds as readonly (readonly number[])[]).map((r) => Array.from(r));
  const b = rows.length;
  const t0 = rows[0]?.length ?? 0;
  if (b === 0 || t0 === 0) throw new RangeError("generate: the prompt is empty; need at least one token");
  if (rows.some((r) => r.length !== t0)) {
    throw new RangeError(
      "generate: prompt rows have different lengths; left-pad them and pass attentionMask",
    );
  }
  const maxNew = options.maxNewTokens ?? 20;
  checkNumber("maxNewTokens", maxNew, Number.isInteger(maxNew) && maxNew >= 0, "an integer >= 0");
  const maxPos = model.config.max_position_embeddings;
  if (t0 > maxPos) {
    throw new RangeError(
      `generate: the prompt has ${t0} tokens, more than max_position_embeddings ${maxPos}`,
    );
  }
  const o = {
    doSample: options.doSample ?? false,
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 50,
    topP: options.topP ?? 1,
    penalty: options.repetitionPenalty ?? 1,
  };
  checkNumber(
    "temperature",
    o.temperature,
    o.temperature > 0 && Number.isFinite(o.temperature),
    "a number > 0",
  );
  checkNumber("topK", o.topK, Number.isInteger(o.topK) && o.topK >= 0, "an integer >= 0");
  checkNumber("topP", o.topP, o.topP > 0 && o.topP <= 1, "a number in (0, 1]");
  checkNumber("repetitionPenalty", o.penalty, o.penalty > 0 && Number.isFinite(o.penalty), "a number > 0");
  const eosCfg = options.eosTokenId !== undefined ? options.eosTokenId : model.config.eos_token_id;
  const eos = new Set<number>(eosCfg == null ? [] : typeof eosCfg === "number" ? [eosCfg] : eosCfg);
  const pad = options.padTokenId ?? model.config.pad_token_id ?? (eos.size > 0 ? [...eos][0] : 0);
  const gen = options.generator ?? new Generator(options.seed ?? 0);
  const useCache = options.useCache ?? true;

  // padding mask and positions (transformers: position_ids = cumsum(mask) - 1, 1 where mask is 0)
  let mask: number[] | undefined;
  if (options.attentionMask !== undefined) {
    const m = options.attentionMask;
    const flat = Array.isArray(m[0])
      ? (m as readonly (readonly number[])[]).flat()
      : Array.from(m as number[]);
    if (flat.length !== b * t0) {
      throw new RangeError(
        `generate: attentionMask has ${flat.length} entries, need ${b * t0} (one per token)`,
      );
    }
    mask = flat.map((x) => (x ? 1 : 0));
  }
  const positions: number[][] = rows.map((r, i) => {
    if (!mask) return r.map((_, j) => j);
    let c = -1;
    return r.map((_, j) => (mask![i * t0 + j] ? ++c : 1));
  });
  const next = rows.map((_, i) => (mask ? mask.slice(i * t0, (i + 1) * t0).reduce((x, y) => x + y, 0) : t0));

  const wasTraining = model.training;
  model.train(false);
  const cache = useCache ? new DynamicCache() : undefined;
  const done = new Array<boolean>(b).fill(false);
  try {
    for (let step = 0; step < maxNew; step++) {
      const s = rows[0].length;
      const fresh = !cache || step === 0;
      const t = fresh ? s : 1;
      const ids = new Int32Array(b * t);
      const pos = new Array<number>(b * t);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < t; j++) {
          ids[i * t + j] = rows[i][s - t + j];
          pos[i * t + j] = positions[i][s - t + j];
        }
      }
      const last = noGrad(() =>
        tidy(() => {
          const logits = model.forward(ids, {
            shape: [b, t],
            positionIds: pos,
            attentionMask: mask,
            pastKeyValues: cache,
          });
          return logits.slice(1, t - 1, t);
        })
      );
      const data = await last.data();
      const v = last.shape[2];
      const chosen: number[] = [];
      for (let i = 0; i < b; i++) {
        let tok = pad;
        if (!done[i]) {
          tok = pickToken(Float64Array.from(data.subarray(i * v, (i + 1) * v)), rows[i], o, gen);
          if (eos.has(tok)) done[i] = true;
        }
        chosen.push(tok);
        rows[i].push(tok);
        positions[i].push(next[i]++);
      }
      last.dispose();
      if (mask) {
        const m2: number[] = [];
        for (let i = 0; i < b; i++) m2.push(...mask.slice(i * s, (i + 1) * s), 1);
        mask = m2;
      }
      options.onToken?.(chosen, step);
      if (done.every(Boolean)) break;
    }
  } finally {
    cache?.dispose();
    model.train(wasTraining);
  }
  return single ? rows[0] : rows;
}
