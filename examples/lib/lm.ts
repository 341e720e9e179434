/**
 * Language-model helpers shared by `pretrain.ts` and `finetune.ts`: next-byte loss, held-out bits per byte,
 * training through the library's `train()` (random windows, held-out evaluation, checkpoints and resume,
 * peak-memory sampling), and text sampling.
 *
 * @module
 */

// The public API only (the browser page's worker bundle maps mod.ts to the library bundle).
import { nn, noGrad, type optim, type Tensor, tidy, train, training } from "../../mod.ts";
import { type Batch, bitsPerByte, Rng, sampleBatch, type Split } from "./data.ts";
import { CliError } from "./cli.ts";
import type { PeakMemory } from "./output.ts";

/** A causal LM as these scripts use it: `forward(ids, {shape: [B, T]})` → logits `[B, T, V]`. */
export interface CausalLM {
  /** Next-token logits `[B, T, V]` for flat ids of shape `[B, T]`. */
  forward(ids: Int32Array, opts: { shape: readonly [number, number] }): Tensor;
}

/**
 * Mean next-byte cross-entropy (nats) of a batch as a 0-d tensor: `crossEntropy(logits [B·T, V], target)`.
 * Here the targets are already shifted (see {@linkcode Batch}), so every position has a label.
 */
export function lmLoss(model: CausalLM, batch: Batch): Tensor {
  const logits = model.forward(batch.input, { shape: [batch.batchSize, batch.seqLen] });
  const v = logits.shape[logits.ndim - 1];
  return nn.functional.crossEntropy(logits.reshape([batch.batchSize * batch.seqLen, v]), batch.target);
}

/** Held-out data: the token stream and the fixed evaluation windows on it. */
export interface HeldOut {
  /** Held-out byte stream. */
  tokens: Uint8Array;
  /** Window starts (from `evalOffsets`). */
  offsets: number[];
  /** Window length in predicted tokens. */
  seqLen: number;
}

/** Held-out bits per byte of `model` (eval mode, no gradients; the previous mode is restored). */
export function evaluateBpb(model: CausalLM & nn.Module, heldOut: HeldOut, batchSize = 8): number {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() =>
      bitsPerByte(
        (b) => tidy(() => lmLoss(model, b).item()),
        heldOut.tokens,
        heldOut.offsets,
        heldOut.seqLen,
        batchSize,
      )
    );
  } finally {
    model.train(wasTraining);
  }
}

/** Options of {@linkcode trainLm}. */
export interface TrainLmOptions {
  /** The model (trained in place). */
  model: CausalLM & nn.Module;
  /** The optimizer over the model's trainable parameters. */
  optimizer: optim.Optimizer<{ lr: number }>;
  /** Optional LR schedule, stepped after every optimizer step. */
  scheduler?: optim.LRScheduler;
  /** Training byte stream. */
  tokens: Uint8Array;
  /** Held-out data for periodic evaluation. */
  heldOut: HeldOut;
  /** Optimizer steps. */
  steps: number;
  /** Rows per batch. */
  batchSize: number;
  /** Tokens per row. */
  seqLen: number;
  /** Batches per optimizer step (gradient accumulation). */
  gradAccum: number;
  /** Seed of the batch sampler. */
  seed: number;
  /** Evaluate every this many steps (and at the end); 0 = only at the end. */
  evalEvery: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  clipNorm: number;
  /** Label of the progress line. */
  label: string;
  /** Peak-memory sampler (sampled every step). */
  memory?: PeakMemory;
  /** Where checkpoints go (`<dir>/checkpoint-<step>`). */
  checkpointDir: string;
  /** Save a checkpoint every this many steps (0 = none). */
  saveEvery: number;
  /** Continue from this checkpoint folder (or run folder), `--resume`. */
  resume?: string;
  /** Start over even if `checkpointDir` holds an earlier run's checkpoints (`--overwrite`). */
  overwrite?: boolean;
  /** The settings a resumed run must repeat (the options that change training). */
  runConfig: Record<string, unknown>;
}

/**
 * The scripts' check before training: a fresh run that saves checkpoints refuses a folder holding an
 * earlier run's (unless `--overwrite`, which starts over); `--resume` must name a folder holding a checkpoint.
 * @throws {CliError} one line naming the folder and the flags that fix it.
 */
