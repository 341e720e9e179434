/**
 * The browser page's fine-tuning job, written once and run in two places: the page's Web Worker
 * (`worker.ts`, bundled by `bundle.ts` with `mod.ts` mapped to the library bundle `dist/c3a.js`) and
 * Deno (`tests/browser_test.ts` runs it on `mod.ts` and compares the losses with the page's).
 *
 * It is the main job (`examples/finetune.ts`) with its defaults — C3A on every projection but
 * `k_proj`, block size from `suggestBlockSize`, AdamW (lr 0.3, weight decay 1e-5), 10 linear warm-up
 * steps then linear decay to 0, gradient norm clipped to 1, batches of 8 × 128 bytes drawn with the
 * same seeded sampler, held-out bits per byte on the same split — with two differences a page needs:
 * every value is read with `await tensor.data()` (a browser's WebGPU backend has no synchronous reads)
 * and the loop yields to the event loop after each step, so a Stop message is seen and progress is
 * posted while it runs. Samples come from the main job's sampler (`generate` of lib/lm.ts over the
 * library's `generate`: top-p 0.9, temperature 0.8, seeded).
 *
 * @module
 */

import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_SAFE_WEIGHTS_NAME,
  adapterToFiles,
  C3AConfig,
  type C3AModel,
  decodeSafetensors,
  encodeSafetensors,
  getBackend,
  getPeftModel,
  type LlamaConfig,
  LlamaForCausalLM,
  manualSeed,
  nn,
  noGrad,
  optim,
  PreTrainedTokenizer,
  suggestBlockSize,
  type Tensor,
  tidy,
} from "../../mod.ts";
import {
  batchFromOffsets,
  docsFromText,
  evalOffsets,
  MIN_TEXT_BYTES,
  Rng,
  sampleBatch,
  splitDocs,
  tokenize,
} from "../lib/data.ts";
import { type CausalLM, generate, lmLoss } from "../lib/lm.ts";

/** The main job's defaults (`examples/finetune.ts`, method c3a); the browser test checks they agree. */
export const FINETUNE_DEFAULTS = {
  /** Optimizer steps. */
  steps: 200,
  /** Peak learning rate. */
  lr: 0.3,
  /** AdamW weight decay. */
  weightDecay: 1e-5,
  /** Linear warm-up steps, then linear decay to 0. */
  warmup: 10,
  /** Sequences per step. */
  batchSize: 8,
  /** Bytes per sequence. */
  seqLen: 128,
  /** Held-out evaluation every this many steps (and at the end). */
  evalEvery: 25,
  /** Held-out windows of `seqLen` bytes. */
  evalWindows: 32,
  /** Bytes generated for each sample. */
  sampleLength: 120,
  /** Seed of the adapter initialisation, the batches and the sampler. */
  seed: 0,
  /** Global gradient-norm clip. */
  clipNorm: 1,
  /** C3A targets. */
  targets: ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as string[],
  /** C3A kernel initialisation (PEFT's default). */
  initWeights: "xavier_uniform",
};

/** Settings of a run; anything left out is {@link FINETUNE_DEFAULTS}. */
export type JobOptions = Partial<typeof FINETUNE_DEFAULTS>;

