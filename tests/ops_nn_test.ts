// Tests of src/ops/nn.ts: every op against a naive float64 reference written here, gradients against
// central finite differences of that reference (tests/gradcheck.ts).
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./deps.ts";
import { gradcheck } from "./gradcheck.ts";
import { manualSeed, randn, sum, type Tensor, tensor } from "../src/tensor/index.ts";
import { Generator } from "../src/tensor/random.ts";
import {
  applyRotaryEmb,
  dropout,
  embedding,
  layerNorm,
  rmsNorm,
  scaledDotProductAttention,
} from "../src/ops/nn.ts";

function refRmsNorm(rows: number, d: number, eps: number, withW: boolean) {
  return ([x, w]: Float64Array[]) => {
    const out = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) {
      let ms = 0;
      for (let j = 0; j < d; j++) ms += x[r * d + j] ** 2;
      const inv = 1 / Math.sqrt(ms / d + eps);
      for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * inv * (withW ? w[j] : 1);
    }
    return out;
  };
}

function refLayerNorm(rows: number, d: number, eps: number) {
  return ([x, w, b]: Float64Array[]) => {
    const out = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let j = 0; j < d; j++) mu += x[r * d + j];
      mu /= d;
      let v = 0;
      for (let j = 0; j < d; j++) v += (x[r * d + j] - mu) ** 2;
      v /= d;
      for (let j = 0; j < d; j++) out[r * d + j] = (x[r * d + j] - mu) / Math.sqrt(v + eps) * w[j] + b[j];
    }
    return out;
  };
}

Deno.test("rmsNorm: forward and gradients vs float64 reference (with and without weight)", () => {
  manualSeed(1);
  const x = randn([2, 3, 8]), w = randn([8]);
  gradcheck((a, b) => rmsNorm(a, b, 1e-6), [x, w], { ref: refRmsNorm(6, 8, 1e-6, true) });
  gradcheck((a) => rmsNorm(a, null, 1e-2), [x], { ref: refRmsNorm(6, 8, 1e-2, false) });
  assertThrows(() => rmsNorm(x, randn([7])), RangeError, "[8]");
  assertThrows(() => rmsNorm(x, w, -1), RangeError, "eps");
});

Deno.test("layerNorm: forward and gradients vs float64 reference", () => {
  manualSeed(2);
  const x = randn([4, 6]), w = randn([6]), b = randn([6]);
  gradcheck((a, ww, bb) => layerNorm(a, ww, bb, 1e-5), [x, w, b], { ref: refLayerNorm(4, 6, 1e-5) });
  // without affine parameters = weight 1, bias 0
  const y = layerNorm(x, null, null, 1e-5).dataSync();
  const r = refLayerNorm(4, 6, 1e-5)([
    Float64Array.from(x.dataSync()),
    new Float64Array(6).fill(1),
    new Float64Array(6),
  ]);
  for (let i = 0; i < y.length; i++) assertAlmostEquals(y[i], r[i], 1e-5);
});

Deno.test("embedding: rows gathered, gradient scatter-adds repeated ids, paddingIdx row gets none", () => {
  manualSeed(3);
  const w = randn([5, 3]);
  const ids = [4, 1, 4, 0, 2, 4];
  const ref = ([wt]: Float64Array[]) => {
    const out = new Float64Array(ids.length * 3);
    ids.forEach((id, i) => {
      for (let j = 0; j < 3; j++) out[i * 3 + j] = wt[id * 3 + j];
    });
    return out;
  };
  gradcheck((a) => embedding(ids, a, { shape: [2, 3] }), [w], { ref });
  assertEquals(embedding(tensor(ids, [3, 2]), w).shape, [3, 2, 3]);

  const wl = w.clone().requiresGrad_();
  const out = embedding(ids, wl, { paddingIdx: 4 });
  sum(out).backward();
  const g = wl.grad!.dataSync();
  assertEquals(Array.from(g.subarray(12, 15)), [0, 0, 0]); // row 4: padding, no gradient
  assertEquals(Array.from(g.subarray(0, 3)), [1, 1, 1]); // row 0 used once
  assertEquals(Array.from(g.subarray(9, 12)), [0, 0, 0]); // row 3 unused
  assertThrows(() => embedding([5], w), RangeError, "out of range");
  assertThrows(() => embedding([1.5], w), RangeError);
});

