// The conformance suite: op, gradient and golden-vector tests written once and run on every
// executor of ./executors.ts (wasm, wasm without fused kernels, WebGPU, …) against independent
// references (float64 DFTs written here, the golden vectors of tests/fixtures/golden). To add an
// executor, see ./executors.ts; to add a test, add it to `conformance` below (it receives the
// executor as `be` and makes its tensors there with `on(be, data, shape)`).
import { assert, assertEquals } from "../deps.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { KERNEL_NAMES, KERNELS } from "../../src/backend/kernels.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { noGrad } from "../../src/autograd/grad_mode.ts";
import { irfft, rfft } from "../../src/fft/rfft.ts";
import {
  addBlockCircularConvolution,
  blockCircularConvolution,
  circulantLinear,
  getCirculant,
} from "../../src/ops/circulant.ts";
import { linear } from "../../src/ops/matmul.ts";
import { crossEntropy } from "../../src/ops/loss.ts";
import { softmax } from "../../src/ops/softmax.ts";
import { rmsNorm, scaledDotProductAttention, swiglu } from "../../src/ops/nn.ts";
import { assertClose, f32, goldenIndex, loadGoldenCase } from "../_golden.ts";
import { uniformData } from "../_random.ts";
import type { ConformanceExecutor } from "./executors.ts";

/** A tensor of `shape` holding `data` on executor `be`. */
export function on(be: Backend, data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return Tensor.fromStorage(be.fromArray(Float32Array.from(data)), shape);
}

/** The `getCirculant` kernel with its optional `base` input, run directly on executor `be`. */
function getCirculantWithBase(
  be: Backend,
  kd: ArrayLike<number>,
  wd: ArrayLike<number>,
  m: number,
  n: number,
  b: number,
): Float32Array {
  const kernel = be.fromArray(Float32Array.from(kd)), base = be.fromArray(Float32Array.from(wd));
  const a = be.run("getCirculant", { kernel, base }, { m, n, b }).a;
  const out = be.readSync(a).slice();
  for (const st of [kernel, base, a]) be.dispose(st);
  return out;
}

/** float64 DFT of the rows of `x` `[rows, n]`: `[rows, floor(n/2)+1, 2]`. */
function dft(x: ArrayLike<number>, n: number, rows: number): Float64Array {
  const f = Math.floor(n / 2) + 1;
  const out = new Float64Array(rows * f * 2);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < f; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * ((j * k) % n)) / n;
        re += x[r * n + j] * Math.cos(a);
        im += x[r * n + j] * Math.sin(a);
      }
      out[(r * f + k) * 2] = re;
      out[(r * f + k) * 2 + 1] = im;
    }
  }
  return out;
}

const FFT_LENGTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 32, 64, 100, 127, 128, 256, 257];