/** A problem with the user's input (text, file, settings): shown in the page as it is. */
export class InputError extends Error {
  /** @param message one line in plain words, saying what is wrong and what to do */
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** The base model: HF `config.json` (parsed) and the bytes of `model.safetensors`. */
export interface Checkpoint {
  /** `config.json` of a byte-level Llama (vocab_size 256). */
  config: LlamaConfig & Record<string, unknown>;
  /** `model.safetensors`. */
  weights: Uint8Array;
  /** Recorded as `base_model_name_or_path` in the adapter config. */
  name: string;
  /** The checkpoint's `tokenizer.json` (parsed): byte-level, id = UTF-8 byte. */
  tokenizerJson: Record<string, unknown>;
  /** The checkpoint's `tokenizer_config.json` (parsed). */
  tokenizerConfig: Record<string, unknown>;
}

/** A text tokenizer as the job uses it (the checkpoint's `PreTrainedTokenizer`). */
export interface TextTokenizer {
  /** Text → ids. */
  encode(text: string, options: { addSpecialTokens: boolean }): number[];
}

/**
 * The checkpoint's tokenizer, checked to be byte-level (the job counts bits per byte).
 * @throws {InputError} a tokenizer whose ids are not the UTF-8 bytes.
 */
export function checkpointTokenizer(checkpoint: Checkpoint): PreTrainedTokenizer {
  const tok = new PreTrainedTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig);
  const probe = "A é→";
  const ids = tok.encode(probe, { addSpecialTokens: false });
  const bytes = new TextEncoder().encode(probe);
  if (ids.length !== bytes.length || ids.some((v, i) => v !== bytes[i])) {
    throw new InputError(
      `the checkpoint's tokenizer.json is not byte-level ("${probe}" -> [${ids.join(", ")}])`,
    );
  }
  return tok;
}

/** The text after checks: its split and token streams (bytes). */
export interface PreparedText {
  /** UTF-8 bytes of the whole text. */
  bytes: number;
  /** Training byte stream (documents joined as `--text` joins them). */
  train: Uint8Array;
  /** Held-out byte stream. */
  heldOut: Uint8Array;
  /** Held-out window starts. */
  offsets: number[];
  /** First 48 characters of the first held-out document: the sampling prompt (as the main job). */
  prompt: string;
}

/**
 * Splits a user's text exactly as `finetune.ts --text` does (pseudo-documents, every 10th held out).
 *
 * @throws {InputError} a text shorter than {@link MIN_TEXT_BYTES} bytes, or one whose training or
 *   held-out part is shorter than a window of `seqLen + 1` bytes; the message says how much is needed.
 */
export function prepareText(
  text: string,
  seqLen: number,
  evalWindows: number,
  tokenizer: TextTokenizer,
): PreparedText {
  const bytes = new TextEncoder().encode(text).length;
  const more = (need: number) =>
    `The text has ${bytes.toLocaleString("en-US")} bytes; at least ${need.toLocaleString("en-US")} are ` +
    `needed: add ${(need - bytes).toLocaleString("en-US")} more bytes (about ${
      Math.ceil((need - bytes) / 6)
    } words).`;
  if (bytes < MIN_TEXT_BYTES) throw new InputError(more(MIN_TEXT_BYTES));
  const split = splitDocs(docsFromText(text, "text"));
  const train = tokenize(split.train, tokenizer);
  const heldOut = tokenize(split.heldOut, tokenizer);
  if (train.length < seqLen + 1 || heldOut.length < seqLen + 1) {
    // The held-out part is about a tenth of the text.
    throw new InputError(more(Math.max(MIN_TEXT_BYTES, Math.ceil(bytes * (seqLen + 1) / heldOut.length))));
  }
  return {
    bytes,
    train,
    heldOut,
    offsets: evalOffsets(heldOut, seqLen, evalWindows),
    prompt: split.heldOut[0].text.slice(0, 48),
  };
}

/** What the job reports after each step. */
export interface StepReport {
  /** Step just done, 1-based. */
  step: number;
  /** Steps planned. */
  steps: number;
  /** Training loss of this step's batch, bits per byte. */
  trainBpb: number;
  /** Learning rate used for this step. */
  lr: number;
  /** Training tokens per second so far (steps only). */
  tokensPerSecond: number;
  /** Seconds since training started (evaluations included). */
  elapsedSeconds: number;
  /** Estimated seconds until the last step, at the pace so far. */
  etaSeconds: number;
}

