// The fused causal softmax kernels of the wasm executor (kernels `causalSoftmax` /
// `causalSoftmaxGrad`, wasm/elementwise.ts ewCausalSoftmaxRows / ewCausalSoftmaxGradRows): against a
// float64 reference written here (rows stacked in blocks of `period` query positions, `offset` keys
// before the first query, ragged rows, limits clamped to the row), with NaN / ±Inf placed past each
// row's limit (they must not reach the result); bit-identical on 1, 2 and 3 threads; and
// scaledDotProductAttention's causal path with the fused kernels against the composed path
// (scale · scores + −∞ mask → softmax) forward and backward.

import { assert, assertEquals } from "./deps.ts";
import { maxAbsDiff } from "./gradcheck.ts";
import { causalSoftmaxGradKernel, causalSoftmaxKernel } from "../src/backend/wasm/softmax.ts";
import { setResidentCap, sharedMemory } from "../src/backend/wasm/memory.ts";
import { stopWorkers, withThreads } from "../src/backend/threads/pool.ts";
import type { WasmBackend } from "../src/backend/wasm/backend.ts";
import type { Backend } from "../src/backend/backend.ts";
import type { FusedKernel } from "../src/backend/kernels.ts";
import { getBackend, manualSeed, mul, randn, sum, type Tensor, tidy } from "../src/tensor/index.ts";
import { scaledDotProductAttention } from "../src/ops/nn.ts";
import { uniformData } from "./_random.ts";

/** [rows, cols, period L, offset]: L = rows, rows = 3·L, offsets > 0, clamped limits, several chunks. */
const SHAPES: [number, number, number, number][] = [
  [12, 12, 12, 0],
  [21, 7, 7, 0],
  [15, 13, 5, 8],
  [18, 10, 6, 6],
  [6, 130, 6, 125],
  [8, 3, 4, 0],
  [300, 67, 100, 2], // 122 rows per staged chunk: chunks start mid-block
];
const SCALES = [1, 1 / Math.sqrt(48)];
const JUNK = [NaN, Infinity, -Infinity, 1e30, -1e30];

/** Last visible key of row i (the definition, written independently of the kernel). */
function lim(i: number, cols: number, period: number, offset: number): number {
  return Math.min((i % period) + offset, cols - 1);
}

/** x uniform in [-6, 6), with junk (NaN, ±Inf, ±1e30) past every row's limit. */
function scores(rows: number, cols: number, period: number, offset: number, seed: number): Float32Array {
  const x = uniformData(rows * cols, seed, 6);
  for (let i = 0; i < rows; i++) {
    for (let j = lim(i, cols, period, offset) + 1; j < cols; j++) {
      x[i * cols + j] = JUNK[(i + j) % JUNK.length];
    }
  }
  return x;
}

/** float64 causal softmax of scale·x (exact products). */
function refForward(
  x: Float32Array,
  rows: number,
  cols: number,
  scale: number,
  period: number,
  offset: number,
) {
  const y = new Float64Array(rows * cols), maxs = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const n = lim(i, cols, period, offset) + 1;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, scale * x[i * cols + j]);
    let z = 0;
    for (let j = 0; j < n; j++) z += y[i * cols + j] = Math.exp(scale * x[i * cols + j] - m);
    for (let j = 0; j < n; j++) y[i * cols + j] /= z;
    maxs[i] = m;
  }
  return { y, maxs };
}

function checkForward(
  y: Float32Array,
  x: Float32Array,
  rows: number,
  cols: number,
  scale: number,
  period: number,
  offset: number,
  what: string,
): void {
  const ref = refForward(x, rows, cols, scale, period, offset);
  for (let i = 0; i < rows; i++) {
    const n = lim(i, cols, period, offset) + 1;
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      if (j >= n) {
        assertEquals(y[k], 0, `${what} [${i}, ${j}] past the limit`);
        continue;
      }
      // exp ~3 ulp and the division; the float32 products scale·x shift the exponent by ~u·|scale·x|
      const sx = Math.abs(scale * x[k]) + Math.abs(ref.maxs[i]);
      const tol = (6e-7 + 1.2e-7 * sx) * ref.y[k] + 1e-37;
      assert(Math.abs(y[k] - ref.y[k]) <= tol, `${what} [${i}, ${j}]: ${y[k]} vs ${ref.y[k]}`);
    }
  }
}

