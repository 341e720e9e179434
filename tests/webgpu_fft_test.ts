// WebGPU FFT and C3A circulant path (src/backend/webgpu/fft.ts, circulant.ts), run for real on the
// adapter navigator.gpu gives (llvmpipe on CI): batched rfft/irfft for every n in 1..64 and many larger
// lengths (radix 2/3/4/5 mixes and Bluestein primes) against a float64 naive DFT written here and
// against the wasm FFT (same plans: src/fft/plan.ts); every /work/shared/golden case through the
// differentiable op blockCircularConvolution / getCirculant on WebGPU tensors (forward and true
// gradients); the backend's C3A kernels with rows split over several binding windows.
import { assert, assertEquals } from "./deps.ts";
import { setBackend } from "../src/backend/backend.ts";
import { rfft as wasmRfft } from "../src/fft/rfft.ts";
import { getFftPlan } from "../src/fft/plan.ts";
import { fromFloat32Array } from "../src/tensor/creation.ts";
import { blockCircularConvolution, getCirculant } from "../src/ops/circulant.ts";
import { initWebGPU, type WebGPUBackend, webgpuBackend } from "../src/backend/webgpu/mod.ts";

const adapter = await navigator.gpu?.requestAdapter();
const skip = !adapter;
if (skip) console.warn("webgpu_fft_test: navigator.gpu has no adapter here; WebGPU tests skipped");
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: skip };

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** float64 naive rfft of `batch` rows: `[batch, floor(n/2)+1, 2]`. */
function naiveRfft(x: Float32Array, n: number, batch: number): Float64Array {
  const h = Math.floor(n / 2) + 1;
  const out = new Float64Array(batch * h * 2);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < h; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * ((j * k) % n)) / n;
        re += x[b * n + j] * Math.cos(a);
        im += x[b * n + j] * Math.sin(a);
      }
      out[(b * h + k) * 2] = re;
      out[(b * h + k) * 2 + 1] = im;
    }
  }
  return out;
}

/** max|a − ref| <= tol · max|ref| per tensor. */
function assertClose(actual: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what: string): void {
  assertEquals(actual.length, ref.length, `${what}: length`);
  let maxRef = 0, maxErr = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    const e = Math.abs(actual[i] - ref[i]);
    if (!(e <= maxErr)) {
      maxErr = e;
      at = i;
    }
  }
  assert(
    maxErr <= tol * Math.max(maxRef, 1e-30),
    `${what}: max error ${maxErr} at ${at} (got ${actual[at]}, want ${ref[at]}), allowed ${tol} · ${maxRef}`,
  );
}

let gpu: WebGPUBackend;

Deno.test({
  name: "webgpu fft: start device",
  ...opts,
  async fn() {
    const g = await initWebGPU();
    assert(g !== null);
    gpu = g;
  },
});

const LENGTHS = [
  ...Array.from({ length: 64 }, (_, i) => i + 1),
  72,
  81,
  96,
  97,
  100,
  125,
  127,
  128,
  243,
  250,
  256,
  360,
  509,
  768,
  1000,
  1024,
  1031,
  2048,
  4096,
];

Deno.test({
  name: "webgpu fft: rfft vs float64 DFT and vs the wasm FFT; irfft round trip (n = 1..64 and larger)",
  ...opts,
  fn() {
    for (const n of LENGTHS) {
      const batch = n <= 64 ? 3 : 2;
      const x = rand(n * batch, n);
      const xs = gpu.fromArray(x);
      const ss = gpu.rfft(xs, n, batch);
      const spec = gpu.readSync(ss);
      const ref = naiveRfft(x, n, batch);
      // DESIGN.md: <= 1e-6 · max|ref| for n <= 4096 (Bluestein lengths pass through two length-M FFTs)
      const bluestein = getFftPlan(n).complex.kind === "bluestein";
      assertClose(spec, ref, bluestein ? 2e-6 : 1e-6, `rfft n=${n}`);
      assertClose(spec, wasmRfft(x, n, batch), bluestein ? 2e-6 : 1e-6, `rfft n=${n} vs wasm`);
      const back = gpu.readSync(gpu.irfft(ss, n, batch));
      assertClose(back, x, bluestein ? 2e-6 : 1e-6, `irfft(rfft) n=${n}`);
      for (const s of [xs, ss]) gpu.dispose(s);
    }
  },
});

