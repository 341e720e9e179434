// One training step (forward + backward + AdamW) of an MLP and of a small Llama decoder, plus a
// per-kernel-category time breakdown so later work knows where the time goes.
// Run: deno bench -A bench/train_bench.ts
// Each group's baseline is the full training step; the forward-only and forward+backward entries show
// the split. At load time the file profiles a few steps of each model by wrapping the backend's kernel
// methods with timers (the wrappers are removed before the benches run) and prints the shares.

import { getBackend, manualSeed, randint, type Tensor, tensor, tidy } from "../src/tensor/index.ts";
import { nllLoss } from "../src/ops/loss.ts";
import { MLP } from "../src/models/mlp.ts";
import { causalLmLoss, type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { AdamW } from "../src/optim/mod.ts";
import type { Module } from "../src/nn/module.ts";

// ------------------------------------------------------------------ models and steps

const LLAMA: LlamaConfig = {
  vocab_size: 256,
  hidden_size: 256,
  intermediate_size: 704,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
};
const B = 4, T = 128;

manualSeed(0);
const llama = new LlamaForCausalLM(LLAMA);
const llamaOpt = new AdamW(llama.parameters(), { lr: 1e-4 });
const ids = randint(0, LLAMA.vocab_size, B * T);

const MLP_IN = 784, MLP_HIDDEN = 512, MLP_OUT = 10, MLP_BATCH = 128;
const mlp = new MLP({ inFeatures: MLP_IN, hiddenFeatures: MLP_HIDDEN, outFeatures: MLP_OUT, dropout: 0.1 });
const mlpOpt = new AdamW(mlp.parameters(), { lr: 1e-3 });
const mlpX = new Float32Array(MLP_BATCH * MLP_IN).map((_, i) => (i * 2654435761 % 1000) / 1000);
const mlpY = Int32Array.from({ length: MLP_BATCH }, (_, i) => i % MLP_OUT);

type Phase = "forward" | "backward" | "optimizer";
let phaseHook: ((p: Phase) => void) | null = null;

function llamaLoss(): Tensor {
  return causalLmLoss(llama.forward(ids, { shape: [B, T] }), ids);
}
function mlpLoss(): Tensor {
  return nllLoss(mlp.forward(tensor(mlpX, [MLP_BATCH, MLP_IN])), mlpY);
}

/** forward, backward, optimizer step (phases reported to the profiler when it listens). */
function trainStep(loss: () => Tensor, opt: AdamW): void {
  tidy(() => {
    phaseHook?.("forward");
    const l = loss();
    phaseHook?.("backward");
    l.backward();
    phaseHook?.("optimizer");
    opt.step();
    opt.zeroGrad();
  });
}

function forwardOnly(loss: () => Tensor, model: Module): void {
  tidy(() => {
    model.requiresGrad_(false);
    loss();
    model.requiresGrad_(true);
  });
}

function forwardBackward(loss: () => Tensor, model: Module): void {
  tidy(() => {
    loss().backward();
    model.zeroGrad();
  });
}

// ------------------------------------------------------------------ profiler

const CATEGORY: Record<string, string> = {
  matmul: "matmul (sgemm)",
  unary: "elementwise",
  unaryGrad: "elementwise",
  binary: "elementwise",
  binaryScalar: "elementwise",
  axpby: "elementwise",
  where: "elementwise",
  copyStrided: "layout (transpose/slice/concat)",
  copy: "layout (transpose/slice/concat)",
  reduce: "reductions",
  softmax: "softmax (+grad)",
  softmaxGrad: "softmax (+grad)",
  gatherLast: "indexing (embedding/loss)",
  scatterLast: "indexing (embedding/loss)",
  indexSelectRows: "indexing (embedding/loss)",
  indexAddRows: "indexing (embedding/loss)",
  full: "allocation",
  fromArray: "allocation",
};

function profile(name: string, step: () => void, iters: number): void {
  const backend = getBackend() as unknown as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  const time = new Map<string, number>();
  const calls = new Map<string, number>();
  const phaseTime = new Map<string, number>();
  let phase = "", phaseStart = 0, depth = 0;
  for (const [method, cat] of Object.entries(CATEGORY)) {
    const f = backend[method];
    if (typeof f !== "function") continue;
    originals.set(method, f);
    backend[method] = function (this: unknown, ...args: unknown[]) {
      // kernels that call other backend methods internally are timed once, as the outer call
      if (depth > 0) return (f as (...a: unknown[]) => unknown).apply(this, args);
      depth++;
      const t0 = performance.now();
      try {
        return (f as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        depth--;
        // elementwise kernels are split by op ("binary(mul)") so fusion candidates stand out
        const key = cat === "elementwise" && typeof args[0] === "string"
          ? `elementwise ${method}(${args[0]})`
          : cat;
        time.set(key, (time.get(key) ?? 0) + performance.now() - t0);
        calls.set(key, (calls.get(key) ?? 0) + 1);
      }
    };
  }
  const mark = (p: string) => {
    const now = performance.now();
    if (phase) phaseTime.set(phase, (phaseTime.get(phase) ?? 0) + now - phaseStart);
    phase = p;
    phaseStart = now;
  };
  try {
    step(); // warm-up (allocations, caches, JIT)
    time.clear();
    calls.clear();
    phaseHook = mark;
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) {
      step();
      mark("");
    }
    const total = (performance.now() - t0) / iters;
    phaseHook = null;
    let kernels = 0;
    for (const v of time.values()) kernels += v;
    const rows = [...time.entries()].sort((a, b) => b[1] - a[1]);
    const pct = (ms: number) => `${(100 * ms / iters / total).toFixed(1).padStart(5)} %`;
    const lines = [
      `\n${name}: ${
        total.toFixed(1)
      } ms per training step (mean of ${iters}, profiled; wrappers add a little)`,
      `  phases: ${
        ["forward", "backward", "optimizer"].map((p) =>
          `${p} ${((phaseTime.get(p) ?? 0) / iters).toFixed(1)} ms`
        ).join(
          ", ",
        )
      }`,
      ...rows.map(([cat, ms]) =>
        `  ${cat.padEnd(34)} ${(ms / iters).toFixed(2).padStart(9)} ms ${pct(ms)}  (${
          Math.round((calls.get(cat) ?? 0) / iters)
        } calls)`
      ),
      `  ${"other (JS ops, autograd, checks)".padEnd(34)} ${
        (total - kernels / iters).toFixed(2).padStart(9)
      } ms ${pct(total * iters - kernels)}`,
    ];
    console.log(lines.join("\n"));
  } finally {
    phaseHook = null;
    for (const [m, f] of originals) backend[m] = f;
  }
}

const nParams = llama.numParameters();
console.log(
  `Llama: hidden ${LLAMA.hidden_size}, ${LLAMA.num_hidden_layers} layers, heads ${LLAMA.num_attention_heads}/` +
    `${LLAMA.num_key_value_heads} kv, MLP ${LLAMA.intermediate_size}, vocab ${LLAMA.vocab_size}, batch ${B} x T ${T}; ` +
    `${
      (nParams / 1e6).toFixed(2)
    } M parameters. MLP: ${MLP_IN}-${MLP_HIDDEN}-${MLP_OUT}, batch ${MLP_BATCH}.`,
);
profile("MLP", () => trainStep(mlpLoss, mlpOpt), 20);
profile("Llama", () => trainStep(llamaLoss, llamaOpt), 3);

// ------------------------------------------------------------------ benches

Deno.bench({
  name: "mlp: train step (fwd+bwd+AdamW)",
  group: "mlp",
  baseline: true,
  fn: () => trainStep(mlpLoss, mlpOpt),
});
Deno.bench({ name: "mlp: forward + backward", group: "mlp", fn: () => forwardBackward(mlpLoss, mlp) });
Deno.bench({ name: "mlp: forward only", group: "mlp", fn: () => forwardOnly(mlpLoss, mlp) });

Deno.bench({
  name: "llama: train step (fwd+bwd+AdamW)",
  group: "llama",
  baseline: true,
  n: 5,
  warmup: 1,
  fn: () => trainStep(llamaLoss, llamaOpt),
});
Deno.bench({
  name: "llama: forward + backward",
  group: "llama",
  n: 5,
  warmup: 1,
  fn: () => forwardBackward(llamaLoss, llama),
});
Deno.bench({
  name: "llama: forward only",
  group: "llama",
  n: 5,
  warmup: 1,
  fn: () => forwardOnly(llamaLoss, llama),
});