export async function checkRunCheckpoints(
  dir: string,
  o: { resume?: string; overwrite?: boolean; saveEvery: number },
): Promise<void> {
  if (o.resume !== undefined) {
    if (!(await Deno.stat(o.resume).then((s) => s.isDirectory, () => false))) {
      throw new CliError(`--resume ${o.resume}: no such folder; pass the run's OUT/checkpoints folder`);
    }
    const hasState = await Deno.stat(`${o.resume}/trainer_state.json`).then(() => true, () => false);
    if (!hasState && (await training.listCheckpoints(o.resume)).length === 0) {
      throw new CliError(
        `--resume ${o.resume}: no checkpoint there (trainer_state.json or checkpoint-<step>/); pass the ` +
          `OUT/checkpoints folder of a run made with --save-every N`,
      );
    }
    return;
  }
  if (o.overwrite || o.saveEvery === 0) return;
  const old = await training.listCheckpoints(dir);
  if (old.length > 0) {
    throw new CliError(
      `${dir} holds checkpoints of an earlier run (${
        old.map((c) => c.path.split("/").pop()).join(", ")
      }); pass --resume ${dir} to continue it, --overwrite to start over, or another --out`,
    );
  }
}

/** What {@linkcode trainLm} measured (the curves in the scripts' JSON logs). */
export interface TrainLog {
  /** Training loss per step, in bits per byte (nats / ln 2; mean over the step's batches). */
  train: { step: number; value: number }[];
  /** Held-out bits per byte at step 0, every `evalEvery` steps and at the end. */
  eval: { step: number; value: number }[];
  /** Learning rate per step (first group). */
  lr: { step: number; value: number }[];
  /** Tokens trained on in this run (a resumed run: since the resume). */
  tokens: number;
  /** Wall time of the loop (evaluations and checkpoints included), seconds. */
  seconds: number;
  /** Wall time of the training steps alone, seconds. */
  trainSeconds: number;
  /** Training tokens per second (steps only). */
  tokensPerSecond: number;
  /** The checkpoint the run resumed from, or null. */
  resumedFrom: string | null;
}

const HELD_OUT = "held-out bits/byte";

/**
 * Trains with random windows of the stream through the library's {@linkcode train}: `gradAccum` batches
 * per optimizer step, clipping, the schedule, held-out bits per byte at step 0, every `evalEvery` steps and
 * at the end, a checkpoint every `saveEvery` steps (`--resume` continues bit for bit), a progress line.
 * @throws {CliError} when `checkpointDir` holds an earlier run's checkpoints (without `--resume` or
 *   `--overwrite`) or `--resume` names a folder of another run or model (one line, nothing written)
 * @throws {Error} if the loss becomes non-finite (names the step and the learning rate).
 */
export async function trainLm(o: TrainLmOptions): Promise<TrainLog> {
  await checkRunCheckpoints(o.checkpointDir, o);
  const rowTokens = o.batchSize * o.seqLen;
  const t0 = performance.now();
  let stepsHere = 0; // steps run by this process (a resumed run starts counting at the resume)
  let result;
  try {
    result = await train<Batch>({
      model: o.model,
      optimizer: o.optimizer,
      scheduler: o.scheduler,
      data: function* () {
        const rng = new Rng(o.seed);
        while (true) yield sampleBatch(o.tokens, o.batchSize, o.seqLen, rng);
      },
      loss: (m, b) => lmLoss(m as unknown as CausalLM, b),
      maxSteps: o.steps,
      gradientAccumulationSteps: o.gradAccum,
      maxGradNorm: o.clipNorm,
      evaluate: (m) => ({ [HELD_OUT]: evaluateBpb(m as unknown as CausalLM & nn.Module, o.heldOut) }),
      evalEvery: o.evalEvery,
      evalAtStart: true,
      outputDir: o.saveEvery > 0 || o.resume !== undefined ? o.checkpointDir : undefined,
      saveEvery: o.saveEvery,
      saveTotalLimit: 2,
      resumeFrom: o.resume,
      overwriteOutputDir: o.overwrite,
      runConfig: o.runConfig,
      tokensPerBatch: () => rowTokens,
      writeLogFiles: false,
      // progress: this step's training loss in bits per byte (the library's losses are in nats), the latest
      // held-out bits per byte with the step it was measured at, and tokens/s over wall time (evaluation
      // included; the summary's "training tokens/s" counts the optimizer steps only)
      progress: {
        label: o.label,
        fields: (entry, last) => ({
          "train bits/byte (this step)": (entry.loss / Math.LN2).toFixed(4),
          [HELD_OUT]: last ? `${last.metrics[HELD_OUT].toFixed(4)} (step ${last.step})` : "-",
          "tokens/s (wall, incl. eval)": String(
            Math.round(
              (++stepsHere * rowTokens * o.gradAccum) / Math.max(1e-9, (performance.now() - t0) / 1000),
            ),
          ),
        }),
      },
      onStep: () => o.memory?.sample(),
    });
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith("resumeFrom ")) throw new CliError(`--resume: ${msg.slice("resumeFrom ".length)}`);
    throw e;
  }
  return {
    train: result.log.train.map((e) => ({ step: e.step, value: e.loss / Math.LN2 })),
    eval: result.log.eval.map((e) => ({ step: e.step, value: e.metrics[HELD_OUT] })),
    lr: result.log.train.map((e) => ({ step: e.step, value: e.lr })),
    tokens: result.tokens,
    seconds: result.seconds,
    trainSeconds: result.trainSeconds,
    tokensPerSecond: result.tokensPerSecond,
    resumedFrom: result.resumedFrom,
  };
}

