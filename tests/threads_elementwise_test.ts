// The streamed kernels split over the worker pool (src/backend/wasm/stream.ts): unary ops and their
// gradients, broadcasting binary ops, scalar ops, axpby, softmax / log-softmax and their gradients,
// RMSNorm forward and backward (weight gradient summed by columns), SwiGLU, rotary embedding (both
// layouts, shared and per-batch tables, inverse), fused Adam/AdamW (in place, AMSGrad), row sums (short
// and long rows) and column sums. Each runs on 1, 2 and 3 threads with every call split however small
// (withThreads(n, true)), on ragged sizes and on sizes that take several rounds; results must be
// bit-identical across thread counts and agree with float64 references (so agreement is not vacuous).
// Workers are stopped after each test.
import { assert, assertEquals } from "./deps.ts";
import {
  adamStepKernel,
  axpbyWasm,
  binaryWasm,
  rmsNormGradKernel,
  rmsNormKernel,
  rotaryKernel,
  scalarWasm,
  swigluGradKernel,
  swigluKernel,
  unaryGradWasm,
  unaryWasm,
} from "../src/backend/wasm/elementwise.ts";
import { softmaxGradKernel, softmaxKernel } from "../src/backend/wasm/softmax.ts";
import { sumColsWasm, sumRowsWasm } from "../src/backend/wasm/reduce.ts";
import { sharedMemory } from "../src/backend/wasm/memory.ts";
import { startedWorkers, stopWorkers, withThreads } from "../src/backend/threads/pool.ts";
import { uniformData } from "./_random.ts";

const THREADS = [1, 2, 3];
/** Flat sizes: ragged small ones and one that takes several rounds on 2-3 threads. */
const FLAT = [1, 7, 33, 1000, 700_001];

interface Case {
  name: string;
  /** Runs the kernel on fresh copies of its inputs; returns every output. */
  run(): Float32Array[];
  /** Checks the outputs against a float64 reference (throws on mismatch). */
  check(out: Float32Array[]): void;
}

