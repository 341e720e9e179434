// Elementwise / softmax / reduction / fused-kernel benchmarks of the wasm backend: plain-JS loops vs
// the SIMD kernels of wasm/elementwise.ts (which stream operands through wasm memory, so the copy-in
// and copy-out cost is part of every wasm time).
//
//   deno bench -A bench/elementwise_bench.ts     deno bench groups (JS loop is each group's baseline)
//   deno run -A bench/elementwise_bench.ts [rounds] [filter]
//                                                 table: median ns per element, JS vs wasm, per size
//
// Outputs are preallocated (the kernels' own cost); the fused rows compare one fused SIMD pass with
// the composed sequence of JS kernels the ops ran before (including its temporaries).
// The training-step effect is measured by bench/train_bench.ts.

import {
  adamStepKernel,
  axpbyJs,
  axpbyWasm,
  binaryJs,
  binaryWasm,
  rmsNormGradKernel,
  rmsNormKernel,
  rotaryKernel,
  scalarJs,
  scalarWasm,
  swigluGradKernel,
  swigluKernel,
  unaryGradJs,
  unaryGradWasm,
  unaryJs,
  unaryWasm,
} from "../src/backend/wasm/elementwise.ts";
import { softmaxGradJs, softmaxJs } from "../src/backend/wasm/softmax.ts";
import { reduceKernel, sumRowsWasm } from "../src/backend/wasm/reduce.ts";
import { wasm } from "../src/backend/wasm/memory.ts";
import { rowsWasm } from "../src/backend/wasm/elementwise.ts";
import type { UnaryOp } from "../src/backend/backend.ts";

interface Case {
  group: string;
  name: "js" | "wasm";
  /** Elements processed per call (for ns/element). */
  elems: number;
  fn: () => void;
}

const cases: Case[] = [];
let seed = 1;
function rand(n: number, scale = 3, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = offset + scale * ((seed / 2 ** 32) * 2 - 1);
  }
  return a;
}

const SIZES = [64, 256, 1024, 16384, 262144];

function pair(group: string, elems: number, js: () => void, wa: () => void): void {
  cases.push({ group, name: "js", elems, fn: js }, { group, name: "wasm", elems, fn: wa });
}

// ---- unary forward and gradient
const UNARY: UnaryOp[] = ["neg", "relu", "sqrt", "exp", "log", "tanh", "sigmoid", "silu", "gelu", "geluTanh"];
for (const op of UNARY) {
  for (const n of SIZES) {
    const x = op === "log" || op === "sqrt" ? rand(n, 10, 10.5) : rand(n);
    const o = new Float32Array(n);
    pair(`unary ${op}`, n, () => unaryJs(op, x, o), () => unaryWasm(op, x, o));
  }
}
for (const op of ["tanh", "silu", "gelu"] as UnaryOp[]) {
  for (const n of SIZES) {
    const x = rand(n), y = new Float32Array(n), g = rand(n), o = new Float32Array(n);
    unaryJs(op, x, y);
    pair(`grad ${op}`, n, () => unaryGradJs(op, x, y, g, o), () => unaryGradWasm(op, x, y, g, o));
  }
}

// ---- binary patterns (rows of 256)
for (const n of SIZES) {
  const cols = Math.min(256, n), rows = n / cols;
  const a = rand(n), b = rand(n), row = rand(cols), col = rand(rows), o = new Float32Array(n);
  const shape = [rows, cols];
  const same: [number[], number[]] = [[cols, 1], [cols, 1]];
  const rowB: [number[], number[]] = [[cols, 1], [0, 1]];
  const colB: [number[], number[]] = [[cols, 1], [1, 0]];
  pair("mul same shape", n, () => binaryJs("mul", a, b, o, shape, ...same), () => {
    binaryWasm("mul", a, b, o, shape, ...same);
  });
  pair("mul [R,256]x[256]", n, () => binaryJs("mul", a, row, o, shape, ...rowB), () => {
    binaryWasm("mul", a, row, o, shape, ...rowB);
  });
  pair("mul [R,256]x[R,1]", n, () => binaryJs("mul", a, col, o, shape, ...colB), () => {
    binaryWasm("mul", a, col, o, shape, ...colB);
  });
  pair("add scalar", n, () => scalarJs("add", a, 0.5, false, o), () => scalarWasm("add", a, 0.5, false, o));
  pair("axpby", n, () => axpbyJs(a, 0.9, b, 0.1, o), () => axpbyWasm(a, 0.9, b, 0.1, o));
}

