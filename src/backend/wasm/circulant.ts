/**
 * C3A block-circulant kernels on the wasm backend: forward, true backward, kernel spectra and the
 * dense block-circulant matrix (spec/c3a.md §1.3–§1.5).
 *
 * A C3A kernel `w` has shape `[m, n, b]` (m = out/b output blocks, n = in/b input blocks, block size
 * b). It defines the block-circulant matrix `A` `[out, in]` with
 * `A[i·b + s][j·b + t] = w[i][j][(t − s) mod b]` (each b×b block circulant, first row `w[i][j]`), and
 * the layer computes `y = x·Aᵀ` for every row of `x` — a circular cross-correlation, computed in the
 * rfft domain: `y_i = irfft(Σ_j rfft(x_j) ∘ conj(rfft(w_ij)))`. Everything here is "raw": PEFT's
 * division by `in_features` is applied by the caller.
 *
 * Gradients are the mathematically true ones (spec §1.4), for `L = Σ g·y`:
 * `gradX = g·A` (`irfft(Σ_i rfft(g_i) ∘ rfft(w_ij))`) and
 * `gradKernel[i][j][k] = Σ_rows Σ_s g_i[s]·x_j[(s + k) mod b]` (`irfft(Σ_rows rfft(x_j) ∘ conj(rfft(g_i)))`).
 * PEFT's custom backward returns a different (wrong for b ≥ 3) input gradient; it is not reproduced.
 *
 * Memory: each call copies its operands into wasm scratch memory once (in chunks of rows when they
 * exceed `residentCap()` of memory.ts), runs the batched rfft (./fft.ts), the frequency-domain block
 * products (wasm/circulant.ts) and the inverse rfft there, and copies the results out once. The `…Ptr` variants work on wasm pointers directly for callers that chain
 * kernels. A {@link KernelSpectrum} holds a kernel's packed spectrum so that autograd transforms the
 * kernel once per forward and reuses it in backward.
 *
 * @module
 */

import { f32view, readF32, residentCap, Scratch, wasm } from "./memory.ts";
import { getNumThreads, parallelCall, rangeSlices, splitThreshold } from "../threads/pool.ts";
import { irfftPtr, oddGroupRows, rfftPtr } from "./fft.ts";
import { getWasmFftPlan } from "./fft_plan.ts";

/** Block structure of a C3A kernel `[m, n, b]`: m = out/b, n = in/b. */
export interface C3ABlockShape {
  /** Output blocks (out_features / b), integer >= 1. */
  m: number;
  /** Input blocks (in_features / b), integer >= 1. */
  n: number;
  /** Block size b, integer >= 1. */
  b: number;
}

/** A C3A product over `rows` independent rows (all leading axes of x flattened). */
export interface C3AShape extends C3ABlockShape {
  /** Number of rows of x (product of its leading dimensions), integer >= 0. */
  rows: number;
}

/** Which gradients {@link c3aBackward} computes (both by default), and optional output arrays. */
export interface C3ABackwardOptions {
  /** Compute the gradient with respect to x (default true). */
  inputGrad?: boolean;
  /** Compute the gradient with respect to the kernel (default true). */
  kernelGrad?: boolean;
  /**
   * Array `[rows, in]` float32 to write gradX into (and return) instead of allocating a new one, e.g. a
   * recycled array of the caller's backend. Ignored when the input gradient is not requested.
   */
  gradXOut?: Float32Array;
  /** Array `[m, n, b]` float32 to write gradKernel into (and return); ignored when not requested. */
  gradKernelOut?: Float32Array;
}

/** Options of {@link c3aForward}. */
export interface C3AForwardOptions {
  /**
   * Array `[rows, out]` float32 to write y into (and return) instead of allocating a new one, e.g. a
   * recycled array of the caller's backend.
   */
  out?: Float32Array;
}

/** Result of {@link c3aBackward}; a gradient is null when it was not requested. */
export interface C3AGradients {
  /** `[rows, in]` float32, `g·A`, or null. */
  gradX: Float32Array | null;
  /** `[m, n, b]` float32, summed over rows, or null. */
  gradKernel: Float32Array | null;
}

/** Number of rfft bins of a block: floor(b/2) + 1. */
function bins(b: number): number {
  return (b >> 1) + 1;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`C3A: ${name} must be an integer >= ${min}, got ${v}`);
  }
}

