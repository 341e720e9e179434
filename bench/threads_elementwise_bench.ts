// The streamed wasm kernels (src/backend/wasm/stream.ts) on 1 thread vs split over 2 (or more)
// threads, side by side in the same process: fused AdamW on ~10M parameters, RMSNorm forward+backward
// and softmax forward+backward on a large batch, SwiGLU, a unary op, a same-shape add and column sums
// (bias gradients). The copies between JS arrays and wasm memory stay on the calling thread; only the
// kernels' work is split, so memory-bound kernels gain least.
//
//   deno run -A bench/threads_elementwise_bench.ts [rounds] [threads]   table: median ms, 1 vs N
//   deno run -A bench/threads_elementwise_bench.ts threshold            ratio by size with every call split
//   deno bench -A bench/threads_elementwise_bench.ts                    the same kernels, smaller sizes
//
// Rounds alternate 1 and N threads (the machine's load affects both alike); the table reports medians
// and minima (on a loaded machine the minimum shows what the split gains when the cores are free).

import {
  adamStepKernel,
  binaryWasm,
  rmsNormGradKernel,
  rmsNormKernel,
  swigluGradKernel,
  swigluKernel,
  unaryWasm,
} from "../src/backend/wasm/elementwise.ts";
import { softmaxGradKernel, softmaxKernel } from "../src/backend/wasm/softmax.ts";
import { sumColsWasm } from "../src/backend/wasm/reduce.ts";
import { stopWorkers, withThreads } from "../src/backend/threads/pool.ts";
import { sharedMemory } from "../src/backend/wasm/memory.ts";
import { sgemm } from "../src/backend/wasm/gemm.ts";

let seed = 1;
function rand(n: number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = offset + scale * ((seed / 2 ** 32) * 2 - 1);
  }
  return a;
}

interface Kernel {
  name: string;
  fn: () => void;
}

/** The kernels at a scale factor (1 = the table's sizes). */
function kernels(scale: number): Kernel[] {
  const out: Kernel[] = [];
  {
    // control: a compute-bound kernel split the same way; near 1x here means the machine had no free core
    const m = Math.max(8, Math.round(256 * scale)), n = 1024, k = 1024;
    const a = rand(m * k), b = rand(k * n), c = new Float32Array(m * n);
    out.push({ name: `control: sgemm ${m} × ${n} × ${k}`, fn: () => sgemm(a, b, m, n, k, { out: c }) });
  }
  {
    const n = Math.round(10_000_000 * scale);
    const p = rand(n), g = rand(n), m = rand(n, 0.1), v = rand(n, 0.01, 0.02);
    const c = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true };
    let step = 1;
    out.push({
      name: `AdamW step, ${n} params`,
      fn: () =>
        adamStepKernel(p, g, m, v, null, { ...c, maximize: false, amsgrad: false, step: step++ } as never),
    });
  }
  {
    const rows = Math.max(1, Math.round(8192 * scale)), d = 576;
    const x = rand(rows * d), w = rand(d, 0.5, 1), g = rand(rows * d);
    const y = new Float32Array(rows * d), rstd = new Float32Array(rows), gx = new Float32Array(rows * d);
    const gw = new Float32Array(d);
    out.push({
      name: `RMSNorm forward [${rows}, ${d}]`,
      fn: () => rmsNormKernel(x, w, y, rstd, rows, d, 1e-5),
    });
    out.push({
      name: `RMSNorm backward with weight grad [${rows}, ${d}]`,
      fn: () => rmsNormGradKernel(g, x, w, rstd, gx, gw, rows, d),
    });
    const cs = new Float32Array(d);
    out.push({
      name: `column sums (bias grad) [${rows}, ${d}] -> [${d}]`,
      fn: () => sumColsWasm(x, cs, rows, d),
    });
  }
  {
    // attention probabilities: batch 4 × 9 heads × 256 queries, rows of 256 keys
    const rows = Math.max(1, Math.round(4 * 9 * 256 * scale)), d = 256;
    const x = rand(rows * d, 4),
      y = new Float32Array(rows * d),
      g = rand(rows * d),
      gx = new Float32Array(rows * d);
    out.push({ name: `softmax forward [${rows}, ${d}]`, fn: () => softmaxKernel(x, y, rows, d, 1, false) });
    out.push({
      name: `softmax backward [${rows}, ${d}]`,
      fn: () => softmaxGradKernel(y, g, gx, rows, d, 1, false),
    });
  }
  {
    // MLP of 4 × 256 tokens, intermediate 1536
    const n = Math.round(4 * 256 * 1536 * scale);
    const a = rand(n, 3), b = rand(n), g = rand(n), y = new Float32Array(n), ga = new Float32Array(n);
    const gb = new Float32Array(n);
    out.push({ name: `SwiGLU forward, ${n}`, fn: () => swigluKernel(a, b, y) });
    out.push({ name: `SwiGLU backward, ${n}`, fn: () => swigluGradKernel(a, b, g, ga, gb) });
    out.push({ name: `exp, ${n}`, fn: () => unaryWasm("exp", a, y) });
    out.push({ name: `add (same shape), ${n}`, fn: () => binaryWasm("add", a, b, y, [n], [1], [1]) });
  }
  return out;
}

