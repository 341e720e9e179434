/**
 * Streaming of JS `Float32Array` operands through wasm memory, on one thread or split over the worker
 * pool (../threads/pool.ts).
 *
 * Tensor data lives in JS arrays (ownership rule of ./memory.ts), so a kernel call copies its operands
 * into a persistent staging area in wasm memory chunk by chunk, runs the kernel on the chunk and copies
 * the results back. Only the calling thread can read the JS arrays, so the copies always run there;
 * what the pool splits is the kernel's work on the staged data.
 *
 * {@link streamRows} does this for kernels over rows (a flat elementwise kernel is rows of one
 * element): on one thread in chunks of {@link STAGE_CHUNK} elements (the working set stays in cache),
 * and, when the pool has several threads and the call is large enough ({@link PARALLEL_MIN} ·
 * `splitThreshold`), in rounds of many *pieces*: the round's rows are staged once (each input
 * contiguously), every piece (a run of whole rows) is one slice of {@link parallelCall} writing its
 * own padded output slot, then the outputs are copied back. Two staging buffers alternate, so while the
 * workers run one round the calling thread copies the previous round's results out and stages the next
 * round (`beside` of parallelCall), then joins in the current round. A row's result depends only on that row,
 * never on where a piece starts or which thread runs it, so results are bit-identical for every thread
 * count; kernels that may write whole vectors past a row's end (ragged rows) never write another
 * piece's memory.
 *
 * @module
 */

import { getNumThreads, parallelCall, splitThreshold } from "../threads/pool.ts";
import { MAX_SLICES } from "../threads/control.ts";
import { free, type Kernels, malloc, memory } from "./memory.ts";

/** Elements per operand and chunk streamed through wasm memory on one thread. */
export const STAGE_CHUNK = 8192;
/** Floats after every staged region: kernels read and write whole vectors (up to 3 extra lanes). */
const PAD = 16;

/**
 * Elements (per operand, the widest) from which a cheap streamed kernel (arithmetic, copies, Adam)
 * is split over threads; kernels that evaluate exp/log/tanh per element split from
 * {@link PARALLEL_MIN_HEAVY}. Below, waking the workers costs more than it saves (measured in
 * bench/elementwise_bench.ts).
 */
export const PARALLEL_MIN = 1 << 18;
/** Same as {@link PARALLEL_MIN} for kernels that evaluate transcendental functions. */
export const PARALLEL_MIN_HEAVY = 1 << 16;
/** Elements (per operand) of one piece when split. */
const PIECE = 2 * STAGE_CHUNK;
/** Pieces per round and thread when split. */
const PIECES_PER_THREAD = 8;
/** Most elements (per operand) of one round when split: bounds the staging memory at high thread counts. */
const ROUND_MAX = 1 << 20;

// ------------------------------------------------------------------------------------------ staging

let stageBase = 0, stageBytes = 0;
let heap = new Float32Array(memory.buffer);

/** The current Float32 view of wasm memory (re-derived after memory growth). */
export function heapF32(): Float32Array {
  if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
  return heap;
}

/**
 * Byte offset of a persistent staging area of at least `bytes` bytes (64-byte aligned), grown on
 * demand; every staging user shares it (calls never nest). Invalidates Float32 views (call
 * {@link heapF32} after).
 */
export function stageArea(bytes: number): number {
  if (bytes > stageBytes) {
    if (stageBytes > 0) free(stageBase);
    stageBytes = Math.max(bytes, 8 * (STAGE_CHUNK + PAD) * 4);
    stageBase = malloc(stageBytes);
  }
  return stageBase;
}

/** Bytes of a staged region of `floats` floats plus padding, rounded to whole cache lines. */
function regionBytes(floats: number): number {
  return Math.ceil((floats + PAD) / 16) * 64;
}

/**
 * Byte offsets of `count` staging slots of `floats` elements each (plus padding) in the persistent
 * staging area. Invalidates Float32 views (call {@link heapF32} after).
 */
