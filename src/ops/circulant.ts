/**
 * C3A's differentiable block-circulant ops (spec/c3a.md §1): {@link blockCircularConvolution} (the
 * adapter's product `x·Aᵀ`, unscaled) and {@link getCirculant} (the dense block-circulant matrix `A`).
 *
 * `A` `[out, in]` is built from the kernel `w` `[m, n, b]` (m = out/b, n = in/b) as
 * `A[i·b + s][j·b + t] = w[i][j][(t − s) mod b]`: every b×b block is circulant with first row
 * `w[i][j]` (PEFT's `get_circulant_fast`; a circular cross-correlation, not a convolution, in signal
 * processing terms). PEFT's C3A layer adds `blockCircularConvolution(x, w) / in_features` to the base
 * output, and its delta weight is `getCirculant(w) / in_features`.
 *
 * Gradients are the mathematically true ones (spec §1.4): `dL/dx = g·A` and
 * `dL/dw[i][j][k] = Σ_rows Σ_s g_i[s]·x_j[(s + k) mod b]`. PEFT's custom backward computes a different,
 * wrong input gradient for b ≥ 3; it is deliberately not reproduced.
 *
 * Both ops run on the tensors' backend through the kernel table (src/backend/kernels.ts): the kernel
 * spectrum is the `rfft` of the kernel (an ordinary storage, held by the op's graph node and released
 * when the graph is freed: after backward, when the output is disposed, or at once without a graph);
 * the forward and backward use the fused `c3aForward` / `c3aBackward` kernels where the executor
 * has them, and otherwise the composition `rfft` → `c3aSpectral*` product → `irfft`. Arguments are
 * validated here, once; the kernels trust them.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { Tensor } from "../tensor/tensor.ts";
import { sameBackend } from "../tensor/placement.ts";
import { fmtShape, sizeOf } from "../tensor/shape.ts";
import type { Backend, Storage } from "../backend/backend.ts";
import type { C3AAttrs } from "../backend/kernels.ts";
import { validBlockSizes } from "../c3a/blockSize.ts";

/**
 * The kernel spectrum `rfft(w)` `[m, n, floor(b/2)+1, 2]` as a tensor: an ordinary storage of the
 * backend, owned by the op that made it and released with its graph.
 */
function kernelSpectrum(be: Backend, kernel: Storage, a: C3AAttrs): Tensor {
  const ws = be.run("rfft", { x: kernel }, { n: a.b, batch: a.m * a.n }).y;
  return Tensor.fromStorage(ws, [a.m, a.n, (a.b >> 1) + 1, 2]);
}

/** `y = x·Aᵀ` `[rows, m·b]`: the fused kernel when the backend has it, else rfft → product → irfft. */
function c3aForward(be: Backend, x: Storage, ws: Storage, a: C3AAttrs): Storage {
  if (be.supports("c3aForward")) return be.run("c3aForward", { x, ws }, a).y;
  const xs = be.run("rfft", { x }, { n: a.b, batch: a.rows * a.n }).y;
  const ys = be.run("c3aSpectralForward", { xs, ws }, a).ys;
  be.dispose(xs);
  const y = be.run("irfft", { x: ys }, { n: a.b, batch: a.rows * a.m }).y;
  be.dispose(ys);
  return y;
}

/**
 * True gradients `g·A` and/or the kernel gradient: fused when available, else composed. `x` is read
 * only for the kernel gradient, the kernel spectrum `ws` only for the input gradient.
 */
function c3aBackward(
  be: Backend,
  x: Storage | null,
  ws: Storage | null,
  g: Storage,
  a: C3AAttrs,
  inputGrad: boolean,
  kernelGrad: boolean,
): { gradX: Storage | null; gradKernel: Storage | null } {
  if (!inputGrad && !kernelGrad) return { gradX: null, gradKernel: null };
  if (be.supports("c3aBackward")) return be.run("c3aBackward", { x, ws, g }, { ...a, inputGrad, kernelGrad });
  const { b, rows, m, n } = a;
  const gs = be.run("rfft", { x: g }, { n: b, batch: rows * m }).y;
  let gradX: Storage | null = null, gradKernel: Storage | null = null;
  if (inputGrad) {
    const gxs = be.run("c3aSpectralInputGrad", { gs, ws: ws! }, a).gxs;
    gradX = be.run("irfft", { x: gxs }, { n: b, batch: rows * n }).y;
    be.dispose(gxs);
  }
  if (kernelGrad) {
    const xs = be.run("rfft", { x: x! }, { n: b, batch: rows * n }).y;
    const gws = be.run("c3aSpectralKernelGrad", { xs, gs }, a).gws;
    be.dispose(xs);
    gradKernel = be.run("irfft", { x: gws }, { n: b, batch: m * n }).y;
    be.dispose(gws);
  }
  be.dispose(gs);
  return { gradX, gradKernel };
}

