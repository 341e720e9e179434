// WebGPU backend kernels (src/backend/webgpu/) against the wasm backend, which is the reference
// executor of the Backend interface, run for real on whatever adapter navigator.gpu gives (Mesa's
// llvmpipe on CI). Every Backend kernel with several shapes (broadcasting, aliasing of out with an
// input, empty tensors, NaN/Inf propagation), then the work splitting for binding and dispatch limits
// (a device with tiny artificial limits), then leak checks (pool counters back to baseline, device
// destroyed). Skips with a message when navigator.gpu has no adapter.
import { assert, assertEquals, assertThrows } from "./deps.ts";
import { type Backend, backendNamed, type Storage } from "../src/backend/backend.ts";
import type { KernelName } from "../src/backend/kernels.ts";
import "../src/backend/executors.ts";
import { initWebGPU, type WebGPUBackend, webgpuBackend } from "../src/backend/webgpu/mod.ts";
import { mulberryData } from "./_random.ts";

const adapter = await navigator.gpu?.requestAdapter();
const skip = !adapter;
if (skip) console.warn("webgpu_kernels_test: navigator.gpu has no adapter here; WebGPU tests skipped");

// The worker thread and its device outlive single test steps by design (one device per file).
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: skip };

/** Seeded uniform(lo, hi) float32 data (mulberry32). */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  return mulberryData(n, seed, (u) => lo + (hi - lo) * u);
}

/** |a − b| <= atol + rtol·|b| elementwise; NaN must match NaN, ±Inf must match exactly. */
function close(actual: Float32Array, want: Float32Array, what: string, rtol = 2e-6, atol = 1e-6): void {
  assertEquals(actual.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const a = actual[i], w = want[i];
    if (Number.isNaN(w)) {
      assert(Number.isNaN(a), `${what}[${i}]: got ${a}, want NaN`);
      continue;
    }
    if (!Number.isFinite(w)) {
      assertEquals(a, w, `${what}[${i}]`);
      continue;
    }
    assert(
      Math.abs(a - w) <= atol + rtol * Math.abs(w),
      `${what}[${i}]: got ${a}, want ${w} (|diff| ${Math.abs(a - w)})`,
    );
  }
}

let cpu: Backend;
let gpu: WebGPUBackend;

/** Runs `f` on both backends with the same inputs and compares the (first) result. */
function both(
  what: string,
  inputs: Float32Array[],
  f: (b: Backend, s: Storage[]) => Storage | void,
  tol: { rtol?: number; atol?: number } = {},
  pick?: (s: Storage[]) => Storage,
): void {
  const run = (b: Backend) => {
    const s = inputs.map((d) => b.fromArray(d));
    const r = f(b, s);
    const out = r ? r : pick!(s);
    const data = b.readSync(out).slice();
    for (const t of s) b.dispose(t);
    if (r && !s.includes(r)) b.dispose(r);
    return data;
  };
  close(run(gpu), run(cpu), what, tol.rtol, tol.atol);
}

const UNARY = [
  "neg",
  "abs",
  "sign",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "square",
  "reciprocal",
  "sin",
  "cos",
  "tanh",
  "sigmoid",
  "relu",
  "gelu",
  "geluTanh",
  "silu",
] as const;
const BINARY = ["add", "sub", "mul", "div", "pow", "max", "min", "eq", "ne", "gt", "ge", "lt", "le"] as const;

let baseline = 0;

Deno.test({
  name: "webgpu: device starts and describes its adapter",
  ...opts,
  fn() {
    cpu = backendNamed("wasm");
    const b = initWebGPU({ mode: "worker" });
    return b.then((g) => {
      assert(g !== null, "initWebGPU returned null although an adapter exists");
      gpu = g;
      assert(g.describe().startsWith("webgpu ("), g.describe());
      baseline = g.stats().storages;
    });
  },
});