function median(t: number[]): number {
  return [...t].sort((a, b) => a - b)[t.length >> 1];
}

if (!sharedMemory) {
  console.log("wasm threads unavailable here (no shared wasm memory): nothing to compare");
} else if (!import.meta.main) {
  for (const k of kernels(0.1)) {
    for (const t of [1, 2]) {
      Deno.bench({
        name: `${k.name}: ${t} thread${t > 1 ? "s" : ""}`,
        group: k.name,
        baseline: t === 1,
        fn: () => withThreads(t, false, k.fn),
      });
    }
  }
  globalThis.addEventListener("unload", () => void stopWorkers());
} else if (Deno.args[0] === "threshold") {
  // every call split (splitAll), by size: where splitting starts to pay
  console.log("| elements | exp 1 thr / 2 thr (x) | add | AdamW |");
  console.log("|---|---|---|---|");
  for (let n = 1 << 12; n <= 1 << 20; n *= 4) {
    const a = rand(n), b = rand(n), y = new Float32Array(n), m = rand(n, 0.1), v = rand(n, 0.01, 0.02);
    const c = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 1 };
    const fns = [
      () => unaryWasm("exp", a, y),
      () => binaryWasm("add", a, b, y, [n], [1], [1]),
      () => adamStepKernel(y, b, m, v, null, c as never),
    ];
    const reps = Math.max(1, Math.round((1 << 21) / n));
    const cells = fns.map((fn) => {
      const t1: number[] = [], t2: number[] = [];
      const time = (t: number) => {
        const s = performance.now();
        withThreads(t, true, () => {
          for (let r = 0; r < reps; r++) fn();
        });
        return (performance.now() - s) / reps;
      };
      time(1), time(2);
      for (let r = 0; r < 9; r++) {
        t1.push(time(1));
        t2.push(time(2));
      }
      const a1 = median(t1), a2 = median(t2);
      return `${(a1 * 1e3).toFixed(0)} / ${(a2 * 1e3).toFixed(0)} µs (${(a1 / a2).toFixed(2)}x)`;
    });
    console.log(`| ${n} | ${cells.join(" | ")} |`);
  }
  await stopWorkers();
} else {
  const rounds = Number(Deno.args[0] ?? 9), threads = Number(Deno.args[1] ?? 2);
  console.log(
    `ms over ${rounds} alternating rounds, median (min); ${navigator.hardwareConcurrency} cores; ${navigator.userAgent}`,
  );
  console.log(`| kernel | 1 thread | ${threads} threads | speed-up median (min) |`);
  console.log("|---|---|---|---|");
  for (const k of kernels(1)) {
    const run = (t: number) => {
      const s = performance.now();
      withThreads(t, false, k.fn);
      return performance.now() - s;
    };
    run(1), run(threads);
    const t1: number[] = [], tn: number[] = [];
    for (let r = 0; r < rounds; r++) {
      t1.push(run(1));
      tn.push(run(threads));
    }
    const a = median(t1), b = median(tn), a0 = Math.min(...t1), b0 = Math.min(...tn);
    const f = (x: number) => x.toFixed(1);
    console.log(
      `| ${k.name} | ${f(a)} (${f(a0)}) | ${f(b)} (${f(b0)}) | ${(a / b).toFixed(2)}x (${
        (a0 / b0).toFixed(2)
      }x) |`,
    );
  }
  await stopWorkers();
}
