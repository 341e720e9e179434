/**
 * The wasm kernel module and the one place that owns its linear memory.
 *
 * Ownership rule (the only one in the project): tensors on the wasm backend keep their data in
 * ordinary JS `Float32Array`s, owned by the garbage collector; there is nothing to dispose. A kernel
 * call copies its operands once into wasm memory, runs, and copies its results out; the wasm memory
 * it used is a scratch region released when the call returns (see {@link Scratch}). Long-lived data
 * that kernels read on every call (FFT twiddles, Bluestein chirps) is allocated once with
 * {@link allocPersistent} and never freed. Hot paths that must not copy (the FFT benchmark, chained
 * kernels) work on pointers into wasm memory directly.
 *
 * Views into wasm memory (`f32view`) are invalidated whenever memory grows, which any allocation may
 * do: derive them after the last allocation of a call, never keep them across calls.
 *
 * @module
 */

import { envVar } from "../env.ts";
import { newSharedMemory, sharedKernelModule } from "./shared_module.ts";

/** The exports of a kernel build (every build exports the same functions). */
export type Kernels = typeof import("../../../wasm/kernels.wasm");

/**
 * Which build of the kernels runs: `"relaxed"` (fused multiply-adds through relaxed SIMD) where the
 * engine validates relaxed-SIMD code, else `"simd"`. The environment variable `C3A_WASM_BUILD=simd`
 * (read when `--allow-env` grants it) forces the plain build, e.g. to run the tests on both. Results of
 * the two builds differ by rounding only.
 */
export const kernelBuild: "simd" | "relaxed" = envVar("C3A_WASM_BUILD") === "simd" || !relaxedSimdSupported()
  ? "simd"
  : "relaxed";

/**
 * Why the kernels run on an unshared memory, on the calling thread only (`""` when they run on a
 * shared memory, see {@link sharedMemory}): no `SharedArrayBuffer` (a browser page that is not
 * cross-origin isolated), a thread that may not block (a browser page's main thread: `Atomics.wait`
 * throws there), no way to start workers, `C3A_NUM_THREADS=1` at startup, or a one-core machine.
 */
export const unsharedReason: string = sharedMemoryUnavailable();

/**
 * Whether the kernels run on a shared wasm memory, so a pool of worker threads can run them too
 * (`src/backend/threads/`): in Deno, and in browsers inside a Web Worker of a cross-origin-isolated
 * page, unless {@link unsharedReason} says otherwise. Elsewhere the module has its own unshared memory
 * and everything runs on the calling thread, exactly as before threads existed. The build is the same
 * code either way (shared builds: `wasm/kernels_shared.wasm`, `wasm/kernels_relaxed_shared.wasm`,
 * embedded base64 in shared_builds.ts).
 */
export const sharedMemory: boolean = unsharedReason === "";

function sharedMemoryUnavailable(): string {
  const g = globalThis as {
    Deno?: unknown;
    crossOriginIsolated?: boolean;
    Worker?: unknown;
    navigator?: { hardwareConcurrency?: number };
  };
  const browser = g.Deno === undefined;
  if (typeof SharedArrayBuffer !== "function" || (browser && g.crossOriginIsolated === false)) {
    return browser
      ? "the page is not cross-origin isolated (no SharedArrayBuffer; serve it with the headers " +
        "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"
      : "SharedArrayBuffer is unavailable";
  }
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    return "this thread may not block (a browser page's main thread): run the library in a Web Worker";
  }
  if (browser && typeof g.Worker !== "function") return "this context cannot start Web Workers";
  const env = envVar("C3A_NUM_THREADS");
  if (env !== undefined && env.trim() === "1") return "C3A_NUM_THREADS=1";
  if ((g.navigator?.hardwareConcurrency ?? 1) > 1 || (env !== undefined && Number(env) > 1)) return "";
  return "one CPU core (navigator.hardwareConcurrency is 1)";
}

/**
 * Whether this engine validates wasm code that uses relaxed SIMD: a one-function module whose body is
 * `f32x4.relaxed_madd(v128.const 0, v128.const 0, v128.const 0)`.
 */
