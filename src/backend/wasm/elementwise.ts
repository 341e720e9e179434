/**
 * Elementwise kernels of the wasm backend on plain Float32Arrays: unary ops and their gradients,
 * broadcasting binary ops, scalar ops. Each kernel switches on the op once and then runs a tight loop
 * (no per-element closures).
 *
 * @module
 */

import type { BinaryOp, UnaryOp } from "../backend.ts";

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;
const GELU_K = 0.7978845608028654; // sqrt(2/pi)
const GELU_C = 0.044715;

/**
 * erf(x) with absolute error below 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc, "erfcc"),
 * accurate enough for float32 results.
 */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                      t *
                        (0.27886807 +
                          t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1 - r : r - 1;
}

/** `out[i] = op(x[i])`; `out` may alias `x`. */
export function unaryKernel(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const n = x.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -x[i];
      return;
    case "abs":
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
      return;
    case "sign":
      for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]);
      return;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]);
      return;
    case "log":
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
      return;
    case "rsqrt":
      for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]);
      return;
    case "square":
      for (let i = 0; i < n; i++) out[i] = x[i] * x[i];
      return;
    case "reciprocal":
      for (let i = 0; i < n; i++) out[i] = 1 / x[i];
      return;
    case "sin":
      for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]);
      return;
    case "cos":
      for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]);
      return;
    case "tanh":
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        // stable for both signs
        if (v >= 0) out[i] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          out[i] = e / (1 + e);
        }
      }
      return;
    case "relu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v > 0 ? v : (v !== v ? v : 0);
      }
      return;
    case "gelu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = 0.5 * v * (1 + erf(v * SQRT1_2));
      }
      return;
    case "geluTanh":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = 0.5 * v * (1 + Math.tanh(GELU_K * (v + GELU_C * v * v * v)));
      }
      return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v / (1 + Math.exp(-v));
      }
      return;
    default:
      throw new RangeError(`unknown unary op "${op as string}"`);
  }
}

/** `gx[i] = g[i] · op'(x[i])`, using the forward output `y` where cheaper. */
export function unaryGradKernel(
  op: UnaryOp,
  x: Float32Array,
  y: Float32Array,
  g: Float32Array,
  gx: Float32Array,
): void {
  const n = g.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) gx[i] = -g[i];
      return;
    case "abs":
      for (let i = 0; i < n; i++) gx[i] = g[i] * Math.sign(x[i]);
      return;
    case "sign":
      gx.fill(0);
      return;
    case "exp":
      for (let i = 0; i < n; i++) gx[i] = g[i] * y[i];
      return;
    case "log":
      for (let i = 0; i < n; i++) gx[i] = g[i] / x[i];
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) gx[i] = g[i] * 0.5 / y[i];
      return;
    case "rsqrt":
      for (let i = 0; i < n; i++) {
        const v = y[i];
        gx[i] = -0.5 * g[i] * v * v * v;
      }
      return;
    case "square":
      for (let i = 0; i < n; i++) gx[i] = 2 * g[i] * x[i];
      return;
    case "reciprocal":
      for (let i = 0; i < n; i++) gx[i] = -g[i] * y[i] * y[i];
      return;
    case "sin":
      for (let i = 0; i < n; i++) gx[i] = g[i] * Math.cos(x[i]);
      return;
    case "cos":
      for (let i = 0; i < n; i++) gx[i] = -g[i] * Math.sin(x[i]);
      return;
    case "tanh":
      for (let i = 0; i < n; i++) gx[i] = g[i] * (1 - y[i] * y[i]);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) gx[i] = g[i] * y[i] * (1 - y[i]);
      return;
    case "relu":
      for (let i = 0; i < n; i++) gx[i] = x[i] > 0 ? g[i] : 0;
      return;
    case "gelu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const cdf = 0.5 * (1 + erf(v * SQRT1_2));
        gx[i] = g[i] * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
    case "geluTanh":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const th = Math.tanh(GELU_K * (v + GELU_C * v * v * v));
        const dInner = GELU_K * (1 + 3 * GELU_C * v * v);
        gx[i] = g[i] * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * dInner);
      }
      return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const s = 1 / (1 + Math.exp(-v));
        gx[i] = g[i] * s * (1 + v * (1 - s));
      }
      return;
    default:
      throw new RangeError(`unknown unary op "${op as string}"`);
  }
}

/**
 * One strided run of a binary op: `out[po + j] = op(a[pa + j·ia], b[pb + j·ib])` for `j < len`.
 */
export function binaryRun(
  op: BinaryOp,
  a: Float32Array,
  pa: number,
  ia: number,
  b: Float32Array,
  pb: number,
  ib: number,
  out: Float32Array,
  po: number,
  len: number,
): void {
  const end = po + len;
  switch (op) {
    case "add":
      if (ia === 1 && ib === 1) { for (let o = po; o < end; o++) out[o] = a[pa++] + b[pb++]; }
      else for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] + b[pb];
      return;
    case "sub":
      if (ia === 1 && ib === 1) { for (let o = po; o < end; o++) out[o] = a[pa++] - b[pb++]; }
      else for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] - b[pb];
      return;
    case "mul":
      if (ia === 1 && ib === 1) { for (let o = po; o < end; o++) out[o] = a[pa++] * b[pb++]; }
      else for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] * b[pb];
      return;
    case "div":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] / b[pb];
      return;
    case "pow":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = Math.pow(a[pa], b[pb]);
      return;
    case "max":
      for (let o = po; o < end; o++, pa += ia, pb += ib) {
        const x = a[pa], y = b[pb];
        out[o] = x > y || x !== x ? x : y;
      }
      return;
    case "min":
      for (let o = po; o < end; o++, pa += ia, pb += ib) {
        const x = a[pa], y = b[pb];
        out[o] = x < y || x !== x ? x : y;
      }
      return;
    case "eq":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] === b[pb] ? 1 : 0;
      return;
    case "ne":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] !== b[pb] ? 1 : 0;
      return;
    case "gt":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] > b[pb] ? 1 : 0;
      return;
    case "ge":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] >= b[pb] ? 1 : 0;
      return;
    case "lt":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] < b[pb] ? 1 : 0;
      return;
    case "le":
      for (let o = po; o < end; o++, pa += ia, pb += ib) out[o] = a[pa] <= b[pb] ? 1 : 0;
      return;
    default:
      throw new RangeError(`unknown binary op "${op as string}"`);
  }
}