function checkBlockShape(shape: C3ABlockShape, where: string): void {
  if (shape === null || typeof shape !== "object") {
    throw new TypeError(`${where}: shape must be an object {m, n, b}, got ${shape}`);
  }
  checkInt(`${where}: m (output blocks)`, shape.m, 1);
  checkInt(`${where}: n (input blocks)`, shape.n, 1);
  checkInt(`${where}: b (block size)`, shape.b, 1);
}

function checkShape(shape: C3AShape, where: string): void {
  checkBlockShape(shape, where);
  checkInt(`${where}: rows`, shape.rows, 0);
}

function checkLength(where: string, name: string, a: Float32Array, want: number, layout: string): void {
  if (!(a instanceof Float32Array)) {
    throw new TypeError(`${where}: ${name} must be a Float32Array, got ${Object.prototype.toString.call(a)}`);
  }
  if (a.length !== want) {
    throw new RangeError(`${where}: ${name} has ${a.length} elements, expected ${want} (${layout})`);
  }
}

/**
 * The rfft of a C3A kernel, packed in the layout the wasm block products read (frequency-pair
 * major; see wasm/circulant.ts). Computed once by {@link kernelSpectrum} and accepted by
 * {@link c3aForward} / {@link c3aBackward} in place of the kernel, so a forward and its backward
 * transform the kernel only once. Immutable: it does not follow later changes of the kernel.
 */
export class KernelSpectrum {
  /** Output blocks. */
  readonly m: number;
  /** Input blocks. */
  readonly n: number;
  /** Block size. */
  readonly b: number;
  /** Packed spectrum (opaque layout, float32). */
  readonly packed: Float32Array;
  /** @internal Use {@link kernelSpectrum}. */
  constructor(shape: C3ABlockShape, packed: Float32Array) {
    this.m = shape.m;
    this.n = shape.n;
    this.b = shape.b;
    this.packed = packed;
  }
}

/** Bytes of a packed kernel spectrum for this block shape. */
export function packedSpectrumBytes(shape: C3ABlockShape): number {
  return Number(wasm.c3aPackedKernelBytes(shape.m, shape.n, bins(shape.b)));
}

/**
 * Pointer level: rfft of the kernel `[m, n, b]` at `kernelPtr` packed into `packedPtr`
 * ({@link packedSpectrumBytes} bytes). Scratch for the unpacked spectrum is allocated internally.
 */
export function kernelSpectrumPtr(kernelPtr: number, packedPtr: number, shape: C3ABlockShape): void {
  const { m, n, b } = shape;
  const F = bins(b);
  using s = new Scratch();
  const spec = s.alloc(m * n * F * 8);
  rfftPtr(b, kernelPtr, spec, m * n);
  wasm.c3aPackKernel(spec, packedPtr, m, n, F);
}

/**
 * Precomputes the packed rfft of a C3A kernel for repeated {@link c3aForward} / {@link c3aBackward}
 * calls (autograd: once per forward).
 *
 * @param kernel `[m, n, b]` float32, row-major
 * @param shape the block shape `{m, n, b}`
 * @throws {RangeError} if a size is not a positive integer or `kernel.length !== m·n·b`
 */
export function kernelSpectrum(kernel: Float32Array, shape: C3ABlockShape): KernelSpectrum {
  checkBlockShape(shape, "kernelSpectrum");
  const { m, n, b } = shape;
  checkLength("kernelSpectrum", "kernel", kernel, m * n * b, `[m=${m}, n=${n}, b=${b}]`);
  using s = new Scratch();
  const pk = s.copyIn(kernel);
  const bytes = packedSpectrumBytes(shape);
  const pp = s.alloc(bytes);
  kernelSpectrumPtr(pk, pp, shape);
  return new KernelSpectrum({ m, n, b }, readF32(pp, bytes / 4));
}

/** Copies (or computes) the packed spectrum into scratch; returns its pointer. */
function packedIn(
  s: Scratch,
  kernel: Float32Array | KernelSpectrum,
  shape: C3ABlockShape,
  where: string,
): number {
  const { m, n, b } = shape;
  if (kernel instanceof KernelSpectrum) {
    if (kernel.m !== m || kernel.n !== n || kernel.b !== b) {
      throw new RangeError(
        `${where}: kernel spectrum is for [m=${kernel.m}, n=${kernel.n}, b=${kernel.b}], ` +
          `the call is for [m=${m}, n=${n}, b=${b}]`,
      );
    }
    return s.copyIn(kernel.packed);
  }
  checkLength(where, "kernel", kernel, m * n * b, `[m=${m}, n=${n}, b=${b}]`);
  const pk = s.copyIn(kernel);
  const pp = s.alloc(packedSpectrumBytes(shape));
  kernelSpectrumPtr(pk, pp, shape);
  return pp;
}

