// Real-size benchmark: load a Hugging Face checkpoint, time a no-grad forward 1 × T and a C3A training step
// B × T (forward, cross-entropy, backward, clip 1.0, AdamW), print one JSON line — the same fields as the
// PyTorch reference (../shared/perf/torch_reference.py `time`), so both sides can be run in one session.
//
//   deno run -A bench/scale_bench.ts --make smol135m|qwen05b|tiny_llama|tiny_qwen2 DIR
//        random-init F32 checkpoint in Hugging Face layout, streamed (MiBs of memory at any size); the
//        torch reference loads the same directory
//   deno run -A bench/scale_bench.ts DIR [--B 4 --T 256 --block 64 --threads 1 --steps 2 --fwd 2
//        --targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --dtype float32|bfloat16|float16]
//        (--dtype: the frozen base's storage, fromPretrained's torchDtype; compute stays float32)
//   deno run -A bench/scale_bench.ts DIR --fwd-only --B 8 --T 1024 [--fwd 1 --threads 2]
//        no-grad forwards of the whole B × T batch only (each timed, no warm-up)
//
// The first forward and the first step are warm-ups; the reported times are the medians of the rest.
// Peak RSS is the process's VmHWM (Linux), else the largest `Deno.memoryUsage().rss` seen between phases.
// Public API only (mod.ts). Not run by `deno bench` (no Deno.bench calls): it needs a multi-GiB checkpoint.

import { parseArgs } from "@std/cli";
import {
  AutoModelForCausalLM,
  C3AConfig,
  type DType,
  getPeftModel,
  manualSeed,
  nn,
  noGrad,
  optim,
  setNumThreads,
  tidy,
} from "../mod.ts";

/** The two shapes of issue 11 (their Hugging Face config.json), and tiny ones of each architecture for smoke runs. */
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
SHAPES.tiny_llama = {
  ...SHAPES.smol135m,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  vocab_size: 512,
};
SHAPES.tiny_qwen2 = {
  ...SHAPES.qwen05b,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 1000,
};

const args = parseArgs(Deno.args, {
  string: ["make", "targets", "dtype"],
  boolean: ["fwd-only"],
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

/** Hugging Face tensor names and shapes of a Llama/Qwen2 config (q/k/v biases for qwen2; lm_head only untied). */
function checkpointLayout(c: Record<string, unknown>): [string, number[]][] {
  const d = c.hidden_size as number, inter = c.intermediate_size as number, V = c.vocab_size as number;
  const hq = c.num_attention_heads as number, hkv = c.num_key_value_heads as number;
  const hd = (c.head_dim as number | undefined) ?? d / hq;
  const qkvBias = c.model_type === "qwen2";
  const out: [string, number[]][] = [["model.embed_tokens.weight", [V, d]], ["model.norm.weight", [d]]];
  if (!c.tie_word_embeddings) out.push(["lm_head.weight", [V, d]]);
  for (let i = 0; i < (c.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}.`;
    out.push([`${p}input_layernorm.weight`, [d]], [`${p}post_attention_layernorm.weight`, [d]]);
    for (const [n, o] of [["q_proj", hq * hd], ["k_proj", hkv * hd], ["v_proj", hkv * hd]] as const) {
      out.push([`${p}self_attn.${n}.weight`, [o, d]]);
      if (qkvBias) out.push([`${p}self_attn.${n}.bias`, [o]]);
    }
    out.push([`${p}self_attn.o_proj.weight`, [d, hq * hd]]);
    out.push([`${p}mlp.gate_proj.weight`, [inter, d]], [`${p}mlp.up_proj.weight`, [inter, d]]);
    out.push([`${p}mlp.down_proj.weight`, [d, inter]]);
  }
  return out.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/**
 * Writes a random-init F32 checkpoint (weights and biases N(0, 0.02²), norms 1) in Hugging Face layout,
 * streamed tensor by tensor (a few MiB of memory whatever the model size), via a temporary name.
 */
async function makeCheckpoint(shape: string, dir: string): Promise<void> {
  const cfg = SHAPES[shape];
  const layout = checkpointLayout(cfg);
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const [name, shp] of layout) {
    const bytes = shp.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: "F32", shape: shp, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - json.length % 8) % 8);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir}/model.safetensors.tmp`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    const head = new Uint8Array(8 + json.length);
    new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
    head.set(new TextEncoder().encode(json), 8);
    await writeAll(f, head);
    let s = 1; // xorshift32 seed; Box–Muller pairs
    const uniform = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return ((s >>> 0) + 1) / 4294967297;
    };
    const chunk = new Float32Array(1 << 20);
    for (const [name, shp] of layout) {
      let left = shp.reduce((a, b) => a * b, 1);
      const norm = name.endsWith("norm.weight");
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        if (norm) chunk.fill(1, 0, n);
        else {
          for (let i = 0; i < n; i += 2) {
            const r = 0.02 * Math.sqrt(-2 * Math.log(uniform())), t = 2 * Math.PI * uniform();
            chunk[i] = r * Math.cos(t);
            if (i + 1 < n) chunk[i + 1] = r * Math.sin(t);
          }
        }
        await writeAll(f, new Uint8Array(chunk.buffer, 0, n * 4));
        left -= n;
      }
    }
  } finally {
    f.close();
  }
  await Deno.rename(tmp, `${dir}/model.safetensors`);
  // The Hugging Face config of the shape (the same as the torch reference's `make`), via a temporary name.
  await Deno.writeTextFile(`${dir}/config.json.tmp`, JSON.stringify(cfg, null, 1));
  await Deno.rename(`${dir}/config.json.tmp`, `${dir}/config.json`);
}

