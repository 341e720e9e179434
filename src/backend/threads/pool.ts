/**
 * The wasm executor's worker pool: every core on one shared wasm memory.
 *
 * When the kernels run on shared memory (`sharedMemory` in ../wasm/memory.ts: Deno, or a Web Worker
 * of a cross-origin-isolated browser page), heavy kernels split their work into slices — disjoint
 * parts of the output, each computed exactly as the single-threaded kernel computes it — and
 * {@link parallelCall} runs the slices on the calling thread plus `getNumThreads() - 1` workers,
 * started on first use: `node:worker_threads` in Deno (unref'd, so they never keep a finished program
 * alive), module Web Workers in browsers. Each output element is computed by one thread in a fixed
 * order, so results are bit-identical for every thread count. Without shared memory (a page that is
 * not cross-origin isolated, a page's main thread, or `C3A_NUM_THREADS=1`) everything runs on the
 * calling thread, as before.
 *
 * Dispatch is synchronous: the caller publishes a job in a control block in wasm memory
 * (./control.ts), wakes the workers with `Atomics.notify`, runs slices itself and waits with
 * `Atomics.wait` until all are done. Slices are claimed dynamically, so a descheduled worker delays
 * nothing but its current slice, and slices that no worker claims — workers still starting (a browser
 * starts them asynchronously, possibly only once the caller yields to its event loop) or never started
 * — are run by the caller: a call never waits for a worker to start.
 *
 * @module
 */

import { Worker as NodeWorker } from "node:worker_threads";
import { envVar } from "../env.ts";
import {
  allocPersistent,
  kernelBuild,
  type Kernels,
  memory,
  sharedMemory,
  unsharedReason,
  wasm,
} from "../wasm/memory.ts";
import { sharedKernelModule } from "../wasm/shared_module.ts";
import {
  CONTROL_BYTES,
  CONTROL_WORDS,
  functionNames,
  MAX_ARGS,
  MAX_SLICES,
  MAX_WORKERS,
  READY_OFFSET,
  runSlices,
  W,
} from "./control.ts";
import type { KernelWorkerInit } from "./worker.ts";
import { kernelWorkerUrl } from "./worker_url.ts";

/** Upper bound of {@link setNumThreads}. */
export const MAX_THREADS = MAX_WORKERS;

function defaultThreads(): number {
  const env = envVar("C3A_NUM_THREADS");
  if (env !== undefined && env.trim() !== "") {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1 && n <= MAX_THREADS) return n;
    console.warn(`C3A_NUM_THREADS=${env} is not an integer in [1, ${MAX_THREADS}]; using the core count`);
  }
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return Math.max(1, Math.min(MAX_THREADS, cores ?? 1));
}

let numThreads = sharedMemory ? defaultThreads() : 1;
/** A started kernel worker: its slot in the ready table, its start token, and how to stop it. */
interface PoolWorker {
  slot: number;
  token: number;
  /** Terminates the thread; resolves once it has exited (Deno) or at once (browsers). */
  stop(): Promise<void>;
}

/** Workers in slot order: `workers[i].slot === i`. */
const workers: PoolWorker[] = [];
let nextToken = 1;
let controlPtr = -1;
let ctl: Int32Array | undefined;
let args: Float64Array | undefined;
let ready: Int32Array | undefined;
let generation = 0;
const fnNames = functionNames(wasm);
const fnIndex = new Map(fnNames.map((n, i) => [n, i]));
const fns = fnNames.map((n) => (wasm as unknown as Record<string, (...a: number[]) => unknown>)[n]);

/**
 * Sets how many threads the wasm kernels use (PyTorch's `torch.set_num_threads`): the calling thread
 * plus `n - 1` workers. Default: `C3A_NUM_THREADS` if set (read with `--allow-env`), else
 * `navigator.hardwareConcurrency`. Results do not depend on it (bit-identical). Where wasm threads are
 * unavailable it stays 1: a browser page that is not cross-origin isolated (no `SharedArrayBuffer`), a
 * browser page's main thread (it may not block; run the library in a Web Worker), or
 * `C3A_NUM_THREADS=1` at startup ({@link parallelInfo} says which).
 * Lowering it stops the extra workers.
 *
 * @param n number of threads, integer in [1, 256]
 * @throws {RangeError} when `n` is not an integer in [1, 256]
 * @example
 * ```ts
 * import { getNumThreads, setNumThreads } from "@c3a/c3a";
 * const before = getNumThreads();
 * setNumThreads(1); // single-threaded kernels
 * setNumThreads(before);
 * ```
 */
