// sgemm throughput: the wasm SIMD kernel against a plain TypeScript triple loop in the same run.
// Run: deno bench -A bench/gemm_bench.ts
// The group "kernel builds" times the plain SIMD build (wasm/kernels.wasm, multiply + add) against the
// relaxed-SIMD build (wasm/kernels_relaxed.wasm, fused multiply-add) on the same operands, interleaved
// in one process; the other groups use the build the library picked (printed first).
// The group "threads" times sgemm at 1 thread against all threads (navigator.hardwareConcurrency or
// C3A_NUM_THREADS) on the same operands (deno bench runs one bench's iterations, then the next: on a
// loaded machine repeat the run); the other groups run at the default thread count.
// Each group's baseline is the naive loop; a GFLOP/s table (2·m·n·k flops / mean time) is printed at
// the end (warm-up calls left out). Target (DESIGN.md): >= 15 GFLOP/s for 512 x 1024 x 1024 on one core.
// The naive loop on 512x4096x4096 would take ~10 s per run, so that baseline times 64 of the 512 rows
// (the loop's cost is exactly linear in the rows); its name says so and the table scales it by 8.

import { sgemm, type SgemmOptions, sgemmPtr } from "../src/backend/wasm/gemm.ts";
import { kernelBuild, malloc, Scratch, sharedMemory, wasm } from "../src/backend/wasm/memory.ts";
import { getNumThreads } from "../mod.ts";
import { withThreads } from "../src/backend/threads/pool.ts";

/** Plain TypeScript i-k-j triple loop, row-major, Float32Array: C[m,n] = A[m,k]·B[k,n]. */
function naiveGemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number): void {
  c.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
    }
  }
}

