/**
 * The wasm backend: storage is a GC-owned JS `Float32Array` per tensor (see the ownership rule in
 * ./memory.ts). Matrix products run in the SIMD `sgemm` of the wasm kernel module (operands copied
 * into wasm scratch memory once per call); elementwise ops, softmax, row sums and the fused
 * optional kernels (Adam/AdamW step, RMSNorm, SwiGLU, rotary embedding) run in the SIMD kernels of
 * wasm/elementwise.ts, streamed through wasm memory in cache-sized chunks (./elementwise.ts), with
 * plain TypeScript loops for small arrays and the remaining ops (layout, gathers, where, pow, sin,
 * cos). Registered as backend "wasm" (the default) by src/backend/executors.ts.
 *
 * `readSync` returns the storage array itself: writing into it changes the tensor.
 *
 * @module
 */

import type { HalfDType, Storage } from "../backend.ts";
import type { FusedKernel } from "../kernels.ts";
import { TableExecutor } from "../executor.ts";
import { wasmKernels } from "./kernels.ts";
import { HalfArray } from "./half_array.ts";

export { HalfArray };

/**
 * Limits of the wasm backend's array pool (a caching allocator, like PyTorch's CUDA caching
 * allocator). Arrays of disposed storages that the backend allocated itself and never handed out (no
 * `readSync`/`read`, not adopted from the caller) are kept and reused for new storages of the same
 * length: a fresh large `Float32Array` costs page faults on first touch (2–10 ns per element measured
 * on the 2-core CI VM, more than most kernels: a training step that allocates fresh activations
 * every time runs about twice as slow), a reused one a `fill(0)` at most.
 *
 * The pool holds at most `min(maxBytes, max(minBytes, peak·(1 + margin)))` bytes, where `peak` is the
 * most bytes that poolable storages of this backend held at once (counted from allocation until
 * `dispose` or garbage collection): a training loop's second step reuses every array its first step
 * freed. The margin (1/16) keeps the few arrays a step frees early and asks for again before its peak
 * (the cross-entropy gradient's `[rows, vocab]`): at the peak alone they were the first dropped at the end
 * of the step and faulted in fresh the next (3.3 ms per MB on the CI VM). When a
 * disposed array would pass that cap, the arrays pooled longest ago are dropped first, so the pool
 * follows the sizes in use now (after a change of shapes it does not stay full of sizes nothing asks
 * for). A fresh array of `bigBytes` or more first drops the arrays pooled longest ago until it, the live
 * storages and the pool fit that cap at the peak it makes (a long forward's logits are not allocated
 * beside a pool of its layers' freed temporaries). `utils.emptyCache()` empties it (PyTorch's `torch.cuda.empty_cache()`). Set `maxBytes` to 0
 * to disable pooling (internal knob: this object is not exported by `mod.ts`).
 */
export const wasmStoragePool: {
  /** Hard cap on the bytes kept in the pool (default `Infinity`: the adaptive cap alone). */
  maxBytes: number;
  /** The pool may always hold this many bytes, whatever the peak (default 0: the peak alone). */
  minBytes: number;
  /** Arrays shorter than this are not pooled (default 4096 elements). */
  minElements: number;
  /** Fraction of the peak the pool may hold beyond it (default 1/16). */
  margin: number;
  /**
   * A fresh allocation of at least this many bytes (default 256 MiB) first drops pooled arrays so that
   * the live storages, the pool and the new array fit in the cap at the peak it makes.
   */
  bigBytes: number;
} = { maxBytes: Infinity, minBytes: 0, minElements: 4096, margin: 1 / 16, bigBytes: 256 << 20 };

/** Storage of the wasm backend: a Float32Array (null once disposed), or a {@link HalfArray}. */
export class WasmStorage implements Storage {
  /** The elements (a {@link HalfArray} for 16-bit storage); null after {@link Backend.dispose}. */
  data: Float32Array | null;
  /** The owning backend. */
  readonly backend: WasmBackend;
  /** Element count. */
  readonly size: number;
  /** Element type. */
  readonly dtype: "float32" | HalfDType;
  /**
   * True while no reference to `data` exists outside the backend (allocated by it, never returned by
   * `readSync`/`read`): only then may `dispose` recycle the array.
   */
  recyclable = false;
  /** True while the storage's bytes count in its backend's live bytes (poolable size, not yet disposed). */
  counted = false;
  /** Wraps `data` (taken over, not copied) as storage of `backend`. */
  constructor(data: Float32Array, backend: WasmBackend) {
    this.data = data;
    this.size = data instanceof HalfArray ? data.bits.length : data.length;
    this.dtype = data instanceof HalfArray ? data.dtype : "float32";
    this.backend = backend;
  }
}

