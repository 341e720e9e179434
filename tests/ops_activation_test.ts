import { assert, assertAlmostEquals, assertThrows } from "./deps.ts";
import { gradcheck, maxAbsDiff, refUnary } from "./gradcheck.ts";
import {
  gelu,
  logSoftmax,
  manualSeed,
  randn,
  relu,
  sigmoid,
  silu,
  softmax,
  tanh,
  tensor,
} from "../src/tensor/index.ts";

/** erf via its Maclaurin series (|x| <= 3, terms until negligible) in float64: an independent reference. */
function erf64(x: number): number {
  let term = x, s = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    s += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}

Deno.test("activations vs float64 references (values and gradients)", () => {
  manualSeed(40);
  const x = randn([5, 7]).mul(1.5);
  gradcheck(tanh, [x], { ref: refUnary(Math.tanh) });
  gradcheck(sigmoid, [x], { ref: refUnary((v) => 1 / (1 + Math.exp(-v))) });
  gradcheck(silu, [x], { ref: refUnary((v) => v / (1 + Math.exp(-v))) });
  gradcheck((t) => gelu(t), [x], { ref: refUnary((v) => 0.5 * v * (1 + erf64(v / Math.SQRT2))) });
  gradcheck((t) => gelu(t, { approximate: "tanh" }), [x], {
    ref: refUnary((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
  });
  // relu: avoid the kink at 0 (randn never hits it exactly; step 1e-6 stays on one side unless |x|<1e-6)
  gradcheck(relu, [x], { ref: refUnary((v) => Math.max(v, 0)) });
});

Deno.test("gelu default is the exact erf form; approximations differ measurably", () => {
  const x = tensor([-3, -1, -0.5, 0, 0.5, 1, 2, 3]);
  const exact = gelu(x).dataSync();
  const approx = gelu(x, { approximate: "tanh" }).dataSync();
  const ref = Array.from(x.dataSync(), (v) => 0.5 * v * (1 + erf64(v / Math.SQRT2)));
  assert(maxAbsDiff(exact, ref) < 1e-6);
  assert(maxAbsDiff(approx, ref) > 1e-5);
  assertThrows(() => gelu(x, { approximate: "fast" as "tanh" }), RangeError, "approximate");
});

Deno.test("sigmoid and silu are overflow-safe", () => {
  const s = sigmoid(tensor([-1000, 1000])).dataSync();
  assertAlmostEquals(s[0], 0, 0);
  assertAlmostEquals(s[1], 1, 0);
  assert(Number.isFinite(silu(tensor([-1000])).item()));
});

function refSoftmax(shape: number[], axis: number, log: boolean) {
  return ([x]: Float64Array[]) => {
    const outer = shape.slice(0, axis).reduce((p, v) => p * v, 1);
    const dim = shape[axis];
    const inner = shape.slice(axis + 1).reduce((p, v) => p * v, 1);
    const out = new Float64Array(x.length);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (d: number) => (o * dim + d) * inner + i;
        let s = 0;
        for (let d = 0; d < dim; d++) s += Math.exp(x[at(d)]);
        for (let d = 0; d < dim; d++) out[at(d)] = log ? x[at(d)] - Math.log(s) : Math.exp(x[at(d)]) / s;
      }
    }
    return out;
  };
}

Deno.test("softmax / logSoftmax over any axis vs float64", () => {
  manualSeed(41);
  for (
    const [shape, axis] of [[[6], 0], [[3, 5], -1], [[3, 5], 0], [[2, 3, 4], 1]] as Array<[number[], number]>
  ) {
    const x = randn(shape).mul(2);
    const a = axis < 0 ? axis + shape.length : axis;
    gradcheck((t) => softmax(t, axis), [x], { ref: refSoftmax(shape, a, false) });
    gradcheck((t) => logSoftmax(t, axis), [x], { ref: refSoftmax(shape, a, true) });
  }
});

Deno.test("softmax is stable for large logits", () => {
  const y = softmax(tensor([[1000, 1001, 1002], [-1000, -1000, -1000]])).dataSync();
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const z = e[0] + e[1] + e[2];
  assert(maxAbsDiff(y.subarray(0, 3), e.map((v) => v / z)) < 1e-7);
  assert(maxAbsDiff(y.subarray(3), [1 / 3, 1 / 3, 1 / 3]) < 1e-7);
  const l = logSoftmax(tensor([0, 1e4])).dataSync();
  assertAlmostEquals(l[0], -1e4, 1e-3);
  assertAlmostEquals(l[1], 0, 1e-6);
  assertThrows(() => softmax(randn([2, 3]), 2), RangeError, "axis 2");
});