function rand(len: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

interface Row {
  name: string;
  flops: number;
  /** Every call's time, warm-up calls first. */
  times: number[];
  /** Warm-up calls (left out of the table). */
  warmup: number;
}
const rows: Row[] = [];

/** Registers a bench whose per-iteration time is also recorded for the GFLOP/s table. */
function gemmBench(
  group: string,
  name: string,
  flops: number,
  fn: () => void,
  o: { baseline?: boolean; n?: number; warmup?: number } = {},
): void {
  const row: Row = { name: `${group} | ${name}`, flops, times: [], warmup: o.warmup ?? 0 };
  rows.push(row);
  Deno.bench({
    name,
    group,
    baseline: o.baseline,
    n: o.n,
    warmup: o.warmup,
    fn(b) {
      b.start();
      const t0 = performance.now();
      fn();
      row.times.push(performance.now() - t0);
      b.end();
    },
  });
}

function shapeGroup(m: number, n: number, k: number, naiveRows: number, iters: number): void {
  const group = `sgemm ${m}x${n}x${k}`;
  const a = rand(m * k, 1), b = rand(k * n, 2), c = new Float32Array(m * n);
  const flops = 2 * m * n * k;
  const naiveName = naiveRows === m
    ? "naive TS i-k-j loop"
    : `naive TS i-k-j loop, ${naiveRows} of ${m} rows (x${m / naiveRows} for the full product)`;
  gemmBench(group, naiveName, 2 * naiveRows * n * k, () => naiveGemm(a, b, c, naiveRows, n, k), {
    baseline: true,
    n: 2,
    warmup: 1,
  });
  gemmBench(group, "wasm sgemm (Float32Array in/out, copies included)", flops, () => {
    sgemm(a, b, m, n, k, { out: c });
  }, { n: iters, warmup: 1 });
  const s = new Scratch(); // lives for the whole bench process
  const pa = s.copyIn(a), pb = s.copyIn(b), pc = s.alloc(m * n * 4);
  gemmBench(group, "wasm sgemmPtr (operands in wasm memory)", flops, () => {
    sgemmPtr(pa, pb, pc, m, n, k);
  }, { n: iters, warmup: 1 });
}

/** The three products of a Linear layer y = x·Wᵀ (x [T, in], W [out, in]) in training. */
function linearGroup(tokens: number, inF: number, outF: number, naiveRows: number, iters: number): void {
  const group = `Linear T=${tokens} in=${inF} out=${outF} (forward + both gradients)`;
  const s = new Scratch();
  const px = s.copyIn(rand(tokens * inF, 3)), pw = s.copyIn(rand(outF * inF, 4));
  const pg = s.copyIn(rand(tokens * outF, 5)), py = s.alloc(tokens * outF * 4);
  const pgx = s.alloc(tokens * inF * 4), pgw = s.alloc(outF * inF * 4);
  const a = rand(tokens * inF, 6), b = rand(inF * outF, 7), c = new Float32Array(tokens * outF);
  const flops = 2 * tokens * inF * outF;
  gemmBench(
    group,
    naiveRows === tokens
      ? "naive TS i-k-j loop, forward only"
      : `naive TS i-k-j loop, forward only, ${naiveRows} of ${tokens} rows (x${tokens / naiveRows})`,
    2 * naiveRows * inF * outF,
    () => naiveGemm(a, b, c, naiveRows, outF, inF),
    { baseline: true, n: 2, warmup: 1 },
  );
  const ptrBench = (
    name: string,
    pa: number,
    pb: number,
    pc: number,
    m: number,
    n: number,
    k: number,
    o: SgemmOptions,
  ) => gemmBench(group, name, flops, () => sgemmPtr(pa, pb, pc, m, n, k, o), { n: iters, warmup: 1 });
  ptrBench("forward y = x·Wᵀ (transB)", px, pw, py, tokens, outF, inF, { transB: true });
  ptrBench("input grad gx = g·W", pg, pw, pgx, tokens, inF, outF, {});
  ptrBench("weight grad gW = gᵀ·x (transA)", pg, px, pgw, outF, inF, tokens, { transA: true });
}

/** One instance of a kernel build with A, B, C and workspace of an m x n x k product laid out in it. */
type Kernels = typeof wasm;
function buildGroup(m: number, n: number, k: number, iters: number, builds: [string, Kernels][]): void {
  const group = `kernel builds, sgemm ${m}x${n}x${k}`;
  const a = rand(m * k, 21), b = rand(k * n, 22);
  builds.forEach(([name, kern], i) => {
    // the instance the library uses allocates through memory.ts; the other one is untouched: lay out
    // the operands from its heap base
    const mem = kern.memory as unknown as WebAssembly.Memory;
    const ws = Number(kern.sgemmWorkspaceBytes(m, n, k));
    const bytes = [a.length * 4, b.length * 4, m * n * 4, ws].map((x) => Math.ceil(x / 64) * 64);
    let ptrs: number[];
    if (kern === wasm) ptrs = bytes.map((x) => malloc(x));
    else {
      let at = Math.ceil(Number(kern.heapBase()) / 64) * 64;
      ptrs = bytes.map((x) => (at += x) - x);
      if (at > mem.buffer.byteLength) mem.grow(Math.ceil((at - mem.buffer.byteLength) / 65536));
    }
    const [pa, pb, pc, pw] = ptrs;
    new Float32Array(mem.buffer, pa, a.length).set(a);
    new Float32Array(mem.buffer, pb, b.length).set(b);
    gemmBench(group, name, 2 * m * n * k, () => {
      kern.sgemm(0, 0, m, n, k, pa, k, 0, pb, n, 0, pc, n, 0, 1, 0, pw, 0, 1, 0, 0);
    }, { n: iters, warmup: 2, baseline: i === 0 });
  });
}

console.log(`library kernel build: ${kernelBuild}`);
{
  const plain = await import("../wasm/kernels.wasm");
  const relaxed = await import("../wasm/kernels_relaxed.wasm");
  buildGroup(512, 1024, 1024, 20, [
    ["wasm/kernels.wasm (SIMD, mul + add)", plain],
    ["wasm/kernels_relaxed.wasm (relaxed SIMD, fused madd)", relaxed],
  ]);
}
/** sgemm at 1 thread and at `all` threads (the pool stays started). */
function threadsGroup(m: number, n: number, k: number, all: number, iters: number): void {
  const group = `threads, sgemm ${m}x${n}x${k}`;
  const s = new Scratch();
  const pa = s.copyIn(rand(m * k, 31)), pb = s.copyIn(rand(k * n, 32)), pc = s.alloc(m * n * 4);
  for (const [t, baseline] of [[1, true], [all, false]] as const) {
    // withThreads, not setNumThreads: lowering the count with setNumThreads stops the workers, and the
    // next parallel call would time their restart (hundreds of ms)
    gemmBench(group, `${t} thread${t > 1 ? "s" : ""}`, 2 * m * n * k, () => {
      withThreads(t, false, () => sgemmPtr(pa, pb, pc, m, n, k));
    }, { n: iters, warmup: 2, baseline });
  }
}

const allThreads = getNumThreads();
console.log(`threads: ${allThreads} (shared wasm memory: ${sharedMemory})`);
if (allThreads > 1) {
  threadsGroup(512, 1024, 1024, allThreads, 20);
  threadsGroup(512, 4096, 1024, allThreads, 6);
}
shapeGroup(512, 1024, 1024, 512, 10);
shapeGroup(512, 4096, 4096, 64, 3);
linearGroup(512, 1024, 1024, 512, 10);
linearGroup(512, 4096, 4096, 64, 3);

// Few rows (one token through a Linear layer, as in generation): the streaming small-m path.
{
  const group = "Linear single token, 1x4096 -> 4096 (x·Wᵀ)";
  const x = rand(4096, 11), w = rand(4096 * 4096, 12), y = new Float32Array(4096);
  const flops = 2 * 4096 * 4096;
  gemmBench(group, "naive TS i-k-j loop (W as [in, out])", flops, () => naiveGemm(x, w, y, 1, 4096, 4096), {
    baseline: true,
    n: 5,
    warmup: 1,
  });
  const s = new Scratch();
  const px = s.copyIn(x), pw = s.copyIn(w), py = s.alloc(4096 * 4);
  gemmBench(
    group,
    "wasm sgemmPtr (transB)",
    flops,
    () => sgemmPtr(px, pw, py, 1, 4096, 4096, { transB: true }),
    {
      n: 20,
      warmup: 2,
    },
  );
}

// Attention-sized batched products: 16 heads, 128 tokens, head dim 64, q·kᵀ then p·v.
{
  const group = "batched attention products (16 heads, T=128, d=64)";
  const h = 16, t = 128, d = 64;
  const q = rand(h * t * d, 8), kk = rand(h * t * d, 9), p = rand(h * t * t, 10);
  const sc = new Float32Array(h * t * t), o = new Float32Array(h * t * d);
  gemmBench(group, "naive TS i-k-j loop, p·v per head", 2 * h * t * t * d, () => {
    for (let i = 0; i < h; i++) {
      naiveGemm(p.subarray(i * t * t), kk.subarray(i * t * d), o.subarray(i * t * d), t, d, t);
    }
  }, { baseline: true, n: 20, warmup: 2 });
  gemmBench(group, "wasm sgemm q·kᵀ (batch 16, transB)", 2 * h * t * t * d, () => {
    sgemm(q, kk, t, t, d, { batch: h, transB: true, out: sc });
  }, { n: 50, warmup: 5 });
  gemmBench(group, "wasm sgemm p·v (batch 16)", 2 * h * t * t * d, () => {
    sgemm(p, kk, t, d, t, { batch: h, out: o });
  }, { n: 50, warmup: 5 });
}

globalThis.addEventListener("unload", () => {
  console.log("\nGFLOP/s (2·m·n·k / mean time per call):");
  for (const r of rows) {
    const times = r.times.slice(r.warmup);
    if (times.length === 0) continue;
    const mean = times.reduce((x, y) => x + y, 0) / times.length;
    console.log(`  ${(r.flops / mean / 1e6).toFixed(2).padStart(7)}  ${r.name}`);
  }
});