Deno.test({
  name: "webgpu: storage, fill, copy, read",
  ...opts,
  fn() {
    const d = rand(1000, 1);
    const s = gpu.fromArray(d);
    close(gpu.readSync(s), d, "round trip", 0, 0);
    gpu.fill(s, 2.5);
    assert(gpu.readSync(s).every((v) => v === 2.5));
    const z = gpu.full(37);
    assert(gpu.readSync(z).every((v) => v === 0), "full() gives zeros on a recycled buffer");
    const o = gpu.full(1000, -1);
    gpu.copy(gpu.fromArray(d), o);
    close(gpu.readSync(o), d, "copy", 0, 0);
    const e = gpu.fromArray(new Float32Array(0));
    assertEquals(gpu.readSync(e).length, 0);
    // readSync returns a copy on the GPU backend: writes do not reach the tensor
    gpu.readSync(o)[0] = 1234;
    assertEquals(gpu.readSync(o)[0], d[0]);
    for (const t of [s, z, o, e]) gpu.dispose(t);
    assert(gpu.isDisposed(s));
    assertThrows(() => gpu.readSync(s), Error, "disposed");
  },
});

Deno.test({
  name: "webgpu: unary ops and gradients match wasm (incl. NaN, ±Inf, large arguments)",
  ...opts,
  fn() {
    const x = rand(777, 2, -4, 4);
    x.set([NaN, Infinity, -Infinity, 0, -0, 30, -30, 100, -100, 1e-7], 0);
    const pos = rand(300, 3, 0.01, 9);
    for (const op of UNARY) {
      const inp = op === "log" || op === "sqrt" || op === "rsqrt" ? pos : x;
      // transcendental functions of the GPU are accurate to a few ulp
      both(`unary ${op}`, [inp], (b, [s]) => b.unary(op, s), { rtol: 4e-6, atol: 2e-6 });
      const g = rand(inp.length, 4);
      // gradients at ±Inf differ between formulas (NaN vs the limit); compare on finite inputs
      const fin = inp.map((v) => (Number.isFinite(v) ? v : 3));
      both(`unaryGrad ${op}`, [fin, g], (b, [s, gs]) => {
        const y = b.unary(op, s);
        const r = b.unaryGrad(op, s, y, gs);
        b.dispose(y);
        return r;
      }, { rtol: 4e-5, atol: 4e-6 });
    }
    // in place (out aliases x)
    both(
      "unary in place",
      [x],
      (b, [s]) => {
        b.unary("tanh", s, s);
      },
      { rtol: 4e-6, atol: 2e-6 },
      (s) => s[0],
    );
  },
});

Deno.test({
  name: "webgpu: broadcasting binary ops, scalar ops, where, axpby match wasm",
  ...opts,
  fn() {
    const a = rand(2 * 3 * 4 * 5, 5, -3, 3), bb = rand(4 * 1, 6, -3, 3);
    a.set([NaN, 0, -2, 2], 0);
    bb.set([2, NaN], 0);
    const shape = [2, 3, 4, 5];
    for (const op of BINARY) {
      // b [4, 1] broadcast against a [2, 3, 4, 5]
      both(`binary ${op}`, [a, bb], (b, [x, y]) => b.binary(op, x, y, shape, [60, 20, 5, 1], [0, 0, 1, 0]), {
        rtol: 4e-6,
      });
      both(`scalar ${op}`, [a], (b, [x]) => b.binaryScalar(op, x, 1.5), { rtol: 4e-6 });
      both(`scalar ${op} reversed`, [a], (b, [x]) => b.binaryScalar(op, x, -2, true), { rtol: 4e-6 });
    }
    // pow: negative bases with integer exponents, zero bases, non-integer exponents
    const base = new Float32Array([-2, -2, -2, 0, 0, 0, 3, -0.5, 2, 4]);
    const expo = new Float32Array([3, 2, 0.5, -1, 2, 0, 0.5, -3, 10, -0.5]);
    both("pow edge cases", [base, expo], (b, [x, y]) => b.binary("pow", x, y, [10], [1], [1]), {
      rtol: 4e-6,
    });
    // transposed strides (a read through a permutation), 0-d shapes
    both("binary transposed", [a, a], (b, [x, y]) => b.binary("sub", x, y, [5, 24], [1, 5], [24, 1]));
    both(
      "binary 0-d",
      [new Float32Array([3]), new Float32Array([4])],
      (b, [x, y]) => b.binary("mul", x, y, [], [], []),
    );
    // out aliasing a, and aliasing b (optimizer updates use both)
    both(
      "binary out=a",
      [a, bb],
      (b, [x, y]) => {
        b.binary("add", x, y, shape, [60, 20, 5, 1], [0, 0, 1, 0], x);
      },
      {},
      (s) => s[0],
    );
    both(
      "binary out=b",
      [a, a],
      (b, [x, y]) => {
        b.binary("div", x, y, [120], [1], [1], y);
      },
      {},
      (s) => s[1],
    );
    both("binary a=b", [a], (b, [x]) => b.binary("mul", x, x, [120], [1], [1]));
    const cond = new Float32Array([1, 0, NaN, -0, 2]);
    both(
      "where",
      [cond, rand(5 * 3, 7), rand(3, 8)],
      (b, [c, x, y]) => b.where(c, x, y, [5, 3], [1, 0], [3, 1], [0, 1]),
    );
    both("axpby", [a, rand(120, 9)], (b, [x, y]) => b.axpby(x, 0.3, y, -1.7), { rtol: 4e-6 });
    both(
      "axpby out=x",
      [a, rand(120, 9)],
      (b, [x, y]) => {
        b.axpby(x, 1, y, 0.25, x);
      },
      { rtol: 4e-6 },
      (s) => s[0],
    );
    both(
      "axpby out=y",
      [rand(120, 10), rand(120, 9)],
      (b, [x, y]) => {
        b.axpby(x, 0.9, y, 0.1, y);
      },
      { rtol: 4e-6 },
      (s) => s[1],
    );
  },
});

