/**
 * `train()`: the training loop everyone rewrites, in the shape transformers' `Trainer.train()` has —
 * batches from a dataset, gradient accumulation, gradient clipping, a learning-rate schedule, evaluation
 * every N steps, checkpoints every N steps with `resumeFrom` that continues bit for bit, a progress line
 * with ETA, a JSON log and a loss-curve SVG.
 *
 * @module
 */

import { checkOptionKeys, keysOf } from "../util/options.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { LRScheduler, LRSchedulerState } from "../optim/lr_scheduler.ts";
import { clipGradNorm } from "../optim/clip_grad.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { tidy } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { defaultGenerator, type Generator } from "../tensor/random.ts";
import { Progress, type ProgressWriter } from "../util/progress.ts";
import { C3AModel } from "../c3a/model.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import {
  type EvalLogEntry,
  listCheckpoints,
  type LoadedCheckpoint,
  readCheckpoint,
  TRAINER_STATE_FORMAT,
  TRAINER_STATE_NAME,
  type TrainerState,
  type TrainLogEntry,
  writeCheckpoint,
} from "./checkpoint.ts";
import { trainingCurvesSvg } from "./plot.ts";

/**
 * Where batches come from: an iterable (an array of batches is cycled epoch after epoch, in order) or a
 * function returning a fresh iterator (e.g. a generator function sampling random windows with its own
 * seeded generator). The stream must be deterministic: a resumed run asks for a fresh iterator and skips
 * the batches the checkpoint consumed (as transformers' Trainer skips the data loader's first batches).
 */
export type TrainData<B> = Iterable<B> | (() => Iterator<B>);

/** Options of the progress line. */
export interface TrainProgressOptions<B> {
  /** Text in front of the counter (default `"train"`). */
  label?: string;
  /** Where the line goes (default standard error). */
  writer?: ProgressWriter;
  /**
   * The `name value` fields shown after the counter, given this step's log entry and the latest
   * evaluation (default: `train loss (nats, this step)`, the latest metrics with their step, tokens/s).
   */
  fields?: (entry: TrainLogEntry, lastEval: EvalLogEntry | undefined, batch: B) => Record<string, string>;
}

/** Options of {@linkcode train}. */
export interface TrainOptions<B> {
  /** The model, trained in place (in training mode during the steps). */
  model: Module;
  /** The optimizer over the model's trainable parameters. */
  optimizer: Optimizer<{ lr: number }>;
  /** The training batches. */
  data: TrainData<B>;
  /** The loss of one batch as a 0-d tensor (e.g. `crossEntropy(logits, targets)`, in nats). */
  loss: (model: Module, batch: B) => Tensor;
  /** Optimizer steps to run in all (transformers `max_steps`); a resumed run counts the steps done. */
  maxSteps: number;
  /**
   * Batches whose gradients are summed before each optimizer step (transformers
   * `gradient_accumulation_steps`, default 1); each batch's loss is scaled by `1 / n`.
   */
  gradientAccumulationSteps?: number;
  /** Clip the global gradient norm of the model's parameters to this (transformers `max_grad_norm`; 0 or
   * undefined: no clipping). */
  maxGradNorm?: number;
  /** Learning-rate schedule, stepped after every optimizer step; saved and restored with checkpoints. */
  scheduler?: LRScheduler;
  /** Evaluation: metrics of the model (run without gradients, in eval mode), e.g. `{ "held-out bpb": 2.5 }`. */
  evaluate?: (model: Module) => number | Record<string, number>;
  /** Evaluate every this many steps and after the last (0: after the last only). Default 0. */
  evalEvery?: number;
  /** Also evaluate before the first step (logged as step 0). Default false. */
  evalAtStart?: boolean;
  /** Where checkpoints (`checkpoint-<step>/`), `trainer_log.json` and `loss.svg` go. */
  outputDir?: string;
  /** Save a checkpoint every this many steps and after the last (0 or undefined: never). Needs `outputDir`. */
  saveEvery?: number;
  /** Keep only the newest this many checkpoints (default: all). */
  saveTotalLimit?: number;
  /**
   * Continue from a checkpoint folder, or from the newest `checkpoint-<step>` in a run's output folder.
   * The model, optimizer and scheduler must be built as for the interrupted run; their state, the
   * random-generator state and the data position are restored, so the run continues bit for bit.
   */
  resumeFrom?: string;
  /** Delete `checkpoint-*` folders an earlier run left in `outputDir` (otherwise a fresh run refuses). */
  overwriteOutputDir?: boolean;
  /**
   * Settings of the run that a resume must repeat (e.g. the command-line options); compared key by key
   * with the checkpoint's, beside maxSteps, gradientAccumulationSteps and maxGradNorm.
   */
  runConfig?: Record<string, unknown>;
  /** Random generators whose state is saved and restored (default `{ default: defaultGenerator }`). */
  generators?: Record<string, Generator>;
  /** Tokens in a batch (for tokens/s and the log); default: not counted. */
  tokensPerBatch?: (batch: B) => number;
  /** Show a progress line (default true) and how. */
  progress?: boolean | TrainProgressOptions<B>;
  /** Write `outputDir/trainer_log.json` (every save and at the end) and `outputDir/loss.svg` (at the end). Default true. */
  writeLogFiles?: boolean;
  /** Called after every optimizer step (after its evaluation and save); may be async. */
  onStep?: (entry: TrainLogEntry) => void | Promise<void>;
}

