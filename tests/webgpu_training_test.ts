// A few C3A fine-tuning steps of a tiny Llama (embedding, RMSNorm, rotary GQA attention, SwiGLU MLP,
// C3A adapters on q/v, cross-entropy, clipGradNorm, AdamW) run on the wasm backend and, for real, on
// the WebGPU backend (llvmpipe on CI): the losses and the trained adapter kernels must agree to float32
// rounding, the whole step stays on the GPU (one read per step: the loss), and the step does not grow
// the number of live GPU buffers.
import { assert, assertEquals } from "./deps.ts";
import { setBackend } from "../src/tensor/select.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { tidy } from "../src/tensor/scope.ts";
import { causalLmLoss, LlamaForCausalLM } from "../src/models/llama.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { blockCircularConvolution } from "../src/ops/circulant.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { randn } from "../src/tensor/random.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { clipGradNorm } from "../src/optim/clip_grad.ts";
import { initWebGPU, webgpuBackend } from "../src/backend/webgpu/mod.ts";

const adapter = await navigator.gpu?.requestAdapter();
const skip = !adapter;
if (skip) console.warn("webgpu_training_test: navigator.gpu has no adapter here; WebGPU tests skipped");

const config = {
  vocab_size: 40,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
};

/** Seeded token ids `[2, 12]` (independent of the library's RNG). */
function batch(step: number): number[][] {
  let s = 1234 + step * 77;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % config.vocab_size;
  };
  return [Array.from({ length: 12 }, next), Array.from({ length: 12 }, next)];
}

async function train(
  backend: "wasm" | "webgpu",
  steps: number,
): Promise<{ losses: number[]; kernels: Float32Array[]; live: number[] }> {
  await setBackend(backend);
  manualSeed(7);
  const base = new LlamaForCausalLM(config);
  const model = getPeftModel(base, new C3AConfig({ blockSize: 8, targetModules: ["q_proj", "v_proj"] }));
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 0.02, weightDecay: 0.01 });
  const losses: number[] = [], live: number[] = [];
  for (let i = 0; i < steps; i++) {
    const ids = batch(i);
    losses.push(tidy(() => {
      const loss = causalLmLoss(model.forward(ids), ids);
      loss.backward();
      clipGradNorm(params, 1.0);
      opt.step();
      // zero in place: zeroGrad() (set to null) would leave the old gradients' GPU buffers to the GC
      opt.zeroGrad(false);
      return loss.item();
    }));
    if (backend === "webgpu") live.push(webgpuBackend.stats().storages);
  }
  const kernels = params.map((p) => p.dataSync().slice());
  await setBackend("wasm");
  return { losses, kernels, live };
}

Deno.test({
  name: "webgpu training: tiny Llama + C3A, 4 AdamW steps give the wasm losses and kernels",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: skip,
  async fn() {
    const g = await initWebGPU();
    assert(g !== null);
    console.log(`  ${g.describe()}`);
    const steps = 4;
    const cpu = await train("wasm", steps);
    const gpu = await train("webgpu", steps);
    for (let i = 0; i < steps; i++) {
      const d = Math.abs(gpu.losses[i] - cpu.losses[i]);
      assert(
        d <= 2e-5 * Math.abs(cpu.losses[i]),
        `step ${i}: loss ${gpu.losses[i]} (webgpu) vs ${cpu.losses[i]} (wasm)`,
      );
    }
    assert(cpu.losses[steps - 1] < cpu.losses[0], `training lowers the loss: ${cpu.losses}`);
    assertEquals(gpu.kernels.length, cpu.kernels.length);
    for (let p = 0; p < cpu.kernels.length; p++) {
      let maxRef = 0, maxErr = 0;
      for (let i = 0; i < cpu.kernels[p].length; i++) {
        maxRef = Math.max(maxRef, Math.abs(cpu.kernels[p][i]));
        maxErr = Math.max(maxErr, Math.abs(gpu.kernels[p][i] - cpu.kernels[p][i]));
      }
      assert(maxErr <= 1e-4 * maxRef, `trained kernel ${p}: max diff ${maxErr} vs max ${maxRef}`);
    }
    // after the first step (optimizer state created), steps do not accumulate GPU buffers
    assert(gpu.live[steps - 1] <= gpu.live[1], `live storages per step: ${gpu.live}`);
    const final = webgpuBackend.destroy();
    assert(final !== null && final.error === null && final.storages === 0, JSON.stringify(final));
  },
});

Deno.test({
  name:
    "webgpu: 100 C3A steps WITHOUT tidy keep the live GPU buffers constant (spectra and gradient temporaries freed with the graph)",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: skip,
  async fn() {
    const g = await initWebGPU();
    assert(g !== null);
    setBackend("webgpu");
    try {
      manualSeed(3);
      const w = randn([4, 4, 16]).requiresGrad_(), x = randn([8, 64]), gy = randn([8, 64]);
      // a synchronous loop: the garbage collector's finalizers cannot run, only explicit releases count
      const step = (i: number) => {
        const y = i % 2 === 0 ? blockCircularConvolution(x, w) : noGrad(() => blockCircularConvolution(x, w));
        if (y.requiresGrad) y.backward(gy);
        y.dispose();
      };
      step(0); // creates w.grad
      const before = webgpuBackend.stats().storages;
      for (let i = 0; i < 100; i++) step(i);
      const after = webgpuBackend.stats().storages;
      assertEquals(after, before, `live storages before and after 100 steps: ${before} -> ${after}`);
    } finally {
      setBackend("wasm");
      webgpuBackend.destroy();
    }
  },
});