Deno.test({
  name: "webgpu: copyStrided (transpose, slice into a larger buffer, expand) matches wasm",
  ...opts,
  fn() {
    const src = rand(6 * 7 * 8, 11);
    both(
      "transpose",
      [src, new Float32Array(336)],
      (b, [s, d]) => {
        b.copyStrided(s, 0, [56, 8, 1], d, 0, [1, 6, 42], [6, 7, 8]);
      },
      {},
      (s) => s[1],
    );
    both(
      "slice+offset",
      [src, rand(400, 12)],
      (b, [s, d]) => {
        b.copyStrided(s, 10, [56, 1], d, 17, [20, 2], [5, 9]);
      },
      {},
      (s) => s[1],
    );
    both(
      "expand",
      [rand(8, 13), new Float32Array(64)],
      (b, [s, d]) => {
        b.copyStrided(s, 0, [0, 1], d, 0, [8, 1], [8, 8]);
      },
      {},
      (s) => s[1],
    );
  },
});

Deno.test({
  name: "webgpu: reductions over any axes match wasm (sum accuracy, NaN, empty)",
  ...opts,
  fn() {
    const shape = [3, 4, 5, 6];
    const x = rand(360, 14, -2, 2);
    const axesList = [[0], [1], [3], [0, 2], [1, 3], [0, 1, 2, 3], [2, 3], [0, 3]];
    for (const op of ["sum", "max", "min"] as const) {
      for (const axes of axesList) {
        both(`${op} over ${axes}`, [x], (b, [s]) => b.reduce(op, s, shape, axes), { rtol: 1e-5, atol: 3e-6 });
      }
    }
    // one long reduction (workgroup path) and many short ones
    const long = rand(100_000, 15);
    both("sum of 1e5", [long], (b, [s]) => b.reduce("sum", s, [100_000], [0]), { atol: 2e-4 });
    both("max of 1e5", [long], (b, [s]) => b.reduce("max", s, [100_000], [0]));
    both("column sums", [long], (b, [s]) => b.reduce("sum", s, [1000, 100], [0]), { atol: 5e-5 });
    const withNaN = rand(64, 16);
    withNaN[37] = NaN;
    both("max NaN", [withNaN], (b, [s]) => b.reduce("max", s, [8, 8], [1]));
    both("min NaN", [withNaN], (b, [s]) => b.reduce("min", s, [8, 8], [0]));
    both("empty max", [new Float32Array(0)], (b, [s]) => b.reduce("max", s, [3, 0], [1]));
    both("empty sum", [new Float32Array(0)], (b, [s]) => b.reduce("sum", s, [0, 4], [0]));
  },
});