Deno.test("dropout: identity in eval; in training keeps ~1-p, scales by 1/(1-p), seeded, grad = mask", () => {
  const x = randn([1000]);
  assert(dropout(x, 0.3, false) === x);
  const xs = tensor(new Float32Array(4000).fill(1)).requiresGrad_();
  const y = dropout(xs, 0.25, true, { generator: new Generator(9) });
  const yd = y.dataSync();
  let kept = 0;
  for (const v of yd) {
    assert(v === 0 || Math.abs(v - 4 / 3) < 1e-6, `value ${v}`);
    if (v !== 0) kept++;
  }
  assert(Math.abs(kept / 4000 - 0.75) < 0.03, `kept fraction ${kept / 4000}`);
  const y2 = dropout(xs, 0.25, true, { generator: new Generator(9) }).dataSync();
  assertEquals(Array.from(y2), Array.from(yd)); // same seed, same mask
  sum(y).backward();
  assertEquals(Array.from(xs.grad!.dataSync()), Array.from(yd)); // x = 1, so y = mask
  assertThrows(() => dropout(x, 1.5), RangeError, "[0, 1]");
});

/** HF apply_rotary_pos_emb reference in float64 on a [B, H, T, D] array, positions per (b, t). */
function refRope(
  shape: number[],
  pos: (b: number, t: number) => number,
  theta: number,
  layout: "BHTD" | "BTHD",
) {
  const [B, A1, A2, D] = shape;
  return ([x]: Float64Array[]) => {
    const out = new Float64Array(x.length);
    const half = D / 2;
    for (let b = 0; b < B; b++) {
      for (let i1 = 0; i1 < A1; i1++) {
        for (let i2 = 0; i2 < A2; i2++) {
          const t = layout === "BHTD" ? i2 : i1;
          const base = ((b * A1 + i1) * A2 + i2) * D;
          for (let j = 0; j < D; j++) {
            const i = j % half;
            const ang = pos(b, t) / theta ** (2 * i / D);
            const rot = j < half ? -x[base + j + half] : x[base + j - half];
            out[base + j] = x[base + j] * Math.cos(ang) + rot * Math.sin(ang);
          }
        }
      }
    }
    return out;
  };
}

Deno.test("applyRotaryEmb: HF rotate_half convention, both layouts, explicit positions, gradient", () => {
  manualSeed(4);
  const x = randn([2, 3, 5, 8]);
  gradcheck((a) => applyRotaryEmb(a, { theta: 10000 }), [x], {
    ref: refRope([2, 3, 5, 8], (_b, t) => t, 10000, "BHTD"),
    forwardTol: 2e-6,
  });
  gradcheck((a) => applyRotaryEmb(a, { theta: 500, layout: "BTHD" }), [x], {
    ref: refRope([2, 3, 5, 8], (_b, t) => t, 500, "BTHD"),
    forwardTol: 2e-6,
  });
  const pos = [3, 7, 8, 20, 21, 0, 1, 2, 3, 4]; // [B=2, T=5]
  gradcheck((a) => applyRotaryEmb(a, { positions: pos }), [randn([2, 2, 5, 4])], {
    ref: refRope([2, 2, 5, 4], (b, t) => pos[b * 5 + t], 10000, "BHTD"),
    forwardTol: 2e-6,
  });
  // position 0 is the identity
  const x1 = randn([1, 1, 1, 6]);
  assertEquals(Array.from(applyRotaryEmb(x1).dataSync()), Array.from(x1.dataSync()));
  assertThrows(() => applyRotaryEmb(randn([1, 1, 2, 5])), RangeError, "even");
  assertThrows(() => applyRotaryEmb(x, { positions: [1, 2] }), RangeError, "positions");
});

/** Naive float64 GQA attention: q [B,Hq,L,D], k [B,Hkv,S,D], v [B,Hkv,S,Dv]. */
function refAttention(
  B: number,
  Hq: number,
  Hkv: number,
  L: number,
  S: number,
  D: number,
  Dv: number,
  causal: boolean,
  scale: number,
  mask?: (b: number, h: number, i: number, j: number) => number,
) {
  return ([q, k, v]: Float64Array[]) => {
    const out = new Float64Array(B * Hq * L * Dv);
    const g = Hq / Hkv;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hq; h++) {
        const kh = Math.floor(h / g);
        for (let i = 0; i < L; i++) {
          const sc = new Float64Array(S);
          let mx = -Infinity;
          for (let j = 0; j < S; j++) {
            let s = 0;
            for (let c = 0; c < D; c++) {
              s += q[((b * Hq + h) * L + i) * D + c] * k[((b * Hkv + kh) * S + j) * D + c];
            }
            s *= scale;
            if (causal && j > i) s = -Infinity;
            if (mask) s += mask(b, h, i, j);
            sc[j] = s;
            mx = Math.max(mx, s);
          }
          let z = 0;
          for (let j = 0; j < S; j++) z += sc[j] = Math.exp(sc[j] - mx);
          for (let c = 0; c < Dv; c++) {
            let o = 0;
            for (let j = 0; j < S; j++) o += sc[j] / z * v[((b * Hkv + kh) * S + j) * Dv + c];
            out[((b * Hq + h) * L + i) * Dv + c] = o;
          }
        }
      }
    }
    return out;
  };
}

