// The wasm backend's array pool as a caching allocator (src/backend/wasm/backend.ts): its cap follows
// the most bytes that storages ever held at once, so a training loop's second step reuses every
// array the first one freed; `utils.emptyCache()` drops it.
import { assert, assertEquals } from "./deps.ts";
import { WasmBackend, wasmStoragePool } from "../src/backend/wasm/backend.ts";
import { getBackend, randn, tidy } from "../src/tensor/index.ts";
import { utils } from "../mod.ts";

/** Runs `fn` with the pool's floor set to `minBytes` and its margin to `margin` (restored afterwards). */
function withFloor<T>(minBytes: number, fn: () => T, margin = 0): T {
  const saved = { ...wasmStoragePool };
  wasmStoragePool.minBytes = minBytes;
  wasmStoragePool.maxBytes = Infinity;
  wasmStoragePool.margin = margin;
  try {
    return fn();
  } finally {
    Object.assign(wasmStoragePool, saved);
  }
}

const n = 8192; // elements per array, above minElements
const bytes = n * 4;

Deno.test("array pool: the cap follows the peak of live storages, so a second round reuses every array", () => {
  withFloor(0, () => {
    const b = new WasmBackend();
    assertEquals([b.liveBytes, b.peakBytes, b.pooledBytes], [0, 0, 0]);
    const round = () => Array.from({ length: 10 }, (_, i) => b.full(n, i + 1));
    const first = round();
    assertEquals(b.liveBytes, 10 * bytes);
    assertEquals(b.peakBytes, 10 * bytes);
    for (const s of first) b.dispose(s);
    assertEquals(b.liveBytes, 0);
    assertEquals(b.pooledBytes, 10 * bytes, "all ten fit: the cap is the peak, 10 arrays");
    const second = round();
    assertEquals(b.pooledBytes, 0, "the second round took every pooled array");
    assertEquals(b.peakBytes, 10 * bytes, "reuse does not raise the peak");
    for (const [i, s] of second.entries()) assert(b.readSync(s).every((v) => v === i + 1));
  });
});

Deno.test("array pool: never holds more than the peak, nor more than maxBytes", () => {
  withFloor(0, () => {
    const b = new WasmBackend();
    const a = [b.full(n), b.full(n)];
    for (const s of a) b.dispose(s); // peak 2 arrays: both pooled
    assertEquals(b.pooledBytes, 2 * bytes);
    // an array of another size while the pool holds the peak: the array pooled longest ago makes room
    const other = b.full(n / 2); // fresh: the pool has no array of this size
    assertEquals(b.peakBytes, 2 * bytes, "at most two arrays were live at once");
    b.dispose(other);
    assertEquals(b.pooledBytes, bytes + bytes / 2, "one n-array evicted, the n/2 array kept");
    const again = b.full(n / 2);
    assertEquals(b.pooledBytes, bytes, "the n/2 array was reused");
    b.dispose(again);
    b.clearPool();
    wasmStoragePool.maxBytes = bytes;
    const c = [b.full(n), b.full(n), b.full(n)];
    for (const s of c) b.dispose(s);
    assertEquals(b.peakBytes, 3 * bytes);
    assertEquals(b.pooledBytes, bytes, "maxBytes is a hard cap");
    wasmStoragePool.maxBytes = 0;
    b.clearPool();
    b.dispose(b.full(n));
    assertEquals(b.pooledBytes, 0, "maxBytes 0 disables the pool");
  });
});

Deno.test("array pool: the floor keeps small programs pooled; adopted and exposed arrays are not counted or pooled", () => {
  withFloor(4 * bytes, () => {
    const b = new WasmBackend();
    const s = b.full(n);
    b.dispose(s);
    assertEquals(b.pooledBytes, bytes);
    const adopted = b.fromArray(new Float32Array(n), true);
    assertEquals(b.liveBytes, 0, "an adopted array belongs to the caller");
    b.dispose(adopted);
    assertEquals(b.pooledBytes, bytes);
    const small = b.full(16);
    assertEquals(b.liveBytes, 0, "arrays below minElements are not counted");
    b.dispose(small);
    const exposed = b.full(n); // takes the pooled array
    b.readSync(exposed);
    assertEquals(b.liveBytes, bytes);
    b.dispose(exposed);
    assertEquals([b.liveBytes, b.pooledBytes], [0, 0], "an array handed out by readSync is never reused");
  });
});

Deno.test("utils.emptyCache drops the current backend's pool and keeps tensors in use", () => {
  const b = getBackend();
  assert(b instanceof WasmBackend, "this test needs the wasm backend");
  const keep = randn([64, 128]);
  const before = Array.from(keep.dataSync());
  tidy(() => void randn([128, 128]).matmul(randn([128, 128])));
  assert(b.pooledBytes > 0, "the tidy scope returned its arrays to the pool");
  utils.emptyCache();
  assertEquals(b.pooledBytes, 0);
  assertEquals(Array.from(keep.dataSync()), before);
  keep.dispose();
});

