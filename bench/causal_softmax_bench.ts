// Causal attention's softmax on the wasm executor, side by side in one process: the composed path
// scaledDotProductAttention takes without the fused kernels (scores·scale, + a −∞ causal mask, softmax;
// backward softmaxGrad then ·scale) vs the fused `causalSoftmax` / `causalSoftmaxGrad` kernels, which
// touch only each row's visible keys. Scores `[rows, S]` are stacked `[.., L]` blocks (L = S).
//
//   deno bench -A bench/causal_softmax_bench.ts    (composed is each group's baseline)
//
// The composed forward scales a fresh copy of the scores (the op scales its own product in place); the
// copy is timed as its own row so it can be subtracted. Thread count: the pool's default.

import { getBackend } from "../src/tensor/index.ts";
import type { Storage } from "../src/backend/backend.ts";

const b = getBackend();
let seed = 1;
function rand(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = scale * ((seed / 2 ** 32) * 2 - 1);
  }
  return a;
}

for (const [rows, s] of [[4096, 128], [2048, 512]]) {
  const l = s, scale = 1 / Math.sqrt(64), n = rows * s;
  const xd = rand(n, 4);
  const md = new Float32Array(l * s);
  for (let i = 0; i < l; i++) for (let j = i + 1; j < s; j++) md[i * s + j] = -Infinity;
  const mask = b.fromArray(md), x = b.fromArray(xd), g = b.fromArray(rand(n, 1));
  const attrs = { rows, cols: s, scale, period: l, offset: 0 };
  const y = b.run("causalSoftmax", { x }, attrs).y;
  const once = (f: () => Storage) => () => b.dispose(f());
  const group = `causal softmax [${rows}, ${s}] L=${l}`;
  Deno.bench({
    name: `${group}: composed mul + add mask + softmax`,
    group,
    baseline: true,
    fn: once(() => {
      const sc = b.fromArray(xd);
      b.binaryScalar("mul", sc, scale, false, sc);
      b.binary("add", sc, mask, [rows / l, l, s], [l * s, s, 1], [0, s, 1], sc);
      const p = b.softmax(sc, rows, s, 1, false);
      b.dispose(sc);
      return p;
    }),
  });
  Deno.bench({ name: `${group}: (the composed row's score copy)`, group, fn: once(() => b.fromArray(xd)) });
  Deno.bench({
    name: `${group}: fused causalSoftmax`,
    group,
    fn: once(() => b.run("causalSoftmax", { x }, attrs).y),
  });
  const ggroup = `causal softmax grad [${rows}, ${s}] L=${l}`;
  Deno.bench({
    name: `${ggroup}: composed softmaxGrad + mul`,
    group: ggroup,
    baseline: true,
    fn: once(() => {
      const ds = b.softmaxGrad(y, g, rows, s, 1, false);
      b.binaryScalar("mul", ds, scale, false, ds);
      return ds;
    }),
  });
  Deno.bench({
    name: `${ggroup}: fused causalSoftmaxGrad`,
    group: ggroup,
    fn: once(() => b.run("causalSoftmaxGrad", { y, g }, attrs).gx),
  });
}