Deno.test({
  name: "webgpu: matmul (transposes, batch, broadcast strides, bias, odd sizes) matches wasm",
  ...opts,
  fn() {
    const cases: Array<
      [
        string,
        number,
        number,
        number,
        number,
        boolean,
        boolean,
        number | undefined,
        number | undefined,
        boolean,
      ]
    > = [
      ["plain", 5, 7, 3, 1, false, false, undefined, undefined, false],
      ["transB+bias", 70, 65, 33, 1, false, true, undefined, undefined, true],
      ["transA", 17, 9, 40, 1, true, false, undefined, undefined, false],
      ["both", 3, 130, 19, 1, true, true, undefined, undefined, false],
      ["batched", 9, 11, 13, 4, false, false, undefined, undefined, false],
      ["broadcast B", 6, 5, 4, 3, false, true, undefined, 0, true],
      ["broadcast A", 6, 5, 4, 3, false, false, 0, undefined, false],
      ["k=1", 4, 4, 1, 1, false, false, undefined, undefined, false],
    ];
    for (const [what, m, n, k, batch, transA, transB, sA, sB, bias] of cases) {
      const aSize = (sA === 0 ? 1 : batch) * m * k, bSize = (sB === 0 ? 1 : batch) * k * n;
      both(`matmul ${what}`, [rand(aSize, m), rand(bSize, n), rand(n, k)], (b, [x, y, z]) =>
        b.matmul(x, y, {
          m,
          n,
          k,
          batch,
          transA,
          transB,
          strideA: sA,
          strideB: sB,
          bias: bias ? z : undefined,
        }), { rtol: 1e-5, atol: 2e-5 });
    }
    both(
      "matmul k=0 with bias",
      [new Float32Array(0), new Float32Array(0), rand(3, 1)],
      (b, [x, y, z]) => b.matmul(x, y, { m: 2, n: 3, k: 0, bias: z }),
    );
  },
});

Deno.test({
  name: "webgpu: softmax / log-softmax and gradients match wasm (short rows, long rows, inner axis, -Inf)",
  ...opts,
  fn() {
    for (const [outer, dim, inner] of [[4, 7, 1], [2, 5, 3], [3, 1000, 1], [1, 300, 2]]) {
      const x = rand(outer * dim * inner, outer + dim, -5, 5);
      if (dim === 7) x.fill(-Infinity, 0, 7);
      const g = rand(x.length, 17);
      for (const log of [false, true]) {
        both(
          `softmax ${outer}x${dim}x${inner} log=${log}`,
          [x],
          (b, [s]) => b.softmax(s, outer, dim, inner, log),
          {
            rtol: 1e-5,
            atol: 1e-6,
          },
        );
        both(`softmaxGrad ${outer}x${dim}x${inner} log=${log}`, [x, g], (b, [s, gs]) => {
          const y = b.softmax(s, outer, dim, inner, log);
          const r = b.softmaxGrad(y, gs, outer, dim, inner, log);
          b.dispose(y);
          return r;
        }, { rtol: 1e-4, atol: 2e-5 });
      }
    }
  },
});

Deno.test({
  name: "webgpu: gather/scatter/indexSelect/indexAdd match wasm (ignored rows, repeated indices)",
  ...opts,
  fn() {
    const x = rand(6 * 10, 18);
    const idx = new Int32Array([3, -1, 9, 0, 5, 5]);
    both("gatherLast", [x], (b, [s]) => b.gatherLast(s, 6, 10, idx));
    both("scatterLast", [rand(6, 19)], (b, [s]) => b.scatterLast(s, 6, 10, idx));
    const rows = new Int32Array([2, 0, 2, 5, 2, 1, 0]);
    both("indexSelectRows", [x], (b, [s]) => b.indexSelectRows(s, 10, rows));
    // repeated indices accumulate in increasing i: bit-identical to the wasm loop
    both("indexAddRows", [rand(7 * 10, 20)], (b, [s]) => b.indexAddRows(s, 6, 10, rows), {
      rtol: 0,
      atol: 0,
    });
  },
});

