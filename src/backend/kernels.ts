/**
 * The kernel table: every kernel an executor can run, declared once. A declaration names the
 * kernel's storage inputs and outputs (in marshalling order), which of them may be absent, its
 * attributes (plain numbers, booleans, strings, number arrays, `Int32Array` index data) and the
 * element count of each output. Executors (src/backend/wasm/, src/backend/webgpu/, …) implement
 * kernels by name ({@link KernelImpl}); ops call them through {@link Backend.run}
 * (src/backend/backend.ts), which allocates the outputs from the declared sizes, so an executor never
 * computes an output size and an op never knows which executor it runs on.
 *
 * Adding a kernel: add one entry to {@link KERNELS} (and its attribute type here if it has a new
 * one), then one implementation per executor (src/backend/wasm/kernels.ts,
 * src/backend/webgpu/kernels.ts). A kernel marked `fused` is optional: an executor may leave it out,
 * and the op using it composes the same result from required kernels (`backend.supports(name)`).
 *
 * Conventions: storages hold float32 elements (a kernel's `half` inputs may also hold bfloat16 /
 * float16, converted inside the kernel), row-major; sizes are element counts; a kernel never
 * mutates an input, only its outputs; outputs not passed by the caller are fresh storages of the
 * declared size (zero-filled when listed in `zeroed`), outputs passed by the caller are written in
 * place (for `unary`, `binary`, `binaryScalar`, `axpby` they may alias an input of the same size).
 * Arguments are validated by the ops; executors trust them.
 *
 * @module
 */

import type { Storage } from "./backend.ts";

/** Elementwise one-input kernels. `gelu` is the exact erf form, `geluTanh` the tanh approximation. */
export type UnaryOp =
  | "neg"
  | "abs"
  | "sign"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "square"
  | "reciprocal"
  | "sin"
  | "cos"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "gelu"
  | "geluTanh"
  | "silu";

/**
 * Elementwise two-input kernels. Comparisons (`eq` ... `le`) produce 1 or 0. `pow` is `a ** b`.
 * `max`/`min` propagate NaN.
 */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "max"
  | "min"
  | "eq"
  | "ne"
  | "gt"
  | "ge"
  | "lt"
  | "le";

/** Reduction kernels. */
export type ReduceOp = "sum" | "max" | "min";

/** Attributes of the `matmul` kernel: every field of `MatmulParams` resolved (no defaults left). */
export interface MatmulAttrs {
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Inner (contracted) size. */
  k: number;
  /** Number of matrices. */
  batch: number;
  /** A is stored `[k, m]` and used transposed. */
  transA: boolean;
  /** B is stored `[n, k]` and used transposed. */
  transB: boolean;
  /** Elements between consecutive A matrices (0 broadcasts). */
  strideA: number;
  /** Elements between consecutive B matrices (0 broadcasts). */
  strideB: number;
  /** Causal structure of an attention product (a hint), or null. */
  causal: MatmulCausal | null;
}

/**
 * Causal structure of an attention product, a hint to the executor: it may leave out the work that
 * the structure makes unnecessary, or ignore it (the result is valid either way). Row i of C is the
 * query at position `i mod period` (the rows of several heads stacked), which sees the keys
 * `0 … lim(i)`, `lim(i) = (i mod period) + offset` (offset: keys before the first query).
 * - `"scores"` (q·kᵀ, gOut·vᵀ): C[i, j] for j > lim(i) is not needed; it holds 0 or the product (with
 *   accumulation: the old C or the old C plus the product).
 *   `period` divides m.
 * - `"weights"` (probs·v, gScores·k): op(A)[i, p] = 0 for p > lim(i); `period` divides m.
 * - `"weightsT"` (probsᵀ·gOut, gScoresᵀ·q): op(A)[j, p] = 0 for j > lim(p), rows of C being keys
 *   and p the stacked query rows; `period` divides k.
 * Leaving out a zero factor assumes a finite B (0·Inf would give NaN in the full product).
 */
export interface MatmulCausal {
  /** Which operand has the structure (see above). */
  form: "scores" | "weights" | "weightsT";
  /** Query positions per stacked head (rows of C, or of the contracted axis for `weightsT`), >= 1. */
  period: number;
  /** Keys before the first query (cached positions), >= 0. */
  offset: number;
}