/** Spectral products below this many complex multiply-adds run on the calling thread only. */
const PARALLEL_MIN_CMACS = 1 << 18;

/**
 * Runs the row-wise spectral product `fn` (forward or input grad: row r of the output depends on row
 * r of the input only) on `rows` rows of `inVecs` → `outVecs` spectra; with several threads, row
 * ranges (starting at even rows: the kernel works on row pairs) run in parallel, each with its own
 * workspace, every row computed as in one call.
 */
function spectralRows(
  fn: "c3aSpectralForward" | "c3aSpectralInputGrad",
  s: Scratch,
  inPtr: number,
  inVecs: number,
  packedPtr: number,
  outPtr: number,
  outVecs: number,
  rows: number,
  m: number,
  n: number,
  F: number,
): void {
  const threads = getNumThreads();
  if (threads === 1 || rows < 2 || rows * m * n * F < splitThreshold(PARALLEL_MIN_CMACS)) {
    wasm[fn](inPtr, packedPtr, outPtr, rows, m, n, F, s.alloc(Number(wasm.c3aWorkBytes(rows, m, n, F))));
    return;
  }
  const ranges = rangeSlices(rows, 2, threads); // the kernel pairs rows (r, r+1): keep the pairs
  parallelCall(
    fn,
    ranges.map(([r0, r1]) => [
      inPtr + r0 * inVecs * F * 8,
      packedPtr,
      outPtr + r0 * outVecs * F * 8,
      r1 - r0,
      m,
      n,
      F,
      s.alloc(Number(wasm.c3aWorkBytes(r1 - r0, m, n, F))),
    ]),
  );
}

/** Most row blocks of the kernel-gradient product per parallel call (bounds their partial sums). */
const KG_ROUND_BLOCKS = 64;

/**
 * Kernel-gradient spectrum gw `[m, n, F, 2]` = Σ_rows rfft(x_j) ∘ conj(rfft(g_i)) over `rows` >= 1 rows
 * of x and g at `x` / `g`: the signals (x `[rows, n·b]`, g `[rows, m·b]` float32) or, when `spectra`,
 * their rffts (`[rows, n, F, 2]`, `[rows, m, F, 2]`). Overwrites gw, or adds to it when `accumulate`
 * (row chunks after earlier ones, as in one call over all their rows).
 *
 * The product runs in the row blocks of wasm/circulant.ts (c3aKernelGradRowBlock rows, about 256 KiB
 * of spectra each), whose sums are added in block order: ranges of blocks run as slices of one
 * parallel call, each block's sum kept apart, then added up in order, so the result is the same
 * for every thread count (and the same as c3aSpectralKernelGrad over the spectra). Signals of even b
 * are transformed block by block inside the slices, on the thread that multiplies them, while the
 * spectra are in its caches; odd b (rounding depends on which rows are transformed together) are
 * transformed first as one batch.
 */