/** Options of {@linkcode generate}. */
export interface GenerateOptions {
  /** Bytes to generate. */
  length: number;
  /** Context window: each `model.generate` call sees at most this many bytes (the model's training length). */
  context: number;
  /** Keep the k most likely bytes (0 = off, the default). */
  topK?: number;
  /** Nucleus sampling threshold (default 0.9). */
  topP?: number;
  /** Softmax temperature (default 0.8). */
  temperature?: number;
  /** Penalty of bytes already in the window (default 1.1). */
  repetitionPenalty?: number;
  /** Seed of the sampling. */
  seed?: number;
}

/** A model with the library's `generate` (a causal LM or a C3AModel around one). */
export interface Generator {
  /** Prompt + new tokens (see the library's `generate`). */
  generate(ids: readonly number[], options: Record<string, unknown>): Promise<number[]>;
}

/**
 * Continues `prompt` (bytes) by `length` bytes with the library's `model.generate` (key/value cache,
 * seeded sampling: top-p 0.9, temperature 0.8, repetition penalty 1.1 unless set). Past `context`
 * bytes it continues from the last `context / 2` bytes, so the model never runs beyond its
 * training length.
 * @returns the generated bytes only (without the prompt).
 */
export async function generate(
  model: Generator,
  prompt: Uint8Array,
  opts: GenerateOptions,
): Promise<Uint8Array> {
  if (prompt.length === 0) throw new RangeError("generate: the prompt must not be empty");
  const seq = Array.from(prompt.slice(-opts.context));
  const start = seq.length;
  for (let chunk = 0; seq.length - start < opts.length; chunk++) {
    const ctx = chunk === 0 ? seq.slice() : seq.slice(-Math.floor(opts.context / 2));
    const n = Math.min(opts.length - (seq.length - start), opts.context - ctx.length);
    const out = await model.generate(ctx, {
      maxNewTokens: n,
      doSample: true,
      topK: opts.topK ?? 0,
      topP: opts.topP ?? 0.9,
      temperature: opts.temperature ?? 0.8,
      repetitionPenalty: opts.repetitionPenalty ?? 1.1,
      seed: (opts.seed ?? 0) + chunk,
    });
    seq.push(...out.slice(ctx.length));
  }
  return Uint8Array.from(seq.slice(start));
}

/** A printed sample: the prompt and the continuation, with the prompt's end marked by " ⟶ ". */
export function formatSample(prompt: string, continuation: string): string {
  return `${JSON.stringify(prompt)} ⟶ ${JSON.stringify(continuation)}`;
}

/**
 * The data description the scripts' JSON logs record: the split rule (`splitDocs` defaults), document
 * counts, byte counts and the number of held-out windows.
 */
export function dataLog(split: Split, trainTokens: Uint8Array, heldOut: HeldOut): {
  split: string;
  trainDocs: number;
  heldOutDocs: number;
  trainBytes: number;
  heldOutBytes: number;
  heldOutWindows: number;
} {
  return {
    split: "document i held out when i % 10 == 3",
    trainDocs: split.train.length,
    heldOutDocs: split.heldOut.length,
    trainBytes: trainTokens.length,
    heldOutBytes: heldOut.tokens.length,
    heldOutWindows: heldOut.offsets.length,
  };
}
