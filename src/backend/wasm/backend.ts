/**
 * The wasm backend: storage is a GC-owned JS `Float32Array` per tensor (see the ownership rule in
 * ./memory.ts). Matrix products run in the SIMD `sgemm` of the wasm kernel module (operands copied
 * into wasm scratch memory once per call); elementwise ops, softmax, row sums and the fused
 * optional kernels (Adam/AdamW step, RMSNorm, SwiGLU, rotary embedding) run in the SIMD kernels of
 * wasm/elementwise.ts, streamed through wasm memory in cache-sized chunks (./elementwise.ts), with
 * plain TypeScript loops for small arrays and the remaining ops (layout, gathers, where, pow, sin,
 * cos). Registered as backend "wasm" (the default).
 *
 * `readSync` returns the storage array itself: writing into it changes the tensor.
 *
 * @module
 */

import {
  type Backend,
  type BinaryOp,
  type MatmulParams,
  type ReduceOp,
  registerBackend,
  type Storage,
  type UnaryOp,
} from "../backend.ts";
import {
  adamStepKernel,
  type AdamStepParams,
  axpbyKernel,
  binaryKernel,
  rmsNormGradKernel,
  rmsNormKernel,
  rotaryKernel,
  type RotaryParams,
  scalarKernel,
  swigluGradKernel,
  swigluKernel,
  unaryGradKernel,
  unaryKernel,
  whereKernel,
} from "./elementwise.ts";
import { copyStridedKernel } from "./layout.ts";
import { reduceKernel } from "./reduce.ts";
import { softmaxGradKernel, softmaxKernel } from "./softmax.ts";
import { sgemm } from "./gemm.ts";
import { wasm } from "./memory.ts";

/**
 * Limits of the wasm backend's array pool. Arrays of disposed storages that the backend allocated
 * itself and never handed out (no `readSync`/`read`, not adopted from the caller) are kept and reused
 * for new storages of the same length: a fresh large `Float32Array` costs page faults on first
 * touch (about 2 ns per element measured here, more than most kernels), a reused one a `fill(0)` at
 * most. Set `maxBytes` to 0 to disable.
 */
export const wasmStoragePool: {
  /** Most bytes kept in the pool (default 256 MiB). */
  maxBytes: number;
  /** Arrays shorter than this are not pooled (default 4096 elements). */
  minElements: number;
} = { maxBytes: 256 * 1024 * 1024, minElements: 4096 };

/** Storage of the wasm backend: a Float32Array (null once disposed). */
export class WasmStorage implements Storage {
  /** The elements; null after {@link Backend.dispose}. */
  data: Float32Array | null;
  /** The owning backend. */
  readonly backend: Backend;
  /** Element count. */
  readonly size: number;
  /**
   * True while no reference to `data` exists outside the backend (allocated by it, never returned by
   * `readSync`/`read`): only then may `dispose` recycle the array.
   */
  recyclable = false;
  /** Wraps `data` (taken over, not copied) as storage of `backend`. */
  constructor(data: Float32Array, backend: Backend) {
    this.data = data;
    this.size = data.length;
    this.backend = backend;
  }
}

function arr(s: Storage): Float32Array {
  const d = (s as WasmStorage).data;
  if (d === undefined) throw new TypeError(`storage of backend "${s.backend.name}" used on the wasm backend`);
  if (d === null) throw new Error("tensor storage was disposed (Tensor.dispose or tidy) and cannot be used");
  return d;
}

const hasWasmSgemm = typeof (wasm as Record<string, unknown>)["sgemm"] === "function";

/** Plain TS matrix product, used only when the wasm module lacks `sgemm`. */
function matmulFallback(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  p: Required<Omit<MatmulParams, "bias">>,
) {
  const { m, n, k, batch, transA, transB, strideA, strideB } = p;
  const row = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    const oa = t * strideA, ob = t * strideB, oc = t * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let q = 0; q < k; q++) {
        const av = transA ? a[oa + q * m + i] : a[oa + i * k + q];
        if (av === 0) continue;
        if (transB) { for (let j = 0; j < n; j++) row[j] += av * b[ob + j * k + q]; }
        else {
          const bo = ob + q * n;
          for (let j = 0; j < n; j++) row[j] += av * b[bo + j];
        }
      }
      for (let j = 0; j < n; j++) c[oc + i * n + j] += row[j];
    }
  }
}

/** The wasm backend (see the module doc). Use through {@link getBackend}, not directly. */
export class WasmBackend implements Backend {
  /** "wasm". */
  readonly name = "wasm";

  #pool = new Map<number, Float32Array[]>();
  #pooledBytes = 0;

