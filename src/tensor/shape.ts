/**
 * Shape arithmetic shared by every op: sizes, contiguous strides, NumPy broadcasting, axis
 * normalisation. Plain numbers only, so every backend uses the same checks.
 *
 * @module
 */

/** A tensor shape: one non-negative integer per dimension, outermost first (row-major). */
export type Shape = readonly number[];

/** Formats a shape the way error messages print it: `[2, 3]`. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Number of elements of `shape` (1 for a scalar shape `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** Row-major (C-contiguous) element strides of `shape`. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Validates a shape given by a user: every entry a non-negative integer.
 *
 * @throws {RangeError} naming the shape when an entry is negative, fractional or not finite.
 */
export function checkShape(shape: Shape, what = "shape"): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${what} ${fmtShape(shape)}: every dimension must be an integer >= 0`);
    }
  }
  return shape.slice();
}

/** True when the two shapes are identical. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * NumPy/PyTorch broadcasting of two shapes: align trailing dimensions; each pair must be equal or
 * one of them 1.
 *
 * @throws {RangeError} naming both shapes when they cannot be broadcast.
 */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else {
      throw new RangeError(
        `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together ` +
          `(dimension ${i - n} has sizes ${da} and ${db})`,
      );
    }
  }
  return out;
}

/**
 * Element strides that read a tensor of shape `shape` as if it had the (broadcast) shape `target`:
 * stride 0 along broadcast dimensions.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const st = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  const off = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[i + off] = shape[i] === 1 ? 0 : st[i];
  return out;
}

/**
 * Normalises a possibly negative axis (`-1` = last) for a tensor with `ndim` dimensions.
 *
 * @throws {RangeError} naming the axis and the valid range when it is out of range or not an integer.
 */
export function normAxis(axis: number, ndim: number, shape?: Shape): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= ndim) {
    const s = shape ? ` of a tensor with shape ${fmtShape(shape)}` : "";
    throw new RangeError(`axis ${axis} is out of range [${-ndim}, ${ndim - 1}]${s}`);
  }
  return a;
}

/**
 * Normalises an axis list (undefined = all axes), sorted ascending, duplicates rejected.
 *
 * @throws {RangeError} for out-of-range or repeated axes.
 */
export function normAxes(axes: number | readonly number[] | undefined, shape: Shape): number[] {
  const ndim = shape.length;
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out = list.map((a) => normAxis(a, ndim, shape));
  out.sort((x, y) => x - y);
  for (let i = 1; i < out.length; i++) {
    if (out[i] === out[i - 1]) {
      throw new RangeError(
        `axis ${out[i]} appears twice in [${list.join(", ")}] for shape ${fmtShape(shape)}`,
      );
    }
  }
  return out;
}