Deno.test({
  name: "webgpu fft: irfft ignores the imaginary parts of bin 0 and bin n/2 (numpy convention)",
  ...opts,
  fn() {
    for (const n of [8, 9, 14, 15]) {
      const h = Math.floor(n / 2) + 1;
      const x = rand(n, 40 + n);
      const spec = new Float32Array(naiveRfft(x, n, 1));
      spec[1] = 5; // Im X_0
      if (n % 2 === 0) spec[2 * (h - 1) + 1] = -3; // Im X_(n/2)
      const out = gpu.readSync(gpu.irfft(gpu.fromArray(spec), n, 1));
      assertClose(out, x, 1e-6, `irfft n=${n}`);
    }
  },
});

interface GoldenTensor {
  shape: number[];
  data: number[];
}
interface GoldenCase {
  name: string;
  meta: { b: number; in_features: number; out_features: number; m: number; n: number; x_shape: number[] };
  tensors: Record<string, GoldenTensor>;
}

const goldenDir = new URL("../../shared/golden/", import.meta.url);
const index = JSON.parse(Deno.readTextFileSync(new URL("index.json", goldenDir))) as {
  cases: Array<{ file: string }>;
};
const f32 = (t: GoldenTensor) => Float32Array.from(t.data, (v) => Math.fround(v));

Deno.test({
  name: "webgpu c3a: every golden case through blockCircularConvolution / getCirculant on WebGPU tensors",
  ...opts,
  fn() {
    const prev = setBackend("webgpu");
    try {
      for (const { file } of index.cases) {
        const c = JSON.parse(Deno.readTextFileSync(new URL(file, goldenDir))) as GoldenCase;
        const { m, n, b } = c.meta;
        const T = c.tensors;
        const x = fromFloat32Array(f32(T.x), T.x.shape).requiresGrad_();
        const w = fromFloat32Array(f32(T.kernel), [m, n, b]).requiresGrad_();
        assertEquals(x.backend, gpu, "tensors are created on the WebGPU backend");
        const y = blockCircularConvolution(x, w);
        assertEquals(y.shape, T.y_raw.shape, `${c.name}: y shape`);
        assertClose(y.dataSync(), T.y_raw.data, 1e-5, `${c.name}: y_raw`);
        y.backward(fromFloat32Array(f32(T.grad_out), T.grad_out.shape));
        assertClose(x.grad!.dataSync(), T.grad_x_raw.data, 1e-5, `${c.name}: grad_x_raw`);
        assertClose(w.grad!.dataSync(), T.grad_kernel_raw.data, 1e-5, `${c.name}: grad_kernel_raw`);
        const dense = getCirculant(w.detach());
        const delta = T.delta_weight.data.map((v) => v * c.meta.in_features);
        assertClose(dense.dataSync(), delta, 1e-5, `${c.name}: getCirculant`);
        for (const t of [x, w, y, dense, x.grad!, w.grad!]) t.dispose();
      }
    } finally {
      setBackend(prev.name);
    }
  },
});

Deno.test({
  name: "webgpu c3a: products with rows split over binding windows match the single-window result",
  ...opts,
  async fn() {
    const rows = 37, m = 3, n = 2, b = 12;
    const x = rand(rows * n * b, 50), w = rand(m * n * b, 51), g = rand(rows * m * b, 52);
    const run = (be: WebGPUBackend) => {
      const sp = be.c3aKernelSpectrum(be.fromArray(w), m, n, b);
      const y = be.readSync(be.c3aForward(be.fromArray(x), sp, rows));
      const r = be.c3aBackward(be.fromArray(x), sp, be.fromArray(g), rows, true, true);
      return [y, be.readSync(r.gradX!), be.readSync(r.gradKernel!)];
    };
    const whole = run(gpu);
    // a device whose storage bindings hold 256 floats: spectra, FFT batches and rows are chunked
    const small = await initWebGPU({ maxBindingBytes: 1024 });
    assert(small !== null);
    gpu = small;
    const split = run(small);
    assertClose(split[0], whole[0], 1e-6, "forward");
    assertClose(split[1], whole[1], 1e-6, "gradX");
    assertClose(split[2], whole[2], 1e-6, "gradKernel");
  },
});

Deno.test({
  name: "webgpu fft: device destroyed at the end, nothing left",
  ...opts,
  fn() {
    const s = webgpuBackend.destroy();
    assert(s !== null && s.deviceDestroyed && s.storages === 0 && s.error === null, JSON.stringify(s));
  },
});
