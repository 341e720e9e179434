/**
 * Training checkpoints of {@linkcode train}: one folder `checkpoint-<step>` per save (transformers
 * Trainer's layout), written under a temporary name and renamed when complete, so an interrupted save
 * never leaves a half checkpoint behind. A folder holds
 *
 * - `trainer_state.json`: step, batches consumed, settings the run must keep (for `resumeFrom` checks),
 *   the trainable parameters' names and shapes, optimizer hyper-parameters and step counts, scheduler
 *   state, random-generator state, and the log history so far;
 * - `optimizer.safetensors`: the optimizer's state tensors (F32, keys `state.<param index>.<name>`);
 * - `trainable_parameters.safetensors`: every trainable parameter (F32, `namedParameters()` names);
 * - for a `C3AModel`, the adapter in PEFT's files (`adapter_config.json`, `adapter_model.safetensors`).
 *
 * Everything is float32 written as float32 and JSON numbers written in shortest round-trip form, so a
 * resumed run continues bit for bit.
 *
 * @module
 */

import { loadSafetensors, saveSafetensors, type TensorLike } from "../io/safetensors.ts";
import { tempNameFor, writeTextAtomic } from "../io/atomic.ts";
import type { OptimizerStateDict } from "../optim/optimizer.ts";

/** Name of the JSON file in a checkpoint folder. */
export const TRAINER_STATE_NAME = "trainer_state.json";
/** Optimizer state tensors. */
export const OPTIMIZER_NAME = "optimizer.safetensors";
/** Trainable parameters. */
export const TRAINABLE_NAME = "trainable_parameters.safetensors";
/** Marks the JSON file as ours (`format` key). */
export const TRAINER_STATE_FORMAT = "c3a-trainer-checkpoint-v1";

/** One training-loss entry of the log. */
export interface TrainLogEntry {
  /** Optimizer step (1-based). */
  step: number;
  /** Mean loss over the step's micro-batches, in the loss function's unit (nats for cross-entropy). */
  loss: number;
  /** Learning rate of the first parameter group used for this step. */
  lr: number;
  /** Global gradient norm before clipping (only when clipping). */
  gradNorm?: number;
  /** Tokens (or examples) of the step, when the data says. */
  tokens?: number;
}

/** One evaluation entry of the log. */
export interface EvalLogEntry {
  /** Step after which the evaluation ran (0 = before training). */
  step: number;
  /** The metrics `evaluate` returned. */
  metrics: Record<string, number>;
}

/** Contents of `trainer_state.json`. */
export interface TrainerState {
  /** Always {@linkcode TRAINER_STATE_FORMAT}. */
  format: string;
  /** Optimizer steps done. */
  globalStep: number;
  /** Batches taken from the data (globalStep × gradientAccumulationSteps). */
  batchesConsumed: number;
  /** Settings a resumed run must repeat (maxSteps, gradientAccumulationSteps, ..., and the user's runConfig). */
  settings: Record<string, unknown>;
  /** Model class and trainable parameters `[name, shape]`. */
  model: { class: string; trainable: [string, number[]][] };
  /** Optimizer class, per-group hyper-parameters (with parameter indices) and per-parameter numbers. */
  optimizer: {
    class: string;
    paramGroups: OptimizerStateDict["paramGroups"];
    numbers: Record<string, Record<string, number>>;
  };
  /** Scheduler `stateDict()` (null when none). */
  scheduler: unknown;
  /** Random-generator states by name (`getState()` words; NaN written as null). */
  rng: Record<string, (number | null)[]>;
  /** Seconds spent in optimizer steps and in the loop so far. */
  seconds: { train: number; total: number };
  /** Log history so far. */
  log: { train: TrainLogEntry[]; eval: EvalLogEntry[] };
}

/** Everything a checkpoint restores. */
export interface LoadedCheckpoint {
  /** The folder. */
  dir: string;
  /** Parsed `trainer_state.json`. */
  state: TrainerState;
  /** Optimizer state in `Optimizer.loadStateDict` form. */
  optimizer: OptimizerStateDict;
  /** Trainable parameters by name. */
  parameters: Record<string, { shape: number[]; data: Float32Array }>;
}

