/**
 * Entry point of a kernel worker thread, started by ./pool.ts: in Deno with `node:worker_threads`
 * (its start data in `workerData`), in browsers as a module Web Worker (its start data in the first
 * message; the browser bundle carries this file's code as a Blob URL, see ./worker_url.ts). It
 * instantiates the shared-memory kernel module it is given on the shared memory it is given, marks
 * itself ready in the control block, then loops: wait for a job generation, claim and run slices
 * (./control.ts), wait again. It never allocates wasm memory and never posts messages; the pool
 * terminates it, or it ends with its process / page / parent worker.
 *
 * @module
 */

import {
  CONTROL_WORDS,
  functionNames,
  LEFT,
  MAX_ARGS,
  MAX_SLICES,
  READY_OFFSET,
  runSlices,
  W,
} from "./control.ts";

/** What the pool gives a kernel worker when it starts it. */
export interface KernelWorkerInit {
  /** The kernels' shared memory. */
  memory: WebAssembly.Memory;
  /** The shared-memory kernel build, compiled (the same module the calling thread runs). */
  module: WebAssembly.Module;
  /** Byte offset of the control block in `memory`. */
  controlPtr: number;
  /** The job generation when the worker was started. */
  generation: number;
  /** This worker's slot in the control block's ready table. */
  slot: number;
  /** Nonzero token stored in the ready slot once the kernels are instantiated. */
  token: number;
}

function serve(init: KernelWorkerInit): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as Record<string, (...a: number[]) => unknown>;
  const fns = functionNames(exports).map((name) => exports[name]);
  const buffer = init.memory.buffer;
  const ctl = new Int32Array(buffer, init.controlPtr, CONTROL_WORDS);
  const args = new Float64Array(buffer, init.controlPtr + CONTROL_WORDS * 4, MAX_SLICES * MAX_ARGS);
  const readyTable = new Int32Array(buffer, init.controlPtr + READY_OFFSET, init.slot + 1);
  Atomics.store(readyTable, init.slot, init.token);
  let generation = init.generation;
  for (;;) {
    Atomics.wait(ctl, W.GEN, generation);
    generation = Atomics.load(ctl, W.GEN);
    if (Atomics.load(ctl, W.EXIT) !== 0) break;
    runSlices(ctl, args, fns, generation);
  }
  // left the loop for good (the pool's exit hook waits for this before the program ends)
  Atomics.compareExchange(readyTable, init.slot, init.token, LEFT);
  Atomics.notify(readyTable, init.slot);
}

const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage: ((ev: MessageEvent) => void) | null;
};
if (scope.WorkerGlobalScope !== undefined) {
  // A Web Worker (browsers): the start data is the first message.
  scope.onmessage = (ev) => {
    scope.onmessage = null;
    serve(ev.data as KernelWorkerInit);
  };
} else {
  // node:worker_threads (Deno). Imported dynamically so that the browser bundle never loads it.
  const { workerData } = await import("node:worker_threads");
  serve(workerData as KernelWorkerInit);
}
