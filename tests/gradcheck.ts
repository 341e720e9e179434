/**
 * Central finite-difference gradient checking, shared by every test that checks an op's backward.
 *
 * Two modes:
 *
 * 1. With a float64 reference (`opts.ref`, preferred): `ref` recomputes the op's forward in float64
 *    from plain arrays, written independently in the test. Finite differences of the float64
 *    reference (step 1e-6, truncation error O(h²) ≈ 1e-12, round-off ≈ 1e-16/1e-6 = 1e-10 relative)
 *    give the true gradient to ~1e-9, so the analytic float32 gradient is compared with a tolerance
 *    set only by float32 arithmetic (default rtol 1e-4 · max|grad| + atol 1e-5). The forward output is
 *    also compared with the reference (default 1e-5 relative to max|ref|).
 *
 * 2. Without a reference: the op's own float32 forward is differenced. The scalar probe
 *    `L = Σ w·f(x)` is summed in float64 from the float32 outputs; with step h the error of the
 *    central difference is about `h²·|f'''|/6 + ε32·|L|/h` (ε32 = 6e-8 rounding of each output).
 *    h = 1e-2 balances the two for O(1) inputs, giving ~1e-4..1e-3 absolute error, so the default
 *    tolerance is rtol 1e-2 · max|grad| + atol 1e-3. Use only for smooth ops with O(1) inputs.
 *
 * In both modes the analytic gradient is the backward of `L = Σ w·f(x)` for a fixed pseudo-random
 * cotangent `w` ∈ [-1, 1] (so every output element matters, with different weights).
 *
 * @module
 */

import { noGrad } from "../src/autograd/grad_mode.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { fromFloat32Array } from "../src/tensor/creation.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sum } from "../src/ops/reduce.ts";

/** Options of {@link gradcheck}. */
export interface GradcheckOptions {
  /**
   * float64 reference forward: receives each input as a Float64Array (row-major, shapes as the
   * inputs) and returns the output row-major (any ArrayLike<number>).
   */
  ref?: (inputs: Float64Array[]) => ArrayLike<number>;
  /** Indices of inputs to differentiate (default all). Others are passed through unchanged. */
  wrt?: number[];
  /** Relative tolerance (fraction of max |numeric gradient| of the input). */
  rtol?: number;
  /** Absolute tolerance. */
  atol?: number;
  /** Finite-difference step. */
  eps?: number;
  /** Check at most this many elements per input (chosen deterministically), default 64. */
  maxElements?: number;
  /** Tolerance of the forward check against `ref`, relative to max|ref| (default 1e-5). */
  forwardTol?: number;
  /** Seed of the cotangent weights (default 12345). */
  seed?: number;
}

