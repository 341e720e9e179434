import { assertAlmostEquals, assertEquals, assertThrows } from "./deps.ts";
import { gradcheck, ravel, unravel } from "./gradcheck.ts";
import { manualSeed, max, mean, min, randn, sum, sumToShape, tensor } from "../src/tensor/index.ts";

/** float64 reference reduction over `axes` (kept-dims order), naive index walk. */
function refReduce(
  shape: number[],
  axes: number[],
  keepDim: boolean,
  kind: "sum" | "mean" | "max" | "min",
): (x: Float64Array[]) => Float64Array {
  return ([x]) => {
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const n = kept.reduce((p, v) => p * v, 1);
    const acc = new Float64Array(n).fill(kind === "max" ? -Infinity : kind === "min" ? Infinity : 0);
    const cnt = new Float64Array(n);
    for (let i = 0; i < x.length; i++) {
      const idx = unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v));
      const o = ravel(idx, kept);
      if (kind === "max") acc[o] = Math.max(acc[o], x[i]);
      else if (kind === "min") acc[o] = Math.min(acc[o], x[i]);
      else acc[o] += x[i];
      cnt[o]++;
    }
    if (kind === "mean") { for (let o = 0; o < n; o++) acc[o] /= cnt[o]; }
    void keepDim;
    return acc;
  };
}

const cases: Array<[number[], number[] | undefined]> = [
  [[5], undefined],
  [[3, 4], [0]],
  [[3, 4], [1]],
  [[2, 3, 4], [0, 2]],
  [[2, 3, 4], [1]],
  [[2, 3, 4, 5], [1, 3]],
  [[2, 3, 4, 5], [0, 1]],
  [[2, 3, 4, 5], [-1]],
];

Deno.test("sum/mean/max/min over axes: values and gradients vs float64", () => {
  manualSeed(10);
  for (const [shape, axes] of cases) {
    for (const keepDim of [false, true]) {
      const x = randn(shape);
      const ax = axes === undefined
        ? shape.map((_, i) => i)
        : axes.map((a) => (a < 0 ? a + shape.length : a));
      for (const kind of ["sum", "mean", "max", "min"] as const) {
        const f = { sum, mean, max, min }[kind];
        const out = f(x, axes, keepDim);
        const expectShape = keepDim
          ? shape.map((d, i) => (ax.includes(i) ? 1 : d))
          : shape.filter((_, i) => !ax.includes(i));
        assertEquals(out.shape, expectShape, `${kind} ${shape} ${axes} keepDim=${keepDim}`);
        gradcheck((t) => f(t, axes, keepDim), [x], { ref: refReduce(shape, ax, keepDim, kind) });
      }
    }
  }
});

Deno.test("sum accumulates in float64: 1e8 followed by 1000 ones", () => {
  // a float32 accumulator would stay at 1e8 (its spacing there is 8); float64 gives 1e8 + 1000
  const d = new Float32Array(1001).fill(1);
  d[0] = 1e8;
  assertEquals(sum(tensor(d)).item(), 100001000);
  assertAlmostEquals(mean(tensor(new Float32Array(1 << 16).fill(0.1))).item(), Math.fround(0.1), 1e-9);
});

Deno.test("max gradient is split between ties (amax rule)", () => {
  const x = tensor([[1, 3, 3], [2, 0, -1]], undefined, { requiresGrad: true });
  max(x, 1).sum().backward();
  assertEquals(x.grad!.toList(), [[0, 0.5, 0.5], [1, 0, 0]]);
});

Deno.test("NaN propagates through max", () => {
  assertEquals(Number.isNaN(max(tensor([1, NaN, 3])).item()), true);
});

Deno.test("sumToShape undoes broadcasting", () => {
  const g = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(sumToShape(g, [3]).toList(), [5, 7, 9]);
  assertEquals(sumToShape(g, [2, 1]).toList(), [[6], [15]]);
  assertEquals(sumToShape(g, [1, 1]).toList(), [[21]]);
  assertThrows(() => sumToShape(g, [4]), RangeError);
});

Deno.test("reduction axis errors", () => {
  const x = randn([2, 3]);
  assertThrows(() => sum(x, 2), RangeError, "axis 2 is out of range [-2, 1]");
  assertThrows(() => sum(x, [0, -2]), RangeError, "appears twice");
  assertThrows(() => max(randn([0, 3])), RangeError, "empty");
});
