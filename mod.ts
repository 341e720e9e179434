/**
 * c3a — fine-tune neural networks with C3A (Circular Convolution Adaptation, arXiv 2407.19342) in Deno:
 * a WebAssembly SIMD FFT, a TypeScript autograd core, PEFT-compatible adapter files.
 *
 * The names are grouped the way PyTorch, PEFT and transformers group them:
 * - top level, like `torch.*`: {@link Tensor}, creation ({@link tensor}, {@link zeros}, {@link randn}, …),
 *   {@link manualSeed}, autograd switches ({@link noGrad}), and the tensor ops that `torch` has at its
 *   top level ({@link add}, {@link matmul}, {@link sum}, {@link reshape}, {@link softmax}, …);
 * - {@link nn} (`torch.nn`): modules, with {@link nn.functional} (`torch.nn.functional`: losses,
 *   activations, norms, attention; `const F = nn.functional;`), {@link nn.init} and {@link nn.utils};
 * - {@link optim} (`torch.optim`): optimizers and learning-rate schedules;
 * - {@link fft} (`torch.fft`): batched real FFT;
 * - {@link autograd} (`torch.autograd`): the graph node type;
 * - top level, like `peft.*`: {@link C3AConfig}, {@link getPeftModel}, {@link C3AModel}, {@link C3ALinear},
 *   block-size helpers, adapter state dicts and the C3A op {@link blockCircularConvolution};
 * - top level, like `transformers.*`: {@link AutoModelForCausalLM}, {@link AutoModelForSequenceClassification},
 *   the reference decoder {@link LlamaForCausalLM} with {@link LlamaConfig}, and PEFT's test {@link MLP};
 *   every architecture class (`models.Qwen2ForCausalLM`, `models.MistralForCausalLM`, the
 *   sequence-classification heads), building block and `models.generate` in {@link models}
 *   (`transformers.models`);
 * - the training loop {@link train} (like `transformers.Trainer`), its checkpoints, plots and types in
 *   {@link training};
 * - tokenizers like `transformers.AutoTokenizer`: {@link AutoTokenizer}, {@link PreTrainedTokenizer}, with
 *   helpers and types in {@link tokenizers};
 * - safetensors files and backend selection; {@link backends} holds the types of the backend
 *   interface that public signatures name;
 * - {@link utils}: a progress line, duration formatting, shard sizes, half-precision bits.
 *
 * Option and result types live beside what takes them: `nn.LinearOptions`, `optim.AdamOptions`,
 * `models.LlamaOutput`; the C3A ones are top-level. What executor and op authors need to
 * implement a backend (registration, storages, the FFT planner, executor internals) is the second
 * entry point `@c3a/c3a/backend` (`backend.ts`).
 *
 * @example Wrap a model with C3A, train the adapter, save it in PEFT's format
 * ```ts
 * import { C3AConfig, getPeftModel, MLP, nn, optim, randn } from "jsr:@c3a/c3a";
 *
 * // PEFT's test MLP (lin0: 10 -> 20, lin1: 20 -> 2); C3A with block size 2 on both layers.
 * const model = getPeftModel(new MLP({ dropout: 0 }), new C3AConfig({ blockSize: 2, targetModules: ["lin0", "lin1"] }));
 * model.printTrainableParameters(); // trainable params: 120 || all params: 382 || trainable%: 31.4136
 * const opt = new optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 0.1 });
 * for (let step = 0; step < 3; step++) {
 *   const loss = nn.functional.nllLoss(model.forward(randn([8, 10])), [0, 1, 0, 1, 1, 0, 1, 0]);
 *   loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 * }
 * await model.savePretrained(await Deno.makeTempDir()); // adapter_config.json + adapter_model.safetensors
 * ```
 *
 * @module
 */

// Namespaces are `export import` aliases (each member is the original class or function: its docs,
// `instanceof`, use as a type), plus an `export declare namespace` of the same name for the
// interfaces and type aliases (type-only, erased at runtime). Add a public symbol by listing it here
// and in tests/api_snapshot.txt (`deno run -A tests/api_snapshot_test.ts --update`).