/** Validates a kernel tensor `[m, n, b]` and returns its block shape. */
function kernelShape(kernel: Tensor, what: string): { m: number; n: number; b: number } {
  if (!(kernel instanceof Tensor)) {
    throw new TypeError(`${what}: kernel must be a Tensor, got ${typeof kernel}`);
  }
  if (kernel.ndim !== 3) {
    throw new RangeError(
      `${what}: kernel must have shape [m, n, b] = [out/b, in/b, b] (3 dimensions), got ${
        fmtShape(kernel.shape)
      }`,
    );
  }
  const [m, n, b] = kernel.shape;
  if (m < 1 || n < 1 || b < 1) {
    throw new RangeError(`${what}: kernel dimensions must be >= 1, got ${fmtShape(kernel.shape)}`);
  }
  return { m, n, b };
}

/**
 * C3A block circular convolution, unscaled (PEFT `BlockCircularConvolution`, spec §1.2–§1.3): splits
 * the last axis of `x` (in = n·b features) into n chunks `x_j` of length b and returns the m output
 * chunks `y_i[s] = Σ_j Σ_t w[i][j][(t − s) mod b]·x_j[t]`, i.e. `y = x·Aᵀ` with `A = getCirculant(w)`.
 * Computed with real FFTs, O(rows·(in + out)·log b + rows·m·n·b) time, without materialising `A`.
 * Leading axes are independent rows. Differentiable in both inputs with the TRUE gradients (spec
 * §1.4): `dL/dx = g·A`, `dL/dw[i][j][k] = Σ_rows Σ_s g_i[s]·x_j[(s + k) mod b]`. Saves `x` and the
 * kernel's spectrum (computed once per forward) for backward.
 *
 * PEFT's adapter output is `blockCircularConvolution(x, w) / in_features`.
 *
 * @param x input `[..., in]` float32, at least 1-D, with `in = n·b`
 * @param kernel C3A kernel `[m, n, b]` = `[out/b, in/b, b]` float32, on the same backend as `x`
 * @returns `[..., out]` float32 with `out = m·b`
 * @throws {RangeError} if the kernel is not 3-D, x is 0-D, or x's last dimension is not n·b (when b
 *   does not divide it, the message lists the block sizes that do)
 * @throws {Error} if x and kernel live on different backends, or the backend has no C3A kernels
 * @example
 * ```ts
 * import { tensor } from "../tensor/index.ts";
 * const w = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]).requiresGrad_();  // m = 1, n = 2, b = 3
 * const x = tensor([1, 2, 3, 4, 5, 6], [1, 6]);
 * const y = blockCircularConvolution(x, w);                          // [[91, 85, 85]]
 * y.div(6).sum().backward();                                         // PEFT scaling: / in_features
 * ```
 */
export function blockCircularConvolution(x: Tensor, kernel: Tensor): Tensor {
  return bcc("blockCircularConvolution", x, kernel, undefined);
}

/**
 * `input + blockCircularConvolution(x, kernel)` as one op with one output array (like `torch.addmm`
 * for a matrix product): the convolution's result is written into a fresh array and `input` is added
 * to it in place, so the unfused sum's extra activation-sized array (and its memory) is never made.
 * C3ALinear passes its base layer's output here. Gradients: `input` gets the output gradient itself;
 * x and kernel as in {@link blockCircularConvolution}.
 *
 * @param input `[..., out]` float32, exactly the output's shape (no broadcasting), same backend as x
 * @param x input `[..., in]` float32 with `in = n·b`
 * @param kernel C3A kernel `[m, n, b]` float32
 * @returns `[..., out]` float32 = `input + x·Aᵀ`
 * @throws {RangeError} the errors of {@link blockCircularConvolution}, and if `input` does not have the
 *   output's shape
 * @throws {Error} if the tensors live on different backends, or the backend has no C3A kernels
 * @example
 * ```ts
 * import { tensor } from "../tensor/index.ts";
 * const w = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]);
 * const x = tensor([1, 2, 3, 4, 5, 6], [1, 6]);
 * addBlockCircularConvolution(tensor([1, 1, 1], [1, 3]), x, w); // [[92, 86, 86]]
 * ```
 */
export function addBlockCircularConvolution(input: Tensor, x: Tensor, kernel: Tensor): Tensor {
  const what = "addBlockCircularConvolution";
  if (!(input instanceof Tensor)) throw new TypeError(`${what}: input must be a Tensor, got ${typeof input}`);
  return bcc(what, x, kernel, input);
}

