import { assertEquals, assertThrows } from "./deps.ts";
import { gradcheck, ravel, refBroadcastShape, unravel } from "./gradcheck.ts";
import { linear, manualSeed, matmul, randn, zeros } from "../src/tensor/index.ts";

/** float64 torch.matmul reference (1-D promotion, batch broadcasting), naive triple loop. */
function refMatmul(aShape: number[], bShape: number[]) {
  return ([a, b]: Float64Array[]): Float64Array => {
    const as = aShape.length === 1 ? [1, aShape[0]] : aShape;
    const bs = bShape.length === 1 ? [bShape[0], 1] : bShape;
    const m = as[as.length - 2], k = as[as.length - 1], n = bs[bs.length - 1];
    const aB = as.slice(0, -2), bB = bs.slice(0, -2);
    const batch = refBroadcastShape(aB, bB);
    const nb = batch.reduce((p, v) => p * v, 1);
    const out = new Float64Array(nb * m * n);
    for (let t = 0; t < nb; t++) {
      const bi = unravel(t, batch);
      const ia = aB.map((d, i) => (d === 1 ? 0 : bi[i + batch.length - aB.length]));
      const ib = bB.map((d, i) => (d === 1 ? 0 : bi[i + batch.length - bB.length]));
      const oa = (aB.length ? ravel(ia, aB) : 0) * m * k, ob = (bB.length ? ravel(ib, bB) : 0) * k * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) s += a[oa + i * k + q] * b[ob + q * n + j];
          out[t * m * n + i * n + j] = s;
        }
      }
    }
    return out;
  };
}

Deno.test("matmul: 1-D/2-D/batched/broadcast cases, values and gradients vs float64", () => {
  manualSeed(30);
  const cases: Array<[number[], number[], number[]]> = [
    [[4], [4], []],
    [[3, 4], [4], [3]],
    [[4], [4, 5], [5]],
    [[3, 4], [4, 5], [3, 5]],
    [[2, 3, 4], [4, 5], [2, 3, 5]],
    [[2, 3, 4], [2, 4, 5], [2, 3, 5]],
    [[3, 4], [2, 4, 5], [2, 3, 5]],
    [[2, 1, 3, 4], [3, 4, 5], [2, 3, 3, 5]],
    [[1, 3, 4], [2, 4, 5], [2, 3, 5]],
    [[2, 3, 4], [1, 4, 5], [2, 3, 5]],
    [[2, 3, 4], [4], [2, 3]],
    [[17, 33], [33, 9], [17, 9]],
  ];
  for (const [sa, sb, so] of cases) {
    const a = randn(sa), b = randn(sb);
    assertEquals(matmul(a, b).shape, so, `${sa} x ${sb}`);
    try {
      gradcheck(matmul, [a, b], { ref: refMatmul(sa, sb) });
    } catch (e) {
      throw new Error(`${JSON.stringify(sa)} x ${JSON.stringify(sb)}: ${(e as Error).message}`);
    }
  }
});

Deno.test("matmul errors name the shapes", () => {
  assertThrows(() => matmul(randn([2, 3]), randn([4, 5])), RangeError, "[2, 3] · [4, 5] (3 vs 4)");
  assertThrows(() => matmul(randn([2, 2, 3]), randn([3, 3, 4])), RangeError, "do not broadcast");
  assertThrows(() => matmul(randn([]), randn([3])), RangeError);
});

Deno.test("linear: [..., in] x [out, in]ᵀ + bias vs float64, all gradients", () => {
  manualSeed(31);
  for (
    const [xs, inF, outF, bias] of [[[5], 4, 3, true], [[2, 3], 6, 5, true], [[7], 8, 2, false], [
      [],
      3,
      4,
      true,
    ]] as const
  ) {
    const x = randn([...xs, inF]), w = randn([outF, inF]), b = randn([outF]);
    const rows = xs.reduce((p: number, v: number) => p * v, 1);
    const ref = ([xa, wa, ba]: Float64Array[]) => {
      const o = new Float64Array(rows * outF);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < outF; j++) {
          let s = bias ? ba[j] : 0;
          for (let q = 0; q < inF; q++) s += xa[r * inF + q] * wa[j * inF + q];
          o[r * outF + j] = s;
        }
      }
      return o;
    };
    if (bias) gradcheck((x, w, b) => linear(x, w, b), [x, w, b], { ref });
    else gradcheck((x, w) => linear(x, w), [x, w], { ref });
    assertEquals(linear(x, w, bias ? b : null).shape, [...xs, outF]);
  }
});

Deno.test("linear errors", () => {
  assertThrows(() => linear(randn([2, 3]), randn([4, 5])), RangeError, "does not end in in_features 5");
  assertThrows(() => linear(randn([2, 5]), randn([4, 5]), zeros([5])), RangeError, "bias must be [4]");
  assertThrows(() => linear(randn([2, 5]), randn([5])), RangeError, "weight must be [out, in]");
});

Deno.test("matmul of a size used by training (64x256 · 256x128) matches float64 within float32 bounds", () => {
  manualSeed(32);
  const a = randn([64, 256]), b = randn([256, 128]);
  const out = matmul(a, b).dataSync();
  const ref = refMatmul([64, 256], [256, 128])([
    Float64Array.from(a.dataSync()),
    Float64Array.from(b.dataSync()),
  ]);
  let maxErr = 0, maxRef = 0;
  for (let i = 0; i < out.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(out[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  // float32 dot products of length 256 with N(0,1) entries: error ~ sqrt(k)·2^-24·|terms|, far below 1e-5·max
  if (!(maxErr <= 1e-5 * maxRef)) throw new Error(`max error ${maxErr} vs max |ref| ${maxRef}`);
});