/** What {@linkcode train} did. */
export interface TrainResult {
  /** Optimizer steps done (maxSteps unless stopped early by an error). */
  globalStep: number;
  /** Training and evaluation history (including what a resumed checkpoint held). */
  log: { train: TrainLogEntry[]; eval: EvalLogEntry[] };
  /** Tokens trained on in this call (when `tokensPerBatch` is given). */
  tokens: number;
  /** Seconds of the optimizer steps (data, forward, backward, update) in this call. */
  trainSeconds: number;
  /** Seconds of the whole loop in this call (evaluation and saving included). */
  seconds: number;
  /** Tokens per second of the optimizer steps in this call (0 when not counted). */
  tokensPerSecond: number;
  /** The checkpoint folder the run resumed from, or null. */
  resumedFrom: string | null;
  /** Checkpoint folders written by this call. */
  checkpoints: string[];
}

function checkCount(v: unknown, name: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`train: ${name} is ${JSON.stringify(v)}; expected an integer >= ${min}`);
  }
  return v;
}

function batches<B>(data: TrainData<B>): () => B {
  if (typeof data === "function") {
    const it = data();
    return () => {
      const r = it.next();
      if (r.done) {
        throw new Error("train: the data iterator ended; give an endless one or an iterable to cycle");
      }
      return r.value;
    };
  }
  if (data == null || typeof (data as Iterable<B>)[Symbol.iterator] !== "function") {
    throw new TypeError("train: data must be an iterable of batches or a function returning an iterator");
  }
  let it = (data as Iterable<B>)[Symbol.iterator]();
  return () => {
    let r = it.next();
    if (r.done) {
      it = (data as Iterable<B>)[Symbol.iterator](); // next epoch
      r = it.next();
      if (r.done) throw new Error("train: data is empty");
    }
    return r.value;
  };
}

function asMetrics(v: number | Record<string, number>): Record<string, number> {
  return typeof v === "number" ? { eval: v } : { ...v };
}

function trainableOf(model: Module): [string, Tensor][] {
  return model.namedParameters().filter(([, p]) => p.requiresGrad);
}

function fail(from: string, msg: string): never {
  throw new Error(`resumeFrom "${from}": ${msg}`);
}

/** Every check of a checkpoint against this run, before anything is changed or written. */
function checkResume(
  ck: LoadedCheckpoint,
  from: string,
  settings: Record<string, unknown>,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
): void {
  const file = `${ck.dir}/${TRAINER_STATE_NAME}`;
  const s = ck.state;
  for (const k of new Set([...Object.keys(s.settings ?? {}), ...Object.keys(settings)])) {
    const there = JSON.stringify(s.settings?.[k]), here = JSON.stringify(settings[k]);
    if (there !== here) {
      fail(
        from,
        `${file} was written by another run: ${k} is ${there ?? "unset"} there, ${
          here ?? "unset"
        } in this run; ` +
          `resume with the same settings, or start a new run in another outputDir`,
      );
    }
  }
  const mine = trainableOf(model);
  const theirs = s.model.trainable;
  const modelClass = model.constructor.name;
  if (s.model.class !== modelClass) {
    fail(from, `${file} was written for a ${s.model.class}, this model is a ${modelClass}`);
  }
  for (let i = 0; i < Math.max(mine.length, theirs.length); i++) {
    const a = theirs[i], b = mine[i];
    if (!a || !b || a[0] !== b[0] || a[1].join(",") !== b[1].shape.join(",")) {
      const show = (e: [string, readonly number[]] | undefined) =>
        e ? `"${e[0]}" [${e[1].join(", ")}]` : "nothing";
      fail(
        from,
        `${file} was written for another model: trainable parameter ${i} is ${show(a)} there, ` +
          `${show(b && [b[0], b[1].shape])} here`,
      );
    }
  }
  if (s.optimizer.class !== optimizer.constructor.name) {
    fail(
      from,
      `${file} holds ${s.optimizer.class} state, this run's optimizer is ${optimizer.constructor.name}`,
    );
  }
  const groups = optimizer.paramGroups.map((g) => g.params.length).join(", ");
  const saved = s.optimizer.paramGroups.map((g) => g.params.length).join(", ");
  if (groups !== saved) {
    fail(from, `${file} has parameter groups of [${saved}] parameters, this optimizer [${groups}]`);
  }
  for (const [name, t] of Object.entries(ck.parameters)) {
    const p = mine.find(([n]) => n === name);
    if (!p || p[1].size !== t.data.length) {
      fail(from, `${ck.dir}: parameter "${name}" does not fit this model`);
    }
  }
  if (s.globalStep > (settings.maxSteps as number)) {
    fail(from, `${file} is at step ${s.globalStep}, beyond maxSteps ${settings.maxSteps}`);
  }
}

