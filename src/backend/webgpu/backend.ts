/**
 * The WebGPU backend: implements the {@link Backend} interface (src/backend/backend.ts) plus the C3A
 * kernels that src/ops/circulant.ts looks for (`c3aKernelSpectrum`, `c3aForward`, `c3aBackward`,
 * `getCirculant`) and batched `rfft` / `irfft`, with every tensor resident in GPU memory.
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
import { trackTensor } from "../../tensor/scope.ts";

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

/** Precomputed kernel spectrum of a C3A kernel `[m, n, b]` on the GPU (see src/ops/circulant.ts). */
export interface WebGPUSpectrum {
  /** The backend. */
  readonly backend: Backend;
  /** Output blocks. */
  readonly m: number;
  /** Input blocks. */
  readonly n: number;
  /** Block size. */
  readonly b: number;
  /** `[m, n, floor(b/2)+1, 2]` float32 spectrum storage. */
  readonly storage: WebGPUStorage;
  /** `[m, n, floor(b/2)+1, 2]` (lets `tidy` treat the spectrum like a tensor). */
  readonly shape: readonly number[];
  /** Releases the spectrum's GPU buffer (done by the enclosing `tidy`, or by GC). */
  /** Returns the buffer to the pool (idempotent). */
  dispose(): void;
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

  // ---- FFT ----
  /**
   * Batched real FFT on the GPU (same plans as the wasm FFT, src/fft/plan.ts).
   *
   * @param x `[batch, n]` float32 storage
   * @returns `[batch, floor(n/2)+1, 2]` interleaved complex spectrum storage (unnormalised)
   * @throws {RangeError} if n/batch are not valid integers or `x.size !== batch·n`
   */
  rfft(x: Storage, n: number, batch: number): Storage {
    checkFft("rfft", n, batch);
    if (x.size !== n * batch) {
      throw new RangeError(`rfft: x has ${x.size} elements, expected batch·n = ${batch * n}`);
    }
    const xi = this.#id(x);
    const o = this.#out(batch * (Math.floor(n / 2) + 1) * 2);
    this.#send(["rfft", xi, o.id, n, batch]);
    return o;
  }
  /**
   * Batched inverse real FFT (divides by n; imaginary parts of bin 0 and bin n/2 ignored).
   *
   * @param spec `[batch, floor(n/2)+1, 2]` float32 storage
   * @returns `[batch, n]` float32 storage
   * @throws {RangeError} if n/batch are not valid integers or the size does not match
   */
  irfft(spec: Storage, n: number, batch: number): Storage {
    checkFft("irfft", n, batch);
    const h = Math.floor(n / 2) + 1;
    if (spec.size !== batch * h * 2) {
      throw new RangeError(
        `irfft: spectrum has ${spec.size} elements, expected batch·(floor(n/2)+1)·2 = ${batch * h * 2}`,
      );
    }
    const si = this.#id(spec);
    const o = this.#out(batch * n);
    this.#send(["irfft", si, o.id, n, batch]);
    return o;
  }

  // ---- C3A (the kernel set src/ops/circulant.ts uses when a backend provides it) ----
  /** rfft of a C3A kernel `[m, n, b]`, kept on the GPU for the forward and backward of one step. */
  c3aKernelSpectrum(kernel: Storage, m: number, n: number, b: number): WebGPUSpectrum {
    const ki = this.#id(kernel);
    const spec = this.#out(m * n * ((b >> 1) + 1) * 2);
    this.#send(["c3aSpectrum", ki, spec.id, m, n, b]);
    const shape = [m, n, (b >> 1) + 1, 2];
    const sp: WebGPUSpectrum = {
      backend: this,
      m,
      n,
      b,
      storage: spec,
      shape,
      dispose: () => this.dispose(spec),
    };
    trackTensor(sp); // a tidy() around forward + backward releases it with the step's tensors
    return sp;
  }
  /** y_raw `[rows, m·b]` = x `[rows, n·b]` · Aᵀ (spec §1.3), unscaled. */
  c3aForward(x: Storage, spectrum: WebGPUSpectrum, rows: number): Storage {
    const { m, n, b } = spectrum;
    const xi = this.#id(x), si = this.#id(spectrum.storage);
    const o = this.#out(rows * m * b);
    this.#send(["c3aForward", xi, si, o.id, rows, m, n, b]);
    return o;
  }
  /** True gradients (spec §1.4): gradX `[rows, n·b]` = g·A, gradKernel `[m, n, b]`. */
  c3aBackward(
    x: Storage | null,
    spectrum: WebGPUSpectrum,
    g: Storage,
    rows: number,
    inputGrad: boolean,
    kernelGrad: boolean,
  ): { gradX: Storage | null; gradKernel: Storage | null } {
    const { m, n, b } = spectrum;
    if (kernelGrad && x === null) throw new TypeError("c3aBackward: x is required for the kernel gradient");
    const gi = this.#id(g), si = this.#id(spectrum.storage);
    const xi = kernelGrad ? this.#id(x!) : -1;
    if (!inputGrad && !kernelGrad) return { gradX: null, gradKernel: null };
    const gx = inputGrad ? this.#out(rows * n * b) : null;
    const gk = kernelGrad ? this.#out(m * n * b) : null;
    this.#send(["c3aBackward", xi, si, gi, gx ? gx.id : -1, gk ? gk.id : -1, rows, m, n, b]);
    return { gradX: gx, gradKernel: gk };
  }
  /** Dense `[m·b, n·b]` block-circulant matrix of a kernel `[m, n, b]` (PEFT get_circulant_fast). */
  getCirculant(kernel: Storage, m: number, n: number, b: number): Storage {
    const ki = this.#id(kernel);
    const o = this.#out(m * b * n * b);
    this.#send(["getCirculant", ki, o.id, m, n, b]);
    return o;
  }
}

function checkFft(fn: string, n: number, batch: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 27) {
    throw new RangeError(`${fn}: n (the signal length) must be an integer in [1, 2^27], got ${n}`);
  }
  if (!Number.isInteger(batch) || batch < 0) {
    throw new RangeError(`${fn}: batch must be an integer >= 0, got ${batch}`);
  }
}