export function stageSlots(count: number, floats: number = STAGE_CHUNK): number[] {
  const slot = regionBytes(floats);
  const base = stageArea(slot * count);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = base + i * slot;
  return out;
}

/** Copies `src[off, off+len)` to wasm memory at byte offset `ptr` (`h` from {@link heapF32}). */
export function put(h: Float32Array, src: Float32Array, off: number, len: number, ptr: number): void {
  const base = ptr >>> 2;
  if (len <= 24) {
    for (let i = 0; i < len; i++) h[base + i] = src[off + i];
  } else h.set(off === 0 && len === src.length ? src : src.subarray(off, off + len), base);
}

/** Copies `len` floats at byte offset `ptr` into `dst[off, off+len)` (`h` from {@link heapF32}). */
export function get(h: Float32Array, ptr: number, dst: Float32Array, off: number, len: number): void {
  const base = ptr >>> 2;
  if (len <= 24) {
    for (let i = 0; i < len; i++) dst[off + i] = h[base + i];
  } else dst.set(h.subarray(base, base + len), off);
}

/**
 * Streams `rows` rows of `dim` elements of every array in `ins` through staging slots in chunks of
 * whole rows, calls `run(inPtrs, outPtrs, rowsInChunk)` per chunk, and copies the chunk of every
 * array in `outs` (also `[rows, dim]`) back. One thread; {@link streamRows} is the splittable form.
 */
export function rowsWasm(
  ins: readonly Float32Array[],
  outs: readonly Float32Array[],
  rows: number,
  dim: number,
  run: (pin: number[], pout: number[], rows: number) => void,
): void {
  if (rows === 0 || dim === 0) return;
  const slotF = Math.max(STAGE_CHUNK, dim);
  const slots = stageSlots(ins.length + outs.length, slotF);
  const pin = slots.slice(0, ins.length), pout = slots.slice(ins.length);
  const h = heapF32();
  const k = Math.floor(slotF / dim);
  for (let r0 = 0; r0 < rows; r0 += k) {
    const kk = Math.min(k, rows - r0), off = r0 * dim, len = kk * dim;
    for (let i = 0; i < ins.length; i++) put(h, ins[i], off, len, pin[i]);
    run(pin, pout, kk);
    for (let i = 0; i < outs.length; i++) get(h, pout[i], outs[i], off, len);
  }
}

// ------------------------------------------------------------------------------------------ rows engine

/** Name of a kernel export (what {@link parallelCall} runs). */
export type KernelName = keyof Kernels & string;

/** An array streamed by {@link streamRows}: its row r is `a[off + r·w, off + (r+1)·w)`. */
export interface RowOperand {
  /** The data. */
  a: Float32Array;
  /** Elements per row (≥ 1). */
  w: number;
  /** Element offset of row 0 (default 0). */
  off?: number;
}

/**
 * An output of {@link streamRows}; with `from`, the kernel updates input `from` in place. A
 * `Float64Array` output receives float64 values (row sums).
 */
export interface RowOutput {
  /** The data. */
  a: Float32Array | Float64Array;
  /** Elements per row (≥ 1). */
  w: number;
  /** Element offset of row 0 (default 0). */
  off?: number;
  /** Index of the input whose staged rows the kernel overwrote (flat in-place kernels). */
  from?: number;
}

