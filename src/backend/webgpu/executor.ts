/**
 * The WebGPU executor: owns one `GPUDevice`, the GPU buffers of every live storage (by integer id),
 * the buffer pool, the pipeline cache and the command stream. Kernel modules (./elementwise.ts,
 * ./reduce.ts, ...) record their dispatches through {@link GpuExecutor.dispatch}; the executor batches
 * them into one compute pass per submission and submits on {@link GpuExecutor.flush} (every read,
 * every batch of commands, or when the parameter arena is full).
 *
 * The executor runs wherever the device lives: in the WebGPU worker (./worker.ts, the default in
 * Deno, which makes synchronous reads possible) or on the calling thread (./transport.ts).
 *
 * Kernel parameters (sizes, strides, scalars) are written into one arena per submission, uploaded
 * with a single `queue.writeBuffer` before the submit, and bound to each dispatch as a read-only
 * storage buffer `P: array<u32>` at the dispatch's offset (floats are bit-cast).
 *
 * Errors: validation and out-of-memory errors are captured with error scopes around every submission
 * and device loss through `device.lost`; the first one is kept in {@link GpuExecutor.error} /
 * {@link GpuExecutor.lostReason} and reported by the backend at its next call.
 *
 * @module
 */

import { BufferPool, type PoolStats, STORAGE_USAGE } from "./pool.ts";

/** The limits the executor splits work by (bytes unless noted). */
export interface ExecutorLimits {
  /** Largest storage binding: min(adapter's maxStorageBufferBindingSize, option). */
  maxBindingBytes: number;
  /** Largest buffer (adapter's maxBufferSize). */
  maxBufferBytes: number;
  /** Alignment of binding offsets (minStorageBufferOffsetAlignment). */
  bindingAlign: number;
  /** Workgroups per dispatch dimension (maxComputeWorkgroupsPerDimension, or the option). */
  maxWorkgroupsPerDim: number;
}

/** Options of {@link GpuExecutor.create}. */
export interface ExecutorOptions {
  /**
   * Lower cap on the bytes of one storage binding (default: the adapter's limit). Tests set a small
   * value to exercise the work splitting with small tensors.
   */
  maxBindingBytes?: number;
  /** Lower cap on workgroups per dispatch dimension (default: the adapter's limit); for tests. */
  maxWorkgroupsPerDim?: number;
  /**
   * Alignment (bytes) used for binding offsets, at least the device's minStorageBufferOffsetAlignment
   * and a multiple of it (default: the device's). Tests use 256, the common value on discrete GPUs,
   * on adapters that allow less.
   */
  bindingAlign?: number;
  /** Free buffer capacity the pool keeps for reuse (default 256 MiB). */
  maxPooledBytes?: number;
  /** `powerPreference` for `requestAdapter`. */
  powerPreference?: "low-power" | "high-performance";
}

/** What the adapter says about itself (GPUAdapterInfo fields). */
export interface AdapterDescription {
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** PCI vendor id or name. */
  vendor: string;
  /** GPU family. */
  architecture: string;
  /** Device id. */
  device: string;
  /** True for a software/fallback adapter (llvmpipe, SwiftShader, WARP). */
  isFallbackAdapter: boolean;
}

/** Counters of an executor (pool counters plus device state). */
export interface ExecutorStats extends PoolStats {
  /** Storage ids with a buffer. */
  storages: number;
  /** Long-lived constant buffers (FFT plans). */
  persistentBuffers: number;
  /** Cached compute pipelines. */
  pipelines: number;
  /** Dispatches recorded since creation. */
  dispatches: number;
  /** Queue submissions since creation. */
  submits: number;
  /** True once {@link GpuExecutor.destroy} ran (device destroyed). */
  deviceDestroyed: boolean;
  /** Device-loss reason, or null. */
  lost: string | null;
  /** First captured GPU error, or null. */
  error: string | null;
}

/** A buffer range bound to one binding slot. */
export interface Binding {
  /** The GPU buffer. */
  buffer: GPUBuffer;
  /** Byte offset (a multiple of {@link ExecutorLimits.bindingAlign}). */
  offset: number;
  /** Byte size (> 0). */
  size: number;
}