function close(got: number, want: number, tol: number, what: string): void {
  if (!(Math.abs(got - want) <= tol)) throw new Error(`${what}: ${got} vs ${want} (tol ${tol})`);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const CASES: Case[] = [];

for (const n of FLAT) {
  const x = uniformData(n, n + 1, 4), g = uniformData(n, n + 2), y = uniformData(n, n + 3, 2);
  CASES.push({
    name: `unary exp / silu / neg, n=${n}`,
    run: () =>
      (["exp", "silu", "neg"] as const).map((op) => {
        const o = new Float32Array(n);
        unaryWasm(op, x, o);
        return o;
      }),
    check: ([e, s, ng]) => {
      for (let i = 0; i < n; i++) {
        const v = x[i];
        close(e[i], Math.exp(v), 3e-7 * Math.exp(v), `exp[${i}]`);
        close(s[i], v * sigmoid(v), 5e-7 * Math.abs(v * sigmoid(v)) + 1e-30, `silu[${i}]`);
        assertEquals(ng[i], -v);
      }
    },
  });
  CASES.push({
    name: `unary gradient silu, n=${n}`,
    run: () => {
      const yy = new Float32Array(n), o = new Float32Array(n);
      unaryWasm("silu", x, yy);
      unaryGradWasm("silu", x, yy, g, o);
      return [o];
    },
    check: ([o]) => {
      for (let i = 0; i < n; i++) {
        const s = sigmoid(x[i]), want = g[i] * s * (1 + x[i] * (1 - s));
        close(o[i], want, 1e-6 * Math.abs(g[i]) + 1e-30, `silu grad[${i}]`);
      }
    },
  });
  CASES.push({
    name: `scalar mul, axpby, swiglu and its gradient, n=${n}`,
    run: () => {
      const sm = new Float32Array(n), ax = new Float32Array(n), sw = new Float32Array(n);
      const ga = new Float32Array(n), gb = new Float32Array(n);
      scalarWasm("mul", x, 0.37, false, sm);
      axpbyWasm(x, 0.5, y, -1.25, ax);
      swigluKernel(x, y, sw);
      swigluGradKernel(x, y, g, ga, gb);
      return [sm, ax, sw, ga, gb];
    },
    check: ([sm, ax, sw, ga, gb]) => {
      const s = Math.fround(0.37);
      for (let i = 0; i < n; i++) {
        assertEquals(sm[i], Math.fround(x[i] * s));
        close(
          ax[i],
          0.5 * x[i] - 1.25 * y[i],
          2e-7 * (0.5 * Math.abs(x[i]) + 1.25 * Math.abs(y[i])),
          `axpby[${i}]`,
        );
        const sg = sigmoid(x[i]), silu = x[i] * sg;
        close(sw[i], silu * y[i], 1e-6 * Math.abs(silu * y[i]) + 1e-30, `swiglu[${i}]`);
        close(gb[i], g[i] * silu, 1e-6 * Math.abs(g[i] * silu) + 1e-30, `swiglu gb[${i}]`);
        const d = sg * (1 + x[i] * (1 - sg));
        close(ga[i], g[i] * y[i] * d, 1e-6 * Math.abs(g[i] * y[i]) + 1e-30, `swiglu ga[${i}]`);
      }
    },
  });
  for (const ams of [false, true]) {
    const p0 = uniformData(n, n + 4), m0 = uniformData(n, n + 5, 0.1);
    const v0 = uniformData(n, n + 6, 0.01).map(Math.abs), vm0 = v0.map((v, i) => i % 3 ? v : 2 * v);
    const c = {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      decoupled: true,
      maximize: false,
    };
    CASES.push({
      name: `fused AdamW step in place${ams ? " (AMSGrad)" : ""}, n=${n}`,
      run: () => {
        const p = p0.slice(), m = m0.slice(), v = v0.slice(), vm = ams ? vm0.slice() : null;
        adamStepKernel(
          p,
          g,
          m,
          v,
          vm,
          { ...c, amsgrad: ams, step: 3 } as Parameters<typeof adamStepKernel>[5],
        );
        return vm ? [p, m, v, vm] : [p, m, v];
      },
      check: ([p, m, v]) => {
        const bc1 = 1 - 0.9 ** 3, bc2 = 1 - 0.999 ** 3;
        for (let i = 0; i < n; i++) {
          const P = p0[i] * (1 - c.lr * c.weightDecay);
          const M = 0.9 * m0[i] + 0.1 * g[i], V = 0.999 * v0[i] + 0.001 * g[i] * g[i];
          const Vu = ams ? Math.max(vm0[i], V) : V;
          const den = Math.sqrt(Vu / bc2) + c.eps, want = P - (c.lr / bc1) * M / den;
          const updAbs = (c.lr / bc1) * (0.9 * Math.abs(m0[i]) + 0.1 * Math.abs(g[i])) / den; // m cancels
          close(m[i], M, 1e-6 * (0.9 * Math.abs(m0[i]) + 0.1 * Math.abs(g[i])), `adam m[${i}]`);
          close(v[i], V, 1e-6 * V + 1e-12, `adam v[${i}]`);
          // p rounded after the decay and after the update; the update ~1e-6 relative to its terms
          close(p[i], want, 2e-7 * Math.abs(P) + 1e-6 * updAbs + 1e-12, `adam p[${i}]`);
        }
      },
    });
  }
}

// broadcasting binary ops: same shape (flat), row vector, column vector, scalar
for (const [rows, cols] of [[5, 7], [301, 1031]]) {
  const a = uniformData(rows * cols, rows + cols), row = uniformData(cols, 7), col = uniformData(rows, 8);
  const b = uniformData(rows * cols, rows * cols), s = uniformData(1, 9);
  const shape = [rows, cols];
  const pats: [Float32Array, number[], (r: number, j: number) => number][] = [
    [b, [cols, 1], (r, j) => b[r * cols + j]],
    [row, [0, 1], (_r, j) => row[j]],
    [col, [1, 0], (r) => col[r]],
    [s, [0, 0], () => s[0]],
  ];
  CASES.push({
    name: `binary add / sub: same shape, row, column and scalar broadcast [${rows}, ${cols}]`,
    run: () =>
      pats.flatMap(([bb, bStr]) => {
        const o1 = new Float32Array(rows * cols), o2 = new Float32Array(rows * cols);
        assert(binaryWasm("add", a, bb, o1, shape, [cols, 1], bStr));
        assert(binaryWasm("sub", bb, a, o2, shape, bStr, [cols, 1]));
        return [o1, o2];
      }),
    check: (outs) =>
      pats.forEach(([, , at], q) => {
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < cols; j++) {
            const i = r * cols + j;
            assertEquals(outs[2 * q][i], Math.fround(a[i] + at(r, j)), `add pattern ${q} [${i}]`);
            assertEquals(outs[2 * q + 1][i], Math.fround(at(r, j) - a[i]), `sub pattern ${q} [${i}]`);
          }
        }
      }),
  });
}