function bcc(what: string, x: Tensor, kernel: Tensor, add: Tensor | undefined): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${what}: x must be a Tensor, got ${typeof x}`);
  const { m, n, b } = kernelShape(kernel, what);
  if (x.ndim < 1) {
    throw new RangeError(`${what}: x must have at least 1 dimension [..., in], got a 0-d tensor`);
  }
  const inF = x.shape[x.ndim - 1];
  if (inF !== n * b) {
    const why = inF % b !== 0
      ? `block size b = ${b} does not divide in_features = ${inF} (block sizes dividing ${inF}: ${
        validBlockSizes(inF, inF).join(", ")
      })`
      : `in_features = ${inF} but the kernel expects n·b = ${n}·${b} = ${n * b}`;
    throw new RangeError(
      `${what}: x ${fmtShape(x.shape)} does not fit kernel ${fmtShape(kernel.shape)}: ${why}`,
    );
  }
  sameBackend(what, { x, kernel, input: add });
  const lead = x.shape.slice(0, -1);
  const outShape = [...lead, m * b];
  if (add !== undefined) {
    if (add.ndim !== outShape.length || add.shape.some((d, i) => d !== outShape[i])) {
      throw new RangeError(
        `${what}: input ${fmtShape(add.shape)} must have the output's shape ${fmtShape(outShape)}`,
      );
    }
  }
  const be = x.backend;
  const a: C3AAttrs = { rows: sizeOf(lead), m, n, b };
  const spectrum = kernelSpectrum(be, kernel.storage, a);
  const y = c3aForward(be, x.storage, spectrum.storage, a);
  // the kernel's result is a fresh storage of this op: add in place (one output array, not two)
  if (add !== undefined) be.axpby(y, 1, add.storage, 1, y);
  const out = Tensor.fromStorage(y, outShape);
  const inputs = add === undefined ? [x, kernel] : [x, kernel, add];
  return recordOp(what, out, inputs, (g, needs) => {
    const r = c3aBackward(
      be,
      needs[1] ? x.storage : null,
      spectrum.storage,
      g.storage,
      a,
      needs[0],
      needs[1],
    );
    return [
      r.gradX === null ? null : Tensor.fromStorage(r.gradX, x.shape),
      r.gradKernel === null ? null : Tensor.fromStorage(r.gradKernel, kernel.shape),
      needs[2] ? g : null,
    ];
  }, [spectrum]);
}

/**
 * The dense block-circulant matrix of a C3A kernel (PEFT `get_circulant_fast`, spec §1.3):
 * `A[i·b + s][j·b + t] = w[i][j][(t − s) mod b]`, same orientation as `nn.Linear.weight`. PEFT's delta
 * weight (merge) is `getCirculant(w) / in_features`. Differentiable: the kernel gradient folds the
 * incoming `[out, in]` gradient, `dw[i][j][k] = Σ_s dA[i·b + s][j·b + (s + k) mod b]`.
 *
 * @param kernel `[m, n, b]` float32
 * @returns `[m·b, n·b]` = `[out, in]` float32
 * @throws {RangeError} if the kernel is not 3-D with positive dimensions
 * @example
 * ```ts
 * import { tensor } from "../tensor/index.ts";
 * getCirculant(tensor([1, 2, 3], [1, 1, 3])); // [[1, 2, 3], [3, 1, 2], [2, 3, 1]]
 * ```
 */
export function getCirculant(kernel: Tensor): Tensor {
  const what = "getCirculant";
  const { m, n, b } = kernelShape(kernel, what);
  const out = Tensor.fromStorage(
    kernel.backend.run("getCirculant", { kernel: kernel.storage }, { m, n, b }).a,
    [
      m * b,
      n * b,
    ],
  );
  return recordOp(what, out, [kernel], (g) => {
    // A.flat[(i·b + s)·in + j·b + t] = w.flat[(i·n + j)·b + (t − s) mod b]: scatter-add g back
    const inF = n * b;
    const idx = new Int32Array(m * b * inF);
    for (let i = 0; i < m; i++) {
      for (let s = 0; s < b; s++) {
        const row = (i * b + s) * inF;
        for (let j = 0; j < n; j++) {
          const base = (i * n + j) * b;
          for (let t = 0; t < b; t++) idx[row + j * b + t] = base + (t - s + b) % b;
        }
      }
    }
    const gk = g.backend.indexAddRows(g.storage, m * n * b, 1, idx);
    return [Tensor.fromStorage(gk, kernel.shape)];
  });
}