function arr(s: Storage): Float32Array {
  const d = (s as WasmStorage).data;
  if (d === undefined) throw new TypeError(`storage of backend "${s.backend.name}" used on the wasm backend`);
  if (d === null) throw new Error("tensor storage was disposed (Tensor.dispose or tidy) and cannot be used");
  return d;
}

/** The float32 array of `s`; a one-line error for 16-bit storage (`what` names the operation). */
function f32(s: Storage, what: string): Float32Array {
  const d = arr(s);
  if (d instanceof HalfArray) {
    throw new TypeError(`${what}: the tensor is ${d.dtype}; convert it with .float() first`);
  }
  return d;
}

/** The wasm backend (see the module doc). Use through {@link getBackend}, not directly. */
export class WasmBackend extends TableExecutor<Float32Array> {
  /** "wasm". */
  readonly name = "wasm";

  /**
   * A wasm executor over {@link wasmKernels}; `without` leaves out fused kernels (the conformance
   * suite runs the ops' composed fallbacks this way).
   */
  constructor(without: readonly FusedKernel[] = []) {
    super(wasmKernels, without);
  }

  protected handle(s: Storage): Float32Array {
    return arr(s);
  }
  protected output(size: number, zero: boolean): Storage {
    return this.#wrap(this.#alloc(size, zero));
  }

