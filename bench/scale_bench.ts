// Real-size benchmark: load a Hugging Face checkpoint, time a no-grad forward 1 × T and a C3A training step
// B × T (forward, cross-entropy, backward, clip 1.0, AdamW), print one JSON line — the same fields as the
// PyTorch reference (../shared/perf/torch_reference.py `time`), so both sides can be run in one session.
//
//   deno run -A bench/scale_bench.ts --make smol135m|qwen05b DIR     random-init checkpoint (HF layout)
//   deno run -A bench/scale_bench.ts DIR [--B 4 --T 256 --block 64 --threads 1 --steps 2 --fwd 2
//        --targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]
//
// The first forward and the first step are warm-ups; the reported times are the medians of the rest.
// Peak RSS is the process's VmHWM (Linux), else the largest `Deno.memoryUsage().rss` seen between phases.
// Public API only (mod.ts). Not run by `deno bench` (no Deno.bench calls): it needs a multi-GiB checkpoint.

import { parseArgs } from "@std/cli";
import {
  AutoModelForCausalLM,
  C3AConfig,
  getPeftModel,
  LlamaForCausalLM,
  manualSeed,
  nn,
  noGrad,
  optim,
  setNumThreads,
  tidy,
} from "../mod.ts";

/** The two shapes of issue 11 (their Hugging Face config.json). */
const SHAPES: Record<string, Record<string, unknown>> = {
  smol135m: {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    head_dim: 64,
    vocab_size: 49152,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true,
    hidden_act: "silu",
    max_position_embeddings: 8192,
    torch_dtype: "float32",
  },
  qwen05b: {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    vocab_size: 151936,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    hidden_act: "silu",
    max_position_embeddings: 32768,
    sliding_window: 32768,
    use_sliding_window: false,
    torch_dtype: "float32",
  },
};

const args = parseArgs(Deno.args, {
  string: ["make", "targets"],
  default: {
    B: 4,
    T: 256,
    block: 64,
    threads: 1,
    steps: 2,
    fwd: 2,
    targets: "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
  },
});

let peakRss = 0;
function sampleRss(): void {
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
}
function vmHwm(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return 0;
}
const median = (x: number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];

/** Deterministic token ids in [0, v) (a 32-bit LCG; the torch side draws its own seeded ids). */
function ids(n: number, v: number): Int32Array {
  const out = new Int32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % v;
  }
  return out;
}

if (args.make !== undefined) {
  const shape = args.make;
  const dir = String(args._[0] ?? "");
  if (!(shape in SHAPES)) {
    throw new RangeError(`--make: shape must be one of ${Object.keys(SHAPES)}, got ${shape}`);
  }
  if (!dir) throw new RangeError("--make: give the output directory after the shape");
  const exists = await Deno.stat(`${dir}/model.safetensors`).then(() => true, () => false);
  if (exists) {
    throw new Error(`--make: ${dir}/model.safetensors exists; give a new directory (nothing overwritten)`);
  }
  manualSeed(1);
  // Random init (N(0, 0.02) weights, unit norms) by the constructor; saved in HF layout.
  const model = new LlamaForCausalLM(
    {
      ...(SHAPES[shape] as Record<string, number>),
      attention_bias: shape === "qwen05b",
    } as unknown as ConstructorParameters<typeof LlamaForCausalLM>[0],
  );
  await model.savePretrained(dir);
  // The Hugging Face config of the shape (what the torch reference writes), via a temporary name.
  await Deno.writeTextFile(`${dir}/config.json.tmp`, JSON.stringify(SHAPES[shape], null, 1));
  await Deno.rename(`${dir}/config.json.tmp`, `${dir}/config.json`);
  console.log(JSON.stringify({ made: dir }));
  Deno.exit(0);
}

const ckpt = String(args._[0] ?? "");
if (!ckpt) throw new RangeError("give a checkpoint directory (or --make smol135m|qwen05b DIR)");
const B = Number(args.B), T = Number(args.T), threads = Number(args.threads);
setNumThreads(threads);

sampleRss();
let t0 = performance.now();
const base = await AutoModelForCausalLM.fromPretrained(ckpt);
const loadMs = performance.now() - t0;
sampleRss();
const V = base.config.vocab_size;
const data = ids(B * (T + 1), V);
const input = new Int32Array(B * T), target = new Int32Array(B * T);
for (let b = 0; b < B; b++) {
  for (let t = 0; t < T; t++) {
    input[b * T + t] = data[b * (T + 1) + t];
    target[b * T + t] = data[b * (T + 1) + t + 1];
  }
}

const fwd: number[] = [];
for (let i = 0; i < Number(args.fwd) + 1; i++) {
  t0 = performance.now();
  noGrad(() => tidy(() => base.forward(input.subarray(0, T), { shape: [1, T] })));
  fwd.push(performance.now() - t0);
  sampleRss();
}

const model = getPeftModel(
  base,
  new C3AConfig({
    blockSize: Number(args.block),
    targetModules: String(args.targets).split(","),
    initWeights: "xavier_uniform",
  }),
);
const params = model.parameters().filter((p) => p.requiresGrad);
const opt = new optim.AdamW(params, { lr: 0.3, weightDecay: 1e-5 });
const steps: number[] = [], losses: number[] = [];
for (let i = 0; i < Number(args.steps) + 1; i++) {
  t0 = performance.now();
  const loss = tidy(() => {
    const logits = model.forward(input, { shape: [B, T] });
    const l = nn.functional.crossEntropy(logits.reshape([B * T, V]), target);
    l.backward();
    nn.utils.clipGradNorm(params, 1.0);
    opt.step();
    opt.zeroGrad();
    return l.item();
  });
  steps.push(performance.now() - t0);
  losses.push(loss);
  sampleRss();
}
const stepMs = median(steps.slice(1));
console.log(JSON.stringify({
  ckpt,
  side: "c3a",
  threads,
  B,
  T,
  load_ms: Math.round(loadMs),
  fwd_ms: Math.round(median(fwd.slice(1))),
  step_ms: Math.round(stepMs),
  steps_ms: steps.map(Math.round),
  tokens_per_s: Math.round(B * T / stepMs * 1e4) / 10,
  peak_rss_bytes: Math.max(vmHwm(), peakRss),
  losses: losses.map((x) => Math.round(x * 1e5) / 1e5),
}));
