/**
 * The WebGPU backend: GPU-resident tensors with WGSL kernels for every {@link Backend} operation,
 * the FFT (same plans as the wasm FFT) and the C3A circulant products. Importing this module
 * registers the backend as "webgpu".
 *
 * @example
 * ```ts
 * import { describeBackend, destroyWebGPU, selectBackend } from "./mod.ts";
 * await selectBackend(); // WebGPU when an adapter exists, wasm otherwise (C3A_BACKEND forces one)
 * console.log(describeBackend());
 * destroyWebGPU(); // short scripts and tests: release the device now rather than at exit
 * ```
 *
 * @module
 */

export {
  describeBackend,
  destroyWebGPU,
  initWebGPU,
  type InitWebGPUOptions,
  selectBackend,
  type SelectBackendOptions,
  useWebGPU,
  webgpuBackend,
  webgpuUnavailableReason,
} from "./select.ts";
export { WebGPUBackend, type WebGPUSpectrum, WebGPUStorage } from "./backend.ts";
export { type Transport, WebGPUError } from "./transport.ts";
export type { Command } from "./commands.ts";
export type { ResolvedMatmul } from "./matmul.ts";
export type { AdamParams, RotaryLayout } from "./fused.ts";
export type { AdapterDescription, ExecutorLimits, ExecutorOptions, ExecutorStats } from "./executor.ts";
export type { PoolStats } from "./pool.ts";
export type { Backend, BinaryOp, MatmulParams, ReduceOp, Storage, UnaryOp } from "../backend.ts";