/** A window of a storage buffer: the binding plus the element offset of `start` inside it. */
export interface Window {
  /** What to bind. */
  binding: Binding;
  /** Element index (inside the binding) of the window's first requested element. */
  base: number;
}

/** A compute shader: WGSL source (made on first use), its binding modes and a cache key. */
export interface Kernel {
  /** Cache key: equal keys must mean equal WGSL and layout. */
  key: string;
  /**
   * Binding modes after the parameter binding 0: "r" read-only storage, "w" read-write storage.
   * Binding i+1 of the shader has mode `layout[i]`.
   */
  layout: string;
  /** WGSL source; binding 0 must be `var<storage, read> P: array<u32>`. */
  code: () => string;
}

interface Buf {
  buffer: GPUBuffer;
  elems: number;
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** The bits of float32 `x` as a u32 (for kernel parameters). */
export function f32bits(x: number): number {
  f32buf[0] = x;
  return u32buf[0];
}

/** WGSL declaration of the parameter binding, shared by every kernel. */
export const PARAMS_DECL = "@group(0) @binding(0) var<storage, read> P: array<u32>;";

/**
 * WGSL helpers shared by kernels: NaN test by bits, infinities, float params, global index. The
 * infinities and NaN come from private variables: WGSL forbids const-expressions that evaluate to
 * inf/NaN (Chromium's Tint rejects `bitcast<f32>(0x7f800000u)`; Naga accepts it).
 */
export const WGSL_COMMON = `
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
var<private> PINF_BITS: u32 = 0x7f800000u;
var<private> NINF_BITS: u32 = 0xff800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn pinf() -> f32 { return bitcast<f32>(PINF_BITS); }
fn ninf() -> f32 { return bitcast<f32>(NINF_BITS); }
fn nan_() -> f32 { return bitcast<f32>(NAN_BITS); }
fn pf(i: u32) -> f32 { return bitcast<f32>(P[i]); }
fn gidx(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>, wg: u32) -> u32 {
  return (wid.z * nwg.y * nwg.x + wid.y * nwg.x + wid.x) * wg + lid.x;
}
`;

/** `navigator.gpu` of this thread (main thread or worker), or null. */
export function gpuOrNull(): GPU | null {
  const nav = (globalThis as unknown as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu ?? null;
}

/** Workgroup size of the 1-D kernels. */
export const WG = 256;

const ARENA_WORDS = 1 << 16; // 256 KiB of parameters per submission

/** See the module doc. Create with {@link GpuExecutor.create}; one per device. */
export class GpuExecutor {
  /** The device. */
  readonly device: GPUDevice;
  /** The adapter's self-description. */
  readonly adapter: AdapterDescription;
  /** Effective limits used to split work. */
  readonly limits: ExecutorLimits;
  /** The buffer pool. */
  readonly pool: BufferPool;
  /** First captured GPU error (validation / out of memory / uncaptured), or null. */
  error: string | null = null;
  /** Device-loss message, or null while the device is alive. */
  lostReason: string | null = null;
  /** Called once when an error or device loss is first recorded. */
  onFault: (() => void) | null = null;

  #bufs = new Map<number, Buf>();
  #pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  #layouts = new Map<string, GPUBindGroupLayout>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #arena = new Uint32Array(ARENA_WORDS);
  #arenaUsed = 0;
  #paramsBuf: GPUBuffer | null = null;
  #temps: GPUBuffer[] = [];
  #persistent: GPUBuffer[] = [];
  #pendingScopes: Promise<void>[] = [];
  #dispatches = 0;
  #submits = 0;
  #destroyed = false;
  /** Per-executor caches owned by kernel modules (FFT plans on the GPU, ...). */
  readonly caches = new Map<string, unknown>();

  private constructor(
    device: GPUDevice,
    adapter: AdapterDescription,
    limits: ExecutorLimits,
    pooled: number,
  ) {
    this.device = device;
    this.adapter = adapter;
    this.limits = limits;
    this.pool = new BufferPool(device, pooled);
    device.lost.then((info) => {
      if (this.#destroyed) return;
      this.lostReason = `${info.reason}: ${info.message}`;
      this.onFault?.();
    });
    device.addEventListener("uncapturederror", (ev) => {
      this.#fault(
        `uncaptured ${(ev as GPUUncapturedErrorEvent).error.constructor.name}: ${
          (ev as GPUUncapturedErrorEvent).error.message
        }`,
      );
    });
  }

  /**
   * Requests an adapter and a device with the adapter's maximum storage limits.
   *
   * @returns null when `navigator.gpu` is missing or no adapter is available
   * @throws {Error} when the adapter exists but the device request fails
   */
  static async create(opts: ExecutorOptions = {}): Promise<GpuExecutor | null> {
    const gpu = gpuOrNull();
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter(
      opts.powerPreference ? { powerPreference: opts.powerPreference } : {},
    );
    if (!adapter) return null;
    const al = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
        maxBufferSize: al.maxBufferSize,
        maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
      },
    });
    const info = adapter.info;
    const desc: AdapterDescription = {
      description: info.description || "",
      vendor: info.vendor || "",
      architecture: info.architecture || "",
      device: info.device || "",
      isFallbackAdapter: !!(info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    };
    const dl = device.limits;
    const limits: ExecutorLimits = {
      maxBindingBytes: Math.min(dl.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity),
      maxBufferBytes: dl.maxBufferSize,
      bindingAlign: Math.max(dl.minStorageBufferOffsetAlignment, opts.bindingAlign ?? 0),
      maxWorkgroupsPerDim: Math.min(
        dl.maxComputeWorkgroupsPerDimension,
        opts.maxWorkgroupsPerDim ?? Infinity,
      ),
    };
    if (limits.bindingAlign % dl.minStorageBufferOffsetAlignment !== 0) {
      throw new RangeError(
        `bindingAlign must be a multiple of the device's ${dl.minStorageBufferOffsetAlignment}, got ${limits.bindingAlign}`,
      );
    }
    if (limits.maxBindingBytes < 4 * limits.bindingAlign) {
      throw new RangeError(
        `maxBindingBytes must be at least 4 binding alignments (${
          4 * limits.bindingAlign
        }), got ${limits.maxBindingBytes}`,
      );
    }
    return new GpuExecutor(device, desc, limits, opts.maxPooledBytes ?? 256 * 2 ** 20);
  }

