// Batched real FFT benchmarks.
//
//   deno bench -A bench/fft_bench.ts      deno bench groups (each with a baseline)
//   deno run -A bench/fft_bench.ts [rounds] [--cold]
//                                         median table in ns per transform (README format); each
//                                         timed batch follows an untimed one on the same data
//                                         (warm caches), or with --cold a 64 MiB sweep that evicts
//                                         the data from the caches
//
// Every iteration transforms B = 4096 real signals; times per transform are the time per iteration
// divided by 4096. Peers run in the same process on the same data:
// - fft.js 4.0.4 `realTransform` (radix-4 JS, float64), one call per signal;
// - PFFFT (npm @echogarden/pffft-wasm, WASM SIMD build) real setup, `_pffft_transform_ordered`,
//   signals, spectra and work buffer resident in its own heap, one call per signal;
// - ours through the pointer-level plan object `RealFft` (data resident in wasm memory, one call
//   per batch) and through the copying Float32Array API `rfft` (copy share), with a fresh output
//   array per call and with a reused one (also on one thread: `withThreads(1, ...)`).
// Round trips: ours rfft+irfft next to PFFFT forward+backward (PFFFT's backward is unnormalised).
// Targets (DESIGN.md): >= 1.0x PFFFT and >= 4x fft.js at n = 64, 256, 1024; non-powers of two
// within 1.5x of the next power of two.
import FFT from "fft.js";
import PFFFT from "@echogarden/pffft-wasm/simd";
import { rfft } from "../src/fft/mod.ts";
import { RealFft } from "../src/backend/wasm/fft.ts";
import { getNumThreads, withThreads } from "../src/backend/threads/pool.ts";

const B = 4096;

interface Case {
  group: string;
  name: string;
  baseline?: boolean;
  fn: () => void;
}
const cases: Case[] = [];