// ---- softmax rows (dim 128) and row sums (dim 256)
for (const n of SIZES) {
  const dim = Math.min(128, n), rows = n / dim;
  const x = rand(n, 5), y = new Float32Array(n), g = rand(n), o = new Float32Array(n);
  softmaxJs(x, y, rows, dim, 1, false);
  pair("softmax rows", n, () => softmaxJs(x, o, rows, dim, 1, false), () => {
    rowsWasm([x], [o], rows, dim, (p, q, r) => wasm.ewSoftmaxRows(p[0], q[0], r, dim, 0));
  });
  pair("softmax grad rows", n, () => softmaxGradJs(y, g, o, rows, dim, 1, false), () => {
    rowsWasm([y, g], [o], rows, dim, (p, q, r) => wasm.ewSoftmaxGradRows(p[0], p[1], q[0], r, dim, 0));
  });
  const cols = Math.min(256, n), srows = n / cols, s = new Float32Array(srows);
  pair("sum last axis", n, () => {
    const on = wasmOff();
    reduceKernel("sum", x, [srows, cols], [1], s);
    on();
  }, () => sumRowsWasm(x, s, srows, cols));
}

function wasmOff(): () => void {
  // reduceKernel dispatches itself; force its JS loop for the baseline
  const prev = ew.enabled;
  ew.enabled = false;
  return () => (ew.enabled = prev);
}
import { wasmElementwise as ew } from "../src/backend/wasm/elementwise.ts";

// ---- fused kernels vs the composed JS sequences the ops ran before
for (const n of SIZES) {
  // AdamW (lr 1e-3, wd 0.01, step 10): old path = mul, axpby, mul(g,g), axpby, sqrt, mul, add, div, axpby
  const p = rand(n), gr = rand(n), m = rand(n, 0.1), v = rand(n, 0.01, 0.02);
  const cfg = {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0.01,
    step: 10,
    decoupled: true,
    maximize: false,
  };
  const bc1 = 1 - 0.9 ** 10, bc2 = 1 - 0.999 ** 10;
  pair("adamw step (per param)", n, () => {
    scalarJs("mul", p, 1 - 1e-5, false, p);
    axpbyJs(m, 0.9, gr, 0.1, m);
    const g2 = new Float32Array(n);
    binaryJs("mul", gr, gr, g2, [n], [1], [1]);
    axpbyJs(v, 0.999, g2, 0.001, v);
    const den = new Float32Array(n);
    unaryJs("sqrt", v, den);
    scalarJs("mul", den, 1 / Math.sqrt(bc2), false, den);
    scalarJs("add", den, 1e-8, false, den);
    binaryJs("div", m, den, den, [n], [1], [1]);
    axpbyJs(p, 1, den, -1e-3 / bc1, p);
  }, () => adamStepKernel(p, gr, m, v, null, cfg));
}
for (const n of SIZES) {
  // RMSNorm forward+backward over rows of 256 with weight
  const d = Math.min(256, n), rows = n / d;
  const x = rand(n), w = rand(d, 0.5, 1), g = rand(n);
  const y = new Float32Array(n),
    rstd = new Float32Array(rows),
    gx = new Float32Array(n),
    gw = new Float32Array(d);
  pair("rmsNorm fwd+bwd [R,256]", n, () => composedRmsNorm(x, w, g, rows, d), () => {
    rmsNormKernel(x, w, y, rstd, rows, d, 1e-6);
    rmsNormGradKernel(g, x, w, rstd, gx, gw, rows, d);
  });
  // SwiGLU forward+backward: old path = silu, mul; silu grad, mul, mul
  const a = rand(n),
    b = rand(n),
    ya = new Float32Array(n),
    ga = new Float32Array(n),
    gb = new Float32Array(n);
  pair("swiglu fwd+bwd", n, () => {
    const s = new Float32Array(n), yy = new Float32Array(n);
    unaryJs("silu", a, s);
    binaryJs("mul", s, b, yy, [n], [1], [1]);
    const gs = new Float32Array(n), gbb = new Float32Array(n), gaa = new Float32Array(n);
    binaryJs("mul", g, b, gs, [n], [1], [1]);
    binaryJs("mul", g, s, gbb, [n], [1], [1]);
    unaryGradJs("silu", a, s, gs, gaa);
  }, () => {
    swigluKernel(a, b, ya);
    swigluGradKernel(a, b, g, ga, gb);
  });
  // rotary embedding forward, x [B=1, H, T, 64], tables [T, 64]
  const D = 64, T = Math.max(1, Math.min(128, n / D)), H = n / (T * D);
  if (Number.isInteger(H) && H >= 1) {
    const cos = rand(T * D), sin = rand(T * D), out = new Float32Array(n);
    const params = { batch: 1, heads: H, seq: T, dim: D, layout: "BHTD" as const, perBatch: false };
    pair("rotary fwd [1,H,T,64]", n, () => {
      const sw = new Float32Array(n), t1 = new Float32Array(n), t2 = new Float32Array(n);
      for (let r = 0; r < n / D; r++) {
        for (let j = 0; j < D / 2; j++) {
          sw[r * D + j] = x[r * D + j + D / 2];
          sw[r * D + j + D / 2] = x[r * D + j];
        }
      }
      binaryJs("mul", x, cos, t1, [H, T * D], [T * D, 1], [0, 1]);
      binaryJs("mul", sw, sin, t2, [H, T * D], [T * D, 1], [0, 1]);
      binaryJs("add", t1, t2, out, [n], [1], [1]);
    }, () => rotaryKernel(x, cos, sin, out, params, false));
  }
}

