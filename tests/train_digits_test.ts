// A small end-to-end training run on real data: an MLP learns the UCI/sklearn handwritten digits
// (tests/data/digits.csv.gz, provenance in tests/data/digits.README.md) with AdamW and a cosine schedule,
// and must classify a held-out split far above chance (10 %).
import { assert, assertEquals } from "./deps.ts";
import { manualSeed, noGrad, tensor, tidy } from "../src/tensor/index.ts";
import { nllLoss } from "../src/ops/loss.ts";
import { MLP } from "../src/models/mlp.ts";
import { AdamW, clipGradNorm, getCosineScheduleWithWarmup } from "../src/optim/mod.ts";

async function loadDigits(): Promise<{ x: Float32Array; y: Int32Array; n: number }> {
  const gz = await Deno.readFile(new URL("./data/digits.csv.gz", import.meta.url));
  const text = await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")))
    .text();
  const rows = text.trim().split("\n");
  const n = rows.length;
  const x = new Float32Array(n * 64), y = new Int32Array(n);
  rows.forEach((r, i) => {
    const v = r.split(",").map(Number);
    if (v.length !== 65) throw new Error(`digits row ${i} has ${v.length} columns`);
    for (let j = 0; j < 64; j++) x[i * 64 + j] = v[j] / 16;
    y[i] = v[64];
  });
  return { x, y, n };
}

/** Deterministic Fisher–Yates permutation (LCG), independent of the library's RNG. */
function permutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function gather(x: Float32Array, y: Int32Array, idx: number[]): { x: Float32Array; y: Int32Array } {
  const ox = new Float32Array(idx.length * 64), oy = new Int32Array(idx.length);
  idx.forEach((r, i) => {
    ox.set(x.subarray(r * 64, r * 64 + 64), i * 64);
    oy[i] = y[r];
  });
  return { x: ox, y: oy };
}

Deno.test("MLP learns sklearn digits: held-out accuracy far above chance within a few seconds", async () => {
  const { x, y, n } = await loadDigits();
  assertEquals(n, 1797);
  const perm = permutation(n, 2024);
  const nTest = 360;
  const test = gather(x, y, perm.slice(0, nTest));
  const train = gather(x, y, perm.slice(nTest));
  const nTrain = n - nTest;

  manualSeed(0);
  const model = new MLP({ inFeatures: 64, hiddenFeatures: 64, outFeatures: 10, dropout: 0.1 });
  const batch = 64, epochs = 30;
  const steps = epochs * Math.ceil(nTrain / batch);
  const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 1e-4 });
  const sched = getCosineScheduleWithWarmup(opt, 10, steps);
  const t0 = performance.now();
  let firstLoss = NaN, lastLoss = NaN;
  for (let e = 0; e < epochs; e++) {
    const order = permutation(nTrain, 7 + e);
    for (let s = 0; s < nTrain; s += batch) {
      const b = gather(train.x, train.y, order.slice(s, s + batch));
      const loss = tidy(() => {
        const l = nllLoss(model.forward(tensor(b.x, [b.y.length, 64])), b.y);
        l.backward();
        return l.item();
      });
      if (Number.isNaN(firstLoss)) firstLoss = loss;
      lastLoss = loss;
      clipGradNorm(model.parameters(), 5);
      opt.step();
      opt.zeroGrad();
      sched.step();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  model.eval();
  const pred = noGrad(() => model.forward(tensor(test.x, [nTest, 64]))).dataSync();
  let correct = 0;
  for (let i = 0; i < nTest; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (pred[i * 10 + c] > pred[i * 10 + best]) best = c;
    if (best === test.y[i]) correct++;
  }
  const acc = correct / nTest;
  console.log(
    `digits: ${steps} steps in ${seconds.toFixed(2)} s, loss ${firstLoss.toFixed(3)} -> ${
      lastLoss.toFixed(3)
    }, ` +
      `held-out accuracy ${(acc * 100).toFixed(1)} % (${nTest} images)`,
  );
  assert(lastLoss < firstLoss / 4, `training loss did not fall: ${firstLoss} -> ${lastLoss}`);
  assert(acc >= 0.9, `held-out accuracy ${acc} < 0.9 (chance is 0.1)`);
});
