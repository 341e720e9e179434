/**
 * What executor authors need: the kernel table ({@link KERNELS} and its types), the executor base
 * classes ({@link ExecutorBase}, {@link TableExecutor}) and the executor registry
 * ({@link registerBackend}, {@link backendNamed}, {@link registeredBackends}).
 *
 * Adding a kernel: one entry in {@link KernelSignatures} and {@link KERNELS} (src/backend/kernels.ts),
 * one implementation per executor (src/backend/wasm/kernels.ts, src/backend/webgpu/kernels.ts); ops
 * call it with `backend.run(name, inputs, attrs)`. Adding an executor: see src/backend/executor.ts.
 *
 * @module
 */

export {
  type C3AAttrs,
  type CopyStridedAttrs,
  type FftAttrs,
  type FusedKernel,
  KERNEL_NAMES,
  type KernelAttrs,
  type KernelDecl,
  type KernelDeclarations,
  type KernelImpl,
  type KernelInputs,
  type KernelName,
  type KernelOutputArgs,
  type KernelOutputs,
  KERNELS,
  type KernelSig,
  type KernelSignatures,
  type KernelTable,
  type MatmulAttrs,
  type RequiredKernel,
  type RotaryParams,
  type SoftmaxAttrs,
} from "./kernels.ts";
export { ExecutorBase, TableExecutor } from "./executor.ts";
export { backendNamed, registerBackend, registeredBackends } from "./backend.ts";
