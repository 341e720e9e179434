/**
 * c3a for executor and op authors (`@c3a/c3a/backend`): the {@link Backend} interface and its
 * registry, the helpers that ops are written with (autograd recording, broadcasting, strides), the
 * FFT planner shared by every executor, and the internals of the shipped executors (wasm memory
 * statistics, the WebGPU executor). Users of the library need only the main entry point (`mod.ts`).
 *
 * @example A differentiable op written with a backend kernel and the autograd recorder
 * ```ts
 * import { mul, Tensor, tensor } from "@c3a/c3a";
 * import { recordOp, stridesOf } from "@c3a/c3a/backend";
 *
 * function square(x: Tensor): Tensor {
 *   const b = x.backend; // run kernels on the tensor's backend
 *   const st = stridesOf(x.shape);
 *   const out = Tensor.fromStorage(b.binary("mul", x.storage, x.storage, x.shape, st, st), x.shape);
 *   return recordOp("square", out, [x], (g, needs) => [needs[0] ? mul(g, mul(x, 2)) : null]);
 * }
 *
 * const x = tensor([1, -2, 3]).requiresGrad_();
 * square(x).sum().backward();
 * console.log(x.grad!.dataSync()); // Float32Array [2, -4, 6]
 * ```
 *
 * @module
 */

// Backend interface and registry.
export {
  type Backend,
  backendNamed,
  type BackendProvider,
  backendProvider,
  type DeviceProbe,
  getBackend,
  type MatmulParams,
  registerBackend,
  registeredBackends,
  setCurrentBackend,
  type Storage,
} from "./src/backend/backend.ts";
// The kernel table (each kernel declared once) and the executor base classes: how to add a kernel is
// in src/backend/kernels.ts, how to add an executor in src/backend/executor.ts.
export {
  type AdamStepParams,
  type BinaryOp,
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
  type ReduceOp,
  type RequiredKernel,
  type RotaryParams,
  type SoftmaxAttrs,
  type UnaryOp,
} from "./src/backend/kernels.ts";
export { ExecutorBase, TableExecutor } from "./src/backend/executor.ts";
export { collapseDims } from "./src/backend/strides.ts";
// Selection and placement (the user-facing setBackend / tensor.to are in the main entry point).
export { KNOWN_ANSWER_TOLERANCE, knownAnswerCheck, type KnownAnswerResult } from "./src/tensor/select.ts";
export { resolveBackend, sameBackend } from "./src/tensor/placement.ts";

// Writing ops: autograd recording, shapes, broadcasting, raw (non-recording) kernels.
export { type BackwardFn, Node, recordOp } from "./src/autograd/engine.ts";
export { backendOf } from "./src/tensor/tensor.ts";
export { broadcastShapes, fmtShape, sizeOf, stridesOf } from "./src/tensor/shape.ts";
export { binaryInPlace, binaryRaw, scalarRaw, unaryOp } from "./src/ops/elementwise.ts";
export { sumToShape } from "./src/ops/reduce.ts";
export { shapeArg } from "./src/ops/shape.ts";
export { toIndexArray } from "./src/ops/indexing.ts";

// The FFT planner every executor runs (factorisation, twiddles, Bluestein), and the pointer-level
// wasm FFT.
export {
  BASE_FFT_CAPABILITIES,
  type BluesteinPlan,
  type ComplexPlan,
  factorize,
  type FftCapabilities,
  type FftPass,
  type FftPlan,
  getComplexPlan,
  getFftPlan,
  type StockhamPlan,
} from "./src/fft/plan.ts";
export { irfftPtr, RealFft, rfftPtr } from "./src/backend/wasm/fft.ts";

// The wasm executor.
export { memoryStats } from "./src/backend/wasm/memory.ts";

// The WebGPU executor (its list of exports is src/backend/webgpu/mod.ts).
export * from "./src/backend/webgpu/mod.ts";
