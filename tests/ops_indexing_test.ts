import { assertEquals, assertThrows } from "./deps.ts";
import { gradcheck } from "./gradcheck.ts";
import { gatherLast, indexSelect, manualSeed, randn, tensor } from "../src/tensor/index.ts";

Deno.test("indexSelect (embedding lookup) with repeated indices: values and scatter-add gradient", () => {
  manualSeed(60);
  const table = randn([5, 3]);
  const idx = [4, 0, 4, 2];
  const out = indexSelect(table, idx, [2, 2]);
  assertEquals(out.shape, [2, 2, 3]);
  gradcheck((t) => indexSelect(t, idx), [table], {
    ref: ([w]) => Float64Array.from(idx.flatMap((i) => Array.from(w.slice(i * 3, i * 3 + 3)))),
  });
  assertEquals(indexSelect(table, tensor([[1, 2]])).shape, [1, 2, 3]);
  assertThrows(() => indexSelect(table, [5]), RangeError, "out of range [0, 5)");
  assertThrows(() => indexSelect(table, [1, 2], [3]), RangeError, "does not hold 2");
});

Deno.test("gatherLast picks one element per row; ignored rows give 0 and no gradient", () => {
  manualSeed(61);
  const x = randn([2, 3, 4]);
  const idx = [3, 0, 1, 2, 2, 0];
  gradcheck((t) => gatherLast(t, idx), [x], { ref: ([a]) => Float64Array.from(idx, (j, r) => a[r * 4 + j]) });
  const withIgnore = [3, -7, 1, 2, -7, 0];
  gradcheck((t) => gatherLast(t, withIgnore, -7), [x], {
    ref: ([a]) => Float64Array.from(withIgnore, (j, r) => (j === -7 ? 0 : a[r * 4 + j])),
  });
  assertThrows(() => gatherLast(x, [0, 1]), RangeError, "2 indices for 6 rows");
  assertThrows(() => gatherLast(x, [0, 1, 2, 3, 4, 0]), RangeError, "index 4 at row 4");
});
