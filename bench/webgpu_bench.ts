// WebGPU vs wasm, side by side, in one process.
//
//   deno bench -A bench/webgpu_bench.ts          the light groups as Deno.bench (deno task bench)
//   deno run -A bench/webgpu_bench.ts [--shape 135m|small] [--json FILE] [--skip-train]
//                                                every group timed here (median of a few runs after a
//                                                warm-up), a table, and a JSON summary (one line
//                                                "JSON {...}", and FILE when given)
//
// Groups (baseline = wasm): batched rfft+irfft (n = 1024 and Bluestein n = 1031 ×64, n = 256 ×4096); a C3A
// layer forward + backward through blockCircularConvolution (T = 256, in = out = 512, b = 64; and the
// 135M model's T = 1024, d = 576, b = 64); sgemm through Backend.matmul (512 × 1024 × 1024, the DESIGN
// target's shape, and 1024 × 576 × 1536, the 135M model's MLP); one fine-tuning step (forward, backward,
// clipGradNorm, AdamW) of a tiny Llama with C3A on q/v ([4, 32] tokens), and in `deno run` mode of the
// SmolLM2-135M-shaped model (hidden 576, 30 layers, 9 heads, 3 KV heads, intermediate 1536, vocab 49152,
// tied embeddings, rope_theta 1e5, random init; 4 × 256 tokens; C3A b = 64 on q/k/v/o/gate/up/down;
// `--shape small` keeps the widths but 2 layers, vocab 8192 and 2 × 64 tokens, for software adapters).
// The 135M model is built once on wasm, stepped there, then moved with model.to("webgpu") and stepped
// there; before stepping, one no-grad loss on each backend checks they agree.
//
// Each WebGPU run ends with a blocking read so the timing covers the GPU work. The adapter is printed
// first: on llvmpipe/SwiftShader (software) the numbers show that the path works, not GPU speed.
// Without an adapter only the wasm side runs. The wasm side uses every core (setNumThreads).
import * as lib from "../mod.ts";
import { type Backend, backendNamed } from "../src/backend/backend.ts";
import { irfft, rfft } from "../src/fft/rfft.ts";
import { destroyWebGPU, initWebGPU } from "../src/backend/webgpu/mod.ts";
import type { WebGPUBackend } from "../src/backend/webgpu/mod.ts";
import { manualSeed, noGrad, type Tensor, tidy } from "../src/tensor/index.ts";
import { blockCircularConvolution } from "../src/ops/circulant.ts";
import { causalLmLoss, type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { clipGradNorm } from "../src/optim/clip_grad.ts";

const script = import.meta.main;
const argv = script ? Deno.args : [];
function flag(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(
    "usage: deno run -A bench/webgpu_bench.ts [--shape 135m|small] [--json FILE] [--skip-train]\n" +
      "  WebGPU vs wasm side by side: FFT, C3A fwd+bwd, sgemm, training steps; a table and a JSON summary.",
  );
  Deno.exit(0);
}
const shape = flag("shape") ?? "135m";
if (shape !== "135m" && shape !== "small") {
  throw new RangeError(`--shape must be 135m or small, got ${shape}`);
}
const jsonPath = flag("json");
const skipTrain = argv.includes("--skip-train");

// the wasm side on every core (the threaded executor), as the peer of the GPU
const threads = Math.min(256, Math.max(1, navigator.hardwareConcurrency));
lib.setNumThreads(threads);

const wasm = backendNamed("wasm");
const gpu: WebGPUBackend | null = await initWebGPU();
const adapter = gpu ? gpu.describe() : "none (WebGPU runs skipped)";
console.log(`adapter: ${adapter}`);
console.log(`wasm threads: ${threads}; Deno ${Deno.version.deno}; ${navigator.hardwareConcurrency} CPUs`);

function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

/** One timed thing: `make` prepares (untimed) and returns the function to time. */
interface Case {
  group: string;
  backend: "wasm" | "webgpu";
  /** Only in `deno run` mode (too slow for deno bench's many iterations). */
  heavy?: boolean;
  /** Timed runs after one warm-up (script mode). */
  runs?: number;
  make: () => () => void;
}
const cases: Case[] = [];
function pair(
  group: string,
  wasmFn: () => () => void,
  gpuFn: ((g: WebGPUBackend) => () => void) | null,
  o = {},
) {
  cases.push({ group, backend: "wasm", make: wasmFn, ...o });
  if (gpu && gpuFn) cases.push({ group, backend: "webgpu", make: () => gpuFn(gpu), ...o });
}

// ---------------------------------------------------------------- FFT
for (const [n, batch] of [[1024, 64], [1031, 64], [256, 4096]]) {
  const x = data(n * batch, n);
  pair(`rfft+irfft n=${n} x${batch}`, () => () => {
    irfft(rfft(x, n, batch), n, batch);
  }, (g) => {
    const xs = g.fromArray(x);
    return () => {
      const s = g.run("rfft", { x: xs }, { n, batch }).y;
      const y = g.run("irfft", { x: s }, { n, batch }).y;
      g.readSync(y);
      g.dispose(s);
      g.dispose(y);
    };
  });
}

// ---------------------------------------------------------------- C3A layer (the op, forward + backward)
for (const [rows, d, b] of [[256, 512, 64], [1024, 576, 64]]) {
  const x = data(rows * d, 1), w = data((d / b) * (d / b) * b, 2), g = data(rows * d, 3);
  const step = (be: Backend) => () => {
    const on = (a: Float32Array, s: number[]) => lib.Tensor.fromStorage(be.fromArray(a), s);
    const xt = on(x, [rows, d]).requiresGrad_(), wt = on(w, [d / b, d / b, b]).requiresGrad_();
    const gt = on(g, [rows, d]);
    return () =>
      tidy(() => {
        xt.grad = null;
        wt.grad = null;
        blockCircularConvolution(xt, wt).backward(gt);
        be.readSync(wt.grad!.storage);
        xt.grad!.dispose();
        wt.grad!.dispose();
      });
  };
  pair(`C3A fwd+bwd T=${rows} d=${d} b=${b}`, step(wasm), (gp) => step(gp)());
}

// ---------------------------------------------------------------- sgemm (Backend.matmul)
for (const [m, k, n] of [[512, 1024, 1024], [1024, 576, 1536]]) {
  const a = data(m * k, 4), b = data(k * n, 5);
  const mm = (be: Backend) => () => {
    const as = be.fromArray(a), bs = be.fromArray(b);
    return () => {
      const c = be.matmul(as, bs, { m, n, k });
      be.readSync(c);
      be.dispose(c);
    };
  };
  pair(`sgemm ${m}x${k}x${n}`, mm(wasm), (g) => mm(g)());
}

// ---------------------------------------------------------------- training steps
interface Trainer {
  step: () => number;
  model: lib.nn.Module;
}
function trainer(config: LlamaConfig, c3a: C3AConfig, batch: number, seq: number, seed: number) {
  manualSeed(seed);
  const model = getPeftModel(new LlamaForCausalLM(config), c3a);
  const ids = Array.from(
    { length: batch },
    (_, r) => Array.from({ length: seq }, (_, t) => (r * 7919 + t * 104729) % config.vocab_size),
  );
  return {
    model,
    ids,
    /** A step function for the model's current backend (optimizer made here, after any move). */
    stepper(): Trainer {
      const params = model.parameters().filter((p) => p.requiresGrad);
      const opt = new AdamW(params, { lr: 1e-3 });
      const step = () =>
        tidy(() => {
          const loss = causalLmLoss(model.forward(ids), ids);
          loss.backward();
          clipGradNorm(params, 1);
          opt.step();
          opt.zeroGrad(false);
          return loss.item();
        });
      return { step, model };
    },
    loss(): number {
      return noGrad(() => tidy(() => causalLmLoss(model.forward(ids) as Tensor, ids).item()));
    },
  };
}

{
  const tiny: LlamaConfig = {
    vocab_size: 256,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  };
  const make = (backend: "wasm" | "webgpu") => () => {
    const t = trainer(tiny, new C3AConfig({ blockSize: 16, targetModules: ["q_proj", "v_proj"] }), 4, 32, 3);
    t.model.to(backend);
    const { step } = t.stepper();
    return () => void step();
  };
  pair("train step tiny Llama+C3A [4, 32]", make("wasm"), () => make("webgpu")());
}

/** SmolLM2-135M's shape (random init), or a reduced one for software adapters. */
const SMOL: LlamaConfig = {
  vocab_size: shape === "135m" ? 49152 : 8192,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: shape === "135m" ? 30 : 2,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  rope_theta: 100000,
  tie_word_embeddings: true,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 8192,
};
const SMOL_B = shape === "135m" ? 4 : 2, SMOL_T = shape === "135m" ? 256 : 64;
const smolGroup = `train step ${
  shape === "135m" ? "SmolLM2-135M" : "135M-width 2-layer"
} shape+C3A b=64 [${SMOL_B}, ${SMOL_T}]`;

// ---------------------------------------------------------------- runners

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Row {
  group: string;
  wasmMs: number | null;
  webgpuMs: number | null;
  /** wasm time / WebGPU time (> 1: WebGPU faster). */
  speedup: number | null;
}

/** Times `fn`: one warm-up, then up to `runs` runs or until ~`budgetMs` is spent (at least 2). */
function time(fn: () => void, runs: number, budgetMs: number): number {
  fn();
  const ts: number[] = [];
  const start = performance.now();
  while (ts.length < runs && (ts.length < 2 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

if (!script) {
  for (const c of cases) {
    if (c.heavy) continue;
    const fn = c.make();
    Deno.bench({ name: `${c.backend} ${c.group}`, group: c.group, baseline: c.backend === "wasm" }, fn);
  }
} else {
  const rows = new Map<string, Row>();
  const row = (group: string) => {
    let r = rows.get(group);
    if (!r) rows.set(group, r = { group, wasmMs: null, webgpuMs: null, speedup: null });
    return r;
  };
  for (const c of cases) {
    const ms = time(c.make(), c.runs ?? 10, 3000);
    const r = row(c.group);
    if (c.backend === "wasm") r.wasmMs = ms;
    else r.webgpuMs = ms;
    console.log(`  ${c.backend.padEnd(6)} ${c.group}: ${ms.toFixed(3)} ms`);
  }
  let lossCheck: { wasm: number; webgpu: number | null; relDiff: number | null } | null = null;
  if (!skipTrain) {
    const t0 = performance.now();
    const t = trainer(
      SMOL,
      new C3AConfig({
        blockSize: 64,
        targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      }),
      SMOL_B,
      SMOL_T,
      0,
    );
    console.log(
      `  built ${smolGroup.replace(/^train step /, "")}: ${
        (t.model.numParameters() / 1e6).toFixed(1)
      }M parameters, ${(t.model.numParameters(true) / 1e6).toFixed(3)}M trainable (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
    );
    const lw = t.loss();
    const r = row(smolGroup);
    r.wasmMs = time(t.stepper().step, 2, 0);
    console.log(`  wasm   ${smolGroup}: ${r.wasmMs.toFixed(1)} ms`);
    lossCheck = { wasm: lw, webgpu: null, relDiff: null };
    if (gpu) {
      // the weights as wasm left them, on the GPU: the same loss before stepping there
      const lw2 = t.loss();
      t.model.to("webgpu");
      const lg = t.loss();
      lossCheck = { wasm: lw2, webgpu: lg, relDiff: Math.abs(lg - lw2) / Math.abs(lw2) };
      r.webgpuMs = time(t.stepper().step, 5, 10000);
      console.log(`  webgpu ${smolGroup}: ${r.webgpuMs.toFixed(1)} ms`);
      t.model.to("wasm");
    }
  }
  for (const r of rows.values()) {
    if (r.wasmMs !== null && r.webgpuMs !== null) r.speedup = r.wasmMs / r.webgpuMs;
  }
  const table = [...rows.values()];
  console.log("\n| group | wasm ms | WebGPU ms | wasm/WebGPU |\n|---|---:|---:|---:|");
  for (const r of table) {
    const f = (x: number | null, d: number) => x === null ? "—" : x.toFixed(d);
    console.log(`| ${r.group} | ${f(r.wasmMs, 3)} | ${f(r.webgpuMs, 3)} | ${f(r.speedup, 2)}× |`);
  }
  if (lossCheck) {
    console.log(
      `loss before stepping (no grad): wasm ${lossCheck.wasm}, WebGPU ${lossCheck.webgpu ?? "—"} ` +
        `(relative difference ${lossCheck.relDiff?.toExponential(2) ?? "—"})`,
    );
  }
  const summary = {
    adapter,
    wasmThreads: threads,
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    shape,
    rows: table,
    lossCheck,
  };
  console.log(`JSON ${JSON.stringify(summary)}`);
  if (jsonPath) {
    const tmp = `${jsonPath}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(summary, null, 2) + "\n");
    await Deno.rename(tmp, jsonPath);
  }
  destroyWebGPU();
}
