/**
 * Elementwise kernels of the WebGPU executor (unary ops and their gradients, broadcasting binary ops,
 * scalar ops, where, axpby, strided copy), all expressed as WGSL expressions over the generic strided
 * kernel of ./strided.ts. Semantics follow the wasm backend (src/backend/wasm/elementwise.ts): NaN
 * propagates through max/min/relu/sign, pow follows `Math.pow` for negative bases, gelu is the erf form.
 *
 * @module
 */

import type { BinaryOp, UnaryOp } from "../backend.ts";
import type { GpuExecutor } from "./executor.ts";
import { contiguousStrides, runStrided } from "./strided.ts";

const GELU_K = "0.7978845608028654";
const GELU_C = "0.044715";
const SQRT1_2 = "0.7071067811865476";
const INV_SQRT_2PI = "0.3989422804014327";

/** WGSL for `op(v)`. */
export function unaryExpr(op: UnaryOp, v: string): string {
  switch (op) {
    case "neg":
      return `-${v}`;
    case "abs":
      return `abs(${v})`;
    case "sign":
      return `sign_(${v})`;
    case "exp":
      return `exp(${v})`;
    case "log":
      return `log(${v})`;
    case "sqrt":
      return `sqrt(${v})`;
    case "rsqrt":
      return `(1.0 / sqrt(${v}))`;
    case "square":
      return `(${v} * ${v})`;
    case "reciprocal":
      return `(1.0 / ${v})`;
    case "sin":
      return `sin(${v})`;
    case "cos":
      return `cos(${v})`;
    case "tanh":
      return `tanh_(${v})`;
    case "sigmoid":
      return `sigmoid_(${v})`;
    case "relu":
      return `select(select(0.0, ${v}, ${v} > 0.0), ${v}, isnan_(${v}))`;
    case "gelu":
      return `(0.5 * ${v} * (1.0 + erf_(${v} * ${SQRT1_2})))`;
    case "geluTanh":
      return `(0.5 * ${v} * (1.0 + tanh_(${GELU_K} * (${v} + ${GELU_C} * ${v} * ${v} * ${v}))))`;
    case "silu":
      return `(${v} / (1.0 + exp(-${v})))`;
    default:
      throw new RangeError(`unknown unary op "${op as string}"`);
  }
}

/** WGSL for `g · op'(x)` given x, the forward output y and the upstream gradient g. */
export function unaryGradExpr(op: UnaryOp, x: string, y: string, g: string): string {
  switch (op) {
    case "neg":
      return `-${g}`;
    case "abs":
      return `(${g} * sign_(${x}))`;
    case "sign":
      return `(0.0 * ${g})`;
    case "exp":
      return `(${g} * ${y})`;
    case "log":
      return `(${g} / ${x})`;
    case "sqrt":
      return `(${g} * 0.5 / ${y})`;
    case "rsqrt":
      return `(-0.5 * ${g} * ${y} * ${y} * ${y})`;
    case "square":
      return `(2.0 * ${g} * ${x})`;
    case "reciprocal":
      return `(-${g} * ${y} * ${y})`;
    case "sin":
      return `(${g} * cos(${x}))`;
    case "cos":
      return `(-${g} * sin(${x}))`;
    case "tanh":
      return `(${g} * (1.0 - ${y} * ${y}))`;
    case "sigmoid":
      return `(${g} * ${y} * (1.0 - ${y}))`;
    case "relu":
      return `select(0.0, ${g}, ${x} > 0.0)`;
    case "gelu":
      return `(${g} * (0.5 * (1.0 + erf_(${x} * ${SQRT1_2})) + ${x} * ${INV_SQRT_2PI} * exp(-0.5 * ${x} * ${x})))`;
    case "geluTanh":
      return `gelu_tanh_grad(${x}, ${g})`;
    case "silu":
      return `silu_grad(${x}, ${g})`;
    default:
      throw new RangeError(`unknown unary op "${op as string}"`);
  }
}