function kernelGrad(
  x: number,
  g: number,
  gw: number,
  rows: number,
  shape: C3ABlockShape,
  spectra: boolean,
  accumulate: boolean,
): void {
  const { m, n, b } = shape;
  const F = bins(b);
  using s = new Scratch();
  if (!spectra && b % 2 === 1) {
    const xs = s.alloc(rows * n * F * 8), gs = s.alloc(rows * m * F * 8);
    rfftPtr(b, x, xs, rows * n);
    rfftPtr(b, g, gs, rows * m);
    kernelGrad(xs, gs, gw, rows, shape, true, accumulate);
    return;
  }
  const R = Math.min(rows, wasm.c3aKernelGradRowBlock(m, n, F));
  const blocks = Math.ceil(rows / R), perRound = Math.min(blocks, KG_ROUND_BLOCKS);
  const threads = getNumThreads();
  const split = threads > 1 && blocks > 1 && rows * m * n * F >= splitThreshold(PARALLEL_MIN_CMACS);
  const slicesOf = (count: number) => split ? rangeSlices(count, 1, threads) : [[0, count]];
  const part = s.alloc(perRound * m * n * F * 8);
  // the signals' FFT plan, and per slice an FFT workspace and room for one block's spectra
  const plan = spectra ? null : getWasmFftPlan(b);
  const spaces = slicesOf(perRound).map(() =>
    plan === null ? [0, 0] : [s.alloc(plan.workBytes), s.alloc(R * (m + n) * F * 8)]
  );
  const xRow = spectra ? n * F * 8 : n * b * 4, gRow = spectra ? m * F * 8 : m * b * 4;
  for (let k0 = 0; k0 < blocks; k0 += perRound) {
    const count = Math.min(perRound, blocks - k0);
    const r0 = k0 * R, nr = Math.min(rows, (k0 + count) * R) - r0;
    parallelCall(
      "c3aKernelGradBlocks",
      slicesOf(count).map(([q0, q1], q) => [
        x + r0 * xRow,
        g + r0 * gRow,
        part,
        nr,
        m,
        n,
        F,
        R,
        q0,
        q1,
        plan?.ptr ?? 0,
        spaces[q][0],
        plan?.bufElems ?? 0,
        spaces[q][1],
      ]),
    );
    wasm.c3aKernelGradSum(part, gw, count, m * n * F * 2, accumulate || k0 > 0 ? 1 : 0);
  }
}

/**
 * {@link kernelGrad} from the signals x and g at `x` / `g` (`rows` rows), or, when the caller already
 * has g's spectrum `gs` (nonzero: it also computes the input gradient), from the spectra, x
 * transformed into scratch of `s`.
 */
function kernelGradOf(
  s: Scratch,
  x: number,
  g: number,
  gs: number,
  gw: number,
  rows: number,
  shape: C3ABlockShape,
  accumulate: boolean,
): void {
  if (gs === 0) {
    kernelGrad(x, g, gw, rows, shape, false, accumulate);
    return;
  }
  const xs = s.alloc(rows * shape.n * bins(shape.b) * 8);
  rfftPtr(shape.b, x, xs, rows * shape.n);
  kernelGrad(xs, gs, gw, rows, shape, true, accumulate);
}

// ------------------------------------------------------------------ row chunks
// Array-level calls whose operands exceed residentCap() (memory.ts) go through wasm memory in chunks
// of rows. Chunks start at multiples of 4 rows (the FFT's and the spectral products' row groups), for
// odd b at rows whose FFT rows (rows·n and rows·m) start an odd-n kernel group (fft.ts oddGroupRows),
// and for the kernel gradient at multiples of its row block (wasm c3aKernelGradRowBlock), whose
// partial sums are added into one resident spectrum in the order of one call: every result is
// bit-identical to one call.

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** Rows at whose multiples a chunk may start: 4, the odd-b FFT group alignment, and `extra`. */
function chunkUnit(shape: C3ABlockShape, extra = 1): number {
  let unit = lcm(4, extra);
  if (shape.b % 2 === 1) {
    const g = oddGroupRows(shape.b);
    unit = lcm(unit, lcm(g / gcd(g, shape.n), g / gcd(g, shape.m)));
  }
  return unit;
}

/** Rows per chunk: as many as fit in residentCap() next to `fixed` bytes, a multiple of `unit`. */
function chunkRows(rows: number, perRow: number, fixed: number, unit: number): number {
  const fit = Math.floor((residentCap() - fixed) / perRow / unit) * unit;
  return Math.max(1, Math.min(rows, Math.max(unit, fit)));
}

/** y `[rows, m·b]` = x·Aᵀ for x `[rows, n·b]` and the packed spectrum at `pp`, in row chunks. */
function forwardRows(x: Float32Array, pp: number, y: Float32Array, shape: C3AShape): void {
  const { rows, m, n, b } = shape;
  const F = bins(b), inF = n * b, outF = m * b;
  const perRow = 4 * (inF + outF) + 8 * F * (n + m);
  const chunk = chunkRows(rows, perRow, packedSpectrumBytes(shape), chunkUnit(shape));
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const nr = Math.min(chunk, rows - r0);
    using s = new Scratch();
    const px = s.copyIn(x.subarray(r0 * inF, (r0 + nr) * inF));
    const py = s.alloc(nr * outF * 4);
    c3aForwardPtr(px, pp, py, { rows: nr, m, n, b });
    y.set(f32view(py, nr * outF), r0 * outF);
  }
}

