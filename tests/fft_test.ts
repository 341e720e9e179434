// Tests of the batched real FFT (src/fft/) against independent references: a float64 naive DFT
// written here, and fft.js (a different algorithm, float64 JS) for powers of two.
import { assert, assertEquals, assertThrows } from "./deps.ts";
import FFT from "fft.js";
import { irfft, rfft } from "../src/fft/mod.ts";
import { type Tensor, tensor } from "../src/tensor/index.ts";
import { irfftPtr, RealFft, rfftPtr } from "../src/backend/wasm/fft.ts";
import { factorize, getComplexPlan, getFftPlan, isSmooth, type StockhamPlan } from "../src/fft/plan.ts";
import { free, malloc, memory, memoryStats } from "../src/backend/wasm/memory.ts";
import { c3aBackward, c3aForward } from "../src/backend/wasm/circulant.ts";
import { mulberry32 } from "./_random.ts";

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
  127, // Bluestein on M = 256 (radix-8 wasm passes)
  128,
  243,
  256,
  511, // Bluestein on M = 1024
  512,
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
  const rand = mulberry32(1234);
  for (const n of SIZES) {
    const batch = n >= 2048 ? 1 : 1 + Math.floor(rand() * 5);
    const x = randomArray(batch * n, rand);
    assertClose(rfft(x, n, batch), naiveRfft(x, n, batch), TOL, `rfft n=${n} batch=${batch}`);
  }
});

Deno.test("irfft matches a float64 naive inverse DFT (numpy semantics) for the same sizes", () => {
  const rand = mulberry32(99);
  for (const n of SIZES) {
    const batch = n >= 2048 ? 1 : 1 + Math.floor(rand() * 5);
    const bins = Math.floor(n / 2) + 1;
    // arbitrary spectra, including non-zero imaginary parts of DC and Nyquist (ignored by numpy)
    const X = randomArray(batch * bins * 2, rand);
    assertClose(irfft(X, n, batch), naiveIrfft(X, n, batch), TOL, `irfft n=${n} batch=${batch}`);
  }
});

Deno.test("irfft(rfft(x)) reproduces x", () => {
  const rand = mulberry32(7);
  for (const n of SIZES) {
    const batch = 1 + Math.floor(rand() * 5);
    const x = randomArray(batch * n, rand);
    assertClose(irfft(rfft(x, n, batch), n, batch), x, TOL, `round trip n=${n} batch=${batch}`);
  }
});