/** Checks gx against scale·y·(g − Σ g·y) in float64 on the kernel's own visible y. */
function checkGrad(
  gx: Float32Array,
  y: Float32Array,
  g: Float32Array,
  rows: number,
  cols: number,
  scale: number,
  period: number,
  offset: number,
  what: string,
): void {
  for (let i = 0; i < rows; i++) {
    const n = lim(i, cols, period, offset) + 1;
    let s = 0, sAbs = 0;
    for (let j = 0; j < n; j++) {
      const t = g[i * cols + j] * y[i * cols + j];
      s += t;
      sAbs += Math.abs(t);
    }
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      if (j >= n) {
        assertEquals(gx[k], 0, `${what} [${i}, ${j}] past the limit`);
        continue;
      }
      const want = scale * y[k] * (g[k] - s);
      const bound = Math.abs(scale * y[k]) * (Math.abs(g[k]) + Math.abs(s) + sAbs);
      assert(Math.abs(gx[k] - want) <= 6e-7 * bound + 1e-30, `${what} [${i}, ${j}]: ${gx[k]} vs ${want}`);
    }
  }
}

/** y with junk past each limit (the gradient must not read it) and upstream g likewise. */
function gradInputs(
  y: Float32Array,
  rows: number,
  cols: number,
  period: number,
  offset: number,
  seed: number,
) {
  const yj = y.slice(), g = uniformData(rows * cols, seed, 2);
  for (let i = 0; i < rows; i++) {
    for (let j = lim(i, cols, period, offset) + 1; j < cols; j++) {
      yj[i * cols + j] = JUNK[(i + 2 * j) % JUNK.length];
      g[i * cols + j] = JUNK[(i + j + 1) % JUNK.length];
    }
  }
  return { yj, g };
}

Deno.test("causalSoftmax / causalSoftmaxGrad kernels vs float64 (stacked blocks, offsets, ragged rows, junk past the limit)", () => {
  let seed = 1;
  for (const [rows, cols, period, offset] of SHAPES) {
    for (const scale of SCALES) {
      const what = `${rows}x${cols} L=${period} off=${offset} scale=${scale.toFixed(4)}`;
      const x = scores(rows, cols, period, offset, seed++);
      const y = new Float32Array(rows * cols).fill(7); // outputs start as junk: zeros must be written
      causalSoftmaxKernel(x, y, { rows, cols, scale, period, offset });
      checkForward(y, x, rows, cols, scale, period, offset, `forward ${what}`);
      const { yj, g } = gradInputs(y, rows, cols, period, offset, seed++);
      const gx = new Float32Array(rows * cols).fill(7);
      causalSoftmaxGradKernel(yj, g, gx, { rows, cols, scale, period, offset });
      checkGrad(gx, y, g, rows, cols, scale, period, offset, `grad ${what}`);
    }
  }
  // an all −Inf visible row gives NaN there (as the composed softmax and PyTorch); its zeros stay
  const x = Float32Array.from([-Infinity, 5, 1, 2]), y = new Float32Array(4);
  causalSoftmaxKernel(x, y, { rows: 2, cols: 2, scale: 1, period: 2, offset: 0 });
  assert(Number.isNaN(y[0]) && y[1] === 0, `all −Inf row: ${y[0]}, ${y[1]}`);
  assert(Math.abs(y[2] - 1 / (1 + Math.E)) < 1e-7 && Math.abs(y[3] - Math.E / (1 + Math.E)) < 2e-7);
});

