/**
 * Elementwise arithmetic with NumPy/PyTorch broadcasting and autograd: add, sub, mul, div, neg,
 * pow (scalar exponent), square, exp, log, sqrt, rsqrt, abs, clone, comparisons; plus the generic
 * helpers {@link unaryOp} and {@link binaryInPlace} other op files build on.
 *
 * Every binary op accepts a JS number for either operand (a 0-d scalar that broadcasts). Gradients of
 * broadcast operands are summed back to the operand's shape.
 *
 * @module
 */

import type { BinaryOp, UnaryOp } from "../backend/backend.ts";
import { recordOp } from "../autograd/engine.ts";
import { Tensor, type TensorOrScalar } from "../tensor/tensor.ts";
import { broadcastShapes, broadcastStrides, fmtShape, shapesEqual, stridesOf } from "../tensor/shape.ts";
import { sumToShape } from "./reduce.ts";
import { sameBackend } from "../tensor/placement.ts";

/** Non-differentiable broadcasting binary kernel on two tensors. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameBackend(op, { a, b });
  const shape = shapesEqual(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape);
  const st = a.backend.binary(
    op,
    a.storage,
    b.storage,
    shape,
    broadcastStrides(a.shape, shape),
    broadcastStrides(b.shape, shape),
  );
  return Tensor.fromStorage(st, shape);
}

/** Non-differentiable `op(x, s)` (or `op(s, x)` when `reverse`). */
export function scalarRaw(op: BinaryOp, x: Tensor, s: number, reverse = false): Tensor {
  return Tensor.fromStorage(x.backend.binaryScalar(op, x.storage, s, reverse), x.shape);
}

function asPair(a: TensorOrScalar, b: TensorOrScalar, what: string): void {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new TypeError(`${what}: at least one operand must be a Tensor, got ${typeof a} and ${typeof b}`);
  }
}

/**
 * `a + b` elementwise with broadcasting. Shapes: any two broadcastable shapes → the broadcast shape.
 * Mirrors `torch.add`.
 *
 * @throws {RangeError} naming both shapes when they do not broadcast.
 */
export function add(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  asPair(a, b, "add");
  if (typeof b === "number") {
    const x = a as Tensor;
    return recordOp("add", scalarRaw("add", x, b), [x], (g) => [g]);
  }
  if (typeof a === "number") return add(b, a);
  const out = binaryRaw("add", a, b);
  return recordOp("add", out, [a, b], (g, n) => [
    n[0] ? sumToShape(g, a.shape) : null,
    n[1] ? sumToShape(g, b.shape) : null,
  ]);
}

/** `a − b` elementwise with broadcasting. Mirrors `torch.sub`. @throws {RangeError} as {@link add}. */
export function sub(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  asPair(a, b, "sub");
  if (typeof b === "number") {
    const x = a as Tensor;
    return recordOp("sub", scalarRaw("sub", x, b), [x], (g) => [g]);
  }
  if (typeof a === "number") {
    return recordOp("rsub", scalarRaw("sub", b, a, true), [b], (g) => [neg(g)]);
  }
  const out = binaryRaw("sub", a, b);
  return recordOp("sub", out, [a, b], (g, n) => [
    n[0] ? sumToShape(g, a.shape) : null,
    n[1] ? sumToShape(neg(g), b.shape) : null,
  ]);
}

/** `a · b` elementwise with broadcasting. Mirrors `torch.mul`. @throws {RangeError} as {@link add}. */
export function mul(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  asPair(a, b, "mul");
  if (typeof b === "number") {
    const x = a as Tensor;
    return recordOp("mul", scalarRaw("mul", x, b), [x], (g) => [mul(g, b)]);
  }
  if (typeof a === "number") return mul(b, a);
  const out = binaryRaw("mul", a, b);
  return recordOp("mul", out, [a, b], (g, n) => [
    n[0] ? sumToShape(mul(g, b), a.shape) : null,
    n[1] ? sumToShape(mul(g, a), b.shape) : null,
  ]);
}

