// Kernels over JS arrays whose operands exceed memory.ts residentCap() stream them through wasm memory
// in tiles or row chunks (sgemm: tests/gemm_test.ts). With a lowered cap forcing chunks: C3A forward,
// backward (gradX and the kernel gradient summed over row chunks), the kernel table's spectral
// products and the batched rfft/irfft give results bit-identical to one call (default cap), for 1 and
// 3 threads, and right against float64 references written here (direct circular sums, naive DFT).
import { assert } from "./deps.ts";
import {
  c3aBackward,
  c3aBackwardKernel,
  c3aForward,
  c3aForwardKernel,
  c3aSpectralKernel,
} from "../src/backend/wasm/circulant.ts";
import { irfftInto, rfftInto } from "../src/backend/wasm/fft.ts";
import { memoryStats, setResidentCap } from "../src/backend/wasm/memory.ts";
import { stopWorkers, withThreads } from "../src/backend/threads/pool.ts";
import { uniformData } from "./_random.ts";
import { manualSeed, mul, nn, randn, type Tensor } from "../mod.ts";

/** `fn()` with the resident cap lowered to `cap` bytes, restored afterwards. */
function capped<T>(cap: number, fn: () => T): T {
  setResidentCap(cap);
  try {
    return fn();
  } finally {
    setResidentCap(undefined);
  }
}

