/**
 * The wasm executor's kernel implementations ({@link KernelTable} over `Float32Array` handles): each
 * entry reads its input arrays and writes its output arrays, which the backend allocated from the
 * declared sizes (src/backend/kernels.ts). A threaded or otherwise specialised CPU executor can start
 * from a copy of {@link wasmKernels} and replace entries.
 *
 * @module
 */

import type { KernelTable } from "../kernels.ts";
import {
  adamStepKernel,
  axpbyKernel,
  binaryKernel,
  rmsNormGradKernel,
  rmsNormKernel,
  rotaryKernel,
  scalarKernel,
  swigluGradKernel,
  swigluKernel,
  unaryGradKernel,
  unaryKernel,
  whereKernel,
} from "./elementwise.ts";
import { copyStridedKernel } from "./layout.ts";
import { reduceKernel } from "./reduce.ts";
import { causalSoftmaxGradKernel, causalSoftmaxKernel, softmaxGradKernel, softmaxKernel } from "./softmax.ts";
import { causalAttentionGradKernel, causalAttentionKernel } from "./attention.ts";
import { sgemm } from "./gemm.ts";
import { sgemmHalfB } from "./half_gemm.ts";
import { HalfArray } from "./half_array.ts";
import { decodeHalf } from "../../io/half.ts";
import { wasm } from "./memory.ts";
import type { MatmulAttrs } from "../kernels.ts";
import { irfftInto, rfftInto } from "./fft.ts";
import { c3aBackwardKernel, c3aForwardKernel, c3aSpectralKernel, getCirculant } from "./circulant.ts";

const hasWasmSgemm = typeof (wasm as Record<string, unknown>)["sgemm"] === "function";

/** Plain TS matrix product, used only when the wasm module lacks `sgemm`. */
function matmulFallback(a: Float32Array, b: Float32Array, c: Float32Array, p: MatmulAttrs) {
  const { m, n, k, batch, transA, transB, strideA, strideB } = p;
  const row = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    const oa = t * strideA, ob = t * strideB, oc = t * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let q = 0; q < k; q++) {
        const av = transA ? a[oa + q * m + i] : a[oa + i * k + q];
        if (av === 0) continue;
        if (transB) { for (let j = 0; j < n; j++) row[j] += av * b[ob + j * k + q]; }
        else {
          const bo = ob + q * n;
          for (let j = 0; j < n; j++) row[j] += av * b[bo + j];
        }
      }
      for (let j = 0; j < n; j++) c[oc + i * n + j] += row[j];
    }
  }
}