import * as _engine from "./src/autograd/engine.ts";
import * as _backend from "./src/backend/backend.ts";
import * as _kernels from "./src/backend/kernels.ts";
import * as _select from "./src/tensor/select.ts";
import * as _pool from "./src/backend/threads/pool.ts";
import * as _placement from "./src/tensor/placement.ts";
import * as _module from "./src/nn/module.ts";
import * as _parameter from "./src/nn/parameter.ts";
import * as _linear from "./src/nn/linear.ts";
import * as _embedding from "./src/nn/embedding.ts";
import * as _normalization from "./src/nn/normalization.ts";
import * as _container from "./src/nn/container.ts";
import * as _activation from "./src/nn/activation.ts";
import * as _opsActivation from "./src/ops/activation.ts";
import * as _opsSoftmax from "./src/ops/softmax.ts";
import * as _opsMatmul from "./src/ops/matmul.ts";
import * as _opsLoss from "./src/ops/loss.ts";
import * as _opsNn from "./src/ops/nn.ts";
import * as _random from "./src/tensor/random.ts";
import * as _clipGrad from "./src/optim/clip_grad.ts";
import * as _optimizer from "./src/optim/optimizer.ts";
import * as _sgd from "./src/optim/sgd.ts";
import * as _adamw from "./src/optim/adamw.ts";
import * as _lrScheduler from "./src/optim/lr_scheduler.ts";
import * as _rfft from "./src/fft/rfft.ts";
import * as _llama from "./src/models/llama.ts";
import * as _mlp from "./src/models/mlp.ts";
import * as _qwen2 from "./src/models/qwen2.ts";
import * as _mistral from "./src/models/mistral.ts";
import * as _seqCls from "./src/models/sequence_classification.ts";
import * as _torchDtype from "./src/models/torch_dtype.ts";
import * as _generate from "./src/models/generate.ts";
import * as _cache from "./src/models/cache.ts";
import * as _checkpoint from "./src/io/checkpoint.ts";
import * as _half from "./src/io/half.ts";
import * as _progress from "./src/util/progress.ts";
import * as _errors from "./src/c3a/errors.ts";
import * as _textAuto from "./src/text/auto.ts";
import * as _tokenizer from "./src/text/tokenizer.ts";
import * as _chatTemplate from "./src/text/chat_template.ts";
import * as _byteLevel from "./src/text/byte_level.ts";
import * as _train from "./src/train/train.ts";
import * as _trainCheckpoint from "./src/train/checkpoint.ts";
import * as _trainPlot from "./src/train/plot.ts";

// ---------------------------------------------------------------------------------------------
// Tensors (torch.*)
// ---------------------------------------------------------------------------------------------
export { Tensor, type TensorOrScalar } from "./src/tensor/tensor.ts";
export type { Shape } from "./src/tensor/shape.ts";
// torch.dtype: "float32", or "bfloat16" / "float16" for frozen 16-bit weights (fromPretrained's torchDtype)
export type { DType } from "./src/backend/backend.ts";
export {
  arange,
  type CreationOptions,
  eye,
  fromFloat32Array,
  full,
  fullLike,
  type NestedArray,
  ones,
  onesLike,
  tensor,
  zeros,
  zerosLike,
} from "./src/tensor/creation.ts";
export { Generator, manualSeed, rand, randint, randn, type RandomOptions } from "./src/tensor/random.ts";
export { enableGrad, isGradEnabled, noGrad, setGradEnabled } from "./src/autograd/grad_mode.ts";
export { keep, tidy, type Trackable } from "./src/tensor/scope.ts";
// The tensor ops that torch has at its top level (torch.add, torch.cat, …); the rest of
// torch.nn.functional is nn.functional.
export {
  abs,
  add,
  clone,
  compare,
  div,
  exp,
  log,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  rsqrt,
  sqrt,
  square,
  sub,
  where,
} from "./src/ops/elementwise.ts";
export { max, mean, min, sum } from "./src/ops/reduce.ts";
export {
  broadcastTo,
  concat,
  expand,
  flatten,
  permute,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  transpose,
  unsqueeze,
  view,
} from "./src/ops/shape.ts";
export { matmul } from "./src/ops/matmul.ts";
export { relu, sigmoid, tanh } from "./src/ops/activation.ts";
export { logSoftmax, softmax } from "./src/ops/softmax.ts";
export { gatherLast, type IndexLike, indexSelect } from "./src/ops/indexing.ts";

