/**
 * The WebGPU backend: GPU-resident tensors with WGSL kernels for every {@link Backend} operation,
 * the FFT (same plans as the wasm FFT) and the C3A circulant products. Importing this module
 * registers the backend as "webgpu"; `await setBackend("webgpu" | "auto")` (src/tensor/select.ts)
 * selects it.
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
export type { Backend, BinaryOp, MatmulParams, ReduceOp, Storage, UnaryOp } from "../backend.ts";