  /** A backend-private array of n elements (recycled when possible); zeroed when `zero`. */
  #alloc(n: number, zero: boolean): Float32Array {
    if (n >= wasmStoragePool.minElements) {
      const list = this.#pool.get(n);
      if (list !== undefined && list.length > 0) {
        const a = list.pop()!;
        this.#pooledBytes -= a.byteLength;
        if (zero) a.fill(0);
        return a;
      }
    }
    return new Float32Array(n);
  }

  /** Storage over a backend-private array (from {@link WasmBackend.#alloc}). */
  #wrap(d: Float32Array): WasmStorage {
    const s = new WasmStorage(d, this);
    s.recyclable = true;
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
  readSync(s: Storage): Float32Array {
    const d = arr(s);
    (s as WasmStorage).recyclable = false;
    return d;
  }
  read(s: Storage): Promise<Float32Array> {
    const d = arr(s);
    (s as WasmStorage).recyclable = false;
    return Promise.resolve(d);
  }
  dispose(s: Storage): void {
    const ws = s as WasmStorage;
    const d = ws.data;
    ws.data = null;
    if (!d || !ws.recyclable) return;
    ws.recyclable = false;
    const n = d.length;
    if (n < wasmStoragePool.minElements || this.#pooledBytes + d.byteLength > wasmStoragePool.maxBytes) {
      return;
    }
    let list = this.#pool.get(n);
    if (list === undefined) this.#pool.set(n, list = []);
    list.push(d);
    this.#pooledBytes += d.byteLength;
  }
  /** Drops every pooled array (they become garbage). */
  clearPool(): void {
    this.#pool.clear();
    this.#pooledBytes = 0;
  }
  /** Bytes currently held by the array pool (see {@link wasmStoragePool}). */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }
  isDisposed(s: Storage): boolean {
    return (s as WasmStorage).data === null;
  }
  fill(s: Storage, value: number): void {
    arr(s).fill(value);
  }
  copy(src: Storage, dst: Storage): void {
    arr(dst).set(arr(src));
  }

  unary(op: UnaryOp, x: Storage, out?: Storage): Storage {
    const xd = arr(x);
    const o = out ?? this.#wrap(this.#alloc(xd.length, false));
    unaryKernel(op, xd, arr(o));
    return o;
  }
  unaryGrad(op: UnaryOp, x: Storage, y: Storage, g: Storage): Storage {
    const gd = arr(g);
    const o = this.#wrap(this.#alloc(gd.length, false));
    unaryGradKernel(op, arr(x), arr(y), gd, arr(o));
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
    let size = 1;
    for (const d of outShape) size *= d;
    const o = out ?? this.#wrap(this.#alloc(size, false));
    binaryKernel(op, arr(a), arr(b), arr(o), outShape, aStrides, bStrides);
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
    let size = 1;
    for (const d of outShape) size *= d;
    const o = this.#alloc(size, false);
    whereKernel(arr(cond), arr(a), arr(b), o, outShape, condStrides, aStrides, bStrides);
    return this.#wrap(o);
  }
  binaryScalar(op: BinaryOp, x: Storage, s: number, reverse = false, out?: Storage): Storage {
    const xd = arr(x);
    const o = out ?? this.#wrap(this.#alloc(xd.length, false));
    scalarKernel(op, xd, s, reverse, arr(o));
    return o;
  }
  axpby(x: Storage, alpha: number, y: Storage, beta: number, out?: Storage): Storage {
    const xd = arr(x), yd = arr(y);
    const o = out ?? this.#wrap(this.#alloc(xd.length, false));
    axpbyKernel(xd, alpha, yd, beta, arr(o));
    return o;
  }

  copyStrided(
    src: Storage,
    srcOffset: number,
    srcStrides: readonly number[],
    dst: Storage,
    dstOffset: number,
    dstStrides: readonly number[],
    shape: readonly number[],
  ): void {
    copyStridedKernel(arr(src), srcOffset, srcStrides, arr(dst), dstOffset, dstStrides, shape);
  }

  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    let size = 1;
    const ax = new Set(axes);
    for (let d = 0; d < shape.length; d++) if (!ax.has(d)) size *= shape[d];
    const o = this.#wrap(this.#alloc(size, false));
    reduceKernel(op, arr(x), shape, axes, arr(o));
    return o;
  }

  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    const batch = p.batch ?? 1;
    const { m, n, k } = p;
    const r = {
      m,
      n,
      k,
      batch,
      transA: !!p.transA,
      transB: !!p.transB,
      strideA: p.strideA ?? m * k,
      strideB: p.strideB ?? k * n,
    };
    const c = this.#alloc(batch * m * n, k === 0);
    const hasBias = p.bias !== undefined;
    if (hasBias) {
      const bias = arr(p.bias!);
      for (let off = 0; off < c.length; off += n) c.set(bias, off);
    }
    if (c.length > 0 && k > 0) {
      if (hasWasmSgemm) {
        sgemm(arr(a), arr(b), m, n, k, { ...r, accumulate: hasBias, out: c });
      } else {
        matmulFallback(arr(a), arr(b), c, r);
      }
    }
    return this.#wrap(c);
  }

  softmax(x: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    const xd = arr(x);
    const o = this.#alloc(xd.length, false);
    softmaxKernel(xd, o, outer, dim, inner, log);
    return this.#wrap(o);
  }
  softmaxGrad(y: Storage, g: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    const yd = arr(y);
    const o = this.#alloc(yd.length, false);
    softmaxGradKernel(yd, arr(g), o, outer, dim, inner, log);
    return this.#wrap(o);
  }

  gatherLast(x: Storage, rows: number, cols: number, index: Int32Array): Storage {
    const xd = arr(x);
    const o = this.#alloc(rows, true);
    for (let r = 0; r < rows; r++) {
      const t = index[r];
      if (t >= 0) o[r] = xd[r * cols + t];
    }
    return this.#wrap(o);
  }
  scatterLast(g: Storage, rows: number, cols: number, index: Int32Array): Storage {
    const gd = arr(g);
    const o = this.#alloc(rows * cols, true);
    for (let r = 0; r < rows; r++) {
      const t = index[r];
      if (t >= 0) o[r * cols + t] = gd[r];
    }
    return this.#wrap(o);
  }
  indexSelectRows(x: Storage, rowSize: number, index: Int32Array): Storage {
    const xd = arr(x);
    const o = this.#alloc(index.length * rowSize, false);
    for (let i = 0; i < index.length; i++) {
      const s = index[i] * rowSize;
      o.set(xd.subarray(s, s + rowSize), i * rowSize);
    }
    return this.#wrap(o);
  }
  indexAddRows(g: Storage, numRows: number, rowSize: number, index: Int32Array): Storage {
    const gd = arr(g);
    const o = this.#alloc(numRows * rowSize, true);
    for (let i = 0; i < index.length; i++) {
      const d = index[i] * rowSize, s = i * rowSize;
      for (let j = 0; j < rowSize; j++) o[d + j] += gd[s + j];
    }
    return this.#wrap(o);
  }

  // ---- optional fused kernels (see Backend) ----

  adamStep(
    p: Storage,
    g: Storage,
    m: Storage,
    v: Storage,
    vmax: Storage | null,
    params: AdamStepParams,
  ): void {
    adamStepKernel(arr(p), arr(g), arr(m), arr(v), vmax ? arr(vmax) : null, params);
  }
  rmsNorm(
    x: Storage,
    weight: Storage | null,
    rows: number,
    d: number,
    eps: number,
  ): { y: Storage; rstd: Storage } {
    const y = this.#alloc(rows * d, false), rstd = this.#alloc(rows, d === 0);
    rmsNormKernel(arr(x), weight ? arr(weight) : null, y, rstd, rows, d, eps);
    return { y: this.#wrap(y), rstd: this.#wrap(rstd) };
  }
  rmsNormGrad(
    g: Storage,
    x: Storage,
    weight: Storage | null,
    rstd: Storage,
    rows: number,
    d: number,
    needWeightGrad: boolean,
  ): { gx: Storage; gw: Storage | null } {
    const gx = this.#alloc(rows * d, false);
    const gw = weight && needWeightGrad ? this.#alloc(d, false) : null;
    rmsNormGradKernel(arr(g), arr(x), weight ? arr(weight) : null, arr(rstd), gx, gw, rows, d);
    return { gx: this.#wrap(gx), gw: gw ? this.#wrap(gw) : null };
  }
  swiglu(gate: Storage, up: Storage): Storage {
    const y = this.#alloc(gate.size, false);
    swigluKernel(arr(gate), arr(up), y);
    return this.#wrap(y);
  }
  swigluGrad(gate: Storage, up: Storage, g: Storage): { gGate: Storage; gUp: Storage } {
    const ga = this.#alloc(gate.size, false), gb = this.#alloc(gate.size, false);
    swigluGradKernel(arr(gate), arr(up), arr(g), ga, gb);
    return { gGate: this.#wrap(ga), gUp: this.#wrap(gb) };
  }
  rotaryEmb(x: Storage, cos: Storage, sin: Storage, p: RotaryParams, inverse: boolean): Storage {
    const o = this.#alloc(x.size, false);
    rotaryKernel(arr(x), arr(cos), arr(sin), o, p, inverse);
    return this.#wrap(o);
  }
}

registerBackend("wasm", { create: () => new WasmBackend(), device: () => "WebAssembly SIMD, CPU" });
