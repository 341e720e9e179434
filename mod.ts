/**
 * c3a — fine-tune neural networks with C3A (Circular Convolution Adaptation, arXiv 2407.19342) in Deno:
 * a WebAssembly SIMD FFT, a TypeScript autograd core, PEFT-compatible adapter files.
 *
 * @example Wrap a model, train the adapter, save it in PEFT's format
 * ```ts ignore
 * import { AdamW, C3AConfig, getPeftModel } from "jsr:@c3a/c3a";
 * const model = getPeftModel(base, new C3AConfig({ blockSize: 64, targetModules: ["q_proj", "v_proj"] }));
 * model.printTrainableParameters();
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
// Files.
export * from "./src/io/safetensors.ts";
// Low-level memory statistics of the wasm kernels.
export { memoryStats } from "./src/backend/wasm/memory.ts";
