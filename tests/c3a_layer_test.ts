// C3ALinear (spec §1.2–§1.5, §2, §3.1): golden vectors, the worked example, true gradients (finite
// differences through two stacked adapted layers), multi-adapter sum = merge, merge/unmerge, errors.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { C3ALinear, MERGED_MIN_ROWS } from "../src/c3a/layer.ts";
import { checkBlockSize, validBlockSizes } from "../src/c3a/blockSize.ts";
import { BlockSizeError, captureWarnings, ValueError } from "../src/c3a/errors.ts";
import { Linear } from "../src/nn/linear.ts";
import { Parameter } from "../src/nn/parameter.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { Embedding } from "../src/nn/embedding.ts";
import { Generator } from "../src/tensor/random.ts";
import { fromFloat32Array, tensor, zeros } from "../src/tensor/creation.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sum } from "../src/ops/reduce.ts";
import {
  assertClose,
  bccRef,
  circulantRef,
  golden,
  lcgData,
  linearRef,
  linearWith,
  maxAbsDiff,
  setData,
} from "./_c3a_util.ts";
import { goldenIndex } from "./_golden.ts";

for (const c of goldenIndex().filter((c) => c.has_base_layer)) {
  Deno.test(`C3ALinear vs golden ${c.name}: forward, delta weight, merge, true gradients`, () => {
    const { meta, t } = golden(c.file);
    const { b, in_features: inF, out_features: outF } = meta;
    const layer = new C3ALinear(linearWith(inF, outF, t.base_weight.data, t.base_bias.data), "default", b);
    setData(layer.c3a_kernel.get("default")!, t.kernel.data);
    const x = fromFloat32Array(t.x.data.slice(), t.x.shape).requiresGrad_(true);
    const y = layer.forward(x);
    assertEquals([...y.shape], t.layer_out.shape);
    assertClose(y.dataSync(), t.layer_out.data, 1e-5, "layer_out");
    // gradients of L = Σ g · (base + BCC/in): the adapter part is grad_*_scaled; x also gets g·W
    sum(mul(y, fromFloat32Array(t.grad_out.data.slice(), t.grad_out.shape))).backward();
    assertClose(
      layer.c3a_kernel.get("default")!.grad!.dataSync(),
      t.grad_kernel_scaled.data,
      1e-5,
      "grad_kernel",
    );
    const rows = t.x.data.length / inF;
    const baseGradX = linearRef(t.grad_out.data, rows, transpose(t.base_weight.data, outF, inF), inF, outF);
    const expectX = baseGradX.map((v, i) => v + t.grad_x_scaled.data[i]);
    assertClose(x.grad!.dataSync(), expectX, 1e-5, "grad_x");
    if (b >= 3) {
      // PEFT's custom backward (spec §1.4) gives a different input gradient: we must not match it
      const peft = baseGradX.map((v, i) => v + t.grad_x_peft_backward_scaled.data[i]);
      assert(maxAbsDiff(x.grad!.dataSync(), peft) > 1e-4, "input gradient equals PEFT's buggy one");
    }
    assertClose(layer.getDeltaWeight("default").dataSync(), t.delta_weight.data, 1e-5, "delta_weight");
    layer.merge();
    assertClose(layer.base_layer.weight.dataSync(), t.merged_weight.data, 1e-5, "merged_weight");
    assertClose(layer.forward(x).dataSync(), t.layer_out.data, 1e-5, "merged forward");
  });
}

function transpose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const o = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[j * r + i] = a[i * c + j];
  return o;
}

Deno.test("worked example of spec §1.3/§1.4: A·x = [91, 85, 85], true x_grad and w_grad", () => {
  const layer = new C3ALinear(linearWith(6, 3, new Float32Array(18), null), "default", 3);
  setData(layer.c3a_kernel.get("default")!, [1, 2, 3, 4, 5, 6]);
  const x = tensor([1, 2, 3, 4, 5, 6], [1, 6]).requiresGrad_(true);
  const y = layer.forward(x);
  assertClose(y.dataSync(), [91 / 6, 85 / 6, 85 / 6], 1e-6, "adapter output");
  sum(mul(y, tensor([1, 0, -1], [1, 3]))).backward();
  assertClose(x.grad!.dataSync(), [-1, -1, 2, -1, -1, 2].map((v) => v / 6), 1e-6, "x_grad (true)");
  assertClose(
    layer.c3a_kernel.get("default")!.grad!.dataSync(),
    [-2, 1, 1, -2, 1, 1].map((v) => v / 6),
    1e-6,
    "w_grad",
  );
  // dense matrix of the example
  assertClose(
    layer.getDeltaWeight("default").dataSync(),
    [1, 2, 3, 4, 5, 6, 3, 1, 2, 6, 4, 5, 2, 3, 1, 5, 6, 4].map((v) => v / 6),
    1e-7,
    "A/6",
  );
});

