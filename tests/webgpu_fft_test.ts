// WebGPU FFT and C3A circulant path (src/backend/webgpu/fft.ts, circulant.ts), run for real on the
// adapter navigator.gpu gives (llvmpipe on CI): batched rfft/irfft for every n in 1..64 and many larger
// lengths (radix 2/3/4/5 mixes and Bluestein primes) against a float64 naive DFT written here and
// against the wasm FFT (one planner: src/fft/plan.ts); the backend's C3A kernels with rows split over
// several binding windows. The golden C3A cases and the tensor FFT run on WebGPU in the conformance
// suite (tests/conformance_webgpu_test.ts).
import { assert } from "./deps.ts";
import { rfft as wasmRfft } from "../src/fft/rfft.ts";
import { getFftPlan } from "../src/fft/plan.ts";
import { initWebGPU, type WebGPUBackend, webgpuBackend } from "../src/backend/webgpu/mod.ts";
import { assertClose } from "./_golden.ts";
import { uniformData } from "./_random.ts";

const adapter = await navigator.gpu?.requestAdapter();
const skip = !adapter;
if (skip) console.warn("webgpu_fft_test: navigator.gpu has no adapter here; WebGPU tests skipped");
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: skip };

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
      const x = uniformData(n * batch, n);
      const xs = gpu.fromArray(x);
      const ss = gpu.run("rfft", { x: xs }, { n, batch }).y;
      const spec = gpu.readSync(ss);
      const ref = naiveRfft(x, n, batch);
      // DESIGN.md: <= 1e-6 · max|ref| for n <= 4096 (Bluestein lengths pass through two length-M FFTs)
      const bluestein = getFftPlan(n).complex.kind === "bluestein";
      assertClose(spec, ref, bluestein ? 2e-6 : 1e-6, `rfft n=${n}`);
      assertClose(spec, wasmRfft(x, n, batch), bluestein ? 2e-6 : 1e-6, `rfft n=${n} vs wasm`);
      const back = gpu.readSync(gpu.run("irfft", { x: ss }, { n, batch }).y);
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
      const x = uniformData(n, 40 + n);
      const spec = new Float32Array(naiveRfft(x, n, 1));
      spec[1] = 5; // Im X_0
      if (n % 2 === 0) spec[2 * (h - 1) + 1] = -3; // Im X_(n/2)
      const out = gpu.readSync(gpu.run("irfft", { x: gpu.fromArray(spec) }, { n, batch: 1 }).y);
      assertClose(out, x, 1e-6, `irfft n=${n}`);
    }
  },
});

Deno.test({
  name: "webgpu c3a: products with rows split over binding windows match the single-window result",
  ...opts,
  async fn() {
    const rows = 37, m = 3, n = 2, b = 12;
    const x = uniformData(rows * n * b, 50),
      w = uniformData(m * n * b, 51),
      g = uniformData(rows * m * b, 52);
    const run = (be: WebGPUBackend) => {
      const a = { rows, m, n, b };
      const ws = be.run("rfft", { x: be.fromArray(w) }, { n: b, batch: m * n }).y;
      const y = be.readSync(be.run("c3aForward", { x: be.fromArray(x), ws }, a).y);
      const r = be.run("c3aBackward", { x: be.fromArray(x), ws, g: be.fromArray(g) }, {
        ...a,
        inputGrad: true,
        kernelGrad: true,
      });
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
