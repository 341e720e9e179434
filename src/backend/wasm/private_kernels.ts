/**
 * A second instance of the kernels on an unshared memory of its own, for the calling thread's
 * copy-heavy work on JS arrays (the array FFT's hot chunks, ./fft.ts).
 *
 * When the kernels run on a shared memory (`sharedMemory` in ./memory.ts, so the worker pool can run
 * them), every copy between a JS array and wasm memory is a copy into or out of a
 * `SharedArrayBuffer`, which V8 performs about half as fast as an ordinary copy (measured: 46 vs
 * 94 GB/s in cache), and the kernels themselves ran measurably slower there. Work that only the
 * calling thread does can run on this instance instead: the unshared build of the same kernel code
 * (`wasm/kernels.wasm` / `wasm/kernels_relaxed.wasm`, the same choice as {@link kernelBuild}), so
 * results are bit-identical to the shared instance. Where the main instance is unshared already,
 * there is no second instance ({@link privateKernels} is null).
 *
 * Its memory is managed here by a bump allocator whose blocks are never freed: callers keep
 * persistent data (FFT plans) and grow-only scratch regions in it.
 *
 * @module
 */

import { kernelBuild, type Kernels, sharedMemory } from "./memory.ts";

/** An unshared kernel instance with its own memory and a never-freeing allocator. */
export interface PrivateKernels {
  /** The instance's exports (functions take byte offsets into {@link PrivateKernels.memory}). */
  readonly kernels: Kernels;
  /** Its own (unshared) linear memory. */
  readonly memory: WebAssembly.Memory;
  /**
   * Allocates `bytes` bytes (64-byte aligned), never freed; grows the memory (which detaches views).
   *
   * @throws {RangeError} if the memory cannot grow
   */
  alloc(bytes: number): number;
}

async function load(): Promise<PrivateKernels | null> {
  if (!sharedMemory) return null;
  const kernels: Kernels = kernelBuild === "relaxed"
    ? await import("../../../wasm/kernels_relaxed.wasm")
    : await import("../../../wasm/kernels.wasm");
  const mem = kernels.memory as unknown as WebAssembly.Memory;
  let top = Math.ceil(Number(kernels.heapBase()) / 64) * 64;
  return {
    kernels,
    memory: mem,
    alloc(bytes: number): number {
      const p = top, end = p + Math.max(64, Math.ceil(bytes / 64) * 64);
      const have = mem.buffer.byteLength;
      if (end > have) {
        try {
          mem.grow(Math.ceil((end - have) / 65536));
        } catch (e) {
          throw new RangeError(
            `private wasm memory cannot grow to ${end} bytes (${have} now): ${(e as Error).message}`,
          );
        }
      }
      top = end;
      return p;
    },
  };
}

/**
 * The calling thread's unshared kernel instance, or null where the main instance is unshared (use
 * it directly then).
 */
export const privateKernels: PrivateKernels | null = await load();