/** `checkpoint-<step>` folders directly in `dir`, sorted by step (empty when `dir` does not exist). */
export async function listCheckpoints(dir: string): Promise<{ step: number; path: string }[]> {
  const out: { step: number; path: string }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^checkpoint-(\d+)$/.exec(e.name);
      if (m && e.isDirectory) out.push({ step: Number(m[1]), path: `${dir}/${e.name}` });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Writes a checkpoint folder `dir/checkpoint-<step>` atomically: everything goes into a hidden temporary
 * folder next to it, which is renamed when complete.
 *
 * @param extra writes more files into the temporary folder (e.g. the PEFT adapter) before the rename
 * @returns the final folder path
 */
export async function writeCheckpoint(
  dir: string,
  state: TrainerState,
  optimizer: OptimizerStateDict,
  parameters: Record<string, TensorLike>,
  extra?: (tmpDir: string) => Promise<void>,
): Promise<string> {
  const final = `${dir}/checkpoint-${state.globalStep}`;
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempNameFor(final);
  await Deno.mkdir(tmp);
  try {
    const tensors: Record<string, TensorLike> = {};
    const numbers: Record<string, Record<string, number>> = {};
    for (const [idx, s] of Object.entries(optimizer.state)) {
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === "number") (numbers[idx] ??= {})[k] = v;
        else tensors[`state.${idx}.${k}`] = v;
      }
    }
    state = { ...state, optimizer: { ...state.optimizer, paramGroups: optimizer.paramGroups, numbers } };
    await saveSafetensors(`${tmp}/${OPTIMIZER_NAME}`, tensors, { format: "c3a-optimizer" });
    await saveSafetensors(`${tmp}/${TRAINABLE_NAME}`, parameters, { format: "pt" });
    if (extra) await extra(tmp);
    await writeTextAtomic(`${tmp}/${TRAINER_STATE_NAME}`, JSON.stringify(state, null, 1) + "\n");
    await Deno.remove(final, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, final);
    return final;
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Reads a checkpoint folder, or the newest `checkpoint-<step>` inside a run's output folder.
 *
 * @throws {Error} one line naming the folder or file: no such folder, no checkpoint in it, a missing or
 *   foreign `trainer_state.json`, an unreadable tensor file
 */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const where = `resumeFrom "${path}"`;
  const st = await Deno.stat(path).catch(() => null);
  if (!st?.isDirectory) throw new Error(`${where}: no such folder`);
  let dir = path.replace(/\/+$/, "");
  const hasState = await Deno.stat(`${dir}/${TRAINER_STATE_NAME}`).then(() => true, () => false);
  if (!hasState) {
    const list = await listCheckpoints(dir);
    if (list.length === 0) {
      throw new Error(
        `${where}: neither ${TRAINER_STATE_NAME} nor a checkpoint-<step> folder is there; pass a folder written by ` +
          `train({ saveEvery, outputDir })`,
      );
    }
    dir = list[list.length - 1].path;
  }
  const file = `${dir}/${TRAINER_STATE_NAME}`;
  let state: TrainerState;
  try {
    state = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new Error(`${where}: ${file} cannot be read: ${(e as Error).message}`);
  }
  if (state?.format !== TRAINER_STATE_FORMAT) {
    throw new Error(
      `${where}: ${file} has format ${JSON.stringify(state?.format)}, expected "${TRAINER_STATE_FORMAT}" ` +
        `(not a checkpoint of train())`,
    );
  }
  const read = async (name: string) => {
    try {
      return (await loadSafetensors(`${dir}/${name}`)).tensors;
    } catch (e) {
      throw new Error(`${where}: ${dir}/${name}: ${(e as Error).message.split("\n")[0]}`);
    }
  };
  const opt = await read(OPTIMIZER_NAME);
  const parameters = await read(TRAINABLE_NAME);
  const optState: OptimizerStateDict["state"] = {};
  for (const [idx, nums] of Object.entries(state.optimizer.numbers)) optState[Number(idx)] = { ...nums };
  for (const [key, t] of Object.entries(opt)) {
    const m = /^state\.(\d+)\.(.+)$/.exec(key);
    if (!m) throw new Error(`${where}: ${dir}/${OPTIMIZER_NAME} has an unexpected tensor "${key}"`);
    (optState[Number(m[1])] ??= {})[m[2]] = { shape: t.shape, data: t.data };
  }
  return {
    dir,
    state,
    optimizer: { state: optState, paramGroups: state.optimizer.paramGroups },
    parameters,
  };
}
