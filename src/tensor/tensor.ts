/**
 * The Tensor class: a float32 n-dimensional array whose elements live in storage owned by a backend
 * (see src/backend/backend.ts), plus autograd state (`requiresGrad`, `grad`, `gradFn`).
 *
 * Memory (the one rule, shared with src/backend/wasm/memory.ts): on the wasm backend a tensor's
 * storage is an ordinary GC-owned `Float32Array`; nothing needs disposing. The autograd graph hangs
 * off result tensors (`gradFn`), never off a global tape, and `backward()` frees the graph's saved
 * tensors unless `retainGraph` — so a training loop that drops last step's loss holds no growing
 * state. `dispose()` / `tidy()` release storage promptly (needed on GPU backends, harmless on wasm).
 * Tensors are always contiguous row-major; `reshape`/`view`/`detach` share storage with their source
 * (writes through one are visible in the other, as in PyTorch), every other op returns new storage.
 *
 * @module
 */

import "../backend/executors.ts"; // registers the default "wasm" executor
import { type Backend, type DType, getBackend, type HalfDType, type Storage } from "../backend/backend.ts";
import { decodeHalf, encodeHalf } from "../io/half.ts";
import { type BackwardOptions, type Node, recordOp, runBackward } from "../autograd/engine.ts";
import { type BackendLike, resolveBackend } from "./placement.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import { fmtShape, type Shape, sizeOf } from "./shape.ts";
import { keep, trackTensor } from "./scope.ts";
import * as ew from "../ops/elementwise.ts";
import * as red from "../ops/reduce.ts";
import * as shp from "../ops/shape.ts";
import * as mm from "../ops/matmul.ts";
import * as act from "../ops/activation.ts";
import * as sm from "../ops/softmax.ts";

const storageRefs = new WeakMap<Storage, number>();

/** A tensor or a JS number (treated as a 0-d scalar that broadcasts), accepted by binary ops. */
export type TensorOrScalar = Tensor | number;

const DTYPES: readonly DType[] = ["float32", "bfloat16", "float16"];

/** True when `v` names a {@link DType}. */
export function isDType(v: unknown): v is DType {
  return typeof v === "string" && (DTYPES as readonly string[]).includes(v);
}

/**
 * A tensor with shape `shape`, row-major, on a backend. Create with `tensor`, `zeros`, `randn`, ...
 * (src/tensor/creation.ts); ops return new tensors. Mirrors `torch.Tensor`. Elements are float32;
 * bfloat16 / float16 tensors (`to("bfloat16")`, `fromPretrained(dir, {torchDtype})`) are frozen
 * 16-bit storage that only `linear`/`matmul` (as the weight operand), `embedding`, `reshape`,
 * `detach`, `clone`, `float()`/`to(dtype)` and saving read; other ops throw a one-line error.
 */
export class Tensor {
  /** Dimensions, outermost first (`[]` for a 0-d scalar). */
  readonly shape: readonly number[];
  /** Number of elements (product of `shape`). */
  readonly size: number;
  /** Accumulated gradient (same shape), filled by `backward()` for leaves that require grad. */
  grad: Tensor | null = null;
  #storage: Storage;
  #requiresGrad = false;
  #gradFn: Node | null = null;
  #released = false;
  /** @internal set by {@link Tensor.retainGrad}. */
  _retainsGrad = false;

  /**
   * Wraps backend storage; prefer {@link Tensor.fromStorage} or the creation functions.
   *
   * @throws {RangeError} when the storage size differs from the shape's element count.
   */
  constructor(storage: Storage, shape: Shape) {
    const n = sizeOf(shape);
    if (storage.size !== n) {
      throw new RangeError(`storage has ${storage.size} elements but shape ${fmtShape(shape)} needs ${n}`);
    }
    this.#storage = storage;
    this.shape = Object.freeze(shape.slice());
    this.size = n;
    storageRefs.set(storage, (storageRefs.get(storage) ?? 0) + 1);
    trackTensor(this);
  }

  /** A tensor over existing storage (shared, not copied). For op implementations. */
  static fromStorage(storage: Storage, shape: Shape): Tensor {
    return new Tensor(storage, shape);
  }

