// Tests of the batched real FFT (src/fft/) against independent references: a float64 naive DFT
// written here, and fft.js (a different algorithm, float64 JS) for powers of two.
import { assert, assertEquals, assertThrows } from "./deps.ts";
import FFT from "fft.js";
import { irfft, irfftPtr, RealFft, rfft, rfftPtr } from "../src/fft/mod.ts";
import { getComplexPlan, getFftPlan } from "../src/fft/plan.ts";
import { free, malloc, memory, memoryStats } from "../src/backend/wasm/memory.ts";

/** Seeded uniform PRNG in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArray(len: number, rand: () => number): Float32Array {
  const a = new Float32Array(len);
  for (let i = 0; i < len; i++) a[i] = 2 * rand() - 1;
  return a;
}

function cosSinTable(n: number): [Float64Array, Float64Array] {
  const c = new Float64Array(n), s = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    c[k] = Math.cos((2 * Math.PI * k) / n);
    s[k] = Math.sin((2 * Math.PI * k) / n);
  }
  return [c, s];
}

/** float64 naive real DFT: bins 0..floor(n/2) of each row, interleaved (re, im). */
function naiveRfft(x: Float32Array, n: number, batch: number): Float64Array {
  const bins = Math.floor(n / 2) + 1;
  const [c, s] = cosSinTable(n);
  const out = new Float64Array(batch * bins * 2);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < bins; k++) {
      let re = 0, im = 0, idx = 0;
      for (let j = 0; j < n; j++) {
        const v = x[b * n + j];
        re += v * c[idx];
        im -= v * s[idx];
        idx += k;
        if (idx >= n) idx -= n;
      }
      out[2 * (b * bins + k)] = re;
      out[2 * (b * bins + k) + 1] = im;
    }
  }
  return out;
}

/**
 * float64 naive inverse real DFT with numpy irfft semantics: Hermitian extension of bins
 * 0..floor(n/2), imaginary parts of bin 0 and (even n) bin n/2 ignored, divided by n.
 */