/**
 * gradX `[rows, n·b]` = g·A (when gradX is given; `pp` the packed spectrum) and gradKernel `[m, n, b]`
 * (when given; x read only then), in row chunks; rows >= 1.
 */
function backwardRows(
  x: Float32Array | null,
  pp: number,
  g: Float32Array,
  gradX: Float32Array | null,
  gradKernel: Float32Array | null,
  shape: C3AShape,
): void {
  const { rows, m, n, b } = shape;
  const F = bins(b), inF = n * b, outF = m * b;
  using s = new Scratch();
  const gws = gradKernel !== null ? s.alloc(m * n * F * 8) : 0;
  const nSide = 4 * inF + 8 * F * n;
  const perRow = 4 * outF + 8 * F * m + (gradKernel !== null ? nSide : 0) + (gradX !== null ? nSide : 0);
  const kg = wasm.c3aKernelGradRowBlock(m, n, F);
  const unit = chunkUnit(shape, gradKernel !== null ? kg : 1);
  const chunk = chunkRows(rows, perRow, packedSpectrumBytes(shape) + m * n * F * 8, unit);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const nr = Math.min(chunk, rows - r0);
    using c = new Scratch();
    const pg = c.copyIn(g.subarray(r0 * outF, (r0 + nr) * outF));
    const gs = gradX !== null ? c.alloc(nr * m * F * 8) : 0;
    if (gs) rfftPtr(b, pg, gs, nr * m);
    if (gradKernel !== null) {
      using c2 = new Scratch();
      const px = c2.copyIn(x!.subarray(r0 * inF, (r0 + nr) * inF));
      kernelGradOf(c2, px, pg, gs, gws, nr, shape, r0 > 0);
    }
    if (gradX !== null) {
      using c3 = new Scratch();
      const gxs = c3.alloc(nr * n * F * 8);
      spectralRows("c3aSpectralInputGrad", c3, gs, m, pp, gxs, n, nr, m, n, F);
      const pgx = c3.alloc(nr * inF * 4);
      irfftPtr(b, gxs, pgx, nr * n);
      gradX.set(f32view(pgx, nr * inF), r0 * inF);
    }
  }
  if (gradKernel !== null) {
    const pgk = s.alloc(m * n * b * 4);
    irfftPtr(b, gws, pgk, m * n);
    gradKernel.set(f32view(pgk, m * n * b));
  }
}

/**
 * Pointer level forward: `y = x·Aᵀ` for x `[rows, n·b]` at `xPtr` and the packed kernel spectrum at
 * `packedPtr`, writing y `[rows, m·b]` at `yPtr` (float32, raw/unscaled). No validation; spectra
 * scratch is allocated internally.
 */
export function c3aForwardPtr(xPtr: number, packedPtr: number, yPtr: number, shape: C3AShape): void {
  const { rows, m, n, b } = shape;
  if (rows === 0) return;
  const F = bins(b);
  using s = new Scratch();
  const xs = s.alloc(rows * n * F * 8);
  rfftPtr(b, xPtr, xs, rows * n);
  const ys = s.alloc(rows * m * F * 8);
  spectralRows("c3aSpectralForward", s, xs, n, packedPtr, ys, m, rows, m, n, F);
  irfftPtr(b, ys, yPtr, rows * m);
}

/**
 * C3A forward (spec §1.3): `y[r][i·b + s] = Σ_j Σ_t w[i][j][(t − s) mod b] · x[r][j·b + t]`, i.e.
 * `y = x·Aᵀ` with the block-circulant `A` of {@link getCirculant}; computed with rffts in
 * O(rows·(in + out)·log b + rows·m·n·b). Raw: PEFT's adapter output is this divided by in_features.
 *
 * @param x input `[rows, in]` float32 (in = n·b), row-major
 * @param kernel kernel `[m, n, b]` float32, or its {@link KernelSpectrum}
 * @param shape `{rows, m, n, b}`
 * @param opts `out`: an array `[rows, out]` to write y into instead of a new one
 * @returns y `[rows, out]` float32 (out = m·b): `opts.out` when given, else a new array
 * @throws {RangeError} if a size is not an integer (rows >= 0, others >= 1) or a length (of x, the
 *   kernel or `opts.out`) does not match
 * @example
 * ```ts
 * const w = new Float32Array([1, 2, 3, 4, 5, 6]);          // [1, 2, 3]
 * const y = c3aForward(new Float32Array([1, 2, 3, 4, 5, 6]), w, { rows: 1, m: 1, n: 2, b: 3 });
 * // y ≈ [91, 85, 85]  (spec §1.3 worked example)
 * ```
 */
