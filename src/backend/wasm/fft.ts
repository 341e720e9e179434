/**
 * The wasm executor's batched real FFT and its inverse (`wasm/fft.ts` kernels, plans from the shared
 * planner via ./fft_plan.ts), for every length n >= 1, with the conventions of `numpy.fft.rfft` /
 * `torch.fft.rfft` (unnormalised forward) and `numpy.fft.irfft` / `torch.fft.irfft` (divides by n).
 * The public `fft.rfft` / `fft.irfft` (src/fft/rfft.ts) validate and reach these through the kernel
 * table (kernels `rfft` / `irfft`).
 *
 * Three entry levels:
 * - {@link rfftInto} / {@link irfftInto}: Float32Array in and out (copies in and out of wasm memory
 *   on every call; no validation: the caller checked the sizes);
 * - {@link rfftPtr} / {@link irfftPtr}: byte offsets into wasm memory, no copies, for chaining
 *   kernels (circulant products);
 * - {@link RealFft}: a plan object owning wasm-resident signal and spectrum buffers, for hot loops.
 *
 * @module
 */

import { free, malloc, memory, residentCap, wasm } from "./memory.ts";
import { fftWorkspace, getWasmFftPlan, type WasmFftPlan } from "./fft_plan.ts";
import { getNumThreads, parallelCall, rangeSlices, splitThreshold } from "../threads/pool.ts";

/** Batches below this many signal samples are transformed on the calling thread only. */
const PARALLEL_MIN_SAMPLES = 1 << 15;

/**
 * Runs `rfftExec`/`irfftExec` on `batch` rows; with several threads and even n, contiguous row ranges
 * (multiples of 4: the kernels transform 4 rows per SIMD group) run in parallel, each with its own
 * workspace. For even n rows are independent (one per SIMD lane) and transformed identically wherever
 * they fall, so results do not depend on the thread count.
 */
function execRows(
  fn: "rfftExec" | "irfftExec",
  p: WasmFftPlan,
  inPtr: number,
  inRowBytes: number,
  outPtr: number,
  outRowBytes: number,
  batch: number,
): void {
  if (batch <= 0) return;
  const threads = getNumThreads();
  // odd n: the kernels transform two rows as one complex signal, partnered across the whole batch
  // (rows r and r + 4·ceil(batch/8)), so a row's rounding depends on the batch: not split
  if (
    threads === 1 || p.plan.n % 2 === 1 || batch < 2 ||
    batch * p.plan.n < splitThreshold(PARALLEL_MIN_SAMPLES)
  ) {
    wasm[fn](p.ptr, inPtr, outPtr, batch, fftWorkspace(p.workBytes), p.bufElems);
    return;
  }
  const ranges = rangeSlices(batch, 4, threads);
  const works = ranges.map(() => malloc(p.workBytes));
  try {
    const at = (r0: number, r1: number, q: number) => [
      p.ptr,
      inPtr + r0 * inRowBytes,
      outPtr + r0 * outRowBytes,
      r1 - r0,
      works[q],
      p.bufElems,
    ];
    parallelCall(fn, ranges.map(([r0, r1], q) => at(r0, r1, q)));
  } finally {
    works.forEach(free);
  }
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  }
}

function checkN(fn: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 27) {
    throw new RangeError(`${fn}: n (the signal length) must be an integer in [1, 2^27], got ${n}`);
  }
}

function checkPtr(fn: string, name: string, p: number): void {
  if (!Number.isInteger(p) || p < 0 || p % 4 !== 0) {
    throw new RangeError(`${fn}: ${name} must be a 4-byte aligned wasm byte offset >= 0, got ${p}`);
  }
}

function checkBounds(fn: string, name: string, p: number, bytes: number): void {
  if (p + bytes > memory.buffer.byteLength) {
    throw new RangeError(
      `${fn}: ${name} + ${bytes} bytes exceeds wasm memory (${memory.buffer.byteLength} bytes), got ${name} = ${p}`,
    );
  }
}