export function setNumThreads(n: number): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new RangeError(`setNumThreads: n must be an integer in [1, ${MAX_THREADS}], got ${String(n)}`);
  }
  numThreads = sharedMemory ? n : 1;
  while (workers.length > numThreads - 1) void stopWorker(workers.pop()!);
}

/**
 * The number of threads the wasm kernels use (see {@link setNumThreads}); 1 where wasm threads are
 * unavailable.
 */
export function getNumThreads(): number {
  return numThreads;
}

let splitEverything = false;

/**
 * The least work (in a kernel's own unit) worth splitting over threads: `work`, or 0 inside
 * {@link withThreads} with `splitAll` (tests: small inputs take the parallel paths too).
 */
export function splitThreshold(work: number): number {
  return splitEverything ? 0 : work;
}

/**
 * Runs `fn` with `threads` threads and, when `splitAll`, every splittable kernel split however small
 * its input (the conformance suite's threaded executor); restores both afterwards.
 */
export function withThreads<T>(threads: number, splitAll: boolean, fn: () => T): T {
  const before = numThreads, beforeSplit = splitEverything;
  numThreads = sharedMemory ? threads : 1;
  splitEverything = splitAll;
  try {
    return fn();
  } finally {
    numThreads = before;
    splitEverything = beforeSplit;
  }
}

/** Number of worker threads started so far (for tests and benchmarks), running or still loading. */
export function startedWorkers(): number {
  return workers.length;
}

/**
 * Number of worker threads that are running: their kernels are instantiated and they take part in
 * parallel calls. In Deno this soon equals {@link startedWorkers}; in browsers workers load
 * asynchronously, and until they run the calling thread does their share.
 */
export function runningWorkers(): number {
  if (ready === undefined) return 0;
  let n = 0;
  for (const w of workers) if (Atomics.load(ready, w.slot) === w.token) n++;
  return n;
}

/** What {@link parallelInfo} reports. */
export interface ParallelInfo {
  /**
   * Threads the wasm kernels use: {@link getNumThreads} (the calling thread plus the workers), or 1
   * once workers could not start (then `reason` says why).
   */
  numThreads: number;
  /** Worker threads started so far (they start on the first parallel call). */
  workersStarted: number;
  /** Worker threads running (instantiated; browsers load workers asynchronously). */
  workersRunning: number;
  /** Whether the kernels run on a shared memory (threads are possible). */
  sharedMemory: boolean;
  /**
   * Why the kernels run on one thread (no shared memory, workers could not start, or one thread was
   * asked for); "" when they use several.
   */
  reason: string;
}

/**
 * How the wasm kernels use threads here (PyTorch's `torch.__config__.parallel_info()`): the thread
 * count, how many worker threads have started and run, and, when they run on one thread only, why (a
 * browser page that is not cross-origin isolated, a page's main thread, `C3A_NUM_THREADS=1`, or
 * workers that could not start).
 *
 * @returns a snapshot; workers start on the first parallel call, so read it after some work
 * @example
 * ```ts
 * import { utils } from "@c3a/c3a";
 * const info = utils.parallelInfo();
 * console.log(`${info.numThreads} threads${info.reason ? ` (${info.reason})` : ""}`);
 * ```
 */
export function parallelInfo(): ParallelInfo {
  return {
    numThreads: workersUnavailable === null ? numThreads : 1,
    workersStarted: workers.length,
    workersRunning: runningWorkers(),
    sharedMemory,
    reason: !sharedMemory
      ? unsharedReason
      : workersUnavailable ?? (numThreads === 1 ? "one thread: setNumThreads(1), or a single core" : ""),
  };
}

function stopWorker(w: PoolWorker): Promise<void> {
  // A worker blocked in Atomics.wait is interrupted by terminate(). Clear its ready slot first so that
  // a new worker in the same slot is not counted before it runs.
  if (ready !== undefined) Atomics.store(ready, w.slot, 0);
  return w.stop();
}

/**
 * Stops every worker and waits until they have exited (tests: no thread outlives a test). The pool
 * starts new workers on the next parallel call.
 */
export async function stopWorkers(): Promise<void> {
  const all = workers.splice(0);
  if (all.length === 0) return;
  await Promise.all(all.map(stopWorker));
}

