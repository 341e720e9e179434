// One op past wasm32's 4 GiB: the tied lm_head of the Qwen2.5-0.5B shape (hidden 896, vocab 151,936)
// forward + backward over T tokens in one call: embedding lookup → logits = h·Wᵀ `[T, vocab]` →
// crossEntropy → backward (gradients of W through both the lm_head and the embedding). At T = 8192
// the logits alone are 4.6 GiB (and their gradient as much again): before operands were streamed
// through wasm memory in tiles (memory.ts residentCap) this failed past T = 6,131 ("wasm memory cannot
// grow … limit 4 GiB"). Prints one JSON line: times (s), peak RSS, loss (≈ ln vocab for these small
// random weights) and a finiteness check of the gradient.
//
//   deno run -A bench/big_ops_bench.ts [--tokens 8192 --hidden 896 --vocab 151936 --threads N --reps 1
//        --cap MiB]
//
// Memory: wasm memory no longer bounds T; the machine's RAM does. Measured at 8f81ab9 (vocab 151,936, 1 GiB
// cap, 2 threads, 2026-12-07 07:38 UTC): T = 512: 2.85 GiB peak RSS, T = 1024: 4.36 GiB, so ~1.4 GiB fixed
// (the weight, its gradient, wasm memory) + ~3.2 MB per token (about five [T, vocab] float32 arrays: the
// logits, the log-softmax output kept for backward, its gradient, garbage not yet collected). T = 8192
// needs ~26 GiB, more than a 24 GiB machine has. Before (T = 512: 4.3 GiB = ~2.6 GiB fixed + ~3.5 MB per
// token) the cross-entropy gradient also scattered a one-hot [T, vocab] array and the lm_head product's
// row tiles filled the 1 GiB cap. `--tokens 512 --vocab 8192` is a quick smoke run.
// Public API only (mod.ts) apart from `--cap`; not run by `deno bench` (no Deno.bench calls).
//
// `--cap` lowers the operand bytes one kernel keeps in wasm memory (default 1 GiB; internal
// setResidentCap of src/backend/wasm/memory.ts), so that a small run takes the tiled paths of a big one.

import { parseArgs } from "@std/cli";
import { getNumThreads, manualSeed, nn, randn, setNumThreads } from "../mod.ts";
import { residentCap, setResidentCap } from "../src/backend/wasm/memory.ts";

const args = parseArgs(Deno.args, { string: ["tokens", "hidden", "vocab", "threads", "reps", "cap"] });
const int = (v: string | undefined, d: number, name: string): number => {
  const n = v === undefined ? d : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be an integer >= 1, got ${v}`);
  return n;
};
const T = int(args.tokens, 8192, "tokens");
const H = int(args.hidden, 896, "hidden");
const V = int(args.vocab, 151936, "vocab");
const reps = int(args.reps, 1, "reps");
if (args.threads !== undefined) setNumThreads(int(args.threads, 1, "threads"));
if (args.cap !== undefined) setResidentCap(int(args.cap, 1024, "cap") * 2 ** 20);

function vmHwm(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return 0;
}
let peakRss = 0;
const sample = () => peakRss = Math.max(peakRss, Deno.memoryUsage().rss);

manualSeed(0);
// tied weight [vocab, hidden] (the embedding matrix, used again as lm_head), std 0.02 as in HF init
const weight = randn([V, H]).mul_(0.02);
weight.requiresGrad = true;
const ids = Int32Array.from({ length: T }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 0) % V);
const targets = Int32Array.from({ length: T }, (_, i) => (Math.imul(i + 7, 40503) >>> 0) % V);

const fwd: number[] = [], bwd: number[] = [];
let loss = NaN, gradFinite = true, gradAbsMax = 0;
for (let r = 0; r < reps; r++) {
  weight.grad?.dispose();
  weight.grad = null;
  sample();
  const t0 = performance.now();
  // embedding [T, hidden] → tied lm_head [T, vocab] → loss; no reference is kept to the logits, so
  // they are garbage once log-softmax has run (its backward needs only its output)
  const l = nn.functional.crossEntropy(
    nn.functional.linear(nn.functional.embedding(ids, weight), weight),
    targets,
  );
  loss = l.item();
  const t1 = performance.now();
  sample();
  l.backward();
  const t2 = performance.now();
  sample();
  fwd.push((t1 - t0) / 1000);
  bwd.push((t2 - t1) / 1000);
  const g = weight.grad!.dataSync();
  for (let i = 0; i < g.length; i++) {
    const v = g[i];
    if (!Number.isFinite(v)) gradFinite = false;
    else if (Math.abs(v) > gradAbsMax) gradAbsMax = Math.abs(v);
  }
  l.dispose();
}

console.log(JSON.stringify({
  bench: "big_ops lm_head forward+backward (tied, one call)",
  tokens: T,
  hidden: H,
  vocab: V,
  logits_gib: (T * V * 4) / 2 ** 30,
  threads: getNumThreads(),
  resident_cap_mib: residentCap() / 2 ** 20,
  forward_s: fwd,
  backward_s: bwd,
  loss,
  ln_vocab: Math.log(V),
  grad_finite: gradFinite,
  grad_abs_max: gradAbsMax,
  peak_rss_bytes: Math.max(vmHwm(), peakRss),
}));