export function c3aForward(
  x: Float32Array,
  kernel: Float32Array | KernelSpectrum,
  shape: C3AShape,
  opts: C3AForwardOptions = {},
): Float32Array {
  const where = "c3aForward";
  checkShape(shape, where);
  const { rows, m, n, b } = shape;
  checkLength(where, "x", x, rows * n * b, `[rows=${rows}, in=${n * b}]`);
  const yLayout = `[rows=${rows}, out=${m * b}]`;
  if (opts.out !== undefined) checkLength(where, "out", opts.out, rows * m * b, yLayout);
  using s = new Scratch();
  const pp = packedIn(s, kernel, shape, where);
  const y = opts.out ?? new Float32Array(rows * m * b);
  if (rows > 0) forwardRows(x, pp, y, shape);
  return y;
}

/**
 * Pointer level backward. `gPtr`: gradY `[rows, m·b]`; `xPtr`: x `[rows, n·b]` (read only when
 * `gradKernelPtr` is not 0); writes gradX `[rows, n·b]` at `gradXPtr` and gradKernel `[m, n, b]` at
 * `gradKernelPtr`, skipping either when its pointer is 0 (wasm offset 0 is never allocated). No
 * validation.
 */
export function c3aBackwardPtr(
  xPtr: number,
  packedPtr: number,
  gPtr: number,
  gradXPtr: number,
  gradKernelPtr: number,
  shape: C3AShape,
): void {
  const { rows, m, n, b } = shape;
  const F = bins(b);
  using s = new Scratch();
  if (rows === 0) {
    if (gradKernelPtr) f32view(gradKernelPtr, m * n * b).fill(0);
    return;
  }
  const gs = gradXPtr ? s.alloc(rows * m * F * 8) : 0;
  if (gs) rfftPtr(b, gPtr, gs, rows * m);
  // one n-side spectrum buffer at a time: the x spectrum's block is reused for the gradX spectrum
  if (gradKernelPtr) {
    using s2 = new Scratch();
    const gws = s2.alloc(m * n * F * 8);
    kernelGradOf(s2, xPtr, gPtr, gs, gws, rows, shape, false);
    irfftPtr(b, gws, gradKernelPtr, m * n);
  }
  if (gradXPtr) {
    using s3 = new Scratch();
    const gxs = s3.alloc(rows * n * F * 8);
    spectralRows("c3aSpectralInputGrad", s3, gs, m, packedPtr, gxs, n, rows, m, n, F);
    irfftPtr(b, gxs, gradXPtr, rows * n);
  }
}

/**
 * C3A backward with the TRUE gradients (spec §1.4) of `L = Σ gradY·y` for `y = c3aForward(x, w)`:
 * `gradX = gradY·A` (`gradX[r][j·b + t] = Σ_i Σ_s w[i][j][(t − s) mod b]·gradY[r][i·b + s]`) and
 * `gradKernel[i][j][k] = Σ_r Σ_s gradY[r][i·b + s]·x[r][j·b + (s + k) mod b]`. Raw: for PEFT's scaled
 * adapter divide both by in_features. Unlike PEFT's custom backward, gradX is correct for every b.
 *
 * @param x input `[rows, in]` float32 (only read when the kernel gradient is requested; may be null
 *   otherwise)
 * @param kernel kernel `[m, n, b]` float32, or its {@link KernelSpectrum}
 * @param gradY upstream gradient `[rows, out]` float32
 * @param shape `{rows, m, n, b}`
 * @param opts which gradients to compute (both by default); `gradXOut` / `gradKernelOut`: arrays to
 *   write them into instead of new ones
 * @returns `{gradX [rows, in] | null, gradKernel [m, n, b] | null}` float32 (the given output arrays
 *   when passed)
 * @throws {RangeError} if a size is not an integer or a length (including an output array's) does not
 *   match
 * @throws {TypeError} if x is null while the kernel gradient is requested
 */