/** Registers every conformance test for `ex` (skipped, with the reason, when it is unavailable). */
export async function conformance(ex: ConformanceExecutor): Promise<void> {
  const got = await ex.setup();
  const be = typeof got === "string" ? null : got;
  if (be === null) console.warn(`conformance: executor ${ex.name} skipped: ${got}`);
  const test = (name: string, fn: (be: Backend) => void) =>
    Deno.test({
      name: `[${ex.name}] ${name}`,
      ignore: be === null,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => fn(be!),
    });

  test("kernel table: every required kernel is implemented", (be) => {
    for (const k of KERNEL_NAMES) if (!KERNELS[k].fused) assert(be.supports(k), `missing kernel ${k}`);
  });

  test("fft.rfft / fft.irfft on tensors vs a float64 DFT, round trip, [..., F, 2] layout", (be) => {
    for (const n of FFT_LENGTHS) {
      const rows = 6, x = uniformData(rows * n, 100 + n);
      const xt = on(be, x, [2, 3, n]);
      const s = rfft(xt);
      const f = Math.floor(n / 2) + 1;
      assertEquals(s.shape, [2, 3, f, 2]);
      // DESIGN.md: <= 1e-6 · max|ref| (Bluestein lengths pass through two length-M FFTs: 2e-6)
      assertClose(s.dataSync(), dft(x, n, rows), 2e-6, `rfft n=${n}`);
      const back = irfft(s, n);
      assertEquals(back.shape, [2, 3, n]);
      assertClose(back.dataSync(), x, 2e-6, `irfft(rfft) n=${n}`);
      for (const t of [xt, s, back]) t.dispose();
    }
  });

  test("fft.rfft / fft.irfft gradients vs float64 formulas", (be) => {
    for (const n of [1, 2, 5, 8, 9, 16, 17, 64]) {
      const rows = 3, f = Math.floor(n / 2) + 1;
      const x = uniformData(rows * n, 7 + n), w = uniformData(rows * f * 2, 8 + n);
      // L = Σ w·rfft(x): x̄_j = Σ_k wr_k cos(2πjk/n) − wi_k sin(2πjk/n)
      const xt = on(be, x, [rows, n]).requiresGrad_();
      rfft(xt).backward(on(be, w, [rows, f, 2]));
      const gx = new Float64Array(rows * n);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < f; k++) {
            const a = (2 * Math.PI * ((j * k) % n)) / n;
            s += w[(r * f + k) * 2] * Math.cos(a) - w[(r * f + k) * 2 + 1] * Math.sin(a);
          }
          gx[r * n + j] = s;
        }
      }
      assertClose(xt.grad!.dataSync(), gx, 2e-6, `rfft grad n=${n}`);
      // L = Σ v·irfft(X): X̄_k = c_k/n · Σ_j v_j e^(−2πijk/n), c = 1 at bin 0 and n/2, else 2; the
      // imaginary parts of bins 0 and n/2 (ignored by irfft) get 0
      const v = uniformData(rows * n, 9 + n);
      const st = on(be, uniformData(rows * f * 2, 10 + n), [rows, f, 2]).requiresGrad_();
      irfft(st, n).backward(on(be, v, [rows, n]));
      const gs = dft(v, n, rows);
      for (let r = 0; r < rows; r++) {
        for (let k = 0; k < f; k++) {
          const edge = k === 0 || 2 * k === n;
          gs[(r * f + k) * 2] *= (edge ? 1 : 2) / n;
          gs[(r * f + k) * 2 + 1] *= edge ? 0 : 2 / n;
        }
      }
      assertClose(st.grad!.dataSync(), gs, 2e-6, `irfft grad n=${n}`);
    }
  });

  test("C3A: every golden case through blockCircularConvolution (forward, true gradients) and getCirculant", (be) => {
    for (const { file } of goldenIndex()) {
      const c = loadGoldenCase(file);
      const { m, n, b } = c.meta;
      const T = c.tensors;
      const x = on(be, f32(T.x), T.x.shape).requiresGrad_();
      const w = on(be, f32(T.kernel), [m, n, b]).requiresGrad_();
      const y = blockCircularConvolution(x, w);
      assertEquals(y.shape, T.y_raw.shape, `${c.name}: y shape`);
      assertClose(y.dataSync(), T.y_raw.data, 1e-5, `${c.name}: y_raw`);
      y.backward(on(be, f32(T.grad_out), T.grad_out.shape));
      assertClose(x.grad!.dataSync(), T.grad_x_raw.data, 1e-5, `${c.name}: grad_x_raw`);
      assertClose(w.grad!.dataSync(), T.grad_kernel_raw.data, 1e-5, `${c.name}: grad_kernel_raw`);
      const dense = getCirculant(w.detach());
      const delta = T.delta_weight.data.map((v) => v * c.meta.in_features);
      assertClose(dense.dataSync(), delta, 1e-5, `${c.name}: getCirculant`);
      // no graph: same forward, spectrum released at once
      const y2 = noGrad(() => blockCircularConvolution(x, w));
      assertClose(y2.dataSync(), T.y_raw.data, 1e-5, `${c.name}: y_raw without grad`);
      for (const t of [x, w, y, y2, dense, x.grad!, w.grad!]) t.dispose();
    }
  });

  test("C3A: addBlockCircularConvolution = input + product; input grad only, kernel grad only, rows = 0", (be) => {
    const rows = 5, m = 3, n = 2, b = 6;
    const xd = uniformData(rows * n * b, 1),
      wd = uniformData(m * n * b, 2),
      id = uniformData(rows * m * b, 3);
    const y0 = noGrad(() => blockCircularConvolution(on(be, xd, [rows, n * b]), on(be, wd, [m, n, b])));
    const sum = addBlockCircularConvolution(
      on(be, id, [rows, m * b]),
      on(be, xd, [rows, n * b]),
      on(be, wd, [m, n, b]),
    );
    const want = y0.dataSync().map((v, i) => v + id[i]);
    assertClose(sum.dataSync(), want, 1e-6, "add + product");
    const g = uniformData(rows * m * b, 4);
    const both = (() => {
      const x = on(be, xd, [rows, n * b]).requiresGrad_(), w = on(be, wd, [m, n, b]).requiresGrad_();
      blockCircularConvolution(x, w).backward(on(be, g, [rows, m * b]));
      return [x.grad!.dataSync().slice(), w.grad!.dataSync().slice()];
    })();
    const xOnly = on(be, xd, [rows, n * b]).requiresGrad_();
    blockCircularConvolution(xOnly, on(be, wd, [m, n, b])).backward(on(be, g, [rows, m * b]));
    assertClose(xOnly.grad!.dataSync(), both[0], 1e-6, "input grad alone");
    const wOnly = on(be, wd, [m, n, b]).requiresGrad_();
    blockCircularConvolution(on(be, xd, [rows, n * b]), wOnly).backward(on(be, g, [rows, m * b]));
    assertClose(wOnly.grad!.dataSync(), both[1], 1e-6, "kernel grad alone");
    const w0 = on(be, wd, [m, n, b]).requiresGrad_();
    const e = blockCircularConvolution(on(be, [], [0, n * b]), w0);
    assertEquals(e.shape, [0, m * b]);
    e.backward(on(be, [], [0, m * b]));
    assertEquals(Array.from(w0.grad!.dataSync()), new Array(m * n * b).fill(0), "no rows: zero kernel grad");
  });

  test("C3A: circulantLinear = x·(W + A)ᵀ + bias and its four gradients vs float64 formulas", (be) => {
    const rows = 5, m = 3, n = 2, b = 6, outF = m * b, inF = n * b;
    const xd = uniformData(rows * inF, 31), wd = uniformData(outF * inF, 32), kd = uniformData(m * n * b, 33);
    const bd = uniformData(outF, 34), gd = uniformData(rows * outF, 35);
    // float64: Wm = W + A with A[i·b+s][j·b+t] = k[i][j][(t − s) mod b]
    const wm = Float64Array.from(wd);
    for (let i = 0; i < m; i++) {
      for (let s = 0; s < b; s++) {
        for (let j = 0; j < n; j++) {
          for (let t = 0; t < b; t++) {
            wm[(i * b + s) * inF + j * b + t] += kd[(i * n + j) * b + (t - s + b) % b];
          }
        }
      }
    }
    const y64 = new Float64Array(rows * outF), gx64 = new Float64Array(rows * inF);
    const gw64 = new Float64Array(outF * inF),
      gk64 = new Float64Array(m * n * b),
      gb64 = new Float64Array(outF);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outF; o++) {
        let acc = bd[o];
        for (let c = 0; c < inF; c++) acc += xd[r * inF + c] * wm[o * inF + c];
        y64[r * outF + o] = acc;
        const g = gd[r * outF + o];
        gb64[o] += g;
        for (let c = 0; c < inF; c++) {
          gx64[r * inF + c] += g * wm[o * inF + c];
          gw64[o * inF + c] += g * xd[r * inF + c];
        }
      }
    }
    // dL/dk[i][j][k] = Σ_s dA[i·b+s][j·b+(s+k) mod b], dA = gᵀ·x = gw64
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        for (let k = 0; k < b; k++) {
          let acc = 0;
          for (let s = 0; s < b; s++) acc += gw64[(i * b + s) * inF + j * b + (s + k) % b];
          gk64[(i * n + j) * b + k] = acc;
        }
      }
    }
    const x = on(be, xd, [rows, inF]).requiresGrad_(), w = on(be, wd, [outF, inF]).requiresGrad_();
    const k = on(be, kd, [m, n, b]).requiresGrad_(), bias = on(be, bd, [outF]).requiresGrad_();
    const y = circulantLinear(x, w, bias, k);
    assertClose(y.dataSync(), y64, 1e-5, "circulantLinear y");
    y.backward(on(be, gd, [rows, outF]));
    assertClose(x.grad!.dataSync(), gx64, 1e-5, "circulantLinear grad x");
    assertClose(w.grad!.dataSync(), gw64, 1e-5, "circulantLinear grad W");
    assertClose(k.grad!.dataSync(), gk64, 1e-5, "circulantLinear grad kernel");
    assertClose(bias.grad!.dataSync(), gb64, 1e-5, "circulantLinear grad bias");
    const dense = noGrad(() => getCirculant(k));
    const wm32 = getCirculantWithBase(be, kd, wd, m, n, b);
    assertClose(wm32, wm, 1e-6, "getCirculant with base = W + A");
    for (const t of [x, w, k, bias, y, dense, x.grad!, w.grad!, k.grad!, bias.grad!]) t.dispose();
  });

  test("scatterLast: zeros with one value per row; accumulate adds in place and keeps the rest", (be) => {
    const rows = 5, cols = 7, gd = uniformData(rows, 41), yd = uniformData(rows * cols, 42);
    const idx = new Int32Array([6, -1, 0, 3, 6]);
    const g = be.fromArray(Float32Array.from(gd)), y = be.fromArray(Float32Array.from(yd));
    const fresh = be.scatterLast(g, rows, cols, idx);
    const back = be.scatterLast(g, rows, cols, idx, y);
    assert(back === y, "accumulate returns the storage it was given");
    const want0 = new Float32Array(rows * cols), want1 = Float32Array.from(yd);
    for (let r = 0; r < rows; r++) {
      if (idx[r] < 0) continue;
      want0[r * cols + idx[r]] = gd[r];
      want1[r * cols + idx[r]] = Math.fround(yd[r * cols + idx[r]] + gd[r]); // one float32 addition
    }
    assertEquals(Array.from(be.readSync(fresh)), Array.from(want0));
    assertEquals(Array.from(be.readSync(y)), Array.from(want1));
    for (const st of [g, y, fresh]) be.dispose(st);
  });

  test("crossEntropy: loss and gradient vs float64 log-softmax, ignoreIndex, mean / sum / none", (be) => {
    const rows = 6, c = 11, ld = uniformData(rows * c, 51, 4);
    const targets = [3, 10, -100, 0, 7, 3];
    for (const reduction of ["mean", "sum", "none"] as const) {
      const logits = on(be, ld, [2, 3, c]).requiresGrad_();
      const loss = crossEntropy(logits, targets, { reduction });
      const gd = reduction === "none" ? uniformData(rows, 52) : [0.75];
      loss.backward(on(be, gd, reduction === "none" ? [2, 3] : []));
      // float64: lp = x − logsumexp(x); loss_r = −lp[t_r]; ∂/∂x = s_r·(softmax − onehot)
      const count = targets.filter((t) => t !== -100).length;
      const per = new Float64Array(rows), grad = new Float64Array(rows * c);
      for (let r = 0; r < rows; r++) {
        if (targets[r] === -100) continue;
        let mx = -Infinity;
        for (let j = 0; j < c; j++) mx = Math.max(mx, ld[r * c + j]);
        let se = 0;
        for (let j = 0; j < c; j++) se += Math.exp(ld[r * c + j] - mx);
        const lse = mx + Math.log(se);
        per[r] = lse - ld[r * c + targets[r]];
        const s = reduction === "none" ? gd[r] : reduction === "mean" ? gd[0] / count : gd[0];
        for (let j = 0; j < c; j++) {
          grad[r * c + j] = s * (Math.exp(ld[r * c + j] - lse) - (j === targets[r] ? 1 : 0));
        }
      }
      const total = per.reduce((a, v) => a + v, 0);
      const want = reduction === "none" ? per : [reduction === "mean" ? total / count : total];
      assertClose(loss.dataSync(), want, 1e-6, `crossEntropy ${reduction}`);
      assertClose(logits.grad!.dataSync(), grad, 1e-6, `crossEntropy ${reduction} gradient`);
      for (const t of [logits, loss]) t.dispose();
    }
  });

  test("linear, softmax, rmsNorm, swiglu: forward and gradients vs float64 formulas (fused or composed)", (be) => {
    const r = 7, k = 12, n = 5;
    const xd = uniformData(r * k, 21),
      wd = uniformData(n * k, 22),
      bd = uniformData(n, 23),
      gd = uniformData(r * n, 24);
    // linear: y = x·Wᵀ + b, gx = g·W, gW = gᵀ·x, gb = Σ_rows g
    const x = on(be, xd, [r, k]).requiresGrad_(), w = on(be, wd, [n, k]).requiresGrad_();
    const bias = on(be, bd, [n]).requiresGrad_();
    const y = linear(x, w, bias);
    y.backward(on(be, gd, [r, n]));
    const yr = new Float64Array(r * n), gx = new Float64Array(r * k), gw = new Float64Array(n * k);
    const gb = new Float64Array(n);
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < n; j++) {
        let s = bd[j];
        for (let q = 0; q < k; q++) s += xd[i * k + q] * wd[j * k + q];
        yr[i * n + j] = s;
        const g = gd[i * n + j];
        gb[j] += g;
        for (let q = 0; q < k; q++) {
          gx[i * k + q] += g * wd[j * k + q];
          gw[j * k + q] += g * xd[i * k + q];
        }
      }
    }
    assertClose(y.dataSync(), yr, 1e-6, "linear y");
    assertClose(x.grad!.dataSync(), gx, 1e-6, "linear gx");
    assertClose(w.grad!.dataSync(), gw, 1e-6, "linear gW");
    assertClose(bias.grad!.dataSync(), gb, 1e-6, "linear gb");
    // softmax over the last axis: gx = y·(g − Σ g·y)
    const sx = on(be, xd, [r, k]).requiresGrad_();
    const sy = softmax(sx, -1);
    const sg = uniformData(r * k, 25);
    sy.backward(on(be, sg, [r, k]));
    const syr = new Float64Array(r * k), sgx = new Float64Array(r * k);
    for (let i = 0; i < r; i++) {
      let mx = -Infinity, z = 0, dot = 0;
      for (let q = 0; q < k; q++) mx = Math.max(mx, xd[i * k + q]);
      for (let q = 0; q < k; q++) z += Math.exp(xd[i * k + q] - mx);
      for (let q = 0; q < k; q++) syr[i * k + q] = Math.exp(xd[i * k + q] - mx) / z;
      for (let q = 0; q < k; q++) dot += sg[i * k + q] * syr[i * k + q];
      for (let q = 0; q < k; q++) sgx[i * k + q] = syr[i * k + q] * (sg[i * k + q] - dot);
    }
    assertClose(sy.dataSync(), syr, 1e-6, "softmax y");
    assertClose(sx.grad!.dataSync(), sgx, 1e-6, "softmax gx");
    // rmsNorm: n = x·rstd, y = n·w; gx = rstd·(g·w − n·mean(g·w·n)), gw = Σ_rows g·n
    const eps = 1e-5, rw = uniformData(k, 26), rg = uniformData(r * k, 27);
    const rx = on(be, xd, [r, k]).requiresGrad_(), rwt = on(be, rw, [k]).requiresGrad_();
    const ry = rmsNorm(rx, rwt, eps);
    ry.backward(on(be, rg, [r, k]));
    const ryr = new Float64Array(r * k), rgx = new Float64Array(r * k), rgw = new Float64Array(k);
    for (let i = 0; i < r; i++) {
      let ms = 0;
      for (let q = 0; q < k; q++) ms += xd[i * k + q] ** 2 / k;
      const rstd = 1 / Math.sqrt(ms + eps);
      let m = 0;
      for (let q = 0; q < k; q++) m += (rg[i * k + q] * rw[q] * xd[i * k + q] * rstd) / k;
      for (let q = 0; q < k; q++) {
        const nq = xd[i * k + q] * rstd;
        ryr[i * k + q] = nq * rw[q];
        rgx[i * k + q] = rstd * (rg[i * k + q] * rw[q] - nq * m);
        rgw[q] += rg[i * k + q] * nq;
      }
    }
    assertClose(ry.dataSync(), ryr, 2e-6, "rmsNorm y");
    assertClose(rx.grad!.dataSync(), rgx, 2e-6, "rmsNorm gx");
    assertClose(rwt.grad!.dataSync(), rgw, 2e-6, "rmsNorm gw");
    // swiglu: y = silu(a)·u, ga = g·u·silu'(a), gu = g·silu(a)
    const ad = uniformData(r * k, 28), ud = uniformData(r * k, 29), wg = uniformData(r * k, 30);
    const a = on(be, ad, [r, k]).requiresGrad_(), u = on(be, ud, [r, k]).requiresGrad_();
    const sw = swiglu(a, u);
    sw.backward(on(be, wg, [r, k]));
    const swr = new Float64Array(r * k), ga = new Float64Array(r * k), gu = new Float64Array(r * k);
    for (let i = 0; i < r * k; i++) {
      const sig = 1 / (1 + Math.exp(-ad[i])), silu = ad[i] * sig;
      swr[i] = silu * ud[i];
      ga[i] = wg[i] * ud[i] * (sig + ad[i] * sig * (1 - sig));
      gu[i] = wg[i] * silu;
    }
    assertClose(sw.dataSync(), swr, 2e-6, "swiglu y");
    assertClose(a.grad!.dataSync(), ga, 2e-6, "swiglu ga");
    assertClose(u.grad!.dataSync(), gu, 2e-6, "swiglu gu");
  });

  test("causal attention (fused or composed softmax): output and q, k, v gradients vs float64 formulas", (be) => {
    // q [1, 2, L, D], k, v [1, 2, S, D]: query i sees keys j <= i (top-left); P = softmax(scale·q·kᵀ + mask),
    // O = P·v; with upstream W: gv = Pᵀ·W, dP = W·vᵀ, dS = scale·P∘(dP − Σ_j dP∘P), gq = dS·k, gk = dSᵀ·q
    const h = 2, l = 5, s = 7, d = 6, scale = 1 / Math.sqrt(d);
    const qd = uniformData(h * l * d, 31, 2),
      kd = uniformData(h * s * d, 32, 2),
      vd = uniformData(h * s * d, 33);
    const wd = uniformData(h * l * d, 34);
    const q = on(be, qd, [1, h, l, d]).requiresGrad_(), k = on(be, kd, [1, h, s, d]).requiresGrad_();
    const v = on(be, vd, [1, h, s, d]).requiresGrad_();
    const o = scaledDotProductAttention(q, k, v, { causal: true });
    o.backward(on(be, wd, [1, h, l, d]));
    const or = new Float64Array(h * l * d), gq = new Float64Array(h * l * d);
    const gk = new Float64Array(h * s * d), gv = new Float64Array(h * s * d);
    for (let hh = 0; hh < h; hh++) {
      const Q = hh * l * d, K = hh * s * d;
      for (let i = 0; i < l; i++) {
        const p = new Float64Array(s), dp = new Float64Array(s);
        let mx = -Infinity, z = 0, dot = 0;
        for (let j = 0; j <= i; j++) {
          for (let c = 0; c < d; c++) p[j] += scale * qd[Q + i * d + c] * kd[K + j * d + c];
          mx = Math.max(mx, p[j]);
        }
        for (let j = 0; j <= i; j++) z += p[j] = Math.exp(p[j] - mx);
        for (let j = 0; j <= i; j++) {
          p[j] /= z;
          for (let c = 0; c < d; c++) {
            or[Q + i * d + c] += p[j] * vd[K + j * d + c];
            gv[K + j * d + c] += p[j] * wd[Q + i * d + c];
            dp[j] += wd[Q + i * d + c] * vd[K + j * d + c];
          }
          dot += dp[j] * p[j];
        }
        for (let j = 0; j <= i; j++) {
          const ds = scale * p[j] * (dp[j] - dot);
          for (let c = 0; c < d; c++) {
            gq[Q + i * d + c] += ds * kd[K + j * d + c];
            gk[K + j * d + c] += ds * qd[Q + i * d + c];
          }
        }
      }
    }
    assertClose(o.dataSync(), or, 2e-6, "attention out");
    assertClose(q.grad!.dataSync(), gq, 2e-6, "attention gq");
    assertClose(k.grad!.dataSync(), gk, 2e-6, "attention gk");
    assertClose(v.grad!.dataSync(), gv, 2e-6, "attention gv");
  });

  if (ex.teardown) {
    Deno.test({
      name: `[${ex.name}] teardown`,
      ignore: be === null,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => ex.teardown!(),
    });
  }
}
