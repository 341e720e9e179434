// SIMD elementwise kernels of the wasm backend (wasm/elementwise.ts via src/backend/wasm/*.ts):
// accuracy of the polynomial transcendental functions against float64 Math.* / series references over
// wide ranges (extremes, ±Inf, NaN), gradients against float64 derivatives, equality with the plain-JS
// kernels (the previous path) for the chunked/broadcast data movement, softmax / row sums, the fused
// kernels (Adam/AdamW, RMSNorm, SwiGLU, rotary) against float64 references and against the composed
// op path, and the array pool's safety rule.
//
// Tolerances: float32 has a unit roundoff u = 2^-24 ≈ 6e-8 (1 ulp ≤ 1.2e-7 relative). The kernels'
// documented bounds are ~2-3 ulp for exp/log/tanh/sigmoid/silu (1.3-3.2 ulp measured); tests allow
// 3e-7..5e-7 relative so they fail on a real regression (a wrong coefficient gives ≥ 1e-5) but not on
// the last-bit differences of float32 evaluation order.

import { assert, assertEquals } from "./deps.ts";
import { gradcheck, maxAbsDiff } from "./gradcheck.ts";
import {
  adamStepKernel,
  axpbyJs,
  axpbyWasm,
  binaryJs,
  binaryWasm,
  rmsNormGradKernel,
  rmsNormKernel,
  scalarJs,
  scalarWasm,
  STAGE_CHUNK,
  swigluGradKernel,
  swigluKernel,
  unaryGradJs,
  unaryGradWasm,
  unaryJs,
  unaryWasm,
  wasmElementwise,
} from "../src/backend/wasm/elementwise.ts";
import { softmaxGradJs, softmaxGradKernel, softmaxJs, softmaxKernel } from "../src/backend/wasm/softmax.ts";
import { sumRowsWasm } from "../src/backend/wasm/reduce.ts";
import { WasmBackend, wasmStoragePool } from "../src/backend/wasm/backend.ts";
import type { FusedKernel } from "../src/backend/kernels.ts";
import type { UnaryOp } from "../src/backend/backend.ts";
import { getBackend, manualSeed, mul, randn, silu, sum, tensor, tidy } from "../src/tensor/index.ts";
import { applyRotaryEmb, rmsNorm, swiglu } from "../src/ops/nn.ts";
import { Adam, AdamW } from "../src/optim/mod.ts";
import { Parameter } from "../src/nn/parameter.ts";

// ------------------------------------------------------------------ float64 references

/** erfc via its Maclaurin series (z < 3) or Lentz's continued fraction (z >= 3), float64. */
function erfc64(z: number): number {
  if (z !== z) return z;
  if (z < 0) return 2 - erfc64(-z);
  if (z < 3) {
    let term = z, s = z;
    for (let n = 1; n < 300; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      s += add;
      if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * s;
  }
  if (z === Infinity) return 0;
  // erfc(z) = exp(-z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
  let f = z, c = z, d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = 1 / (z + a * d);
    c = z + a / c;
    const del = c * d;
    f *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}
const phi64 = (x: number) => 0.5 * erfc64(-x / Math.SQRT2);
const sigmoid64 = (x: number) => x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
const K = Math.sqrt(2 / Math.PI), C = 0.044715;

/** float64 value and derivative of every unary op. */
const REF: Record<string, { f: (x: number) => number; d: (x: number) => number }> = {
  neg: { f: (x) => -x, d: () => -1 },
  abs: { f: Math.abs, d: (x) => Math.sign(x) },
  sign: { f: Math.sign, d: () => 0 },
  exp: { f: Math.exp, d: Math.exp },
  log: { f: Math.log, d: (x) => 1 / x },
  sqrt: { f: Math.sqrt, d: (x) => 0.5 / Math.sqrt(x) },
  rsqrt: { f: (x) => 1 / Math.sqrt(x), d: (x) => -0.5 * x ** -1.5 },
  square: { f: (x) => x * x, d: (x) => 2 * x },
  reciprocal: { f: (x) => 1 / x, d: (x) => -1 / (x * x) },
  tanh: { f: Math.tanh, d: (x) => 1 - Math.tanh(x) ** 2 },
  sigmoid: { f: sigmoid64, d: (x) => sigmoid64(x) * sigmoid64(-x) },
  relu: { f: (x) => x > 0 || x !== x ? x : 0, d: (x) => x > 0 ? 1 : 0 },
  silu: { f: (x) => x * sigmoid64(x), d: (x) => sigmoid64(x) * (1 + x * sigmoid64(-x)) },
  gelu: {
    f: (x) => x * phi64(x),
    d: (x) => phi64(x) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI),
  },
  // 0.5·x·(1 + tanh(u)) = x·σ(2u): the σ form has no cancellation for negative x
  geluTanh: {
    f: (x) => x * sigmoid64(2 * K * (x + C * x ** 3)),
    d: (x) => {
      const u2 = 2 * K * (x + C * x ** 3);
      return sigmoid64(u2) + x * sigmoid64(u2) * sigmoid64(-u2) * 2 * K * (1 + 3 * C * x * x);
    },
  },
};