Deno.test({
  name: "webgpu: fused kernels (adamStep, rmsNorm(+grad), swiglu(+grad), rotaryEmb) match wasm",
  ...opts,
  fn() {
    assert(
      ["adamStep", "rmsNorm", "rmsNormGrad", "swiglu", "swigluGrad", "rotaryEmb"].every((k) =>
        cpu.supports(k as KernelName)
      ),
    );
    const n = 300;
    for (
      const [decoupled, amsgrad, maximize, wd] of [[true, false, false, 0.01], [
        false,
        true,
        true,
        0.1,
      ]] as const
    ) {
      const run = (b: Backend) => {
        const p = b.fromArray(rand(n, 60)), m = b.full(n), v = b.full(n), vmax = amsgrad ? b.full(n) : null;
        for (let step = 1; step <= 3; step++) {
          const g = b.fromArray(rand(n, 60 + step));
          b.adamStep!(p, g, m, v, vmax, {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: wd,
            step,
            decoupled,
            maximize,
          });
        }
        return [p, m, v].map((s) => b.readSync(s).slice());
      };
      const [gp, gm, gv] = run(gpu), [cp, cm, cv] = run(cpu);
      close(gp, cp, `adamStep p (decoupled=${decoupled})`, 1e-5, 1e-6);
      close(gm, cm, "adamStep m", 1e-5, 1e-7);
      close(gv, cv, "adamStep v", 1e-5, 1e-9);
    }
    const rows = 7, d = 100;
    const x = rand(rows * d, 61, -3, 3), w = rand(d, 62), g = rand(rows * d, 63);
    for (const withW of [true, false]) {
      both(
        `rmsNorm y weight=${withW}`,
        [x, w],
        (b, [xs, ws]) => b.rmsNorm!(xs, withW ? ws : null, rows, d, 1e-6).y,
        {
          rtol: 1e-5,
          atol: 1e-6,
        },
      );
      both(
        `rmsNorm rstd weight=${withW}`,
        [x, w],
        (b, [xs, ws]) => b.rmsNorm!(xs, withW ? ws : null, rows, d, 1e-6).rstd,
        {
          rtol: 1e-5,
        },
      );
      const grads = (which: "gx" | "gw") => (b: Backend, [xs, ws, gs]: Storage[]) => {
        const { rstd } = b.rmsNorm!(xs, withW ? ws : null, rows, d, 1e-6);
        const r = b.rmsNormGrad!(gs, xs, withW ? ws : null, rstd, rows, d, true);
        return which === "gx" ? r.gx : r.gw!;
      };
      both(`rmsNormGrad gx weight=${withW}`, [x, w, g], grads("gx"), { rtol: 1e-4, atol: 1e-5 });
      if (withW) both("rmsNormGrad gw", [x, w, g], grads("gw"), { rtol: 1e-4, atol: 1e-5 });
    }
    const gate = rand(500, 64, -6, 6), up = rand(500, 65);
    both("swiglu", [gate, up], (b, [a, c]) => b.swiglu!(a, c), { rtol: 1e-5, atol: 1e-6 });
    both("swigluGrad gate", [gate, up, rand(500, 66)], (b, [a, c, e]) => b.swigluGrad!(a, c, e).gGate, {
      rtol: 1e-4,
      atol: 1e-6,
    });
    both("swigluGrad up", [gate, up, rand(500, 66)], (b, [a, c, e]) => b.swigluGrad!(a, c, e).gUp, {
      rtol: 1e-5,
      atol: 1e-6,
    });
    const [B, H, T, D] = [2, 3, 5, 8];
    for (const layout of ["BHTD", "BTHD"] as const) {
      for (const perBatch of [false, true]) {
        for (const inverse of [false, true]) {
          const tab = (perBatch ? B : 1) * T * D;
          both(
            `rotaryEmb ${layout} perBatch=${perBatch} inverse=${inverse}`,
            [rand(B * H * T * D, 67), rand(tab, 68), rand(tab, 69)],
            (b, [xs, cs, ss]) =>
              b.rotaryEmb!(xs, cs, ss, { batch: B, heads: H, seq: T, dim: D, layout, perBatch }, inverse),
            { rtol: 1e-5, atol: 1e-6 },
          );
        }
      }
    }
  },
});

Deno.test({
  name: "webgpu: results are bit-identical across repeated runs",
  ...opts,
  fn() {
    const a = gpu.fromArray(rand(64 * 48, 21)), b = gpu.fromArray(rand(48 * 40, 22));
    const r1 = gpu.readSync(gpu.matmul(a, b, { m: 64, n: 40, k: 48 }));
    const r2 = gpu.readSync(gpu.matmul(a, b, { m: 64, n: 40, k: 48 }));
    assertEquals(r1, r2);
    const s1 = gpu.readSync(gpu.reduce("sum", a, [64, 48], [0]));
    const s2 = gpu.readSync(gpu.reduce("sum", a, [64, 48], [0]));
    assertEquals(s1, s2);
    gpu.dispose(a);
    gpu.dispose(b);
  },
});

Deno.test({
  name: "webgpu: invalid use throws clear errors",
  ...opts,
  fn() {
    const w = cpu.fromArray(new Float32Array(3));
    assertThrows(() => gpu.unary("exp", w), TypeError, "wasm");
    assertThrows(() => gpu.full(2 ** 31), RangeError, "maxBufferSize");
  },
});