Deno.test({
  name: "causalSoftmax / causalSoftmaxGrad kernels are bit-identical on 1, 2 and 3 threads",
  ignore: !sharedMemory,
  async fn() {
    try {
      for (const [rows, cols, period, offset] of [[300, 67, 100, 2], [45, 9, 15, 0], [2048, 33, 128, 5]]) {
        const scale = 1 / Math.sqrt(48);
        const x = scores(rows, cols, period, offset, rows);
        const g = uniformData(rows * cols, rows + 1, 2);
        const runs = [1, 2, 3].map((t) =>
          withThreads(t, true, () => {
            const y = new Float32Array(rows * cols), gx = new Float32Array(rows * cols);
            causalSoftmaxKernel(x, y, { rows, cols, scale, period, offset });
            causalSoftmaxGradKernel(y, g, gx, { rows, cols, scale, period, offset });
            return [y, gx];
          })
        );
        for (let t = 1; t < 3; t++) {
          for (let k = 0; k < 2; k++) {
            assert(
              runs[t][k].every((v, i) => Object.is(v, runs[0][k][i])),
              `${rows}x${cols}: output ${k} differs on ${t + 1} threads`,
            );
          }
        }
        checkForward(runs[0][0], x, rows, cols, scale, period, offset, `threads ${rows}x${cols}`);
      }
    } finally {
      await stopWorkers();
    }
  },
});

/**
 * Output and the q, k, v gradients (upstream gradient w) of causal attention on (copies of) q, k, v,
 * counting the fused kernels' calls.
 */
function attention(q: Tensor, k: Tensor, v: Tensor, w: Tensor, scale?: number) {
  const be = getBackend() as Backend & { run: Backend["run"] };
  const run = be.run;
  let fusedCalls = 0, attentionCalls = 0;
  be.run = ((name, ...rest) => {
    if (name === "causalSoftmax" || name === "causalSoftmaxGrad") fusedCalls++;
    if (name === "causalAttention" || name === "causalAttentionGrad") attentionCalls++;
    return (run as (...a: unknown[]) => unknown).call(be, name, ...rest);
  }) as Backend["run"];
  try {
    const out = tidy(() => {
      const [qa, ka, va] = [q, k, v].map((t) => t.clone().requiresGrad_());
      const o = scaledDotProductAttention(qa, ka, va, { causal: true, scale });
      sum(mul(o, w)).backward();
      return [o, qa.grad!, ka.grad!, va.grad!].map((t) => t.dataSync().slice());
    });
    return { out, fusedCalls, attentionCalls };
  } finally {
    delete (be as { run?: unknown }).run; // back to the prototype's method
  }
}

Deno.test("scaledDotProductAttention causal: fused softmax kernels = composed path; fused attention kernels = fused softmax path bit for bit", () => {
  manualSeed(11);
  const be = getBackend() as WasmBackend;
  assert(
    be.supports("causalSoftmax") && be.supports("causalSoftmaxGrad") && be.supports("causalAttention"),
    "the wasm executor has the fused kernels",
  );
  const without = <T>(names: FusedKernel[], f: () => T): T => {
    const restore = be._hideKernels(names);
    try {
      return f();
    } finally {
      restore();
    }
  };
  const cases: [number[], number[], number | undefined][] = [
    [[2, 4, 9, 8], [2, 2, 9, 8], undefined], // scale 1/√8 applied to the scores
    [[1, 4, 9, 4], [1, 2, 9, 4], undefined], // power-of-two scale 1/2 with S > D: applied to q
    [[1, 3, 4, 6], [1, 1, 7, 6], 0.3], // L != S (top-left aligned), MQA
    [[1, 2, 33, 16], [1, 2, 33, 16], 1 / Math.sqrt(48)], // ragged S
  ];
  for (const [qs, ks, scale] of cases) {
    const q = randn(qs), k = randn(ks), v = randn(ks), w = randn([qs[0], qs[1], qs[2], ks[3]]);
    const whole = attention(q, k, v, w, scale);
    const fused = without(["causalAttention", "causalAttentionGrad"], () => attention(q, k, v, w, scale));
    const composed = without(
      ["causalAttention", "causalAttentionGrad", "causalSoftmax", "causalSoftmaxGrad"],
      () => attention(q, k, v, w, scale),
    );
    assert(
      whole.attentionCalls === 2 && fused.attentionCalls === 0 && fused.fusedCalls === 2 &&
        composed.fusedCalls === 0 && composed.attentionCalls === 0,
      `${qs}: ${JSON.stringify([whole, fused, composed].map((r) => [r.attentionCalls, r.fusedCalls]))}`,
    );
    // operands past the resident cap: the same steps on the arrays, each tiled on its own (the
    // tiles compute the full products: the same values up to the order of the weightsT sums)
    setResidentCap(2048);
    let capped;
    try {
      capped = attention(q, k, v, w, scale);
    } finally {
      setResidentCap(undefined);
    }
    for (let i = 0; i < 4; i++) {
      assert(
        whole.out[i].every((x, j) => Object.is(x, fused.out[i][j])),
        `q ${qs}: output ${i} of the fused attention kernels differs from the fused softmax path`,
      );
      const mag = Math.max(...Array.from(whole.out[i], Math.abs));
      const d = maxAbsDiff(capped.out[i], whole.out[i]);
      assert(
        capped.attentionCalls === 2 && d <= 1e-6 * mag,
        `q ${qs}: output ${i} past the cap differs by ${d}`,
      );
    }
    for (let i = 0; i < 4; i++) {
      const mag = Math.max(...Array.from(composed.out[i], Math.abs));
      const d = maxAbsDiff(fused.out[i], composed.out[i]);
      assert(d <= 1e-6 * mag, `q ${qs}: output ${i} fused vs composed differ by ${d} (max ${mag})`);
    }
  }
});