function composedRmsNorm(x: Float32Array, w: Float32Array, g: Float32Array, rows: number, d: number): void {
  const n = rows * d;
  const sq = new Float32Array(n), ms = new Float32Array(rows), r = new Float32Array(rows);
  unaryJs("square", x, sq);
  const on = wasmOff();
  reduceKernel("sum", sq, [rows, d], [1], ms);
  on();
  for (let i = 0; i < rows; i++) r[i] = 1 / Math.sqrt(ms[i] / d + 1e-6);
  const nn = new Float32Array(n), y = new Float32Array(n);
  binaryJs("mul", x, r, nn, [rows, d], [d, 1], [1, 0]);
  binaryJs("mul", nn, w, y, [rows, d], [d, 1], [0, 1]);
  // backward
  const gn = new Float32Array(n), t = new Float32Array(n), md = new Float32Array(rows);
  binaryJs("mul", g, w, gn, [rows, d], [d, 1], [0, 1]);
  binaryJs("mul", gn, nn, t, [rows, d], [d, 1], [d, 1]);
  const on2 = wasmOff();
  reduceKernel("sum", t, [rows, d], [1], md);
  on2();
  for (let i = 0; i < rows; i++) md[i] /= d;
  const u = new Float32Array(n), gx = new Float32Array(n);
  binaryJs("mul", nn, md, u, [rows, d], [d, 1], [1, 0]);
  binaryJs("sub", gn, u, u, [rows, d], [d, 1], [d, 1]);
  binaryJs("mul", r, u, gx, [rows, d], [1, 0], [d, 1]);
  const gwt = new Float32Array(n), gw = new Float32Array(d);
  binaryJs("mul", g, nn, gwt, [rows, d], [d, 1], [d, 1]);
  const on3 = wasmOff();
  reduceKernel("sum", gwt, [rows, d], [0], gw);
  on3();
}

if (!import.meta.main) {
  // deno bench: two sizes per kernel (the table mode covers all of SIZES)
  for (const c of cases.filter((c) => c.elems === 1024 || c.elems === 262144)) {
    Deno.bench({
      name: `${c.group}: ${c.name} n=${c.elems}`,
      group: `${c.group} n=${c.elems}`,
      baseline: c.name === "js",
      fn: c.fn,
    });
  }
} else {
  // Table mode: JS and wasm of one (group, size) alternate within each round; median over rounds.
  const rounds = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 15);
  const filter = Deno.args.find((a) => !/^\d+$/.test(a)) ?? "";
  const groups = [...new Set(cases.map((c) => c.group))].filter((g) => g.includes(filter));
  console.log(
    `median ns per element over ${rounds} rounds (copy-in/out included for wasm); ${navigator.userAgent}`,
  );
  console.log(`| kernel | ${SIZES.map((n) => `n=${n} js / wasm (x)`).join(" | ")} |`);
  console.log(`|---|${SIZES.map(() => "---").join("|")}|`);
  for (const group of groups) {
    const cells: string[] = [];
    for (const n of SIZES) {
      const js = cases.find((c) => c.group === group && c.elems === n && c.name === "js");
      const wa = cases.find((c) => c.group === group && c.elems === n && c.name === "wasm");
      if (!js || !wa) {
        cells.push("-");
        continue;
      }
      const reps = Math.max(1, Math.round(200000 / n));
      const time = (c: Case) => {
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) c.fn();
        return ((performance.now() - t0) * 1e6) / (reps * n);
      };
      for (let w = 0; w < 3; w++) {
        js.fn();
        wa.fn();
      }
      const tj: number[] = [], tw: number[] = [];
      for (let r = 0; r < rounds; r++) {
        tj.push(time(js));
        tw.push(time(wa));
      }
      const med = (t: number[]) => t.sort((a, b) => a - b)[t.length >> 1];
      const mj = med(tj), mw = med(tw);
      cells.push(`${mj.toFixed(2)} / ${mw.toFixed(2)} (${(mj / mw).toFixed(1)}x)`);
    }
    console.log(`| ${group} | ${cells.join(" | ")} |`);
  }
}