function randomSignals(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(B * n);
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

interface PffftModule {
  _pffft_new_setup(n: number, kind: number): number;
  _pffft_aligned_malloc(bytes: number): number;
  _pffft_transform_ordered(setup: number, inp: number, out: number, work: number, dir: number): void;
  HEAPF32: Float32Array;
}
const pffft = (await PFFFT()) as PffftModule;
const PFFFT_REAL = 0, PFFFT_FORWARD = 0, PFFFT_BACKWARD = 1;

for (const n of [64, 256, 1024]) {
  const group = `rfft n=${n} x${B}`;
  const x = randomSignals(n, n);

  // fft.js
  const f = new FFT(n);
  const rows: Float64Array[] = [];
  for (let b = 0; b < B; b++) rows.push(Float64Array.from(x.subarray(b * n, (b + 1) * n)));
  const fout = f.createComplexArray() as number[];
  cases.push({
    group,
    name: `fft.js realTransform n=${n}`,
    fn() {
      for (let b = 0; b < B; b++) f.realTransform(fout, rows[b]);
    },
  });

  // PFFFT, data resident in its heap
  const setup = pffft._pffft_new_setup(n, PFFFT_REAL);
  const pin = pffft._pffft_aligned_malloc(B * n * 4);
  const pspec = pffft._pffft_aligned_malloc(B * n * 4);
  const pout = pffft._pffft_aligned_malloc(B * n * 4);
  const pwork = pffft._pffft_aligned_malloc(n * 4);
  pffft.HEAPF32.set(x, pin >> 2);
  cases.push({
    group,
    name: `pffft simd n=${n}`,
    baseline: true,
    fn() {
      for (let b = 0; b < B; b++) {
        pffft._pffft_transform_ordered(setup, pin + b * n * 4, pspec + b * n * 4, pwork, PFFFT_FORWARD);
      }
    },
  });
  cases.push({
    group,
    name: `pffft simd fwd+inv n=${n}`,
    fn() {
      for (let b = 0; b < B; b++) {
        pffft._pffft_transform_ordered(setup, pin + b * n * 4, pspec + b * n * 4, pwork, PFFFT_FORWARD);
        pffft._pffft_transform_ordered(setup, pspec + b * n * 4, pout + b * n * 4, pwork, PFFFT_BACKWARD);
      }
    },
  });

  // ours, resident (pointer API)
  const plan = new RealFft(n, B);
  plan.signal.set(x);
  cases.push({ group, name: `c3a rfft n=${n}`, fn: () => plan.forward() });
  cases.push({
    group,
    name: `c3a rfft+irfft n=${n}`,
    fn() {
      plan.forward();
      plan.inverse();
    },
  });
  // ours, copying Float32Array API (copy share = this / `c3a rfft`): a new output array per call,
  // and a reused one
  cases.push({ group, name: `c3a rfft(Float32Array) n=${n}`, fn: () => rfft(x, n, B) });
  const out = new Float32Array(B * plan.bins * 2);
  cases.push({ group, name: `c3a rfft(Float32Array, out) n=${n}`, fn: () => rfft(x, n, B, out) });
  cases.push({
    group,
    name: `c3a rfft(Float32Array, out) 1 thread n=${n}`,
    fn: () => withThreads(1, false, () => rfft(x, n, B, out)),
  });
}

// Non-powers of two next to the next power of two (ours, resident).
for (const [n, p2] of [[96, 128], [100, 128], [768, 1024], [1280, 2048]]) {
  const group = `rfft n=${n} vs ${p2} x${B}`;
  for (const [size, base] of [[p2, true], [n, false]] as const) {
    const plan = new RealFft(size, B);
    plan.signal.set(randomSignals(size, size));
    cases.push({ group, name: `c3a rfft n=${size}`, baseline: base, fn: () => plan.forward() });
    cases.push({
      group,
      name: `c3a rfft+irfft n=${size}`,
      fn() {
        plan.forward();
        plan.inverse();
      },
    });
  }
}

if (!import.meta.main) {
  for (const c of cases) Deno.bench({ name: c.name, group: c.group, baseline: c.baseline, fn: c.fn });
} else {
  // Table mode: rounds interleave all cases of a group (so load changes hit them alike); median
  // over rounds of the time of one batch, per transform.
  const cold = Deno.args.includes("--cold");
  const rounds = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 21);
  const junk = new Float64Array(cold ? 8 << 20 : 0);
  const median: Record<string, number> = {};
  for (const group of new Set(cases.map((c) => c.group))) {
    const gc = cases.filter((c) => c.group === group);
    const times = gc.map(() => [] as number[]);
    for (const c of gc) for (let w = 0; w < 3; w++) c.fn();
    for (let r = 0; r < rounds; r++) {
      gc.forEach((c, i) => {
        if (cold) { for (let j = 0; j < junk.length; j += 8) junk[j] += 1; }
        else c.fn();
        const t0 = performance.now();
        c.fn();
        times[i].push(performance.now() - t0);
      });
    }
    gc.forEach((c, i) => {
      const t = times[i].sort((a, b) => a - b);
      median[`${group}|${c.name}`] = (t[t.length >> 1] * 1e6) / B;
    });
  }
  const get = (group: string, name: string) => median[`${group}|${name}`];
  const f0 = (v: number) => v.toFixed(0);
  const f2 = (v: number) => v.toFixed(2);
  console.log(
    `median ns per transform, batch of ${B}, ${rounds} rounds, ${
      cold ? "cold" : "warm"
    } caches; c3a on ${getNumThreads()} threads; ${navigator.userAgent}`,
  );
  console.log(
    "\n| n | fft.js realTransform | PFFFT SIMD | c3a rfft | c3a vs PFFFT | c3a vs fft.js | PFFFT fwd+inv | c3a rfft+irfft | c3a rfft(Float32Array) new out / reused out | rfft(x, n, batch, out) vs PFFFT | same, 1 thread |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const n of [64, 256, 1024]) {
    const g = `rfft n=${n} x${B}`;
    const fj = get(g, `fft.js realTransform n=${n}`), pf = get(g, `pffft simd n=${n}`);
    const ours = get(g, `c3a rfft n=${n}`);
    console.log(
      `| ${n} | ${f0(fj)} | ${f0(pf)} | ${f0(ours)} | ${f2(pf / ours)}x | ${f2(fj / ours)}x | ${
        f0(get(g, `pffft simd fwd+inv n=${n}`))
      } | ${f0(get(g, `c3a rfft+irfft n=${n}`))} | ${f0(get(g, `c3a rfft(Float32Array) n=${n}`))} / ${
        f0(get(g, `c3a rfft(Float32Array, out) n=${n}`))
      } | ${f2(pf / get(g, `c3a rfft(Float32Array, out) n=${n}`))}x | ${
        f2(pf / get(g, `c3a rfft(Float32Array, out) 1 thread n=${n}`))
      }x |`,
    );
  }
  console.log(
    "\n| n | c3a rfft | next power of two | its rfft | ratio | c3a rfft+irfft | its rfft+irfft | ratio |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const [n, p2] of [[96, 128], [100, 128], [768, 1024], [1280, 2048]]) {
    const g = `rfft n=${n} vs ${p2} x${B}`;
    const a = get(g, `c3a rfft n=${n}`), b = get(g, `c3a rfft n=${p2}`);
    const a2 = get(g, `c3a rfft+irfft n=${n}`), b2 = get(g, `c3a rfft+irfft n=${p2}`);
    console.log(
      `| ${n} | ${f0(a)} | ${p2} | ${f0(b)} | ${f2(a / b)} | ${f0(a2)} | ${f0(b2)} | ${f2(a2 / b2)} |`,
    );
  }
}