function assertSameBits(tag: string, got: Float32Array, want: Float32Array): void {
  assert(got.length === want.length, `${tag}: length ${got.length} vs ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    assert(Object.is(got[i], want[i]), `${tag} [${i}]: ${got[i]} (chunked) vs ${want[i]} (one call)`);
  }
}

function assertNear(tag: string, got: Float32Array, want: Float64Array, tol: number): void {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) {
    assert(Math.abs(got[i] - want[i]) <= tol * scale, `${tag} [${i}]: ${got[i]} vs float64 ${want[i]}`);
  }
}

// rows 300 and a 2 MiB cap: forward in chunks of 244 rows; backward (kernel-gradient row block 62, so
// chunks of 124 rows) in 124 + 124 + 52
const rows = 300, m = 8, n = 8, b = 64, inF = n * b, outF = m * b;
const x = uniformData(rows * inF, 1), w = uniformData(m * n * b, 2, 0.1), g = uniformData(rows * outF, 3);
const shape = { rows, m, n, b };

/** float64 direct sums: y = x·Aᵀ, gradX = g·A, gradKernel[i][j][k] = Σ_r Σ_s g[r][i·b+s]·x[r][j·b+(s+k) mod b]. */
function reference() {
  const y = new Float64Array(rows * outF),
    gx = new Float64Array(rows * inF),
    gk = new Float64Array(m * n * b);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const wo = (i * n + j) * b;
        for (let s = 0; s < b; s++) {
          const gv = g[r * outF + i * b + s];
          let ys = 0;
          for (let t = 0; t < b; t++) {
            const a = w[wo + ((t - s + b) % b)]; // A[i·b+s][j·b+t]
            ys += a * x[r * inF + j * b + t];
            gx[r * inF + j * b + t] += gv * a;
          }
          y[r * outF + i * b + s] += ys;
          for (let k = 0; k < b; k++) gk[wo + k] += gv * x[r * inF + j * b + ((s + k) % b)];
        }
      }
    }
  }
  return { y, gx, gk };
}

Deno.test("C3A forward and backward in row chunks: bit-identical to one call, 1 and 3 threads, vs float64", async () => {
  const ref = reference();
  try {
    for (const threads of [1, 3]) {
      withThreads(threads, threads > 1, () => {
        const y1 = c3aForward(x, w, shape);
        const g1 = c3aBackward(x, w, g, shape);
        const before = memoryStats().liveBytes;
        const y2 = capped(2 << 20, () => c3aForward(x, w, shape));
        const g2 = capped(2 << 20, () => c3aBackward(x, w, g, shape));
        assert(memoryStats().liveBytes === before, "chunked calls leave no wasm allocation behind");
        const tag = `${threads} thread(s)`;
        assertSameBits(`${tag} y`, y2, y1);
        assertSameBits(`${tag} gradX`, g2.gradX!, g1.gradX!);
        assertSameBits(`${tag} gradKernel`, g2.gradKernel!, g1.gradKernel!);
        // only one gradient, into given arrays
        const onlyK = capped(
          2 << 20,
          () => c3aBackward(x, w, g, shape, { inputGrad: false, gradKernelOut: new Float32Array(m * n * b) }),
        );
        assertSameBits(`${tag} gradKernel alone`, onlyK.gradKernel!, g1.gradKernel!);
        assertNear(`${tag} y`, y2, ref.y, 1e-5);
        assertNear(`${tag} gradX`, g2.gradX!, ref.gx, 1e-5);
        assertNear(`${tag} gradKernel`, g2.gradKernel!, ref.gk, 1e-5);
      });
    }
  } finally {
    await stopWorkers();
  }
});

Deno.test("kernel table C3A entries (fused and spectral) in row chunks: bit-identical to one call", () => {
  const F = b / 2 + 1, vec = 2 * F;
  // natural-layout spectra [.., F, 2] of the kernel, x and g
  const spec = (data: Float32Array, count: number) => {
    const out = new Float32Array(count * vec);
    rfftInto(data, b, count, out);
    return out;
  };
  const ws = spec(w, m * n), xs = spec(x, rows * n), gs = spec(g, rows * m);
  const ref = reference();
  const fused = () => {
    const y = new Float32Array(rows * outF),
      gx = new Float32Array(rows * inF),
      gk = new Float32Array(m * n * b);
    c3aForwardKernel(x, ws, y, shape);
    c3aBackwardKernel(x, ws, g, gx, gk, shape);
    return [y, gx, gk];
  };
  const one = fused(), chunked = capped(2 << 20, fused);
  ["y", "gradX", "gradKernel"].forEach((name, q) => assertSameBits(`fused ${name}`, chunked[q], one[q]));
  assertNear("fused y", chunked[0], ref.y, 1e-5);
  assertNear("fused gradKernel", chunked[2], ref.gk, 1e-5);
  const spectral = () => {
    const ys = new Float32Array(rows * m * vec), gxs = new Float32Array(rows * n * vec);
    const gws = new Float32Array(m * n * vec);
    c3aSpectralKernel("forward", xs, ws, ys, shape);
    c3aSpectralKernel("inputGrad", gs, ws, gxs, shape);
    c3aSpectralKernel("kernelGrad", xs, gs, gws, shape);
    return [ys, gxs, gws];
  };
  // 1 MiB: forward/inputGrad in chunks of 236 rows, kernelGrad of 124
  const s1 = spectral(), s2 = capped(1 << 20, spectral);
  ["forward", "inputGrad", "kernelGrad"].forEach((name, q) =>
    assertSameBits(`spectral ${name}`, s2[q], s1[q])
  );
  // the spectral forward, transformed back, is y
  const y = new Float32Array(rows * outF);
  irfftInto(s2[0], b, rows * m, y);
  assertNear("spectral forward → y", y, ref.y, 1e-5);
});

Deno.test("rfft/irfft of arrays in row chunks: bit-identical to one call, vs a float64 DFT", () => {
  const len = 64, batch = 50, bins = len / 2 + 1;
  const sig = uniformData(batch * len, 9);
  const run = () => {
    const spec = new Float32Array(batch * bins * 2), back = new Float32Array(batch * len);
    rfftInto(sig, len, batch, spec);
    irfftInto(spec, len, batch, back);
    return [spec, back];
  };
  const [spec1, back1] = run();
  const [spec2, back2] = capped(4 * 8 * (len + 2 * bins), run); // chunks of 8 rows
  assertSameBits("rfft", spec2, spec1);
  assertSameBits("irfft", back2, back1);
  const dft = new Float64Array(batch * bins * 2);
  for (let r = 0; r < batch; r++) {
    for (let k = 0; k < bins; k++) {
      let re = 0, im = 0;
      for (let t = 0; t < len; t++) {
        const v = sig[r * len + t], a = (-2 * Math.PI * k * t) / len;
        re += v * Math.cos(a);
        im += v * Math.sin(a);
      }
      dft[(r * bins + k) * 2] = re;
      dft[(r * bins + k) * 2 + 1] = im;
    }
  }
  assertNear("rfft", spec2, dft, 1e-6);
  assertNear("irfft(rfft(x))", back2, Float64Array.from(sig), 1e-6);
});

Deno.test("C3A with an odd block size in row chunks: chunks start at the FFT's odd-n groups, bit-identical", () => {
  // b = 9: the odd-n FFT transforms rows in fixed groups of 1824; with n = m = 32 blocks a chunk starts
  // at multiples of 57 rows (and of the kernel-gradient row block, 102): forward chunks of 6840 rows,
  // backward of 3876 at a 32 MiB cap
  const rows = 8000, m = 32, n = 32, b = 9, shape = { rows, m, n, b };
  const x = uniformData(rows * n * b, 41),
    w = uniformData(m * n * b, 42, 0.1),
    g = uniformData(rows * m * b, 43);
  const y1 = c3aForward(x, w, shape), g1 = c3aBackward(x, w, g, shape);
  const y2 = capped(32 << 20, () => c3aForward(x, w, shape));
  const g2 = capped(32 << 20, () => c3aBackward(x, w, g, shape));
  assertSameBits("y", y2, y1);
  assertSameBits("gradX", g2.gradX!, g1.gradX!);
  assertSameBits("gradKernel", g2.gradKernel!, g1.gradKernel!);
  // spot check of y against the direct sum on rows around the chunk boundary
  for (const r of [0, 6839, 6840, 7999]) {
    for (const o of [0, 100, m * b - 1]) {
      const i = Math.floor(o / b), s = o % b;
      let want = 0;
      for (let j = 0; j < n; j++) {
        for (let t = 0; t < b; t++) want += w[(i * n + j) * b + ((t - s + b) % b)] * x[r * n * b + j * b + t];
      }
      assert(Math.abs(y2[r * m * b + o] - want) < 1e-4, `y[${r}, ${o}] ${y2[r * m * b + o]} vs ${want}`);
    }
  }
});

Deno.test("a training step through the ops (embedding, linear + bias, attention, tied lm_head, crossEntropy) is bit-identical under a tiny cap", () => {
  // every matmul of this step (the tied lm_head [T, vocab], its two gradients, the batched attention
  // products over batch × heads and their gradients) is larger than 16 KiB: all take the tiled paths
  const vocab = 300, d = 32, heads = 4, bsz = 2, T = 24;
  const step = () => {
    manualSeed(5);
    const emb = mul(randn([vocab, d]), 0.1);
    const wqkv = [0, 1, 2].map(() => mul(randn([d, d]), 0.2)),
      bias = [0, 1, 2].map(() => mul(randn([d]), 0.1));
    for (const p of [emb, ...wqkv, ...bias]) p.requiresGrad = true;
    const ids = Int32Array.from({ length: bsz * T }, (_, i) => (i * 37 + 11) % vocab);
    const targets = Int32Array.from({ length: bsz * T }, (_, i) => (i * 53 + 3) % vocab);
    const h = nn.functional.embedding(ids, emb); // [B·T, d]
    const heads4 = (w: Tensor, b: Tensor) =>
      nn.functional.linear(h, w, b).reshape([bsz, T, heads, d / heads]).permute([0, 2, 1, 3]);
    const q = heads4(wqkv[0], bias[0]), k = heads4(wqkv[1], bias[1]), v = heads4(wqkv[2], bias[2]);
    const att = nn.functional.scaledDotProductAttention(q, k, v, { causal: true }); // [B, H, T, d/H]
    const o = att.permute([0, 2, 1, 3]).reshape([bsz * T, d]);
    const loss = nn.functional.crossEntropy(nn.functional.linear(o, emb), targets); // tied lm_head
    loss.backward();
    return [loss, emb, ...wqkv, ...bias].map((t, i) => (i === 0 ? t : t.grad!).dataSync().slice());
  };
  const one = step(), tiled = capped(16 << 10, step);
  one.forEach((want, i) => assertSameBits(i === 0 ? "loss" : `gradient ${i}`, tiled[i], want));
  assert(Number.isFinite(one[0][0]) && one[2].some((v) => v !== 0), "the step computed something");
});