/** The autograd graph (PyTorch `torch.autograd`): `tensor.gradFn` is an {@link autograd.Node}. */
// deno-lint-ignore no-namespace
export namespace autograd {
  export import Node = _engine.Node;
}
/** Types of the autograd graph. */
export declare namespace autograd {
  export import BackwardFn = _engine.BackwardFn;
  export import BackwardOptions = _engine.BackwardOptions;
}

// ---------------------------------------------------------------------------------------------
// nn (torch.nn, torch.nn.functional, torch.nn.init, torch.nn.utils)
// ---------------------------------------------------------------------------------------------
/**
 * Modules and layers (PyTorch `torch.nn`): {@link nn.Module}, {@link nn.Linear}, {@link nn.Embedding},
 * norms, containers and activation modules, with the namespaces {@link nn.functional}
 * (`torch.nn.functional`, e.g. `const F = nn.functional;`), {@link nn.init} and {@link nn.utils}.
 */
// deno-lint-ignore no-namespace
export namespace nn {
  export import Module = _module.Module;
  export import Parameter = _parameter.Parameter;
  export import Linear = _linear.Linear;
  export import Embedding = _embedding.Embedding;
  export import LayerNorm = _normalization.LayerNorm;
  export import RMSNorm = _normalization.RMSNorm;
  export import ModuleDict = _container.ModuleDict;
  export import ModuleList = _container.ModuleList;
  export import ParameterDict = _container.ParameterDict;
  export import Sequential = _container.Sequential;
  export import Dropout = _activation.Dropout;
  export import GELU = _activation.GELU;
  export import Identity = _activation.Identity;
  export import LogSoftmax = _activation.LogSoftmax;
  export import ReLU = _activation.ReLU;
  export import Sigmoid = _activation.Sigmoid;
  export import SiLU = _activation.SiLU;
  export import Softmax = _activation.Softmax;
  export import Tanh = _activation.Tanh;

  /** Stateless differentiable functions (PyTorch `torch.nn.functional`): losses, activations, norms, attention. */
  // deno-lint-ignore no-namespace
  export namespace functional {
    export import crossEntropy = _opsLoss.crossEntropy;
    export import nllLoss = _opsLoss.nllLoss;
    export import mseLoss = _opsLoss.mseLoss;
    export import linear = _opsMatmul.linear;
    export import relu = _opsActivation.relu;
    export import gelu = _opsActivation.gelu;
    export import silu = _opsActivation.silu;
    export import sigmoid = _opsActivation.sigmoid;
    export import tanh = _opsActivation.tanh;
    export import softmax = _opsSoftmax.softmax;
    export import logSoftmax = _opsSoftmax.logSoftmax;
    export import swiglu = _opsNn.swiglu;
    export import embedding = _opsNn.embedding;
    export import dropout = _opsNn.dropout;
    export import layerNorm = _opsNn.layerNorm;
    export import rmsNorm = _opsNn.rmsNorm;
    export import applyRotaryEmb = _opsNn.applyRotaryEmb;
    export import scaledDotProductAttention = _opsNn.scaledDotProductAttention;
  }

  /** In-place parameter initialisation (PyTorch `torch.nn.init`), seeded by `manualSeed` unless a generator is given. */
  // deno-lint-ignore no-namespace
  export namespace init {
    export import uniform_ = _random.uniform_;
    export import normal_ = _random.normal_;
    export import xavierUniform_ = _random.xavierUniform_;
    export import xavierNormal_ = _random.xavierNormal_;
    export import kaimingUniform_ = _random.kaimingUniform_;
    export import kaimingNormal_ = _random.kaimingNormal_;
    export import calculateGain = _random.calculateGain;
    export import calculateFanInAndFanOut = _random.calculateFanInAndFanOut;
  }