Deno.test("rfft matches fft.js realTransform for powers of two", () => {
  const rand = mulberry32(42);
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
  const rand = mulberry32(5);
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
  const rand = mulberry32(11);
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
  const rand = mulberry32(3);
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
  assertThrows(() => rfft(x, 4, 1), RangeError, "batch * n = 1 * 4 = 4, got length 8");
  assertThrows(() => rfft(x, 3, 3), RangeError, "got length 8");
  assertThrows(() => irfft(x, 8, 1), RangeError, "batch * (floor(n/2)+1) * 2 = 1 * 5 * 2 = 10, got length 8");
  assertThrows(() => irfft(new Float32Array(10), 8, 2), RangeError, "got length 10");
  assertThrows(() => irfft(x, 0, 1), RangeError, "got 0");
  // a tensor's n is its last axis: an extra n (torch.fft.rfft's padding argument) is refused, not ignored
  assertThrows(
    () => (rfft as (t: Tensor, n: number) => Tensor)(tensor([1, 2, 3, 4]), 8),
    RangeError,
    "got 8",
  );
  assertThrows(() => rfft(x, 8, 1, new Float32Array(9)), RangeError, "out must be a Float32Array of length");
  assertThrows(() => irfft(new Float32Array(10), 8, 1, new Float32Array(7)), RangeError, "= 8, got length 7");
  // the wrong type is named, not only its length
  const loose = rfft as unknown as (x: unknown, n: unknown, batch: unknown, out?: unknown) => unknown;
  assertThrows(
    () => loose(new Float64Array(8), 8, 1),
    RangeError,
    "Float32Array of length batch * n = 1 * 8 = 8, got Float64Array(8)",
  );
  assertThrows(() => loose([1, 2, 3, 4], 4, 1), RangeError, "got Array(4)");
  assertThrows(() => loose(x, "8", 1), RangeError, 'got "8" (string)');
  assertThrows(() => loose(x, 8, 1, new Float64Array(10)), RangeError, "got Float64Array(10)");
  assertThrows(() => loose(x, 8, 1, null), RangeError, "got null");
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

const factorizeWasm = (n: number) => factorize(n, [2, 3, 4, 5, 8]);

Deno.test("planner: with radix 8 supported (wasm), powers of two >= 64 use radix 8; plans cached per (n, radices)", () => {
  const wasmCaps = { radices: [2, 3, 4, 5, 8] };
  const p8 = getFftPlan(256, wasmCaps), p4 = getFftPlan(256);
  assert(p8 !== p4 && p8 === getFftPlan(256, { radices: [8, 5, 4, 3, 2] }) && p4 === getFftPlan(256));
  assertEquals((p8.complex as StockhamPlan).passes.map((p) => p.radix), [8, 8, 2]); // complex length 128
  assertEquals((p4.complex as StockhamPlan).passes.map((p) => p.radix), [4, 4, 4, 2]);
  for (let n = 1; n <= 4096; n++) {
    if (!isSmooth(n)) continue;
    const f = factorizeWasm(n);
    assertEquals(f.reduce((a, r) => a * r, 1), n, `product for ${n}`);
    const pow2 = (n & (n - 1)) === 0;
    if (pow2 && n >= 64) {
      assert(f.includes(8), `radix 8 for ${n}: ${f}`);
      // at most one radix 2, and only last (it is fused into the real split step)
      assert(f.indexOf(2) === -1 || f.indexOf(2) === f.length - 1, `2 last for ${n}: ${f}`);
    } else {
      assertEquals(f, factorize(n), `unchanged for ${n}`);
    }
  }
  assertEquals(factorizeWasm(128), [8, 8, 2]);
  assertEquals(factorizeWasm(1024), [8, 8, 4, 4]);
});

// ---------------------------------------------------------------- non-finite values stay in their row

/** Indices of the rows of `a` ([rows, width]) holding a NaN or infinity. */
function nonFiniteRows(a: Float32Array, width: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * width < a.length; r++) {
    if (a.subarray(r * width, (r + 1) * width).some((v) => !Number.isFinite(v))) out.push(r);
  }
  return out;
}

/** Rows of got and ref except `skip` ([rows, width] each), compared with assertClose. */
function assertOtherRowsClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  width: number,
  skip: number,
  what: string,
): void {
  const keep = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => Math.floor(i / width) !== skip);
  assertClose(keep(got), keep(ref), TOL, what);
}

// Odd n packs two rows into one complex transform, even n runs 4 rows per SIMD vector; batches 1..9
// leave partial groups (padding lanes) of both. Smooth and Bluestein lengths.
const NONFINITE_SIZES = [1, 2, 3, 5, 7, 16, 17, 45, 97, 98, 100];
const BAD_VALUES = [NaN, Infinity, -Infinity];

Deno.test("rfft: a NaN/Inf in one row (or its overflow) leaves every other row correct", () => {
  const rand = mulberry32(77);
  for (const n of NONFINITE_SIZES) {
    const bins = Math.floor(n / 2) + 1;
    for (let batch = 1; batch <= 9; batch++) {
      const x = randomArray(batch * n, rand);
      const ref = naiveRfft(x, n, batch);
      for (const bad of [0, batch - 1, batch >> 1]) {
        // "overflow": a finite row whose sum (bin 0) overflows float32 (n >= 2)
        for (const v of n > 1 ? [...BAD_VALUES, "overflow"] as const : BAD_VALUES) {
          const xb = x.slice();
          if (v === "overflow") xb.fill(3e38, bad * n, (bad + 1) * n);
          else xb[bad * n + Math.floor(rand() * n)] = v;
          const what = `n=${n} batch=${batch} row ${bad} = ${v}`;
          const got = rfft(xb, n, batch);
          assertEquals(nonFiniteRows(got, 2 * bins), [bad], what);
          assertOtherRowsClose(got, ref, 2 * bins, bad, what);
        }
      }
    }
  }
});