function grid(lo: number, hi: number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + ((hi - lo) * i) / (n - 1);
  return a;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randArr(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const r = lcg(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + scale * (2 * r() - 1);
  return a;
}

function runUnary(op: UnaryOp, x: Float32Array): Float32Array {
  const o = new Float32Array(x.length);
  unaryWasm(op, x, o);
  return o;
}

/**
 * Max error of `got` vs float64 `ref(x)`: relative where |ref| >= `normalFloor`, absolute elsewhere.
 * NaN must match NaN and infinities must match exactly.
 */
function errors(
  x: Float32Array,
  got: Float32Array,
  ref: (x: number) => number,
  normalFloor = 1.1754943508222875e-38,
): { rel: number; abs: number; at: number } {
  let rel = 0, abs = 0, at = NaN;
  for (let i = 0; i < x.length; i++) {
    const r = ref(x[i]), g = got[i];
    if (r !== r) {
      assert(g !== g, `f(${x[i]}) = ${g}, expected NaN`);
      continue;
    }
    if (!Number.isFinite(Math.fround(r))) {
      assertEquals(g, Math.fround(r), `f(${x[i]})`);
      continue;
    }
    const e = Math.abs(g - r);
    if (Math.abs(r) >= normalFloor) {
      if (e / Math.abs(r) > rel) {
        rel = e / Math.abs(r);
        at = x[i];
      }
    } else abs = Math.max(abs, e);
  }
  return { rel, abs, at };
}

function checkUnary(
  op: UnaryOp,
  x: Float32Array,
  maxRel: number,
  maxAbsSub = 3e-45,
  normalFloor?: number,
): void {
  const { rel, abs, at } = errors(x, runUnary(op, x), REF[op].f, normalFloor);
  assert(rel <= maxRel, `${op}: max relative error ${rel} at x = ${at} exceeds ${maxRel}`);
  assert(abs <= maxAbsSub, `${op}: max absolute error ${abs} of tiny results exceeds ${maxAbsSub}`);
}

const SPECIALS = Float32Array.from([0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1e-40, 3.4e38, -3.4e38]);

// ------------------------------------------------------------------ transcendental accuracy

Deno.test("wasm exp: <= 2 ulp over the whole float32 range, overflow/underflow/subnormals/specials exact", () => {
  const x = grid(-110, 90, 400_001);
  checkUnary("exp", x, 2.4e-7);
  // the overflow and underflow thresholds: fround(Math.exp) is Inf / 0 / subnormal there
  const edge = Float32Array.from([
    88.72283,
    88.722839,
    88.72284,
    88.8,
    1e30,
    -87.33654,
    -103.2789,
    -103.97,
    -104,
    -1e30,
  ]);
  checkUnary("exp", edge, 2.4e-7);
  checkUnary("exp", SPECIALS, 2.4e-7);
  assertEquals(Array.from(runUnary("exp", Float32Array.from([0, -Infinity, Infinity]))), [1, 0, Infinity]);
});

Deno.test("wasm log: <= 2 ulp from subnormals to FLT_MAX; 0 -> -Inf, negative/NaN -> NaN", () => {
  const n = 300_001, x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.exp(-103 + (191.7 * i) / (n - 1)); // 1.4e-45 .. 3e38
  checkUnary("log", x, 2.5e-7, 0);
  checkUnary("log", grid(0.5, 2, 100_001), 2.5e-7, 0); // around 1: relative accuracy of small logs
  const s = runUnary("log", Float32Array.from([0, -0, -1, -Infinity, NaN, Infinity, 1]));
  assertEquals(Array.from(s.subarray(0, 2)), [-Infinity, -Infinity]);
  assert(s.subarray(2, 5).every((v) => v !== v), "log of negative / NaN is NaN");
  assertEquals(Array.from(s.subarray(5)), [Infinity, 0]);
});

Deno.test("wasm tanh / sigmoid / silu: relative error <= 3e-7 (silu 4e-7); saturation and specials", () => {
  checkUnary("tanh", grid(-12, 12, 200_001), 2e-7);
  checkUnary("tanh", grid(-0.7, 0.7, 100_001), 2e-7); // the polynomial branch and its edge
  checkUnary("tanh", SPECIALS, 2e-7);
  checkUnary("sigmoid", grid(-87, 88, 200_001), 3e-7);
  checkUnary("sigmoid", grid(-104, -87, 10_001), 3e-7, 3e-45); // subnormal outputs: absolute
  checkUnary("sigmoid", SPECIALS, 3e-7);
  checkUnary("silu", grid(-87, 88, 200_001), 4e-7);
  // below -87.3 σ(x) is subnormal: only absolute accuracy is possible
  checkUnary("silu", grid(-110, -87.4, 10_001), 4e-7, 3e-43, Infinity);
  checkUnary("silu", Float32Array.from([0, Infinity, NaN, 1e-40, 3.4e38, -1e6]), 4e-7);
  // -Inf·σ(-Inf) = -Inf·0 is NaN, as the composition (and PyTorch) gives
  assert(Number.isNaN(runUnary("silu", Float32Array.from([-Infinity]))[0]));
  assertEquals(Array.from(runUnary("tanh", Float32Array.from([Infinity, -Infinity, 10, -10]))), [
    1,
    -1,
    1,
    -1,
  ]);
  assertEquals(Array.from(runUnary("sigmoid", Float32Array.from([Infinity, -Infinity, 1000, -1000]))), [
    1,
    0,
    1,
    0,
  ]);
});

Deno.test("wasm gelu (exact erf form): absolute error <= 1e-6 on [-10, 10], relative 1e-6 beyond", () => {
  const x = grid(-10, 10, 200_001);
  const got = runUnary("gelu", x);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(got[i] - REF.gelu.f(x[i])));
  assert(worst <= 1e-6, `gelu max abs error ${worst}`);
  // large positive: x·Φ(x) -> x; large negative: tiny, absolutely
  const big = Float32Array.from([10.5, 20, 1e4, 1e30, 3.4e38]);
  checkUnary("gelu", big, 1e-6);
  const neg = grid(-40, -10, 1001), gn = runUnary("gelu", neg);
  for (let i = 0; i < neg.length; i++) {
    assert(Math.abs(gn[i] - REF.gelu.f(neg[i])) <= 1e-22, `gelu(${neg[i]})`);
  }
  const s = runUnary("gelu", Float32Array.from([0, Infinity, NaN, -Infinity]));
  assertEquals(Array.from(s.subarray(0, 2)), [0, Infinity]);
  assert(Number.isNaN(s[2]) && Number.isNaN(s[3]), "gelu(NaN) and gelu(-Inf) = -Inf·0 are NaN");
  // tanh approximation, against the float64 sigmoid form
  const gt = runUnary("geluTanh", x);
  let wt = 0;
  for (let i = 0; i < x.length; i++) wt = Math.max(wt, Math.abs(gt[i] - REF.geluTanh.f(x[i])));
  assert(wt <= 1e-6, `geluTanh max abs error ${wt}`);
  checkUnary("geluTanh", Float32Array.from([1e4, 1e13, -1e13, 3.4e38, NaN]), 1e-6, 1e-30);
});

Deno.test("wasm simple unary ops are exact (neg, abs, sign, relu, square, sqrt, reciprocal) or <= 1 ulp (rsqrt)", () => {
  const x = randArr(10_003, 7, 50);
  x.set([0, -0, Infinity, -Infinity, NaN, 1e-45, -3.4e38], 0);
  for (const op of ["neg", "abs", "sign", "relu", "square", "sqrt", "reciprocal"] as UnaryOp[]) {
    const got = runUnary(op, x);
    for (let i = 0; i < x.length; i++) {
      const r = Math.fround(REF[op].f(x[i]));
      assert(Object.is(got[i], r) || (r === 0 && got[i] === 0), `${op}(${x[i]}) = ${got[i]}, expected ${r}`);
    }
  }
  const pos = randArr(10_000, 8, 1e3, 1e3 + 1);
  checkUnary("rsqrt", pos, 1.2e-7);
});

// ------------------------------------------------------------------ gradients

Deno.test("wasm unary gradients vs float64 derivatives", () => {
  const g = randArr(20_001, 11, 2);
  // [op, x, tol, floor]: |got − g·f'(x)| <= tol·(|g·f'(x)| + |g|·floor). The floor covers the
  // absolute error of derivatives built from O(1) terms that cancel (silu' near its zero, or
  // 1 − y² of tanh/sigmoid computed from the float32 forward output y, as PyTorch does).
  const cases: Array<[UnaryOp, Float32Array, number, number]> = [
    ["exp", randArr(20_001, 1, 20), 4e-7, 0],
    ["log", randArr(20_001, 2, 50, 51), 3e-7, 0],
    ["sqrt", randArr(20_001, 3, 50, 51), 3e-7, 0],
    ["rsqrt", randArr(20_001, 4, 50, 51), 5e-7, 0],
    ["square", randArr(20_001, 5, 50), 1.2e-7, 0],
    ["reciprocal", randArr(20_001, 6, 50, 51), 4e-7, 0],
    ["tanh", randArr(20_001, 7, 4), 5e-7, 1],
    ["sigmoid", randArr(20_001, 8, 10), 5e-7, 1],
    ["silu", randArr(20_001, 9, 20), 5e-7, 4],
    ["gelu", randArr(20_001, 10, 8), 1e-6, 2],
    ["geluTanh", randArr(20_001, 12, 8), 1e-6, 2],
    ["relu", randArr(20_001, 13, 5), 0, 0],
    ["abs", randArr(20_001, 14, 5), 0, 0],
    ["neg", randArr(20_001, 15, 5), 0, 0],
  ];
  for (const [op, x, tol, floor] of cases) {
    const y = new Float32Array(x.length);
    unaryJs(op, x, y);
    const got = new Float32Array(x.length);
    unaryGradWasm(op, x, y, g, got);
    for (let i = 0; i < x.length; i++) {
      const r = g[i] * REF[op].d(x[i]);
      const bound = tol * (Math.abs(r) + Math.abs(g[i]) * floor);
      assert(Math.abs(got[i] - r) <= bound, `${op}'(${x[i]}): ${got[i] / g[i]} vs ${r / g[i]}`);
    }
  }
  // saturated and special inputs stay finite where the math is finite
  const xs = Float32Array.from([-1e13, -100, 100, 1e13, 3e38, -3e38]);
  const gs = new Float32Array(xs.length).fill(1);
  for (const op of ["silu", "gelu", "geluTanh", "sigmoid", "tanh"] as UnaryOp[]) {
    const y = new Float32Array(xs.length), o = new Float32Array(xs.length);
    unaryJs(op, xs, y);
    unaryGradWasm(op, xs, y, gs, o);
    for (let i = 0; i < xs.length; i++) {
      const r = REF[op].d(xs[i]);
      if (Number.isFinite(r)) {
        assert(Math.abs(o[i] - r) <= 1e-6 * Math.max(1, Math.abs(r)), `${op}'(${xs[i]})`);
      }
    }
  }
});

Deno.test("wasm unary kernels agree with the plain-JS kernels (previous path) for every op and chunking", () => {
  for (const n of [1, 3, 5, 63, 64, STAGE_CHUNK - 1, STAGE_CHUNK, 3 * STAGE_CHUNK + 7]) {
    const x = randArr(n, n, 6);
    const xp = randArr(n, n + 1, 6, 6.5); // positive inputs for log/sqrt/rsqrt/reciprocal
    for (const op of Object.keys(REF) as UnaryOp[]) {
      const xi = ["log", "sqrt", "rsqrt", "reciprocal"].includes(op) ? xp : x;
      const a = new Float32Array(n), b = new Float32Array(n);
      unaryJs(op, xi, a);
      unaryWasm(op, xi, b);
      for (let i = 0; i < n; i++) {
        const tol = 5e-7 * Math.abs(a[i]) + 1e-7; // JS uses Math.* in float64: a few float32 ulps apart
        assert(Math.abs(a[i] - b[i]) <= tol, `${op} n=${n} i=${i}: js ${a[i]} wasm ${b[i]}`);
      }
      const y = a, g = randArr(n, 99, 2), ga = new Float32Array(n), gb = new Float32Array(n);
      unaryGradJs(op, xi, y, g, ga);
      unaryGradWasm(op, xi, y, g, gb);
      for (let i = 0; i < n; i++) {
        assert(Math.abs(ga[i] - gb[i]) <= 2e-6 * Math.abs(ga[i]) + 1e-6, `${op} grad n=${n} i=${i}`);
      }
    }
    // in place (out aliases x)
    const c = x.slice(), d = new Float32Array(n);
    unaryWasm("silu", c, c);
    unaryWasm("silu", x, d);
    assertEquals(c, d);
  }
});

// ------------------------------------------------------------------ binary, scalar, axpby

function rowMajorStrides(shape: number[]): number[] {
  const s = new Array(shape.length);
  let a = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = a;
    a *= shape[i];
  }
  return s;
}