/** Callbacks of {@link runFinetune}; all optional. */
export interface JobEvents {
  /** A phase starts ("loading model", "evaluating", "sampling", …). */
  phase?(text: string): void;
  /** Setup done: numbers for the page's header. */
  start?(info: JobInfo): void;
  /** After every training step. */
  step?(r: StepReport): void;
  /** A held-out evaluation (step 0 = before training, with the adapter's initial kernels). */
  eval?(r: { step: number; bpb: number }): void;
  /** Polled after every step: true ends training there (what was trained is kept). */
  shouldStop?(): boolean;
}

/** Setup numbers. */
export interface JobInfo {
  /** Current backend name ("wasm" or "webgpu"). */
  backend: string;
  /** Block size from `suggestBlockSize`. */
  blockSize: number;
  /** Adapted module paths. */
  layers: string[];
  /** Trainable parameters. */
  trainableParams: number;
  /** All parameters of the wrapped model. */
  totalParams: number;
  /** Text bytes, training bytes, held-out bytes, held-out windows. */
  data: { bytes: number; trainBytes: number; heldOutBytes: number; windows: number };
  /** The settings in force. */
  options: typeof FINETUNE_DEFAULTS;
}

/** What a run produced. */
export interface JobResult extends JobInfo {
  /** Held-out bits per byte of the pretrained model. */
  bpbBefore: number;
  /** Held-out bits per byte after training (the last evaluation). */
  bpbAfter: number;
  /** Training loss of every step, bits per byte. */
  train: { step: number; value: number }[];
  /** Held-out evaluations, bits per byte. */
  eval: { step: number; value: number }[];
  /** Steps done (fewer than planned when stopped). */
  stepsDone: number;
  /** True when Stop ended training early. */
  stopped: boolean;
  /** Seconds of the training steps alone, and of the loop with its evaluations. */
  trainSeconds: number;
  /** Wall time of the loop (steps + evaluations), seconds. */
  loopSeconds: number;
  /** Training tokens per second (steps only). */
  tokensPerSecond: number;
  /** Samples from the same prompt and seed, before and after. */
  samples: { prompt: string; before: string; after: string };
  /** PEFT's two adapter files. */
  adapter: { config: string; weights: Uint8Array };
}

/** Gives the event loop a turn (a message such as Stop is handled; WebGPU work is flushed). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Held-out bits per byte, as `evaluateBpb` (lib/lm.ts) computes it, with asynchronous reads. */
export async function evaluateBpbAsync(
  model: CausalLM & { training: boolean; eval(): unknown; train(mode?: boolean): unknown },
  tokens: Uint8Array,
  offsets: readonly number[],
  seqLen: number,
  batchSize = 8,
): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  try {
    let sum = 0;
    for (let i = 0; i < offsets.length; i += batchSize) {
      const chunk = offsets.slice(i, i + batchSize);
      const loss = noGrad(() => lmLoss(model, batchFromOffsets(tokens, chunk, seqLen)));
      const nats = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(nats)) throw new Error(`held-out loss is not finite (${nats}) at window ${i}`);
      sum += nats * chunk.length;
    }
    return sum / offsets.length / Math.LN2;
  } finally {
    model.train(wasTraining);
  }
}

/** The Linear layers the targets select (PEFT list rule: exact name or `.`-suffix). */
function targetLinears(model: LlamaForCausalLM, targets: readonly string[]): [string, nn.Linear][] {
  const linears = model.namedModules().filter((e): e is [string, nn.Linear] => e[1] instanceof nn.Linear);
  const hits = linears.filter(([n]) => targets.some((t) => n === t || n.endsWith("." + t)));
  if (hits.length === 0) {
    throw new InputError(`the targets ${targets.join(", ")} match no layer of the model`);
  }
  return hits;
}

/**
 * The adapter's two PEFT files. On wasm through the library's pure `adapterToFiles`; a browser's WebGPU
 * backend has no synchronous reads (which `adapterToFiles` uses), so there the kernels (the only
 * adapter tensors with the page's settings: bias "none", no modules_to_save) are read with `await`
 * under PEFT's keys, and the config is written as `adapterToFiles` writes it for this model.
 */