/** What {@link gradcheck} measured. */
export interface GradcheckReport {
  /** Per checked input: max |analytic − numeric| and max |numeric|. */
  inputs: Array<{ index: number; maxAbsErr: number; maxAbsGrad: number; checked: number }>;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/**
 * Checks the backward of `fn` at `inputs` against central finite differences (see the module doc).
 * `fn` must be deterministic. Inputs are copied into fresh leaves; the caller's tensors are untouched.
 *
 * @throws {Error} describing the worst element when a gradient (or the forward vs `ref`) is off.
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: GradcheckOptions = {},
): GradcheckReport {
  const hasRef = opts.ref !== undefined;
  const rtol = opts.rtol ?? (hasRef ? 1e-4 : 1e-2);
  const atol = opts.atol ?? (hasRef ? 1e-5 : 1e-3);
  const eps = opts.eps ?? (hasRef ? 1e-6 : 1e-2);
  const maxEl = opts.maxElements ?? 64;
  const wrt = opts.wrt ?? inputs.map((_, i) => i);

  const leaves = inputs.map((t, i) => {
    const c = fromFloat32Array(t.dataSync().slice(), t.shape);
    if (wrt.includes(i)) c.requiresGrad = true;
    return c;
  });
  const out = fn(...leaves);
  const rnd = lcg(opts.seed ?? 12345);
  const w = new Float32Array(out.size);
  for (let i = 0; i < w.length; i++) w[i] = 2 * rnd() - 1;
  const w64 = Float64Array.from(w);
  const loss = sum(mul(out, fromFloat32Array(w, out.shape)));
  loss.backward();

  const x64 = inputs.map((t) => Float64Array.from(t.dataSync()));
  if (hasRef) {
    const r = opts.ref!(x64.map((a) => a.slice()));
    const o = out.dataSync();
    if (r.length !== o.length) {
      throw new Error(`gradcheck: reference returned ${r.length} values, op returned ${o.length}`);
    }
    let maxRef = 0, maxErr = 0, at = 0;
    for (let i = 0; i < o.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(r[i]));
      const e = Math.abs(o[i] - r[i]);
      if (e > maxErr || e !== e) {
        maxErr = e;
        at = i;
      }
    }
    const tol = (opts.forwardTol ?? 1e-5) * Math.max(maxRef, 1e-30) + 1e-7;
    if (!(maxErr <= tol)) {
      throw new Error(
        `gradcheck: forward differs from the float64 reference at ${at}: ${o[at]} vs ${r[at]} (tol ${tol})`,
      );
    }
  }
  const probe = (): number => {
    if (hasRef) {
      const r = opts.ref!(x64.map((a) => a.slice()));
      let s = 0;
      for (let i = 0; i < r.length; i++) s += w64[i] * r[i];
      return s;
    }
    return noGrad(() => {
      const probeInputs = x64.map((a, i) => fromFloat32Array(Float32Array.from(a), inputs[i].shape));
      const o = fn(...probeInputs).dataSync();
      let s = 0;
      for (let i = 0; i < o.length; i++) s += w64[i] * o[i];
      return s;
    });
  };

  const report: GradcheckReport = { inputs: [] };
  for (const i of wrt) {
    const n = x64[i].length;
    const g = leaves[i].grad;
    const analytic = g ? g.dataSync() : new Float32Array(n);
    if (g && g.size !== n) {
      throw new Error(`gradcheck: input ${i} grad has ${g.size} elements, input has ${n}`);
    }
    const pick = lcg(7 + i);
    const idx = n <= maxEl
      ? Array.from({ length: n }, (_, j) => j)
      : Array.from({ length: maxEl }, () => Math.floor(pick() * n));
    const numeric = new Float64Array(idx.length);
    for (let q = 0; q < idx.length; q++) {
      const j = idx[q];
      const orig = x64[i][j];
      x64[i][j] = orig + eps;
      const fp = probe();
      x64[i][j] = orig - eps;
      const fm = probe();
      x64[i][j] = orig;
      numeric[q] = (fp - fm) / (2 * eps);
    }
    let maxG = 0;
    for (const v of numeric) maxG = Math.max(maxG, Math.abs(v));
    const tol = atol + rtol * maxG;
    let maxErr = 0, worst = 0;
    for (let q = 0; q < idx.length; q++) {
      const e = Math.abs(analytic[idx[q]] - numeric[q]);
      if (e > maxErr || e !== e) {
        maxErr = e;
        worst = q;
      }
    }
    if (!(maxErr <= tol)) {
      throw new Error(
        `gradcheck: input ${i} (shape [${inputs[i].shape.join(", ")}]) element ${idx[worst]}: analytic ` +
          `${analytic[idx[worst]]} vs numeric ${numeric[worst]} (|err| ${maxErr.toExponential(3)} > tol ` +
          `${tol.toExponential(3)})`,
      );
    }
    report.inputs.push({ index: i, maxAbsErr: maxErr, maxAbsGrad: maxG, checked: idx.length });
  }
  return report;
}

// ---------- float64 reference helpers for tests (naive, index-by-index) ----------

/** Row-major multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** Flat row-major position of a multi-index in `shape`. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let p = 0;
  for (let d = 0; d < shape.length; d++) p = p * shape[d] + idx[d];
  return p;
}

/** Broadcast output shape computed naively (test reference; assumes compatibility). */
export function refBroadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    out.push(Math.max(da, db));
  }
  return out;
}

/** Reads `x` (shape `shape`) at an output multi-index of a broadcast shape (trailing alignment). */
export function readBroadcast(
  x: ArrayLike<number>,
  shape: readonly number[],
  outIdx: readonly number[],
): number {
  const off = outIdx.length - shape.length;
  const idx = shape.map((d, i) => (d === 1 ? 0 : outIdx[i + off]));
  return x[ravel(idx, shape)];
}

/** float64 reference of a broadcasting binary op `f(a, b)`. */
export function refBinary(
  aShape: readonly number[],
  bShape: readonly number[],
  f: (a: number, b: number) => number,
): (x: Float64Array[]) => Float64Array {
  return ([a, b]) => {
    const shape = refBroadcastShape(aShape, bShape);
    const n = shape.reduce((p, v) => p * v, 1);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const idx = unravel(i, shape);
      out[i] = f(readBroadcast(a, aShape, idx), readBroadcast(b, bShape, idx));
    }
    return out;
  };
}

/** float64 reference of an elementwise unary op. */
export function refUnary(f: (x: number) => number): (x: Float64Array[]) => Float64Array {
  return ([a]) => a.map(f);
}

/** Max |a − b| over two equally long arrays (NaN if any differs by NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > m || d !== d) m = d;
  }
  return m;
}
