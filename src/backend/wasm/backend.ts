/**
 * The wasm backend: storage is a GC-owned JS `Float32Array` per tensor (see the ownership rule in
 * ./memory.ts); elementwise, layout, reduction and softmax kernels are tight TypeScript loops over
 * those arrays, and matrix products run in the SIMD `sgemm` of the wasm kernel module (operands copied
 * into wasm scratch memory once per call). Registered as backend "wasm" (the default).
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
import { binaryKernel, scalarKernel, unaryGradKernel, unaryKernel, whereKernel } from "./elementwise.ts";
import { copyStridedKernel } from "./layout.ts";
import { reduceKernel } from "./reduce.ts";
import { softmaxGradKernel, softmaxKernel } from "./softmax.ts";
import { sgemm } from "./gemm.ts";
import { wasm } from "./memory.ts";

/** Storage of the wasm backend: a Float32Array (null once disposed). */
export class WasmStorage implements Storage {
  /** The elements; null after {@link Backend.dispose}. */
  data: Float32Array | null;
  /** The owning backend. */
  readonly backend: Backend;
  /** Element count. */
  readonly size: number;
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

  #wrap(d: Float32Array): WasmStorage {
    return new WasmStorage(d, this);
  }

  full(size: number, value = 0): Storage {
    const d = new Float32Array(size);
    if (value !== 0) d.fill(value);
    return this.#wrap(d);
  }
  fromArray(data: Float32Array, adopt = false): Storage {
    return this.#wrap(adopt ? data : data.slice());
  }
  readSync(s: Storage): Float32Array {
    return arr(s);
  }
  read(s: Storage): Promise<Float32Array> {
    return Promise.resolve(arr(s));
  }
  dispose(s: Storage): void {
    (s as WasmStorage).data = null;
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
    const o = out ?? this.full(xd.length);
    unaryKernel(op, xd, arr(o));
    return o;
  }
  unaryGrad(op: UnaryOp, x: Storage, y: Storage, g: Storage): Storage {
    const gd = arr(g);
    const o = this.full(gd.length);
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
    const o = out ?? this.full(size);
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
    const o = new Float32Array(size);
    whereKernel(arr(cond), arr(a), arr(b), o, outShape, condStrides, aStrides, bStrides);
    return this.#wrap(o);
  }
  binaryScalar(op: BinaryOp, x: Storage, s: number, reverse = false, out?: Storage): Storage {
    const xd = arr(x);
    const o = out ?? this.full(xd.length);
    scalarKernel(op, xd, s, reverse, arr(o));
    return o;
  }
  axpby(x: Storage, alpha: number, y: Storage, beta: number, out?: Storage): Storage {
    const xd = arr(x), yd = arr(y);
    const o = out ?? this.full(xd.length);
    const od = arr(o);
    const n = xd.length;
    if (alpha === 1 && beta === 1) { for (let i = 0; i < n; i++) od[i] = xd[i] + yd[i]; }
    else if (alpha === 1) { for (let i = 0; i < n; i++) od[i] = xd[i] + beta * yd[i]; }
    else for (let i = 0; i < n; i++) od[i] = alpha * xd[i] + beta * yd[i];
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
    const o = this.full(size);
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
    const c = new Float32Array(batch * m * n);
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
    const o = new Float32Array(xd.length);
    softmaxKernel(xd, o, outer, dim, inner, log);
    return this.#wrap(o);
  }
  softmaxGrad(y: Storage, g: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    const yd = arr(y);
    const o = new Float32Array(yd.length);
    softmaxGradKernel(yd, arr(g), o, outer, dim, inner, log);
    return this.#wrap(o);
  }

  gatherLast(x: Storage, rows: number, cols: number, index: Int32Array): Storage {
    const xd = arr(x);
    const o = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const t = index[r];
      if (t >= 0) o[r] = xd[r * cols + t];
    }
    return this.#wrap(o);
  }
  scatterLast(g: Storage, rows: number, cols: number, index: Int32Array): Storage {
    const gd = arr(g);
    const o = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const t = index[r];
      if (t >= 0) o[r * cols + t] = gd[r];
    }
    return this.#wrap(o);
  }
  indexSelectRows(x: Storage, rowSize: number, index: Int32Array): Storage {
    const xd = arr(x);
    const o = new Float32Array(index.length * rowSize);
    for (let i = 0; i < index.length; i++) {
      const s = index[i] * rowSize;
      o.set(xd.subarray(s, s + rowSize), i * rowSize);
    }
    return this.#wrap(o);
  }
  indexAddRows(g: Storage, numRows: number, rowSize: number, index: Int32Array): Storage {
    const gd = arr(g);
    const o = new Float32Array(numRows * rowSize);
    for (let i = 0; i < index.length; i++) {
      const d = index[i] * rowSize, s = i * rowSize;
      for (let j = 0; j < rowSize; j++) o[d + j] += gd[s + j];
    }
    return this.#wrap(o);
  }
}

registerBackend("wasm", () => new WasmBackend());
