/**
 * The WebGPU backend: GPU-resident tensors with WGSL kernels for every {@link Backend} operation,
 * the FFT (same plans as the wasm FFT) and the C3A circulant products. Registered as "webgpu" by
 * src/backend/executors.ts; `await setBackend("webgpu" | "auto")` (src/tensor/select.ts) selects it.
 * These exports are the WebGPU part of the `@c3a/c3a/backend` entry point (backend.ts).
 *
 * @module
 */

export {
  destroyWebGPU,
  initWebGPU,
  type InitWebGPUOptions,
  isSoftwareAdapter,
  webgpuBackend,
  webgpuUnavailableReason,
} from "./select.ts";
export { WebGPUBackend, WebGPUStorage } from "./backend.ts";
export { type Transport, WebGPUError } from "./transport.ts";
export type { Command } from "./commands.ts";
export type { ResolvedMatmul } from "./matmul.ts";
export type { AdamParams, RotaryLayout } from "./fused.ts";
export type { AdapterDescription, ExecutorLimits, ExecutorOptions, ExecutorStats } from "./executor.ts";
export type { PoolStats } from "./pool.ts";