  #fault(msg: string): void {
    if (this.error === null) {
      this.error = msg;
      this.onFault?.();
    }
  }

  /** Throws if the device was lost or destroyed. */
  checkAlive(): void {
    if (this.#destroyed) throw new Error("WebGPU executor was destroyed");
    if (this.lostReason !== null) throw new Error(`WebGPU device lost (${this.lostReason})`);
  }

  // ------------------------------------------------------------------ storage

  /** The buffer record of storage `id`. */
  buf(id: number): Buf {
    const b = this.#bufs.get(id);
    if (!b) throw new Error(`WebGPU executor: unknown or released storage id ${id}`);
    return b;
  }

  /** Element count of storage `id`. */
  elems(id: number): number {
    return this.buf(id).elems;
  }

  #checkBytes(bytes: number, what: string): void {
    if (bytes > this.limits.maxBufferBytes) {
      throw new RangeError(
        `WebGPU: ${what} needs ${bytes} bytes, more than the adapter's maxBufferSize ${this.limits.maxBufferBytes}`,
      );
    }
  }

  /** Creates storage `id` of `elems` float32 elements (contents undefined unless `fill` given). */
  alloc(id: number, elems: number, fill?: number): void {
    this.checkAlive();
    if (this.#bufs.has(id)) throw new Error(`WebGPU executor: storage id ${id} already exists`);
    this.#checkBytes(elems * 4, `storage of ${elems} elements`);
    this.#enc();
    const buffer = this.pool.acquire(Math.max(4, elems * 4));
    this.#bufs.set(id, { buffer, elems });
    if (fill !== undefined) this.fill(id, fill);
  }

  /** Creates storage `id` holding `data` (written with `queue.writeBuffer`). */
  upload(id: number, data: Float32Array): void {
    this.alloc(id, data.length);
    if (data.length > 0) {
      this.device.queue.writeBuffer(this.buf(id).buffer, 0, data as Float32Array<ArrayBuffer>);
    }
  }

  /** Releases storage `id` (its buffer returns to the pool). Unknown ids are ignored. */
  free(id: number): void {
    const b = this.#bufs.get(id);
    if (!b) return;
    this.#bufs.delete(id);
    if (!this.#destroyed) this.pool.release(b.buffer);
  }

  /**
   * A long-lived buffer holding `data` (FFT twiddles, ...), outside the pool; destroyed with the
   * executor.
   */
  persistent(data: Float32Array | Uint32Array): GPUBuffer {
    this.#checkBytes(data.byteLength, "a constant table");
    const b = this.device.createBuffer({
      size: Math.max(256, Math.ceil(data.byteLength / 256) * 256),
      usage: STORAGE_USAGE,
    });
    if (data.length > 0) this.device.queue.writeBuffer(b, 0, data as Uint32Array<ArrayBuffer>);
    this.#persistent.push(b);
    return b;
  }

  /** A temporary storage buffer for the current kernel, released after the next submission. */
  temp(bytes: number): GPUBuffer {
    this.#checkBytes(bytes, "a temporary buffer");
    this.#enc();
    const b = this.pool.acquire(Math.max(4, bytes));
    this.#temps.push(b);
    return b;
  }

  /** A temporary buffer holding `data` (f32/i32/u32 words). */
  tempUpload(data: Float32Array | Int32Array | Uint32Array): GPUBuffer {
    const b = this.temp(data.byteLength);
    if (data.length > 0) this.device.queue.writeBuffer(b, 0, data as Uint32Array<ArrayBuffer>);
    return b;
  }

  /** Sets every element of storage `id` to `value`. */
  fill(id: number, value: number): void {
    const b = this.buf(id);
    if (b.elems === 0) return;
    if (value === 0 && !Object.is(value, -0)) {
      this.#endPass();
      this.#enc().clearBuffer(b.buffer, 0, b.elems * 4);
      return;
    }
    this.fillRange(b.buffer, 0, b.elems, value);
  }

  /** Sets elements [start, start+count) of `buffer` to `value` (split over binding windows). */
  fillRange(buffer: GPUBuffer, start: number, count: number, value: number): void {
    const k: Kernel = {
      key: "fill",
      layout: "w",
      code: () =>
        `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
${WGSL_COMMON}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = gidx(wid, nwg, lid, ${WG}u);
  if (i >= P[0]) { return; }
  O[P[1] + i] = pf(2u);
}`,
    };
    for (const [s, e] of this.chunks(count, 1)) {
      const w = this.windowOf(buffer, start + s, start + e);
      this.dispatch(k, [w.binding], [e - s, w.base, f32bits(value)], this.grid(e - s));
    }
  }

  /** Copies all of storage `src` into `dst` (equal sizes). */
  copy(src: number, dst: number): void {
    const a = this.buf(src), b = this.buf(dst);
    if (a.elems !== b.elems) throw new RangeError(`copy: sizes differ (${a.elems} vs ${b.elems})`);
    if (a.elems === 0 || src === dst) return;
    this.#endPass();
    this.#enc().copyBufferToBuffer(a.buffer, 0, b.buffer, 0, a.elems * 4);
  }

  /** Copies `count` elements between buffers (byte offsets 4-aligned). */
  copyRaw(src: GPUBuffer, srcElem: number, dst: GPUBuffer, dstElem: number, count: number): void {
    if (count === 0) return;
    this.#endPass();
    this.#enc().copyBufferToBuffer(src, srcElem * 4, dst, dstElem * 4, count * 4);
  }

  /** The contents of storage `id` (submits pending work and maps a staging buffer). */
  async read(id: number): Promise<Float32Array> {
    this.checkAlive();
    const b = this.buf(id);
    const out = await this.readBuffer(b.buffer, 0, b.elems);
    return out;
  }

  /** `count` floats of `buffer` from element `start`, after all recorded work. */
  async readBuffer(buffer: GPUBuffer, start: number, count: number): Promise<Float32Array> {
    if (count === 0) {
      this.flush();
      await this.settle();
      return new Float32Array(0);
    }
    const bytes = count * 4;
    this.#endPass();
    const enc = this.#enc();
    const staging = this.device.createBuffer({
      size: bytes,
      usage: 0x01 /* MAP_READ */ | 0x08, /* COPY_DST */
    });
    enc.copyBufferToBuffer(buffer, start * 4, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(0x01 /* READ */);
      const out = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      await this.settle();
      return out;
    } catch (e) {
      await this.settle();
      this.checkAlive();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  /** Waits for the error scopes of every submission so far. */
  async settle(): Promise<void> {
    const p = this.#pendingScopes;
    this.#pendingScopes = [];
    await Promise.all(p);
  }

  // ------------------------------------------------------------------ binding windows

  /**
   * A binding covering elements [start, end) of `buffer`: the offset is rounded down to the binding
   * alignment, `base` is where `start` lands inside the binding.
   *
   * @throws {RangeError} if the aligned range exceeds the binding limit
   */
  windowOf(buffer: GPUBuffer, start: number, end: number): Window {
    const alignElems = this.limits.bindingAlign / 4;
    const first = Math.floor(start / alignElems) * alignElems;
    const last = Math.max(end, first + 1);
    const size = Math.min(Math.ceil((last - first) / 2) * 8, buffer.size - first * 4);
    if (size > this.limits.maxBindingBytes) {
      throw new RangeError(
        `WebGPU: a binding of ${size} bytes exceeds maxStorageBufferBindingSize (${this.limits.maxBindingBytes})`,
      );
    }
    return { binding: { buffer, offset: first * 4, size: Math.max(4, size) }, base: start - first };
  }

  /** {@link GpuExecutor.windowOf} for storage `id`. */
  window(id: number, start: number, end: number): Window {
    return this.windowOf(this.buf(id).buffer, start, end);
  }

  /** The whole storage `id` as one binding (throws when larger than the binding limit). */
  whole(id: number): Binding {
    const b = this.buf(id);
    return this.windowOf(b.buffer, 0, b.elems).binding;
  }

  /** Whole `buffer` (first `elems` elements) as one binding. */
  wholeBuffer(buffer: GPUBuffer, elems: number): Binding {
    return this.windowOf(buffer, 0, elems).binding;
  }

  /** Elements that fit one binding window (leaving room for the alignment slack). */
  get maxWindowElems(): number {
    return Math.floor(this.limits.maxBindingBytes / 4) - this.limits.bindingAlign / 4;
  }

  /**
   * Splits `count` items of `itemElems` elements each into [start, end) item ranges whose elements
   * fit one binding window.
   */
  chunks(count: number, itemElems: number): Array<[number, number]> {
    const per = Math.max(1, Math.floor(this.maxWindowElems / Math.max(1, itemElems)));
    const out: Array<[number, number]> = [];
    for (let s = 0; s < count; s += per) out.push([s, Math.min(count, s + per)]);
    return out;
  }

  // ------------------------------------------------------------------ dispatch

  /** Workgroup grid for `threads` invocations at `wg` per workgroup (x first, then y, then z). */
  grid(threads: number, wg = WG): [number, number, number] {
    const groups = Math.ceil(threads / wg);
    const max = this.limits.maxWorkgroupsPerDim;
    if (groups <= max) return [Math.max(groups, 1), 1, 1];
    const y = Math.ceil(groups / max);
    if (y <= max) return [max, y, 1];
    const z = Math.ceil(y / max);
    if (z > max) throw new RangeError(`WebGPU: ${threads} invocations exceed the dispatch limits`);
    return [max, max, z];
  }

  #enc(): GPUCommandEncoder {
    if (this.#encoder === null) {
      this.checkAlive();
      this.device.pushErrorScope("out-of-memory");
      this.device.pushErrorScope("validation");
      this.#encoder = this.device.createCommandEncoder();
    }
    return this.#encoder;
  }

  #endPass(): void {
    if (this.#pass !== null) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  #layout(modes: string): GPUBindGroupLayout {
    let l = this.#layouts.get(modes);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{
        binding: 0,
        visibility: 4, /* COMPUTE */
        buffer: { type: "read-only-storage" },
      }];
      for (let i = 0; i < modes.length; i++) {
        entries.push({
          binding: i + 1,
          visibility: 4,
          buffer: { type: modes[i] === "w" ? "storage" : "read-only-storage" },
        });
      }
      l = this.device.createBindGroupLayout({ entries });
      this.#layouts.set(modes, l);
    }
    return l;
  }

  #pipeline(k: Kernel): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    let p = this.#pipelines.get(k.key);
    if (!p) {
      const layout = this.#layout(k.layout);
      const module = this.device.createShaderModule({ code: k.code(), label: k.key });
      const pipeline = this.device.createComputePipeline({
        label: k.key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: "main" },
      });
      p = { pipeline, layout };
      this.#pipelines.set(k.key, p);
    }
    return p;
  }

  /**
   * Records one dispatch of kernel `k` with `bindings` (slots 1..) and `params` (u32 words, floats
   * via {@link f32bits}) over `groups` workgroups.
   */
  dispatch(
    k: Kernel,
    bindings: Binding[],
    params: ArrayLike<number>,
    groups: [number, number, number],
  ): void {
    if (bindings.length !== k.layout.length) {
      throw new Error(`kernel ${k.key}: ${bindings.length} bindings for layout "${k.layout}"`);
    }
    const align = this.limits.bindingAlign / 4;
    const words = Math.max(params.length, 1);
    let off = Math.ceil(this.#arenaUsed / align) * align;
    if (off + words > ARENA_WORDS) {
      this.flush();
      off = 0;
    }
    const { pipeline, layout } = this.#pipeline(k);
    this.#enc();
    if (this.#paramsBuf === null) this.#paramsBuf = this.pool.acquire(ARENA_WORDS * 4);
    this.#arena.set(params as ArrayLike<number>, off);
    this.#arenaUsed = off + words;
    const entries: GPUBindGroupEntry[] = [{
      binding: 0,
      resource: { buffer: this.#paramsBuf, offset: off * 4, size: words * 4 },
    }];
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i];
      entries.push({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset, size: b.size } });
    }
    const bg = this.device.createBindGroup({ layout, entries });
    if (this.#pass === null) this.#pass = this.#enc().beginComputePass();
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, bg);
    this.#pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.#dispatches++;
  }

  /** Submits everything recorded so far (no-op when nothing is pending). */
  flush(): void {
    if (this.#encoder === null) return;
    this.#endPass();
    const enc = this.#encoder;
    this.#encoder = null;
    if (this.#paramsBuf !== null && this.#arenaUsed > 0) {
      this.device.queue.writeBuffer(this.#paramsBuf, 0, this.#arena, 0, this.#arenaUsed);
    }
    this.device.queue.submit([enc.finish()]);
    this.#submits++;
    if (this.#paramsBuf !== null) this.pool.release(this.#paramsBuf);
    this.#paramsBuf = null;
    this.#arenaUsed = 0;
    for (const t of this.#temps) this.pool.release(t);
    this.#temps.length = 0;
    this.pool.submitted();
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.#pendingScopes.push(
      Promise.all([validation, oom]).then(([v, o]) => {
        if (o) this.#fault(`out of memory: ${o.message}`);
        if (v) this.#fault(`validation error: ${v.message}`);
      }, (e) => this.#fault(`error scope failed: ${e}`)),
    );
    if (this.#pendingScopes.length > 64) {
      const p = this.#pendingScopes;
      this.#pendingScopes = [Promise.all(p).then(() => {})];
    }
  }

  /**
   * Test hook: records a GPU validation error in the current submission (a buffer over maxBufferSize),
   * to exercise the error-scope path end to end.
   */
  injectValidationError(): void {
    this.#enc();
    this.device.createBuffer({ size: this.limits.maxBufferBytes + 256, usage: STORAGE_USAGE });
  }

  /** Counters (pool + executor). */
  stats(): ExecutorStats {
    return {
      ...this.pool.stats(),
      storages: this.#bufs.size,
      persistentBuffers: this.#persistent.length,
      pipelines: this.#pipelines.size,
      dispatches: this.#dispatches,
      submits: this.#submits,
      deviceDestroyed: this.#destroyed,
      lost: this.lostReason,
      error: this.error,
    };
  }

  /** Releases every buffer and destroys the device. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    try {
      if (this.lostReason === null) this.flush();
    } catch { /* device already unusable */ }
    this.#destroyed = true;
    for (const b of this.#bufs.values()) b.buffer.destroy();
    for (const b of this.#persistent) b.destroy();
    this.#persistent.length = 0;
    this.#bufs.clear();
    this.pool.trim();
    this.caches.clear();
    this.device.destroy();
  }

  /** True after {@link GpuExecutor.destroy}. */
  get destroyed(): boolean {
    return this.#destroyed;
  }
}