Deno.test("scaledDotProductAttention causal with no queries or an empty batch: empty output, zero-size gradients", () => {
  for (const [qs, ks] of [[[1, 2, 0, 4], [1, 1, 0, 4]], [[0, 2, 3, 4], [0, 1, 3, 4]]]) {
    tidy(() => {
      const [q, k, v] = [randn(qs), randn(ks), randn(ks)].map((t) => t.requiresGrad_());
      const o = scaledDotProductAttention(q, k, v, { causal: true });
      assertEquals(o.shape, qs);
      sum(o).backward();
      assertEquals([q.grad!.shape, k.grad!.shape, v.grad!.shape], [qs, ks, ks]);
    });
  }
});

Deno.test({
  name:
    "fused causal attention in groups of batch items (a lowered cap): bit for bit one call, 1 and 3 threads; no probabilities without a gradient",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    manualSeed(12);
    // batch 3 × 2 key/value heads = 6 items of 2 query heads: one forward item takes 3,152 bytes and
    // one gradient item 4,872, so a 110,000-byte cap (groups of cap/16) runs the forward in groups
    // of 2 items and the gradient in groups of 1 (the last group ragged where 6 is not a multiple)
    const q = randn([3, 4, 9, 8]), k = randn([3, 2, 9, 8]), v = randn([3, 2, 9, 8]), w = randn([3, 4, 9, 8]);
    try {
      const whole = withThreads(1, false, () => attention(q, k, v, w));
      for (const threads of [1, 3]) {
        for (const cap of [110_000, 80_000]) {
          setResidentCap(cap);
          let grouped;
          try {
            grouped = withThreads(threads, true, () => attention(q, k, v, w));
          } finally {
            setResidentCap(undefined);
          }
          assertEquals(grouped.attentionCalls, 2);
          for (let i = 0; i < 4; i++) {
            assert(
              grouped.out[i].every((x, j) => Object.is(x, whole.out[i][j])),
              `cap ${cap}, ${threads} threads: output ${i} differs from one call`,
            );
          }
        }
      }
      // no gradient wanted: the kernel leaves the probabilities out, the output is the same
      const be = getBackend();
      const a = { batch: 6, group: 2, l: 9, s: 9, d: 8, dv: 8, scale: 1 / Math.sqrt(8) };
      const ins = { q: q.storage, k: k.storage, v: v.storage };
      const kept = be.run("causalAttention", ins, a),
        none = be.run("causalAttention", ins, { ...a, saveProbs: false });
      assert(kept.probs !== null && none.probs === null);
      assertEquals(Array.from(be.readSync(none.out)), Array.from(whole.out[0]));
      assertEquals(Array.from(be.readSync(kept.out)), Array.from(whole.out[0]));
      for (const st of [kept.out, kept.probs!, none.out]) be.dispose(st);
    } finally {
      await stopWorkers();
    }
  },
});
