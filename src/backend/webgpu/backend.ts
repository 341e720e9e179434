/**
 * The WebGPU backend: runs every kernel of the kernel table (src/backend/kernels.ts; the FFT and the
 * C3A products included) with every tensor resident in GPU memory. Each kernel call is queued as one
 * generic `run` command (inputs and outputs as buffer ids) and executed by ./kernels.ts in the
 * executor's thread.
 *
 * Storage is an integer id of a GPU buffer owned by the executor (./executor.ts), reached through a
 * transport (./transport.ts): by default a worker thread, which makes `readSync` (hence
 * `Tensor.dataSync()` / `item()`) work by blocking until the GPU result is copied back. Unlike the
 * wasm backend, `readSync`/`read` return a COPY: writing into it does not change the tensor.
 *
 * Memory: `dispose` (Tensor.dispose, tidy) returns a buffer to the pool at once; storage that is
 * garbage-collected without dispose is released through a FinalizationRegistry. The pool counters
 * are in {@link WebGPUBackend.stats}.
 *
 * One instance exists per program (registered as "webgpu" by ./select.ts). It can be closed
 * ({@link WebGPUBackend.destroy}) and attached to a new device later; storages of a closed device
 * then throw when used.
 *
 * @module
 */

import type { Backend, Storage } from "../backend.ts";
import type { KernelAttrs, KernelName } from "../kernels.ts";
import { ExecutorBase } from "../executor.ts";
import type { Command } from "./commands.ts";
import { gpuKernels } from "./kernels.ts";
import type { AdapterDescription, ExecutorOptions, ExecutorStats } from "./executor.ts";
import { type Transport, WebGPUError, WorkerTransport } from "./transport.ts";

/** Storage of the WebGPU backend: an id of a GPU buffer on one device generation. */
export class WebGPUStorage implements Storage {
  /** Executor id of the buffer. */
  readonly id: number;
  /** Element count. */
  readonly size: number;
  /** The owning backend. */
  readonly backend: Backend;
  /** Device generation the buffer lives on. */
  readonly generation: number;
  /** True after dispose. */
  disposed = false;
  /** @internal made by {@link WebGPUBackend} only. */
  constructor(id: number, size: number, backend: Backend, generation: number) {
    this.id = id;
    this.size = size;
    this.backend = backend;
    this.generation = generation;
  }
}

/**
 * A copy of kernel attributes that later changes by the caller cannot reach (commands are posted to
 * the worker on the next microtask): arrays and typed arrays are copied, one level deep.
 */
function snapshot<A>(attrs: A): A {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
    out[k] = Array.isArray(v) || ArrayBuffer.isView(v) ? (v as { slice(): unknown }).slice() : v;
  }
  return out as A;
}

/** See the module doc. Obtain through `await setBackend("webgpu")`, `initWebGPU()` or `backendNamed("webgpu")`. */
export class WebGPUBackend extends ExecutorBase<number> {
  /** "webgpu". */
  readonly name = "webgpu";

