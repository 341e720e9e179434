/**
 * Shape and layout ops with autograd: reshape/view, flatten, squeeze/unsqueeze, transpose, permute,
 * slice, expand (broadcastTo), concat, stack, split. Tensors are always contiguous: reshape shares
 * storage (a view), the others copy through the backend's strided-copy kernel.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { Tensor } from "../tensor/tensor.ts";
import { sameBackend } from "../tensor/placement.ts";
import { checkShape, fmtShape, normAxis, type Shape, sizeOf, stridesOf } from "../tensor/shape.ts";
import { sumToShape } from "./reduce.ts";

/** Accepts `f(2, 3)` and `f([2, 3])` argument styles; returns the shape list. */
export function shapeArg(args: number[] | [readonly number[]]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return (args[0] as readonly number[]).slice();
  return args as number[];
}

/**
 * Same elements in a new shape (row-major order unchanged). One entry may be `-1` (inferred).
 * Shares storage with `x` (writes through one show in the other), like `torch.reshape` on a
 * contiguous tensor / `Tensor.view`.
 *
 * @throws {RangeError} naming both shapes when the element counts differ, or for more than one -1.
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === -1) {
      if (infer >= 0) throw new RangeError(`reshape: only one dimension can be -1, got ${fmtShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `reshape: invalid shape ${fmtShape(shape)} (dimensions must be integers >= 0 or -1)`,
      );
    } else known *= d;
  }
  const target = shape.slice();
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) {
      throw new RangeError(
        `reshape: cannot reshape a tensor of shape ${fmtShape(x.shape)} into ${fmtShape(shape)}`,
      );
    }
    target[infer] = x.size / known;
  } else if (known !== x.size) {
    throw new RangeError(
      `reshape: shape ${fmtShape(shape)} (${known} elements) is invalid for a tensor of shape ` +
        `${fmtShape(x.shape)} (${x.size} elements)`,
    );
  }
  const out = Tensor.fromStorage(x.storage, target);
  return recordOp("reshape", out, [x], (g) => [reshape(g, x.shape)]);
}

/** Alias of {@link reshape} (all tensors are contiguous). Mirrors `Tensor.view`. */
export function view(x: Tensor, shape: Shape): Tensor {
  return reshape(x, shape);
}

/**
 * Merges dimensions `startDim..endDim` (inclusive, negative allowed) into one. Mirrors `torch.flatten`.
 *
 * @throws {RangeError} for bad dimensions.
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis(startDim, x.ndim, x.shape), e = normAxis(endDim, x.ndim, x.shape);
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/**
 * Removes dimension `axis` if it has size 1 (or every size-1 dimension when `axis` is omitted).
 * Mirrors `torch.squeeze`.
 *
 * @throws {RangeError} for an out-of-range axis.
 */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis(axis, x.ndim, x.shape);
  if (x.shape[a] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/**
 * Inserts a size-1 dimension at `axis` (in `[-ndim-1, ndim]`). Mirrors `torch.unsqueeze`.
 *
 * @throws {RangeError} for an out-of-range axis.
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.ndim + 1, x.shape);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/**
 * Reorders dimensions: `out.shape[i] = x.shape[dims[i]]`. Copies. Mirrors `torch.permute`.
 *
 * @throws {RangeError} when `dims` is not a permutation of the axes of `x`.
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) {
    throw new RangeError(
      `permute: dims [${dims.join(", ")}] do not match a tensor of shape ${fmtShape(x.shape)}`,
    );
  }
  const p = dims.map((d) => normAxis(d, x.ndim, x.shape));
  if (new Set(p).size !== p.length) throw new RangeError(`permute: dims [${dims.join(", ")}] repeat an axis`);
  let identity = true;
  for (let i = 0; i < p.length; i++) if (p[i] !== i) identity = false;
  if (identity) return reshape(x, x.shape);
  const xs = stridesOf(x.shape);
  const shape = p.map((d) => x.shape[d]);
  const st = x.backend.full(x.size);
  x.backend.copyStrided(x.storage, 0, p.map((d) => xs[d]), st, 0, stridesOf(shape), shape);
  const out = Tensor.fromStorage(st, shape);
  const inv = new Array<number>(p.length);
  for (let i = 0; i < p.length; i++) inv[p[i]] = i;
  return recordOp("permute", out, [x], (g) => [permute(g, inv)]);
}

/**
 * Swaps two dimensions (default the last two). Copies. Mirrors `torch.transpose(x, dim0, dim1)`.
 *
 * @throws {RangeError} for out-of-range dimensions.
 */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normAxis(dim0, x.ndim, x.shape), b = normAxis(dim1, x.ndim, x.shape);
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  p[a] = b;
  p[b] = a;
  return permute(x, p);
}

/**
 * Elements `start <= i < end` along `axis` (Python slice semantics: negative indices count from the
 * end, out-of-range bounds clamp, `end` defaults to the size). Copies. Mirrors `x.narrow` / `x[..., a:b]`.
 *
 * @throws {RangeError} for an out-of-range axis or non-integer bounds.
 */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normAxis(axis, x.ndim, x.shape);
  const n = x.shape[a];
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new RangeError(`slice: start/end must be integers, got ${start}, ${end}`);
  }
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clamp(start), e = Math.max(clamp(end ?? n), s);
  if (s === 0 && e === n) return reshape(x, x.shape);
  const shape = x.shape.slice();
  shape[a] = e - s;
  const xs = stridesOf(x.shape);
  const st = x.backend.full(sizeOf(shape));
  x.backend.copyStrided(x.storage, s * xs[a], xs, st, 0, stridesOf(shape), shape);
  const out = Tensor.fromStorage(st, shape);
  return recordOp("slice", out, [x], (g) => {
    const gs = g.backend.full(x.size);
    g.backend.copyStrided(g.storage, 0, stridesOf(shape), gs, s * xs[a], xs, shape);
    return [Tensor.fromStorage(gs, x.shape)];
  });
}