Deno.test("gradients flow correctly into an earlier adapter through a later one (finite differences, b = 3)", () => {
  // x [2, 6] -> L1: 6->9 (b=3) -> L2: 9->6 (b=3) -> loss = Σ g·y ; check d loss / d kernel1, kernel2, x
  const rows = 2;
  const w1 = lcgData(54, 1), b1 = lcgData(9, 2), w2 = lcgData(54, 3), b2 = lcgData(6, 4);
  const k1 = lcgData(3 * 2 * 3, 5),
    k2 = lcgData(2 * 3 * 3, 6),
    xv = lcgData(rows * 6, 7),
    g = lcgData(rows * 6, 8);
  const l1 = new C3ALinear(linearWith(6, 9, w1, b1), "default", 3);
  const l2 = new C3ALinear(linearWith(9, 6, w2, b2), "default", 3);
  setData(l1.c3a_kernel.get("default")!, k1);
  setData(l2.c3a_kernel.get("default")!, k2);
  const x = fromFloat32Array(xv.slice(), [rows, 6]).requiresGrad_(true);
  const y = l2.forward(l1.forward(x));
  sum(mul(y, fromFloat32Array(g.slice(), [rows, 6]))).backward();

  // independent float64 forward of the same two layers
  const f64 = (xx: ArrayLike<number>, kk1: ArrayLike<number>, kk2: ArrayLike<number>) => {
    const h = linearRef(xx, rows, w1, 9, 6, b1);
    const a1 = bccRef(xx, rows, kk1, 3, 2, 3);
    for (let i = 0; i < h.length; i++) h[i] += a1[i] / 6;
    const o = linearRef(h, rows, w2, 6, 9, b2);
    const a2 = bccRef(h, rows, kk2, 2, 3, 3);
    let s = 0;
    for (let i = 0; i < o.length; i++) s += g[i] * (o[i] + a2[i] / 9);
    return s;
  };
  const fd = (which: 0 | 1 | 2) => {
    const base = [Float64Array.from(xv), Float64Array.from(k1), Float64Array.from(k2)];
    const out = new Float64Array(base[which].length);
    const h = 1e-6;
    for (let i = 0; i < out.length; i++) {
      const p = base.map((a) => a.slice());
      const q = base.map((a) => a.slice());
      p[which][i] += h;
      q[which][i] -= h;
      out[i] = (f64(p[0], p[1], p[2]) - f64(q[0], q[1], q[2])) / (2 * h);
    }
    return out;
  };
  assertClose(
    l1.c3a_kernel.get("default")!.grad!.dataSync(),
    fd(1),
    1e-4,
    "kernel of the earlier layer",
    1e-6,
  );
  assertClose(l2.c3a_kernel.get("default")!.grad!.dataSync(), fd(2), 1e-4, "kernel of the later layer", 1e-6);
  assertClose(x.grad!.dataSync(), fd(0), 1e-4, "input", 1e-6);
});

