import { assert, assertEquals, assertThrows } from "./deps.ts";
import { gradcheck, maxAbsDiff, refBinary, refUnary } from "./gradcheck.ts";
import {
  abs,
  add,
  compare,
  div,
  exp,
  log,
  manualSeed,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  rand,
  randn,
  rsqrt,
  sqrt,
  square,
  sub,
  type Tensor,
  tensor,
  where,
} from "../src/tensor/index.ts";

const positive = (shape: number[]) => rand(shape).mul(1.5).add(0.5); // values in [0.5, 2)

const binaryCases: Array<[string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number]> = [
  ["add", add, (a, b) => a + b],
  ["sub", sub, (a, b) => a - b],
  ["mul", mul, (a, b) => a * b],
  ["div", div, (a, b) => a / b],
  ["maximum", maximum, Math.max],
  ["minimum", minimum, Math.min],
];
const shapePairs: Array<[number[], number[]]> = [
  [[3, 4], [3, 4]],
  [[3, 4], [4]],
  [[2, 1, 4], [3, 1]],
  [[4], [2, 3, 4]],
  [[], [2, 3]],
  [[2, 3], [1, 1]],
];

Deno.test("binary ops: forward and gradients vs float64 reference, with broadcasting", () => {
  manualSeed(1);
  for (const [name, op, f] of binaryCases) {
    for (const [sa, sb] of shapePairs) {
      const a = randn(sa), b = name === "div" ? positive(sb) : randn(sb);
      try {
        gradcheck(op, [a, b], { ref: refBinary(sa, sb, f) });
      } catch (e) {
        throw new Error(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}: ${(e as Error).message}`);
      }
    }
  }
});

Deno.test("scalar operands on either side", () => {
  manualSeed(2);
  const x = positive([3, 5]);
  const cases: Array<[(t: Tensor) => Tensor, (v: number) => number]> = [
    [(t) => add(t, 2.5), (v) => v + 2.5],
    [(t) => add(-1, t), (v) => -1 + v],
    [(t) => sub(t, 3), (v) => v - 3],
    [(t) => sub(3, t), (v) => 3 - v],
    [(t) => mul(t, -2), (v) => -2 * v],
    [(t) => mul(0.5, t), (v) => 0.5 * v],
    [(t) => div(t, 4), (v) => v / 4],
    [(t) => div(2, t), (v) => 2 / v],
    [(t) => t.add(1).mul(2).sub(0.5).div(3), (v) => ((v + 1) * 2 - 0.5) / 3],
  ];
  for (const [fn, ref] of cases) gradcheck(fn, [x], { ref: refUnary(ref) });
});

Deno.test("unary math ops vs float64 reference", () => {
  manualSeed(3);
  const x = positive([4, 6]);
  const y = randn([4, 6]);
  gradcheck(neg, [y], { ref: refUnary((v) => -v) });
  gradcheck(exp, [y], { ref: refUnary(Math.exp) });
  gradcheck(log, [x], { ref: refUnary(Math.log) });
  gradcheck(sqrt, [x], { ref: refUnary(Math.sqrt) });
  gradcheck(rsqrt, [x], { ref: refUnary((v) => 1 / Math.sqrt(v)) });
  gradcheck(square, [y], { ref: refUnary((v) => v * v) });
  gradcheck(abs, [y], { ref: refUnary(Math.abs) });
  for (const p of [0, 1, 2, 3, 0.5, -1.5]) {
    gradcheck((t) => pow(t, p), [x], { ref: refUnary((v) => Math.pow(v, p)) });
  }
});

Deno.test("where and compare", () => {
  manualSeed(4);
  const a = randn([3, 4]), b = randn([4]);
  const c = compare("gt", a, 0);
  const cd = c.dataSync(), ad = a.dataSync();
  for (let i = 0; i < ad.length; i++) assertEquals(cd[i], ad[i] > 0 ? 1 : 0);
  const cond = Array.from(cd);
  gradcheck((x, y) => where(c, x, y), [a, b], {
    ref: ([x, y]) => x.map((v, i) => (cond[i] ? v : y[i % 4])),
  });
  // infinite fill values do not leak NaN into the other branch
  const masked = where(c, a, -Infinity).dataSync();
  for (let i = 0; i < ad.length; i++) assertEquals(masked[i], ad[i] > 0 ? ad[i] : -Infinity);
  assertEquals(Array.from(compare("le", 1, tensor([0, 1, 2])).dataSync()), [0, 1, 1]);
});

Deno.test("maximum/minimum split the gradient on ties", () => {
  const a = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const b = tensor([1, 5, 0], undefined, { requiresGrad: true });
  maximum(a, b).sum().backward();
  assertEquals(Array.from(a.grad!.dataSync()), [0.5, 0, 1]);
  assertEquals(Array.from(b.grad!.dataSync()), [0.5, 1, 0]);
});

Deno.test("broadcasting errors name both shapes", () => {
  assertThrows(() => add(randn([2, 3]), randn([4])), RangeError, "[2, 3] and [4]");
  assertThrows(() => mul(randn([2, 3, 4]), randn([3, 3, 1])), RangeError, "cannot be broadcast");
  assertThrows(() => add(1 as unknown as Tensor, 2), TypeError, "at least one operand");
});

Deno.test("large contiguous add matches float64 exactly-rounded results", () => {
  manualSeed(5);
  const a = randn([257, 129]), b = randn([129]);
  const out = add(a, b).dataSync();
  const ref = refBinary([257, 129], [129], (x, y) => Math.fround(x + y))([
    Float64Array.from(a.dataSync()),
    Float64Array.from(b.dataSync()),
  ]);
  assertEquals(maxAbsDiff(out, ref), 0);
  assert(out.length === 257 * 129);
});