/**
 * Broadcasts `x` to `shape` (trailing alignment; size-1 dimensions repeat; `-1` keeps a size).
 * Materialises the result. Gradient sums back. Mirrors `Tensor.expand` / `torch.broadcast_to`.
 *
 * @throws {RangeError} naming both shapes when `x` cannot be broadcast to `shape`.
 */
export function expand(x: Tensor, shape: Shape): Tensor {
  const off = shape.length - x.ndim;
  if (off < 0) {
    throw new RangeError(
      `expand: cannot expand shape ${fmtShape(x.shape)} to fewer dimensions ${fmtShape(shape)}`,
    );
  }
  const target = shape.map((d, i) => (d === -1 && i >= off ? x.shape[i - off] : d));
  checkShape(target, "expand target");
  const xs = stridesOf(x.shape);
  const srcStr = new Array<number>(target.length).fill(0);
  let same = off === 0;
  for (let i = 0; i < x.ndim; i++) {
    const d = x.shape[i], t = target[i + off];
    if (d === t) srcStr[i + off] = xs[i];
    else if (d === 1) same = false;
    else {
      throw new RangeError(
        `expand: the size of dimension ${i} (${d}) of shape ${fmtShape(x.shape)} must match ${t} ` +
          `in ${fmtShape(target)} or be 1`,
      );
    }
  }
  if (same) return reshape(x, target);
  const st = x.backend.full(sizeOf(target));
  x.backend.copyStrided(x.storage, 0, srcStr, st, 0, stridesOf(target), target);
  const out = Tensor.fromStorage(st, target);
  return recordOp("expand", out, [x], (g) => [sumToShape(g, x.shape)]);
}

/** Alias of {@link expand}. Mirrors `torch.broadcast_to`. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  return expand(x, shape);
}

/**
 * Joins tensors along `axis`; all other dimensions must match. Mirrors `torch.cat`.
 *
 * @throws {RangeError} for an empty list, different ranks, mismatching sizes or a bad axis.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("concat: needs at least one tensor");
  const first = tensors[0];
  const a = normAxis(axis, first.ndim, first.shape);
  let total = 0;
  for (const t of tensors) {
    let ok = t.ndim === first.ndim;
    for (let i = 0; ok && i < t.ndim; i++) if (i !== a && t.shape[i] !== first.shape[i]) ok = false;
    if (!ok) {
      throw new RangeError(
        `concat: shapes ${tensors.map((x) => fmtShape(x.shape)).join(", ")} differ outside axis ${axis}`,
      );
    }
    if (t.backend !== first.backend) {
      sameBackend("concat", { "tensors[0]": first, [`tensors[${tensors.indexOf(t)}]`]: t });
    }
    total += t.shape[a];
  }
  const shape = first.shape.slice();
  shape[a] = total;
  const os = stridesOf(shape);
  const st = first.backend.full(sizeOf(shape));
  const offsets: number[] = [];
  let pos = 0;
  for (const t of tensors) {
    offsets.push(pos);
    first.backend.copyStrided(t.storage, 0, stridesOf(t.shape), st, pos * os[a], os, t.shape);
    pos += t.shape[a];
  }
  const out = Tensor.fromStorage(st, shape);
  return recordOp(
    "concat",
    out,
    tensors,
    (g, n) => tensors.map((t, i) => (n[i] ? slice(g, a, offsets[i], offsets[i] + t.shape[a]) : null)),
  );
}

/**
 * Stacks equally shaped tensors along a new dimension `axis`. Mirrors `torch.stack`.
 *
 * @throws {RangeError} for an empty list or differing shapes.
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("stack: needs at least one tensor");
  const a = normAxis(axis, tensors[0].ndim + 1, tensors[0].shape);
  for (const t of tensors) {
    if (fmtShape(t.shape) !== fmtShape(tensors[0].shape)) {
      throw new RangeError(`stack: shapes ${tensors.map((x) => fmtShape(x.shape)).join(", ")} differ`);
    }
  }
  return concat(tensors.map((t) => unsqueeze(t, a)), a);
}

/**
 * Splits along `axis` into pieces of `sizeOrSections` elements (the last may be smaller) or of the
 * listed sizes. Mirrors `torch.split`.
 *
 * @throws {RangeError} when listed sizes do not add up to the axis size.
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis(axis, x.ndim, x.shape);
  const n = x.shape[a];
  let sizes: number[];
  if (typeof sizeOrSections === "number") {
    if (!(sizeOrSections > 0) || !Number.isInteger(sizeOrSections)) {
      throw new RangeError(`split: size must be a positive integer, got ${sizeOrSections}`);
    }
    sizes = [];
    for (let p = 0; p < n; p += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - p));
  } else {
    sizes = sizeOrSections.slice();
    const s = sizes.reduce((u, v) => u + v, 0);
    if (s !== n) {
      throw new RangeError(`split: sizes [${sizes.join(", ")}] add up to ${s}, axis ${axis} has ${n}`);
    }
  }
  const out: Tensor[] = [];
  let p = 0;
  for (const s of sizes) {
    out.push(slice(x, a, p, p + s));
    p += s;
  }
  return out;
}