/** Strides reading an operand of shape `opShape` (same rank) broadcast to `shape`. */
function bStrides(opShape: number[], shape: number[]): number[] {
  const s = rowMajorStrides(opShape);
  return shape.map((n, i) => (opShape[i] === 1 && n !== 1 ? 0 : s[i]));
}

Deno.test("wasm binary ops equal the JS kernels bit for bit on every broadcast pattern and chunking", () => {
  const patterns: Array<[number[], number[], number[]]> = [
    [[1000], [1000], [1000]], // same shape
    [[37, 300], [37, 300], [1, 300]], // row broadcast
    [[37, 300], [1, 300], [37, 300]], // row broadcast on the left
    [[37, 300], [37, 300], [37, 1]], // one value per row
    [[37, 300], [37, 1], [1, 300]], // outer product
    [[4, 128, 256], [4, 128, 256], [4, 1, 256]], // 3-D block broadcast
    [[2, 3, 40000], [2, 3, 40000], [1, 1, 40000]], // rows longer than a chunk
    [[5, 20000], [5, 1], [5, 20000]], // scalar per row, long rows
    [[3, 5, 7], [3, 5, 7], [1, 5, 1]], // small inner blocks: JS fallback path
    [[2, 9000], [2, 9000], [1, 1]], // everything broadcast
  ];
  const ops = ["add", "sub", "mul", "div", "max", "min", "eq", "ne", "gt", "ge", "lt", "le"] as const;
  for (const [shape, sa, sb] of patterns) {
    const n = shape.reduce((p, q) => p * q, 1);
    const na = sa.reduce((p, q) => p * q, 1), nb = sb.reduce((p, q) => p * q, 1);
    const a = randArr(na, na, 3), b = randArr(nb, nb + 5, 3);
    a[0] = NaN;
    b[nb - 1] = 0;
    if (na > 2) a[2] = b[0]; // equal values for the comparisons
    const ast = bStrides(sa, shape), bst = bStrides(sb, shape);
    for (const op of ops) {
      const r1 = new Float32Array(n), r2 = new Float32Array(n);
      binaryJs(op, a, b, r1, shape, ast, bst);
      const done = binaryWasm(op, a, b, r2, shape, ast, bst);
      if (!done) binaryJs(op, a, b, r2, shape, ast, bst);
      for (let i = 0; i < n; i++) {
        const same = Object.is(r1[i], r2[i]) || (r1[i] === 0 && r2[i] === 0); // max/min of ±0
        assert(same, `${op} ${JSON.stringify(shape)} ${JSON.stringify(sa)} ${JSON.stringify(sb)} [${i}]`);
      }
    }
  }
  // the wasm path declines what it does not cover (pow; >2-D with small inner blocks)
  assert(!binaryWasm("pow", new Float32Array(4), new Float32Array(4), new Float32Array(4), [4], [1], [1]));
  // in place: out aliases a
  const a = randArr(20000, 1, 2), b = randArr(200, 2, 2), ref = new Float32Array(20000);
  binaryJs("mul", a, b, ref, [100, 200], [200, 1], [0, 1]);
  binaryWasm("mul", a, b, a, [100, 200], [200, 1], [0, 1]);
  assertEquals(a, ref);
});

