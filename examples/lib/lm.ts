/**
 * Language-model helpers shared by `pretrain.ts` and `finetune.ts`: next-byte loss, held-out bits per byte,
 * a training loop with progress, evaluation and peak-memory sampling, and text sampling.
 *
 * @module
 */

import { nn, noGrad, type optim, type Tensor, tidy, utils } from "../../mod.ts";
import { type Batch, bitsPerByte, Rng, sampleBatch, type Split } from "./data.ts";
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

/** Options of {@linkcode trainLoop}. */
export interface TrainLoopOptions {
  /** The model (trained in place). */
  model: CausalLM & nn.Module;
  /** The tensors the optimizer updates (used for gradient clipping). */
  params: Tensor[];
  /** The optimizer over `params`. */
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
  /** Held-out bits per byte before training, if already known (step 0 of the eval curve). */
  initialBpb?: number;
}

/** What {@linkcode trainLoop} measured. */
export interface TrainLog {
  /** Training loss per step, in bits per byte (nats / ln 2). */
  train: { step: number; value: number }[];
  /** Held-out bits per byte at step 0 (when given), every `evalEvery` steps and at the end. */
  eval: { step: number; value: number }[];
  /** Learning rate per step (first group). */
  lr: { step: number; value: number }[];
  /** Tokens trained on. */
  tokens: number;
  /** Wall time of the loop (evaluations included), seconds. */
  seconds: number;
  /** Wall time of the training steps alone, seconds. */
  trainSeconds: number;
  /** Training tokens per second (steps only). */
  tokensPerSecond: number;
}

/**
 * Trains with random windows of the stream: forward, loss, backward, optional clipping, optimizer and
 * scheduler step; evaluates held-out bits per byte periodically; shows a progress line.
 * @throws {Error} if the loss becomes non-finite (names the step and suggests a lower learning rate).
 */
export function trainLoop(o: TrainLoopOptions): TrainLog {
  const rng = new Rng(o.seed);
  const log: TrainLog = {
    train: [],
    eval: [],
    lr: [],
    tokens: 0,
    seconds: 0,
    trainSeconds: 0,
    tokensPerSecond: 0,
  };
  if (o.initialBpb !== undefined) log.eval.push({ step: 0, value: o.initialBpb });
  const bar = new utils.Progress({ total: o.steps, label: o.label });
  const t0 = performance.now();
  let trainMs = 0;
  o.model.train();
  for (let step = 1; step <= o.steps; step++) {
    const ts = performance.now();
    const batch = sampleBatch(o.tokens, o.batchSize, o.seqLen, rng);
    const lr = o.optimizer.paramGroups[0].lr;
    const nats = tidy(() => {
      const loss = lmLoss(o.model, batch);
      loss.backward();
      return loss.item();
    });
    if (!Number.isFinite(nats)) {
      throw new Error(`training loss became ${nats} at step ${step}; lower --lr (now ${lr})`);
    }
    tidy(() => {
      if (o.clipNorm > 0) nn.utils.clipGradNorm(o.params, o.clipNorm);
      o.optimizer.step();
    });
    o.optimizer.zeroGrad();
    o.scheduler?.step();
    trainMs += performance.now() - ts;
    o.memory?.sample();
    const tokens = o.batchSize * o.seqLen;
    log.tokens += tokens;
    log.train.push({ step, value: nats / Math.LN2 });
    log.lr.push({ step, value: lr });
    // progress: this batch's training loss in bits per byte (the library's losses are in nats), the latest
    // held-out bits per byte with the step it was measured at, and tokens/s over wall time (evaluation
    // included; the summary's "training tokens/s" counts the optimizer steps only)
    if ((o.evalEvery > 0 && step % o.evalEvery === 0) || step === o.steps) {
      const bpb = evaluateBpb(o.model, o.heldOut);
      log.eval.push({ step, value: bpb });
      o.memory?.sample();
    }
    const last = log.eval[log.eval.length - 1];
    const extra: Record<string, string> = {
      "train bits/byte (this batch)": (nats / Math.LN2).toFixed(4),
      "held-out bits/byte": last ? `${last.value.toFixed(4)} (step ${last.step})` : "-",
    };
    const wallSeconds = (performance.now() - t0) / 1000;
    extra["tokens/s (wall, incl. eval)"] = wallSeconds > 0
      ? ((log.tokens / wallSeconds) | 0).toString()
      : "?";
    bar.tick(1, { extra });
  }
  bar.finish();
  log.seconds = (performance.now() - t0) / 1000;
  log.trainSeconds = trainMs / 1000;
  log.tokensPerSecond = log.tokens / Math.max(1e-9, log.trainSeconds);
  return log;
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