function ensureControl(): void {
  if (ctl !== undefined) return;
  controlPtr = allocPersistent(CONTROL_BYTES);
  new Uint8Array(memory.buffer, controlPtr, CONTROL_BYTES).fill(0);
  ctl = new Int32Array(memory.buffer, controlPtr, CONTROL_WORDS);
  args = new Float64Array(memory.buffer, controlPtr + CONTROL_WORDS * 4, MAX_SLICES * MAX_ARGS);
  ready = new Int32Array(memory.buffer, controlPtr + READY_OFFSET, MAX_WORKERS);
}

/** Why workers cannot start here (set once, after the first failure), or null. */
let workersUnavailable: string | null = null;

function giveUpWorkers(reason: string): void {
  if (workersUnavailable !== null) return;
  workersUnavailable = reason;
  console.warn(`c3a: wasm kernels stay on one thread: ${reason}`);
}

/** Whether starting a worker from `url` would need a permission Deno has not granted (never prompts). */
function missingPermission(url: URL | string): string | null {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno === undefined || typeof url === "string" || url.protocol !== "file:") return null;
  try {
    const path = decodeURIComponent(url.pathname);
    if (deno.permissions.querySync({ name: "read", path }).state !== "granted") {
      return `starting worker threads needs read access to ${path} (--allow-read)`;
    }
  } catch {
    // permissions API unavailable: let the Worker constructor decide
  }
  return null;
}

/** Deno: a `node:worker_threads` worker, unref'd (it never keeps the process alive). */
function startNodeWorker(url: URL | string, init: KernelWorkerInit): PoolWorker {
  const w = new NodeWorker(url, { workerData: init });
  w.unref();
  return {
    slot: init.slot,
    token: init.token,
    stop: () => w.terminate().then(() => {}, () => {}),
  };
}

/**
 * Browsers: a module Web Worker, given its start data in its first message. It starts asynchronously;
 * if it fails to load, the pool gives up on workers (one warning) and the caller keeps running every
 * slice.
 */
function startWebWorker(url: URL | string, init: KernelWorkerInit): PoolWorker {
  const WebWorker = (globalThis as unknown as { Worker: typeof Worker }).Worker;
  const w = new WebWorker(url, { type: "module", name: `c3a-kernels-${init.slot}` });
  w.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    giveUpWorkers(`a kernel worker failed to start (${ev.message || "no details"})`);
  };
  w.postMessage(init);
  return {
    slot: init.slot,
    token: init.token,
    stop: () => {
      w.terminate();
      return Promise.resolve();
    },
  };
}

const inDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;

let exitHook = false;
/** Most milliseconds the exit hook waits for the workers to leave their loops. */
const EXIT_WAIT_MS = 200;

/**
 * Ends the workers with the program. In Deno, on `beforeunload` (the event loop has nothing left), it
 * stops them and holds the loop open until they have exited, so they are joined before the runtime tears
 * down. At `unload` (browsers; or Deno if workers are still there), it tells them to leave their wait loop
 * (EXIT, then a new generation so they wake), waits at most EXIT_WAIT_MS until each has marked its ready
 * slot LEFT, and terminates them. History: an abort at exit ("corrupted size vs. prev_size" / "double free
 * or corruption" from glibc, exit code 134 after every test passed) was seen in a few full `deno test`
 * runs with idle workers left alive, then with the unload hook alone (2026-12-07: 2 of ~14 full runs);
 * its cause is not known (no reproduction outside the full suite).
 */
function registerExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
  if (inDeno) {
    // Deno: when the event loop has nothing left (the program is done), stop the workers and wait for
    // them (a timer holds the loop open meanwhile), so they are joined before the runtime tears down;
    // the loop then empties again with no worker left. The pool restarts workers if work comes after.
    g.addEventListener?.("beforeunload", () => {
      if (workers.length === 0) return;
      const hold = setTimeout(() => {}, EXIT_WAIT_MS * 5);
      stopWorkers().finally(() => clearTimeout(hold));
    });
  }
  g.addEventListener?.("unload", () => {
    if (ctl === undefined) return;
    Atomics.store(ctl, W.EXIT, 1);
    generation = (generation + 1) | 0;
    Atomics.store(ctl, W.GEN, generation);
    Atomics.notify(ctl, W.GEN);
    // Wait (at most EXIT_WAIT_MS) until every started worker has left its loop, so none is still
    // running JS or waiting when the runtime tears down; where this thread may not block, do not wait.
    const end = Date.now() + EXIT_WAIT_MS;
    for (const w of workers) {
      for (;;) {
        const v = Atomics.load(ready!, w.slot);
        if (v !== w.token || Date.now() >= end) break;
        try {
          Atomics.wait(ready!, w.slot, v, Math.max(1, end - Date.now()));
        } catch {
          break;
        }
      }
    }
    for (const w of workers.splice(0)) stopWorker(w).catch(() => {});
  });
}

