import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./deps.ts";
import {
  getConstantScheduleWithWarmup,
  getCosineScheduleWithWarmup,
  getLinearScheduleWithWarmup,
  LambdaLR,
} from "../src/optim/lr_scheduler.ts";

/** A stand-in optimizer: schedulers only touch `paramGroups[i].lr`. */
function fakeOpt(...lrs: number[]) {
  return { paramGroups: lrs.map((lr) => ({ lr } as { lr: number; initialLr?: number })) };
}

/** Runs `n` scheduler steps and returns the lr of group 0 seen before each step (index = step). */
function trace(sched: { step(): void }, opt: { paramGroups: Array<{ lr: number }> }, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i <= n; i++) {
    out.push(opt.paramGroups[0].lr);
    sched.step();
  }
  return out;
}

Deno.test("linear schedule with warm-up: hand-computed values (W=2, N=6)", () => {
  const opt = fakeOpt(1e-3);
  const lrs = trace(getLinearScheduleWithWarmup(opt, 2, 6), opt, 7);
  // warm-up 0, 1/2, then (6-s)/4 for s>=2, clamped at 0
  const want = [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0].map((f) => f * 1e-3);
  lrs.forEach((v, i) => assertAlmostEquals(v, want[i], 1e-15, `step ${i}`));
});

Deno.test("cosine schedule with warm-up: hand-computed values (W=2, N=10)", () => {
  const opt = fakeOpt(2);
  const sched = getCosineScheduleWithWarmup(opt, 2, 10);
  const lrs = trace(sched, opt, 10);
  // progress p = (s-2)/8; factor = (1+cos(pi p))/2: s=4 -> p=1/4 -> (1+sqrt(2)/2)/2, s=6 -> 1/2, s=10 -> 0
  assertEquals(lrs[0], 0);
  assertAlmostEquals(lrs[1], 1, 1e-15);
  assertAlmostEquals(lrs[2], 2, 1e-15);
  assertAlmostEquals(lrs[4], 2 * (1 + Math.SQRT1_2) / 2, 1e-14);
  assertAlmostEquals(lrs[6], 1, 1e-14);
  assertAlmostEquals(lrs[10], 0, 1e-14);
  assertEquals(sched.lastEpoch, 11);
  // Past N transformers' formula is not clamped to 0: the cosine rises again (p = 9/8).
  assertAlmostEquals(sched.getLastLr()[0], 2 * 0.5 * (1 + Math.cos(Math.PI * 9 / 8)), 1e-14);
});

Deno.test("constant schedule with warm-up; per-group lambdas; initialLr is recorded", () => {
  const opt = fakeOpt(1, 10);
  const lrs = trace(getConstantScheduleWithWarmup(opt, 4), opt, 6);
  assertEquals(lrs.map((x) => x), [0, 0.25, 0.5, 0.75, 1, 1, 1]);
  assertEquals(opt.paramGroups[1].lr, 10);
  assertEquals(opt.paramGroups.map((g) => g.initialLr), [1, 10]);

  const opt2 = fakeOpt(1, 10);
  const s2 = new LambdaLR(opt2, [(s) => 0.5 ** s, (s) => s + 1]);
  s2.step();
  s2.step();
  assertEquals(s2.getLastLr(), [0.25, 30]);
  assertThrows(() => new LambdaLR(fakeOpt(1, 2), [(s) => s]), RangeError, "one per param group");
  assertThrows(() => getLinearScheduleWithWarmup(fakeOpt(1), -1, 5), RangeError, "numWarmupSteps");
  // Resuming requires initialLr on every group, like PyTorch.
  assertThrows(() => new LambdaLR(fakeOpt(1), (s) => s, 3), Error, "initialLr");
});

// ---------------------------------------------------------------------------------------------
// Optimizers against float64 reference updates written here (PyTorch's documented algorithms).

import { Parameter } from "../src/nn/parameter.ts";
import { tensor } from "../src/tensor/creation.ts";
import { Adam, AdamW, clipGradNorm, SGD } from "../src/optim/mod.ts";