/**
 * `x · (W + getCirculant(kernel))ᵀ + bias` as one op: a Linear layer with a C3A update folded into
 * its weight for the product. Equal to `addBlockCircularConvolution(linear(x, W, bias), x, kernel)`
 * up to float32 rounding (the sum is formed on the weight, per element, instead of on the output),
 * and cheaper when x has many rows: the adapter adds `O(out·in)` work to the base product instead of
 * `O(rows·(in + out)·log b)` FFTs and `O(rows·out·in/b)` spectral products, forward and input
 * gradient alike. On executors with the fused `circulantMatmul` kernel (wasm) `W + A` is formed
 * inside the matrix product while the weight is packed, tile by tile, and never stored; elsewhere it
 * is formed in a temporary `[out, in]` array per product. Gradients are the true ones:
 * `dL/dx = g·(W + A)`, `dL/dW = gᵀ·x` (only when W requires it), `dL/dbias = Σ_rows g`, and the kernel
 * gradient of {@link blockCircularConvolution} (rfft of x and g, no dense product).
 *
 * @param x input `[..., in]` float32, `in = n·b`
 * @param weight `[out, in]` with `out = m·b`, same backend as x: float32, or a frozen bfloat16 / float16
 *   weight (converted to float32 tile by tile inside the product)
 * @param bias `[out]` float32, or null
 * @param kernel `[m, n, b]` float32 (already scaled: C3ALinear passes `kernel / in_features`)
 * @returns `[..., out]` float32
 * @throws {RangeError} if the kernel is not 3-D with positive dimensions, the weight is not
 *   `[m·b, n·b]`, x does not end in `n·b` or the bias is not `[m·b]`
 * @throws {Error} if the tensors live on different backends
 */
export function circulantLinear(x: Tensor, weight: Tensor, bias: Tensor | null, kernel: Tensor): Tensor {
  const what = "circulantLinear";
  if (!(x instanceof Tensor)) throw new TypeError(`${what}: x must be a Tensor, got ${typeof x}`);
  const { m, n, b } = kernelShape(kernel, what);
  const outF = m * b, inF = n * b;
  if (
    !(weight instanceof Tensor) || weight.ndim !== 2 || weight.shape[0] !== outF || weight.shape[1] !== inF
  ) {
    throw new RangeError(
      `${what}: weight must be [${outF}, ${inF}] for kernel ${fmtShape(kernel.shape)}, got ${
        weight instanceof Tensor ? fmtShape(weight.shape) : typeof weight
      }`,
    );
  }
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new RangeError(`${what}: x ${fmtShape(x.shape)} must end in in_features ${inF}`);
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new RangeError(`${what}: bias must be [${outF}], got ${fmtShape(bias.shape)}`);
  }
  sameBackend(what, { x, weight, kernel, bias: bias ?? undefined });
  const be = x.backend;
  const lead = x.shape.slice(0, -1);
  const rows = sizeOf(lead);
  /** `a·(W + A)ᵀ (+ bias)` (transB) or `a·(W + A)`: `[rows, outF]` or `[rows, inF]`. */
  const product = (a: Storage, transB: boolean, withBias: boolean): Storage => {
    const cols = transB ? outF : inF, k = transB ? inF : outF;
    const b0 = withBias && bias !== null ? bias.storage : undefined;
    if (be.supports("circulantMatmul")) {
      const ins = { a, b: weight.storage, kernel: kernel.storage, bias: b0 };
      return be.run("circulantMatmul", ins, { m: rows, n: cols, k, transB, blockSize: b }).c;
    }
    const base = weight.dtype === "float32" ? weight : weight.float();
    const w = be.run("getCirculant", { kernel: kernel.storage, base: base.storage }, { m, n, b }).a;
    if (base !== weight) base.dispose();
    const c = be.matmul(a, w, { m: rows, n: cols, k, transB, bias: b0 });
    be.dispose(w);
    return c;
  };
  const out = Tensor.fromStorage(product(x.storage, true, true), [...lead, outF]);
  const a: C3AAttrs = { rows, m, n, b };
  const inputs = bias === null ? [x, weight, kernel] : [x, weight, kernel, bias];
  return recordOp(what, out, inputs, (g, needs) => {
    const gx = needs[0] ? Tensor.fromStorage(product(g.storage, false, false), x.shape) : null;
    const gw = needs[1]
      ? Tensor.fromStorage(
        be.matmul(g.storage, x.storage, { m: outF, n: inF, k: rows, transA: true }),
        weight.shape,
      )
      : null;
    const gk = needs[2]
      ? Tensor.fromStorage(
        c3aBackward(be, x.storage, null, g.storage, a, false, true).gradKernel!,
        kernel.shape,
      )
      : null;
    const gb = needs[3] ? Tensor.fromStorage(be.reduce("sum", g.storage, [rows, outF], [0]), [outF]) : null;
    return [gx, gw, gk, gb];
  });
}
