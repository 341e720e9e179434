// The threaded wasm executor: setNumThreads/getNumThreads, and results that are bit-identical for every
// thread count (each output element is computed by one thread, in the single-threaded order), checked
// against a float64 reference so that agreement is not vacuous. Workers are stopped after each test.
import { assert, assertEquals, assertThrows } from "./deps.ts";
import { sgemm, type SgemmArrayOptions } from "../src/backend/wasm/gemm.ts";
import { sharedMemory } from "../src/backend/wasm/memory.ts";
import {
  getNumThreads,
  parallelInfo,
  runningWorkers,
  setNumThreads,
  startedWorkers,
  stopWorkers,
  withThreads,
} from "../src/backend/threads/pool.ts";
import { uniformData } from "./_random.ts";
import { irfft, rfft } from "../src/fft/rfft.ts";
import { c3aBackward, c3aForward } from "../src/backend/wasm/circulant.ts";
import { irfftPtr, rfftPtr, setFftStreamChunkBytes } from "../src/backend/wasm/fft.ts";
import { free, malloc, memory, setResidentCap, wasm } from "../src/backend/wasm/memory.ts";
import { privateKernels } from "../src/backend/wasm/private_kernels.ts";

const THREAD_COUNTS = [1, 2, 3, 5];

Deno.test("setNumThreads: validates, getNumThreads reports, lowering stops workers", async () => {
  const before = getNumThreads();
  try {
    for (const bad of [0, -1, 1.5, NaN, 257, "2" as unknown as number]) {
      assertThrows(() => setNumThreads(bad), RangeError, "setNumThreads: n must be an integer in [1, 256]");
    }
    setNumThreads(3);
    assertEquals(getNumThreads(), sharedMemory ? 3 : 1);
    sgemm(uniformData(128 * 128, 1), uniformData(128 * 256, 2), 128, 256, 128);
    assertEquals(startedWorkers(), sharedMemory ? 2 : 0);
    // Workers mark themselves ready once their kernels are instantiated (the call above did not wait).
    for (let i = 0; i < 600 && runningWorkers() < startedWorkers(); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(runningWorkers(), sharedMemory ? 2 : 0);
    const info = parallelInfo();
    assertEquals(
      [info.numThreads, info.workersStarted, info.workersRunning, info.sharedMemory],
      sharedMemory ? [3, 2, 2, true] : [1, 0, 0, false],
    );
    assertEquals(info.reason === "", sharedMemory);
    setNumThreads(1);
    assertEquals([startedWorkers(), runningWorkers()], [0, 0]);
    // one thread asked for: parallelInfo says so
    assertEquals(parallelInfo().numThreads, 1);
    assert(parallelInfo().reason !== "", "a reason is given for one thread");
  } finally {
    setNumThreads(before);
    await stopWorkers();
  }
});

/** float64 reference of one (unbatched) product, as in gemm_test, plus Σ|a·b| for the error bound. */
function ref(
  a: Float32Array,
  b: Float32Array,
  offA: number,
  offB: number,
  m: number,
  n: number,
  k: number,
  tA: boolean,
  tB: boolean,
) {
  const c = new Float64Array(m * n), abs = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, t = 0;
      for (let p = 0; p < k; p++) {
        const x = (tA ? a[offA + p * m + i] : a[offA + i * k + p]) *
          (tB ? b[offB + j * k + p] : b[offB + p * n + j]);
        s += x;
        t += Math.abs(x);
      }
      c[i * n + j] = s;
      abs[i * n + j] = t;
    }
  }
  return { c, abs };
}

interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  o: SgemmArrayOptions;
  /** batch items whose product is checked against the reference (item t of A and B). */
  check: number[];
}

const CASES: Case[] = [
  { name: "NN, columns split", m: 200, n: 333, k: 300, o: {}, check: [0] },
  { name: "NT (Linear forward)", m: 150, n: 260, k: 257, o: { transB: true }, check: [0] },
  { name: "TN (weight grad), k > one block", m: 72, n: 90, k: 800, o: { transA: true }, check: [0] },
  { name: "small m (streaming path)", m: 3, n: 3000, k: 700, o: { transB: true }, check: [0] },
  {
    name: "batched items (attention), batch split",
    m: 64,
    n: 64,
    k: 96,
    o: { batch: 12, transB: true },
    check: [0, 7],
  },
  {
    name: "3 batch items (KV heads), column ranges",
    m: 96,
    n: 100,
    k: 80,
    o: { batch: 3, transB: true },
    check: [2],
  },
  { name: "3 batch items NN, row ranges", m: 100, n: 70, k: 110, o: { batch: 3 }, check: [1] },
  { name: "3 batch items TN, row ranges", m: 150, n: 60, k: 80, o: { batch: 3, transA: true }, check: [2] },
  {
    name: "batch with shared B (folded rows)",
    m: 5,
    n: 300,
    k: 200,
    o: { batch: 9, strideB: 0 },
    check: [],
  },
  {
    name: "batch summed into one C",
    m: 40,
    n: 120,
    k: 64,
    o: { batch: 10, transA: true, strideC: 0 },
    check: [],
  },
];