function ensureWorkers(): void {
  ensureControl();
  registerExitHook();
  while (workers.length < numThreads - 1 && workersUnavailable === null) {
    const url = kernelWorkerUrl();
    let reason = missingPermission(url);
    if (reason === null) {
      try {
        const slot = workers.length, token = nextToken++;
        Atomics.store(ready!, slot, 0);
        const init: KernelWorkerInit = {
          memory,
          module: sharedKernelModule(kernelBuild),
          controlPtr,
          generation,
          slot,
          token,
        };
        workers.push(inDeno ? startNodeWorker(url, init) : startWebWorker(url, init));
        continue;
      } catch (e) {
        reason = (e as Error).message;
      }
    }
    giveUpWorkers(reason);
  }
}

/**
 * Calls the kernel `fn` once per entry of `slices` (its argument list), spread over the pool, and
 * returns when every call has finished. The slices must write disjoint memory and must not depend on
 * each other's results; which thread runs which slice is not specified. With one thread, or one slice,
 * the calls run in order on the calling thread.
 *
 * `beside`, when given, runs on the calling thread once the job is published, before it claims slices
 * itself (with one thread: before the slices): work that only the calling thread can do (copying JS
 * arrays into or out of wasm memory) overlaps the workers' slices. It must not touch the memory the
 * slices read or write, and must not allocate wasm memory. If it throws, the job still completes
 * before the error propagates.
 *
 * @throws {RangeError} for more than 256 slices or more than 24 arguments per call
 * @throws {Error} when a call threw in a worker
 */
export function parallelCall(
  fn: keyof Kernels & string,
  slices: readonly (readonly number[])[],
  beside?: () => void,
): void {
  const index = fnIndex.get(fn);
  if (index === undefined) throw new RangeError(`parallelCall: ${fn} is not a kernel export`);
  if (slices.length > MAX_SLICES) {
    throw new RangeError(`parallelCall: ${slices.length} slices, at most ${MAX_SLICES}`);
  }
  if (numThreads === 1 || slices.length <= 1) {
    beside?.();
    for (const a of slices) fns[index](...a);
    return;
  }
  ensureWorkers();
  const c = ctl!, table = args!;
  let nargs = 0;
  for (const a of slices) nargs = Math.max(nargs, a.length);
  if (nargs > MAX_ARGS) throw new RangeError(`parallelCall: ${nargs} arguments, at most ${MAX_ARGS}`);
  for (let s = 0; s < slices.length; s++) {
    const a = slices[s];
    for (let i = 0; i < nargs; i++) table[s * MAX_ARGS + i] = a[i] ?? 0;
  }
  generation = (generation + 1) | 0;
  Atomics.store(c, W.FN, index);
  Atomics.store(c, W.NARGS, nargs);
  Atomics.store(c, W.SLICES, slices.length);
  Atomics.store(c, W.DONE, 0);
  Atomics.store(c, W.ERROR, 0);
  Atomics.store(c, W.TICKET, (generation & 0xffff) << 16);
  Atomics.store(c, W.GEN, generation);
  Atomics.notify(c, W.GEN);
  let besideError: { e: unknown } | undefined;
  if (beside !== undefined) {
    try {
      beside();
    } catch (e) {
      besideError = { e };
    }
  }
  runSlices(c, table, fns, generation);
  for (;;) {
    const done = Atomics.load(c, W.DONE);
    if (done >= slices.length) break;
    Atomics.wait(c, W.DONE, done);
  }
  if (besideError !== undefined) throw besideError.e;
  if (Atomics.load(c, W.ERROR) !== 0) throw new Error(`parallelCall: ${fn} failed in a worker thread`);
}

/**
 * Splits `[0, count)` into contiguous ranges for `threads` threads: up to 4 per thread (so a slow
 * thread delays little), at most 256, with inner boundaries at multiples of `multiple`.
 */
export function rangeSlices(count: number, multiple: number, threads: number): [number, number][] {
  const units = Math.ceil(count / multiple);
  const parts = Math.max(1, Math.min(units, 4 * threads, MAX_SLICES));
  const out: [number, number][] = [];
  for (let q = 0; q < parts; q++) {
    const r0 = Math.floor((q * units) / parts) * multiple;
    const r1 = Math.min(count, Math.floor(((q + 1) * units) / parts) * multiple);
    if (r1 > r0) out.push([r0, r1]);
  }
  return out;
}