/**
 * Trains `model` for `maxSteps` optimizer steps (transformers `Trainer.train`, PyTorch's usual loop):
 * for each step, `gradientAccumulationSteps` batches (forward, loss, backward, gradients summed), then
 * clipping to `maxGradNorm`, `optimizer.step()`, `zeroGrad()`, `scheduler.step()`; evaluation every
 * `evalEvery` steps and after the last; a checkpoint every `saveEvery` steps and after the last.
 *
 * Checkpoints (`outputDir/checkpoint-<step>/`, see `src/train/checkpoint.ts`) hold the trainable parameters,
 * the optimizer and scheduler state, the random-generator state, the data position and the log, written
 * atomically; interrupting a run loses at most the steps since the last save, and `resumeFrom` continues
 * it with the same losses and parameters, bit for bit, as if it had not stopped.
 *
 * @returns the log and timings
 * @throws {RangeError} for a bad count (maxSteps, gradientAccumulationSteps, evalEvery, saveEvery), or
 *   `saveEvery` without `outputDir`
 * @throws {Error} when the loss becomes non-finite (names the step and the learning rate); when
 *   `outputDir` already holds another run's checkpoints (without `resumeFrom` or `overwriteOutputDir`);
 *   for `resumeFrom` a folder that is missing, not a checkpoint, or one of another run or model (one line
 *   naming the file and the value that differs) — then nothing is changed or written
 *
 * @example
 * ```ts
 * import { nn, optim, randn, train } from "@c3a/c3a";
 *
 * const model = new nn.Linear(4, 3);
 * const x = randn([16, 4]);
 * const y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
 * const result = await train({
 *   model,
 *   optimizer: new optim.AdamW(model.parameters(), { lr: 0.05 }),
 *   data: [{ x, y }],
 *   loss: (m: nn.Module, b: { x: typeof x; y: number[] }) => nn.functional.crossEntropy(m.forward(b.x), b.y),
 *   maxSteps: 20,
 *   progress: false,
 * });
 * console.log(result.log.train.at(-1)!.loss < result.log.train[0].loss); // true
 * ```
 */