Deno.test({
  name: "threads: sgemm is bit-identical for 1, 2, 3, 5 threads (NN/NT/TN, small m, batched, folded, summed)",
  ignore: !sharedMemory,
  async fn() {
    const before = getNumThreads();
    try {
      // thread counts outermost: each count's workers start once
      const inputs = CASES.map((c) => {
        const batch = c.o.batch ?? 1;
        return {
          a: uniformData(batch * c.m * c.k, c.m + c.k),
          b: uniformData(batch * c.k * c.n, c.n * 3 + 1),
        };
      });
      const results: Float32Array[][] = CASES.map(() => []);
      for (const t of THREAD_COUNTS) {
        setNumThreads(t);
        CASES.forEach((c, q) => results[q].push(sgemm(inputs[q].a, inputs[q].b, c.m, c.n, c.k, c.o)));
      }
      CASES.forEach((c, q) => {
        const { a, b } = inputs[q], res = results[q];
        const aRows = c.o.transA ? c.k : c.m, bRows = c.o.transB ? c.n : c.k;
        for (let r = 1; r < res.length; r++) {
          const same = res[r].every((v, i) => Object.is(v, res[0][i]));
          assert(same, `${c.name}: ${THREAD_COUNTS[r]} threads differ from 1 thread`);
        }
        for (const t of c.check) {
          const offA = t * aRows * (c.o.transA ? c.m : c.k), offB = t * bRows * (c.o.transB ? c.k : c.n);
          const want = ref(a, b, offA, offB, c.m, c.n, c.k, !!c.o.transA, !!c.o.transB);
          for (let i = 0; i < c.m * c.n; i++) {
            const got = res[0][t * c.m * c.n + i];
            assert(
              Math.abs(got - want.c[i]) <= 2 * c.k * 2 ** -24 * want.abs[i] + 1e-30,
              `${c.name}: item ${t} [${i}] ${got} vs ${want.c[i]}`,
            );
          }
        }
      });
    } finally {
      setNumThreads(before);
      await stopWorkers();
    }
  },
});

