// Memory of the C3A path on the wasm backend, measured in a deterministic quantity: the bytes that the
// backend's array pool (src/backend/wasm/backend.ts) gets back when a tidy scope disposes a step's
// intermediates. An array the C3A op copied out of wasm memory into a fresh Float32Array, or read with
// readSync, never reaches the pool; every such array is new garbage on every training step.
import { assert, assertEquals } from "./deps.ts";
import { C3ALinear, MERGED_MIN_ROWS } from "../src/c3a/layer.ts";
import { Linear } from "../src/nn/linear.ts";
import { getBackend, noGrad, randn, sum, tidy } from "../src/tensor/index.ts";
import { blockCircularConvolution } from "../src/ops/circulant.ts";
import { WasmBackend, wasmStoragePool } from "../src/backend/wasm/backend.ts";

/** Runs `fn` with a cleared, unlimited pool and returns the bytes pooled after its tidy scope. */
function pooledAfter(fn: () => void): number {
  const be = getBackend();
  assert(be instanceof WasmBackend, "these tests need the wasm backend");
  const saved = wasmStoragePool.maxBytes;
  wasmStoragePool.maxBytes = Number.MAX_SAFE_INTEGER;
  try {
    be.clearPool();
    tidy(fn);
    return be.pooledBytes;
  } finally {
    wasmStoragePool.maxBytes = saved;
    be.clearPool();
  }
}

const rows = 64, inF = 128, outF = 192, b = 32; // every activation array >= 4096 elements (poolable)

Deno.test("C3ALinear forward, FFT path (rows < MERGED_MIN_ROWS): one activation array beyond the base output", () => {
  const base = new Linear(inF, outF, { bias: false });
  const layer = new C3ALinear(base, "default", b);
  const few = MERGED_MIN_ROWS / 2; // 32 rows: [32, 128] and [32, 192] are still poolable
  const x = randn([few, inF]);
  const baseOnly = noGrad(() => pooledAfter(() => void base.forward(x)));
  const adapted = noGrad(() => pooledAfter(() => void layer.forward(x)));
  assertEquals(baseOnly, few * outF * 4);
  // base output + fused (base + convolution / in) output; before: also the raw convolution (never
  // pooled) and its scaled copy
  assertEquals(adapted - baseOnly, few * outF * 4);
});

Deno.test("C3ALinear forward, merged path (rows >= MERGED_MIN_ROWS): no array beyond the base layer's output", () => {
  const base = new Linear(inF, outF, { bias: false });
  const layer = new C3ALinear(base, "default", b);
  const x = randn([rows, inF]);
  const baseOnly = noGrad(() => pooledAfter(() => void base.forward(x)));
  const adapted = noGrad(() => pooledAfter(() => void layer.forward(x)));
  assertEquals(baseOnly, rows * outF * 4);
  // the output only: W + ΔW is formed inside the product while the weight is packed (circulantMatmul),
  // never as an array (before: a dense [out, in] W + ΔW per call)
  assertEquals(adapted, baseOnly);
});

Deno.test("blockCircularConvolution: inputs stay recyclable, output and gradients come back to the pool", () => {
  const w = randn([outF / b, inF / b, b]).requiresGrad_();
  const act = rows * outF * 4, inAct = rows * inF * 4;
  const pooled = pooledAfter(() => {
    const x = randn([rows, inF]).mul(1).requiresGrad_(); // made by a backend op: recyclable storage
    const y = blockCircularConvolution(x, w);
    sum(y.mul(1)).backward();
  });
  // [rows, in]: x·1 and gradX; [rows, out]: y, y·1 and the two gradients (of y·1, of y). Before, y and
  // gradX were fresh copies that never reached the pool, and x·1 and y's gradient, read by the op with
  // readSync, were marked as handed out (2 arrays pooled in all)
  const want = 2 * inAct + 4 * act;
  assert(pooled >= want, `pooled ${pooled} bytes, expected >= ${want}`);
  w.grad = null;
});