  /** Gradient utilities (PyTorch `torch.nn.utils`). */
  // deno-lint-ignore no-namespace
  export namespace utils {
    export import clipGradNorm = _clipGrad.clipGradNorm;
  }
}
/** Option and result types of `nn` and of its namespaces' functions. */
export declare namespace nn {
  export import LoadStateDictOptions = _module.LoadStateDictOptions;
  export import LoadStateDictResult = _module.LoadStateDictResult;
  export import StateDictValue = _module.StateDictValue;
  export import LinearOptions = _linear.LinearOptions;
  export import EmbeddingModuleOptions = _embedding.EmbeddingModuleOptions;
  export import LayerNormOptions = _normalization.LayerNormOptions;
  export import RMSNormOptions = _normalization.RMSNormOptions;
  // nn.functional's (a nested type-only namespace would hide nn.functional's functions from deno doc)
  export import CrossEntropyOptions = _opsLoss.CrossEntropyOptions;
  export import Reduction = _opsLoss.Reduction;
  export import GeluOptions = _opsActivation.GeluOptions;
  export import EmbeddingOptions = _opsNn.EmbeddingOptions;
  export import DropoutOptions = _opsNn.DropoutOptions;
  export import RotaryOptions = _opsNn.RotaryOptions;
  export import AttentionOptions = _opsNn.AttentionOptions;
  // nn.init's and nn.utils'
  export import KaimingOptions = _random.KaimingOptions;
  export import Nonlinearity = _random.Nonlinearity;
  export import ClipGradNormOptions = _clipGrad.ClipGradNormOptions;
}

// ---------------------------------------------------------------------------------------------
// optim (torch.optim), fft (torch.fft)
// ---------------------------------------------------------------------------------------------
/**
 * Optimizers and learning-rate schedules (PyTorch `torch.optim` and `torch.optim.lr_scheduler`;
 * transformers' `get_*_schedule_with_warmup`).
 */
// deno-lint-ignore no-namespace
export namespace optim {
  export import Optimizer = _optimizer.Optimizer;
  export import SGD = _sgd.SGD;
  export import AdamBase = _adamw.AdamBase;
  export import Adam = _adamw.Adam;
  export import AdamW = _adamw.AdamW;
  export import LRScheduler = _lrScheduler.LRScheduler;
  export import LambdaLR = _lrScheduler.LambdaLR;
  export import getConstantScheduleWithWarmup = _lrScheduler.getConstantScheduleWithWarmup;
  export import getCosineScheduleWithWarmup = _lrScheduler.getCosineScheduleWithWarmup;
  export import getLinearScheduleWithWarmup = _lrScheduler.getLinearScheduleWithWarmup;
}
/** Option and state types of `optim`. */
export declare namespace optim {
  export import OptimizerStateDict = _optimizer.OptimizerStateDict;
  export import ParamGroup = _optimizer.ParamGroup;
  export import ParamGroupInput = _optimizer.ParamGroupInput;
  export import ParamState = _optimizer.ParamState;
  export import SGDOptions = _sgd.SGDOptions;
  export import AdamOptions = _adamw.AdamOptions;
  export import LRSchedulerState = _lrScheduler.LRSchedulerState;
  export import SchedulableOptimizer = _lrScheduler.SchedulableOptimizer;
}

/**
 * Batched real FFT (PyTorch `torch.fft`, numpy conventions): `fft.rfft(x, n, batch, out?)`,
 * `fft.irfft(X, n, batch, out?)` on Float32Arrays, `fft.rfft(x)` / `fft.irfft(X, n?)` on tensors
 * (any backend, differentiable), and `fft.rfftBins(n)`. The resident-buffer plan object `RealFft` is
 * in `@c3a/c3a/backend`.
 */
// deno-lint-ignore no-namespace
export namespace fft {
  export import rfft = _rfft.rfft;
  export import irfft = _rfft.irfft;
  export import rfftBins = _rfft.rfftBins;
}

// ---------------------------------------------------------------------------------------------
// C3A and PEFT (peft.*)
// ---------------------------------------------------------------------------------------------
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
  NoMatchingPeftModuleError,
  NotImplementedError,
  ValueError,
} from "./src/c3a/errors.ts";
export { C3ALinear, type MergeOptions, type UpdateLayerOptions } from "./src/c3a/layer.ts";
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
  checkBlockSize,
  type ModuleTree,
  suggestBlockSize,
  type SuggestBlockSizeOptions,
  validBlockSizes,
} from "./src/c3a/blockSize.ts";
export { C3A_DEFAULT_TARGET_MODULES } from "./src/c3a/matching.ts";
export {
  ADAPTER_CONFIG_NAME,
  ADAPTER_SAFE_WEIGHTS_NAME,
  type AdapterFiles,
  adapterToFiles,
  type FromPretrainedOptions,
  getPeftModelStateDict,
  type SavePretrainedOptions,
  setPeftModelStateDict,
} from "./src/c3a/save_and_load.ts";
// The C3A op itself (unscaled, true gradient): PEFT's BlockCircularConvolution and get_circulant_fast.
export { addBlockCircularConvolution, blockCircularConvolution, getCirculant } from "./src/ops/circulant.ts";