Deno.test({
  name: "webgpu: storages released by dispose/GC return the pool to baseline",
  ...opts,
  async fn() {
    // let dropped storages of earlier tests be finalized
    for (let i = 0; i < 3; i++) {
      (globalThis as unknown as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = gpu.stats();
    const tmp: Storage[] = [];
    for (let i = 0; i < 20; i++) tmp.push(gpu.unary("exp", gpu.full(100 + i, 1)));
    const mid = gpu.stats();
    assert(mid.storages >= before.storages + 20, `storages ${mid.storages} vs ${before.storages}`);
    for (const t of tmp) gpu.dispose(t);
    const after = gpu.stats();
    // the inputs of unary() above were never disposed: only GC can release them
    assert(
      after.storages <= before.storages + 20,
      `${after.storages} live storages, baseline ${before.storages}`,
    );
    assert(after.storages >= baseline);
  },
});

Deno.test({
  name: "webgpu: work is split to respect binding and dispatch limits",
  ...opts,
  async fn() {
    // a device whose bindings hold 1024 floats and whose grid has 4 groups per dimension,
    // and 256-byte binding alignment (discrete GPUs; llvmpipe allows 32)
    const small = await initWebGPU({
      mode: "worker",
      maxBindingBytes: 4096,
      maxWorkgroupsPerDim: 4,
      bindingAlign: 256,
    });
    assert(small !== null);
    gpu = small;
    const n = 5000;
    const x = rand(n, 30, -2, 2), y = rand(n, 31);
    both("unary split", [x], (b, [s]) => b.unary("gelu", s), { rtol: 4e-6, atol: 2e-6 });
    both("binary split", [x, y], (b, [s, t]) => b.binary("mul", s, t, [50, 100], [100, 1], [100, 1]));
    both(
      "broadcast split",
      [x, y.subarray(0, 100)],
      (b, [s, t]) => b.binary("add", s, t, [50, 100], [100, 1], [0, 1]),
    );
    both(
      "transpose split",
      [x, new Float32Array(n)],
      (b, [s, d]) => {
        b.copyStrided(s, 0, [100, 1], d, 0, [1, 50], [50, 100]);
      },
      {},
      (s) => s[1],
    );
    both("reduce split", [x], (b, [s]) => b.reduce("sum", s, [50, 100], [1]), { rtol: 1e-5, atol: 3e-6 });
    both("reduce split cols", [x], (b, [s]) => b.reduce("max", s, [50, 100], [0]));
    both(
      "matmul split",
      [rand(40 * 60, 32), rand(60 * 70, 33), rand(70, 34)],
      (b, [p, q, r]) => b.matmul(p, q, { m: 40, n: 70, k: 60, bias: r }),
      { rtol: 1e-5, atol: 2e-5 },
    );
    both(
      "matmul transB split",
      [rand(80 * 10, 35), rand(150 * 10, 36)],
      (b, [p, q]) => b.matmul(p, q, { m: 80, n: 150, k: 10, transB: true }),
      { rtol: 1e-5, atol: 2e-5 },
    );
    both("softmax split", [x], (b, [s]) => b.softmax(s, 50, 100, 1, true), { rtol: 1e-5, atol: 1e-6 });
    const rows = new Int32Array(40).map((_, i) => (i * 7) % 50);
    both("indexSelect split", [x], (b, [s]) => b.indexSelectRows(s, 100, rows));
    both("indexAdd split", [rand(40 * 100, 37)], (b, [s]) => b.indexAddRows(s, 50, 100, rows), {
      rtol: 1e-6,
    });
    both("gather split", [x], (b, [s]) => b.gatherLast(s, 50, 100, new Int32Array(50).map((_, i) => i)));
    const st = small.stats();
    assertEquals(st.error, null);
  },
});

Deno.test({
  name: "webgpu: destroy releases every buffer and the device; old storages throw",
  ...opts,
  fn() {
    const s = gpu.full(10, 1);
    const final = webgpuBackend.destroy();
    assert(final !== null);
    assertEquals(final.storages, 0);
    assertEquals(final.pooledBuffers, 0);
    assertEquals(final.persistentBuffers, 0);
    assert(final.deviceDestroyed);
    assertThrows(() => gpu.readSync(s), Error, "destroyed");
    assertEquals(webgpuBackend.destroy(), null);
  },
});
