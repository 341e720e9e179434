/**
 * The composition root of the executors: registers the built-in executors with the registry of
 * src/backend/backend.ts — the CPU executor "wasm" (the default) and "webgpu" (registering it does
 * not touch `navigator.gpu` until `await setBackend("webgpu" | "auto")` or `tensor.to("webgpu")`) —
 * and re-exports the few executor controls the public entry point (mod.ts) offers. Imported by the
 * tensor core (src/tensor/tensor.ts). A new executor is registered here with
 * `registerBackend(name, provider)`; nothing above src/backend/ imports an executor.
 *
 * @module
 */

import { registerBackend } from "./backend.ts";
import { WasmBackend } from "./wasm/backend.ts";
import { webgpuProvider } from "./webgpu/select.ts";

registerBackend("wasm", { create: () => new WasmBackend(), device: () => "WebAssembly SIMD, CPU" });
registerBackend("webgpu", webgpuProvider());

// CPU threads of the wasm executor (torch.set_num_threads / torch.get_num_threads).
export { getNumThreads, setNumThreads } from "./threads/pool.ts";
export { WebGPUError } from "./webgpu/transport.ts";