/** float64 DFT bins of one real row. */
function dft(x: Float32Array, off: number, n: number): Float64Array {
  const h = Math.floor(n / 2) + 1, out = new Float64Array(2 * h);
  for (let f = 0; f < h; f++) {
    let re = 0, im = 0;
    for (let t = 0; t < n; t++) {
      re += x[off + t] * Math.cos((2 * Math.PI * f * t) / n);
      im -= x[off + t] * Math.sin((2 * Math.PI * f * t) / n);
    }
    out[2 * f] = re;
    out[2 * f + 1] = im;
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

Deno.test({
  name:
    "threads: rfft/irfft batches (n = 256 row ranges; odd n = 127 in groups of 136 rows) and C3A products are bit-identical for 1, 2, 3, 5 threads",
  ignore: !sharedMemory,
  async fn() {
    const before = getNumThreads();
    try {
      const ffts = [{ n: 256, batch: 301 }, { n: 127, batch: 403 }].map(({ n, batch }) => ({
        n,
        batch,
        x: uniformData(n * batch, n + batch),
      }));
      const shape = { rows: 300, m: 6, n: 5, b: 64 }; // above the split thresholds
      const cx = uniformData(shape.rows * shape.n * shape.b, 41),
        cw = uniformData(shape.m * shape.n * shape.b, 42);
      const cg = uniformData(shape.rows * shape.m * shape.b, 43);
      const runs: Float32Array[][] = [];
      for (const t of THREAD_COUNTS) {
        setNumThreads(t);
        const r: Float32Array[] = [];
        for (const f of ffts) {
          const spec = rfft(f.x, f.n, f.batch);
          r.push(spec, irfft(spec, f.n, f.batch));
        }
        r.push(c3aForward(cx, cw, shape));
        const { gradX, gradKernel } = c3aBackward(cx, cw, cg, shape);
        r.push(gradX!, gradKernel!);
        runs.push(r);
      }
      for (let t = 1; t < runs.length; t++) {
        runs[t].forEach((v, i) =>
          assert(sameBits(v, runs[0][i]), `output ${i}: ${THREAD_COUNTS[t]} threads differ`)
        );
      }
      // not vacuous: spectra match a float64 DFT, the round trip gives the input back, and the C3A
      // forward of row 0 matches the direct circular sum (spec §1.3)
      ffts.forEach((f, q) => {
        const spec = runs[0][2 * q], back = runs[0][2 * q + 1], bins = Math.floor(f.n / 2) + 1;
        for (const row of [0, f.batch - 1]) {
          const want = dft(f.x, row * f.n, f.n);
          for (let i = 0; i < 2 * bins; i++) {
            assert(Math.abs(spec[row * 2 * bins + i] - want[i]) < 1e-4 * f.n);
          }
        }
        for (let i = 0; i < f.x.length; i++) assert(Math.abs(back[i] - f.x[i]) < 1e-5);
      });
      const y = runs[0][4], { m, n, b } = shape;
      for (let i = 0; i < m; i++) {
        for (let s = 0; s < b; s++) {
          let want = 0;
          for (let j = 0; j < n; j++) {
            for (let t = 0; t < b; t++) want += cw[(i * n + j) * b + ((t - s + b) % b)] * cx[j * b + t];
          }
          assert(Math.abs(y[i * b + s] - want) < 1e-4, `c3a forward [0, ${i * b + s}]`);
        }
      }
    } finally {
      setNumThreads(before);
      await stopWorkers();
    }
  },
});

Deno.test({
  name:
    "threads: the C3A kernel gradient (row blocks split over threads; even b transformed per block, odd b first) is bit-identical for 1, 2, 3, 5 threads and to one single-threaded spectral product",
  ignore: !sharedMemory,
  async fn() {
    const before = getNumThreads();
    try {
      // (m, n, b, rows): several row blocks of the product (wasm c3aKernelGradRowBlock: 164 rows at
      // m = 3, n = 5, b = 48; 455 at b = 16) with a short last one; odd b = 15; a single block
      const cases = [[3, 5, 48, 700], [3, 5, 16, 1000], [4, 2, 15, 330], [2, 6, 8, 37]];
      for (const [m, n, b, rows] of cases) {
        const shape = { rows, m, n, b },
          F = Math.floor(b / 2) + 1,
          what = `m ${m}, n ${n}, b ${b}, rows ${rows}`;
        const x = uniformData(rows * n * b, m + 60), g = uniformData(rows * m * b, n + 61);
        const w = uniformData(m * n * b, b + 62);
        // one call of the single-threaded spectral product on the rffts, through the pointer API
        setNumThreads(1);
        const px = malloc(x.length * 4), pg = malloc(g.length * 4);
        const xs = malloc(rows * n * F * 8), gs = malloc(rows * m * F * 8);
        const gws = malloc(m * n * F * 8), pk = malloc(m * n * b * 4);
        let want: Float32Array;
        try {
          new Float32Array(memory.buffer, px, x.length).set(x);
          new Float32Array(memory.buffer, pg, g.length).set(g);
          rfftPtr(b, px, xs, rows * n);
          rfftPtr(b, pg, gs, rows * m);
          wasm.c3aSpectralKernelGrad(xs, gs, gws, rows, m, n, F, 0, 0);
          irfftPtr(b, gws, pk, m * n);
          want = new Float32Array(memory.buffer, pk, m * n * b).slice();
        } finally {
          [px, pg, xs, gs, gws, pk].forEach(free);
        }
        for (const t of THREAD_COUNTS) {
          setNumThreads(t);
          const only = c3aBackward(x, w, g, shape, { inputGrad: false }).gradKernel!;
          const both = c3aBackward(x, w, g, shape).gradKernel!;
          // small inputs too: every splittable kernel split
          const split = withThreads(
            t,
            true,
            () => c3aBackward(x, w, g, shape, { inputGrad: false }).gradKernel!,
          );
          assert(sameBits(only, want), `kernel grad only, ${t} threads: ${what}`);
          assert(sameBits(both, want), `with the input grad, ${t} threads: ${what}`);
          assert(sameBits(split, want), `all split, ${t} threads: ${what}`);
        }
        // not vacuous: float64 gradKernel[i][j][k] = Σ_r Σ_s g[r][i·b + s]·x[r][j·b + (s + k) mod b]
        for (const [i, j, k] of [[0, 0, 0], [m - 1, n - 1, b - 1], [m >> 1, 1, b >> 1]]) {
          let ref = 0, scale = 0;
          for (let r = 0; r < rows; r++) {
            for (let s = 0; s < b; s++) {
              const v = g[r * m * b + i * b + s] * x[r * n * b + j * b + ((s + k) % b)];
              ref += v;
              scale += Math.abs(v);
            }
          }
          const got = want[(i * n + j) * b + k];
          assert(Math.abs(got - ref) <= 1e-5 * scale, `${what} [${i}, ${j}, ${k}]: ${got} vs ${ref}`);
        }
      }
    } finally {
      setNumThreads(before);
      await stopWorkers();
    }
  },
});

Deno.test({
  name:
    "threads: without --allow-read the kernels stay on one thread (one warning, right result, the process exits)",
  ignore: !sharedMemory,
  async fn() {
    const script = `import { matmul, tensor } from "./mod.ts";
const a = new Float32Array(256 * 300).map((_, i) => (i % 7) - 3), b = new Float32Array(300 * 200).map((_, i) => (i % 5) - 2);
const y = matmul(tensor(a, [256, 300]), tensor(b, [300, 200])).dataSync();
let s = 0; for (let p = 0; p < 300; p++) s += a[255 * 300 + p] * b[p * 200 + 199];
console.log(y[255 * 200 + 199] === s ? "same" : "differs");`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-env=C3A_NUM_THREADS", "-"],
      cwd: new URL("..", import.meta.url),
      env: { C3A_NUM_THREADS: "2" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(script));
    await w.close();
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    assertEquals(stdout.trim(), "same");
    assert(stderr.includes("wasm kernels stay on one thread"), stderr);
  },
});

Deno.test("threads: the array FFT in small chunks and rounds equals the resident pointer API bit for bit (1, 2 and 3 threads)", async () => {
  const before = getNumThreads();
  // on a shared memory the calling thread's chunks run on the unshared second instance: compared here
  // with the shared instance's pointer API
  assertEquals(privateKernels !== null, sharedMemory);
  try {
    // chunk boundaries every few rows, even n (4-row units) and odd n (several 136-row groups, the
    // last one short; n = 3: 19 groups of 5464 rows, more than one round of staged groups on 2 and 3
    // threads), forward and inverse
    for (
      const { n, batch } of [
        { n: 256, batch: 301 },
        { n: 127, batch: 403 },
        { n: 5, batch: 7000 },
        { n: 3, batch: 100_000 },
        // n >= 512: the workers take part (smaller n run on the calling thread alone)
        { n: 1024, batch: 301 },
        { n: 1023, batch: 403 },
      ]
    ) {
      const bins = Math.floor(n / 2) + 1;
      const x = uniformData(n * batch, 7 * n + batch);
      // resident reference: one pointer-API call over the whole batch, one thread
      setNumThreads(1);
      const pin = malloc(n * batch * 4), pspec = malloc(2 * bins * batch * 4), pback = malloc(n * batch * 4);
      let spec0: Float32Array, back0: Float32Array;
      try {
        new Float32Array(memory.buffer, pin, n * batch).set(x);
        rfftPtr(n, pin, pspec, batch);
        irfftPtr(n, pspec, pback, batch);
        spec0 = new Float32Array(memory.buffer, pspec, 2 * bins * batch).slice();
        back0 = new Float32Array(memory.buffer, pback, n * batch).slice();
      } finally {
        [pin, pspec, pback].forEach(free);
      }
      for (const t of [1, 2, 3]) {
        setNumThreads(t);
        // a small resident cap cuts the batch into several rounds (workers' rows staged per round)
        for (
          const [chunk, cap] of [[4096, undefined], [1 << 16, undefined], [undefined, 1 << 18], [undefined]]
        ) {
          setFftStreamChunkBytes(chunk);
          setResidentCap(cap);
          const spec = rfft(x, n, batch), back = irfft(spec0, n, batch);
          setResidentCap(undefined);
          assert(sameBits(spec, spec0), `rfft n=${n}, ${t} threads, chunk ${chunk}, cap ${cap}`);
          assert(sameBits(back, back0), `irfft n=${n}, ${t} threads, chunk ${chunk}, cap ${cap}`);
        }
      }
      // not vacuous: the first and last spectra match a float64 DFT, the round trip gives x back
      for (const row of [0, batch - 1]) {
        const want = dft(x, row * n, n);
        for (let i = 0; i < 2 * bins; i++) assert(Math.abs(spec0[row * 2 * bins + i] - want[i]) < 1e-4 * n);
      }
      for (let i = 0; i < x.length; i++) assert(Math.abs(back0[i] - x[i]) < 1e-5);
    }
  } finally {
    setFftStreamChunkBytes(undefined);
    setResidentCap(undefined);
    setNumThreads(before);
    await stopWorkers();
  }
});