Deno.test("wasm scalar ops and axpby vs JS kernels", () => {
  const x = randArr(3 * STAGE_CHUNK + 5, 3, 4);
  for (const op of ["add", "sub", "mul", "div", "max", "min", "gt", "le"] as const) {
    for (const reverse of [false, true]) {
      for (const sc of [0.5, -3, 1.25]) { // float32 values: identical results
        const a = new Float32Array(x.length), b = new Float32Array(x.length);
        scalarJs(op, x, sc, reverse, a);
        scalarWasm(op, x, sc, reverse, b);
        assertEquals(a, b, `${op} ${sc} reverse=${reverse}`);
      }
    }
  }
  // a scalar that float32 cannot hold is rounded first: <= 1 ulp of the result plus |s − fround(s)|
  for (const op of ["add", "mul"] as const) {
    const a = new Float32Array(x.length), b = new Float32Array(x.length);
    scalarJs(op, x, 0.1, false, a);
    scalarWasm(op, x, 0.1, false, b);
    for (let i = 0; i < x.length; i++) {
      assert(Math.abs(a[i] - b[i]) <= 1.2e-7 * Math.abs(a[i]) + 2e-9, `${op} 0.1 [${i}]`);
    }
  }
  const y = randArr(x.length, 4, 4);
  for (const [al, be] of [[1, 1], [1, -0.37], [0.9, 0.1], [0.999, 0.001]]) {
    const a = new Float32Array(x.length), b = new Float32Array(x.length);
    axpbyJs(x, al, y, be, a);
    axpbyWasm(x, al, y, be, b);
    // JS rounds once from float64; float32 SIMD rounds the products and the sum
    for (let i = 0; i < x.length; i++) {
      const scale = Math.abs(al * x[i]) + Math.abs(be * y[i]);
      assert(Math.abs(a[i] - b[i]) <= 2.5e-7 * scale, `axpby ${al},${be} [${i}]`);
    }
  }
});

