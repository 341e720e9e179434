/**
 * Tensor creation: {@link tensor} from JS data, {@link fromFloat32Array} (zero-copy), {@link zeros},
 * {@link ones}, {@link full}, {@link arange}, {@link eye} and the `*Like` variants. All float32,
 * row-major, on the current backend (`getBackend()`).
 *
 * @module
 */

import { getBackend } from "../backend/backend.ts";
import { Tensor } from "./tensor.ts";
import { checkShape, fmtShape, type Shape, sizeOf } from "./shape.ts";

/** Options accepted by creation functions. */
export interface CreationOptions {
  /** Make the new (leaf) tensor require grad. Default false. */
  requiresGrad?: boolean;
}

/** Nested JS arrays of numbers (any depth, rectangular). */
export type NestedArray = number | readonly NestedArray[];

function finish(t: Tensor, opts?: CreationOptions): Tensor {
  if (opts?.requiresGrad) t.requiresGrad = true;
  return t;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flattenInto(
  data: NestedArray,
  shape: number[],
  dim: number,
  out: Float32Array,
  pos: number,
): number {
  if (dim === shape.length) {
    if (typeof data !== "number") {
      throw new RangeError(
        `tensor: ragged nested array (expected a number at depth ${dim} for shape ${fmtShape(shape)})`,
      );
    }
    out[pos] = data;
    return pos + 1;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new RangeError(
      `tensor: ragged nested array: expected length ${shape[dim]} at depth ${dim} for shape ${
        fmtShape(shape)
      }`,
    );
  }
  for (const v of data) pos = flattenInto(v, shape, dim + 1, out, pos);
  return pos;
}

/**
 * A new tensor holding a copy of `data`: a Float32Array or flat number[] (shape defaults to
 * `[length]`), a nested rectangular array (shape inferred; `shape`, if given, reshapes it), or a
 * number (0-d). Mirrors `torch.tensor(data)` (which also copies).
 *
 * @throws {RangeError} when `shape`'s element count differs from the data length, the shape is
 *   invalid, or a nested array is ragged.
 * @example
 * ```ts
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);           // [2, 3]
 * const y = tensor(new Float32Array(6), [3, 2]);      // [3, 2]
 * ```
 */
export function tensor(
  data: Float32Array | ArrayLike<number> | NestedArray,
  shape?: Shape,
  opts?: CreationOptions,
): Tensor {
  let flat: Float32Array;
  let inferred: number[];
  if (typeof data === "number") {
    flat = new Float32Array([data]);
    inferred = [];
  } else if (data instanceof Float32Array) {
    flat = data.slice();
    inferred = [data.length];
  } else if (Array.isArray(data) && data.length > 0 && Array.isArray(data[0])) {
    inferred = inferShape(data as NestedArray);
    flat = new Float32Array(sizeOf(inferred));
    flattenInto(data as NestedArray, inferred, 0, flat, 0);
  } else {
    const arr = data as ArrayLike<number>;
    flat = Float32Array.from(arr);
    inferred = [arr.length];
  }
  const s = shape ? checkShape(shape) : inferred;
  if (sizeOf(s) !== flat.length) {
    throw new RangeError(`tensor: shape ${fmtShape(s)} needs ${sizeOf(s)} elements, data has ${flat.length}`);
  }
  return finish(Tensor.fromStorage(getBackend().fromArray(flat, true), s), opts);
}

/**
 * A tensor that takes ownership of `data` without copying (on the wasm backend the array becomes the
 * storage: later writes to it change the tensor). Mirrors `torch.from_numpy`.
 *
 * @throws {RangeError} when the shape's element count differs from `data.length`.
 */
export function fromFloat32Array(
  data: Float32Array,
  shape: Shape = [data.length],
  opts?: CreationOptions,
): Tensor {
  const s = checkShape(shape);
  if (sizeOf(s) !== data.length) {
    throw new RangeError(
      `fromFloat32Array: shape ${fmtShape(s)} needs ${sizeOf(s)} elements, data has ${data.length}`,
    );
  }
  return finish(Tensor.fromStorage(getBackend().fromArray(data, true), s), opts);
}

/**
 * A tensor of `shape` filled with `value`. Mirrors `torch.full`.
 *
 * @throws {RangeError} for an invalid shape.
 */
export function full(shape: Shape, value: number, opts?: CreationOptions): Tensor {
  const s = checkShape(shape);
  return finish(Tensor.fromStorage(getBackend().full(sizeOf(s), value), s), opts);
}

/** Zeros of `shape`. Mirrors `torch.zeros`. @throws {RangeError} for an invalid shape. */
export function zeros(shape: Shape, opts?: CreationOptions): Tensor {
  return full(shape, 0, opts);
}

/** Ones of `shape`. Mirrors `torch.ones`. @throws {RangeError} for an invalid shape. */
export function ones(shape: Shape, opts?: CreationOptions): Tensor {
  return full(shape, 1, opts);
}

/** Zeros with `t`'s shape (on `t`'s backend). Mirrors `torch.zeros_like`. */
export function zerosLike(t: Tensor, opts?: CreationOptions): Tensor {
  return finish(Tensor.fromStorage(t.backend.full(t.size, 0), t.shape), opts);
}

/** Ones with `t`'s shape (on `t`'s backend). Mirrors `torch.ones_like`. */
export function onesLike(t: Tensor, opts?: CreationOptions): Tensor {
  return finish(Tensor.fromStorage(t.backend.full(t.size, 1), t.shape), opts);
}

/** `value` with `t`'s shape (on `t`'s backend). Mirrors `torch.full_like`. */
export function fullLike(t: Tensor, value: number, opts?: CreationOptions): Tensor {
  return finish(Tensor.fromStorage(t.backend.full(t.size, value), t.shape), opts);
}

/**
 * 1-D tensor `[start, start+step, ...)` up to (excluding) `end`; `arange(n)` is `0..n-1`. Mirrors
 * `torch.arange` (length `ceil((end − start) / step)`).
 *
 * @throws {RangeError} when `step` is 0 or not finite, or a bound is not finite.
 */
export function arange(start: number, end?: number, step = 1, opts?: CreationOptions): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (!Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(step) || step === 0) {
    throw new RangeError(`arange: bounds must be finite and step nonzero, got (${start}, ${end}, ${step})`);
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = start + i * step;
  return fromFloat32Array(d, [n], opts);
}

/** `n x m` identity (m defaults to n). Mirrors `torch.eye`. @throws {RangeError} for bad sizes. */
export function eye(n: number, m = n, opts?: CreationOptions): Tensor {
  const s = checkShape([n, m]);
  const d = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) d[i * m + i] = 1;
  return fromFloat32Array(d, s, opts);
}