/** A kernel over rows, for {@link streamRows}. */
export interface RowsJob {
  /** The kernel export run on every piece (none: only {@link RowsJob.round} works on the rows). */
  fn?: KernelName;
  /** Number of rows. */
  rows: number;
  /** Arrays read row by row. */
  ins: readonly RowOperand[];
  /** Arrays written row by row. */
  outs: readonly RowOutput[];
  /**
   * Data every piece reads whole (a weight vector, rotary tables), staged once per call; a number
   * stands for that many zeroed bytes of scratch (an accumulator the kernel owns).
   */
  fixed?: readonly (Float32Array | number)[];
  /** Pieces never cross a multiple of this many rows (rows in different blocks use different data). */
  block?: number;
  /** Split threshold in elements of the widest operand ({@link PARALLEL_MIN} or {@link PARALLEL_MIN_HEAVY}). */
  minSplit: number;
  /**
   * The kernel's arguments for a piece of `rows` rows starting at row `r0`, with its staged inputs
   * at `pin`, its output slots at `pout` and the fixed regions at `fixed` (byte offsets); `split`
   * says whether the call runs split over threads.
   */
  args(
    pin: readonly number[],
    pout: readonly number[],
    fixed: readonly number[],
    r0: number,
    rows: number,
    split: boolean,
  ): number[];
  /**
   * Called after the pieces of every round (rows `[r0, r0 + rows)`, inputs staged contiguously at
   * `pin`), before the outputs are copied back: a second pass over the round's rows, e.g. column
   * sums partitioned by column. `split` says whether the call runs split over threads.
   */
  round?(pin: readonly number[], fixed: readonly number[], r0: number, rows: number, split: boolean): void;
  /** Called after the last round, with the fixed regions (read accumulators back). */
  done?(fixed: readonly number[]): void;
}

/** One round of {@link streamRows}: its rows, pieces and staged locations. */
interface Round {
  r0: number;
  rows: number;
  /** Kernel arguments per piece. */
  slices: number[][];
  starts: number[];
  counts: number[];
  /** Staged inputs (byte offsets). */
  pIn: number[];
  /** Output slots per piece (byte offsets). */
  pOut: number[][];
}

/**
 * Runs a {@link RowsJob}: stages rows through wasm memory and runs its kernel on every piece of rows,
 * on one thread or split over the pool (see the module doc). Pieces hold whole rows; in-place outputs
 * (`from`) require rows of one element (pieces then start at multiples of 16 elements).
 */