Deno.test("several active adapters are summed (each sees x), equal the merged forward, not PEFT's chain", () => {
  const inF = 12, outF = 12, rows = 3;
  const w = lcgData(outF * inF, 11), bias = lcgData(outF, 12);
  const layer = new C3ALinear(linearWith(inF, outF, w, bias), "a", 4);
  layer.updateLayer("b", 3); // another block size
  layer.updateLayer("c", 4); // same block size as "a"
  const ka = lcgData(3 * 3 * 4, 13), kb = lcgData(4 * 4 * 3, 14), kc = lcgData(3 * 3 * 4, 15);
  setData(layer.c3a_kernel.get("a")!, ka);
  setData(layer.c3a_kernel.get("b")!, kb);
  setData(layer.c3a_kernel.get("c")!, kc);
  layer.setAdapter(["a", "b", "c"]);
  const xv = lcgData(rows * inF, 16);
  const x = fromFloat32Array(xv.slice(), [rows, inF]);
  const y = layer.forward(x).dataSync().slice();
  const ref = linearRef(xv, rows, w, outF, inF, bias);
  const da = bccRef(xv, rows, ka, 3, 3, 4),
    db = bccRef(xv, rows, kb, 4, 4, 3),
    dc = bccRef(xv, rows, kc, 3, 3, 4);
  for (let i = 0; i < ref.length; i++) ref[i] += (da[i] + db[i] + dc[i]) / inF;
  assertClose(y, ref, 1e-5, "sum of adapters");
  // PEFT's chained output (spec §5.6-1) is measurably different
  const chain = linearRef(xv, rows, w, outF, inF, bias);
  const c1 = bccRef(xv, rows, ka, 3, 3, 4).map((v) => v / inF);
  const c2 = bccRef(c1, rows, kb, 4, 4, 3).map((v) => v / outF);
  const c3 = bccRef(c2, rows, kc, 3, 3, 4).map((v) => v / outF);
  for (let i = 0; i < chain.length; i++) chain[i] += c1[i] + c2[i] + c3[i];
  assert(maxAbsDiff(y, chain) > 1e-3);
  // merged forward equals the unmerged sum
  layer.merge();
  assertEquals(layer.mergedAdapters, ["a", "b", "c"]);
  assertClose(layer.forward(x).dataSync(), ref, 1e-5, "merged");
  layer.unmerge();
  assertClose(layer.base_layer.weight.dataSync(), w, 1e-6, "unmerge restores W");
  // kernels of all active adapters get gradients
  const xg = fromFloat32Array(xv.slice(), [rows, inF]);
  sum(layer.forward(xg)).backward();
  for (const n of ["a", "b", "c"]) assert(layer.c3a_kernel.get(n)!.grad !== null, n);
});

Deno.test("initialisation modes of spec §2 (bounds from the full in/out widths), seeded", () => {
  const lin = () => new Linear(64, 32, { bias: false });
  const stats = (init: boolean | string) => {
    const l = new C3ALinear(lin(), "default", 8, init as never, { generator: new Generator(1) });
    const d = l.c3a_kernel.get("default")!.dataSync();
    let mn = Infinity, mx = -Infinity, s = 0, s2 = 0;
    for (const v of d) {
      mn = Math.min(mn, v);
      mx = Math.max(mx, v);
      s += v;
      s2 += v * v;
    }
    return {
      mn,
      mx,
      mean: s / d.length,
      std: Math.sqrt(s2 / d.length - (s / d.length) ** 2),
      n: d.length,
      d,
    };
  };
  assertEquals(stats(true).mx, 0);
  assertEquals(stats(true).mn, 0);
  const xa = Math.sqrt(6 / 96);
  for (const init of ["xavier_uniform", false]) {
    const s = stats(init);
    assertEquals(s.n, 4 * 8 * 8);
    assert(s.mn >= -xa && s.mx <= xa && s.mx > 0.9 * xa && s.mn < -0.9 * xa, `${init}: [${s.mn}, ${s.mx}]`);
  }
  const ka = 1 / Math.sqrt(64);
  const k = stats("kaiming_uniform");
  assert(k.mn >= -ka && k.mx <= ka && k.mx > 0.9 * ka, `kaiming: ${k.mx}`);
  const gss = stats("gaussian");
  // same seed -> same kernel; different seed -> different
  assertEquals([...stats("gaussian").d], [...gss.d]);
  const other = new C3ALinear(lin(), "default", 8, "gaussian", { generator: new Generator(2) });
  assert(maxAbsDiff(other.c3a_kernel.get("default")!.dataSync(), gss.d) > 0);
  assertThrows(
    () => new C3ALinear(lin(), "default", 8, "orthogonal"),
    ValueError,
    'Unknown init_weights: "orthogonal"',
  );
  // N(0, 1): 8192 samples, so mean within 0.05 (4.5 sigma) and std within 0.05
  const big = new C3ALinear(new Linear(256, 256, { bias: false }), "default", 8, "gaussian", {
    generator: new Generator(3),
  }).c3a_kernel.get("default")!.dataSync();
  const mean = big.reduce((a, v) => a + v, 0) / big.length;
  const std = Math.sqrt(big.reduce((a, v) => a + (v - mean) ** 2, 0) / big.length);
  assert(Math.abs(mean) < 0.05 && Math.abs(std - 1) < 0.05, `gaussian mean ${mean} std ${std}`);
});

