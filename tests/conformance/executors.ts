// The executors the conformance suite (./suite.ts) runs on. Each entry says how to get the executor
// (or null, with a reason, when it is unavailable here: the suite's tests are then skipped) and how
// to release it. A new executor passes the suite by adding one entry here and calling
// `conformance(entry)` from a test file: tests/conformance_cpu_test.ts for executors that run in the
// parallel CPU test process, tests/conformance_webgpu_test.ts (the sequential second `deno test`
// process of deno.json's "test" task) for GPU executors.
import type { Backend } from "../../src/backend/backend.ts";
import { backendNamed } from "../../src/backend/backend.ts";
import { WasmBackend } from "../../src/backend/wasm/backend.ts";
import { kernelBuild, sharedMemory } from "../../src/backend/wasm/memory.ts";
import { getNumThreads, setNumThreads, stopWorkers, withThreads } from "../../src/backend/threads/pool.ts";
import type { FusedKernel } from "../../src/backend/kernels.ts";
import { initWebGPU, webgpuBackend } from "../../src/backend/webgpu/mod.ts";

/** One executor under test. */
export interface ConformanceExecutor {
  /** Name in test titles. */
  name: string;
  /** The executor, or a string saying why it is not available here (its tests are skipped). */
  setup(): Promise<Backend | string>;
  /** Releases it after the suite (devices, workers). */
  teardown?(): void;
}

/** Every fused kernel: the "composed" variant leaves them all out, so ops take their fallbacks. */
const FUSED: FusedKernel[] = [
  "adamStep",
  "rmsNorm",
  "rmsNormGrad",
  "swiglu",
  "swigluGrad",
  "rotaryEmb",
  "c3aForward",
  "c3aBackward",
  "circulantMatmul",
  "causalSoftmax",
  "causalSoftmaxGrad",
  "causalAttention",
  "causalAttentionGrad",
];

/**
 * The wasm kernel build in test titles: "relaxed" (relaxed-SIMD FMA, chosen where supported) or "simd"
 * (`C3A_WASM_BUILD=simd`, which deno.json's test:simd task sets to run the suite on the plain build too).
 */
const build = kernelBuild === "relaxed" ? "relaxed-simd" : "simd";

/** The default CPU executor. */
export const wasm: ConformanceExecutor = {
  name: `wasm[${build}]`,
  setup: () => Promise.resolve(backendNamed("wasm")),
};

/** The wasm executor without its fused kernels: every op's composed path (rfft → product → irfft, …). */
export const wasmComposed: ConformanceExecutor = {
  name: `wasm-composed[${build}]`,
  setup: () => Promise.resolve(new WasmBackend(FUSED)),
};

/** The WebGPU executor on whatever adapter `navigator.gpu` gives (llvmpipe on CI). */
export const webgpu: ConformanceExecutor = {
  name: "webgpu",
  async setup() {
    const g = await initWebGPU();
    return g ?? "navigator.gpu has no adapter here";
  },
  teardown() {
    webgpuBackend.destroy();
  },
};

/**
 * The wasm executor on 3 threads (the worker pool, src/backend/threads/) with every splittable kernel
 * split however small its input, so the suite's small cases take the parallel paths. Skipped where
 * wasm threads are unavailable.
 */
export const wasmThreads: ConformanceExecutor = {
  name: `wasm-threads[${build}]`,
  setup() {
    if (!sharedMemory) return Promise.resolve("wasm threads are unavailable (no shared wasm memory)");
    class ThreadedWasm extends WasmBackend {
      protected override execute(...a: Parameters<WasmBackend["execute"]>): void {
        withThreads(3, true, () => super.execute(...a));
      }
    }
    return Promise.resolve(new ThreadedWasm());
  },
  teardown() {
    setNumThreads(getNumThreads()); // stops the pool's workers beyond the default count
    stopWorkers();
  },
};

/** Executors of the CPU test process. */
export const CPU_EXECUTORS: ConformanceExecutor[] = [wasm, wasmComposed, wasmThreads];
/** Executors of the sequential GPU test process. */
export const GPU_EXECUTORS: ConformanceExecutor[] = [webgpu];
