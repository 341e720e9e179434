// Batched real FFT benchmarks: `deno bench -A bench/fft_bench.ts`.
//
// Every iteration transforms B = 4096 real signals; divide the time per iteration by 4096 for the
// time per transform. Peers run in the same process on the same data:
// - fft.js 4.0.4 `realTransform` (radix-4 JS, float64), one call per signal;
// - PFFFT (npm @echogarden/pffft-wasm, WASM SIMD build) real setup, `_pffft_transform_ordered`,
//   signals, spectra and work buffer resident in its own heap, one call per signal;
// - ours through the pointer-level plan object `RealFft` (data resident in wasm memory, one call
//   per batch) and through the copying Float32Array API `rfft` (copy share), with a fresh output
//   array per call and with a reused one.
// Round trips: ours rfft+irfft next to PFFFT forward+backward (PFFFT's backward is unnormalised).
// Targets (DESIGN.md): >= 1.0x PFFFT and >= 4x fft.js at n = 64, 256, 1024; non-powers of two
// within 1.5x of the next power of two.
import FFT from "fft.js";
import PFFFT from "@echogarden/pffft-wasm/simd";
import { RealFft, rfft } from "../src/fft/mod.ts";

const B = 4096;

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
  Deno.bench({
    name: `fft.js realTransform n=${n}`,
    group,
    fn() {
      for (let b = 0; b < B; b++) f.realTransform(fout, rows[b]);
    },
  });

  // PFFFT, data resident in its heap
  const setup = pffft._pffft_new_setup(n, PFFFT_REAL);
  const pin = pffft._pffft_aligned_malloc(B * n * 4);
  const pout = pffft._pffft_aligned_malloc(B * n * 4);
  const pwork = pffft._pffft_aligned_malloc(n * 4);
  pffft.HEAPF32.set(x, pin >> 2);
  Deno.bench({
    name: `pffft simd n=${n}`,
    group,
    baseline: true,
    fn() {
      for (let b = 0; b < B; b++) {
        pffft._pffft_transform_ordered(setup, pin + b * n * 4, pout + b * n * 4, pwork, PFFFT_FORWARD);
      }
    },
  });

  const pspec = pffft._pffft_aligned_malloc(B * n * 4);
  Deno.bench({
    name: `pffft simd fwd+inv n=${n}`,
    group,
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
  Deno.bench({
    name: `c3a rfft n=${n}`,
    group,
    fn() {
      plan.forward();
    },
  });
  Deno.bench({
    name: `c3a rfft+irfft n=${n}`,
    group,
    fn() {
      plan.forward();
      plan.inverse();
    },
  });
  // ours, copying Float32Array API (copy share = this / `c3a rfft`): allocating a new output per
  // call, and into a reused output array
  Deno.bench({
    name: `c3a rfft(Float32Array) n=${n}`,
    group,
    fn() {
      rfft(x, n, B);
    },
  });
  const out = new Float32Array(B * plan.bins * 2);
  Deno.bench({
    name: `c3a rfft(Float32Array, out) n=${n}`,
    group,
    fn() {
      rfft(x, n, B, out);
    },
  });
}

// Non-powers of two next to the next power of two (ours, resident).
for (const [n, p2] of [[96, 128], [100, 128], [768, 1024], [1280, 2048]]) {
  const group = `rfft n=${n} vs ${p2} x${B}`;
  for (const [size, base] of [[p2, true], [n, false]] as const) {
    const plan = new RealFft(size, B);
    plan.signal.set(randomSignals(size, size));
    Deno.bench({
      name: `c3a rfft n=${size}`,
      group,
      baseline: base,
      fn() {
        plan.forward();
      },
    });
    Deno.bench({
      name: `c3a rfft+irfft n=${size}`,
      group,
      fn() {
        plan.forward();
        plan.inverse();
      },
    });
  }
}
