/**
 * Entry point of a kernel worker thread (started by ./pool.ts with `node:worker_threads`). It
 * instantiates the same shared-memory kernel build as the main thread on the same memory, then loops:
 * wait for a job generation, claim and run slices (./control.ts), wait again. It never allocates
 * wasm memory and never posts messages; the pool terminates it or it ends with the process.
 *
 * @module
 */

import { workerData } from "node:worker_threads";
import { sharedKernelModule } from "../wasm/shared_module.ts";
import { CONTROL_WORDS, functionNames, MAX_ARGS, MAX_SLICES, runSlices, W } from "./control.ts";

interface KernelWorkerData {
  memory: WebAssembly.Memory;
  build: "simd" | "relaxed";
  controlPtr: number;
  generation: number;
}

const data = workerData as KernelWorkerData;
const instance = new WebAssembly.Instance(sharedKernelModule(data.build), { env: { memory: data.memory } });
const exports = instance.exports as Record<string, (...a: number[]) => unknown>;
const fns = functionNames(exports).map((name) => exports[name]);
const ctl = new Int32Array(data.memory.buffer, data.controlPtr, CONTROL_WORDS);
const args = new Float64Array(data.memory.buffer, data.controlPtr + CONTROL_WORDS * 4, MAX_SLICES * MAX_ARGS);

let generation = data.generation;
for (;;) {
  Atomics.wait(ctl, W.GEN, generation);
  generation = Atomics.load(ctl, W.GEN);
  if (Atomics.load(ctl, W.EXIT) !== 0) break;
  runSlices(ctl, args, fns, generation);
}
