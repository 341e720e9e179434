/**
 * c3a — fine-tune neural networks with C3A (Circular Convolution Adaptation, arXiv 2407.19342) in Deno:
 * a WebAssembly SIMD FFT, a TypeScript autograd core, PEFT-compatible adapter files.
 *
 * @module
 */

export { memoryStats } from "./src/backend/wasm/memory.ts";