// rows: softmax / log-softmax and gradients, RMSNorm, row and column sums (ragged and long rows)
for (const [rows, d] of [[3, 5], [37, 64], [200, 1999], [4, 20_001]]) {
  const x = uniformData(rows * d, rows + d, 3), g = uniformData(rows * d, rows * d + 1);
  const w = uniformData(d, d + 2, 1.5);
  CASES.push({
    name: `softmax / logSoftmax and gradients, [${rows}, ${d}]`,
    run: () => {
      const out = [0, 1].flatMap((log) => {
        const y = new Float32Array(rows * d), gx = new Float32Array(rows * d);
        softmaxKernel(x, y, rows, d, 1, log === 1);
        softmaxGradKernel(y, g, gx, rows, d, 1, log === 1);
        return [y, gx];
      });
      return out;
    },
    check: ([y, gy, ly, lgy]) => {
      for (let r = 0; r < rows; r++) {
        let m = -Infinity, s = 0, sg = 0, sgy = 0;
        for (let j = 0; j < d; j++) m = Math.max(m, x[r * d + j]);
        for (let j = 0; j < d; j++) s += Math.exp(x[r * d + j] - m);
        for (let j = 0; j < d; j++) {
          sg += g[r * d + j];
          sgy += g[r * d + j] * y[r * d + j];
        }
        for (let j = 0; j < d; j++) {
          const i = r * d + j, p = Math.exp(x[i] - m) / s;
          close(y[i], p, 1e-6 * p + 1e-12, `softmax[${i}]`);
          close(ly[i], Math.log(p), 2e-6 * (Math.abs(Math.log(p)) + 1), `logSoftmax[${i}]`);
          close(
            gy[i],
            y[i] * (g[i] - sgy),
            1e-6 * y[i] * (Math.abs(g[i]) + Math.abs(sgy)) + 1e-12,
            `softmax grad[${i}]`,
          );
          const pl = Math.exp(ly[i]);
          close(
            lgy[i],
            g[i] - pl * sg,
            1e-6 * (Math.abs(g[i]) + pl * (Math.abs(sg) + d)),
            `logSoftmax grad[${i}]`,
          );
        }
      }
    },
  });
  CASES.push({
    name: `RMSNorm forward and backward (weight gradient by columns), row and column sums, [${rows}, ${d}]`,
    run: () => {
      const y = new Float32Array(rows * d), rstd = new Float32Array(rows);
      rmsNormKernel(x, w, y, rstd, rows, d, 1e-5);
      const gx = new Float32Array(rows * d), gw = new Float32Array(d);
      rmsNormGradKernel(g, x, w, rstd, gx, gw, rows, d);
      const y0 = new Float32Array(rows * d), r0 = new Float32Array(rows), gx0 = new Float32Array(rows * d);
      rmsNormKernel(x, null, y0, r0, rows, d, 1e-5);
      rmsNormGradKernel(g, x, null, r0, gx0, null, rows, d);
      const rs = new Float32Array(rows), cs = new Float32Array(d);
      sumRowsWasm(x, rs, rows, d);
      sumColsWasm(x, cs, rows, d);
      return [y, rstd, gx, gw, y0, gx0, rs, cs];
    },
    check: ([y, rstd, gx, gw, y0, gx0, rs, cs]) => {
      const gwRef = new Float64Array(d), gwAbs = new Float64Array(d), colRef = new Float64Array(d);
      const colAbs = new Float64Array(d);
      for (let r = 0; r < rows; r++) {
        let ss = 0, sum = 0, sumAbs = 0;
        for (let j = 0; j < d; j++) {
          const v = x[r * d + j];
          ss += v * v;
          sum += v;
          sumAbs += Math.abs(v);
          colRef[j] += v;
          colAbs[j] += Math.abs(v);
        }
        close(rs[r], sum, 1e-7 * sumAbs + 1e-30, `row sum ${r}`);
        const rr = 1 / Math.sqrt(ss / d + 1e-5);
        close(rstd[r], rr, 2e-7 * rr, `rstd[${r}]`);
        for (const withW of [true, false]) {
          // gx = rstd·(gn − n·mean(gn·n)), gn = g·w, n = x·rstd
          let dot = 0, dotAbs = 0;
          for (let j = 0; j < d; j++) {
            const i = r * d + j, n = x[i] * rr, gn = g[i] * (withW ? w[j] : 1);
            dot += gn * n;
            dotAbs += Math.abs(gn * n);
          }
          for (let j = 0; j < d; j++) {
            const i = r * d + j, n = x[i] * rr, gn = g[i] * (withW ? w[j] : 1);
            const yy = withW ? y[i] : y0[i], gg = withW ? gx[i] : gx0[i];
            close(
              yy,
              n * (withW ? w[j] : 1),
              1e-6 * Math.abs(n * (withW ? w[j] : 1)) + 1e-30,
              `rmsNorm y[${i}]`,
            );
            const want = rr * (gn - n * dot / d);
            close(gg, want, 2e-6 * rr * (Math.abs(gn) + Math.abs(n) * dotAbs / d), `rmsNorm gx[${i}]`);
            if (withW) {
              gwRef[j] += g[i] * n;
              gwAbs[j] += Math.abs(g[i] * n);
            }
          }
        }
      }
      for (let j = 0; j < d; j++) {
        close(gw[j], gwRef[j], 1e-6 * gwAbs[j] + 1e-30, `rmsNorm gw[${j}]`);
        close(cs[j], colRef[j], 1e-7 * colAbs[j] + 1e-30, `column sum ${j}`);
      }
    },
  });
}