  /** The backend storage (for op implementations; opaque otherwise). */
  get storage(): Storage {
    return this.#storage;
  }
  /** The backend that owns this tensor's storage. */
  get backend(): Backend {
    return this.#storage.backend;
  }
  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Element type: "float32", or "bfloat16" / "float16" for 16-bit storage. Mirrors `Tensor.dtype`. */
  get dtype(): DType {
    return this.#storage.dtype ?? "float32";
  }
  /** The node that produced this tensor in the autograd graph; null for leaves. */
  get gradFn(): Node | null {
    return this.#gradFn;
  }
  /** True for tensors not produced by a recorded op (user-created tensors and parameters). */
  get isLeaf(): boolean {
    return this.#gradFn === null;
  }
  /** Whether gradients flow to this tensor (settable on leaves only). Mirrors `Tensor.requires_grad`. */
  get requiresGrad(): boolean {
    return this.#requiresGrad || this.#gradFn !== null;
  }
  set requiresGrad(v: boolean) {
    if (v && this.dtype !== "float32") {
      throw new TypeError(
        `requiresGrad: a ${this.dtype} tensor (shape ${fmtShape(this.shape)}) cannot require grad; ` +
          `16-bit tensors are frozen storage, train a float32 copy (.float())`,
      );
    }
    if (this.#gradFn !== null && !v) {
      throw new Error(
        `requiresGrad can only be turned off on leaf tensors; this one was produced by "${this.#gradFn.name}" ` +
          `(use detach())`,
      );
    }
    this.#requiresGrad = v;
  }
  /** Sets {@link Tensor.requiresGrad} and returns this. Mirrors `Tensor.requires_grad_()`. */
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }
  /** @internal used by `recordOp`. */
  _setGradFn(node: Node): void {
    this.#gradFn = node;
  }
  /** Makes a non-leaf tensor keep its gradient in `.grad` during backward. Mirrors `retain_grad()`. */
  retainGrad(): this {
    this._retainsGrad = true;
    return this;
  }

  // ---------- data access ----------

  /**
   * The elements, row-major, synchronously. On the wasm backend this is the storage itself: writing
   * into it changes the tensor (and every view sharing its storage). GPU backends may throw; use
   * {@link Tensor.data}.
   */
  dataSync(): Float32Array {
    this.#checkFloat("dataSync()");
    return this.backend.readSync(this.#storage);
  }
  /** The elements, row-major, on every backend (on wasm the storage itself, as {@link Tensor.dataSync}). */
  data(): Promise<Float32Array> {
    this.#checkFloat("data()");
    return this.backend.read(this.#storage);
  }
  /**
   * The bit patterns of a bfloat16 / float16 tensor, row-major, one per element (on wasm the storage
   * itself: writing into it changes the tensor).
   *
   * @throws {TypeError} for a float32 tensor.
   */
  bitsSync(): Uint16Array {
    if (this.dtype === "float32" || this.backend.readBits === undefined) {
      throw new TypeError(`bitsSync(): the tensor is ${this.dtype}, not bfloat16 / float16`);
    }
    return this.backend.readBits(this.#storage);
  }
  #checkFloat(what: string): void {
    if (this.dtype !== "float32") {
      throw new TypeError(`${what}: the tensor is ${this.dtype}; read .float().dataSync() (a float32 copy)`);
    }
  }
  /**
   * The value of a one-element tensor as a JS number. Mirrors `Tensor.item()`.
   *
   * @throws {RangeError} when the tensor has more than one element.
   */
  item(): number {
    if (this.size !== 1) {
      throw new RangeError(
        `item(): the tensor has shape ${fmtShape(this.shape)} (${this.size} elements), need 1`,
      );
    }
    return this.dataSync()[0];
  }
  /** Nested JS arrays of the elements (a number for 0-d). Mirrors `Tensor.tolist()`. */
  toList(): number | unknown[] {
    const d = this.dataSync();
    if (this.ndim === 0) return d[0];
    const build = (dim: number, off: number): unknown[] => {
      const n = this.shape[dim];
      const out = new Array(n);
      if (dim === this.ndim - 1) {
        for (let i = 0; i < n; i++) out[i] = d[off + i];
        return out;
      }
      const step = sizeOf(this.shape.slice(dim + 1));
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, off + i * step);
      return out;
    };
    return build(0, 0);
  }
  /** A short description: shape, grad state and (up to 20) elements. */
  toString(): string {
    const d = this.backend.isDisposed(this.#storage)
      ? null
      : this.dtype === "float32"
      ? this.dataSync()
      : decodeHalf(this.bitsSync().subarray(0, 21), this.dtype as HalfDType);
    const vals = d === null
      ? "<disposed>"
      : `[${Array.from(d.subarray(0, 20), (v) => Number(v.toPrecision(6))).join(", ")}${
        d.length > 20 ? ", ..." : ""
      }]`;
    const g = this.#gradFn
      ? `, gradFn=${this.#gradFn.name}`
      : this.#requiresGrad
      ? ", requiresGrad=true"
      : "";
    const dt = this.dtype === "float32" ? "" : `, dtype=${this.dtype}`;
    return `Tensor(shape=${fmtShape(this.shape)}${dt}${g}, ${vals})`;
  }

  /**
   * Releases the storage (once no other tensor shares it, e.g. a reshape of this tensor). Using a
   * disposed tensor throws. Needed for prompt release on GPU backends; optional on wasm. Idempotent:
   * disposing the same tensor twice releases its share of the storage once.
   */
  dispose(): void {
    if (this.#released) return;
    this.#released = true;
    const s = this.#storage;
    const r = (storageRefs.get(s) ?? 1) - 1;
    if (r < 0) return;
    storageRefs.set(s, r);
    if (r === 0) {
      this.backend.dispose(s);
      // the op's output is gone: free what the op made for its backward (e.g. a kernel spectrum)
      this.#gradFn?.releaseSaved();
    }
  }
  /** True after the storage was released. */
  get isDisposed(): boolean {
    return this.backend.isDisposed(this.#storage);
  }

  // ---------- placement ----------

  /**
   * This tensor on backend `backend` ("wasm", "webgpu", or a Backend): itself when it already lives
   * there, else a copy there. Differentiable: the gradient is copied back to this tensor's backend.
   * Mirrors `torch.Tensor.to(device)`. Moving a whole model: `module.to(backend)`.
   *
   * Given a {@link DType} ("float32", "bfloat16", "float16") instead, this tensor converted to it
   * (itself when it already has it), as `tensor.to(torch.bfloat16)`: to 16 bits rounds to nearest
   * even; back to float32 is exact. A 16-bit result is outside the autograd graph and cannot require
   * grad; a float32 result of a 16-bit tensor is a new leaf.
   *
   * @throws {RangeError} when `backend` names no registered backend.
   * @throws {TypeError} converting a tensor that requires grad to 16 bits while grad is enabled, a
   *   16-bit tensor to a backend without 16-bit storage (WebGPU: convert with `.float()` first), or to
   *   16 bits on such a backend.
   * @throws {WebGPUError} when reading a WebGPU tensor synchronously is impossible (a browser's
   *   same-thread device: `Tensor.fromArray(await t.data())`-style copies work there).
   * @example
   * ```ts
   * import { tensor } from "./creation.ts";
   * const x = tensor([1, 2, 3]);
   * x.to("wasm") === x; // true: already there
   * ```
   */
  to(backend: BackendLike | DType): Tensor {
    if (isDType(backend)) return this.#cast(backend);
    const target = resolveBackend(backend, "to");
    if (target === this.backend) return this;
    if (this.dtype !== "float32") {
      return new Tensor(this.#halfStorageOn(target, `to("${target.name}")`), this.shape);
    }
    const out = new Tensor(target.fromArray(this.backend.readSync(this.#storage)), this.shape);
    const source = this.backend;
    return recordOp("to", out, [this], (g) => [g.to(source)]);
  }

  /**
   * @internal Moves this tensor's elements to `target` in place (new storage there, the old one
   * released once unshared), keeping its identity, `requiresGrad` and `.grad` (moved too). No
   * autograd; for `Module.to`, which moves parameters like PyTorch's `param.data = param.data.to(d)`.
   */
  _moveTo(target: Backend): void {
    if (this.grad !== null && this.grad.backend !== target) this.grad._moveTo(target);
    if (target === this.backend) return;
    const old = this.#storage;
    const moved = this.dtype === "float32"
      ? target.fromArray(this.backend.readSync(old))
      : this.#halfStorageOn(target, `to("${target.name}")`);
    this.#replaceStorage(moved);
  }

  /** A copy of this 16-bit tensor's storage on `target`, or a one-line error when it has no 16-bit storage. */
  #halfStorageOn(target: Backend, what: string): Storage {
    if (target.fromBits === undefined) {
      throw new TypeError(
        `${what}: the tensor (shape ${
          fmtShape(this.shape)
        }) is ${this.dtype} and the ${target.name} executor ` +
          `holds float32 only; convert with .float() (module.float() for a model) first`,
      );
    }
    return target.fromBits(this.bitsSync(), this.dtype as HalfDType);
  }

  /** Points this tensor at `moved`, releasing the old storage once unshared. */
  #replaceStorage(moved: Storage): void {
    const old = this.#storage;
    this.#storage = moved;
    storageRefs.set(moved, (storageRefs.get(moved) ?? 0) + 1);
    const r = (storageRefs.get(old) ?? 1) - 1;
    storageRefs.set(old, r);
    if (r === 0) old.backend.dispose(old);
  }

  /** This tensor converted to `dtype` (see {@link Tensor.to}). */
  #cast(dtype: DType): Tensor {
    if (dtype === this.dtype) return this;
    return new Tensor(this.#castStorage(dtype, "to"), this.shape);
  }

  /** New storage holding this tensor's values as `dtype` (differs from this dtype). */
  #castStorage(dtype: DType, what: string, checkGrad = true): Storage {
    const bk = this.backend;
    if (dtype === "float32") return bk.fromArray(decodeHalf(this.bitsSync(), this.dtype as HalfDType), true);
    if (checkGrad && isGradEnabled() && this.requiresGrad) {
      throw new TypeError(
        `${what}("${dtype}"): the tensor requires grad and 16-bit tensors carry none; ` +
          `detach() it or convert under noGrad`,
      );
    }
    if (bk.fromBits === undefined) {
      throw new TypeError(`${what}("${dtype}"): the ${bk.name} executor has no 16-bit storage`);
    }
    const f = this.dtype === "float32"
      ? this.dataSync()
      : decodeHalf(this.bitsSync(), this.dtype as HalfDType);
    return bk.fromBits(encodeHalf(f, dtype as HalfDType), dtype as HalfDType, true);
  }

  /** A float32 copy of a 16-bit tensor (itself when already float32). Mirrors `Tensor.float()`. */
  float(): Tensor {
    return this.#cast("float32");
  }

  /**
   * @internal Converts this tensor's elements to `dtype` in place (new storage, the old one released
   * once unshared; zeros instead of the converted values when `keepValues` is false, for storage that
   * a state dict fills next), keeping its identity; a 16-bit result stops requiring grad. No autograd; for
   * `fromPretrained`'s `torchDtype` and `Module.float()` (PyTorch's `param.data = param.data.to(dtype)`).
   */
  _castTo(dtype: DType, keepValues = true): void {
    if (dtype === this.dtype) return;
    const bk = this.backend;
    const moved = keepValues
      ? this.#castStorage(dtype, "_castTo", false)
      : dtype === "float32"
      ? bk.full(this.size)
      : bk.fromBits!(new Uint16Array(this.size), dtype as HalfDType, true);
    if (dtype !== "float32") {
      this.#requiresGrad = false;
      this.grad = null;
    }
    this.#replaceStorage(moved);
  }

  // ---------- autograd ----------

  /**
   * Computes gradients of this tensor with respect to every leaf that requires grad and adds them into
   * their `.grad`. Mirrors `Tensor.backward(gradient, retain_graph, create_graph)`.
   *
   * @param gradient same shape as this tensor; may be omitted only for one-element tensors.
   * @throws {Error} if this tensor does not require grad, if `gradient` is missing for a tensor with
   *   more than one element, or if the graph was freed by an earlier backward.
   * @throws {RangeError} if `gradient` has a different shape.
   */
  backward(gradient?: Tensor, opts?: BackwardOptions): void {
    runBackward(this, gradient, opts);
  }
  /** A tensor sharing this one's storage, outside the graph (`requiresGrad` false). Mirrors `detach()`. */
  detach(): Tensor {
    return new Tensor(this.#storage, this.shape);
  }
  /** A copy with its own storage; differentiable (gradient passes through). Mirrors `clone()`. */
  clone(): Tensor {
    return ew.clone(this);
  }

  // ---------- in-place (no graph; for optimizers and init) ----------

  #checkInPlace(what: string): void {
    if (isGradEnabled() && this.requiresGrad) {
      throw new Error(
        `${what}: in-place modification of a tensor that requires grad (shape ${fmtShape(this.shape)}) ` +
          `while grad is enabled; wrap it in noGrad(() => ...)`,
      );
    }
  }
  /** Sets every element to 0 in place. Mirrors `zero_()`. */
  zero_(): this {
    return this.fill_(0);
  }
  /** Sets every element to `value` in place. Mirrors `fill_()`. */
  fill_(value: number): this {
    this.#checkInPlace("fill_");
    this.backend.fill(this.#storage, value);
    return this;
  }
  /**
   * Copies `src`'s elements into this tensor in place (src broadcast to this shape). Mirrors `copy_()`.
   *
   * @throws {RangeError} when `src` cannot broadcast to this tensor's shape.
   */
  copy_(src: Tensor): this {
    this.#checkInPlace("copy_");
    if (this.dtype !== "float32" || src.dtype !== "float32") {
      // 16-bit on either side: same shape only, values converted (to 16 bits: nearest even)
      if (this.size !== src.size || this.ndim !== src.ndim || this.shape.some((d, i) => d !== src.shape[i])) {
        throw new RangeError(
          `copy_: a ${this.dtype} tensor ${fmtShape(this.shape)} takes values of the same shape only, got ` +
            `${fmtShape(src.shape)}`,
        );
      }
      const f = src.dtype === "float32" ? src.dataSync() : decodeHalf(src.bitsSync(), src.dtype as HalfDType);
      if (this.dtype === "float32") this.dataSync().set(f);
      else this.bitsSync().set(encodeHalf(f, this.dtype as HalfDType));
      return this;
    }
    ew.binaryInPlace("copy", this, src);
    return this;
  }
  /**
   * `this += alpha · other` in place (other broadcast to this shape). Mirrors `add_(other, alpha=)`.
   *
   * @throws {RangeError} when `other` does not broadcast to this shape.
   */
  add_(other: TensorOrScalar, alpha = 1): this {
    this.#checkInPlace("add_");
    const bk = this.backend;
    if (typeof other === "number") bk.binaryScalar("add", this.#storage, other * alpha, false, this.#storage);
    else if (
      other.size === this.size && other.ndim <= this.ndim && other.backend === bk && sameTrailing(other, this)
    ) {
      bk.axpby(this.#storage, 1, other.storage, alpha, this.#storage);
    } else if (alpha === 1) ew.binaryInPlace("add", this, other);
    else ew.binaryInPlace("add", this, ew.mul(other, alpha));
    return this;
  }
  /** `this -= alpha · other` in place. Mirrors `sub_()`. @throws {RangeError} as {@link Tensor.add_}. */
  sub_(other: TensorOrScalar, alpha = 1): this {
    return this.add_(other, -alpha);
  }
  /** `this *= other` in place (other broadcast). Mirrors `mul_()`. */
  mul_(other: TensorOrScalar): this {
    this.#checkInPlace("mul_");
    if (typeof other === "number") {
      this.backend.binaryScalar("mul", this.#storage, other, false, this.#storage);
    } else ew.binaryInPlace("mul", this, other);
    return this;
  }
  /** `this /= other` in place (other broadcast). Mirrors `div_()`. */
  div_(other: TensorOrScalar): this {
    this.#checkInPlace("div_");
    if (typeof other === "number") {
      this.backend.binaryScalar("div", this.#storage, other, false, this.#storage);
    } else ew.binaryInPlace("div", this, other);
    return this;
  }

  // ---------- method sugar (see the functions for docs) ----------

  /** {@link ew.add} */
  add(other: TensorOrScalar): Tensor {
    return ew.add(this, other);
  }
  /** {@link ew.sub} */
  sub(other: TensorOrScalar): Tensor {
    return ew.sub(this, other);
  }
  /** {@link ew.mul} */
  mul(other: TensorOrScalar): Tensor {
    return ew.mul(this, other);
  }
  /** {@link ew.div} */
  div(other: TensorOrScalar): Tensor {
    return ew.div(this, other);
  }
  /** {@link ew.neg} */
  neg(): Tensor {
    return ew.neg(this);
  }
  /** {@link ew.pow} */
  pow(exponent: number): Tensor {
    return ew.pow(this, exponent);
  }
  /** {@link ew.square} */
  square(): Tensor {
    return ew.square(this);
  }
  /** {@link ew.exp} */
  exp(): Tensor {
    return ew.exp(this);
  }
  /** {@link ew.log} */
  log(): Tensor {
    return ew.log(this);
  }
  /** {@link ew.sqrt} */
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  /** {@link ew.rsqrt} */
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  /** {@link ew.abs} */
  abs(): Tensor {
    return ew.abs(this);
  }
  /** {@link act.tanh} */
  tanh(): Tensor {
    return act.tanh(this);
  }
  /** {@link act.sigmoid} */
  sigmoid(): Tensor {
    return act.sigmoid(this);
  }
  /** {@link act.relu} */
  relu(): Tensor {
    return act.relu(this);
  }
  /** {@link act.gelu} */
  gelu(opts?: act.GeluOptions): Tensor {
    return act.gelu(this, opts);
  }
  /** {@link act.silu} */
  silu(): Tensor {
    return act.silu(this);
  }
  /** {@link red.sum} */
  sum(axes?: number | readonly number[], keepDim = false): Tensor {
    return red.sum(this, axes, keepDim);
  }
  /** {@link red.mean} */
  mean(axes?: number | readonly number[], keepDim = false): Tensor {
    return red.mean(this, axes, keepDim);
  }
  /** {@link red.max} */
  max(axes?: number | readonly number[], keepDim = false): Tensor {
    return red.max(this, axes, keepDim);
  }
  /** {@link red.min} */
  min(axes?: number | readonly number[], keepDim = false): Tensor {
    return red.min(this, axes, keepDim);
  }
  /** {@link shp.reshape} */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return shp.reshape(this, shp.shapeArg(shape));
  }
  /** {@link shp.view} */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return shp.reshape(this, shp.shapeArg(shape));
  }
  /** {@link shp.flatten} */
  flatten(startDim = 0, endDim = -1): Tensor {
    return shp.flatten(this, startDim, endDim);
  }
  /** {@link shp.squeeze} */
  squeeze(axis?: number): Tensor {
    return shp.squeeze(this, axis);
  }
  /** {@link shp.unsqueeze} */
  unsqueeze(axis: number): Tensor {
    return shp.unsqueeze(this, axis);
  }
  /** {@link shp.transpose} */
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return shp.transpose(this, dim0, dim1);
  }
  /** 2-D transpose (`transpose(0, 1)`); mirrors `Tensor.t()`. */
  t(): Tensor {
    return shp.transpose(this, 0, 1);
  }
  /** {@link shp.permute} */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return shp.permute(this, shp.shapeArg(dims));
  }
  /** {@link shp.slice} */
  slice(axis: number, start: number, end?: number): Tensor {
    return shp.slice(this, axis, start, end);
  }
  /** {@link shp.expand} */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return shp.expand(this, shp.shapeArg(shape));
  }
  /** {@link mm.matmul} */
  matmul(other: Tensor): Tensor {
    return mm.matmul(this, other);
  }
  /** {@link sm.softmax} */
  softmax(axis = -1): Tensor {
    return sm.softmax(this, axis);
  }
  /** {@link sm.logSoftmax} */
  logSoftmax(axis = -1): Tensor {
    return sm.logSoftmax(this, axis);
  }
}

function sameTrailing(a: Tensor, b: Tensor): boolean {
  const off = b.ndim - a.ndim;
  for (let i = 0; i < a.ndim; i++) if (a.shape[i] !== b.shape[i + off]) return false;
  return true;
}

/** Keeps `t` (and its gradient) out of any enclosing `tidy` disposal; returns `t`. */
export function keepTensor(t: Tensor): Tensor {
  return keep(t);
}

/** Returns the backend of the first tensor argument, else the current default backend. */
export function backendOf(...ts: Array<Tensor | number | undefined>): Backend {
  for (const t of ts) if (t instanceof Tensor) return t.backend;
  return getBackend();
}