Deno.test("scaledDotProductAttention: causal GQA (4 query heads on 2 kv heads) vs float64 reference", () => {
  manualSeed(5);
  const q = randn([2, 4, 5, 8]), k = randn([2, 2, 5, 8]), v = randn([2, 2, 5, 8]);
  gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { causal: true }), [q, k, v], {
    ref: refAttention(2, 4, 2, 5, 5, 8, 8, true, 1 / Math.sqrt(8)),
  });
});

Deno.test("scaledDotProductAttention: non-causal, L != S, Dv != D, custom scale, MHA and MQA", () => {
  manualSeed(6);
  const q = randn([1, 3, 4, 6]), k = randn([1, 3, 7, 6]), v = randn([1, 3, 7, 5]);
  gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { scale: 0.3 }), [q, k, v], {
    ref: refAttention(1, 3, 3, 4, 7, 6, 5, false, 0.3),
  });
  const k1 = randn([1, 1, 7, 6]), v1 = randn([1, 1, 7, 5]);
  gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { causal: true }), [q, k1, v1], {
    ref: refAttention(1, 3, 1, 4, 7, 6, 5, true, 1 / Math.sqrt(6)),
  });
});

Deno.test("scaledDotProductAttention: power-of-two scale with S > D (applied to q) vs float64 reference", () => {
  manualSeed(9);
  const q = randn([1, 4, 9, 4]), k = randn([1, 2, 9, 4]), v = randn([1, 2, 9, 3]);
  gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { causal: true }), [q, k, v], {
    ref: refAttention(1, 4, 2, 9, 9, 4, 3, true, 0.5),
  });
  gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { scale: -0.25 }), [q, k, v], {
    ref: refAttention(1, 4, 2, 9, 9, 4, 3, false, -0.25),
  });
});

Deno.test("scaledDotProductAttention: additive mask broadcast over heads (padding)", () => {
  manualSeed(7);
  const q = randn([2, 2, 3, 4]), k = randn([2, 1, 3, 4]), v = randn([2, 1, 3, 4]);
  // batch 1 cannot see key 2 (a padded position); mask shape [B, 1, 1, S]
  const md = new Float32Array([0, 0, 0, 0, 0, -Infinity]);
  const mask = tensor(md, [2, 1, 1, 3]);
  gradcheck((a, b, c) => scaledDotProductAttention(a, b, c, { attnMask: mask }), [q, k, v], {
    ref: refAttention(2, 2, 1, 3, 3, 4, 4, false, 0.5, (b, _h, _i, j) => md[b * 3 + j]),
  });
  assertThrows(
    () => scaledDotProductAttention(q, k, v, { attnMask: randn([3, 1, 1, 3]) }),
    RangeError,
    "broadcast",
  );
  assertThrows(
    () => scaledDotProductAttention(randn([2, 3, 3, 4]), randn([2, 2, 3, 4]), randn([2, 2, 3, 4])),
    RangeError,
    "multiple",
  );
  assertThrows(() => scaledDotProductAttention(q, randn([2, 1, 3, 5]), v), RangeError, "head dims");
});

Deno.test("ops compose in a graph: gradients flow through norm -> rope -> attention", () => {
  manualSeed(8);
  const x = randn([1, 2, 4, 8]);
  const w = randn([8]);
  const f = (a: Tensor, ww: Tensor) => {
    const n = rmsNorm(a, ww);
    const r = applyRotaryEmb(n);
    return scaledDotProductAttention(r, r, n, { causal: true });
  };
  const rep = gradcheck(f, [x, w]);
  assert(rep.inputs[0].maxAbsGrad > 0);
});