// ------------------------------------------------------------------ softmax and sums

function softmaxRef(x: Float32Array, rows: number, dim: number, log: boolean): Float64Array {
  const o = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < dim; j++) m = Math.max(m, x[r * dim + j]);
    let s = 0;
    for (let j = 0; j < dim; j++) s += Math.exp(x[r * dim + j] - m);
    for (let j = 0; j < dim; j++) {
      const v = x[r * dim + j] - m;
      o[r * dim + j] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return o;
}

Deno.test("wasm softmax / logSoftmax rows and gradients vs float64 (ragged and long rows)", () => {
  for (const [rows, dim] of [[7, 1], [9, 3], [13, 5], [64, 128], [5, 1001], [2, STAGE_CHUNK + 9]]) {
    const n = rows * dim;
    const x = randArr(n, dim, 20);
    const g = randArr(n, dim + 1, 1);
    for (const log of [false, true]) {
      const y = new Float32Array(n);
      softmaxKernel(x, y, rows, dim, 1, log);
      const ref = softmaxRef(x, rows, dim, log);
      for (let i = 0; i < n; i++) {
        // log-softmax is x − lse in float32: ~2 ulp of the larger of the two
        const tol = log ? 2.4e-7 * (Math.abs(x[i]) + Math.abs(x[i] - ref[i])) : 4e-7 * ref[i] + 1e-12;
        assert(
          Math.abs(y[i] - ref[i]) <= tol,
          `softmax log=${log} ${rows}x${dim} [${i}]: ${y[i]} vs ${ref[i]}`,
        );
      }
      // gradient: vs float64 formula evaluated on the same y
      const gx = new Float32Array(n), gj = new Float32Array(n);
      softmaxGradKernel(y, g, gx, rows, dim, 1, log);
      softmaxGradJs(y, g, gj, rows, dim, 1, log);
      for (let r = 0; r < rows; r++) {
        let s = 0, sAbs = 0; // sAbs bounds the float32 rounding of the products g·y inside the sum
        for (let j = 0; j < dim; j++) {
          const t = log ? g[r * dim + j] : g[r * dim + j] * y[r * dim + j];
          s += t;
          sAbs += Math.abs(t);
        }
        for (let j = 0; j < dim; j++) {
          const i = r * dim + j;
          const want = log ? g[i] - Math.exp(y[i]) * s : y[i] * (g[i] - s);
          const scale = log
            ? Math.abs(g[i]) + Math.exp(y[i]) * Math.abs(s)
            : Math.abs(y[i]) * (Math.abs(g[i]) + Math.abs(s) + sAbs);
          assert(Math.abs(gx[i] - want) <= 5e-7 * scale + 1e-30, `softmax grad log=${log} [${i}]`);
          assert(Math.abs(gx[i] - gj[i]) <= 5e-7 * scale + 1e-30, `softmax grad vs JS log=${log} [${i}]`);
        }
      }
    }
  }
  // all -Inf row gives NaN (as PyTorch), other rows as the JS kernel
  const x = Float32Array.from([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, 1, 2, 3, 4, 5]);
  const y = new Float32Array(10), yj = new Float32Array(10);
  const saved = wasmElementwise.minElementsTranscendental;
  wasmElementwise.minElementsTranscendental = 1;
  try {
    softmaxKernel(x, y, 2, 5, 1, false);
  } finally {
    wasmElementwise.minElementsTranscendental = saved;
  }
  softmaxJs(x, yj, 2, 5, 1, false);
  assert(y.subarray(0, 5).every((v) => v !== v), "all -Inf row is NaN");
  assert(maxAbsDiff(y.subarray(5), yj.subarray(5)) < 1e-7);
});

