/**
 * The wasm executor's batched real FFT and its inverse (`wasm/fft.ts` kernels, plans from the shared
 * planner via ./fft_plan.ts), for every length n >= 1, with the conventions of `numpy.fft.rfft` /
 * `torch.fft.rfft` (unnormalised forward) and `numpy.fft.irfft` / `torch.fft.irfft` (divides by n).
 * The public `fft.rfft` / `fft.irfft` (src/fft/rfft.ts) validate and reach these through the kernel
 * table (kernels `rfft` / `irfft`).
 *
 * Three entry levels:
 * - {@link rfftInto} / {@link irfftInto}: Float32Array in and out (through wasm memory in
 *   cache-sized chunks, the workers' share beside the calling thread's when threads are on; no validation: the
 *   caller checked the sizes);
 * - {@link rfftPtr} / {@link irfftPtr}: byte offsets into wasm memory, no copies, for chaining
 *   kernels (circulant products);
 * - {@link RealFft}: a plan object owning wasm-resident signal and spectrum buffers, for hot loops.
 *
 * @module
 */

import { free, malloc, memory, residentCap, wasm } from "./memory.ts";
import { heapF32 } from "./stream.ts";
import { fftWorkspace, getWasmFftPlan, privateFftPlanPtr, type WasmFftPlan } from "./fft_plan.ts";
import { privateKernels } from "./private_kernels.ts";
import { getNumThreads, parallelCall, rangeSlices, splitThreshold } from "../threads/pool.ts";

/** Batches below this many signal samples are transformed on the calling thread only. */
const PARALLEL_MIN_SAMPLES = 1 << 15;

/**
 * Odd n: signal samples per independent kernel call. The odd-n kernels transform two rows as one
 * complex signal, partnering rows across the call's whole batch (rows r and r + 4·ceil(batch/8)), so a
 * row's rounding depends on which rows share its call. Batches are therefore always cut into groups
 * of {@link oddGroupRows} rows (fixed by n alone), one call each, whatever the thread count or the
 * streaming chunk: results do not depend on either.
 */
const ODD_GROUP_SAMPLES = 1 << 14;

/**
 * Rows per odd-n kernel call: a multiple of 8 (the kernels' group of rows), about 16 Ki samples. A
 * caller that splits a batch (C3A row chunks) starts its parts at multiples of it to keep the bits.
 */
export function oddGroupRows(n: number): number {
  return 8 * Math.max(1, Math.ceil(ODD_GROUP_SAMPLES / (8 * n)));
}

/**
 * Runs `rfftExec`/`irfftExec` on `batch` rows resident in wasm memory. Even n: rows are independent
 * (one per SIMD lane) and transformed identically wherever they fall, so with several threads
 * contiguous row ranges (multiples of 4: the kernels transform 4 rows per SIMD group) run in
 * parallel. Odd n: one call per group of {@link oddGroupRows} rows, groups spread over the threads.
 * Either way results do not depend on the thread count.
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
  const odd = p.plan.n % 2 === 1;
  const unit = odd ? oddGroupRows(p.plan.n) : 4;
  const threads = getNumThreads();
  if (threads === 1 || batch <= unit || batch * p.plan.n < splitThreshold(PARALLEL_MIN_SAMPLES)) {
    const ws = fftWorkspace(p.workBytes);
    for (let r0 = 0; r0 < batch; r0 += odd ? unit : batch) {
      const rows = Math.min(odd ? unit : batch, batch - r0);
      wasm[fn](p.ptr, inPtr + r0 * inRowBytes, outPtr + r0 * outRowBytes, rows, ws, p.bufElems);
    }
    return;
  }
  // even n: up to 4 row ranges per thread; odd n: jobs of up to 4 groups per thread (one call each)
  const ranges = odd ? [] : rangeSlices(batch, 4, threads);
  const groups = Math.ceil(batch / unit);
  const perJob = odd ? Math.min(groups, 4 * threads) : ranges.length;
  const works: number[] = [];
  try {
    for (let q = 0; q < perJob; q++) works.push(malloc(p.workBytes));
    const at = (r0: number, r1: number, q: number) => [
      p.ptr,
      inPtr + r0 * inRowBytes,
      outPtr + r0 * outRowBytes,
      r1 - r0,
      works[q],
      p.bufElems,
    ];
    if (!odd) {
      parallelCall(fn, ranges.map(([r0, r1], q) => at(r0, r1, q)));
      return;
    }
    for (let g0 = 0; g0 < groups; g0 += perJob) {
      const slices = [];
      for (let g = g0; g < Math.min(groups, g0 + perJob); g++) {
        slices.push(at(g * unit, Math.min(batch, (g + 1) * unit), g - g0));
      }
      parallelCall(fn, slices);
    }
  } finally {
    works.forEach(free);
  }
}

/**
 * Bytes of input plus output per hot chunk of {@link streamRows}: small enough that a chunk copied
 * into wasm memory is still in the core's private caches when it is transformed, and its spectrum
 * when it is copied out.
 */