export function relaxedSimdSupported(): boolean {
  const zeros = new Array<number>(16).fill(0);
  const vconst = [0xfd, 0x0c, ...zeros]; // v128.const
  const body = [0, ...vconst, ...vconst, ...vconst, 0xfd, 0x85, 0x02, 0x0b]; // f32x4.relaxed_madd; end
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type section: () -> v128
    ...[0x03, 0x02, 0x01, 0x00], // function section: one function of type 0
    ...[0x0a, body.length + 2, 0x01, body.length, ...body], // code section
  ]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

async function instantiate(): Promise<{ kernels: Kernels; memory: WebAssembly.Memory }> {
  if (sharedMemory) {
    const mem = newSharedMemory();
    const instance = await WebAssembly.instantiate(sharedKernelModule(kernelBuild), { env: { memory: mem } });
    return { kernels: instance.exports as unknown as Kernels, memory: mem };
  }
  const kernels = kernelBuild === "relaxed"
    ? await import("../../../wasm/kernels_relaxed.wasm")
    : await import("../../../wasm/kernels.wasm");
  return { kernels, memory: kernels.memory as unknown as WebAssembly.Memory };
}

const loaded = await instantiate();

/** The instantiated kernel module's exports (functions take byte offsets into {@link memory}). */
export const wasm: Kernels = loaded.kernels;

/** The kernel module's linear memory (shared when {@link sharedMemory}). */
export const memory: WebAssembly.Memory = loaded.memory;

const ALIGN = 64; // cache line; also satisfies v128 alignment
const PAGE = 65536;

/** Free blocks sorted by address: [ptr, size] pairs, coalesced on free. */
const freeList: Array<[number, number]> = [];
/** Live allocations: ptr -> size. */
const live = new Map<number, number>();
let top = alignUp(Number(wasm.heapBase()));

function alignUp(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}

function ensureCapacity(end: number): void {
  const have = memory.buffer.byteLength;
  if (end <= have) return;
  const pages = Math.ceil((end - have) / PAGE);
  try {
    memory.grow(pages);
  } catch (e) {
    throw new RangeError(
      `wasm memory cannot grow to ${end} bytes (${have} bytes now, limit 4 GiB): ${(e as Error).message}`,
    );
  }
}

/**
 * Allocates `bytes` bytes of wasm memory (64-byte aligned) and returns the byte offset. The block
 * stays valid until {@link free}. Prefer {@link Scratch} inside kernel calls.
 *
 * @throws {RangeError} if `bytes` is negative or not finite, or wasm memory cannot grow.
 */
export function malloc(bytes: number): number {
  if (!(bytes >= 0) || !Number.isFinite(bytes)) {
    throw new RangeError(`malloc: byte count must be a finite number >= 0, got ${bytes}`);
  }
  const size = Math.max(ALIGN, alignUp(bytes));
  for (let i = 0; i < freeList.length; i++) {
    const [p, s] = freeList[i];
    if (s >= size) {
      if (s === size) freeList.splice(i, 1);
      else freeList[i] = [p + size, s - size];
      live.set(p, size);
      return p;
    }
  }
  // Extend the last free block if it touches the top, otherwise bump. Grow first: if growing fails,
  // the free list and `top` are left exactly as they were.
  let p = top;
  const last = freeList[freeList.length - 1];
  const extendsLast = last !== undefined && last[0] + last[1] === top;
  if (extendsLast) p = last[0];
  ensureCapacity(p + size);
  if (extendsLast) freeList.pop();
  top = p + size;
  live.set(p, size);
  return p;
}

/**
 * Returns a block obtained from {@link malloc} to the allocator.
 *
 * @throws {Error} if `ptr` is not a live allocation (double free or foreign pointer).
 */
