import { assert, assertEquals, assertThrows } from "./deps.ts";
import { gradcheck, ravel, unravel } from "./gradcheck.ts";
import {
  concat,
  expand,
  flatten,
  manualSeed,
  permute,
  randn,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  tensor,
  transpose,
  unsqueeze,
} from "../src/tensor/index.ts";

function refPermute(shape: number[], dims: number[]) {
  return ([x]: Float64Array[]) => {
    const outShape = dims.map((d) => shape[d]);
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const o = unravel(i, outShape);
      const src = new Array<number>(shape.length);
      dims.forEach((d, j) => (src[d] = o[j]));
      out[i] = x[ravel(src, shape)];
    }
    return out;
  };
}

Deno.test("permute / transpose vs naive index reference, with gradients", () => {
  manualSeed(20);
  const cases: Array<[number[], number[]]> = [
    [[3, 4], [1, 0]],
    [[2, 3, 4], [2, 0, 1]],
    [[2, 3, 4, 5], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 2, 1, 0]],
  ];
  for (const [shape, dims] of cases) {
    const x = randn(shape);
    const out = permute(x, dims);
    assertEquals(out.shape, dims.map((d) => shape[d]));
    gradcheck((t) => permute(t, dims), [x], { ref: refPermute(shape, dims) });
  }
  const x = randn([2, 3, 4]);
  gradcheck((t) => transpose(t, 0, 2), [x], { ref: refPermute([2, 3, 4], [2, 1, 0]) });
  assertEquals(randn([5, 6]).t().shape, [6, 5]);
});

Deno.test("reshape shares storage, infers -1, gradient flows", () => {
  const x = tensor([1, 2, 3, 4, 5, 6]);
  const y = reshape(x, [2, -1]);
  assertEquals(y.shape, [2, 3]);
  y.dataSync()[0] = 42;
  assertEquals(x.dataSync()[0], 42);
  assertEquals(x.reshape(3, 2).shape, [3, 2]);
  assertEquals(x.view([1, 6]).shape, [1, 6]);
  gradcheck((t) => reshape(t, [3, 2]).mul(tensor([[1, 2], [3, 4], [5, 6]])), [randn([6])], {
    ref: ([a]) => a.map((v, i) => v * (i + 1)),
  });
  assertThrows(
    () => reshape(x, [4, 2]),
    RangeError,
    "[4, 2] (8 elements) is invalid for a tensor of shape [6]",
  );
  assertThrows(() => reshape(x, [-1, -1]), RangeError, "only one dimension");
  assertThrows(() => reshape(x, [4, -1]), RangeError, "cannot reshape");
});

Deno.test("squeeze / unsqueeze / flatten shapes", () => {
  const x = randn([2, 1, 3, 1]);
  assertEquals(squeeze(x).shape, [2, 3]);
  assertEquals(squeeze(x, 1).shape, [2, 3, 1]);
  assertEquals(squeeze(x, 0).shape, [2, 1, 3, 1]);
  assertEquals(unsqueeze(randn([2, 3]), -1).shape, [2, 3, 1]);
  assertEquals(unsqueeze(randn([2, 3]), 0).shape, [1, 2, 3]);
  assertEquals(flatten(randn([2, 3, 4]), 1).shape, [2, 12]);
  assertEquals(flatten(randn([2, 3, 4])).shape, [24]);
  assertThrows(() => unsqueeze(randn([2]), 3), RangeError);
});

Deno.test("slice: Python bounds, values and gradient", () => {
  manualSeed(21);
  const x = randn([4, 5, 3]);
  const cases: Array<[number, number, number | undefined]> = [[0, 1, 3], [1, -3, undefined], [2, 0, 1], [
    1,
    2,
    100,
  ], [1, -100, 2]];
  for (const [axis, start, end] of cases) {
    const n = x.shape[axis];
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const s = norm(start), e = norm(end ?? n);
    const outShape = x.shape.slice();
    outShape[axis] = e - s;
    gradcheck((t) => slice(t, axis, start, end), [x], {
      ref: ([a]) => {
        const size = outShape.reduce((p, v) => p * v, 1);
        const out = new Float64Array(size);
        for (let i = 0; i < size; i++) {
          const idx = unravel(i, outShape);
          idx[axis] += s;
          out[i] = a[ravel(idx, x.shape)];
        }
        return out;
      },
    });
  }
  assertEquals(slice(x, 1, 3, 2).shape, [4, 0, 3]);
  assertThrows(() => slice(x, 3, 0, 1), RangeError, "axis 3 is out of range");
});

Deno.test("expand / broadcastTo with gradient summed back", () => {
  manualSeed(22);
  const x = randn([3, 1]);
  const out = expand(x, [2, 3, 4]);
  assertEquals(out.shape, [2, 3, 4]);
  gradcheck((t) => expand(t, [2, 3, 4]), [x], {
    ref: ([a]) => {
      const o = new Float64Array(24);
      for (let i = 0; i < 24; i++) o[i] = a[unravel(i, [2, 3, 4])[1]];
      return o;
    },
  });
  assertEquals(expand(x, [-1, 2]).shape, [3, 2]);
  assertThrows(() => expand(randn([3, 2]), [3, 4]), RangeError, "must match 4");
  assertThrows(() => expand(randn([2, 3]), [3]), RangeError, "fewer dimensions");
});

Deno.test("concat / stack / split with gradients", () => {
  manualSeed(23);
  const a = randn([2, 3]), b = randn([2, 1]), c = randn([2, 2]);
  const out = concat([a, b, c], 1);
  assertEquals(out.shape, [2, 6]);
  gradcheck((x, y, z) => concat([x, y, z], -1), [a, b, c], {
    ref: ([x, y, z]) => {
      const o = new Float64Array(12);
      for (let r = 0; r < 2; r++) {
        const row = [...x.slice(r * 3, r * 3 + 3), y[r], ...z.slice(r * 2, r * 2 + 2)];
        o.set(row, r * 6);
      }
      return o;
    },
  });
  const s = stack([a, a, a], 1);
  assertEquals(s.shape, [2, 3, 3]);
  gradcheck((x, y) => stack([x, y], 0), [a, randn([2, 3])], { ref: ([x, y]) => Float64Array.of(...x, ...y) });
  const parts = split(randn([7, 2]), 3, 0);
  assertEquals(parts.map((p) => p.shape[0]), [3, 3, 1]);
  const x = randn([5, 4]);
  const [p1, p2] = split(x, [1, 4], 0);
  assertEquals(concat([p1, p2], 0).toList(), x.toList());
  assertThrows(() => concat([a, randn([3, 3])], 1), RangeError, "differ outside axis");
  assertThrows(() => concat([]), RangeError);
  assertThrows(() => split(x, [2, 2], 0), RangeError, "add up to 4");
  assert(true);
});

Deno.test("permute errors", () => {
  assertThrows(() => permute(randn([2, 3]), [0]), RangeError, "do not match");
  assertThrows(() => permute(randn([2, 3]), [0, 0]), RangeError, "repeat");
});
