/**
 * The WebGPU executor's kernel implementations ({@link KernelTable} over storage ids, with the
 * {@link GpuExecutor} as context), applied in the executor's thread. The backend (./backend.ts)
 * marshals every kernel the same way, as one `["run", name, inputIds, outputIds, attrs]` command
 * (./commands.ts); this table maps the name to the WGSL kernel module. Absent optional storages are
 * null here and -1 for the kernel modules.
 *
 * @module
 */

import type { KernelTable } from "../kernels.ts";
import type { GpuExecutor } from "./executor.ts";
import * as ew from "./elementwise.ts";
import { reduce } from "./reduce.ts";
import { matmul } from "./matmul.ts";
import { softmax } from "./softmax.ts";
import * as ix from "./indexing.ts";
import * as fused from "./fused.ts";
import { irfft, rfft } from "./fft.ts";
import * as c3a from "./circulant.ts";

const id = (h: number | null) => h ?? -1;

/** The WebGPU executor's implementation of every kernel (see the module doc). */
export const gpuKernels: KernelTable<number, GpuExecutor> = {
  unary: (i, o, a, ex) => ew.unary(ex, a.op, i.x, o.y, ex.elems(i.x)),
  unaryGrad: (i, o, a, ex) => ew.unaryGrad(ex, a.op, i.x, i.y, i.g, o.gx, ex.elems(i.g)),
  binary: (i, o, a, ex) => ew.binary(ex, a.op, i.a, i.b, o.y, a.shape, a.aStrides, a.bStrides),
  where: (i, o, a, ex) => ew.where(ex, i.cond, i.a, i.b, o.y, a.shape, a.condStrides, a.aStrides, a.bStrides),
  binaryScalar: (i, o, a, ex) => ew.binaryScalar(ex, a.op, i.x, a.s, a.reverse, o.y, ex.elems(i.x)),
  axpby: (i, o, a, ex) => ew.axpby(ex, i.x, a.alpha, i.z, a.beta, o.y, ex.elems(i.x)),
  copyStrided: (i, o, a, ex) =>
    ew.copyStrided(ex, i.src, a.srcOffset, a.srcStrides, o.dst, a.dstOffset, a.dstStrides, a.shape),
  reduce: (i, o, a, ex) => reduce(ex, a.op, i.x, a.shape, a.axes, o.y),
  matmul: (i, o, a, ex) => matmul(ex, i.a, i.b, o.c, { ...a, bias: id(i.bias) }),
  softmax: (i, o, a, ex) => softmax(ex, i.x, null, o.y, a.outer, a.dim, a.inner, a.log),
  softmaxGrad: (i, o, a, ex) => softmax(ex, i.y, i.g, o.gx, a.outer, a.dim, a.inner, a.log),
  gatherLast: (i, o, a, ex) => ix.gatherLast(ex, i.x, a.rows, a.cols, a.index, o.y),
  scatterLast: (i, o, a, ex) => ix.scatterLast(ex, i.g, a.rows, a.cols, a.index, o.y, a.accumulate === true),
  indexSelectRows: (i, o, a, ex) => ix.indexSelectRows(ex, i.x, a.rowSize, a.index, o.y),
  indexAddRows: (i, o, a, ex) => ix.indexAddRows(ex, i.g, a.numRows, a.rowSize, a.index, o.y),
  adamStep: (i, o, a, ex) => fused.adamStep(ex, o.p, i.g, o.m, o.v, id(o.vmax), ex.elems(i.g), a),
  rmsNorm: (i, o, a, ex) => fused.rmsNorm(ex, i.x, id(i.weight), o.y, o.rstd, a.rows, a.d, a.eps),
  rmsNormGrad: (i, o, a, ex) =>
    fused.rmsNormGrad(ex, i.g, i.x, id(i.weight), i.rstd, o.gx, id(o.gw), a.rows, a.d),
  swiglu: (i, o, _, ex) => fused.swiglu(ex, i.gate, i.up, o.y, ex.elems(i.gate)),
  swigluGrad: (i, o, _, ex) => fused.swigluGrad(ex, i.gate, i.up, i.g, o.gGate, o.gUp, ex.elems(i.gate)),
  rotaryEmb: (i, o, a, ex) => fused.rotaryEmb(ex, i.x, i.cos, i.sin, o.y, a, a.inverse),
  rfft: (i, o, a, ex) => rfft(ex, i.x, o.y, a.n, a.batch),
  irfft: (i, o, a, ex) => irfft(ex, i.x, o.y, a.n, a.batch),
  c3aSpectralForward: (i, o, a, ex) =>
    c3a.c3aSpectral(ex, "forward", i.xs, i.ws, o.ys, a.rows, a.m, a.n, a.b),
  c3aSpectralInputGrad: (i, o, a, ex) =>
    c3a.c3aSpectral(ex, "inputGrad", i.gs, i.ws, o.gxs, a.rows, a.m, a.n, a.b),
  c3aSpectralKernelGrad: (i, o, a, ex) =>
    c3a.c3aSpectral(ex, "kernelGrad", i.xs, i.gs, o.gws, a.rows, a.m, a.n, a.b),
  c3aForward: (i, o, a, ex) => c3a.c3aForward(ex, i.x, i.ws, o.y, a.rows, a.m, a.n, a.b),
  c3aBackward: (i, o, a, ex) =>
    c3a.c3aBackward(ex, id(i.x), id(i.ws), i.g, id(o.gradX), id(o.gradKernel), a.rows, a.m, a.n, a.b),
  getCirculant: (i, o, a, ex) => {
    c3a.getCirculant(ex, i.kernel, o.a, a.m, a.n, a.b);
    if (i.base) ew.axpby(ex, o.a, 1, i.base, 1, o.a, ex.elems(o.a));
  },
};