/**
 * Attributes of the fused causal attention kernels, PyTorch `scaled_dot_product_attention(q, k, v,
 * is_causal=True, scale, enable_gqa=True)` without dropout or mask: q `[batch, group·l, d]` (the `group`
 * query heads sharing a key/value head stacked), k `[batch, s, d]`, v `[batch, s, dv]`, float32;
 * `probs[i, j] = softmax_{j <= i mod l}(scale·q_i·k_j)` (query i mod l sees keys j <= i mod l, 0 beyond)
 * `[batch, group·l, s]`, `out = probs·v` `[batch, group·l, dv]`. The gradient kernel takes the saved
 * probs and the upstream `gOut` and gives `gq` (reads k), `gk` (reads q), `gv`: the products and
 * softmax gradient of the composed form (scaledDotProductAttention in src/ops/nn.ts).
 */
export interface CausalAttentionAttrs {
  /** Key/value matrices: batch size × key/value heads. */
  batch: number;
  /** Query heads per key/value head (>= 1). */
  group: number;
  /** Query positions (>= 1). */
  l: number;
  /** Key positions (>= 1). */
  s: number;
  /** Head size of q and k. */
  d: number;
  /** Head size of v. */
  dv: number;
  /** Scale of the scores (finite). */
  scale: number;
  /**
   * `causalAttention` only: write the probabilities `[batch, group·l, s]` for a backward (default
   * true); false (no gradient wanted) leaves `probs` out, so no `[rows, s]` array is made.
   */
  saveProbs?: boolean;
}

/** Attributes of the `circulantMatmul` kernel (one product, no batch). */
export interface CirculantMatmulAttrs {
  /** Rows of A and C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Inner (contracted) size. */
  k: number;
  /**
   * B is stored `[n, k]` and used transposed (a Linear forward `x·(W + A)ᵀ`); false: B is `[k, n]`
   * (the input gradient `g·(W + A)`).
   */
  transB: boolean;
  /** C3A block size b of the kernel `[rows(B)/b, cols(B)/b, b]`; divides both sides of the stored B. */
  blockSize: number;
}

/** Hyper-parameters of a fused Adam / AdamW update (kernel `adamStep`), PyTorch's algorithm. */
export interface AdamStepParams {
  /** Learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** Weight decay λ (0 for none). */
  weightDecay: number;
  /** Step number t of this update (1 for the first). */
  step: number;
  /** AdamW (decay applied to the weights) vs Adam (decay added to the gradient). */
  decoupled: boolean;
  /** Ascend instead of descend. */
  maximize: boolean;
}

/**
 * Layout of the rotary-embedding kernel's input: x is `[batch, heads, seq, dim]` ("BHTD") or
 * `[batch, seq, heads, dim]` ("BTHD"), dim even; the tables are `[seq, dim]`, or `[batch, seq, dim]`
 * when `perBatch`.
 */
export interface RotaryParams {
  /** B. */
  batch: number;
  /** H. */
  heads: number;
  /** T. */
  seq: number;
  /** D (even). */
  dim: number;
  /** Axis order of x. */
  layout: "BHTD" | "BTHD";
  /** Tables `[B, T, D]` instead of `[T, D]`. */
  perBatch: boolean;
}

/** Block shape of a C3A product over `rows` rows: kernel `[m, n, b]`, x `[rows, n·b]`, y `[rows, m·b]`. */
export interface C3AAttrs {
  /** Rows of x (all leading axes flattened), integer >= 0. */
  rows: number;
  /** Output blocks (out / b), integer >= 1. */
  m: number;
  /** Input blocks (in / b), integer >= 1. */
  n: number;
  /** Block size, integer >= 1. */
  b: number;
}

/**
 * The type-level signature of one kernel: input names `I`, output names `O`, attributes `A`, the
 * names among them that may be absent `P`, and whether it is an optional fused kernel `F`.
 */
export interface KernelSig<
  I extends string,
  O extends string,
  A,
  P extends I | O = never,
  F extends boolean = false,
> {
  /** Input names. */
  i: I;
  /** Output names. */
  o: O;
  /** Attributes. */
  a: A;
  /** Optional inputs/outputs. */
  p: P;
  /** Fused (optional) kernel. */
  f: F;
}

