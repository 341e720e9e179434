// C3A layer benchmarks: `deno bench -A bench/c3a_bench.ts`, or a markdown table of medians with
// `deno run -A bench/c3a_bench.ts [--samples N] [--only 1024]`.
//
// One C3A layer (adapter branch only, raw = unscaled) on T = 512 rows: forward, and forward +
// backward (true input gradient and kernel gradient, kernel spectrum computed once per step as the
// autograd op does), for in = out = 1024 with b = 128, 256, 1024 and in = out = 4096 with
// b = 256, 1024, 4096. Baseline of each group: the dense layer of the same shape through our sgemm
// (forward y = x·Wᵀ; backward gradX = g·W and gradW = gᵀ·x). Shapes and T follow
// /work/shared/notes/torch-anchor.md, whose `c3a_peft` column (PyTorch CPU, one thread) is the
// target to beat; compare ratios on this shared machine, not absolute times.
import { c3aBackward, c3aForward, kernelSpectrum } from "../src/backend/wasm/circulant.ts";
import { sgemm } from "../src/backend/wasm/gemm.ts";

const T = 512;
const CONFIGS: Array<[number, number]> = [
  [1024, 128],
  [1024, 256],
  [1024, 1024],
  [4096, 256],
  [4096, 1024],
  [4096, 4096],
];

function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

interface Layer {
  d: number;
  b: number;
  c3aFwd(): void;
  c3aStep(): void;
  denseFwd(): void;
  denseStep(): void;
}

function makeLayer(d: number, b: number): Layer {
  const m = d / b, n = d / b;
  const shape = { rows: T, m, n, b };
  const x = randomData(T * d, d + b);
  const g = randomData(T * d, d + b + 1);
  const kernel = randomData(m * n * b, d + b + 2);
  const weight = randomData(d * d, d + 3);
  return {
    d,
    b,
    c3aFwd() {
      c3aForward(x, kernel, shape);
    },
    c3aStep() {
      const spec = kernelSpectrum(kernel, shape);
      c3aForward(x, spec, shape);
      c3aBackward(x, spec, g, shape);
    },
    denseFwd() {
      sgemm(x, weight, T, d, d, { transB: true });
    },
    denseStep() {
      sgemm(x, weight, T, d, d, { transB: true });
      sgemm(g, weight, T, d, d); // gradX = g·W
      sgemm(g, x, d, d, T, { transA: true }); // gradW = gᵀ·x
    },
  };
}

if (import.meta.main) {
  // table mode: medians of interleaved samples; C3A first for every shape, then the dense baselines
  // (a dense 4096 step pollutes caches for seconds, so it never runs between C3A samples)
  const args = Deno.args;
  const samples = Number(args[args.indexOf("--samples") + 1] || 0) || 7;
  const only = args.includes("--only") ? Number(args[args.indexOf("--only") + 1]) : 0;
  const noDense = args.includes("--no-dense");
  const median = (a: number[]) => a.slice().sort((p, q) => p - q)[a.length >> 1];
  const time = (fn: () => void) => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  const f = (a: number[]) => (a.length ? median(a).toFixed(2) : "-");
  const layers = CONFIGS.filter(([d]) => !only || d === only).map(([d, b]) => makeLayer(d, b));
  const rows = new Map<Layer, string[]>();
  for (const l of layers) {
    l.c3aStep(); // warm up plans and the wasm tier-up
    l.c3aFwd();
    const cf: number[] = [], cs: number[] = [];
    for (let s = 0; s < samples; s++) {
      cf.push(time(l.c3aFwd));
      cs.push(time(l.c3aStep));
    }
    rows.set(l, [f(cf), f(cs)]);
  }
  const denseDone = new Map<number, string[]>();
  for (const l of layers) {
    if (noDense) continue;
    if (!denseDone.has(l.d)) {
      const n = l.d >= 4096 ? 1 : Math.min(samples, 5);
      const df: number[] = [], ds: number[] = [];
      l.denseFwd();
      for (let s = 0; s < n; s++) {
        df.push(time(l.denseFwd));
        ds.push(time(l.denseStep));
      }
      denseDone.set(l.d, [f(df), f(ds)]);
    }
  }
  console.log(`T = ${T} rows, median ms of ${samples} samples (dense: 1 sample at 4096)`);
  console.log(`| in=out | b | params | c3a fwd ms | c3a fwd+bwd ms | dense fwd ms | dense fwd+bwd ms |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const l of layers) {
    const [cf, cs] = rows.get(l)!;
    const [df, ds] = denseDone.get(l.d) ?? ["-", "-"];
    console.log(
      `| ${l.d} | ${l.b} | ${(l.d * l.d / l.b).toLocaleString("en-US")} | ${cf} | ${cs} | ${df} | ${ds} |`,
    );
  }
} else {
  for (const [d, b] of CONFIGS) {
    const group = `C3A in=out=${d} b=${b} T=${T}`;
    const l = makeLayer(d, b);
    const heavy = d >= 4096;
    Deno.bench({
      name: `dense fwd+bwd (sgemm) d=${d} b=${b} group`,
      group,
      baseline: true,
      n: heavy ? 2 : undefined,
      warmup: heavy ? 1 : undefined,
      fn: l.denseStep,
    });
    Deno.bench({
      name: `dense fwd (sgemm) d=${d} b=${b} group`,
      group,
      n: heavy ? 3 : undefined,
      warmup: heavy ? 1 : undefined,
      fn: l.denseFwd,
    });
    Deno.bench({ name: `c3a fwd d=${d} b=${b}`, group, fn: l.c3aFwd });
    Deno.bench({ name: `c3a fwd+bwd d=${d} b=${b}`, group, fn: l.c3aStep });
  }
}