const HOT_CHUNK_BYTES = 1 << 19;
let hotChunkBytes = HOT_CHUNK_BYTES;

/**
 * Bytes of input plus output per round of {@link streamRows} with several threads: the workers' rows
 * of a round are staged in wasm memory at once.
 */
const ROUND_BYTES = 1 << 25;

/**
 * Smallest n whose array transforms {@link streamRows} splits over the workers. Below it the copies,
 * which only the calling thread can do, cost more than the transforms the workers would take over, and
 * staging the workers' rows made the call slower than one thread (quiet 2-core VM, public
 * `rfft(x, n, batch, out)` vs PFFFT: 0.76× on 2 threads against 1.07× on one at n = 64, 0.98× vs
 * 1.04× at 256, 1.32× vs 1.16× at 1024).
 */
const SPLIT_MIN_N = 512;

/**
 * Share of a round's rows that the calling thread transforms itself (in hot chunks) when the pool
 * has `t` threads: a little less than 1/t, since it also does every copy.
 */
const CALLER_SHARE = 0.85;

/**
 * Sets the hot chunk size of the array entry points in bytes of input plus output (benchmarks and
 * tests; `undefined` restores the default of 512 KiB).
 */
export function setFftStreamChunkBytes(bytes: number | undefined): void {
  hotChunkBytes = bytes ?? HOT_CHUNK_BYTES;
}

/**
 * Most bytes (hot buffers plus workspace) that {@link streamRows} keeps in the memory of
 * `privateKernels` (never freed); larger hot chunks run on the shared memory.
 */
const PRIVATE_MAX_BYTES = 1 << 22;
let privatePtr = -1, privateBytes = 0;

/** Byte offset of a grow-only scratch region of at least `bytes` in `privateKernels`' memory. */
function privateScratch(bytes: number): number {
  if (bytes > privateBytes) {
    privateBytes = Math.min(PRIVATE_MAX_BYTES, Math.max(bytes, 2 * privateBytes));
    privatePtr = privateKernels!.alloc(privateBytes);
  }
  return privatePtr;
}

/** Worker workspaces of {@link streamRows}, kept across calls (grown on demand). */
const workerSpaces: number[] = [];
let workerSpaceBytes = 0;

function workerWorkspaces(count: number, bytes: number): number[] {
  if (bytes > workerSpaceBytes) {
    workerSpaces.forEach(free);
    workerSpaces.length = 0;
    workerSpaceBytes = Math.max(bytes, 2 * workerSpaceBytes);
  }
  while (workerSpaces.length < count) workerSpaces.push(malloc(workerSpaceBytes));
  return workerSpaces;
}

/**
 * Array entry points: transforms `batch` rows of `src` (`inRow` floats each) into `dst` (`outRow`
 * floats each) through wasm memory. Only the calling thread can read the JS arrays, so it does every
 * copy; it copies in hot chunks of about {@link hotChunkBytes} (a multiple of 4 rows, of the odd-n
 * group for odd n): copy a chunk in, transform it, copy its result out while all three stay in the
 * core's caches. With several threads and enough work, each round of rows (at most
 * {@link ROUND_BYTES}) is split: the workers' part is copied in at once and transformed by the
 * workers while the calling thread runs the hot chunks of its own part beside them, then joins the
 * workers' part and copies it out. Rows are transformed identically wherever they fall (odd n: in
 * the fixed groups of {@link oddGroupRows}), so results do not depend on the thread count or chunks.
 */