Deno.test("wasm softmax rows with causal −Inf masks and spreads past float32's normal range vs float64", () => {
  const rows = 6, dim = 300, n = rows * dim;
  const x = randArr(n, dim, 8);
  for (let r = 0; r < rows; r++) for (let j = r * 50 + 1; j < dim; j++) x[r * dim + j] = -Infinity;
  // row 5: shifts of -86, -87.5, -90, -103, -200, -1e30 below its max (exp subnormal or 0 in float32)
  [0, -86, -87.5, -90, -103, -200, -1e30].forEach((v, j) => x[5 * dim + j] = 3 + v);
  const saved = wasmElementwise.minElementsTranscendental;
  wasmElementwise.minElementsTranscendental = 1;
  try {
    for (const log of [false, true]) {
      const y = new Float32Array(n);
      softmaxKernel(x, y, rows, dim, 1, log);
      const ref = softmaxRef(x, rows, dim, log);
      for (let i = 0; i < n; i++) {
        if (x[i] === -Infinity) {
          assertEquals(y[i], log ? -Infinity : 0, `masked [${i}] log=${log}`);
          continue;
        }
        // row 5's far tail: exp near the bottom of float32's range, 0 below its normal range (< 1.2e-38)
        const rel = i >= 5 * dim && i < 5 * dim + 7 ? 1e-5 : 6e-7; // exp ~3 ulp, then the division
        const tol = log ? 2.4e-7 * (Math.abs(x[i]) + Math.abs(x[i] - ref[i])) : rel * ref[i] + 1e-37;
        assert(Math.abs(y[i] - ref[i]) <= tol, `log=${log} [${i}]: ${y[i]} vs ${ref[i]}`);
      }
    }
    // a NaN makes its row NaN (as PyTorch); the other rows are untouched by it
    const xn = x.slice(0, 2 * dim);
    xn[dim + 7] = NaN;
    const yn = new Float32Array(2 * dim);
    softmaxKernel(xn, yn, 2, dim, 1, false);
    assert(yn.subarray(dim).every((v) => v !== v), "NaN row");
    assert(yn.subarray(0, dim).every((v) => v === v), "row without NaN");
  } finally {
    wasmElementwise.minElementsTranscendental = saved;
  }
});

Deno.test("wasm row sums (sum over the last axis) accumulate in float64", () => {
  for (const [rows, cols] of [[1, 1], [3, 5], [100, 256], [1, 100_003], [3, STAGE_CHUNK + 1]]) {
    const x = randArr(rows * cols, cols, 1, 0.25);
    const out = new Float32Array(rows);
    sumRowsWasm(x, out, rows, cols);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += x[r * cols + j];
      assertEquals(out[r], Math.fround(s), `row ${r} of ${rows}x${cols}`);
    }
  }
  // through the op: sum(x, -1) and sum of everything
  manualSeed(3);
  const t = randn([6, 700]);
  const d = t.dataSync();
  const s = sum(t, -1).dataSync();
  for (let r = 0; r < 6; r++) {
    let ref = 0;
    for (let j = 0; j < 700; j++) ref += d[r * 700 + j];
    assertEquals(s[r], Math.fround(ref));
  }
  let all = 0;
  for (const v of d) all += v;
  assertEquals(sum(t).item(), Math.fround(all));
});

// ------------------------------------------------------------------ fused kernels

/** Runs `fn` with the given optional backend methods hidden (the composed fallback path). */
function withoutFused<T>(names: FusedKernel[], fn: () => T): T {
  const restore = (getBackend() as WasmBackend)._hideKernels(names);
  try {
    return fn();
  } finally {
    restore();
  }
}

Deno.test("fused adamStep vs a float64 Adam/AdamW reference (decay modes, maximize, AMSGrad, ragged sizes)", () => {
  for (const n of [1, 7, STAGE_CHUNK + 3]) {
    for (const flags of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const decoupled = (flags & 1) !== 0, maximize = (flags & 2) !== 0, ams = (flags & 4) !== 0;
      const cfg = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, decoupled, maximize };
      const p = randArr(n, 1, 1), m = new Float32Array(n), v = new Float32Array(n);
      const vmax = ams ? new Float32Array(n) : null;
      const P = Float64Array.from(p),
        M = new Float64Array(n),
        V = new Float64Array(n),
        VM = new Float64Array(n),
        MA = new Float64Array(n); // running average of |g|: the scale of m's rounding error
      for (let t = 1; t <= 5; t++) {
        const g = randArr(n, 10 + t, 1 / t); // shrinking gradients exercise AMSGrad's max
        adamStepKernel(p, g, m, v, vmax, { ...cfg, step: t });
        const bc1 = 1 - 0.9 ** t, bc2 = 1 - 0.999 ** t;
        for (let i = 0; i < n; i++) {
          let gi = maximize ? -g[i] : g[i];
          if (decoupled) P[i] *= 1 - cfg.lr * cfg.weightDecay;
          else gi += cfg.weightDecay * P[i];
          M[i] = 0.9 * M[i] + 0.1 * gi;
          MA[i] = 0.9 * MA[i] + 0.1 * Math.abs(gi);
          V[i] = 0.999 * V[i] + 0.001 * gi * gi;
          VM[i] = Math.max(VM[i], V[i]);
          P[i] -= (cfg.lr / bc1) * M[i] / (Math.sqrt((ams ? VM[i] : V[i]) / bc2) + cfg.eps);
        }
      }
      // float32 state over 5 steps: the update (~lr) carries ~1e-6 relative error
      for (let i = 0; i < n; i++) {
        // p is rounded to float32 at least twice per step (decay, update): ~1 ulp per step
        assert(Math.abs(p[i] - P[i]) <= 6e-7 * Math.abs(P[i]) + 2e-8, `adam flags=${flags} n=${n} p[${i}]`);
        assert(Math.abs(m[i] - M[i]) <= 1e-6 * MA[i] + 1e-12, `adam flags=${flags} m[${i}]`);
        assert(Math.abs(v[i] - V[i]) <= 1e-6 * Math.abs(V[i]) + 1e-12, `adam flags=${flags} v[${i}]`);
      }
    }
  }
});

