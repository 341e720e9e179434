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

import type { Backend, BinaryOp, MatmulParams, ReduceOp, Storage, UnaryOp } from "../backend.ts";
import type { AdamStepParams } from "../backend.ts";
import type { Command } from "./commands.ts";
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
  dispose(): void;
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** See the module doc. Obtain through `await setBackend("webgpu")`, `initWebGPU()` or `backendNamed("webgpu")`. */
export class WebGPUBackend implements Backend {
  /** "webgpu". */
  readonly name = "webgpu";
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
  full(size: number, value = 0): Storage {
    const s = this.#new(size);
    this.#send(["alloc", s.id, size, value]);
    return s;
  }
  fromArray(data: Float32Array, adopt = false): Storage {
    const s = this.#new(data.length);
    this.#send(["upload", s.id, adopt ? data : data.slice()]);
    return s;
  }
  readSync(s: Storage): Float32Array {
    const id = this.#id(s);
    return this.transport.readSync(id, s.size);
  }
  read(s: Storage): Promise<Float32Array> {
    try {
      const id = this.#id(s);
      return this.transport.read(id, s.size);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  dispose(s: Storage): void {
    const w = s as WebGPUStorage;
    if (w.disposed) return;
    w.disposed = true;
    this.#registry.unregister(w);
    if (w.generation === this.#gen && this.#t !== null && !this.#t.closed) this.#t.send(["free", w.id]);
  }
  isDisposed(s: Storage): boolean {
    return (s as WebGPUStorage).disposed;
  }
  fill(s: Storage, value: number): void {
    const id = this.#id(s);
    this.#send(["fill", id, value]);
  }
  copy(src: Storage, dst: Storage): void {
    if (src.size !== dst.size) throw new RangeError(`copy: sizes differ (${src.size} vs ${dst.size})`);
    const a = this.#id(src), b = this.#id(dst);
    this.#send(["copy", a, b]);
  }

  // ---- elementwise ----
  unary(op: UnaryOp, x: Storage, out?: Storage): Storage {
    const xi = this.#id(x);
    const o = out ?? this.#out(x.size);
    this.#send(["unary", op, xi, this.#id(o), x.size]);
    return o;
  }
  unaryGrad(op: UnaryOp, x: Storage, y: Storage, g: Storage): Storage {
    const o = this.#out(g.size);
    this.#send(["unaryGrad", op, this.#id(x), this.#id(y), this.#id(g), o.id, g.size]);
    return o;
  }
  binary(
    op: BinaryOp,
    a: Storage,
    b: Storage,
    outShape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
    out?: Storage,
  ): Storage {
    const ai = this.#id(a), bi = this.#id(b);
    const o = out ?? this.#out(sizeOf(outShape));
    this.#send(["binary", op, ai, bi, this.#id(o), outShape.slice(), aStrides.slice(), bStrides.slice()]);
    return o;
  }
  where(
    cond: Storage,
    a: Storage,
    b: Storage,
    outShape: readonly number[],
    condStrides: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): Storage {
    const ci = this.#id(cond), ai = this.#id(a), bi = this.#id(b);
    const o = this.#out(sizeOf(outShape));
    this.#send([
      "where",
      ci,
      ai,
      bi,
      o.id,
      outShape.slice(),
      condStrides.slice(),
      aStrides.slice(),
      bStrides.slice(),
    ]);
    return o;
  }
  binaryScalar(op: BinaryOp, x: Storage, s: number, reverse = false, out?: Storage): Storage {
    const xi = this.#id(x);
    const o = out ?? this.#out(x.size);
    this.#send(["binaryScalar", op, xi, s, reverse, this.#id(o), x.size]);
    return o;
  }
  axpby(x: Storage, alpha: number, y: Storage, beta: number, out?: Storage): Storage {
    const xi = this.#id(x), yi = this.#id(y);
    const o = out ?? this.#out(x.size);
    this.#send(["axpby", xi, alpha, yi, beta, this.#id(o), x.size]);
    return o;
  }

  // ---- layout ----
  copyStrided(
    src: Storage,
    srcOffset: number,
    srcStrides: readonly number[],
    dst: Storage,
    dstOffset: number,
    dstStrides: readonly number[],
    shape: readonly number[],
  ): void {
    this.#send([
      "copyStrided",
      this.#id(src),
      srcOffset,
      srcStrides.slice(),
      this.#id(dst),
      dstOffset,
      dstStrides.slice(),
      shape.slice(),
    ]);
  }

  // ---- reductions ----
  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    const xi = this.#id(x);
    const red = new Set(axes);
    let size = 1;
    for (let d = 0; d < shape.length; d++) if (!red.has(d)) size *= shape[d];
    const o = this.#out(size);
    this.#send(["reduce", op, xi, shape.slice(), axes.slice(), o.id]);
    return o;
  }

  // ---- linear algebra ----
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    const ai = this.#id(a), bi = this.#id(b);
    const batch = p.batch ?? 1;
    const bias = p.bias ? this.#id(p.bias) : -1;
    const o = this.#out(batch * p.m * p.n);
    this.#send(["matmul", ai, bi, o.id, {
      m: p.m,
      n: p.n,
      k: p.k,
      batch,
      transA: !!p.transA,
      transB: !!p.transB,
      strideA: p.strideA ?? p.m * p.k,
      strideB: p.strideB ?? p.k * p.n,
      bias,
    }]);
    return o;
  }

  // ---- softmax ----
  softmax(x: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    const xi = this.#id(x);
    const o = this.#out(x.size);
    this.#send(["softmax", xi, null, o.id, outer, dim, inner, log]);
    return o;
  }
  softmaxGrad(y: Storage, g: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    const yi = this.#id(y), gi = this.#id(g);
    const o = this.#out(y.size);
    this.#send(["softmax", yi, gi, o.id, outer, dim, inner, log]);
    return o;
  }

  // ---- indexing ----
  gatherLast(x: Storage, rows: number, cols: number, index: Int32Array): Storage {
    const xi = this.#id(x);
    const o = this.#out(rows);
    this.#send(["gatherLast", xi, rows, cols, index.slice(0, rows), o.id]);
    return o;
  }
  scatterLast(g: Storage, rows: number, cols: number, index: Int32Array): Storage {
    const gi = this.#id(g);
    const o = this.#out(rows * cols);
    this.#send(["scatterLast", gi, rows, cols, index.slice(0, rows), o.id]);
    return o;
  }
  indexSelectRows(x: Storage, rowSize: number, index: Int32Array): Storage {
    const xi = this.#id(x);
    const o = this.#out(index.length * rowSize);
    this.#send(["indexSelectRows", xi, rowSize, index.slice(), o.id]);
    return o;
  }
  indexAddRows(g: Storage, numRows: number, rowSize: number, index: Int32Array): Storage {
    const gi = this.#id(g);
    const o = this.#out(numRows * rowSize);
    this.#send(["indexAddRows", gi, numRows, rowSize, index.slice(), o.id]);
    return o;
  }

  // ---- optional fused kernels (see Backend) ----
  /** Fused Adam / AdamW update of p, m, v (and vmax) in place (Backend.adamStep). */
  adamStep(
    p: Storage,
    g: Storage,
    m: Storage,
    v: Storage,
    vmax: Storage | null,
    params: AdamStepParams,
  ): void {
    const pi = this.#id(p), gi = this.#id(g), mi = this.#id(m), vi = this.#id(v);
    const xi = vmax ? this.#id(vmax) : -1;
    this.#send(["adamStep", pi, gi, mi, vi, xi, g.size, { ...params }]);
  }
  /** RMSNorm over rows of `[rows, d]`: y and the saved rstd `[rows]` (Backend.rmsNorm). */
  rmsNorm(
    x: Storage,
    weight: Storage | null,
    rows: number,
    d: number,
    eps: number,
  ): { y: Storage; rstd: Storage } {
    const xi = this.#id(x), wi = weight ? this.#id(weight) : -1;
    const y = this.#out(rows * d), rstd = this.#out(rows);
    this.#send(["rmsNorm", xi, wi, y.id, rstd.id, rows, d, eps]);
    return { y, rstd };
  }
  /** Gradient of {@link WebGPUBackend.rmsNorm} (Backend.rmsNormGrad). */
  rmsNormGrad(
    g: Storage,
    x: Storage,
    weight: Storage | null,
    rstd: Storage,
    rows: number,
    d: number,
    needWeightGrad: boolean,
  ): { gx: Storage; gw: Storage | null } {
    const gi = this.#id(g), xi = this.#id(x), wi = weight ? this.#id(weight) : -1, ri = this.#id(rstd);
    const gx = this.#out(rows * d);
    const gw = weight && needWeightGrad ? this.#out(d) : null;
    this.#send(["rmsNormGrad", gi, xi, wi, ri, gx.id, gw ? gw.id : -1, rows, d]);
    return { gx, gw };
  }
  /** y = silu(gate)·up (Backend.swiglu). */
  swiglu(gate: Storage, up: Storage): Storage {
    const a = this.#id(gate), b = this.#id(up);
    const o = this.#out(gate.size);
    this.#send(["swiglu", a, b, o.id, gate.size]);
    return o;
  }
  /** Gradient of {@link WebGPUBackend.swiglu} (Backend.swigluGrad). */
  swigluGrad(gate: Storage, up: Storage, g: Storage): { gGate: Storage; gUp: Storage } {
    const a = this.#id(gate), b = this.#id(up), gi = this.#id(g);
    const gGate = this.#out(gate.size), gUp = this.#out(gate.size);
    this.#send(["swigluGrad", a, b, gi, gGate.id, gUp.id, gate.size]);
    return { gGate, gUp };
  }
  /** Rotary embedding with signed-sine tables, or its transpose (Backend.rotaryEmb). */
  rotaryEmb(
    x: Storage,
    cos: Storage,
    sin: Storage,
    p: { batch: number; heads: number; seq: number; dim: number; layout: "BHTD" | "BTHD"; perBatch: boolean },
    inverse: boolean,
  ): Storage {
    const xi = this.#id(x), ci = this.#id(cos), si = this.#id(sin);
    const o = this.#out(x.size);
    this.#send(["rotaryEmb", xi, ci, si, o.id, { ...p }, inverse]);
    return o;
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
