/**
 * Reductions with autograd: sum, mean, max, min over any axes (`keepDim` as in PyTorch), and
 * {@link sumToShape}, the gradient helper that undoes broadcasting.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { Tensor } from "../tensor/tensor.ts";
import { broadcastStrides, fmtShape, normAxes, type Shape, shapesEqual } from "../tensor/shape.ts";
import { expand, reshape } from "./shape.ts";
import { binaryRaw, div, mul } from "./elementwise.ts";

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  const out = shape.slice();
  for (const a of axes) out[a] = 1;
  return out;
}

function outShape(shape: Shape, axes: readonly number[], keepDim: boolean): number[] {
  if (keepDim) return keptShape(shape, axes);
  const set = new Set(axes);
  return shape.filter((_, i) => !set.has(i));
}

function resolveAxes(x: Tensor, axes: number | readonly number[] | undefined): number[] {
  if (Array.isArray(axes) && axes.length === 0) return normAxes(undefined, x.shape);
  return normAxes(axes as number | readonly number[] | undefined, x.shape);
}

/**
 * Sum over `axes` (default: all; negative axes count from the end; `[]` means all, as in PyTorch).
 * Shape: `x.shape` without the reduced axes, or with them set to 1 when `keepDim`. Accumulates in
 * float64. Mirrors `torch.sum(x, dim, keepdim)`.
 *
 * @throws {RangeError} for out-of-range or repeated axes.
 */
export function sum(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  const ax = resolveAxes(x, axes);
  const st = x.backend.reduce("sum", x.storage, x.shape, ax);
  const out = Tensor.fromStorage(st, outShape(x.shape, ax, keepDim));
  return recordOp("sum", out, [x], (g) => [expand(reshape(g, keptShape(x.shape, ax)), x.shape)]);
}

/**
 * Mean over `axes` (default all), shapes as {@link sum}. The mean of an empty selection is NaN.
 * Mirrors `torch.mean(x, dim, keepdim)`.
 *
 * @throws {RangeError} for out-of-range or repeated axes.
 */
export function mean(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  const ax = resolveAxes(x, axes);
  let count = 1;
  for (const a of ax) count *= x.shape[a];
  return div(sum(x, ax, keepDim), count);
}

function extremum(
  op: "max" | "min",
  x: Tensor,
  axes: number | readonly number[] | undefined,
  keepDim: boolean,
) {
  const ax = resolveAxes(x, axes);
  if (x.size === 0) {
    throw new RangeError(`${op}(): cannot reduce an empty tensor of shape ${fmtShape(x.shape)}`);
  }
  const kept = keptShape(x.shape, ax);
  const st = x.backend.reduce(op, x.storage, x.shape, ax);
  const out = Tensor.fromStorage(st, outShape(x.shape, ax, keepDim));
  return recordOp(op, out, [x], (g) => {
    const m = Tensor.fromStorage(out.storage, kept);
    const mask = binaryRaw("eq", x, m);
    const count = Tensor.fromStorage(x.backend.reduce("sum", mask.storage, x.shape, ax), kept);
    return [mul(mask, div(reshape(g, kept), count))];
  });
}

/**
 * Maximum over `axes` (default all), shapes as {@link sum}; NaN propagates. The gradient is split
 * evenly between tied maxima (PyTorch's `amax` rule). Returns values only (no indices). Mirrors
 * `torch.amax(x, dim, keepdim)`.
 *
 * @throws {RangeError} for bad axes or an empty tensor.
 */
export function max(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  return extremum("max", x, axes, keepDim);
}

/** Minimum over `axes`; see {@link max}. Mirrors `torch.amin`. @throws {RangeError} as {@link max}. */
export function min(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  return extremum("min", x, axes, keepDim);
}

/**
 * Sums a gradient `g` (of a broadcast result) back to `shape`, the shape of an operand that was
 * broadcast: leading extra dimensions are summed away, dimensions where `shape` has 1 are summed with
 * keepDim. Returns `g` itself when the shapes already match. Differentiable.
 *
 * @throws {RangeError} when `shape` does not broadcast to `g.shape`.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  broadcastStrides(shape, g.shape);
  const lead = g.ndim - shape.length;
  if (lead < 0) {
    throw new RangeError(
      `sumToShape: ${fmtShape(shape)} has more dimensions than the gradient ${fmtShape(g.shape)}`,
    );
  }
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== g.shape[i]) {
      throw new RangeError(`sumToShape: ${fmtShape(shape)} does not broadcast to ${fmtShape(g.shape)}`);
    }
  }
  const s = axes.length > 0 ? sum(g, axes, true) : g;
  return reshape(s, shape);
}