Deno.test("AdamW / Adam with the fused kernel match the composed path", () => {
  const run = (fused: boolean, Opt: typeof AdamW | typeof Adam, amsgrad: boolean) => {
    const p = new Parameter(tensor(randArr(5000, 3, 1), [50, 100]));
    const opt = new Opt([p], { lr: 3e-3, weightDecay: 0.1, amsgrad });
    const body = () => {
      for (let t = 0; t < 4; t++) {
        p.grad = tensor(randArr(5000, 20 + t, 1 / (t + 1)), [50, 100]);
        opt.step();
      }
    };
    if (fused) body();
    else withoutFused(["adamStep"], body);
    return p.dataSync().slice();
  };
  for (const Opt of [AdamW, Adam]) {
    for (const ams of [false, true]) {
      const a = run(true, Opt, ams), b = run(false, Opt, ams);
      for (let i = 0; i < a.length; i++) {
        assert(
          Math.abs(a[i] - b[i]) <= 3e-7 * Math.abs(b[i]) + 2e-8,
          `${Opt.name} ams=${ams} [${i}]: ${a[i]} vs ${b[i]}`,
        );
      }
    }
  }
});

Deno.test("fused RMSNorm kernels vs float64 (with/without weight, ragged and long rows)", () => {
  for (const [rows, d] of [[5, 3], [17, 256], [3, 1001], [2, STAGE_CHUNK + 5]]) {
    const x = randArr(rows * d, d, 2), w = randArr(d, d + 1, 0.5, 1), g = randArr(rows * d, d + 2, 1);
    for (const withW of [true, false]) {
      const y = new Float32Array(rows * d), rstd = new Float32Array(rows);
      rmsNormKernel(x, withW ? w : null, y, rstd, rows, d, 1e-6);
      const gx = new Float32Array(rows * d), gw = new Float32Array(d);
      rmsNormGradKernel(g, x, withW ? w : null, rstd, gx, withW ? gw : null, rows, d);
      const GW = new Float64Array(d);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let j = 0; j < d; j++) ss += x[r * d + j] ** 2;
        const R = 1 / Math.sqrt(ss / d + 1e-6);
        assert(Math.abs(rstd[r] - R) <= 1.2e-7 * R, `rstd[${r}]`);
        let dot = 0;
        for (let j = 0; j < d; j++) dot += g[r * d + j] * (withW ? w[j] : 1) * x[r * d + j] * R;
        for (let j = 0; j < d; j++) {
          const i = r * d + j, nn = x[i] * R, wj = withW ? w[j] : 1;
          assert(Math.abs(y[i] - nn * wj) <= 2.5e-7 * Math.abs(nn * wj) + 1e-30, `rmsNorm y[${i}]`);
          const want = R * (g[i] * wj - nn * dot / d);
          const scale = R * (Math.abs(g[i] * wj) + Math.abs(nn * dot / d));
          assert(Math.abs(gx[i] - want) <= 5e-7 * scale + 1e-30, `rmsNorm gx[${i}] ${gx[i]} vs ${want}`);
          GW[j] += g[i] * nn;
        }
      }
      if (withW) {
        for (let j = 0; j < d; j++) {
          assert(Math.abs(gw[j] - GW[j]) <= 1e-6 * (Math.abs(GW[j]) + 1), `gw[${j}]`);
        }
      }
    }
  }
});

Deno.test("rmsNorm op: fused path matches the composed path and float64 gradients", () => {
  manualSeed(5);
  const x = randn([4, 30, 96]), w = randn([96]).mul(0.3).add(1);
  const fused = tidy(() => {
    const xa = x.clone().requiresGrad_(), wa = w.clone().requiresGrad_();
    const y = rmsNorm(xa, wa, 1e-5);
    sum(mul(y, y)).backward();
    return [y.dataSync().slice(), xa.grad!.dataSync().slice(), wa.grad!.dataSync().slice()];
  });
  const composed = withoutFused(["rmsNorm", "rmsNormGrad"], () =>
    tidy(() => {
      const xa = x.clone().requiresGrad_(), wa = w.clone().requiresGrad_();
      const y = rmsNorm(xa, wa, 1e-5);
      sum(mul(y, y)).backward();
      return [y.dataSync().slice(), xa.grad!.dataSync().slice(), wa.grad!.dataSync().slice()];
    }));
  for (let k = 0; k < 3; k++) {
    const scale = Math.max(...Array.from(composed[k], Math.abs));
    assert(maxAbsDiff(fused[k], composed[k]) <= 2e-6 * scale, `rmsNorm fused vs composed output ${k}`);
  }
  const ref = ([xv, wv]: Float64Array[]) => {
    const o = new Float64Array(xv.length), d = 8;
    for (let r = 0; r < xv.length / d; r++) {
      let ss = 0;
      for (let j = 0; j < d; j++) ss += xv[r * d + j] ** 2;
      const R = 1 / Math.sqrt(ss / d + 1e-6);
      for (let j = 0; j < d; j++) o[r * d + j] = xv[r * d + j] * R * wv[j];
    }
    return o;
  };
  gradcheck((a, b) => rmsNorm(a, b, 1e-6), [randn([70, 8]), randn([8])], { ref });
  gradcheck((a) => rmsNorm(a, null, 1e-6), [randn([70, 8])], {
    ref: ([xv]) => ref([xv, new Float64Array(8).fill(1)]),
  });
});