  /** The buffer id of `s` (throws for foreign, disposed or stale storage). */
  protected handle(s: Storage): number {
    return this.#id(s);
  }
  /** A fresh GPU storage of `size` elements (cleared when `zero`). */
  protected output(size: number, zero: boolean): Storage {
    const s = this.#new(size);
    this.#send(["alloc", s.id, size, zero ? 0 : null]);
    return s;
  }
  /** Queues kernel `name` as one generic `run` command. */
  protected execute<K extends KernelName>(
    name: K,
    inputs: Record<string, number | null>,
    outputs: Record<string, number | null>,
    attrs: KernelAttrs<K>,
  ): void {
    this.#send(["run", name, inputs, outputs, snapshot(attrs)]);
  }
  /** True for every kernel of the WebGPU kernel table (./kernels.ts). */
  supports(name: KernelName): boolean {
    return (gpuKernels as Record<string, unknown>)[name] !== undefined;
  }
  #t: Transport | null = null;
  #gen = 0;
  #next = 1;
  #options: ExecutorOptions = {};
  #registry = new FinalizationRegistry<{ id: number; gen: number }>((h) => {
    if (h.gen === this.#gen && this.#t !== null && !this.#t.closed) {
      try {
        this.#t.send(["free", h.id]);
      } catch { /* closed meanwhile */ }
    }
  });

  /** Options used when the worker is started lazily (set by `initWebGPU`). */
  set options(o: ExecutorOptions) {
    this.#options = o;
  }

  /** Uses `t` from now on (closing the previous transport; its storages become invalid). */
  attach(t: Transport): void {
    if (this.#t !== null && !this.#t.closed) this.#t.close();
    this.#t = t;
    this.#gen++;
  }

  /** True while a device is attached and not closed. */
  get ready(): boolean {
    return this.#t !== null && !this.#t.closed;
  }

  /** The current transport, starting the worker synchronously when none is attached. */
  get transport(): Transport {
    if (this.#t === null || this.#t.closed) {
      const t = WorkerTransport.start(this.#options);
      if (typeof t === "string") {
        throw new WebGPUError(`WebGPU backend unavailable: ${t}`);
      }
      this.attach(t);
    }
    return this.#t!;
  }

  /** The adapter's description (starts the device if needed). */
  get adapter(): AdapterDescription {
    return this.transport.adapter;
  }

  /** One line: "webgpu (<adapter description>[, fallback adapter])". */
  describe(): string {
    const a = this.adapter;
    const what = a.description || [a.vendor, a.architecture, a.device].filter((s) => s).join(" ") ||
      "unknown adapter";
    return `webgpu (${what}${a.isFallbackAdapter ? ", fallback adapter" : ""})`;
  }

  /** Executor counters: pool buffers/bytes live and pooled, pipelines, dispatches, device state. */
  stats(): ExecutorStats {
    return this.transport.stats();
  }

  /** Blocks until all queued GPU work finished. @throws {WebGPUError} on a recorded GPU error. */
  sync(): void {
    this.transport.sync();
  }

  /**
   * Destroys the device and every buffer (storages of this device then throw when used). The next
   * use starts a new device. Returns the executor's final counters (null if none was running).
   */
  destroy(): ExecutorStats | null {
    if (this.#t === null || this.#t.closed) return null;
    const s = this.#t.close();
    this.#gen++;
    return s;
  }

  /** @internal test hook: destroys the GPU device behind the executor's back (simulated loss). */
  _loseDevice(): void {
    this.transport.send(["loseDevice"]);
  }

  /** @internal test hook: makes the executor record a GPU validation error (error-scope path). */
  _injectValidationError(): void {
    this.transport.send(["injectValidationError"]);
  }

  #send(c: Command): void {
    this.transport.send(c);
  }

  #id(s: Storage): number {
    const w = s as WebGPUStorage;
    if (!(w instanceof WebGPUStorage) || w.backend !== this) {
      throw new TypeError(`storage of backend "${s.backend?.name}" used on the webgpu backend`);
    }
    if (w.disposed) {
      throw new Error("tensor storage was disposed (Tensor.dispose or tidy) and cannot be used");
    }
    if (w.generation !== this.#gen) {
      throw new WebGPUError("this tensor lived on a WebGPU device that was destroyed; it cannot be used");
    }
    return w.id;
  }

  #new(size: number): WebGPUStorage {
    const t = this.transport;
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`storage size must be an integer >= 0, got ${size}`);
    }
    if (size * 4 > t.limits.maxBufferBytes) {
      throw new RangeError(
        `WebGPU: a tensor of ${size} float32 elements (${
          size * 4
        } bytes) exceeds the adapter's maxBufferSize ` +
          `(${t.limits.maxBufferBytes} bytes)`,
      );
    }
    const s = new WebGPUStorage(this.#next++, size, this, this.#gen);
    this.#registry.register(s, { id: s.id, gen: s.generation }, s);
    return s;
  }

  #out(size: number): WebGPUStorage {
    const s = this.#new(size);
    this.#send(["alloc", s.id, size, null]);
    return s;
  }

  // ---- storage ----
  /** New storage filled with `value`. */
  full(size: number, value = 0): Storage {
    const s = this.#new(size);
    this.#send(["alloc", s.id, size, value]);
    return s;
  }
  /** Uploads `data` into new storage. */
  fromArray(data: Float32Array, adopt = false): Storage {
    const s = this.#new(data.length);
    this.#send(["upload", s.id, adopt ? data : data.slice()]);
    return s;
  }
  /** A copy of the contents (blocks on the worker). */
  readSync(s: Storage): Float32Array {
    const id = this.#id(s);
    return this.transport.readSync(id, s.size);
  }
  /** A copy of the contents. */
  read(s: Storage): Promise<Float32Array> {
    try {
      const id = this.#id(s);
      return this.transport.read(id, s.size);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  /** Returns the buffer to the pool (idempotent). */
  dispose(s: Storage): void {
    const w = s as WebGPUStorage;
    if (w.disposed) return;
    w.disposed = true;
    this.#registry.unregister(w);
    if (w.generation === this.#gen && this.#t !== null && !this.#t.closed) this.#t.send(["free", w.id]);
  }
  /** True after dispose. */
  isDisposed(s: Storage): boolean {
    return (s as WebGPUStorage).disposed;
  }
  /** Sets every element to `value`. */
  fill(s: Storage, value: number): void {
    const id = this.#id(s);
    this.#send(["fill", id, value]);
  }
  /** Copies `src` into `dst` (same size). */
  copy(src: Storage, dst: Storage): void {
    if (src.size !== dst.size) throw new RangeError(`copy: sizes differ (${src.size} vs ${dst.size})`);
    const a = this.#id(src), b = this.#id(dst);
    this.#send(["copy", a, b]);
  }
}