Deno.test("block size errors of spec §3.1 list the valid block sizes", () => {
  assertEquals(validBlockSizes(12, 18), [1, 2, 3, 6]);
  const l = () => new Linear(12, 18);
  let e = assertThrows(
    () => new C3ALinear(l(), "default", 0),
    BlockSizeError,
    "`block_size` should be a positive integer value but the value passed is 0",
  );
  assert(e instanceof RangeError);
  assertStringIncludes(e.message, "1, 2, 3, 6");
  assertThrows(() => new C3ALinear(l(), "default", -4), BlockSizeError, "value passed is -4");
  assertThrows(() => new C3ALinear(l(), "default", 1.5), BlockSizeError, "value passed is 1.5");
  e = assertThrows(
    () => new C3ALinear(l(), "default", 5),
    BlockSizeError,
    "The block size should be a factor of the input size. However, the input size is 12 and the block size is 5",
  );
  assertStringIncludes(e.message, "1, 2, 3, 6");
  assertThrows(
    () => new C3ALinear(new Linear(10, 8), "default", 4), // both fail: the input size is checked first
    BlockSizeError,
    "However, the input size is 10 and the block size is 4",
  );
  assertThrows(
    () => new C3ALinear(new Linear(12, 9), "default", 6),
    BlockSizeError,
    "The block size should be a factor of the output size. However, the output size is 9 and the block size is 6",
  );
  assertThrows(() => checkBlockSize(3, 10, 20, "lin0"), BlockSizeError, 'layer "lin0"');
  assertThrows(
    () => new C3ALinear(new Embedding(10, 4) as unknown as Linear, "default", 2),
    TypeError,
    "is not supported. Currently, only `torch.nn.Linear`",
  );
  assertThrows(() => new C3ALinear(l(), "a.b", 2), ValueError, "invalid adapter name");
  assertThrows(() => new C3ALinear(l(), "forward", 2), ValueError, "reserved");
});

Deno.test("names follow PEFT: base_layer.*, c3a_kernel.<adapter>; kernel shape [out/b, in/b, b]", () => {
  const layer = new C3ALinear(new Linear(10, 20), "default", 5);
  layer.updateLayer("other", 2);
  assertEquals(layer.namedParameters().map(([n, p]) => [n, [...p.shape]]), [
    ["base_layer.weight", [20, 10]],
    ["base_layer.bias", [20]],
    ["c3a_kernel.default", [4, 2, 5]],
    ["c3a_kernel.other", [10, 5, 2]],
  ]);
  assertEquals(layer.c3aBlockSize, { default: 5, other: 2 });
  assert(layer.baseLayer === layer.base_layer);
  // only the active adapter's kernel is trainable
  assertEquals(layer.c3a_kernel.get("default")!.requiresGrad, true);
  assertEquals(layer.c3a_kernel.get("other")!.requiresGrad, false);
  layer.setAdapter("other");
  assertEquals(layer.c3a_kernel.get("default")!.requiresGrad, false);
  assertEquals(layer.c3a_kernel.get("other")!.requiresGrad, true);
});

Deno.test("merge/unmerge warnings, safe merge refuses non-finite weights and leaves W untouched", () => {
  const w = lcgData(20 * 10, 21);
  const layer = new C3ALinear(linearWith(10, 20, w, null), "default", 5);
  let r = captureWarnings(() => layer.unmerge());
  assertEquals(r.warnings, ["Already unmerged. Nothing to do."]);
  layer.merge();
  r = captureWarnings(() => layer.merge());
  assertEquals(r.warnings, ["All adapters are already merged, nothing to do."]);
  layer.updateLayer("two", 5);
  r = captureWarnings(() => layer.merge({ adapterNames: ["default", "two"] }));
  assertEquals(r.warnings, [
    "Already following adapters were merged default. You are now additionally merging two.",
  ]);
  layer.unmerge();
  assert(!layer.merged);
  assertClose(layer.base_layer.weight.dataSync(), w, 1e-6, "restored");
  // a broken kernel
  const k = layer.c3a_kernel.get("two")!;
  const bad = new Float32Array(k.size);
  bad[3] = NaN;
  setData(k, bad);
  const before = layer.base_layer.weight.dataSync().slice();
  const e = assertThrows(() => layer.merge({ adapterNames: ["two"], safeMerge: true }), ValueError);
  assertEquals(e.message, "NaNs detected in the merged weights. The adapter two seems to be broken");
  assertEquals([...layer.base_layer.weight.dataSync()], [...before]);
  assert(!layer.merged);
  assertThrows(
    () => layer.merge({ adapterNames: "two" as unknown as string[] }),
    TypeError,
    "list of strings",
  );
  assertThrows(() => layer.getDeltaWeight("nope"), ValueError, '"nope"');
});