export function c3aBackward(
  x: Float32Array | null,
  kernel: Float32Array | KernelSpectrum,
  gradY: Float32Array,
  shape: C3AShape,
  opts: C3ABackwardOptions = {},
): C3AGradients {
  const where = "c3aBackward";
  checkShape(shape, where);
  const { rows, m, n, b } = shape;
  const wantX = opts.inputGrad ?? true;
  const wantK = opts.kernelGrad ?? true;
  checkLength(where, "gradY", gradY, rows * m * b, `[rows=${rows}, out=${m * b}]`);
  if (wantK) {
    if (x === null || x === undefined) throw new TypeError(`${where}: x is required for the kernel gradient`);
    checkLength(where, "x", x, rows * n * b, `[rows=${rows}, in=${n * b}]`);
  }
  const gxLayout = `[rows=${rows}, in=${n * b}]`, gkLayout = `[m=${m}, n=${n}, b=${b}]`;
  if (wantX && opts.gradXOut !== undefined) {
    checkLength(where, "gradXOut", opts.gradXOut, rows * n * b, gxLayout);
  }
  if (wantK && opts.gradKernelOut !== undefined) {
    checkLength(where, "gradKernelOut", opts.gradKernelOut, m * n * b, gkLayout);
  }
  if (!wantX && !wantK) return { gradX: null, gradKernel: null };
  using s = new Scratch();
  const pp = wantX ? packedIn(s, kernel, shape, where) : 0;
  if (!wantX && !(kernel instanceof KernelSpectrum)) {
    checkLength(where, "kernel", kernel, m * n * b, `[m=${m}, n=${n}, b=${b}]`);
  }
  const gradX = wantX ? opts.gradXOut ?? new Float32Array(rows * n * b) : null;
  const gradKernel = wantK ? opts.gradKernelOut ?? new Float32Array(m * n * b) : null;
  if (rows > 0) backwardRows(x, pp, gradY, gradX, gradKernel, shape);
  else gradKernel?.fill(0);
  return { gradX, gradKernel };
}

/**
 * The dense block-circulant matrix of a C3A kernel (PEFT `get_circulant_fast`, spec §1.3):
 * `A[i·b + s][j·b + t] = w[i][j][(t − s) mod b]` — each b×b block has first row `w[i][j]`, every
 * next row rotated right by one. Same orientation as `nn.Linear.weight`; PEFT's delta weight is
 * `A / in_features`.
 *
 * @param kernel `[m, n, b]` float32
 * @param shape `{m, n, b}`
 * @param out optional `[m·b, n·b]` float32 array to write into (and return) instead of a new one
 * @param base optional `[m·b, n·b]` float32 matrix added to the result (`W + A` in one pass; may be
 *   `out` itself)
 * @returns `[out, in]` = `[m·b, n·b]` float32, row-major
 * @throws {RangeError} if a size is not a positive integer, `kernel.length !== m·n·b`, or `out` or
 *   `base` does not have `m·b·n·b` elements
 * @example
 * ```ts
 * getCirculant(new Float32Array([1, 2, 3]), { m: 1, n: 1, b: 3 });
 * // [1, 2, 3,  3, 1, 2,  2, 3, 1]
 * ```
 */
export function getCirculant(
  kernel: Float32Array,
  shape: C3ABlockShape,
  out?: Float32Array,
  base?: Float32Array,
): Float32Array {
  const where = "getCirculant";
  checkBlockShape(shape, where);
  const { m, n, b } = shape;
  checkLength(where, "kernel", kernel, m * n * b, `[m=${m}, n=${n}, b=${b}]`);
  const inF = n * b;
  if (out !== undefined) checkLength(where, "out", out, m * b * inF, `[out=${m * b}, in=${inF}]`);
  if (base !== undefined) checkLength(where, "base", base, m * b * inF, `[out=${m * b}, in=${inF}]`);
  const a = out ?? new Float32Array(m * b * inF);
  if (base !== undefined) {
    for (let i = 0; i < m; i++) {
      for (let s = 0; s < b; s++) {
        let at = (i * b + s) * inF;
        for (let j = 0; j < n; j++, at += b) {
          const w0 = (i * n + j) * b;
          for (let t = 0, src = w0 + b - s; t < s; t++) a[at + t] = base[at + t] + kernel[src + t];
          for (let t = s, src = w0 - s; t < b; t++) a[at + t] = base[at + t] + kernel[src + t];
        }
      }
    }
    return a;
  }
  for (let i = 0; i < m; i++) {
    for (let s = 0; s < b; s++) {
      let at = (i * b + s) * inF;
      for (let j = 0; j < n; j++, at += b) {
        // t = s..b−1 take w[0..b−s−1]; t = 0..s−1 take w[b−s..b−1]
        const w0 = (i * n + j) * b;
        for (let t = 0, src = w0 + b - s; t < s; t++) a[at + t] = kernel[src + t];
        for (let t = s, src = w0 - s; t < b; t++) a[at + t] = kernel[src + t];
      }
    }
  }
  return a;
}