/** Deterministic pseudo-random float32 values in [-1, 1). */
function vals(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string) {
  assertEquals(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= tol * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (|diff| ${d})`);
    }
  }
}

Deno.test("SGD momentum/dampening/weight decay/Nesterov: 4 steps vs float64 reference", () => {
  for (
    const cfg of [
      { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
      { lr: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0.1, nesterov: true },
      { lr: 0.2, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    ]
  ) {
    const p = new Parameter(tensor(vals(6, 1), [2, 3]));
    const opt = new SGD([p], cfg);
    const ref = Float64Array.from(p.dataSync());
    let buf: Float64Array | null = null;
    for (let step = 0; step < 4; step++) {
      const g = vals(6, 100 + step);
      p.grad = tensor(g, [2, 3]);
      opt.step();
      // reference
      const d = Float64Array.from(g, (v, i) => v + cfg.weightDecay * ref[i]);
      let upd: Float64Array = d;
      if (cfg.momentum !== 0) {
        if (buf === null) buf = d.slice();
        else for (let i = 0; i < 6; i++) buf[i] = cfg.momentum * buf[i] + (1 - cfg.dampening) * d[i];
        upd = cfg.nesterov ? d.map((v, i) => v + cfg.momentum * buf![i]) : buf;
      }
      for (let i = 0; i < 6; i++) ref[i] -= cfg.lr * upd[i];
      assertClose(p.dataSync(), ref, 2e-6, `SGD ${JSON.stringify(cfg)} step ${step}`);
    }
  }
  assertThrows(() => new SGD([new Parameter(tensor([1]))], { nesterov: true }), RangeError, "Nesterov");
  assertThrows(() => new SGD([]), Error, "empty");
});

/** float64 Adam/AdamW reference (PyTorch single-tensor algorithm). */
class RefAdam {
  m: Float64Array;
  v: Float64Array;
  vmax: Float64Array;
  t = 0;
  constructor(
    public theta: Float64Array,
    public o: {
      lr: number;
      b1: number;
      b2: number;
      eps: number;
      wd: number;
      decoupled: boolean;
      amsgrad: boolean;
    },
  ) {
    this.m = new Float64Array(theta.length);
    this.v = new Float64Array(theta.length);
    this.vmax = new Float64Array(theta.length);
  }
  step(g0: ArrayLike<number>) {
    const { lr, b1, b2, eps, wd, decoupled, amsgrad } = this.o;
    this.t++;
    const th = this.theta;
    for (let i = 0; i < th.length; i++) {
      let g = g0[i];
      if (decoupled) th[i] *= 1 - lr * wd;
      else g += wd * th[i];
      this.m[i] = b1 * this.m[i] + (1 - b1) * g;
      this.v[i] = b2 * this.v[i] + (1 - b2) * g * g;
      this.vmax[i] = Math.max(this.vmax[i], this.v[i]);
      const mhat = this.m[i] / (1 - b1 ** this.t);
      const vhat = (amsgrad ? this.vmax[i] : this.v[i]) / (1 - b2 ** this.t);
      th[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
    }
  }
}

Deno.test("AdamW with two parameter groups (own lr and weightDecay): 5 steps vs float64 reference", () => {
  const a = new Parameter(tensor(vals(8, 3), [2, 4])), b = new Parameter(tensor(vals(3, 4), [3]));
  const opt = new AdamW([
    { params: [a], weightDecay: 0.1 },
    { params: [b], lr: 0.05, weightDecay: 0 },
  ], { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6 });
  assertEquals(opt.paramGroups.map((g) => [g.lr, g.weightDecay, g.betas]), [[0.01, 0.1, [0.8, 0.95]], [
    0.05,
    0,
    [0.8, 0.95],
  ]]);
  const ra = new RefAdam(Float64Array.from(a.dataSync()), {
    lr: 0.01,
    b1: 0.8,
    b2: 0.95,
    eps: 1e-6,
    wd: 0.1,
    decoupled: true,
    amsgrad: false,
  });
  const rb = new RefAdam(Float64Array.from(b.dataSync()), {
    lr: 0.05,
    b1: 0.8,
    b2: 0.95,
    eps: 1e-6,
    wd: 0,
    decoupled: true,
    amsgrad: false,
  });
  for (let s = 0; s < 5; s++) {
    const ga = vals(8, 200 + s), gb = vals(3, 300 + s);
    a.grad = tensor(ga, [2, 4]);
    b.grad = tensor(gb, [3]);
    opt.step();
    ra.step(ga);
    rb.step(gb);
    assertClose(a.dataSync(), ra.theta, 2e-6, `AdamW group 0 step ${s}`);
    assertClose(b.dataSync(), rb.theta, 2e-6, `AdamW group 1 step ${s}`);
  }
  assertEquals(opt.state.get(a)!.step, 5);
});

Deno.test("Adam (L2 decay) and AMSGrad vs float64 reference; params without grad are skipped", () => {
  const p = new Parameter(tensor(vals(5, 9), [5])), q = new Parameter(tensor([1, 2]));
  const opt = new Adam([p, q], { lr: 0.1, weightDecay: 0.05, amsgrad: true });
  const r = new RefAdam(Float64Array.from(p.dataSync()), {
    lr: 0.1,
    b1: 0.9,
    b2: 0.999,
    eps: 1e-8,
    wd: 0.05,
    decoupled: false,
    amsgrad: true,
  });
  for (let s = 0; s < 4; s++) {
    // gradient magnitudes shrink so AMSGrad's max matters
    const g = vals(5, 400 + s).map((v) => v / (1 + 3 * s));
    p.grad = tensor(g);
    opt.step();
    r.step(g);
    assertClose(p.dataSync(), r.theta, 2e-6, `Adam amsgrad step ${s}`);
  }
  assertEquals(Array.from(q.dataSync()), [1, 2]);
  assert(!opt.state.has(q));
  assertThrows(() => new AdamW([p], { betas: [1, 0.9] }), RangeError, "beta");
});

Deno.test("optimizer stateDict/loadStateDict: a restored optimizer continues identically", () => {
  const mk = () => new Parameter(tensor(vals(4, 21), [4]));
  const p1 = mk(), p2 = mk();
  const o1 = new AdamW([p1], { lr: 0.02 });
  for (let s = 0; s < 2; s++) {
    p1.grad = tensor(vals(4, 500 + s));
    o1.step();
  }
  const sd = o1.stateDict();
  p2.dataSync().set(p1.dataSync());
  const o2 = new AdamW([p2], { lr: 0.5 });
  o2.loadStateDict(sd);
  assertEquals(o2.paramGroups[0].lr, 0.02);
  p1.grad = tensor(vals(4, 600));
  p2.grad = tensor(vals(4, 600));
  o1.step();
  o2.step();
  assertEquals(Array.from(p2.dataSync()), Array.from(p1.dataSync()));
  zeroGradCheck(o2, p2);
});

function zeroGradCheck(o: AdamW, p: Parameter) {
  o.zeroGrad();
  assertEquals(p.grad, null);
}

Deno.test("schedulers drive a real optimizer's groups", () => {
  const p = new Parameter(tensor([1])), q = new Parameter(tensor([1]));
  const opt = new AdamW([{ params: [p], lr: 1 }, { params: [q], lr: 0.1 }]);
  const sched = getLinearScheduleWithWarmup(opt, 2, 4);
  assertEquals(opt.paramGroups.map((g) => g.lr), [0, 0]);
  sched.step();
  assertEquals(opt.paramGroups.map((g) => g.lr), [0.5, 0.05]);
});

Deno.test("clipGradNorm: total 2-norm / inf-norm vs float64, rescaling only above maxNorm", () => {
  const a = new Parameter(tensor([1, 2, 3])),
    b = new Parameter(tensor([4, -5])),
    c = new Parameter(tensor([7]));
  a.grad = tensor([1, 2, 3]);
  b.grad = tensor([4, -5]);
  // c has no grad
  const total = Math.sqrt(1 + 4 + 9 + 16 + 25);
  const n = clipGradNorm([a, b, c], 2);
  assertEquals(n.shape, []);
  assertAlmostEquals(n.item(), total, 1e-5);
  const coef = 2 / (total + 1e-6);
  assertClose(a.grad!.dataSync(), [1, 2, 3].map((v) => v * coef), 1e-6, "a.grad");
  assertClose(b.grad!.dataSync(), [4, -5].map((v) => v * coef), 1e-6, "b.grad");
  // below the threshold: unchanged
  const before = Array.from(a.grad!.dataSync());
  assertAlmostEquals(clipGradNorm([a], 100).item(), Math.sqrt(before.reduce((s, v) => s + v * v, 0)), 1e-6);
  assertEquals(Array.from(a.grad!.dataSync()), before);
  // infinity norm and p = 1
  a.grad = tensor([1, -6, 3]);
  assertAlmostEquals(clipGradNorm([a], 1e9, { normType: Infinity }).item(), 6, 1e-6);
  assertAlmostEquals(clipGradNorm([a], 1e9, { normType: 1 }).item(), 10, 1e-5);
  assertAlmostEquals(clipGradNorm([c], 1).item(), 0);
  a.grad = tensor([NaN, 1, 1]);
  assertThrows(() => clipGradNorm([a], 1, { errorIfNonfinite: true }), Error, "non-finite");
  assertThrows(() => clipGradNorm([a], -1), RangeError);
});