function streamRows(
  fn: "rfftExec" | "irfftExec",
  n: number,
  src: Float32Array,
  inRow: number,
  dst: Float32Array,
  outRow: number,
  batch: number,
): void {
  if (batch === 0) return;
  const p = getWasmFftPlan(n);
  const odd = n % 2 === 1;
  const unit = odd ? oddGroupRows(n) : 4;
  const rowBytes = (inRow + outRow) * 4;
  const units = (bytes: number) => Math.max(1, Math.floor(bytes / rowBytes / unit)) * unit;
  const hotRows = Math.min(batch, units(Math.min(hotChunkBytes, residentCap() / 2)));
  const threads = getNumThreads();
  const split = threads > 1 && n >= SPLIT_MIN_N && batch > 2 * unit &&
    batch * n >= splitThreshold(PARALLEL_MIN_SAMPLES);
  // a round: the workers' rows (staged at once) then the caller's rows (hot chunks)
  // odd n: one slice per group (the kernels' call unit), at most 4 per thread and round
  const workerShare = 1 - CALLER_SHARE / threads;
  const maxStaged = odd ? 4 * threads * unit : Infinity;
  const maxRound = Math.min(
    units(Math.min(ROUND_BYTES, residentCap() / 2)),
    Math.max(3 * unit, Math.floor(maxStaged / workerShare / unit) * unit),
  );
  // rounds of equal size (whole units)
  const roundRows = split ? Math.ceil(batch / Math.ceil(batch / maxRound) / unit) * unit : 0;
  const workerRows = (rows: number) =>
    Math.min(
      Math.ceil(rows / unit - 1) * unit,
      maxStaged,
      Math.max(unit, Math.round((rows * workerShare) / unit) * unit),
    );
  const stagedRows = split ? workerRows(roundRows) : 0;
  // the caller's hot chunks run on the unshared instance when there is one (copies into a
  // SharedArrayBuffer are about half as fast) and their scratch stays small
  const hotBytes = hotRows * rowBytes + p.workBytes;
  const priv = privateKernels !== null && hotBytes <= PRIVATE_MAX_BYTES ? privateKernels : null;
  const sharedHot = priv !== null ? 0 : hotRows;
  const hin = malloc((sharedHot + stagedRows) * inRow * 4);
  let hout = -1;
  try {
    hout = malloc((sharedHot + stagedRows) * outRow * 4);
    const win = hin + sharedHot * inRow * 4, wout = hout + sharedHot * outRow * 4;
    const ws = fftWorkspace(p.workBytes);
    const spaces = split ? workerWorkspaces(4 * threads, p.workBytes) : [];
    const h = heapF32();
    const copyIn = (r0: number, rows: number, ptr: number) =>
      h.set(src.subarray(r0 * inRow, (r0 + rows) * inRow), ptr >>> 2);
    const copyOut = (r0: number, rows: number, ptr: number) =>
      dst.set(h.subarray(ptr >>> 2, (ptr >>> 2) + rows * outRow), r0 * outRow);
    const hbase = priv !== null ? privateScratch(hotBytes) : hin;
    const pin = hbase, pout = priv !== null ? hbase + hotRows * inRow * 4 : hout;
    const hws = priv !== null ? pout + hotRows * outRow * 4 : ws;
    const hplan = priv !== null ? privateFftPlanPtr(n, priv) : p.ptr;
    const hmem = priv !== null ? priv.memory : memory;
    const hotIn = new Float32Array(hmem.buffer, pin, hotRows * inRow);
    const hotOut = new Float32Array(hmem.buffer, pout, hotRows * outRow);
    const kernel = (priv !== null ? priv.kernels : wasm)[fn];
    const hot = (r0: number, r1: number) => {
      for (let c0 = r0; c0 < r1; c0 += hotRows) {
        const rows = Math.min(hotRows, r1 - c0);
        const full = rows === hotRows;
        (full ? hotIn : hotIn.subarray(0, rows * inRow)).set(src.subarray(c0 * inRow, (c0 + rows) * inRow));
        for (let g = 0; g < rows; g += odd ? unit : rows) {
          const r = Math.min(odd ? unit : rows, rows - g);
          kernel(hplan, pin + g * inRow * 4, pout + g * outRow * 4, r, hws, p.bufElems);
        }
        dst.set(full ? hotOut : hotOut.subarray(0, rows * outRow), c0 * outRow);
      }
    };
    if (!split) {
      hot(0, batch);
      return;
    }
    for (let b0 = 0; b0 < batch; b0 += roundRows) {
      const rows = Math.min(roundRows, batch - b0);
      if (rows <= 2 * unit) {
        hot(b0, b0 + rows);
        continue;
      }
      const staged = workerRows(rows);
      copyIn(b0, staged, win);
      const ranges: [number, number][] = [];
      if (odd) { for (let g = 0; g < staged; g += unit) ranges.push([g, Math.min(staged, g + unit)]); }
      const slices = (odd ? ranges : rangeSlices(staged, unit, threads)).map(([s0, s1], q) => [
        p.ptr,
        win + s0 * inRow * 4,
        wout + s0 * outRow * 4,
        s1 - s0,
        spaces[q],
        p.bufElems,
      ]);
      parallelCall(fn, slices, () => hot(b0 + staged, b0 + rows));
      copyOut(b0, staged, wout);
    }
  } finally {
    if (hout >= 0) free(hout);
    free(hin);
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
  streamRows("rfftExec", n, input, n, out, rfftBins(n) * 2, batch);
}

/**
 * Batched inverse real FFT of arrays: `out` `[batch, n]` = irfft of `spectrum`
 * `[batch, floor(n/2)+1, 2]` (no validation; see the public `fft.irfft` for the checked form).
 */
export function irfftInto(spectrum: Float32Array, n: number, batch: number, out: Float32Array): void {
  streamRows("irfftExec", n, spectrum, rfftBins(n) * 2, out, n, batch);
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