/**
 * Merges adjacent dimensions that are contiguous for every stride list (and drops size-1
 * dimensions), so strided loops run over as few, as long, dimensions as possible.
 */
export function collapseDims(
  shape: readonly number[],
  strideLists: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strideLists.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const last = outShape.length - 1;
    let merge = last >= 0;
    if (merge) {
      for (let s = 0; s < strideLists.length; s++) {
        if (outStrides[s][last] !== strideLists[s][d] * n) {
          merge = false;
          break;
        }
      }
    }
    if (merge) {
      outShape[last] *= n;
      for (let s = 0; s < strideLists.length; s++) outStrides[s][last] = strideLists[s][d];
    } else {
      outShape.push(n);
      for (let s = 0; s < strideLists.length; s++) outStrides[s].push(strideLists[s][d]);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Broadcasting binary kernel: `out` (contiguous, shape `shape`) from strided reads of `a` and `b`. */
export function binaryKernel(
  op: BinaryOp,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): void {
  const total = out.length;
  if (total === 0) return;
  const outStrides = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    outStrides[i] = acc;
    acc *= shape[i];
  }
  const c = collapseDims(shape, [aStrides, bStrides, outStrides]);
  const nd = c.shape.length;
  if (nd === 0) {
    binaryRun(op, a, 0, 0, b, 0, 0, out, 0, 1);
    return;
  }
  const sa = c.strides[0], sb = c.strides[1];
  const inner = c.shape[nd - 1];
  const ia = sa[nd - 1], ib = sb[nd - 1];
  if (nd === 1) {
    binaryRun(op, a, 0, ia, b, 0, ib, out, 0, inner);
    return;
  }
  const idx = new Array<number>(nd - 1).fill(0);
  let pa = 0, pb = 0;
  for (let po = 0; po < total; po += inner) {
    binaryRun(op, a, pa, ia, b, pb, ib, out, po, inner);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      pa += sa[d];
      pb += sb[d];
      if (idx[d] < c.shape[d]) break;
      pa -= sa[d] * c.shape[d];
      pb -= sb[d] * c.shape[d];
      idx[d] = 0;
    }
  }
}

/** `out[i] = op(x[i], s)`, or `op(s, x[i])` when `reverse`. `out` may alias `x`. */
export function scalarKernel(
  op: BinaryOp,
  x: Float32Array,
  s: number,
  reverse: boolean,
  out: Float32Array,
): void {
  const n = x.length;
  if (!reverse) {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = x[i] + s;
        return;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = x[i] - s;
        return;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = x[i] * s;
        return;
      case "div":
        for (let i = 0; i < n; i++) out[i] = x[i] / s;
        return;
      case "pow":
        if (s === 2) { for (let i = 0; i < n; i++) out[i] = x[i] * x[i]; }
        else if (s === 0.5) { for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]); }
        else for (let i = 0; i < n; i++) out[i] = Math.pow(x[i], s);
        return;
    }
  } else {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = s + x[i];
        return;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = s - x[i];
        return;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = s * x[i];
        return;
      case "div":
        for (let i = 0; i < n; i++) out[i] = s / x[i];
        return;
      case "pow":
        for (let i = 0; i < n; i++) out[i] = Math.pow(s, x[i]);
        return;
    }
  }
  // comparisons and max/min: reuse the strided run with a one-element operand
  const sArr = new Float32Array([s]);
  if (reverse) binaryRun(op, sArr, 0, 0, x, 0, 1, out, 0, n);
  else binaryRun(op, x, 0, 1, sArr, 0, 0, out, 0, n);
}

/** Broadcasting select into contiguous `out`: `cond ≠ 0 ? a : b`. */
export function whereKernel(
  cond: Float32Array,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  shape: readonly number[],
  cStr: readonly number[],
  aStr: readonly number[],
  bStr: readonly number[],
): void {
  const total = out.length;
  if (total === 0) return;
  const oStr = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    oStr[i] = acc;
    acc *= shape[i];
  }
  const c = collapseDims(shape, [cStr, aStr, bStr, oStr]);
  const nd = c.shape.length;
  const [sc, sa, sb] = c.strides;
  const inner = nd === 0 ? 1 : c.shape[nd - 1];
  const ic = nd === 0 ? 0 : sc[nd - 1], ia = nd === 0 ? 0 : sa[nd - 1], ib = nd === 0 ? 0 : sb[nd - 1];
  const idx = new Array<number>(Math.max(nd - 1, 0)).fill(0);
  let pc = 0, pa = 0, pb = 0;
  for (let po = 0; po < total; po += inner) {
    for (let j = 0, qc = pc, qa = pa, qb = pb; j < inner; j++, qc += ic, qa += ia, qb += ib) {
      out[po + j] = cond[qc] !== 0 ? a[qa] : b[qb];
    }
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      pc += sc[d];
      pa += sa[d];
      pb += sb[d];
      if (idx[d] < c.shape[d]) break;
      pc -= sc[d] * c.shape[d];
      pa -= sa[d] * c.shape[d];
      pb -= sb[d] * c.shape[d];
      idx[d] = 0;
    }
  }
}