// ------------------------------------------------------------------ kernel-table entry points
// The wasm executor's C3A kernels (src/backend/wasm/kernels.ts) over arrays, with the kernel spectrum
// in the natural rfft layout `[m, n, F, 2]` (an ordinary storage, the same on every executor): it is
// packed into scratch per call (O(m·n·F), small next to the O(rows·m·n·F) product). No validation:
// the op checked the sizes.

/** Copies a natural-layout kernel spectrum into scratch and packs it; returns the packed pointer. */
function packSpectrum(s: Scratch, ws: Float32Array, shape: C3ABlockShape): number {
  const pw = s.copyIn(ws);
  const pp = s.alloc(packedSpectrumBytes(shape));
  wasm.c3aPackKernel(pw, pp, shape.m, shape.n, bins(shape.b));
  return pp;
}

/** Kernel `c3aForward`: y `[rows, m·b]` = x·Aᵀ from x and the natural kernel spectrum `ws`. */
export function c3aForwardKernel(x: Float32Array, ws: Float32Array, y: Float32Array, shape: C3AShape): void {
  if (shape.rows === 0) return;
  using s = new Scratch();
  forwardRows(x, packSpectrum(s, ws, shape), y, shape);
}

/** Kernel `c3aBackward`: gradX = g·A and/or gradKernel (x needed only for the latter). */
export function c3aBackwardKernel(
  x: Float32Array | null,
  ws: Float32Array | null,
  g: Float32Array,
  gradX: Float32Array | null,
  gradKernel: Float32Array | null,
  shape: C3AShape,
): void {
  if (gradX === null && gradKernel === null) return;
  if (shape.rows === 0) {
    gradKernel?.fill(0);
    return;
  }
  using s = new Scratch();
  backwardRows(x, gradX !== null ? packSpectrum(s, ws!, shape) : 0, g, gradX, gradKernel, shape);
}

/** The three spectral products of the kernel table over arrays (see src/backend/kernels.ts). */
export function c3aSpectralKernel(
  which: "forward" | "inputGrad" | "kernelGrad",
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: C3AShape,
): void {
  const { rows, m, n } = shape;
  const F = bins(shape.b);
  if (out.length === 0) return;
  if (rows === 0) {
    out.fill(0);
    return;
  }
  using s = new Scratch();
  const vec = F * 2; // floats per spectrum
  if (which === "kernelGrad") {
    // a = xs [rows, n, F, 2], b = gs [rows, m, F, 2]: row chunks summed into one resident gw
    const po = s.alloc(out.length * 4);
    const kg = wasm.c3aKernelGradRowBlock(m, n, F);
    const chunk = chunkRows(rows, 4 * vec * (n + m), out.length * 4, lcm(4, kg));
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const nr = Math.min(chunk, rows - r0);
      using c = new Scratch();
      const px = c.copyIn(a.subarray(r0 * n * vec, (r0 + nr) * n * vec));
      const pg = c.copyIn(b.subarray(r0 * m * vec, (r0 + nr) * m * vec));
      kernelGrad(px, pg, po, nr, shape, true, r0 > 0);
    }
    out.set(f32view(po, out.length));
    return;
  }
  // row-wise products: a = [rows, inVecs, F, 2] → out [rows, outVecs, F, 2]
  const fwd = which === "forward";
  const inVecs = fwd ? n : m, outVecs = fwd ? m : n;
  const pp = packSpectrum(s, b, shape);
  const chunk = chunkRows(rows, 4 * vec * (inVecs + outVecs), packedSpectrumBytes(shape), 4);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const nr = Math.min(chunk, rows - r0);
    using c = new Scratch();
    const pa = c.copyIn(a.subarray(r0 * inVecs * vec, (r0 + nr) * inVecs * vec));
    const po = c.alloc(nr * outVecs * vec * 4);
    spectralRows(
      fwd ? "c3aSpectralForward" : "c3aSpectralInputGrad",
      c,
      pa,
      inVecs,
      pp,
      po,
      outVecs,
      nr,
      m,
      n,
      F,
    );
    out.set(f32view(po, nr * outVecs * vec), r0 * outVecs * vec);
  }
}