Deno.test("irfft: a NaN/Inf in one row's spectrum leaves every other row correct", () => {
  const rand = mulberry32(78);
  for (const n of NONFINITE_SIZES) {
    const bins = Math.floor(n / 2) + 1;
    for (let batch = 1; batch <= 9; batch++) {
      const X = randomArray(batch * bins * 2, rand);
      const ref = naiveIrfft(X, n, batch);
      for (const bad of [0, batch - 1, batch >> 1]) {
        for (const v of BAD_VALUES) {
          const Xb = X.slice();
          Xb[2 * (bad * bins + Math.floor(rand() * bins))] = v; // a real part
          const what = `n=${n} batch=${batch} row ${bad} = ${v}`;
          const got = irfft(Xb, n, batch);
          assertEquals(nonFiniteRows(got, n), [bad], what);
          assertOtherRowsClose(got, ref, n, bad, what);
        }
        // the imaginary part of bin 0 is ignored (numpy), so a NaN there changes nothing
        const Xb = X.slice();
        Xb[2 * bad * bins + 1] = NaN;
        assertClose(irfft(Xb, n, batch), ref, TOL, `n=${n} batch=${batch} NaN in Im X_0 of row ${bad}`);
      }
    }
  }
});

/**
 * float64 dense C3A references through A[i b + s, j b + t] = w[i, j, (t - s) mod b]:
 * "forward": y[r, i b + s] = sum_j sum_t A[i b + s, j b + t] v[r, j b + t] (v = x);
 * "gradX": gx[r, j b + t] = sum_i sum_s A[i b + s, j b + t] v[r, i b + s] (v = g).
 */
function denseC3a(
  v: Float32Array,
  w: Float32Array,
  rows: number,
  m: number,
  n: number,
  b: number,
  dir: "forward" | "gradX" = "forward",
): Float64Array {
  const inF = n * b, outF = m * b;
  const out = new Float64Array(rows * (dir === "forward" ? outF : inF));
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < m; i++) {
      for (let s = 0; s < b; s++) {
        for (let j = 0; j < n; j++) {
          for (let t = 0; t < b; t++) {
            const a = w[(i * n + j) * b + ((t - s + b) % b)];
            if (dir === "forward") out[r * outF + i * b + s] += a * v[r * inF + j * b + t];
            else out[r * inF + j * b + t] += a * v[r * outF + i * b + s];
          }
        }
      }
    }
  }
  return out;
}

Deno.test("C3A kernels (rfftPtr/irfftPtr inside): a NaN in one row of x or gradY stays in that row", () => {
  const rand = mulberry32(79);
  const rows = 6, m = 2, n = 2;
  for (const b of [2, 3, 4, 5, 6, 7, 9]) {
    const shape = { rows, m, n, b };
    const x = randomArray(rows * n * b, rand), w = randomArray(m * n * b, rand);
    const g = randomArray(rows * m * b, rand);
    for (const bad of [0, 3, rows - 1]) {
      const xb = x.slice();
      xb[bad * n * b] = NaN;
      const y = c3aForward(xb, w, shape);
      assertEquals(nonFiniteRows(y, m * b), [bad], `forward b=${b} NaN in x row ${bad}`);
      assertOtherRowsClose(y, denseC3a(x, w, rows, m, n, b), m * b, bad, `forward b=${b}`);
      const gb = g.slice();
      gb[bad * m * b + b - 1] = NaN;
      const { gradX } = c3aBackward(x, w, gb, shape, { kernelGrad: false });
      assertEquals(nonFiniteRows(gradX!, n * b), [bad], `backward b=${b} NaN in gradY row ${bad}`);
      assertOtherRowsClose(gradX!, denseC3a(g, w, rows, m, n, b, "gradX"), n * b, bad, `backward b=${b}`);
    }
    // a NaN in kernel block (0, 0) reaches output block 0 only (its spectrum row must not leak)
    const wb = w.slice();
    wb[0] = NaN;
    const y = c3aForward(x, wb, shape);
    const ref = denseC3a(x, w, rows, m, n, b);
    for (let i = 0; i < y.length; i++) {
      const block0 = i % (m * b) < b;
      assert(
        block0 ? Number.isNaN(y[i]) : Math.abs(y[i] - ref[i]) <= 1e-5,
        `kernel NaN b=${b} at ${i}: ${y[i]}`,
      );
    }
  }
});

