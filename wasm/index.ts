// Entry point of the AssemblyScript kernel module (compiled to wasm/kernels.wasm).
// One module, one linear memory: the FFT, circulant and GEMM kernels share it, so data
// produced by one kernel is consumed by the next without copies.
// Memory is managed from TypeScript (src/backend/wasm/memory.ts); kernels never allocate.

export * from "./fft";
export * from "./circulant";
export * from "./gemm";
export * from "./elementwise";

/** First byte after the module's static data: TypeScript allocates from here on. */
export function heapBase(): usize {
  return __heap_base;
}