export function free(ptr: number): void {
  const size = live.get(ptr);
  if (size === undefined) throw new Error(`free: ${ptr} is not a live wasm allocation`);
  live.delete(ptr);
  // insert sorted, then coalesce with neighbours
  let lo = 0, hi = freeList.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (freeList[mid][0] < ptr) lo = mid + 1;
    else hi = mid;
  }
  freeList.splice(lo, 0, [ptr, size]);
  if (lo + 1 < freeList.length && freeList[lo][0] + freeList[lo][1] === freeList[lo + 1][0]) {
    freeList[lo][1] += freeList[lo + 1][1];
    freeList.splice(lo + 1, 1);
  }
  if (lo > 0 && freeList[lo - 1][0] + freeList[lo - 1][1] === freeList[lo][0]) {
    freeList[lo - 1][1] += freeList[lo][1];
    freeList.splice(lo, 1);
  }
}

/** Allocates wasm memory that is never freed (plans, twiddle tables). Same errors as {@link malloc}. */
export function allocPersistent(bytes: number): number {
  return malloc(bytes);
}

/** Bytes currently allocated and the size of wasm memory, for benchmarks and leak tests. */
export function memoryStats(): { liveBytes: number; liveBlocks: number; memoryBytes: number } {
  let liveBytes = 0;
  for (const s of live.values()) liveBytes += s;
  return { liveBytes, liveBlocks: live.size, memoryBytes: memory.buffer.byteLength };
}

/** Default of {@link residentCap}: 1 GiB, a quarter of what wasm32 memory can address. */
const DEFAULT_RESIDENT_CAP = 1 << 30;
let cap = DEFAULT_RESIDENT_CAP;

/**
 * Bytes of operands one kernel call keeps in wasm memory at once. Kernels over JS arrays whose
 * operands are larger stream them through wasm memory in tiles (matrix products: row, column or batch
 * tiles; C3A and FFT: row chunks), computed so that the results are bit-identical to one call. Sizes of
 * the data a model can use are then limited by the machine's memory, not by wasm32's 4 GiB.
 */
export function residentCap(): number {
  return cap;
}

/**
 * Sets {@link residentCap} in bytes (a positive integer); `undefined` restores the default (1 GiB).
 * For tests: a small cap forces the tiled paths on small inputs.
 *
 * @throws {RangeError} when `bytes` is not a positive integer
 */
export function setResidentCap(bytes: number | undefined): void {
  if (bytes !== undefined && (!Number.isInteger(bytes) || bytes < 1)) {
    throw new RangeError(`setResidentCap: bytes must be a positive integer or undefined, got ${bytes}`);
  }
  cap = bytes ?? DEFAULT_RESIDENT_CAP;
}

/**
 * A Float32Array view of `length` floats at byte offset `ptr`. Invalidated by any later allocation
 * (memory growth detaches the buffer): derive it again after allocating.
 */
export function f32view(ptr: number, length: number): Float32Array {
  return new Float32Array(memory.buffer, ptr, length);
}

/** Copies `src` into wasm memory at `ptr`. */
export function writeF32(ptr: number, src: ArrayLike<number>): void {
  f32view(ptr, src.length).set(src);
}

/** Copies `length` floats at `ptr` out of wasm memory into a new Float32Array. */
export function readF32(ptr: number, length: number): Float32Array {
  return f32view(ptr, length).slice();
}

/**
 * A group of allocations released together, for one kernel call:
 *
 * ```ts ignore
 * using s = new Scratch();
 * const px = s.copyIn(x);          // operands copied in once
 * const py = s.alloc(rows * out * 4);
 * wasm.someKernel(px, py, rows);
 * return readF32(py, rows * out);  // results copied out; `s` is released at scope exit
 * ```
 */
export class Scratch implements Disposable {
  #ptrs: number[] = [];

  /** Allocates `bytes` bytes (64-byte aligned) owned by this scratch. */
  alloc(bytes: number): number {
    const p = malloc(bytes);
    this.#ptrs.push(p);
    return p;
  }

  /** Allocates room for `src` and copies it in; returns the byte offset. */
  copyIn(src: ArrayLike<number>): number {
    const p = this.alloc(src.length * 4);
    writeF32(p, src);
    return p;
  }

  /** Frees every allocation of this scratch. Idempotent. */
  release(): void {
    for (let i = this.#ptrs.length - 1; i >= 0; i--) free(this.#ptrs[i]);
    this.#ptrs = [];
  }

  /** Same as {@link Scratch.release}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.release();
  }
}