// ---------------------------------------------------------------------------------------------
// Models (transformers.*): the main classes top-level, every building block in `models`
// ---------------------------------------------------------------------------------------------
export { MLP } from "./src/models/mlp.ts";
export { type LlamaConfig, LlamaForCausalLM } from "./src/models/llama.ts";
export { AutoModelForCausalLM, AutoModelForSequenceClassification } from "./src/models/auto.ts";

/**
 * Every building block of the reference architectures with Hugging Face module names
 * (transformers' `transformers.models.*`): the shared decoder (`LlamaAttention`, `LlamaMLP`,
 * `LlamaDecoderLayer`, `LlamaModel`) and its configurations (Llama, Qwen2, Mistral), the
 * sequence-classification heads, `generate` with its `DynamicCache`, and PEFT's test MLP. The
 * Auto classes, `LlamaForCausalLM` and `MLP` are also top-level.
 */
// deno-lint-ignore no-namespace
export namespace models {
  export import LlamaAttention = _llama.LlamaAttention;
  export import LlamaMLP = _llama.LlamaMLP;
  export import LlamaDecoderLayer = _llama.LlamaDecoderLayer;
  export import LlamaModel = _llama.LlamaModel;
  export import LlamaForCausalLM = _llama.LlamaForCausalLM;
  export import resolveLlamaConfig = _llama.resolveLlamaConfig;
  export import causalLmLoss = _llama.causalLmLoss;
  export import LLAMA_ARCHITECTURE = _llama.LLAMA_ARCHITECTURE;
  export import LlamaForSequenceClassification = _seqCls.LlamaForSequenceClassification;
  export import Qwen2ForCausalLM = _qwen2.Qwen2ForCausalLM;
  export import Qwen2ForSequenceClassification = _qwen2.Qwen2ForSequenceClassification;
  export import QWEN2_ARCHITECTURE = _qwen2.QWEN2_ARCHITECTURE;
  export import MistralForCausalLM = _mistral.MistralForCausalLM;
  export import MistralForSequenceClassification = _mistral.MistralForSequenceClassification;
  export import MISTRAL_ARCHITECTURE = _mistral.MISTRAL_ARCHITECTURE;
  export import generate = _generate.generate;
  export import DynamicCache = _cache.DynamicCache;
  export import MLP = _mlp.MLP;
}
/** Config, option and output types of `models`. */
export declare namespace models {
  export import LlamaConfig = _llama.LlamaConfig;
  export import ResolvedLlamaConfig = _llama.ResolvedLlamaConfig;
  export import LlamaForwardContext = _llama.LlamaForwardContext;
  export import LlamaForwardOptions = _llama.LlamaForwardOptions;
  export import LlamaModelOutput = _llama.LlamaModelOutput;
  export import LlamaOutput = _llama.LlamaOutput;
  export import LlamaInputIds = _llama.LlamaInputIds;
  export import LlamaInitOptions = _llama.LlamaInitOptions;
  export import LoadPretrainedOptions = _torchDtype.LoadPretrainedOptions;
  export import DecoderArchitecture = _llama.DecoderArchitecture;
  export import SequenceClassificationForwardOptions = _seqCls.SequenceClassificationForwardOptions;
  export import GenerateOptions = _generate.GenerateOptions;
  export import GenerativeModel = _generate.GenerativeModel;
  export import SaveCheckpointOptions = _checkpoint.SaveCheckpointOptions;
  export import SaveDtype = _checkpoint.SaveDtype;
  export import MLPOptions = _mlp.MLPOptions;
}

// ---------------------------------------------------------------------------------------------
// Tokenizers (transformers.AutoTokenizer; tokenizer.json through @huggingface/tokenizers, chat
// templates through @huggingface/jinja)
// ---------------------------------------------------------------------------------------------
export { AutoTokenizer } from "./src/text/auto.ts";
export { PreTrainedTokenizer } from "./src/text/tokenizer.ts";