// ---------------------------------------------------------------- large prime lengths

/** Bin k of the float64 DFT of x (O(n)), angles reduced exactly (jk mod n). */
function dftBin(x: Float32Array, k: number): [number, number] {
  const n = x.length;
  let re = 0, im = 0, idx = 0;
  for (let j = 0; j < n; j++) {
    const a = (2 * Math.PI * idx) / n;
    re += x[j] * Math.cos(a);
    im -= x[j] * Math.sin(a);
    idx += k;
    if (idx >= n) idx -= n;
  }
  return [re, im];
}

Deno.test("Bluestein filter spectrum = float64 DFT of the chirp filter (planner FFT, radices 2/3/4/5)", () => {
  for (const L of [7, 11, 97, 1031]) {
    const p = getComplexPlan(L);
    assert(p.kind === "bluestein");
    const M = p.m;
    // h_t = conj c_|t| for |t| < L, c_j = e^(-pi i j^2/L) (float64, independent of the plan's chirp)
    const hr = new Float64Array(M), hi = new Float64Array(M);
    for (let t = 0; t < L; t++) {
      const a = (Math.PI * ((t * t) % (2 * L))) / L;
      hr[t] = hr[(M - t) % M] = Math.cos(a);
      hi[t] = hi[(M - t) % M] = Math.sin(a);
    }
    const [cs, sn] = cosSinTable(M);
    const ref = new Float64Array(2 * M);
    for (let k = 0; k < M; k++) {
      let re = 0, im = 0;
      for (let t = 0, idx = 0; t < M; t++, idx = (idx + k) % M) {
        const c = cs[idx], s = sn[idx];
        re += hr[t] * c + hi[t] * s;
        im += hi[t] * c - hr[t] * s;
      }
      ref[2 * k] = re / M;
      ref[2 * k + 1] = im / M;
    }
    assertClose(p.filter, ref, 1e-6, `filter L=${L} M=${M}`);
    const chirpRef = new Float64Array(2 * L);
    for (let j = 0; j < L; j++) {
      chirpRef[2 * j] = hr[j];
      chirpRef[2 * j + 1] = -hi[j];
    }
    assertClose(p.chirp, chirpRef, 1e-7, `chirp L=${L}`);
  }
});

Deno.test("large prime n = 65537: planning (O(n log n)), bins vs float64 DFT, round trip", () => {
  const n = 65537;
  const p = getFftPlan(n);
  assert(p.complex.kind === "bluestein" && p.complex.m >= 2 * n - 1);
  const rand = mulberry32(65537);
  const x = randomArray(n, rand);
  const X = rfft(x, n, 1);
  let scale = 0;
  for (let i = 0; i < X.length; i++) scale = Math.max(scale, Math.abs(X[i]));
  for (const k of [0, 1, 2, 777, 12345, 32767, 32768]) {
    const [re, im] = dftBin(x, k);
    const err = Math.max(Math.abs(X[2 * k] - re), Math.abs(X[2 * k + 1] - im));
    assert(err <= TOL * scale, `bin ${k}: got (${X[2 * k]}, ${X[2 * k + 1]}), want (${re}, ${im})`);
  }
  assertClose(irfft(X, n, 1), x, TOL, "round trip n=65537");
});
