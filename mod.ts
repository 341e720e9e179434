/**
 * c3a — fine-tune neural networks with C3A (Circular Convolution Adaptation, arXiv 2407.19342) in Deno:
 * a WebAssembly SIMD FFT, a TypeScript autograd core, PEFT-compatible adapter files.
 *
 * @example Wrap a model with C3A, train the adapter, save it in PEFT's format
 * ```ts
 * import { AdamW, C3AConfig, getPeftModel, MLP, nllLoss, randn } from "jsr:@c3a/c3a";
 *
 * // PEFT's test MLP (lin0: 10 -> 20, lin1: 20 -> 2); C3A with block size 2 on both layers.
 * const model = getPeftModel(new MLP({ dropout: 0 }), new C3AConfig({ blockSize: 2, targetModules: ["lin0", "lin1"] }));
 * model.printTrainableParameters(); // trainable params: 120 || all params: 382 || trainable%: 31.4136
 * const opt = new AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 0.1 });
 * for (let step = 0; step < 3; step++) {
 *   const loss = nllLoss(model.forward(randn([8, 10])), [0, 1, 0, 1, 1, 0, 1, 0]);
 *   loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 * }
 * await model.savePretrained(await Deno.makeTempDir()); // adapter_config.json + adapter_model.safetensors
 * ```
 *
 * @module
 */

// Tensor core: Tensor, creation, RNG/init, autograd switches, core differentiable ops, backends.
export * from "./src/tensor/index.ts";
// Neural-network ops (norms, embedding, dropout, rotary embedding, attention).
export * from "./src/ops/nn.ts";
// Batched real FFT (namespace `fft`: fft.rfft, fft.irfft, ...).
export * as fft from "./src/fft/mod.ts";
// Modules and optimizers.
export * from "./src/nn/mod.ts";
export * from "./src/optim/mod.ts";
// Reference architectures with Hugging Face module names.
export * from "./src/models/mlp.ts";
export * from "./src/models/llama.ts";
export {
  MISTRAL_ARCHITECTURE,
  MistralForCausalLM,
  MistralForSequenceClassification,
} from "./src/models/mistral.ts";
export { QWEN2_ARCHITECTURE, Qwen2ForCausalLM, Qwen2ForSequenceClassification } from "./src/models/qwen2.ts";
export {
  LlamaForSequenceClassification,
  type SequenceClassificationForwardOptions,
} from "./src/models/sequence_classification.ts";
export { AutoModelForCausalLM, AutoModelForSequenceClassification } from "./src/models/auto.ts";
// Generation with a key/value cache.
export { generate, type GenerateOptions, type GenerativeModel } from "./src/models/generate.ts";
export { DynamicCache } from "./src/models/cache.ts";
// C3A: the differentiable op (unscaled) and the dense block-circulant matrix.
export { addBlockCircularConvolution, blockCircularConvolution, getCirculant } from "./src/ops/circulant.ts";
// Low-level C3A kernels on Float32Arrays (namespace `c3aKernels`: c3aForward, c3aBackward, getCirculant, ...).
export * as c3aKernels from "./src/backend/wasm/circulant.ts";
// The C3A tuner with PEFT parity.
export {
  type C3ABias,
  C3AConfig,
  type C3AConfigDict,
  type C3AConfigOptions,
  type C3AInitWeights,
  DEFAULT_PEFT_VERSION,
  PEFT_REFERENCE_VERSION,
  TASK_TYPES,
  type TaskType,
} from "./src/c3a/config.ts";
export {
  BlockSizeError,
  captureWarnings,
  NoMatchingPeftModuleError,
  NotImplementedError,
  setWarningHandler,
  ValueError,
  type WarningHandler,
} from "./src/c3a/errors.ts";
export {
  C3ALinear,
  checkBlockSize,
  type MergeOptions,
  type UpdateLayerOptions,
  validBlockSizes,
} from "./src/c3a/layer.ts";
export {
  type AddAdapterOptions,
  C3AModel,
  getPeftModel,
  type GetPeftModelOptions,
  type MergeAdapterOptions,
  type MergeAndUnloadOptions,
  type SetAdapterOptions,
} from "./src/c3a/model.ts";
export { ModulesToSaveWrapper } from "./src/c3a/modulesToSave.ts";
export {
  type BlockSizeSuggestion,
  type ModuleTree,
  suggestBlockSize,
  type SuggestBlockSizeOptions,
} from "./src/c3a/blockSize.ts";
export { C3A_DEFAULT_TARGET_MODULES } from "./src/c3a/matching.ts";
export {
  ADAPTER_CONFIG_NAME,
  ADAPTER_SAFE_WEIGHTS_NAME,
  type FromPretrainedOptions,
  getPeftModelStateDict,
  type SavePretrainedOptions,
  setPeftModelStateDict,
} from "./src/io/adapter.ts";
// CPU threads of the wasm executor (PyTorch's torch.set_num_threads / get_num_threads).
export { getNumThreads, setNumThreads } from "./src/backend/threads/pool.ts";
// WebGPU backend (importing registers backend "webgpu"; nothing touches navigator.gpu until
// `await setBackend("webgpu" | "auto")` or `tensor.to("webgpu")`).
export {
  destroyWebGPU,
  type ExecutorStats,
  initWebGPU,
  type InitWebGPUOptions,
  WebGPUBackend,
  webgpuBackend,
  WebGPUError,
  webgpuUnavailableReason,
} from "./src/backend/webgpu/mod.ts";
export type {
  AdamParams,
  AdapterDescription,
  Command,
  ExecutorLimits,
  ExecutorOptions,
  PoolStats,
  ResolvedMatmul,
  RotaryLayout,
  Transport,
  WebGPUStorage,
} from "./src/backend/webgpu/mod.ts";
// The kernel table, executor base classes and registry (for executor authors).
export * from "./src/backend/mod.ts";
// Files.
export * from "./src/io/safetensors.ts";
export { floatToBf16Bits, floatToF16Bits, toHalfBits } from "./src/io/half.ts";
export { parseShardSize, type SaveCheckpointOptions, type SaveDtype } from "./src/io/checkpoint.ts";
// Tokenizers (tokenizer.json through @huggingface/tokenizers) and chat templates (@huggingface/jinja).
export {
  type ApplyChatTemplateOptions,
  AutoTokenizer,
  type BatchEncoding,
  byteLevelTokenizerFiles,
  bytesToUnicode,
  type ChatMessage,
  type DecodeOptions,
  type EncodeBatchOptions,
  type EncodeOptions,
  type PaddingStrategy,
  PreTrainedTokenizer,
  renderChatTemplate,
  type Side,
  SPECIAL_TOKENS_MAP_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  type TokenizerConfig,
  type TokenizerFiles,
} from "./src/text/mod.ts";
// Training loop: batches, accumulation, clipping, schedule, evaluation, checkpoints with bit-exact resume.
export {
  type EvalLogEntry,
  listCheckpoints,
  lossCurveSvg,
  movingAverage,
  OPTIMIZER_NAME,
  type PlotOptions,
  type ProgressWriter,
  type Series,
  train,
  TRAINABLE_NAME,
  type TrainData,
  TRAINER_STATE_NAME,
  type TrainerState,
  trainingCurvesSvg,
  type TrainLogEntry,
  type TrainOptions,
  type TrainProgressOptions,
  type TrainResult,
} from "./src/train/mod.ts";
// Low-level memory statistics of the wasm kernels.
export { memoryStats } from "./src/backend/wasm/memory.ts";