/**
 * Tokenizer helpers and types: the file names a tokenizer directory holds, chat-template rendering,
 * byte-level tokenizer files, and the option/result types of {@link PreTrainedTokenizer}.
 */
// deno-lint-ignore no-namespace
export namespace tokenizers {
  export import TOKENIZER_FILE = _textAuto.TOKENIZER_FILE;
  export import TOKENIZER_CONFIG_FILE = _textAuto.TOKENIZER_CONFIG_FILE;
  export import SPECIAL_TOKENS_MAP_FILE = _textAuto.SPECIAL_TOKENS_MAP_FILE;
  export import renderChatTemplate = _chatTemplate.renderChatTemplate;
  export import byteLevelTokenizerFiles = _byteLevel.byteLevelTokenizerFiles;
  export import bytesToUnicode = _byteLevel.bytesToUnicode;
}
/** Option and result types of the tokenizers. */
export declare namespace tokenizers {
  export import ApplyChatTemplateOptions = _tokenizer.ApplyChatTemplateOptions;
  export import BatchEncoding = _tokenizer.BatchEncoding;
  export import DecodeOptions = _tokenizer.DecodeOptions;
  export import EncodeBatchOptions = _tokenizer.EncodeBatchOptions;
  export import EncodeOptions = _tokenizer.EncodeOptions;
  export import PaddingStrategy = _tokenizer.PaddingStrategy;
  export import Side = _tokenizer.Side;
  export import TokenizerConfig = _tokenizer.TokenizerConfig;
  export import ChatMessage = _chatTemplate.ChatMessage;
  export import TokenizerFiles = _byteLevel.TokenizerFiles;
}

// ---------------------------------------------------------------------------------------------
// Training loop (transformers.Trainer): `train` top-level, its checkpoints, plots and types in
// `training`
// ---------------------------------------------------------------------------------------------
export { train } from "./src/train/train.ts";

/**
 * What goes with {@link train}: checkpoint file names and listing (bit-exact resume), loss-curve plots,
 * and the option/log/result types.
 */
// deno-lint-ignore no-namespace
export namespace training {
  export import listCheckpoints = _trainCheckpoint.listCheckpoints;
  export import OPTIMIZER_NAME = _trainCheckpoint.OPTIMIZER_NAME;
  export import TRAINABLE_NAME = _trainCheckpoint.TRAINABLE_NAME;
  export import TRAINER_STATE_NAME = _trainCheckpoint.TRAINER_STATE_NAME;
  export import lossCurveSvg = _trainPlot.lossCurveSvg;
  export import movingAverage = _trainPlot.movingAverage;
  export import trainingCurvesSvg = _trainPlot.trainingCurvesSvg;
}
/** Option, log and result types of {@link train}. */
export declare namespace training {
  export import TrainData = _train.TrainData;
  export import TrainOptions = _train.TrainOptions;
  export import TrainProgressOptions = _train.TrainProgressOptions;
  export import TrainResult = _train.TrainResult;
  export import EvalLogEntry = _trainCheckpoint.EvalLogEntry;
  export import TrainerState = _trainCheckpoint.TrainerState;
  export import TrainLogEntry = _trainCheckpoint.TrainLogEntry;
  export import PlotOptions = _trainPlot.PlotOptions;
  export import Series = _trainPlot.Series;
}

// ---------------------------------------------------------------------------------------------
// Files (safetensors)
// ---------------------------------------------------------------------------------------------
export {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type EncodeSafetensorsOptions,
  loadSafetensors,
  type SafetensorsDtype,
  SafetensorsError,
  type SafetensorsTensor,
  saveSafetensors,
  type TensorLike,
} from "./src/io/safetensors.ts";

// ---------------------------------------------------------------------------------------------
// Backends: wasm is the default; "webgpu" is registered (src/backend/executors.ts) without touching
// navigator.gpu until `await setBackend("webgpu" | "auto")` or `tensor.to("webgpu")`.
// ---------------------------------------------------------------------------------------------
export { getBackend } from "./src/backend/backend.ts";
// The executors' composition root registers "wasm" and "webgpu"; CPU threads of the wasm executor
// (torch.set_num_threads / torch.get_num_threads); the error of the WebGPU executor.
export { getNumThreads, setNumThreads, WebGPUError } from "./src/backend/executors.ts";
export { describeBackend, setBackend } from "./src/tensor/select.ts";