/** The wasm executor's implementation of every kernel (see the module doc). */
export const wasmKernels: KernelTable<Float32Array> = {
  unary: (i, o, a) => unaryKernel(a.op, i.x, o.y),
  unaryGrad: (i, o, a) => unaryGradKernel(a.op, i.x, i.y, i.g, o.gx),
  binary: (i, o, a) => binaryKernel(a.op, i.a, i.b, o.y, a.shape, a.aStrides, a.bStrides),
  where: (i, o, a) => whereKernel(i.cond, i.a, i.b, o.y, a.shape, a.condStrides, a.aStrides, a.bStrides),
  binaryScalar: (i, o, a) => scalarKernel(a.op, i.x, a.s, a.reverse, o.y),
  axpby: (i, o, a) => axpbyKernel(i.x, a.alpha, i.z, a.beta, o.y),
  copyStrided: (i, o, a) =>
    copyStridedKernel(i.src, a.srcOffset, a.srcStrides, o.dst, a.dstOffset, a.dstStrides, a.shape),
  reduce: (i, o, a) => reduceKernel(a.op, i.x, a.shape, a.axes, o.y),
  matmul: (i, o, a) => {
    const c = o.c, bias = i.bias;
    if (bias !== null) { for (let off = 0; off < c.length; off += a.n) c.set(bias, off); }
    else if (a.k === 0) c.fill(0);
    if (c.length > 0 && a.k > 0) {
      if (i.b instanceof HalfArray) sgemmHalfB(i.a, i.b, c, a, bias !== null);
      else if (hasWasmSgemm) sgemm(i.a, i.b, a.m, a.n, a.k, { ...a, accumulate: bias !== null, out: c });
      else {
        if (bias === null) c.fill(0);
        matmulFallback(i.a, i.b, c, a);
      }
    }
  },
  softmax: (i, o, a) => softmaxKernel(i.x, o.y, a.outer, a.dim, a.inner, a.log),
  softmaxGrad: (i, o, a) => softmaxGradKernel(i.y, i.g, o.gx, a.outer, a.dim, a.inner, a.log),
  causalSoftmax: (i, o, a) => causalSoftmaxKernel(i.x, o.y, a),
  causalSoftmaxGrad: (i, o, a) => causalSoftmaxGradKernel(i.y, i.g, o.gx, a),
  causalAttention: (i, o, a) => causalAttentionKernel(i.q, i.k, i.v, o.out, o.probs, a),
  causalAttentionGrad: (i, o, a) =>
    causalAttentionGradKernel(i.q, i.k, i.v, i.probs, i.gOut, o.gq, o.gk, o.gv, a),
  gatherLast: (i, o, a) => {
    const { x } = i, { y } = o, { index, cols } = a;
    for (let r = 0; r < a.rows; r++) {
      const t = index[r];
      if (t >= 0) y[r] = x[r * cols + t];
    }
  },
  scatterLast: (i, o, a) => {
    const { g } = i, { y } = o, { index, cols } = a;
    if (a.accumulate) {
      for (let r = 0; r < a.rows; r++) {
        const t = index[r];
        if (t >= 0) y[r * cols + t] += g[r];
      }
      return;
    }
    for (let r = 0; r < a.rows; r++) {
      const t = index[r];
      if (t >= 0) y[r * cols + t] = g[r];
    }
  },
  indexSelectRows: (i, o, a) => {
    const { x } = i, { y } = o, { index, rowSize } = a;
    if (x instanceof HalfArray) {
      for (let r = 0; r < index.length; r++) {
        const s = index[r] * rowSize;
        decodeHalf(x.bits.subarray(s, s + rowSize), x.dtype, y, r * rowSize);
      }
      return;
    }
    for (let r = 0; r < index.length; r++) {
      const s = index[r] * rowSize;
      y.set(x.subarray(s, s + rowSize), r * rowSize);
    }
  },
  indexAddRows: (i, o, a) => {
    const { g } = i, { y } = o, { index, rowSize } = a;
    for (let r = 0; r < index.length; r++) {
      const d = index[r] * rowSize, s = r * rowSize;
      for (let j = 0; j < rowSize; j++) y[d + j] += g[s + j];
    }
  },
  adamStep: (i, o, a) => adamStepKernel(o.p, i.g, o.m, o.v, o.vmax, a),
  rmsNorm: (i, o, a) => rmsNormKernel(i.x, i.weight, o.y, o.rstd, a.rows, a.d, a.eps),
  rmsNormGrad: (i, o, a) => rmsNormGradKernel(i.g, i.x, i.weight, i.rstd, o.gx, o.gw, a.rows, a.d),
  swiglu: (i, o) => swigluKernel(i.gate, i.up, o.y),
  swigluGrad: (i, o) => swigluGradKernel(i.gate, i.up, i.g, o.gGate, o.gUp),
  rotaryEmb: (i, o, a) => rotaryKernel(i.x, i.cos, i.sin, o.y, a, a.inverse),
  rfft: (i, o, a) => rfftInto(i.x, a.n, a.batch, o.y),
  irfft: (i, o, a) => irfftInto(i.x, a.n, a.batch, o.y),
  c3aSpectralForward: (i, o, a) => c3aSpectralKernel("forward", i.xs, i.ws, o.ys, a),
  c3aSpectralInputGrad: (i, o, a) => c3aSpectralKernel("inputGrad", i.gs, i.ws, o.gxs, a),
  c3aSpectralKernelGrad: (i, o, a) => c3aSpectralKernel("kernelGrad", i.xs, i.gs, o.gws, a),
  c3aForward: (i, o, a) => c3aForwardKernel(i.x, i.ws, o.y, a),
  c3aBackward: (i, o, a) => c3aBackwardKernel(i.x, i.ws, i.g, o.gradX, o.gradKernel, a),
  circulantMatmul: (i, o, a) => {
    const c = o.c, bias = i.bias;
    if (bias !== null) { for (let off = 0; off < c.length; off += a.n) c.set(bias, off); }
    else if (a.k === 0) c.fill(0);
    if (c.length === 0 || a.k === 0) return;
    const add = { kernel: i.kernel as Float32Array, blockSize: a.blockSize };
    if (i.b instanceof HalfArray) {
      const p = {
        m: a.m,
        n: a.n,
        k: a.k,
        batch: 1,
        transA: false,
        transB: a.transB,
        strideA: 0,
        strideB: 0,
        causal: null,
      };
      sgemmHalfB(i.a, i.b, c, p, bias !== null, add);
      return;
    }
    sgemm(i.a, i.b, a.m, a.n, a.k, {
      transB: a.transB,
      accumulate: bias !== null,
      out: c,
      addCirculant: add,
    });
  },
  getCirculant: (i, o, a) => getCirculant(i.kernel, a, o.a, i.base ?? undefined),
};