/** WGSL for `op(a, b)`. */
export function binaryExpr(op: BinaryOp | "copy", a: string, b: string): string {
  switch (op) {
    case "add":
      return `(${a} + ${b})`;
    case "sub":
      return `(${a} - ${b})`;
    case "mul":
      return `(${a} * ${b})`;
    case "div":
      return `(${a} / ${b})`;
    case "pow":
      return `pow_(${a}, ${b})`;
    case "max":
      return `max_(${a}, ${b})`;
    case "min":
      return `min_(${a}, ${b})`;
    case "eq":
      return `select(0.0, 1.0, ${a} == ${b})`;
    case "ne":
      return `select(0.0, 1.0, ${a} != ${b})`;
    case "gt":
      return `select(0.0, 1.0, ${a} > ${b})`;
    case "ge":
      return `select(0.0, 1.0, ${a} >= ${b})`;
    case "lt":
      return `select(0.0, 1.0, ${a} < ${b})`;
    case "le":
      return `select(0.0, 1.0, ${a} <= ${b})`;
    case "copy":
      return b;
    default:
      throw new RangeError(`unknown binary op "${op as string}"`);
  }
}

const lin = (id: number) => ({ id, base: 0, strides: [1] });

/** `out[i] = op(x[i])` for `n` elements (out may be x). */
export function unary(ex: GpuExecutor, op: UnaryOp, x: number, out: number, n: number): void {
  runStrided(ex, unaryExpr(op, "v1"), [n], lin(out), [lin(x)]);
}

/** `out[i] = g[i] · op'(x[i])` (y = forward output). */
export function unaryGrad(
  ex: GpuExecutor,
  op: UnaryOp,
  x: number,
  y: number,
  g: number,
  out: number,
  n: number,
): void {
  runStrided(ex, unaryGradExpr(op, "v1", "v2", "v3"), [n], lin(out), [lin(x), lin(y), lin(g)]);
}

/** Broadcasting binary op into contiguous `out` of shape `shape`. */
export function binary(
  ex: GpuExecutor,
  op: BinaryOp,
  a: number,
  b: number,
  out: number,
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): void {
  runStrided(ex, binaryExpr(op, "v1", "v2"), shape, { id: out, base: 0, strides: contiguousStrides(shape) }, [
    { id: a, base: 0, strides: aStrides },
    { id: b, base: 0, strides: bStrides },
  ]);
}

/** `out = cond ≠ 0 ? a : b` (broadcasting), contiguous `out`. */
export function where(
  ex: GpuExecutor,
  cond: number,
  a: number,
  b: number,
  out: number,
  shape: readonly number[],
  cStrides: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): void {
  runStrided(ex, "select(v3, v2, nz_(v1))", shape, { id: out, base: 0, strides: contiguousStrides(shape) }, [
    { id: cond, base: 0, strides: cStrides },
    { id: a, base: 0, strides: aStrides },
    { id: b, base: 0, strides: bStrides },
  ]);
}

/** `out[i] = op(x[i], s)` (or `op(s, x[i])` when `reverse`). */
export function binaryScalar(
  ex: GpuExecutor,
  op: BinaryOp,
  x: number,
  s: number,
  reverse: boolean,
  out: number,
  n: number,
): void {
  let expr: string;
  if (!reverse && op === "pow" && s === 2) expr = "(v1 * v1)";
  else if (!reverse && op === "pow" && s === 0.5) expr = "sqrt(v1)";
  else expr = reverse ? binaryExpr(op, "s0", "v1") : binaryExpr(op, "v1", "s0");
  runStrided(ex, expr, [n], lin(out), [lin(x)], [s]);
}

/** `out[i] = alpha·x[i] + beta·y[i]`. */
export function axpby(
  ex: GpuExecutor,
  x: number,
  alpha: number,
  y: number,
  beta: number,
  out: number,
  n: number,
): void {
  const expr = alpha === 1 && beta === 1
    ? "(v1 + v2)"
    : alpha === 1
    ? "(v1 + s1 * v2)"
    : "(s0 * v1 + s1 * v2)";
  runStrided(ex, expr, [n], lin(out), [lin(x), lin(y)], [alpha, beta]);
}

/** `dst[dOff + i·dStr] = src[sOff + i·sStr]` for every index i of `shape` (src may be dst). */
export function copyStrided(
  ex: GpuExecutor,
  src: number,
  sOff: number,
  sStr: readonly number[],
  dst: number,
  dOff: number,
  dStr: readonly number[],
  shape: readonly number[],
): void {
  runStrided(ex, "v1", shape, { id: dst, base: dOff, strides: dStr }, [{
    id: src,
    base: sOff,
    strides: sStr,
  }]);
}
