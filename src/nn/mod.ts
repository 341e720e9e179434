/**
 * `nn`: modules and layers (PyTorch `torch.nn` counterparts).
 *
 * @module
 */

export {
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  type StateDictValue,
} from "./module.ts";
export { Parameter } from "./parameter.ts";
export { Linear, type LinearOptions } from "./linear.ts";
export { Embedding, type EmbeddingModuleOptions } from "./embedding.ts";
export { LayerNorm, type LayerNormOptions, RMSNorm, type RMSNormOptions } from "./normalization.ts";
export { ModuleDict, ModuleList, ParameterDict, Sequential } from "./container.ts";
export { Dropout, GELU, Identity, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh } from "./activation.ts";