Deno.test("swiglu op and kernels: silu(gate)·up forward and gradients vs float64 and the composition", () => {
  const n = STAGE_CHUNK + 11;
  const a = randArr(n, 1, 8), b = randArr(n, 2, 2), g = randArr(n, 3, 1);
  const y = new Float32Array(n), ga = new Float32Array(n), gb = new Float32Array(n);
  swigluKernel(a, b, y);
  swigluGradKernel(a, b, g, ga, gb);
  for (let i = 0; i < n; i++) {
    const s = REF.silu.f(a[i]);
    assert(Math.abs(y[i] - s * b[i]) <= 5e-7 * Math.abs(s * b[i]) + 1e-30, `swiglu y[${i}]`);
    assert(Math.abs(gb[i] - g[i] * s) <= 5e-7 * Math.abs(g[i] * s) + 1e-30, `swiglu gUp[${i}]`);
    const want = g[i] * b[i] * REF.silu.d(a[i]);
    const bound = 5e-7 * (Math.abs(want) + 4 * Math.abs(g[i] * b[i])); // see the unary gradient test
    assert(Math.abs(ga[i] - want) <= bound, `swiglu gGate[${i}]`);
  }
  manualSeed(9);
  gradcheck(swiglu, [randn([20, 70]).mul(3), randn([20, 70])], {
    ref: ([p, q]) => p.map((v, i) => v * sigmoid64(v) * q[i]),
  });
  // op: fused vs composed mul(silu(gate), up); broadcasting shapes take the composed path
  const gate = randn([8, 700]).mul(3), up = randn([8, 700]);
  const f = swiglu(gate, up).dataSync(), c = mul(silu(gate), up).dataSync();
  for (let i = 0; i < f.length; i++) assert(Math.abs(f[i] - c[i]) <= 5e-7 * Math.abs(c[i]) + 1e-30);
  assertEquals(swiglu(gate, randn([700])).shape, [8, 700]);
});

Deno.test("applyRotaryEmb: fused kernel equals the composed path exactly (both layouts, per-batch positions, grads)", () => {
  manualSeed(13);
  const cases: Array<[number[], "BHTD" | "BTHD", number[] | undefined]> = [
    [[2, 3, 17, 64], "BHTD", undefined],
    [[2, 17, 3, 64], "BTHD", undefined],
    [[2, 3, 5, 10], "BHTD", [0, 3, 4, 9, 11, 2, 2, 5, 6, 100]], // [B, T] positions, half = 5 (ragged)
    [[1, 4, 3, 8], "BTHD", [7, 8, 9, 10]],
  ];
  for (const [shape, layout, positions] of cases) {
    const x = randn(shape);
    const run = () =>
      tidy(() => {
        const xa = x.clone().requiresGrad_();
        const y = applyRotaryEmb(xa, { layout, positions, theta: 500 });
        sum(mul(y, y.detach().mul(0.5).add(1))).backward();
        return [y.dataSync().slice(), xa.grad!.dataSync().slice()];
      });
    const fused = run();
    const composed = withoutFused(["rotaryEmb"], run);
    assertEquals(fused[0], composed[0], `rotary forward ${layout} ${shape}`);
    assertEquals(fused[1], composed[1], `rotary backward ${layout} ${shape}`);
  }
});

// ------------------------------------------------------------------ dispatch and pool

Deno.test("ops give the same results with the wasm kernels on and off (previous JS path)", () => {
  manualSeed(21);
  const x = randn([33, 257]).mul(4);
  const run = () =>
    tidy(() => {
      const xa = x.clone().requiresGrad_();
      const y = xa.exp().add(xa.tanh()).mul(xa.sigmoid()).sub(xa.mul(0.5).silu().div(3));
      const z = y.softmax(-1).add(xa.logSoftmax(-1)).sum(-1);
      sum(z).backward();
      return [z.dataSync().slice(), xa.grad!.dataSync().slice()];
    });
  const on = run();
  wasmElementwise.enabled = false;
  let off: Float32Array[];
  try {
    off = run();
  } finally {
    wasmElementwise.enabled = true;
  }
  for (let k = 0; k < 2; k++) {
    const scale = Math.max(...Array.from(off[k], Math.abs));
    assert(
      maxAbsDiff(on[k], off[k]) <= 2e-6 * scale,
      `output ${k}: ${maxAbsDiff(on[k], off[k])} vs scale ${scale}`,
    );
  }
});

Deno.test("array pool: arrays handed out by readSync are never recycled; recycled ones come back zeroed", () => {
  const b = new WasmBackend();
  const n = Math.max(wasmStoragePool.minElements, 5000);
  const s1 = b.full(n, 3);
  const seen = b.readSync(s1); // exposed: must not be reused after dispose
  b.dispose(s1);
  assertEquals(b.pooledBytes, 0);
  const s2 = b.unary("neg", b.full(n, 1));
  assert(b.readSync(s2) !== seen && seen.every((v) => v === 3), "exposed array untouched");
  const s3 = b.unary("exp", b.full(n, 0)); // private result
  b.dispose(s3);
  assertEquals(b.pooledBytes, n * 4);
  b.dispose(s3); // idempotent
  assertEquals(b.pooledBytes, n * 4);
  const s4 = b.full(n); // takes the pooled array, zeroed
  assertEquals(b.pooledBytes, 0);
  assert(b.readSync(s4).every((v) => v === 0));
  const adopted = new Float32Array(n).fill(7);
  const s5 = b.fromArray(adopted, true);
  b.dispose(s5);
  assertEquals(b.pooledBytes, 0, "adopted arrays belong to the caller");
  // disposed storages still throw on use
  let threw = false;
  try {
    b.readSync(s3);
  } catch {
    threw = true;
  }
  assert(threw);
});

Deno.test("tensors read through dataSync keep their values after tidy disposes them", () => {
  const kept: Float32Array[] = [];
  for (let i = 0; i < 3; i++) {
    tidy(() => {
      const t = randn([100, 100]).exp();
      kept.push(t.dataSync());
      const want = Float32Array.from(t.dataSync());
      kept.push(want);
    });
    tidy(() => randn([100, 100]).mul(2).add(1)); // churn the pool with same-size arrays
  }
  for (let i = 0; i < kept.length; i += 2) assertEquals(kept[i], kept[i + 1]);
});
