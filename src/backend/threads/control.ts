/**
 * Layout of the control block that the thread pool (./pool.ts) and its workers (./worker.ts) share in
 * wasm memory: Int32 words, then per-slice float64 arguments, then one Int32 "ready" word per worker.
 *
 * A job is one wasm export called once per slice with that slice's arguments. Slices are claimed with a
 * compare-and-swap on {@link W.TICKET}, which packs the job's generation (high 16 bits) with the next
 * unclaimed slice (low 16 bits), so a thread that wakes late can never claim a slice of a job it did
 * not see published. Which thread runs which slice varies; what each slice computes does not.
 *
 * @module
 */

/** Word indices of the control block. */
export const W = {
  /** Job generation, bumped (and notified) to publish a job. */
  GEN: 0,
  /** (generation & 0xffff) << 16 | next unclaimed slice. */
  TICKET: 1,
  /** Slices finished in the current job (notified when it reaches SLICES). */
  DONE: 2,
  /** Number of slices of the current job. */
  SLICES: 3,
  /** Index of the wasm export to call (in the order of the module's exports). */
  FN: 4,
  /** Arguments per slice. */
  NARGS: 5,
  /** Nonzero: workers leave their loop. */
  EXIT: 6,
  /** Nonzero: a slice threw in a worker (a bug: kernels trust their arguments); the caller throws. */
  ERROR: 7,
} as const;

/** Int32 words before the argument table (64 bytes). */
export const CONTROL_WORDS = 16;
/** Most slices in one job. */
export const MAX_SLICES = 256;
/** Most arguments of one call. */
export const MAX_ARGS = 24;
/** Most worker threads (slots of the ready table). */
export const MAX_WORKERS = 256;
/**
 * Byte offset (from the block's start) of the ready table: worker `i` stores its start token there once
 * its kernels are instantiated, so the pool can tell started workers from ones still loading (browsers
 * start workers asynchronously).
 */
export const READY_OFFSET = CONTROL_WORDS * 4 + MAX_SLICES * MAX_ARGS * 8;
/** Value a worker stores in its ready slot when it has left its loop for good (after EXIT). */
export const LEFT = -1;
/** Bytes of the whole control block. */
export const CONTROL_BYTES = READY_OFFSET + MAX_WORKERS * 4;

/** Names of a kernel module's function exports, in a fixed order shared by the pool and its workers. */
export function functionNames(exports: object): string[] {
  return Object.keys(exports).filter((k) => typeof (exports as Record<string, unknown>)[k] === "function")
    .sort();
}

/**
 * Claims and runs slices of the current job until none is left; returns how many this thread ran.
 * `gen` is the generation the caller saw published.
 */
export function runSlices(
  ctl: Int32Array,
  args: Float64Array,
  fns: ((...a: number[]) => unknown)[],
  gen: number,
): number {
  let ran = 0;
  const tag = (gen & 0xffff) << 16;
  for (;;) {
    const word = Atomics.load(ctl, W.TICKET);
    if ((word & 0xffff0000) !== tag) return ran;
    const slice = word & 0xffff;
    const slices = Atomics.load(ctl, W.SLICES);
    if (slice >= slices) return ran;
    if (Atomics.compareExchange(ctl, W.TICKET, word, word + 1) !== word) continue;
    const nargs = Atomics.load(ctl, W.NARGS);
    const fn = fns[Atomics.load(ctl, W.FN)];
    const at = slice * MAX_ARGS;
    try {
      fn(...args.subarray(at, at + nargs));
    } catch {
      Atomics.store(ctl, W.ERROR, 1);
    }
    ran++;
    if (Atomics.add(ctl, W.DONE, 1) + 1 === slices) Atomics.notify(ctl, W.DONE);
  }
}