/** The runtime declaration of a kernel with signature `S` (see the module doc). */
export interface KernelDecl<S extends KernelSig<string, string, unknown, string, boolean>> {
  /** Storage inputs, in marshalling order. */
  readonly inputs: readonly S["i"][];
  /** Storage outputs, in marshalling order. */
  readonly outputs: readonly S["o"][];
  /** Inputs and outputs that may be absent (null). */
  readonly optional?: readonly S["p"][];
  /** Outputs that start zero-filled when the backend allocates them. */
  readonly zeroed?: readonly S["o"][];
  /** True for a fast path an executor may leave out (ops compose a fallback). */
  readonly fused?: S["f"];
  /**
   * Inputs that may hold 16-bit storage (bfloat16 / float16, see `DType`), converted to float32 inside
   * the kernel; {@link Backend.run} refuses a 16-bit storage in any other input.
   */
  readonly half?: readonly S["i"][];
  /**
   * Element count of each output the backend allocates (null: not produced for these attributes),
   * from the attributes and the inputs' element counts (0 for an absent input). Absent when every
   * output is always passed by the caller.
   */
  readonly sizes?: (attrs: S["a"], inputs: Record<S["i"], number>) => Record<S["o"], number | null>;
}

function prod(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Complex bins of a real FFT of length n: floor(n/2) + 1. */
function bins(n: number): number {
  return Math.floor(n / 2) + 1;
}

function keptSize(shape: readonly number[], axes: readonly number[]): number {
  let n = 1;
  for (let d = 0; d < shape.length; d++) if (!axes.includes(d)) n *= shape[d];
  return n;
}

/** Strided-copy attributes (see the `copyStrided` kernel). */
export interface CopyStridedAttrs {
  /** Element offset of the first source element. */
  srcOffset: number;
  /** Source strides per axis of `shape`. */
  srcStrides: readonly number[];
  /** Element offset of the first destination element. */
  dstOffset: number;
  /** Destination strides per axis of `shape`. */
  dstStrides: readonly number[];
  /** Iteration shape. */
  shape: readonly number[];
}

/** The signature of every kernel (semantics: {@link KERNELS}). */
export interface KernelSignatures {
  /** `y = op(x)`. */
  unary: KernelSig<"x", "y", { op: UnaryOp }>;
  /** `gx = g·op'(x)`. */
  unaryGrad: KernelSig<"x" | "y" | "g", "gx", { op: UnaryOp }>;
  /** Broadcasting `y = op(a, b)`. */
  binary: KernelSig<
    "a" | "b",
    "y",
    { op: BinaryOp; shape: readonly number[]; aStrides: readonly number[]; bStrides: readonly number[] }
  >;
  /** `y = cond ≠ 0 ? a : b`. */
  where: KernelSig<
    "cond" | "a" | "b",
    "y",
    {
      shape: readonly number[];
      condStrides: readonly number[];
      aStrides: readonly number[];
      bStrides: readonly number[];
    }
  >;
  /** `y = op(x, s)`. */
  binaryScalar: KernelSig<"x", "y", { op: BinaryOp; s: number; reverse: boolean }>;
  /** `y = x·alpha + z·beta`. */
  axpby: KernelSig<"x" | "z", "y", { alpha: number; beta: number }>;
  /** Strided copy into `dst`. */
  copyStrided: KernelSig<"src", "dst", CopyStridedAttrs>;
  /** Reduction over axes. */
  reduce: KernelSig<"x", "y", { op: ReduceOp; shape: readonly number[]; axes: readonly number[] }>;
  /** Batched matrix product. */
  matmul: KernelSig<"a" | "b" | "bias", "c", MatmulAttrs, "bias">;
  /** (Log-)softmax. */
  softmax: KernelSig<"x", "y", SoftmaxAttrs>;
  /** Its gradient. */
  softmaxGrad: KernelSig<"y" | "g", "gx", SoftmaxAttrs>;
  /**
   * Fused scale + causal mask + softmax over the rows of `[rows, cols]` scores stacked in blocks of
   * `period` query positions, `offset` keys before the first (integers: rows >= 0, cols >= 1,
   * period >= 1, offset >= 0; scale finite).
   */
  causalSoftmax: KernelSig<
    "x",
    "y",
    { rows: number; cols: number; scale: number; period: number; offset: number },
    never,
    true
  >;
  /** Its gradient (times scale). */
  causalSoftmaxGrad: KernelSig<
    "y" | "g",
    "gx",
    { rows: number; cols: number; scale: number; period: number; offset: number },
    never,
    true
  >;
  /**
   * Causal scaled-dot-product attention (fused, optional): `out` and the saved `probs` from q, k, v,
   * see {@link CausalAttentionAttrs}.
   */
  causalAttention: KernelSig<"q" | "k" | "v", "out" | "probs", CausalAttentionAttrs, "probs", true>;
  /** Its gradients (fused, optional): the ones asked for by `needQ` / `needK` / `needV`. */
  causalAttentionGrad: KernelSig<
    "q" | "k" | "v" | "probs" | "gOut",
    "gq" | "gk" | "gv",
    CausalAttentionAttrs & { needQ: boolean; needK: boolean; needV: boolean },
    "q" | "k" | "gq" | "gk" | "gv",
    true
  >;
  /** `y[r] = x[r, index[r]]`. */
  gatherLast: KernelSig<"x", "y", { rows: number; cols: number; index: Int32Array }>;
  /** Inverse of gatherLast; with `accumulate`, adds into a `y` the caller passes. */
  scatterLast: KernelSig<"g", "y", { rows: number; cols: number; index: Int32Array; accumulate?: boolean }>;
  /** Row gather. */
  indexSelectRows: KernelSig<"x", "y", { rowSize: number; index: Int32Array }>;
  /** Row scatter-add. */
  indexAddRows: KernelSig<"g", "y", { numRows: number; rowSize: number; index: Int32Array }>;
  /** Fused Adam/AdamW update in place. */
  adamStep: KernelSig<"g", "p" | "m" | "v" | "vmax", AdamStepParams, "vmax", true>;
  /** Fused RMSNorm. */
  rmsNorm: KernelSig<"x" | "weight", "y" | "rstd", { rows: number; d: number; eps: number }, "weight", true>;
  /** Its gradient; `needWeightGrad` only when weight is given and its gradient is wanted. */
  rmsNormGrad: KernelSig<
    "g" | "x" | "weight" | "rstd",
    "gx" | "gw",
    { rows: number; d: number; needWeightGrad: boolean },
    "weight" | "gw",
    true
  >;
  /** Fused SwiGLU. */
  swiglu: KernelSig<"gate" | "up", "y", Record<never, never>, never, true>;
  /** Its gradient. */
  swigluGrad: KernelSig<"gate" | "up" | "g", "gGate" | "gUp", Record<never, never>, never, true>;
  /** Fused rotary embedding (or its transpose). */
  rotaryEmb: KernelSig<"x" | "cos" | "sin", "y", RotaryParams & { inverse: boolean }, never, true>;
  /** Batched real FFT `[batch, n]` → `[batch, floor(n/2)+1, 2]`. */
  rfft: KernelSig<"x", "y", FftAttrs>;
  /** Batched inverse real FFT `[batch, floor(n/2)+1, 2]` → `[batch, n]` (divides by n). */
  irfft: KernelSig<"x", "y", FftAttrs>;
  /** C3A forward product of spectra: `ys[r, i] = Σ_j xs[r, j] ∘ conj(ws[i, j])`. */
  c3aSpectralForward: KernelSig<"xs" | "ws", "ys", C3AAttrs>;
  /** C3A input-gradient product of spectra: `gxs[r, j] = Σ_i gs[r, i] ∘ ws[i, j]`. */
  c3aSpectralInputGrad: KernelSig<"gs" | "ws", "gxs", C3AAttrs>;
  /** C3A kernel-gradient product of spectra: `gws[i, j] = Σ_r xs[r, j] ∘ conj(gs[r, i])`. */
  c3aSpectralKernelGrad: KernelSig<"xs" | "gs", "gws", C3AAttrs>;
  /** Fused C3A forward `y = x·Aᵀ` from x and the kernel spectrum. */
  c3aForward: KernelSig<"x" | "ws", "y", C3AAttrs, never, true>;
  /** Fused C3A backward: `gradX = g·A` and/or `gradKernel` (x needed only for the latter). */
  c3aBackward: KernelSig<
    "x" | "ws" | "g",
    "gradX" | "gradKernel",
    C3AAttrs & { inputGrad: boolean; kernelGrad: boolean },
    "x" | "ws" | "gradX" | "gradKernel",
    true
  >;
  /** `a·op(b + getCirculant(kernel))` (+ bias), never forming the dense sum (fused, optional). */
  circulantMatmul: KernelSig<"a" | "b" | "kernel" | "bias", "c", CirculantMatmulAttrs, "bias", true>;
  /** Dense block-circulant matrix `[m·b, n·b]` of a kernel `[m, n, b]`, plus `base` when given. */
  getCirculant: KernelSig<"kernel" | "base", "a", { m: number; n: number; b: number }, "base">;
}

/** Attributes of the FFT kernels: `batch` signals of length `n`. */
export interface FftAttrs {
  /** Signal length, integer in [1, 2^27]. */
  n: number;
  /** Number of signals, integer >= 0. */
  batch: number;
}

/** Attributes of the softmax kernels: the softmax axis of x viewed as `[outer, dim, inner]`. */
export interface SoftmaxAttrs {
  /** Product of the axes before. */
  outer: number;
  /** The softmax axis. */
  dim: number;
  /** Product of the axes after. */
  inner: number;
  /** Log-softmax. */
  log: boolean;
}

/** The runtime declarations, one per kernel. */
export type KernelDeclarations = { [K in keyof KernelSignatures]: KernelDecl<KernelSignatures[K]> };

/**
 * Every kernel, declared once. Semantics per kernel:
 *
 * - `unary`: `y[i] = op(x[i])`. `unaryGrad`: `gx[i] = g[i]·op'(x[i])` given the input x, the forward
 *   output y (either may be used) and the upstream g.
 * - `binary`: broadcasting `y = op(a, b)`; `shape` is the broadcast shape, `aStrides`/`bStrides` read
 *   each operand in it (0 along broadcast axes). `where`: `y = cond ≠ 0 ? a : b`, likewise strided.
 * - `binaryScalar`: `y[i] = op(x[i], s)` (`op(s, x[i])` when `reverse`). `axpby`: `y = x·alpha + z·beta`.
 * - `copyStrided`: for every index i of `shape`, `dst[dstOffset + i·dstStrides] =
 *   src[srcOffset + i·srcStrides]` (dst is passed by the caller; transpose, slice, concat, …).
 * - `reduce`: reduces x (shape `shape`) over the sorted `axes`; kept-dims result, row-major. `sum`
 *   accumulates in float64; `max`/`min` propagate NaN; empty reductions give 0 / −∞ / +∞.
 * - `matmul`: `C[b] = op(A[b])·op(B[b]) (+ bias)`, see {@link MatmulAttrs}; result `[batch, m, n]`.
 * - `softmax` / `softmaxGrad`: (log-)softmax over the middle axis of `[outer, dim, inner]`, and its
 *   gradient from the output y: softmax `y·(g − Σ g·y)`, log-softmax `g − exp(y)·Σ g`.
 * - `causalSoftmax` (fused): with `lim(i) = min((i mod period) + offset, cols − 1)` (row i is query
 *   position `i mod period`), row i of `[rows, cols]` is `y[i, j] = softmax_{j <= lim(i)}(scale·x[i, j])`
 *   (float32 products, float64 normaliser) and 0 for j > lim(i); entries of x past lim(i) are never
 *   read into the result (they may hold anything). Equals `softmax(scale·x + mask)` with a 0 / −∞ causal mask. `causalSoftmaxGrad` (fused): from the
 *   output y and upstream g, `gx[i, j] = scale·y·(g − Σ_{j' <= lim(i)} g·y)` for j <= lim(i), 0 beyond
 *   (g past lim(i) never read into the result).
 * - `causalAttention` / `causalAttentionGrad` (fused): causal attention and its gradients in one
 *   call each, see {@link CausalAttentionAttrs}.
 * - `gatherLast`: `y[r] = x[r, index[r]]` of `[rows, cols]` (0 where index < 0); `scatterLast` its
 *   inverse (`[rows, cols]` zeros with `y[r, index[r]] = g[r]`); with `accumulate` the caller passes
 *   `y` `[rows, cols]` and only `y[r, index[r]] += g[r]` is written, every other element kept
 *   (PyTorch's `index_put_(…, accumulate=True)` with one index per row); `indexSelectRows`: `y[i, :] = x[index[i], :]`; `indexAddRows`: `y[index[i], :] += g[i, :]`.
 * - `adamStep` (fused): one Adam/AdamW update of p, m, v (and vmax for AMSGrad) in place from g
 *   ({@link AdamStepParams}; PyTorch's single-tensor algorithm).
 * - `rmsNorm` (fused): `rstd = 1/√(mean(x², −1) + eps)` `[rows]`, `y = x·rstd·weight` `[rows, d]`;
 *   `rmsNormGrad` (fused): with `n = x·rstd`, `gn = g·weight`: `gx = rstd·(gn − n·mean(gn·n, −1))`,
 *   `gw = Σ_rows g·n` when weight is given and `needWeightGrad`.
 * - `swiglu` (fused): `y = silu(gate)·up`; `swigluGrad`: `gGate = g·up·silu'(gate)`, `gUp = g·silu(gate)`.
 * - `rotaryEmb` (fused): `y = x·cos + swapHalves(x)·sin` with signed-sine tables; with `inverse` the
 *   transposed rotation (the gradient). Layout: {@link RotaryParams}.
 * - `rfft`: `batch` real signals `[batch, n]` → spectra `[batch, F, 2]` (F = floor(n/2)+1, interleaved
 *   re/im, unnormalised like `numpy.fft.rfft`); `irfft`: the inverse (divides by n; the imaginary parts
 *   of bin 0 and, for even n, bin n/2 are ignored).
 * - C3A (spec/c3a.md §1.3–§1.4), kernel `w` `[m, n, b]`, F = floor(b/2)+1, spectra as `rfft` writes
 *   them: the kernel spectrum `ws = rfft(w)` `[m, n, F, 2]`, x spectra `xs` `[rows, n, F, 2]`, y / g
 *   spectra `[rows, m, F, 2]`. `c3aSpectralForward`, `c3aSpectralInputGrad`, `c3aSpectralKernelGrad`
 *   are the per-frequency block products; with `rfft`/`irfft` around them they give the forward
 *   `y = x·Aᵀ`, the input gradient `g·A` and the kernel gradient. `c3aForward` / `c3aBackward` (fused)
 *   do the whole pipeline in one kernel; `c3aBackward` fills gradKernel with 0 when rows = 0 and reads
 *   x only for the kernel gradient, ws only for the input gradient (either may be omitted otherwise).
 *   `circulantMatmul` (fused): `C = A·op(B + getCirculant(kernel))` (+ bias on every row) for one
 *   product, B as stored (`[n, k]` with transB, else `[k, n]`; float32 or a 16-bit weight converted tile by
 *   tile), where the sum is formed inside the
 *   kernel (never stored): C3A folded into its base weight for many rows (`circulantLinear`).
 *   `getCirculant`: `A[i·b + s][j·b + t] = w[i][j][(t − s) mod b]`, plus `base[i·b + s][j·b + t]` when
 *   the optional `base` `[m·b, n·b]` is given (a Linear weight: `W + A` in one pass).
 */
export const KERNELS: KernelDeclarations = {
  unary: { inputs: ["x"], outputs: ["y"], sizes: (_, i) => ({ y: i.x }) },
  unaryGrad: {
    inputs: ["x", "y", "g"],
    outputs: ["gx"],
    sizes: (_, i) => ({ gx: i.g }),
  },
  binary: { inputs: ["a", "b"], outputs: ["y"], sizes: (a) => ({ y: prod(a.shape) }) },
  where: { inputs: ["cond", "a", "b"], outputs: ["y"], sizes: (a) => ({ y: prod(a.shape) }) },
  binaryScalar: {
    inputs: ["x"],
    outputs: ["y"],
    sizes: (_, i) => ({ y: i.x }),
  },
  axpby: {
    inputs: ["x", "z"],
    outputs: ["y"],
    sizes: (_, i) => ({ y: i.x }),
  },
  copyStrided: { inputs: ["src"], outputs: ["dst"] },
  reduce: {
    inputs: ["x"],
    outputs: ["y"],
    sizes: (a) => ({ y: keptSize(a.shape, a.axes) }),
  },
  matmul: {
    inputs: ["a", "b", "bias"],
    outputs: ["c"],
    optional: ["bias"],
    half: ["b"],
    sizes: (a) => ({ c: a.batch * a.m * a.n }),
  },
  softmax: {
    inputs: ["x"],
    outputs: ["y"],
    sizes: (_, i) => ({ y: i.x }),
  },
  softmaxGrad: {
    inputs: ["y", "g"],
    outputs: ["gx"],
    sizes: (_, i) => ({ gx: i.y }),
  },
  causalSoftmax: {
    inputs: ["x"],
    outputs: ["y"],
    fused: true,
    sizes: (a) => ({ y: a.rows * a.cols }),
  },
  causalSoftmaxGrad: {
    inputs: ["y", "g"],
    outputs: ["gx"],
    fused: true,
    sizes: (a) => ({ gx: a.rows * a.cols }),
  },
  causalAttention: {
    inputs: ["q", "k", "v"],
    outputs: ["out", "probs"],
    optional: ["probs"],
    fused: true,
    sizes: (a) => ({
      out: a.batch * a.group * a.l * a.dv,
      probs: a.saveProbs === false ? null : a.batch * a.group * a.l * a.s,
    }),
  },
  causalAttentionGrad: {
    inputs: ["q", "k", "v", "probs", "gOut"],
    outputs: ["gq", "gk", "gv"],
    optional: ["q", "k", "gq", "gk", "gv"],
    fused: true,
    sizes: (a) => ({
      gq: a.needQ ? a.batch * a.group * a.l * a.d : null,
      gk: a.needK ? a.batch * a.s * a.d : null,
      gv: a.needV ? a.batch * a.s * a.dv : null,
    }),
  },
  gatherLast: {
    inputs: ["x"],
    outputs: ["y"],
    zeroed: ["y"],
    sizes: (a) => ({ y: a.rows }),
  },
  scatterLast: {
    inputs: ["g"],
    outputs: ["y"],
    zeroed: ["y"],
    sizes: (a) => ({ y: a.rows * a.cols }),
  },
  indexSelectRows: {
    inputs: ["x"],
    outputs: ["y"],
    half: ["x"],
    sizes: (a) => ({ y: a.index.length * a.rowSize }),
  },
  indexAddRows: {
    inputs: ["g"],
    outputs: ["y"],
    zeroed: ["y"],
    sizes: (a) => ({ y: a.numRows * a.rowSize }),
  },
  adamStep: {
    inputs: ["g"],
    outputs: ["p", "m", "v", "vmax"],
    optional: ["vmax"],
    fused: true,
  },
  rmsNorm: {
    inputs: ["x", "weight"],
    outputs: ["y", "rstd"],
    optional: ["weight"],
    zeroed: ["rstd"],
    fused: true,
    sizes: (a) => ({ y: a.rows * a.d, rstd: a.rows }),
  },
  rmsNormGrad: {
    inputs: ["g", "x", "weight", "rstd"],
    outputs: ["gx", "gw"],
    optional: ["weight", "gw"],
    fused: true,
    sizes: (a) => ({ gx: a.rows * a.d, gw: a.needWeightGrad ? a.d : null }),
  },
  swiglu: {
    inputs: ["gate", "up"],
    outputs: ["y"],
    fused: true,
    sizes: (_, i) => ({ y: i.gate }),
  },
  swigluGrad: {
    inputs: ["gate", "up", "g"],
    outputs: ["gGate", "gUp"],
    fused: true,
    sizes: (_, i) => ({ gGate: i.gate, gUp: i.gate }),
  },
  rotaryEmb: {
    inputs: ["x", "cos", "sin"],
    outputs: ["y"],
    fused: true,
    sizes: (_, i) => ({ y: i.x }),
  },
  rfft: { inputs: ["x"], outputs: ["y"], sizes: (a) => ({ y: a.batch * bins(a.n) * 2 }) },
  irfft: { inputs: ["x"], outputs: ["y"], sizes: (a) => ({ y: a.batch * a.n }) },
  c3aSpectralForward: {
    inputs: ["xs", "ws"],
    outputs: ["ys"],
    sizes: (a) => ({ ys: a.rows * a.m * bins(a.b) * 2 }),
  },
  c3aSpectralInputGrad: {
    inputs: ["gs", "ws"],
    outputs: ["gxs"],
    sizes: (a) => ({ gxs: a.rows * a.n * bins(a.b) * 2 }),
  },
  c3aSpectralKernelGrad: {
    inputs: ["xs", "gs"],
    outputs: ["gws"],
    sizes: (a) => ({ gws: a.m * a.n * bins(a.b) * 2 }),
  },
  c3aForward: { inputs: ["x", "ws"], outputs: ["y"], fused: true, sizes: (a) => ({ y: a.rows * a.m * a.b }) },
  c3aBackward: {
    inputs: ["x", "ws", "g"],
    outputs: ["gradX", "gradKernel"],
    optional: ["x", "ws", "gradX", "gradKernel"],
    fused: true,
    sizes: (a) => ({
      gradX: a.inputGrad ? a.rows * a.n * a.b : null,
      gradKernel: a.kernelGrad ? a.m * a.n * a.b : null,
    }),
  },
  circulantMatmul: {
    inputs: ["a", "b", "kernel", "bias"],
    outputs: ["c"],
    optional: ["bias"],
    half: ["b"],
    fused: true,
    sizes: (a) => ({ c: a.m * a.n }),
  },
  getCirculant: {
    inputs: ["kernel", "base"],
    outputs: ["a"],
    optional: ["base"],
    sizes: (a) => ({ a: a.m * a.b * a.n * a.b }),
  },
};

/** The name of a kernel of {@link KERNELS}. */
export type KernelName = keyof KernelSignatures;

/** The attributes of kernel `K`. */
export type KernelAttrs<K extends KernelName> = KernelSignatures[K]["a"];

/** Storages a caller passes to kernel `K` (optional ones may be omitted or null). */
export type KernelInputs<K extends KernelName, S = Storage> =
  & { [P in Exclude<KernelSignatures[K]["i"], KernelSignatures[K]["p"]>]: S }
  & { [P in Extract<KernelSignatures[K]["i"], KernelSignatures[K]["p"]>]?: S | null };

/** Outputs of kernel `K` as returned by `Backend.run` (optional ones null when not produced). */
export type KernelOutputs<K extends KernelName, S = Storage> =
  & { [P in Exclude<KernelSignatures[K]["o"], KernelSignatures[K]["p"]>]: S }
  & { [P in Extract<KernelSignatures[K]["o"], KernelSignatures[K]["p"]>]: S | null };

/** Output storages a caller may pass in (written in place instead of allocating). */
export type KernelOutputArgs<K extends KernelName, S = Storage> = Partial<KernelOutputs<K, S>>;

/**
 * An executor's implementation of kernel `K` over its storage handles `H` (a wasm array, a GPU
 * buffer id, …) and a context `C` (the executor itself): reads `inputs`, writes `outputs`
 * (absent optional ones are null). Inputs are already validated by the op.
 */
export type KernelImpl<K extends KernelName, H, C = void> = (
  inputs: { [P in KernelSignatures[K]["i"]]: P extends KernelSignatures[K]["p"] ? H | null : H },
  outputs: { [P in KernelSignatures[K]["o"]]: P extends KernelSignatures[K]["p"] ? H | null : H },
  attrs: KernelAttrs<K>,
  ctx: C,
) => void;

/** Names of the kernels every executor must implement. */
export type RequiredKernel = {
  [K in KernelName]: KernelSignatures[K]["f"] extends true ? never : K;
}[KernelName];
/** Names of the optional (fused fast-path) kernels. */
export type FusedKernel = Exclude<KernelName, RequiredKernel>;

/** An executor's kernel implementations: every required kernel, any subset of the fused ones. */
export type KernelTable<H, C = void> =
  & { [K in RequiredKernel]: KernelImpl<K, H, C> }
  & { [K in FusedKernel]?: KernelImpl<K, H, C> };

/** Every kernel name, in declaration order. */
export const KERNEL_NAMES: readonly KernelName[] = Object.keys(KERNELS) as KernelName[];