// rotary: both layouts, shared and per-batch tables, forward and inverse, ragged half widths
for (const layout of ["BHTD", "BTHD"] as const) {
  for (const perBatch of [false, true]) {
    const batch = 2, heads = 3, seq = 37, dim = 10;
    const x = uniformData(batch * heads * seq * dim, seq + dim + (perBatch ? 1 : 0));
    const tl = (perBatch ? batch : 1) * seq * dim;
    const cos = uniformData(tl, 11), sin = uniformData(tl, 12);
    const p = { batch, heads, seq, dim, layout, perBatch };
    CASES.push({
      name: `rotary ${layout}${perBatch ? ", per-batch tables" : ""}, forward and inverse`,
      run: () =>
        [false, true].map((inv) => {
          const o = new Float32Array(x.length);
          rotaryKernel(x, cos, sin, o, p, inv);
          return o;
        }),
      check: (outs) =>
        outs.forEach((o, inv) => {
          const half = dim / 2;
          for (let b = 0; b < batch; b++) {
            for (let h = 0; h < heads; h++) {
              for (let t = 0; t < seq; t++) {
                const xo = layout === "BHTD"
                  ? ((b * heads + h) * seq + t) * dim
                  : ((b * seq + t) * heads + h) * dim;
                const to = ((perBatch ? b * seq : 0) + t) * dim;
                for (let i = 0; i < half; i++) {
                  const x1 = x[xo + i], x2 = x[xo + i + half];
                  const c1 = cos[to + i], c2 = cos[to + i + half], s1 = sin[to + i], s2 = sin[to + i + half];
                  const w1 = x1 * c1 + x2 * (inv ? s2 : s1), w2 = x2 * c2 + x1 * (inv ? s1 : s2);
                  const tol = 2e-7 * (Math.abs(x1) + Math.abs(x2));
                  close(o[xo + i], w1, tol, `rotary ${layout} inv=${inv} [${xo + i}]`);
                  close(o[xo + i + half], w2, tol, `rotary ${layout} inv=${inv} [${xo + i + half}]`);
                }
              }
            }
          }
        }),
    });
  }
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

Deno.test({
  name:
    "threads: streamed kernels (elementwise, softmax, RMSNorm, SwiGLU, rotary, AdamW, sums) are bit-identical for 1, 2, 3 threads",
  ignore: !sharedMemory,
  async fn() {
    try {
      for (const c of CASES) {
        const runs = THREADS.map((t) => withThreads(t, true, c.run));
        for (let t = 1; t < runs.length; t++) {
          runs[t].forEach((o, i) =>
            assert(sameBits(o, runs[0][i]), `${c.name}: output ${i} differs on ${THREADS[t]} threads`)
          );
        }
        c.check(runs[0]);
      }
    } finally {
      await stopWorkers();
    }
  },
});

Deno.test({
  name: "threads: small streamed calls stay on the calling thread; large ones start the pool",
  ignore: !sharedMemory,
  async fn() {
    try {
      await stopWorkers();
      const small = uniformData(4096, 1), o = new Float32Array(4096);
      withThreads(2, false, () => unaryWasm("exp", small, o));
      assertEquals(startedWorkers(), 0);
      const big = uniformData(1 << 20, 2), ob = new Float32Array(1 << 20);
      withThreads(2, false, () => unaryWasm("exp", big, ob));
      assertEquals(startedWorkers(), 1);
      for (let i = 0; i < big.length; i += 997) {
        close(ob[i], Math.exp(big[i]), 3e-7 * Math.exp(big[i]), `exp[${i}]`);
      }
    } finally {
      await stopWorkers();
    }
  },
});