export function streamRows(job: RowsJob): void {
  const { rows, ins, outs } = job;
  if (rows === 0) return;
  const fixed = job.fixed ?? [];
  let maxW = 1;
  for (const o of ins) maxW = Math.max(maxW, o.w);
  for (const o of outs) maxW = Math.max(maxW, o.w);
  const threads = getNumThreads();
  const split = threads > 1 && rows * maxW >= splitThreshold(job.minSplit);
  const inPlace = outs.some((o) => o.from !== undefined);
  const mult = inPlace ? 16 : 1;
  let pieceRows: number, perRound: number;
  if (split) {
    pieceRows = Math.max(1, Math.floor(Math.max(PIECE, maxW) / maxW));
    // small inputs (tests' splitAll): still several pieces
    pieceRows = Math.min(pieceRows, Math.ceil(rows / (4 * threads)));
    // rounds of about PIECES_PER_THREAD pieces per thread, at least one row per thread
    const budget = Math.min(PIECE * PIECES_PER_THREAD * threads, ROUND_MAX);
    perRound = Math.min(MAX_SLICES, Math.max(threads, Math.floor(budget / (pieceRows * maxW))));
  } else {
    pieceRows = Math.max(1, Math.floor(Math.max(STAGE_CHUNK, maxW) / maxW));
    perRound = 1;
  }
  pieceRows = Math.ceil(pieceRows / mult) * mult;
  const roundRows = pieceRows * perRound;

  // Split calls without a second pass overlap the copies with the kernels: while the workers run
  // round i in one buffer, the calling thread copies round i−1's results out of the other buffer and
  // stages round i+1 into it (parallelCall's `beside`), then joins in running round i's pieces.
  const pipelined = split && job.fn !== undefined && job.round === undefined;
  const buffers = pipelined ? 2 : 1;

  // layout: fixed regions; per buffer: inputs (round rows, contiguous), outputs (a padded slot per piece)
  let bytes = 0;
  const fixedAt = fixed.map((f) => {
    const at = bytes;
    bytes += regionBytes(typeof f === "number" ? Math.ceil(f / 4) : f.length);
    return at;
  });
  // floats per row of each output's slots (float64 outputs take two)
  const outF = outs.map((o) => o.w * (o.a instanceof Float64Array ? 2 : 1));
  const slotBytes = outs.map((_, i) => regionBytes(pieceRows * outF[i]));
  const bufAt: { ins: number[]; outs: number[] }[] = [];
  for (let b = 0; b < buffers; b++) {
    const inAt = ins.map((o) => {
      const at = bytes;
      bytes += regionBytes(Math.min(roundRows, rows) * o.w);
      return at;
    });
    const outAt = outs.map((o, i) => {
      if (o.from !== undefined) return -1;
      const at = bytes;
      bytes += perRound * slotBytes[i];
      return at;
    });
    bufAt.push({ ins: inAt, outs: outAt });
  }
  const base = stageArea(bytes);
  const pFixed = fixedAt.map((at) => base + at);
  const h0 = heapF32();
  fixed.forEach((f, i) => {
    if (typeof f === "number") h0.fill(0, pFixed[i] >>> 2, (pFixed[i] >>> 2) + Math.ceil(f / 4));
    else put(h0, f, 0, f.length, pFixed[i]);
  });
  const block = job.block ?? 0;

  /** The pieces of the round starting at row r0, staged in buffer `buf`. */
  const plan = (r0: number, buf: number): Round => {
    const pIn = bufAt[buf].ins.map((at) => base + at);
    const slot = (i: number, q: number, r: number) => {
      const o = outs[i];
      return o.from !== undefined ? pIn[o.from] + (r - r0) * 4 : base + bufAt[buf].outs[i] + q * slotBytes[i];
    };
    const end = Math.min(rows, r0 + roundRows);
    const slices: number[][] = [], starts: number[] = [], counts: number[] = [], pOut: number[][] = [];
    for (let r = r0; r < end && slices.length < perRound;) {
      let e = Math.min(end, r + pieceRows);
      if (block > 0) e = Math.min(e, (Math.floor(r / block) + 1) * block);
      const q = slices.length;
      const pin = ins.map((_, i) => pIn[i] + (r - r0) * ins[i].w * 4);
      const pout = outs.map((_, i) => slot(i, q, r));
      slices.push(job.args(pin, pout, pFixed, r, e - r, split));
      starts.push(r);
      counts.push(e - r);
      pOut.push(pout);
      r = e;
    }
    return {
      r0,
      rows: starts[starts.length - 1] + counts[counts.length - 1] - r0,
      slices,
      starts,
      counts,
      pIn,
      pOut,
    };
  };
  const stageIn = (R: Round) => {
    const h = heapF32();
    for (let i = 0; i < ins.length; i++) {
      const o = ins[i];
      put(h, o.a, (o.off ?? 0) + R.r0 * o.w, R.rows * o.w, R.pIn[i]);
    }
  };
  const copyOut = (R: Round) => {
    const h = heapF32();
    for (let q = 0; q < R.slices.length; q++) {
      const r = R.starts[q], k = R.counts[q];
      outs.forEach((o, i) => {
        const at = R.pOut[q][i], dst = (o.off ?? 0) + r * o.w, len = k * o.w;
        if (o.a instanceof Float64Array) o.a.set(new Float64Array(memory.buffer, at, len), dst);
        else get(h, at, o.a, dst, len);
      });
    }
  };

  if (!pipelined) {
    for (let r0 = 0; r0 < rows;) {
      const R = plan(r0, 0);
      stageIn(R);
      if (job.fn !== undefined) parallelCall(job.fn, R.slices);
      job.round?.(R.pIn, pFixed, r0, R.rows, split);
      copyOut(R);
      r0 += R.rows;
    }
  } else {
    let cur = plan(0, 0), prev: Round | null = null;
    stageIn(cur);
    for (let i = 0;; i++) {
      const next = cur.r0 + cur.rows < rows ? plan(cur.r0 + cur.rows, (i + 1) % 2) : null;
      const done = prev; // round i−1 lives in the buffer round i+1 is staged into: out first
      parallelCall(job.fn!, cur.slices, () => {
        if (done) copyOut(done);
        if (next) stageIn(next);
      });
      prev = cur;
      if (next === null) break;
      cur = next;
    }
    copyOut(prev!);
  }
  job.done?.(pFixed);
}
