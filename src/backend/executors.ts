/**
 * The composition root of the executors: registers the built-in CPU executor ("wasm", the default)
 * with the registry of src/backend/backend.ts. Imported for its effect by the tensor core
 * (src/tensor/tensor.ts); the WebGPU executor registers itself as "webgpu" when
 * src/backend/webgpu/ is imported (the public entry does). A new executor is registered here (or
 * next to it) with `registerBackend(name, provider)`; nothing above src/backend/ imports an executor.
 *
 * @module
 */

import { registerBackend } from "./backend.ts";
import { WasmBackend } from "./wasm/backend.ts";

registerBackend("wasm", { create: () => new WasmBackend(), device: () => "WebAssembly SIMD, CPU" });