async function adapterFiles(model: C3AModel, config: C3AConfig): Promise<JobResult["adapter"]> {
  if (getBackend().name === "wasm") {
    const files = adapterToFiles(model);
    return { config: files[ADAPTER_CONFIG_NAME], weights: files[ADAPTER_SAFE_WEIGHTS_NAME] };
  }
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [path, layer] of model.c3aLayers()) {
    const k = layer.c3a_kernel.get("default") as Tensor;
    tensors[`base_model.model.${path}.c3a_kernel`] = { shape: [...k.shape], data: await k.data() };
  }
  return {
    config: config.toJSONString({ inference_mode: true }),
    weights: encodeSafetensors(tensors, { format: "pt" }),
  };
}

/**
 * Runs the fine-tuning job on the current backend: loads the checkpoint, evaluates and samples the
 * pretrained model, wraps it with C3A, trains (stoppable), evaluates and samples again, and returns
 * the numbers and the adapter files.
 *
 * @throws {InputError} bad text or settings (before any training)
 * @throws {Error} the library's errors (a corrupt checkpoint, a WebGPU failure, out of memory)
 */
export async function runFinetune(
  checkpoint: Checkpoint,
  text: string,
  options: JobOptions = {},
  events: JobEvents = {},
): Promise<JobResult> {
  const o = { ...FINETUNE_DEFAULTS, ...options };
  for (const k of ["steps", "batchSize", "seqLen", "evalWindows"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) {
      throw new InputError(`${k} must be a whole number >= 1, got ${o[k]}`);
    }
  }
  if (!Number.isInteger(o.evalEvery) || o.evalEvery < 0) {
    throw new InputError(`evalEvery must be a whole number >= 0, got ${o.evalEvery}`);
  }
  if (!(o.lr >= 0 && Number.isFinite(o.lr))) {
    throw new InputError(`the learning rate must be >= 0, got ${o.lr}`);
  }
  if (checkpoint.config.vocab_size !== 256) {
    throw new InputError(
      `the checkpoint has vocab_size ${checkpoint.config.vocab_size}; this page feeds bytes (256)`,
    );
  }
  const maxPos = Number(checkpoint.config.max_position_embeddings);
  if (o.seqLen > maxPos) {
    throw new InputError(`seqLen ${o.seqLen} exceeds the checkpoint's max_position_embeddings ${maxPos}`);
  }
  const tok = checkpointTokenizer(checkpoint);
  const data = prepareText(text, o.seqLen, o.evalWindows, tok);

  events.phase?.("loading the model");
  const model = new LlamaForCausalLM(checkpoint.config, { init: false });
  model.loadHfStateDict(decodeSafetensors(checkpoint.weights).tensors);
  model.eval();
  const layers = targetLinears(model, o.targets);
  const blockSize = suggestBlockSize(layers.map(([, m]) => [m.inFeatures, m.outFeatures]))[0].blockSize;

  const prompt = Uint8Array.from(tok.encode(data.prompt));
  events.phase?.("evaluating the pretrained model");
  const bpbBefore = await evaluateBpbAsync(model, data.heldOut, data.offsets, o.seqLen);
  // The main job's sampler (lib/lm.ts: the library's generate, top-p 0.9, temperature 0.8, seeded).
  const sample = async (m: LlamaForCausalLM | C3AModel) =>
    o.sampleLength > 0
      ? tok.decode(
        await generate(m, prompt, { length: o.sampleLength, context: o.seqLen, topK: 0, seed: o.seed }),
      )
      : "";
  events.phase?.("sampling from the pretrained model");
  const sampleBefore = await sample(model);

  manualSeed(o.seed);
  const config = new C3AConfig({
    blockSize,
    targetModules: o.targets,
    taskType: "CAUSAL_LM",
    initWeights: o.initWeights === "zeros" ? true : o.initWeights as "xavier_uniform",
    baseModelNameOrPath: checkpoint.name,
  });
  const trained = getPeftModel(model, config);
  const asLm = trained as unknown as LlamaForCausalLM;
  const params = trained.parameters().filter((p) => p.requiresGrad);
  const [trainableParams, totalParams] = trained.getNbTrainableParameters();
  const info: JobInfo = {
    backend: getBackend().name,
    blockSize,
    layers: layers.map(([n]) => n),
    trainableParams,
    totalParams,
    data: {
      bytes: data.bytes,
      trainBytes: data.train.length,
      heldOutBytes: data.heldOut.length,
      windows: data.offsets.length,
    },
    options: o,
  };
  events.start?.(info);

  const steps = o.steps;
  const warmup = Math.min(o.warmup, steps);
  const optimizer = new optim.AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
  const scheduler = new optim.LambdaLR(
    optimizer,
    (s) => s < warmup ? (s + 1) / warmup : Math.max(0, (steps - s) / Math.max(1, steps - warmup)),
  );
  const evals: { step: number; value: number }[] = [];
  const evaluate = async (step: number) => {
    const bpb = await evaluateBpbAsync(asLm, data.heldOut, data.offsets, o.seqLen);
    evals.push({ step, value: bpb });
    events.eval?.({ step, bpb });
  };
  events.phase?.("evaluating the adapter's starting point");
  await evaluate(0);

  events.phase?.("training");
  const rng = new Rng(o.seed);
  const train: { step: number; value: number }[] = [];
  const t0 = performance.now();
  let trainMs = 0;
  let stopped = false;
  let step = 0;
  asLm.train();
  while (step < steps) {
    step++;
    const ts = performance.now();
    const batch = sampleBatch(data.train, o.batchSize, o.seqLen, rng);
    const lr = optimizer.paramGroups[0].lr;
    const loss = tidy(() => {
      const l = lmLoss(asLm, batch);
      l.backward();
      return l;
    });
    const nats = (await loss.data())[0];
    loss.dispose();
    if (!Number.isFinite(nats)) {
      throw new InputError(
        `the training loss became ${nats} at step ${step}; lower the learning rate (now ${lr})`,
      );
    }
    tidy(() => {
      if (o.clipNorm > 0) nn.utils.clipGradNorm(params, o.clipNorm);
      optimizer.step();
    });
    optimizer.zeroGrad();
    scheduler.step();
    trainMs += performance.now() - ts;
    train.push({ step, value: nats / Math.LN2 });
    await yieldToEventLoop();
    stopped = step < steps && (events.shouldStop?.() ?? false);
    const elapsed = (performance.now() - t0) / 1000;
    events.step?.({
      step,
      steps,
      trainBpb: nats / Math.LN2,
      lr,
      tokensPerSecond: (step * o.batchSize * o.seqLen) / Math.max(1e-9, trainMs / 1000),
      elapsedSeconds: elapsed,
      etaSeconds: stopped ? 0 : (elapsed / step) * (steps - step),
    });
    if ((o.evalEvery > 0 && step % o.evalEvery === 0) || step === steps || stopped) await evaluate(step);
    if (stopped) break;
  }
  const loopSeconds = (performance.now() - t0) / 1000;
  events.phase?.("sampling from the fine-tuned model");
  const sampleAfter = await sample(trained);
  events.phase?.("writing the adapter files");
  const adapter = await adapterFiles(trained, config);
  return {
    ...info,
    bpbBefore,
    bpbAfter: evals[evals.length - 1].value,
    train,
    eval: evals,
    stepsDone: step,
    stopped,
    trainSeconds: trainMs / 1000,
    loopSeconds,
    tokensPerSecond: (step * o.batchSize * o.seqLen) / Math.max(1e-9, trainMs / 1000),
    samples: { prompt: data.prompt, before: sampleBefore, after: sampleAfter },
    adapter,
  };
}