/**
 * Types of the backend interface that public signatures name (`tensor.backend`, `getBackend()`,
 * `tensor.storage`, `tensor.to(backend)`, what `setBackend` takes and returns; PyTorch's
 * `torch.backends` holds backend details likewise). Implementing a backend is the business of the
 * `@c3a/c3a/backend` entry point.
 */
export declare namespace backends {
  export import Backend = _backend.Backend;
  export import Storage = _backend.Storage;
  export import MatmulParams = _backend.MatmulParams;
  export import HalfDType = _backend.HalfDType;
  export import BackendChoice = _select.BackendChoice;
  export import SetBackendOptions = _select.SetBackendOptions;
  export import BackendLike = _placement.BackendLike;
  // The kernel vocabulary `Backend.run` is typed with (src/backend/kernels.ts): a new attribute type
  // there is listed here too (`deno doc --lint mod.ts` says which).
  export import KernelName = _kernels.KernelName;
  export import KernelInputs = _kernels.KernelInputs;
  export import KernelOutputs = _kernels.KernelOutputs;
  export import KernelOutputArgs = _kernels.KernelOutputArgs;
  export import KernelAttrs = _kernels.KernelAttrs;
  export import KernelSignatures = _kernels.KernelSignatures;
  export import KernelSig = _kernels.KernelSig;
  export import UnaryOp = _kernels.UnaryOp;
  export import BinaryOp = _kernels.BinaryOp;
  export import ReduceOp = _kernels.ReduceOp;
  export import MatmulAttrs = _kernels.MatmulAttrs;
  export import MatmulCausal = _kernels.MatmulCausal;
  export import CausalAttentionAttrs = _kernels.CausalAttentionAttrs;
  export import CirculantMatmulAttrs = _kernels.CirculantMatmulAttrs;
  export import AdamStepParams = _kernels.AdamStepParams;
  export import RotaryParams = _kernels.RotaryParams;
  export import C3AAttrs = _kernels.C3AAttrs;
  export import CopyStridedAttrs = _kernels.CopyStridedAttrs;
  export import SoftmaxAttrs = _kernels.SoftmaxAttrs;
  export import FftAttrs = _kernels.FftAttrs;
}

// ---------------------------------------------------------------------------------------------
// utils
// ---------------------------------------------------------------------------------------------
/**
 * Helpers: warnings (Python's `warnings`: {@link utils.captureWarnings}, {@link utils.setWarningHandler};
 * by default they go to `console.warn`), the {@link utils.Progress} line for training scripts
 * (tqdm-like, on standard error),
 * duration/rate formatting, shard-size parsing ("5GB", transformers' `max_shard_size`) and
 * float32 → float16/bfloat16 bit conversion (round to nearest even), and how the wasm kernels use
 * threads ({@link utils.parallelInfo}, PyTorch's `torch.__config__.parallel_info()`), and
 * {@link utils.emptyCache} (PyTorch's `torch.cuda.empty_cache()`: frees the arrays the wasm backend keeps
 * for reuse).
 */
// deno-lint-ignore no-namespace
export namespace utils {
  export import Progress = _progress.Progress;
  export import formatDuration = _progress.formatDuration;
  export import formatRate = _progress.formatRate;
  export import captureWarnings = _errors.captureWarnings;
  export import setWarningHandler = _errors.setWarningHandler;
  export import parseShardSize = _checkpoint.parseShardSize;
  export import floatToF16Bits = _half.floatToF16Bits;
  export import floatToBf16Bits = _half.floatToBf16Bits;
  export import toHalfBits = _half.toHalfBits;
  export import parallelInfo = _pool.parallelInfo;
  export import emptyCache = _backend.emptyCache;
}
/** Option types of `utils`. */
export declare namespace utils {
  export import ProgressOptions = _progress.ProgressOptions;
  export import ProgressFields = _progress.ProgressFields;
  export import ProgressWriter = _progress.ProgressWriter;
  export import WarningHandler = _errors.WarningHandler;
  export import ParallelInfo = _pool.ParallelInfo;
}
