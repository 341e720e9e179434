import { assertAlmostEquals, assertEquals, assertThrows } from "./deps.ts";
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
