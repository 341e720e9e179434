// WebGPU vs wasm, side by side: `deno bench -A bench/webgpu_bench.ts`.
//
// Groups (baseline = wasm): batched rfft+irfft of 64 signals (n = 1024, and Bluestein n = 1031); one C3A
// layer forward + backward (T = 256 rows, in = out = 512, b = 64; kernel spectrum once per step as the
// autograd op does); one fine-tuning step of a tiny Llama with C3A adapters (forward, backward,
// clipGradNorm, AdamW; batch [4, 32]). Each WebGPU iteration ends with a blocking read / sync so the
// timing covers the GPU work. The adapter is printed first: on llvmpipe (a CPU rasteriser, CI's
// adapter) the numbers check that the path works, they say nothing about GPU speed. Without an adapter
// only the wasm benches run.
import "../src/backend/executors.ts";
import { irfft, rfft } from "../src/fft/rfft.ts";
import { c3aBackward, c3aForward, kernelSpectrum } from "../src/backend/wasm/circulant.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { tidy } from "../src/tensor/scope.ts";
import { causalLmLoss, LlamaForCausalLM } from "../src/models/llama.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { clipGradNorm } from "../src/optim/clip_grad.ts";
import { initWebGPU } from "../src/backend/webgpu/mod.ts";

const gpu = await initWebGPU();
console.log(`adapter: ${gpu ? gpu.describe() : "none (WebGPU benches skipped)"}`);

function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

// ---------------------------------------------------------------- FFT
for (const n of [1024, 1031]) {
  const batch = 64;
  const x = data(n * batch, n);
  const group = `rfft+irfft n=${n} x${batch}`;
  Deno.bench({ name: `wasm ${group}`, group, baseline: true }, () => {
    irfft(rfft(x, n, batch), n, batch);
  });
  if (gpu) {
    const xs = gpu.fromArray(x);
    Deno.bench({ name: `webgpu ${group}`, group }, () => {
      const s = gpu.run("rfft", { x: xs }, { n, batch }).y;
      const y = gpu.run("irfft", { x: s }, { n, batch }).y;
      gpu.readSync(y);
      gpu.dispose(s);
      gpu.dispose(y);
    });
  }
}

// ---------------------------------------------------------------- C3A layer
{
  const rows = 256, d = 512, b = 64, m = d / b, n = d / b;
  const x = data(rows * d, 1), w = data(m * n * b, 2), g = data(rows * d, 3);
  const group = `C3A fwd+bwd T=${rows} d=${d} b=${b}`;
  Deno.bench({ name: `wasm ${group}`, group, baseline: true }, () => {
    const sp = kernelSpectrum(w, { m, n, b });
    c3aForward(x, sp, { rows, m, n, b });
    c3aBackward(x, sp, g, { rows, m, n, b });
  });
  if (gpu) {
    const xs = gpu.fromArray(x), ws = gpu.fromArray(w), gs = gpu.fromArray(g);
    Deno.bench({ name: `webgpu ${group}`, group }, () => {
      const a = { rows, m, n, b };
      const sp = gpu.run("rfft", { x: ws }, { n: b, batch: m * n }).y;
      const y = gpu.run("c3aForward", { x: xs, ws: sp }, a).y;
      const r = gpu.run("c3aBackward", { x: xs, ws: sp, g: gs }, { ...a, inputGrad: true, kernelGrad: true });
      gpu.readSync(r.gradKernel!);
      for (const s of [y, r.gradX!, r.gradKernel!, sp]) gpu.dispose(s);
    });
  }
}

// ---------------------------------------------------------------- training step
function trainer(backend: "wasm" | "webgpu"): () => number {
  manualSeed(3);
  const model = getPeftModel(
    new LlamaForCausalLM({
      vocab_size: 256,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    }),
    new C3AConfig({ blockSize: 16, targetModules: ["q_proj", "v_proj"] }),
  ).to(backend);
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-3 });
  const ids = Array.from(
    { length: 4 },
    (_, r) => Array.from({ length: 32 }, (_, t) => (r * 31 + t * 7) % 256),
  );
  return () =>
    tidy(() => {
      const loss = causalLmLoss(model.forward(ids), ids);
      loss.backward();
      clipGradNorm(params, 1);
      opt.step();
      opt.zeroGrad(false);
      return loss.item();
    });
}
{
  const group = "train step tiny Llama+C3A [4, 32]";
  const cpuStep = trainer("wasm");
  Deno.bench({ name: `wasm ${group}`, group, baseline: true }, () => {
    cpuStep();
  });
  if (gpu) {
    const gpuStep = trainer("webgpu");
    Deno.bench({ name: `webgpu ${group}`, group }, () => {
      gpuStep();
    });
  }
}