/** `a / b` elementwise with broadcasting (IEEE: x/0 = ±Inf). Mirrors `torch.div`. */
export function div(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  asPair(a, b, "div");
  if (typeof b === "number") {
    const x = a as Tensor;
    return recordOp("div", scalarRaw("div", x, b), [x], (g) => [div(g, b)]);
  }
  if (typeof a === "number") {
    const out = scalarRaw("div", b, a, true);
    // d(s/x)/dx = -s/x² = -out/x
    return recordOp("rdiv", out, [b], (g) => [neg(div(mul(g, out), b))]);
  }
  const out = binaryRaw("div", a, b);
  return recordOp("div", out, [a, b], (g, n) => {
    const ga = div(g, b);
    return [
      n[0] ? sumToShape(ga, a.shape) : null,
      n[1] ? sumToShape(neg(mul(ga, out)), b.shape) : null,
    ];
  });
}

/**
 * A differentiable elementwise unary op run by the backend's `unary` kernel, with gradient from its
 * `unaryGrad` kernel. Used by the named functions here and in activation.ts.
 */
export function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary(op, x.storage), x.shape);
  return recordOp(op, out, [x], (g) => [unaryGradOp(op, x, out, g)]);
}

// The gradient kernel is not itself recorded: ops built on unaryOp (tanh, sigmoid, relu, gelu, silu)
// support first-order gradients only (createGraph gives no second derivative through them).
function unaryGradOp(op: UnaryOp, x: Tensor, y: Tensor, g: Tensor): Tensor {
  return Tensor.fromStorage(x.backend.unaryGrad(op, x.storage, y.storage, g.storage), x.shape);
}

/** `−x`. Mirrors `torch.neg`. */
export function neg(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("neg", x.storage), x.shape);
  return recordOp("neg", out, [x], (g) => [neg(g)]);
}

/**
 * `x ** exponent` for a scalar exponent (x < 0 with a fractional exponent gives NaN, as in PyTorch).
 * Gradient `exponent · x^(exponent−1)`. Mirrors `torch.pow(tensor, number)`.
 *
 * @throws {TypeError} when `exponent` is not a number.
 */
export function pow(x: Tensor, exponent: number): Tensor {
  if (typeof exponent !== "number") {
    throw new TypeError(`pow: exponent must be a number, got ${typeof exponent}`);
  }
  const out = scalarRaw("pow", x, exponent);
  return recordOp("pow", out, [x], (g) => {
    if (exponent === 0) return [mul(g, 0)];
    if (exponent === 1) return [g];
    if (exponent === 2) return [mul(g, mul(x, 2))];
    return [mul(g, mul(pow(x, exponent - 1), exponent))];
  });
}

/** `x²`. Mirrors `torch.square`. */
export function square(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("square", x.storage), x.shape);
  return recordOp("square", out, [x], (g) => [mul(g, mul(x, 2))]);
}

/** `eˣ`. Mirrors `torch.exp`. */
export function exp(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("exp", x.storage), x.shape);
  return recordOp("exp", out, [x], (g) => [mul(g, out)]);
}

/** Natural logarithm (log 0 = −Inf, log of negatives NaN). Mirrors `torch.log`. */
export function log(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("log", x.storage), x.shape);
  return recordOp("log", out, [x], (g) => [div(g, x)]);
}

/** Square root. Mirrors `torch.sqrt`. */
export function sqrt(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("sqrt", x.storage), x.shape);
  return recordOp("sqrt", out, [x], (g) => [div(mul(g, 0.5), out)]);
}

/** `1/√x`. Mirrors `torch.rsqrt`. */
export function rsqrt(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("rsqrt", x.storage), x.shape);
  return recordOp("rsqrt", out, [x], (g) => [mul(g, mul(pow(out, 3), -0.5))]);
}

/** `|x|` (gradient sign(x), 0 at 0 as in PyTorch). Mirrors `torch.abs`. */
export function abs(x: Tensor): Tensor {
  const out = Tensor.fromStorage(x.backend.unary("abs", x.storage), x.shape);
  return recordOp(
    "abs",
    out,
    [x],
    (g) => [mul(g, Tensor.fromStorage(x.backend.unary("sign", x.storage), x.shape))],
  );
}

/** A copy with its own storage; gradient passes through unchanged. Mirrors `Tensor.clone()`. */
export function clone(x: Tensor): Tensor {
  if (x.dtype !== "float32") {
    // 16-bit storage: a copy of the bits (never requires grad, so no graph)
    return Tensor.fromStorage(x.backend.fromBits!(x.bitsSync(), x.dtype), x.shape);
  }
  const st = x.backend.full(x.size);
  x.backend.copy(x.storage, st);
  return recordOp("clone", Tensor.fromStorage(st, x.shape), [x], (g) => [g]);
}

