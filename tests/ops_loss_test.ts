import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./deps.ts";
import { gradcheck } from "./gradcheck.ts";
import { crossEntropy, manualSeed, mseLoss, nllLoss, randn, tensor } from "../src/tensor/index.ts";

/** float64 cross-entropy reference: per row logsumexp − logit[target]. */
function refCE(rows: number, c: number, targets: number[], reduction: string, ignore = -100) {
  return ([x]: Float64Array[]) => {
    const per = new Float64Array(rows);
    let total = 0, count = 0;
    for (let r = 0; r < rows; r++) {
      if (targets[r] === ignore) continue;
      let s = 0;
      for (let j = 0; j < c; j++) s += Math.exp(x[r * c + j]);
      per[r] = Math.log(s) - x[r * c + targets[r]];
      total += per[r];
      count++;
    }
    if (reduction === "none") return per;
    return [reduction === "sum" ? total : total / count];
  };
}

Deno.test("crossEntropy matches the float64 reference for every reduction, with ignoreIndex", () => {
  manualSeed(50);
  const logits = randn([6, 5]).mul(2);
  const targets = [0, 4, -100, 2, 2, 1];
  for (const reduction of ["mean", "sum", "none"] as const) {
    gradcheck((t) => crossEntropy(t, targets, { reduction }), [logits], {
      ref: refCE(6, 5, targets, reduction),
    });
  }
  // custom ignore index, Int32Array and tensor targets, [..., C] layout
  const t2 = [1, 3, 3, 0, 1, 3];
  gradcheck((t) => crossEntropy(t, new Int32Array(t2), { ignoreIndex: 3 }), [logits], {
    ref: refCE(6, 5, t2, "mean", 3),
  });
  const l3 = randn([2, 3, 5]);
  gradcheck((t) => crossEntropy(t, tensor(targets.map((v) => (v < 0 ? 0 : v)), [2, 3])), [l3], {
    ref: refCE(6, 5, targets.map((v) => (v < 0 ? 0 : v)), "mean"),
  });
  assertEquals(crossEntropy(l3, [0, 1, 2, 3, 4, 0], { reduction: "none" }).shape, [2, 3]);
});

Deno.test("ignored rows get zero gradient; all ignored gives NaN mean (PyTorch)", () => {
  const x = randn([3, 4], { requiresGrad: true });
  crossEntropy(x, [1, -100, 2]).backward();
  const g = x.grad!.dataSync();
  for (let j = 0; j < 4; j++) assertEquals(g[4 + j], 0);
  assert(Number.isNaN(crossEntropy(randn([2, 4]), [-100, -100]).item()));
  // all ignored: the loss is NaN but the gradient is 0 (PyTorch), not 0/0 (a fully padded micro-batch)
  const y = randn([2, 4], { requiresGrad: true });
  crossEntropy(y, [-100, -100]).backward();
  assertEquals(Array.from(y.grad!.dataSync()), new Array(8).fill(0));
  // the gradient of each non-ignored row sums to 0 (softmax minus one-hot)
  let s = 0;
  for (let j = 0; j < 4; j++) s += g[j];
  assertAlmostEquals(s, 0, 1e-6);
});

Deno.test("crossEntropy / nllLoss errors", () => {
  const x = randn([3, 4]);
  assertThrows(() => crossEntropy(x, [0, 1]), RangeError, "2 targets");
  assertThrows(
    () => crossEntropy(x, [0, 1, 4]),
    RangeError,
    "crossEntropy: target 4 at row 2 is outside [0, 4)",
  );
  assertThrows(() => crossEntropy(x, [0, 1, 1.5]), RangeError, "not an int32");
  assertThrows(() => crossEntropy(x, [0, 1, 2], { reduction: "avg" as "mean" }), RangeError, "reduction");
  assertThrows(() => nllLoss(x, [-1, 0, 0]), RangeError, "nllLoss: target -1 at row 0 is outside [0, 4)");
});

Deno.test("mseLoss vs float64, reductions, shape errors", () => {
  manualSeed(51);
  const a = randn([4, 3]), b = randn([4, 3]);
  gradcheck((x, y) => mseLoss(x, y), [a, b], {
    ref: ([x, y]) => [x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0) / 12],
  });
  gradcheck((x, y) => mseLoss(x, y, { reduction: "sum" }), [a, b], {
    ref: ([x, y]) => [x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0)],
  });
  gradcheck((x, y) => mseLoss(x, y, { reduction: "none" }), [a, b], {
    ref: ([x, y]) => x.map((v, i) => (v - y[i]) ** 2),
  });
  assertThrows(() => mseLoss(a, randn([3])), RangeError, "[4, 3] and target [3]");
});