Deno.test("array pool: with shapes that keep changing it holds only the latest sizes, never more than the peak", () => {
  withFloor(0, () => {
    const b = new WasmBackend();
    // a step of 8 arrays whose length grows every step (a growing sequence length): none is reused
    for (let step = 0; step < 40; step++) {
      const len = n + step * 64;
      const live = Array.from({ length: 8 }, () => b.full(len));
      for (const s of live) b.dispose(s);
      assert(b.pooledBytes <= b.peakBytes, `step ${step}: pooled ${b.pooledBytes} > peak ${b.peakBytes}`);
    }
    assertEquals(b.peakBytes, 8 * (n + 39 * 64) * 4);
    // the pool holds the last step's arrays, so a repeat of the last step reuses all eight
    const repeat = Array.from({ length: 8 }, () => b.full(n + 39 * 64));
    assertEquals(b.pooledBytes, 0, "the last step's eight arrays were all in the pool");
    for (const s of repeat) b.dispose(s);
    // a change of shapes: the new sizes replace the old ones
    for (let step = 0; step < 3; step++) {
      const live = Array.from({ length: 8 }, () => b.full(n / 2));
      for (const s of live) b.dispose(s);
    }
    const before = b.pooledBytes;
    const half = Array.from({ length: 8 }, () => b.full(n / 2));
    assertEquals(before - b.pooledBytes, 8 * (n / 2) * 4, "the eight n/2 arrays came from the pool");
    for (const s of half) b.dispose(s);
  });
});

Deno.test("array pool: the margin keeps an array freed early beside a full pool (the peak alone drops it)", () => {
  // a step: an n/2 array used and freed first, then eight n-arrays live at the peak, then all freed
  const step = (b: WasmBackend) => {
    b.dispose(b.full(n / 2));
    const live = Array.from({ length: 8 }, () => b.full(n));
    for (const s of live) b.dispose(s);
  };
  for (const [margin, kept] of [[0, false], [1 / 16, true]] as const) {
    withFloor(0, () => {
      const b = new WasmBackend();
      step(b);
      assertEquals(b.peakBytes, 8 * bytes);
      // at the peak alone the early n/2 array goes first when the eight n-arrays come back
      assertEquals(b.pooledBytes, kept ? 8 * bytes + bytes / 2 : 8 * bytes, `margin ${margin}`);
      const again = b.full(n / 2); // the next step's early array: reused only when kept
      assertEquals(b.pooledBytes, 8 * bytes, `margin ${margin}: after the next step's first request`);
      b.dispose(again);
      assert(b.pooledBytes <= 8 * bytes * (1 + margin), `margin ${margin}: pooled ${b.pooledBytes}`);
    }, margin);
  }
});

Deno.test("array pool: a fresh array of bigBytes or more first drops pooled arrays (live + pool + new within the cap); smaller ones do not", () => {
  withFloor(0, () => {
    wasmStoragePool.bigBytes = 4 * bytes;
    const b = new WasmBackend();
    // a forward: one array stays live (the model), eight layer temporaries are freed into the pool
    const model = b.full(n);
    const temps = Array.from({ length: 8 }, () => b.full(n));
    for (const s of temps) b.dispose(s);
    assertEquals([b.liveBytes, b.pooledBytes, b.peakBytes], [bytes, 8 * bytes, 9 * bytes]);
    // a small array of a new size: below bigBytes, nothing dropped
    const small = b.full(n / 2);
    assertEquals(b.pooledBytes, 8 * bytes);
    b.dispose(small);
    b.clearPool();
    for (const s of Array.from({ length: 8 }, () => b.full(n))) b.dispose(s);
    assertEquals(b.pooledBytes, 8 * bytes);
    // the logits: a new size of 12 arrays' bytes; live + pool + new must fit 13 arrays (the new peak)
    const logits = b.full(12 * n);
    assertEquals(b.liveBytes, 13 * bytes);
    assertEquals(b.pooledBytes, 0, "every pooled array dropped: 13 live arrays already fill the cap");
    assertEquals(b.peakBytes, 13 * bytes);
    b.dispose(logits);
    // a big array that leaves room: only the oldest pooled arrays go
    b.clearPool();
    const again = Array.from({ length: 10 }, () => b.full(n));
    for (const s of again) b.dispose(s); // pool: 10 arrays (cap 13 from the peak)
    assertEquals(b.pooledBytes, 10 * bytes);
    const big = b.full(4 * n); // live 1 + 4 = 5 arrays: pool may keep 13 − 5 = 8
    assertEquals(b.pooledBytes, 8 * bytes);
    b.dispose(big);
    b.dispose(model);
  });
});