/**
 * Elementwise maximum of two tensors with broadcasting; the gradient goes to the larger operand (split
 * equally on ties, as `torch.maximum`). Mirrors `torch.maximum`.
 */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return minMax("max", a, b);
}

/** Elementwise minimum with broadcasting; see {@link maximum}. Mirrors `torch.minimum`. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return minMax("min", a, b);
}

function minMax(op: "max" | "min", a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw(op, a, b);
  return recordOp(op === "max" ? "maximum" : "minimum", out, [a, b], (g, n) => {
    const cmp = op === "max" ? "gt" : "lt";
    const ge = binaryRaw(cmp, a, b), eq = binaryRaw("eq", a, b);
    const wa = add(ge, mul(eq, 0.5)); // 1 where a wins, 0.5 on ties
    const wb = sub(1, wa);
    return [n[0] ? sumToShape(mul(g, wa), a.shape) : null, n[1] ? sumToShape(mul(g, wb), b.shape) : null];
  });
}

/**
 * Elementwise comparison giving 1 (true) or 0 (false) as float32, with broadcasting; not
 * differentiable. `op` is one of "eq", "ne", "gt", "ge", "lt", "le". Mirrors `torch.eq`/`gt`/...
 */
export function compare(
  op: "eq" | "ne" | "gt" | "ge" | "lt" | "le",
  a: TensorOrScalar,
  b: TensorOrScalar,
): Tensor {
  asPair(a, b, op);
  if (typeof b === "number") return scalarRaw(op, a as Tensor, b);
  if (typeof a === "number") return scalarRaw(op, b, a, true);
  return binaryRaw(op, a, b);
}

/**
 * `where(cond, a, b)`: elements of `a` where `cond` is nonzero, else of `b`, with broadcasting of all
 * three (numbers allowed for `a`/`b`, including ±Infinity for masking); the gradient flows to the chosen
 * operand only. `cond` is a float tensor (e.g. from {@link compare}). Mirrors `torch.where`.
 *
 * @throws {RangeError} when the three shapes do not broadcast.
 */
export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const bk = cond.backend;
  const ta = typeof a === "number" ? Tensor.fromStorage(bk.full(1, a), []) : a;
  const tb = typeof b === "number" ? Tensor.fromStorage(bk.full(1, b), []) : b;
  sameBackend("where", { cond, a: ta, b: tb });
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape), tb.shape);
  const st = bk.where(
    cond.storage,
    ta.storage,
    tb.storage,
    shape,
    broadcastStrides(cond.shape, shape),
    broadcastStrides(ta.shape, shape),
    broadcastStrides(tb.shape, shape),
  );
  const out = Tensor.fromStorage(st, shape);
  return recordOp("where", out, [ta, tb], (g, n) => [
    n[0] ? sumToShape(where(cond, g, 0), ta.shape) : null,
    n[1] ? sumToShape(where(cond, 0, g), tb.shape) : null,
  ]);
}

/**
 * In-place `target = op(target, src)` with `src` broadcast to `target`'s shape ("copy" assigns). No
 * autograd (callers check grad mode). For optimizers and `Tensor.add_`/`copy_`/... "copy" also copies
 * across backends (as `torch.Tensor.copy_` copies across devices); the other ops need one backend.
 *
 * @throws {RangeError} when `src` does not broadcast to `target`'s shape.
 * @throws {Error} when `src` lives on another backend (except for "copy").
 */
export function binaryInPlace(op: "copy" | "add" | "sub" | "mul" | "div", target: Tensor, src: Tensor): void {
  if (op === "copy" && src.backend !== target.backend) src = src.to(target.backend);
  sameBackend(`${op}_`, { self: target, other: src });
  const shape = broadcastShapes(target.shape, src.shape);
  if (!shapesEqual(shape, target.shape)) {
    throw new RangeError(
      `${op}_: source of shape ${fmtShape(src.shape)} does not broadcast to ${fmtShape(target.shape)}`,
    );
  }
  const ts = stridesOf(target.shape), ss = broadcastStrides(src.shape, target.shape);
  if (op === "copy") {
    target.backend.copyStrided(src.storage, 0, ss, target.storage, 0, ts, target.shape);
  } else {
    target.backend.binary(op, target.storage, src.storage, target.shape, ts, ss, target.storage);
  }
}