/** Number of complex bins of the real FFT of length n: floor(n/2) + 1. */
function rfftBins(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Batched real FFT on wasm memory, no copies: reads `batch` signals `[batch, n]` (float32,
 * row-major) at byte offset `inPtr` and writes their spectra `[batch, floor(n/2)+1, 2]` (float32,
 * interleaved re/im, bins 0..floor(n/2), unnormalised as `numpy.fft.rfft`) at `outPtr`. The input
 * is not modified; the regions must not overlap. A workspace is allocated internally (it may grow
 * wasm memory, which detaches existing views but keeps pointers valid). Rows are independent as in
 * numpy / torch: a NaN or infinity in one signal only affects that signal's spectrum.
 *
 * @param n signal length, integer in [1, 2^27]
 * @param inPtr byte offset of the input (4-byte aligned; 16 recommended)
 * @param outPtr byte offset of the output
 * @param batch number of signals, integer >= 0
 * @throws {RangeError} for bad n, batch or pointers, or regions outside wasm memory
 */
export function rfftPtr(n: number, inPtr: number, outPtr: number, batch: number): void {
  checkN("rfftPtr", n);
  checkInt("rfftPtr: batch", batch, 0);
  checkPtr("rfftPtr", "inPtr", inPtr);
  checkPtr("rfftPtr", "outPtr", outPtr);
  const p = getWasmFftPlan(n);
  checkBounds("rfftPtr", "inPtr", inPtr, batch * n * 4);
  checkBounds("rfftPtr", "outPtr", outPtr, batch * p.plan.bins * 8);
  execRows("rfftExec", p, inPtr, n * 4, outPtr, p.plan.bins * 8, batch);
}

/**
 * Batched inverse real FFT on wasm memory, no copies: reads spectra `[batch, floor(n/2)+1, 2]`
 * (float32, interleaved complex) at `inPtr` and writes the real signals `[batch, n]` at `outPtr`,
 * divided by n as `numpy.fft.irfft(X, n)`: the spectrum is taken as Hermitian, and the imaginary
 * parts of bin 0 (and of bin n/2 for even n) are ignored. The input is not modified (the contract
 * allows overwriting it; this implementation does not). Regions must not overlap. Rows are
 * independent: a NaN or infinity in one spectrum only affects that row's signal.
 *
 * @param n signal length, integer in [1, 2^27]
 * @param inPtr byte offset of the spectra
 * @param outPtr byte offset of the output signals
 * @param batch number of signals, integer >= 0
 * @throws {RangeError} for bad n, batch or pointers, or regions outside wasm memory
 */
export function irfftPtr(n: number, inPtr: number, outPtr: number, batch: number): void {
  checkN("irfftPtr", n);
  checkInt("irfftPtr: batch", batch, 0);
  checkPtr("irfftPtr", "inPtr", inPtr);
  checkPtr("irfftPtr", "outPtr", outPtr);
  const p = getWasmFftPlan(n);
  checkBounds("irfftPtr", "inPtr", inPtr, batch * p.plan.bins * 8);
  checkBounds("irfftPtr", "outPtr", outPtr, batch * n * 4);
  execRows("irfftExec", p, inPtr, p.plan.bins * 8, outPtr, n * 4, batch);
}

/**
 * Batched real FFT of arrays: `out` `[batch, floor(n/2)+1, 2]` = rfft of `input` `[batch, n]` (no
 * validation; see the public `fft.rfft` for the checked form).
 */
export function rfftInto(input: Float32Array, n: number, batch: number, out: Float32Array): void {
  intoRows(rfftPtr, input, n, n, 2 * rfftBins(n), batch, out);
}

/**
 * Runs `fn` over `batch` rows of `inRow` → `outRow` floats, copied into wasm memory at once, or in
 * chunks of rows (multiples of 4: the kernels' row groups for even n, bit-identical to one call) when
 * they exceed `residentCap()` (memory.ts).
 */
function intoRows(
  fn: (n: number, inPtr: number, outPtr: number, batch: number) => void,
  input: Float32Array,
  n: number,
  inRow: number,
  outRow: number,
  batch: number,
  out: Float32Array,
): void {
  const perRow = 4 * (inRow + outRow);
  const chunk = Math.min(batch, Math.max(4, Math.floor(residentCap() / perRow / 4) * 4));
  for (let r0 = 0; r0 < batch; r0 += chunk) {
    const rows = Math.min(chunk, batch - r0);
    const pin = malloc(rows * inRow * 4);
    try {
      const pout = malloc(rows * outRow * 4);
      try {
        new Float32Array(memory.buffer, pin, rows * inRow).set(
          input.subarray(r0 * inRow, (r0 + rows) * inRow),
        );
        fn(n, pin, pout, rows);
        out.set(new Float32Array(memory.buffer, pout, rows * outRow), r0 * outRow);
      } finally {
        free(pout);
      }
    } finally {
      free(pin);
    }
  }
}

/**
 * Batched inverse real FFT of arrays: `out` `[batch, n]` = irfft of `spectrum`
 * `[batch, floor(n/2)+1, 2]` (no validation; see the public `fft.irfft` for the checked form).
 */
export function irfftInto(spectrum: Float32Array, n: number, batch: number, out: Float32Array): void {
  intoRows(irfftPtr, spectrum, n, 2 * rfftBins(n), n, batch, out);
}

/**
 * A real FFT of fixed length and batch with wasm-resident buffers, for hot loops without copies:
 * write signals into {@link RealFft.signal}, call {@link RealFft.forward}, read
 * {@link RealFft.spectrum} (and the reverse with {@link RealFft.inverse}). The views are re-derived
 * on every access, so they stay valid after wasm memory grows; do not keep them across allocations.
 * Call {@link RealFft.dispose} (or `using`) to release the buffers.
 *
 * @example
 * ```ts
 * import { RealFft } from "./fft.ts";
 * using f = new RealFft(256, 8);
 * f.signal.fill(1);
 * f.forward();
 * f.spectrum[0]; // 256 (bin 0 of signal 0)
 * ```
 */
export class RealFft implements Disposable {
  /** Signal length n. */
  readonly n: number;
  /** Number of signals. */
  readonly batch: number;
  /** Bins per spectrum, floor(n/2)+1. */
  readonly bins: number;
  /** Byte offset of the signals `[batch, n]` float32. */
  readonly signalPtr: number;
  /** Byte offset of the spectra `[batch, bins, 2]` float32. */
  readonly spectrumPtr: number;
  #alive = true;

  /**
   * Allocates the signal and spectrum buffers in wasm memory (uninitialised) and uploads the plan.
   *
   * @param n signal length, integer in [1, 2^27]
   * @param batch number of signals, integer >= 1
   * @throws {RangeError} for bad n or batch, or if wasm memory cannot grow
   */
  constructor(n: number, batch: number) {
    checkN("RealFft", n);
    checkInt("RealFft: batch", batch, 1);
    this.n = n;
    this.batch = batch;
    this.bins = rfftBins(n);
    getWasmFftPlan(n);
    this.signalPtr = malloc(batch * n * 4);
    this.spectrumPtr = malloc(batch * this.bins * 8);
  }

  /** View of the signals `[batch, n]` (float32) in wasm memory. */
  get signal(): Float32Array {
    this.#check();
    return new Float32Array(memory.buffer, this.signalPtr, this.batch * this.n);
  }

  /** View of the spectra `[batch, floor(n/2)+1, 2]` (float32, interleaved complex) in wasm memory. */
  get spectrum(): Float32Array {
    this.#check();
    return new Float32Array(memory.buffer, this.spectrumPtr, this.batch * this.bins * 2);
  }

  /** spectrum = rfft(signal) (see {@link rfftPtr}). */
  forward(): void {
    this.#check();
    rfftPtr(this.n, this.signalPtr, this.spectrumPtr, this.batch);
  }

  /** signal = irfft(spectrum) (see {@link irfftPtr}); the spectrum is preserved. */
  inverse(): void {
    this.#check();
    irfftPtr(this.n, this.spectrumPtr, this.signalPtr, this.batch);
  }

  /** Frees the buffers. Idempotent; any later use throws. */
  dispose(): void {
    if (!this.#alive) return;
    this.#alive = false;
    free(this.spectrumPtr);
    free(this.signalPtr);
  }

  /** Same as {@link RealFft.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(): void {
    if (!this.#alive) throw new Error("RealFft: used after dispose()");
  }
}
