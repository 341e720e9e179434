/**
 * Everything of the tensor core in one import: Tensor, creation, RNG and init, autograd switches,
 * tidy, and the core ops (elementwise, reductions, shape, matmul/linear, activations, softmax, losses,
 * indexing). Other modules may import from here or from the individual files.
 *
 * @module
 */

export { backendOf, keepTensor, Tensor, type TensorOrScalar } from "./tensor.ts";
export * from "./creation.ts";
export * from "./random.ts";
export { keep, tidy, type Trackable } from "./scope.ts";
export { type BackendLike, sameBackend } from "./placement.ts";
export {
  type BackendChoice,
  describeBackend,
  KNOWN_ANSWER_TOLERANCE,
  knownAnswerCheck,
  type KnownAnswerResult,
  setBackend,
  type SetBackendOptions,
} from "./select.ts";
export { broadcastShapes, fmtShape, type Shape, sizeOf, stridesOf } from "./shape.ts";
export { enableGrad, isGradEnabled, noGrad, setGradEnabled } from "../autograd/grad_mode.ts";
export { type BackwardFn, type BackwardOptions, Node, recordOp } from "../autograd/engine.ts";
export {
  type AdamStepParams,
  type Backend,
  type BackendProvider,
  type BinaryOp,
  type DeviceProbe,
  getBackend,
  type MatmulParams,
  type ReduceOp,
  registerBackend,
  type Storage,
  type UnaryOp,
} from "../backend/backend.ts";
export * from "../ops/elementwise.ts";
export * from "../ops/reduce.ts";
export * from "../ops/shape.ts";
export * from "../ops/matmul.ts";
export * from "../ops/activation.ts";
export * from "../ops/softmax.ts";
export * from "../ops/loss.ts";
export * from "../ops/indexing.ts";