export async function train<B>(options: TrainOptions<B>): Promise<TrainResult> {
  const o = options;
  checkOptionKeys(
    "train",
    o,
    keysOf<TrainOptions<B>>({
      model: true,
      optimizer: true,
      data: true,
      loss: true,
      maxSteps: true,
      gradientAccumulationSteps: true,
      maxGradNorm: true,
      scheduler: true,
      evaluate: true,
      evalEvery: true,
      evalAtStart: true,
      outputDir: true,
      saveEvery: true,
      saveTotalLimit: true,
      resumeFrom: true,
      overwriteOutputDir: true,
      runConfig: true,
      generators: true,
      tokensPerBatch: true,
      progress: true,
      writeLogFiles: true,
      onStep: true,
    }),
  );
  const maxSteps = checkCount(o.maxSteps, "maxSteps", 1);
  const accum = checkCount(o.gradientAccumulationSteps ?? 1, "gradientAccumulationSteps", 1);
  const evalEvery = checkCount(o.evalEvery ?? 0, "evalEvery", 0);
  const saveEvery = checkCount(o.saveEvery ?? 0, "saveEvery", 0);
  const maxGradNorm = o.maxGradNorm ?? 0;
  if (!(maxGradNorm >= 0)) throw new RangeError(`train: maxGradNorm is ${maxGradNorm}; expected >= 0`);
  if (saveEvery > 0 && !o.outputDir) {
    throw new RangeError("train: saveEvery needs outputDir (where checkpoints go)");
  }
  if (o.saveTotalLimit !== undefined) checkCount(o.saveTotalLimit, "saveTotalLimit", 1);
  const generators = o.generators ?? { default: defaultGenerator };
  const settings: Record<string, unknown> = {
    maxSteps,
    gradientAccumulationSteps: accum,
    maxGradNorm,
    ...Object.fromEntries(Object.entries(o.runConfig ?? {}).map(([k, v]) => [`runConfig.${k}`, v])),
  };
  const model = o.model, optimizer = o.optimizer;
  const writeLogs = o.writeLogFiles ?? true;

  // --- resume or start fresh: every check before anything is changed or written ----------------------
  if (o.outputDir) {
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.stat(o.outputDir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (info !== null && !info.isDirectory) {
      throw new Error(
        `outputDir "${o.outputDir}" is a file, not a directory; pass a directory (created if missing)`,
      );
    }
  }
  let ck: LoadedCheckpoint | null = null;
  if (o.resumeFrom !== undefined) {
    ck = await readCheckpoint(o.resumeFrom);
    checkResume(ck, o.resumeFrom, settings, model, optimizer);
  } else if (o.outputDir && saveEvery > 0) {
    const old = await listCheckpoints(o.outputDir);
    if (old.length > 0 && !o.overwriteOutputDir) {
      throw new Error(
        `outputDir "${o.outputDir}" already holds ${
          old.map((c) => c.path.split("/").pop()).join(", ")
        } of an ` +
          `earlier run; pass resumeFrom to continue it, overwriteOutputDir to start over (deletes them), or ` +
          `another outputDir`,
      );
    }
    for (const c of old) await Deno.remove(c.path, { recursive: true });
  }

  const log: { train: TrainLogEntry[]; eval: EvalLogEntry[] } = { train: [], eval: [] };
  let step = 0;
  let priorSeconds = { train: 0, total: 0 };
  if (ck) {
    model.loadStateDict(ck.parameters, { strict: false });
    optimizer.loadStateDict(ck.optimizer);
    if (o.scheduler && ck.state.scheduler) o.scheduler.loadStateDict(ck.state.scheduler as LRSchedulerState);
    for (const [name, g] of Object.entries(generators)) {
      const words = ck.state.rng[name];
      if (words) g.setState(words.map((w) => w ?? NaN));
    }
    step = ck.state.globalStep;
    log.train.push(...ck.state.log.train);
    log.eval.push(...ck.state.log.eval);
    priorSeconds = ck.state.seconds;
  }
  const next = batches(o.data);
  for (let i = 0; i < step * accum; i++) next(); // the batches the checkpoint consumed

  const evaluate = (at: number) => {
    if (!o.evaluate) return;
    const wasTraining = model.training;
    model.eval();
    try {
      log.eval.push({ step: at, metrics: asMetrics(noGrad(() => o.evaluate!(model))) });
    } finally {
      model.train(wasTraining);
    }
  };
  if (o.evalAtStart && !ck) evaluate(0);

  const progressOpts = typeof o.progress === "object" ? o.progress : {};
  const bar = o.progress === false ? null : new Progress({
    total: maxSteps,
    label: progressOpts.label ?? "train",
    writer: progressOpts.writer,
    initial: step,
  });

  const t0 = performance.now();
  let trainMs = 0, tokens = 0;
  const checkpoints: string[] = [];
  const snapshot = (): TrainerState => ({
    format: TRAINER_STATE_FORMAT,
    globalStep: step,
    batchesConsumed: step * accum,
    settings,
    model: {
      class: model.constructor.name,
      trainable: trainableOf(model).map(([n, p]) => [n, p.shape.slice()]),
    },
    optimizer: { class: optimizer.constructor.name, paramGroups: [], numbers: {} },
    scheduler: o.scheduler?.stateDict() ?? null,
    rng: Object.fromEntries(
      Object.entries(generators).map((
        [k, g],
      ) => [k, [...g.getState()].map((w) => Number.isNaN(w) ? null : w)]),
    ),
    seconds: {
      train: priorSeconds.train + trainMs / 1000,
      total: priorSeconds.total + (performance.now() - t0) / 1000,
    },
    log,
  });
  const writeLog = async () => {
    if (!writeLogs || !o.outputDir) return;
    await Deno.mkdir(o.outputDir, { recursive: true });
    const s = snapshot();
    await writeTextAtomic(
      `${o.outputDir}/trainer_log.json`,
      JSON.stringify({ globalStep: s.globalStep, maxSteps, settings, seconds: s.seconds, log }, null, 1) +
        "\n",
    );
  };
  const save = async () => {
    const params: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [n, p] of trainableOf(model)) {
      params[n] = { shape: p.shape.slice(), data: p.dataSync().slice() };
    }
    const path = await writeCheckpoint(
      o.outputDir!,
      snapshot(),
      optimizer.stateDict(),
      params,
      async (tmp) => {
        if (model instanceof C3AModel) await model.savePretrained(tmp);
      },
    );
    checkpoints.push(path);
    if (o.saveTotalLimit !== undefined) {
      const all = await listCheckpoints(o.outputDir!);
      for (const c of all.slice(0, Math.max(0, all.length - o.saveTotalLimit))) {
        await Deno.remove(c.path, { recursive: true });
      }
    }
    await writeLog();
  };

  model.train();
  while (step < maxSteps) {
    const ts = performance.now();
    const lr = optimizer.paramGroups[0].lr;
    let lossSum = 0, stepTokens = 0;
    let lastBatch: B | undefined;
    for (let micro = 0; micro < accum; micro++) {
      const batch = next();
      lastBatch = batch;
      if (o.tokensPerBatch) stepTokens += o.tokensPerBatch(batch);
      const value = tidy(() => {
        const loss = o.loss(model, batch);
        (accum > 1 ? loss.mul(1 / accum) : loss).backward();
        return loss.item();
      });
      if (!Number.isFinite(value)) {
        optimizer.zeroGrad();
        throw new Error(
          `training loss became ${value} at step ${step + 1}; lower the learning rate (now ${lr})`,
        );
      }
      lossSum += value;
    }
    let gradNorm: number | undefined;
    tidy(() => {
      if (maxGradNorm > 0) gradNorm = clipGradNorm(model.parameters(), maxGradNorm).item();
      optimizer.step();
    });
    optimizer.zeroGrad();
    o.scheduler?.step();
    trainMs += performance.now() - ts;
    step++;
    tokens += stepTokens;
    const entry: TrainLogEntry = { step, loss: accum > 1 ? lossSum / accum : lossSum, lr };
    if (gradNorm !== undefined) entry.gradNorm = gradNorm;
    if (o.tokensPerBatch) entry.tokens = stepTokens;
    log.train.push(entry);
    if ((evalEvery > 0 && step % evalEvery === 0) || step === maxSteps) evaluate(step);
    if (saveEvery > 0 && (step % saveEvery === 0 || step === maxSteps)) await save();
    if (bar) {
      const lastEval = log.eval[log.eval.length - 1];
      const fields = progressOpts.fields
        ? progressOpts.fields(entry, lastEval, lastBatch as B)
        : defaultFields(entry, lastEval, tokens, (performance.now() - t0) / 1000);
      bar.update(step, { extra: fields });
    }
    await o.onStep?.(entry);
  }
  bar?.finish();
  const seconds = (performance.now() - t0) / 1000;
  const trainSeconds = trainMs / 1000;
  if (o.outputDir && writeLogs) {
    await writeLog();
    if (log.train.length > 0) {
      const evalKey = Object.keys(log.eval[log.eval.length - 1]?.metrics ?? {})[0];
      await writeTextAtomic(
        `${o.outputDir}/loss.svg`,
        await trainingCurvesSvg(
          {
            train: log.train.map((e) => ({ step: e.step, value: e.loss })),
            eval: evalKey ? log.eval.map((e) => ({ step: e.step, value: e.metrics[evalKey] })) : [],
          },
          Math.min(10, log.train.length),
          `training loss${evalKey ? ` and ${evalKey}` : ""}`,
        ),
      );
    }
  }
  return {
    globalStep: step,
    log,
    tokens,
    trainSeconds,
    seconds,
    tokensPerSecond: trainSeconds > 0 ? tokens / trainSeconds : 0,
    resumedFrom: ck?.dir ?? null,
    checkpoints,
  };
}

function defaultFields(
  entry: TrainLogEntry,
  lastEval: EvalLogEntry | undefined,
  tokens: number,
  seconds: number,
): Record<string, string> {
  const f: Record<string, string> = { "train loss (nats, this step)": entry.loss.toFixed(4) };
  if (lastEval) {
    for (const [k, v] of Object.entries(lastEval.metrics)) f[k] = `${v.toFixed(4)} (step ${lastEval.step})`;
  }
  if (tokens > 0 && seconds > 0) f["tokens/s (wall)"] = String(Math.round(tokens / seconds));
  return f;
}