async function writeAll(f: Deno.FsFile, b: Uint8Array): Promise<void> {
  for (let o = 0; o < b.length;) o += await f.write(b.subarray(o));
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
  const t = performance.now();
  await makeCheckpoint(shape, dir);
  console.log(JSON.stringify({ made: dir, ms: Math.round(performance.now() - t) }));
  Deno.exit(0);
}

const ckpt = String(args._[0] ?? "");
if (!ckpt) throw new RangeError("give a checkpoint directory (or --make smol135m|qwen05b DIR)");
const B = Number(args.B), T = Number(args.T), threads = Number(args.threads);
setNumThreads(threads);

sampleRss();
let t0 = performance.now();
const torchDtype = (args.dtype ?? "float32") as DType;
const base = await AutoModelForCausalLM.fromPretrained(ckpt, { torchDtype });
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

if (args["fwd-only"]) {
  // One or more no-grad forwards of the whole B × T batch (no warm-up: each one is reported).
  const times: number[] = [];
  for (let i = 0; i < Math.max(1, Number(args.fwd)); i++) {
    t0 = performance.now();
    // No tidy: a tidy scope holds every intermediate until it ends (all layers' activations at once);
    // without it each layer's temporaries are garbage as soon as the next layer has read them.
    noGrad(() => void base.forward(input, { shape: [B, T] }));
    times.push(performance.now() - t0);
    sampleRss();
  }
  console.log(JSON.stringify({
    ckpt,
    side: "c3a",
    mode: "fwd-only",
    threads,
    dtype: torchDtype,
    B,
    T,
    load_ms: Math.round(loadMs),
    fwd_ms: times.map(Math.round),
    tokens_per_s: Math.round(B * T / median(times) * 1e4) / 10,
    peak_rss_bytes: Math.max(vmHwm(), peakRss),
  }));
  Deno.exit(0);
}

const fwd: number[] = [];
for (let i = 0; i < Number(args.fwd) + 1; i++) {
  t0 = performance.now();
  noGrad(() => tidy(() => base.forward(input.subarray(0, T), { shape: [1, T] })));
  fwd.push(performance.now() - t0);
  sampleRss();
}

manualSeed(0);

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
  dtype: torchDtype,
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