  /** Pooled arrays by length; each list oldest first. */
  #pool = new Map<number, Float32Array[]>();
  #pooledBytes = 0;
  /** The arrays in the pool now, in the order they were pooled (a Set iterates oldest first). */
  #inPool = new Set<Float32Array>();
  /** Bytes of poolable storages allocated by this backend and neither disposed nor collected. */
  #liveBytes = 0;
  /** The most {@link WasmBackend.#liveBytes} ever reached. */
  #peakBytes = 0;
  /** Subtracts the bytes of poolable storages garbage-collected without `dispose`. */
  #collected = new FinalizationRegistry<number>((bytes) => {
    this.#liveBytes -= bytes;
  });

  /** A backend-private array of n elements (recycled when possible); zeroed when `zero`. */
  #alloc(n: number, zero: boolean): Float32Array {
    if (n >= wasmStoragePool.minElements) {
      const list = this.#pool.get(n);
      if (list !== undefined && list.length > 0) {
        const a = list.pop()!;
        this.#pooledBytes -= a.byteLength;
        this.#inPool.delete(a);
        if (zero) a.fill(0);
        return a;
      }
      if (n * 4 >= wasmStoragePool.bigBytes) this.#makeRoom(n * 4);
    }
    return new Float32Array(n);
  }

  /**
   * Before a fresh array of `bytes` (at least `bigBytes`) is allocated: drops the arrays pooled
   * longest ago until the live storages, the pool and the new array together fit in the pool's cap
   * taken at the peak the new array makes, so that a size never seen before (a forward's
   * `[tokens, vocab]` logits after its layers' temporaries were pooled) does not sit in memory beside
   * arrays nothing asks for now.
   */
  #makeRoom(bytes: number): void {
    if (this.#pooledBytes === 0) return;
    const p = wasmStoragePool;
    const live = this.#liveBytes + bytes;
    const cap = Math.min(p.maxBytes, Math.max(p.minBytes, Math.max(this.#peakBytes, live) * (1 + p.margin)));
    this.#dropOldest(cap - live);
  }

  /** Drops the arrays pooled longest ago until the pool holds at most `limit` bytes. */
  #dropOldest(limit: number): void {
    for (const old of this.#inPool) {
      if (this.#pooledBytes <= limit) break;
      this.#inPool.delete(old);
      const list = this.#pool.get(old.length)!;
      list.splice(list.indexOf(old), 1);
      this.#pooledBytes -= old.byteLength;
    }
  }

  /** Storage over a backend-private array (from {@link WasmBackend.#alloc}). */
  #wrap(d: Float32Array): WasmStorage {
    const s = new WasmStorage(d, this);
    s.recyclable = true;
    if (d.length >= wasmStoragePool.minElements) {
      s.counted = true;
      this.#liveBytes += d.byteLength;
      if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
      this.#collected.register(s, d.byteLength, s);
    }
    return s;
  }

  full(size: number, value = 0): Storage {
    const d = this.#alloc(size, value === 0);
    if (value !== 0) d.fill(value);
    return this.#wrap(d);
  }
  fromArray(data: Float32Array, adopt = false): Storage {
    if (adopt) return new WasmStorage(data, this); // the caller may still hold `data`: never recycled
    const d = this.#alloc(data.length, false);
    d.set(data);
    return this.#wrap(d);
  }
  /** 16-bit storage over `bits` (see {@link HalfArray}); copied unless `adopt`. */
  fromBits(bits: Uint16Array, dtype: HalfDType, adopt = false): Storage {
    return new WasmStorage(new HalfArray(adopt ? bits : bits.slice(), dtype), this);
  }
  /** The bit patterns of 16-bit storage (the storage itself). @throws {TypeError} for float32 storage. */
  readBits(s: Storage): Uint16Array {
    const d = arr(s);
    if (!(d instanceof HalfArray)) {
      throw new TypeError("readBits: the storage holds float32, not 16-bit values");
    }
    return d.bits;
  }
  readSync(s: Storage): Float32Array {
    const d = f32(s, "readSync");
    (s as WasmStorage).recyclable = false;
    return d;
  }
  read(s: Storage): Promise<Float32Array> {
    const d = f32(s, "read");
    (s as WasmStorage).recyclable = false;
    return Promise.resolve(d);
  }
  dispose(s: Storage): void {
    const ws = s as WasmStorage;
    const d = ws.data;
    ws.data = null;
    if (!d) return;
    if (ws.counted) {
      ws.counted = false;
      this.#liveBytes -= d.byteLength;
      this.#collected.unregister(ws);
    }
    if (!ws.recyclable) return;
    ws.recyclable = false;
    const n = d.length;
    const cap = this.poolCap;
    if (n < wasmStoragePool.minElements || d.byteLength > cap) return;
    this.#dropOldest(cap - d.byteLength); // the arrays pooled longest ago make room for this one
    let list = this.#pool.get(n);
    if (list === undefined) this.#pool.set(n, list = []);
    list.push(d);
    this.#pooledBytes += d.byteLength;
    this.#inPool.add(d);
  }
  /** Drops every pooled array (they become garbage, freed by the next GC). */
  clearPool(): void {
    this.#pool.clear();
    this.#pooledBytes = 0;
    this.#inPool.clear();
  }
  /** Drops the array pool ({@link Backend.emptyCache}; `utils.emptyCache()`). */
  emptyCache(): void {
    this.clearPool();
  }
  /** Bytes currently held by the array pool (see {@link wasmStoragePool}). */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }
  /** Bytes of poolable storages in use now (allocated by this backend, neither disposed nor collected). */
  get liveBytes(): number {
    return this.#liveBytes;
  }
  /** The most bytes poolable storages ever held at once (the adaptive pool cap; {@link wasmStoragePool}). */
  get peakBytes(): number {
    return this.#peakBytes;
  }
  /** The most bytes the pool may hold now: `min(maxBytes, max(minBytes, peakBytes·(1 + margin)))`. */
  get poolCap(): number {
    const p = wasmStoragePool;
    return Math.min(p.maxBytes, Math.max(p.minBytes, this.#peakBytes * (1 + p.margin)));
  }
  isDisposed(s: Storage): boolean {
    return (s as WasmStorage).data === null;
  }
  fill(s: Storage, value: number): void {
    f32(s, "fill_").fill(value);
  }
  copy(src: Storage, dst: Storage): void {
    const a = arr(src), b = arr(dst);
    if (a instanceof HalfArray || b instanceof HalfArray) {
      if (!(a instanceof HalfArray && b instanceof HalfArray && a.dtype === b.dtype)) {
        throw new TypeError(
          `copy: cannot copy ${(src as WasmStorage).dtype} storage into ${
            (dst as WasmStorage).dtype
          } storage`,
        );
      }
      b.bits.set(a.bits);
    } else b.set(a);
  }
}