Deno.test("disabled adapters: base output only; a merged layer is unmerged first (PEFT behaviour)", () => {
  const w = lcgData(12 * 6, 31);
  const layer = new C3ALinear(linearWith(6, 12, w, null), "default", 3);
  const xv = lcgData(2 * 6, 32);
  const x = fromFloat32Array(xv, [2, 6]);
  const base = linearRef(xv, 2, w, 12, 6);
  layer.enableAdapters(false);
  assertClose(layer.forward(x).dataSync(), base, 1e-6, "disabled");
  assertEquals(layer.c3a_kernel.get("default")!.requiresGrad, false);
  layer.enableAdapters(true);
  assertEquals(layer.c3a_kernel.get("default")!.requiresGrad, true);
  assert(maxAbsDiff(layer.forward(x).dataSync(), base) > 1e-4);
  layer.merge();
  layer.enableAdapters(false);
  assertClose(layer.forward(x).dataSync(), base, 1e-5, "disabled + merged");
  assert(!layer.merged);
});

Deno.test("deleteAdapter on a layer: active fallback to the first remaining adapter, with a warning", () => {
  const layer = new C3ALinear(new Linear(4, 4), "b", 2);
  layer.updateLayer("a", 2);
  const r = captureWarnings(() => layer.deleteAdapter("b"));
  assertEquals(r.value, true);
  assertEquals(layer.activeAdapters, ["a"]);
  assertEquals(r.warnings, ["Adapter b was active which is now deleted. Setting active adapter to a."]);
  assertEquals(layer.adapterNames, ["a"]);
  assertEquals(layer.deleteAdapter("zzz"), false);
});

Deno.test("input of any rank [..., in]: 1-D and 3-D inputs", () => {
  const w = lcgData(8 * 4, 41);
  const layer = new C3ALinear(linearWith(4, 8, w, null), "default", 2);
  const k = lcgData(4 * 2 * 2, 42);
  setData(layer.c3a_kernel.get("default")!, k);
  const xv = lcgData(2 * 3 * 4, 43);
  const y = layer.forward(fromFloat32Array(xv, [2, 3, 4]));
  assertEquals([...y.shape], [2, 3, 8]);
  const ref = linearRef(xv, 6, w, 8, 4);
  const a = bccRef(xv, 6, k, 4, 2, 2);
  assertClose(y.dataSync(), ref.map((v, i) => v + a[i] / 4), 1e-5, "3-D");
  const y1 = layer.forward(fromFloat32Array(xv.slice(0, 4), [4]));
  assertEquals([...y1.shape], [8]);
  assertClose(y1.dataSync(), ref.slice(0, 8).map((v, i) => v + a[i] / 4), 1e-5, "1-D");
  assertThrows(() => layer.forward(zeros([2, 5])), RangeError);
  // circulantRef sanity: delta weight equals the float64 dense matrix / in
  assertClose(
    layer.getDeltaWeight("default").dataSync(),
    circulantRef(k, 4, 2, 2).map((v) => v / 4),
    1e-6,
    "ΔW",
  );
});