function naiveIrfft(X: Float32Array, n: number, batch: number): Float64Array {
  const bins = Math.floor(n / 2) + 1;
  const [c, s] = cosSinTable(n);
  const out = new Float64Array(batch * n);
  for (let b = 0; b < batch; b++) {
    const o = 2 * b * bins;
    for (let j = 0; j < n; j++) {
      let acc = X[o];
      for (let k = 1; k < bins; k++) {
        const idx = (j * k) % n;
        const term = X[o + 2 * k] * c[idx] - X[o + 2 * k + 1] * s[idx];
        acc += (2 * k === n) ? X[o + 2 * k] * c[idx] : 2 * term;
      }
      out[b * n + j] = acc / n;
    }
  }
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function assertClose(got: ArrayLike<number>, ref: ArrayLike<number>, rel: number, what: string): void {
  assertEquals(got.length, ref.length, `${what}: length`);
  const scale = maxAbs(ref);
  let err = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  assert(
    err <= rel * scale,
    `${what}: max error ${err} at ${at} (got ${got[at]}, want ${ref[at]}) > ${rel} * max|ref| = ${
      rel * scale
    }`,
  );
}

const SIZES = [
  ...Array.from({ length: 64 }, (_, i) => i + 1),
  96,
  97,
  100,
  128,
  243,
  256,
  625,
  768,
  1000,
  1024,
  1031,
  1280,
  4096,
];
const TOL = 1e-6;

Deno.test("rfft matches a float64 naive DFT for n = 1..64 and selected sizes", () => {
  const rand = rng(1234);
  for (const n of SIZES) {
    const batch = n >= 2048 ? 1 : 1 + Math.floor(rand() * 5);
    const x = randomArray(batch * n, rand);
    assertClose(rfft(x, n, batch), naiveRfft(x, n, batch), TOL, `rfft n=${n} batch=${batch}`);
  }
});

Deno.test("irfft matches a float64 naive inverse DFT (numpy semantics) for the same sizes", () => {
  const rand = rng(99);
  for (const n of SIZES) {
    const batch = n >= 2048 ? 1 : 1 + Math.floor(rand() * 5);
    const bins = Math.floor(n / 2) + 1;
    // arbitrary spectra, including non-zero imaginary parts of DC and Nyquist (ignored by numpy)
    const X = randomArray(batch * bins * 2, rand);
    assertClose(irfft(X, n, batch), naiveIrfft(X, n, batch), TOL, `irfft n=${n} batch=${batch}`);
  }
});

Deno.test("irfft(rfft(x)) reproduces x", () => {
  const rand = rng(7);
  for (const n of SIZES) {
    const batch = 1 + Math.floor(rand() * 5);
    const x = randomArray(batch * n, rand);
    assertClose(irfft(rfft(x, n, batch), n, batch), x, TOL, `round trip n=${n} batch=${batch}`);
  }
});

Deno.test("rfft matches fft.js realTransform for powers of two", () => {
  const rand = rng(42);
  for (let n = 4; n <= 8192; n *= 2) {
    const batch = 1 + Math.floor(rand() * 5);
    const x = randomArray(batch * n, rand);
    const got = rfft(x, n, batch);
    const f = new FFT(n);
    const bins = n / 2 + 1;
    const ref = new Float64Array(batch * bins * 2);
    const out = f.createComplexArray() as number[];
    for (let b = 0; b < batch; b++) {
      f.realTransform(out, Array.from(x.subarray(b * n, (b + 1) * n)));
      for (let i = 0; i < 2 * bins; i++) ref[b * 2 * bins + i] = out[i];
    }
    assertClose(got, ref, TOL, `fft.js n=${n} batch=${batch}`);
  }
});

Deno.test("spectrum of a pure cosine has a single bin (and ignores DC/Nyquist imaginary parts)", () => {
  const n = 12;
  const x = new Float32Array(n).map((_, j) => Math.cos((2 * Math.PI * 3 * j) / n));
  const X = rfft(x, n, 1);
  for (let k = 0; k <= n / 2; k++) {
    const want = k === 3 ? n / 2 : 0;
    assert(Math.abs(X[2 * k] - want) < 1e-5 && Math.abs(X[2 * k + 1]) < 1e-5, `bin ${k}`);
  }
  X[1] = 5; // Im DC
  X[2 * (n / 2) + 1] = -3; // Im Nyquist
  assertClose(irfft(X, n, 1), x, 1e-6, "irfft ignores Im of DC and Nyquist");
});

Deno.test("batch rows are independent (full and partial groups of 4 and 8 rows), out arrays", () => {
  const rand = rng(5);
  // even n runs 4 rows per group, odd n 8 (two real rows per complex lane): 11 rows leave partial
  // groups in both cases
  for (const n of [100, 45, 97]) {
    const batch = 11;
    const x = randomArray(batch * n, rand);
    const all = rfft(x, n, batch);
    assertClose(all, naiveRfft(x, n, batch), TOL, `rfft n=${n} batch=${batch}`);
    const bins = Math.floor(n / 2) + 1;
    for (let b = 0; b < batch; b++) {
      const one = rfft(x.slice(b * n, (b + 1) * n), n, 1);
      assertClose(all.subarray(b * bins * 2, (b + 1) * bins * 2), one, 1e-6, `n=${n} row ${b}`);
    }
    const X = randomArray(batch * bins * 2, rand);
    assertClose(irfft(X, n, batch), naiveIrfft(X, n, batch), TOL, `irfft n=${n} batch=${batch}`);
    const out = new Float32Array(batch * bins * 2).fill(NaN);
    assertEquals(rfft(x, n, batch, out), out, "rfft returns the given out array");
    assertEquals(out, all);
    const back = new Float32Array(batch * n);
    assertEquals(irfft(all, n, batch, back), back, "irfft returns the given out array");
    assertClose(back, x, TOL, "irfft into out");
  }
  assertEquals(rfft(new Float32Array(0), 8, 0).length, 0);
  assertEquals(irfft(new Float32Array(0), 8, 0).length, 0);
});

Deno.test("rfftPtr / irfftPtr work in place in wasm memory; irfftPtr keeps its input", () => {
  const rand = rng(11);
  for (const n of [64, 97, 768]) {
    const batch = 6;
    const bins = Math.floor(n / 2) + 1;
    const x = randomArray(batch * n, rand);
    const pin = malloc(batch * n * 4), pspec = malloc(batch * bins * 8), pout = malloc(batch * n * 4);
    try {
      new Float32Array(memory.buffer, pin, x.length).set(x);
      rfftPtr(n, pin, pspec, batch);
      const spec = new Float32Array(memory.buffer, pspec, batch * bins * 2).slice();
      assertClose(spec, naiveRfft(x, n, batch), TOL, `rfftPtr n=${n}`);
      irfftPtr(n, pspec, pout, batch);
      assertEquals(new Float32Array(memory.buffer, pspec, spec.length), spec, "irfftPtr input unchanged");
      assertClose(new Float32Array(memory.buffer, pout, x.length), x, TOL, `irfftPtr n=${n}`);
    } finally {
      free(pout);
      free(pspec);
      free(pin);
    }
  }
});

Deno.test("RealFft plan object: forward/inverse on resident buffers, dispose frees", () => {
  rfft(new Float32Array(1280 * 5), 1280, 5); // plan and workspace are persistent: create them first
  const before = memoryStats().liveBytes;
  const rand = rng(3);
  {
    using f = new RealFft(1280, 5);
    const x = randomArray(5 * 1280, rand);
    f.signal.set(x);
    f.forward();
    assertClose(f.spectrum, naiveRfft(x, 1280, 5), TOL, "RealFft.forward");
    f.signal.fill(0);
    f.inverse();
    assertClose(f.signal, x, TOL, "RealFft.inverse");
  }
  assertEquals(memoryStats().liveBytes, before);
  const g = new RealFft(8, 1);
  g.dispose();
  assertThrows(() => g.forward(), Error, "after dispose");
});

Deno.test("bad sizes throw RangeError naming the value", () => {
  const x = new Float32Array(8);
  assertThrows(() => rfft(x, 0, 1), RangeError, "got 0");
  assertThrows(() => rfft(x, -4, 1), RangeError, "got -4");
  assertThrows(() => rfft(x, 2.5, 1), RangeError, "got 2.5");
  assertThrows(() => rfft(x, NaN, 1), RangeError, "got NaN");
  assertThrows(() => rfft(x, 8, 1.5), RangeError, "got 1.5");
  assertThrows(() => rfft(x, 8, -1), RangeError, "got -1");
  assertThrows(() => rfft(x, 4, 1), RangeError, "batch * n = 1 * 4 = 4, got 8");
  assertThrows(() => rfft(x, 3, 3), RangeError, "got 8");
  assertThrows(() => irfft(x, 8, 1), RangeError, "batch * (floor(n/2)+1) * 2 = 1 * 5 * 2 = 10, got 8");
  assertThrows(() => irfft(new Float32Array(10), 8, 2), RangeError, "got 10");
  assertThrows(() => irfft(x, 0, 1), RangeError, "got 0");
  assertThrows(() => rfft(x, 8, 1, new Float32Array(9)), RangeError, "out must be a Float32Array of length");
  assertThrows(() => irfft(new Float32Array(10), 8, 1, new Float32Array(7)), RangeError, "= 8, got 7");
  assertThrows(() => rfftPtr(8, 3, 64, 1), RangeError, "inPtr");
  assertThrows(() => irfftPtr(8, 64, -8, 1), RangeError, "outPtr");
  assertThrows(() => rfftPtr(8, 64, 128, 2 ** 30), RangeError, "exceeds wasm memory");
  assertThrows(() => getFftPlan(0), RangeError, "got 0");
  assertThrows(() => new RealFft(16, 0), RangeError, "got 0");
});

Deno.test("planner: radix passes multiply to the length; Bluestein for other primes", () => {
  for (const n of [1, 2, 12, 60, 768, 1280, 2048, 3125]) {
    const p = getComplexPlan(n);
    assertEquals(p.kind, "stockham");
    if (p.kind === "stockham") assertEquals(p.passes.reduce((a, q) => a * q.radix, 1), n);
  }
  for (const n of [7, 97, 1031, 14 * 3]) {
    const p = getComplexPlan(n);
    assertEquals(p.kind, "bluestein");
    if (p.kind === "bluestein") assert(p.m >= 2 * n - 1, `M = ${p.m} >= 2L-1`);
  }
  const p = getFftPlan(1000);
  assertEquals([p.even, p.complexLength, p.bins], [true, 500, 501]);
});