Deno.test("C3ALinear: the merged path (>= MERGED_MIN_ROWS rows) matches a float64 forward and the true gradients", () => {
  const inF = 24, outF = 16, b = 8, rows = MERGED_MIN_ROWS + 3;
  const gen = new Generator().manualSeed(5);
  const base = new Linear(inF, outF, { bias: true });
  const wd = Float32Array.from({ length: outF * inF }, (_, i) => Math.sin(i * 0.37));
  const bd = Float32Array.from({ length: outF }, (_, i) => Math.cos(i));
  base.weight = new Parameter(fromFloat32Array(wd, [outF, inF]));
  base.bias = new Parameter(fromFloat32Array(bd, [outF]));
  base.weight.requiresGrad = false;
  base.bias.requiresGrad = false;
  const layer = new C3ALinear(base, "default", b, "gaussian", { generator: gen });
  const kd = layer.c3a_kernel.get("default")!.dataSync().slice();
  const xd = Float32Array.from({ length: rows * inF }, (_, i) => Math.sin(i * 0.11 + 1));
  const gd = Float32Array.from({ length: rows * outF }, (_, i) => Math.cos(i * 0.07));
  const x = fromFloat32Array(xd, [rows, inF]).requiresGrad_();
  const y = layer.forward(x);
  y.backward(fromFloat32Array(gd, [rows, outF]));
  // float64: Wm = W + A / in, y = x·Wmᵀ + bias, gx = g·Wm, gk[i][j][t] = Σ_s (gᵀx)[i·b+s][j·b+(s+t) mod b] / in
  const m = outF / b, n = inF / b;
  const wm = Float64Array.from(wd);
  for (let i = 0; i < m; i++) {
    for (let s = 0; s < b; s++) {
      for (let j = 0; j < n; j++) {
        for (let t = 0; t < b; t++) {
          wm[(i * b + s) * inF + j * b + t] += kd[(i * n + j) * b + (t - s + b) % b] / inF;
        }
      }
    }
  }
  const y64 = new Float64Array(rows * outF),
    gx64 = new Float64Array(rows * inF),
    gtx = new Float64Array(outF * inF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = bd[o];
      for (let c = 0; c < inF; c++) {
        acc += xd[r * inF + c] * wm[o * inF + c];
        gx64[r * inF + c] += gd[r * outF + o] * wm[o * inF + c];
        gtx[o * inF + c] += gd[r * outF + o] * xd[r * inF + c];
      }
      y64[r * outF + o] = acc;
    }
  }
  const gk64 = new Float64Array(m * n * b);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let t = 0; t < b; t++) {
        let acc = 0;
        for (let s = 0; s < b; s++) acc += gtx[(i * b + s) * inF + j * b + (s + t) % b];
        gk64[(i * n + j) * b + t] = acc / inF;
      }
    }
  }
  const close = (got: Float32Array, want: Float64Array, what: string) => {
    let scale = 0;
    for (const v of want) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < want.length; i++) {
      assert(Math.abs(got[i] - want[i]) <= 1e-5 * scale, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
    }
  };
  close(y.dataSync(), y64, "y");
  close(x.grad!.dataSync(), gx64, "grad x");
  close(layer.c3a_kernel.get("default")!.grad!.dataSync(), gk64, "grad kernel");
});

Deno.test("C3ALinear: a Linear subclass's or a wrapped forward is called at any row count; a wrong width names the Linear", () => {
  class ScaledLinear extends Linear {
    override forward(x: Tensor): Tensor {
      return mul(super.forward(x), 2);
    }
  }
  for (const rows of [MERGED_MIN_ROWS - 1, MERGED_MIN_ROWS, MERGED_MIN_ROWS + 7]) {
    const base = new ScaledLinear(8, 8, { bias: false });
    const layer = new C3ALinear(base, "default", 4, true); // zero kernel: the adapter adds nothing
    const x = fromFloat32Array(Float32Array.from({ length: rows * 8 }, (_, i) => Math.sin(i)), [rows, 8]);
    const want = base.forward(x).dataSync(), got = layer.forward(x).dataSync();
    assertEquals(Array.from(got), Array.from(want), `subclass forward at ${rows} rows`);
    const plain = new Linear(8, 8, { bias: false });
    let calls = 0;
    const own = plain.forward.bind(plain);
    plain.forward = (t: Tensor) => (calls++, own(t));
    new C3ALinear(plain, "default", 4, true).forward(x);
    assertEquals(calls, 1, `wrapped forward called at ${rows} rows`);
    const wrong = fromFloat32Array(new Float32Array(rows * 6), [rows, 6]);
    const plainLayer = new C3ALinear(new Linear(8, 8, { bias: false }), "default", 4, true);
    assertThrows(
      () => plainLayer.forward(wrong),
      RangeError,
      `input [${rows}, 6] does not end in in_features 8`,
    );
  }
});
