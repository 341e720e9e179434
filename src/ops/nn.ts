/**
 * Neural-network ops with autograd, the pieces a Llama-style decoder needs: {@link rmsNorm},
 * {@link layerNorm}, {@link swiglu}, {@link embedding}, {@link dropout}, rotary position embeddings
 * ({@link applyRotaryEmb}, Hugging Face `rotate_half` convention) and causal scaled-dot-product
 * attention with grouped key/value heads ({@link scaledDotProductAttention}).
 *
 * Every op computes its forward through backend kernels (directly or via the core ops in this folder,
 * under no-grad) and records one autograd node with a hand-derived backward, so the graph holds one
 * node per op and the saved tensors are the few the backward needs. rmsNorm, swiglu and
 * applyRotaryEmb use the backend's optional fused kernels (`rmsNorm`, `swiglu`, `rotaryEmb` where `Backend.supports` them)
 * when present and compose core ops otherwise. All tensors are float32.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { isGradEnabled, noGrad } from "../autograd/grad_mode.ts";
import type { Backend, MatmulCausal, Storage } from "../backend/backend.ts";
import type { CausalAttentionAttrs } from "../backend/kernels.ts";
import { Tensor } from "../tensor/tensor.ts";
import { sameBackend } from "../tensor/placement.ts";
import { keep } from "../tensor/scope.ts";
import { broadcastStrides, fmtShape, sizeOf } from "../tensor/shape.ts";
import { defaultGenerator, type Generator } from "../tensor/random.ts";
import { add, mul, rsqrt, square, sub } from "./elementwise.ts";
import { silu } from "./activation.ts";
import { mean, sumToShape } from "./reduce.ts";
import { type IndexLike, toIndexArray } from "./indexing.ts";

function lastDim(x: Tensor, what: string): number {
  if (x.ndim === 0) throw new RangeError(`${what}: input must have at least 1 dimension, got a 0-d tensor`);
  return x.shape[x.ndim - 1];
}

function checkVec(w: Tensor | null | undefined, d: number, what: string, name: string): void {
  if (w && (w.ndim !== 1 || w.shape[0] !== d)) {
    throw new RangeError(
      `${what}: ${name} must have shape [${d}] (the input's last dimension), got ${fmtShape(w.shape)}`,
    );
  }
}

function checkEps(eps: number, what: string): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) {
    throw new RangeError(`${what}: eps must be a finite number >= 0, got ${eps}`);
  }
}

// ------------------------------------------------------------------------------------------ norms

/**
 * Root-mean-square layer norm over the last dimension:
 * `y = x / sqrt(mean(x², -1) + eps) · weight` (Zhang & Sennrich 2019; Hugging Face
 * `LlamaRMSNorm`, which also computes in float32). x `[..., D]`, weight `[D]` or null (no scale) →
 * `[..., D]`.
 *
 * Backward (n = x·r, r = (mean(x²)+eps)^-½, gn = g·w): `gx = r·(gn − n·mean(gn·n, -1))`,
 * `gw = Σ_rows g·n`.
 *
 * @throws {RangeError} when x is 0-d, weight is not `[D]`, or eps is negative / not finite.
 * @example
 * ```ts
 * import { ones, randn } from "@c3a/c3a";
 *
 * const y = rmsNorm(randn([2, 5, 32]), ones([32]), 1e-6);
 * ```
 */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  const d = lastDim(x, "rmsNorm");
  checkVec(weight, d, "rmsNorm", "weight");
  checkEps(eps, "rmsNorm");
  const b = sameBackend("rmsNorm", { input: x, weight });
  if (b.supports("rmsNorm") && b.supports("rmsNormGrad") && x.size > 0) {
    // fused backend kernels (one pass forward, one backward); saves x and rstd [rows]
    const rows = x.size / d;
    const w = weight ? weight.storage : null;
    const { y, rstd } = b.rmsNorm(x.storage, w, rows, d, eps);
    const out = Tensor.fromStorage(y, x.shape);
    const rstdT = Tensor.fromStorage(rstd, [rows]); // owned by the scope like any intermediate
    return recordOp("rmsNorm", out, weight ? [x, weight] : [x], (g, need) => {
      const needW = !!weight && need[1];
      const r = b.rmsNormGrad(g.storage, x.storage, w, rstdT.storage, rows, d, needW);
      const gx = need[0] ? Tensor.fromStorage(r.gx, x.shape) : (b.dispose(r.gx), null);
      return [gx, r.gw && needW ? Tensor.fromStorage(r.gw, weight!.shape) : null];
    });
  }
  let r!: Tensor, n!: Tensor;
  const out = noGrad(() => {
    r = rsqrt(add(mean(square(x), -1, true), eps));
    n = mul(x, r);
    return weight ? mul(n, weight) : n;
  });
  const inputs = weight ? [x, weight] : [x];
  return recordOp("rmsNorm", out, inputs, (g, need) => {
    const gn = weight ? mul(g, weight) : g;
    const gx = need[0] ? mul(r, sub(gn, mul(n, mean(mul(gn, n), -1, true)))) : null;
    const gw = weight && need[1] ? sumToShape(mul(g, n), weight.shape) : null;
    return [gx, gw];
  });
}

/**
 * Layer normalisation over the last dimension (PyTorch `F.layer_norm(x, [D], weight, bias, eps)`,
 * biased variance): `y = (x − mean) / sqrt(var + eps) · weight + bias`. x `[..., D]`, weight and bias
 * `[D]` or null → `[..., D]`. Only the last dimension is normalised.
 *
 * Backward (n = normalised x, r = (var+eps)^-½, gn = g·w):
 * `gx = r·(gn − mean(gn) − n·mean(gn·n))`, `gw = Σ_rows g·n`, `gb = Σ_rows g`.
 *
 * @throws {RangeError} when x is 0-d, weight/bias are not `[D]`, or eps is negative / not finite.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const d = lastDim(x, "layerNorm");
  checkVec(weight, d, "layerNorm", "weight");
  checkVec(bias, d, "layerNorm", "bias");
  checkEps(eps, "layerNorm");
  sameBackend("layerNorm", { input: x, weight, bias });
  let r!: Tensor, n!: Tensor;
  const out = noGrad(() => {
    const xc = sub(x, mean(x, -1, true));
    r = rsqrt(add(mean(square(xc), -1, true), eps));
    n = mul(xc, r);
    let y = weight ? mul(n, weight) : n;
    if (bias) y = add(y, bias);
    return y;
  });
  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  return recordOp("layerNorm", out, inputs, (g, need) => {
    const grads: Array<Tensor | null> = [];
    if (need[0]) {
      const gn = weight ? mul(g, weight) : g;
      grads.push(mul(r, sub(sub(gn, mean(gn, -1, true)), mul(n, mean(mul(gn, n), -1, true)))));
    } else grads.push(null);
    let i = 1;
    if (weight) grads.push(need[i++] ? sumToShape(mul(g, n), weight.shape) : null);
    if (bias) grads.push(need[i++] ? sumToShape(g, bias.shape) : null);
    return grads;
  });
}

// ------------------------------------------------------------------------------------------ SwiGLU

/**
 * The gated activation of Llama-style MLPs: `silu(gate) · up` elementwise (SwiGLU, Shazeer 2020
 * "GLU Variants Improve Transformer"; Hugging Face `LlamaMLP` computes
 * `act_fn(gate_proj(x)) * up_proj(x)` with `hidden_act="silu"`). Equal shapes use the backend's
 * fused kernel when it has one (one pass forward, one backward, no saved intermediates); otherwise,
 * and for broadcasting shapes, it is `mul(silu(gate), up)`.
 *
 * @param gate `[..., F]` pre-activation of the gate projection.
 * @param up same shape as `gate` (or broadcastable with it).
 * @returns the broadcast shape of the two.
 * @throws {RangeError} when the shapes do not broadcast.
 * @example
 * ```ts
 * import { nn, randn } from "@c3a/c3a";
 * const { swiglu } = nn.functional;
 *
 * const h = swiglu(randn([2, 5, 64]), randn([2, 5, 64])); // [2, 5, 64]
 * ```
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const b = sameBackend("swiglu", { gate, up });
  const same = gate.ndim === up.ndim && gate.shape.every((n, i) => n === up.shape[i]);
  if (!same || !b.supports("swiglu") || !b.supports("swigluGrad") || up.backend !== b || gate.size === 0) {
    return mul(silu(gate), up);
  }
  const out = Tensor.fromStorage(b.swiglu(gate.storage, up.storage), gate.shape);
  return recordOp("swiglu", out, [gate, up], (g, need) => {
    const r = b.swigluGrad(gate.storage, up.storage, g.storage);
    const gg = need[0] ? Tensor.fromStorage(r.gGate, gate.shape) : (b.dispose(r.gGate), null);
    const gu = need[1] ? Tensor.fromStorage(r.gUp, up.shape) : (b.dispose(r.gUp), null);
    return [gg, gu];
  });
}

// ------------------------------------------------------------------------------------------ embedding

/** Options of {@link embedding}. */
export interface EmbeddingOptions {
  /** Shape of `ids` (default: the Tensor's shape, or `[ids.length]`). */
  shape?: readonly number[];
  /**
   * Row whose gradient is always zero (PyTorch `padding_idx`; the row itself is used as stored).
   * Negative values count from the end.
   */
  paddingIdx?: number;
}

/**
 * Looks up rows of `weight` `[numEmbeddings, dim]` for integer `ids` (any shape S) → `[...S, dim]`.
 * Backward scatter-adds the output gradient into the selected rows (repeated ids accumulate); the
 * `paddingIdx` row receives no gradient. Mirrors `torch.nn.functional.embedding`.
 *
 * @param ids token ids: Int32Array, number[] or a float Tensor holding integers.
 * @throws {RangeError} when weight is not 2-D, an id is not an integer in `[0, numEmbeddings)`, or
 *   `shape` does not hold the id count.
 * @example
 * ```ts
 * import { randn, tensor } from "@c3a/c3a";
 *
 * const h = embedding(tensor([1, 4, 2, 0], [2, 2]), randn([16, 32])); // [2, 2, 32]
 * ```
 */
export function embedding(ids: IndexLike, weight: Tensor, opts: EmbeddingOptions = {}): Tensor {
  if (weight.ndim !== 2) {
    throw new RangeError(`embedding: weight must be [numEmbeddings, dim], got ${fmtShape(weight.shape)}`);
  }
  const [num, dim] = weight.shape;
  const idx = toIndexArray(ids, "embedding");
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= num) {
      throw new RangeError(`embedding: id ${idx[i]} at position ${i} is out of range [0, ${num})`);
    }
  }
  const ishape = opts.shape ?? (ids instanceof Tensor ? ids.shape : [idx.length]);
  if (sizeOf(ishape) !== idx.length) {
    throw new RangeError(`embedding: shape ${fmtShape(ishape)} does not hold ${idx.length} ids`);
  }
  let pad = opts.paddingIdx;
  if (pad !== undefined) {
    if (!Number.isInteger(pad) || pad < -num || pad >= num) {
      throw new RangeError(`embedding: paddingIdx must be an integer in [${-num}, ${num}), got ${pad}`);
    }
    if (pad < 0) pad += num;
  }
  const b = weight.backend;
  const out = Tensor.fromStorage(b.indexSelectRows(weight.storage, dim, idx), [...ishape, dim]);
  return recordOp("embedding", out, [weight], (g) => {
    const gw = b.indexAddRows(g.storage, num, dim, idx);
    if (pad !== undefined) {
      const zero = b.full(dim, 0);
      b.copyStrided(zero, 0, [1], gw, pad * dim, [1], [dim]);
      b.dispose(zero);
    }
    return [Tensor.fromStorage(gw, weight.shape)];
  });
}

// ------------------------------------------------------------------------------------------ dropout

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Random source (default the global generator seeded by `manualSeed`). */
  generator?: Generator;
}

/**
 * Inverted dropout: in training, zeroes each element with probability `p` and scales the others by
 * `1/(1−p)`; the identity when `training` is false or `p` is 0. The mask comes from the seeded
 * generator (deterministic for a given seed). Mirrors `torch.nn.functional.dropout(x, p, training)`.
 *
 * @throws {RangeError} when `p` is not in [0, 1].
 */
export function dropout(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const g = opts.generator ?? defaultGenerator;
  const m = new Float32Array(x.size);
  const keepScale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < m.length; i++) m[i] = g.nextFloat() >= p ? keepScale : 0;
  const mask = Tensor.fromStorage(x.backend.fromArray(m, true), x.shape);
  return mul(x, mask);
}

// ------------------------------------------------------------------------------------------ rotary

/** Options of {@link applyRotaryEmb}. */
export interface RotaryOptions {
  /**
   * Position of each token: `[T]` (shared by the batch) or `[B, T]` row-major; default `0..T-1`.
   * Integers or (for scaled schemes) any finite numbers.
   */
  positions?: ArrayLike<number>;
  /** Base of the frequencies (Hugging Face `rope_theta`), default 10000. */
  theta?: number;
  /**
   * Inverse frequencies `[D/2]` to use instead of `theta^(−2i/D)` (a scaled RoPE scheme, e.g. Llama 3's
   * `rope_scaling`; Hugging Face's `inv_freq` buffer); positive finite numbers. `theta` is then unused.
   */
  invFreq?: ArrayLike<number>;
  /**
   * Axis layout of `x`: "BHTD" (default; `[batch, heads, seq, headDim]`, where Hugging Face applies
   * it after the head transpose) or "BTHD" (`[batch, seq, heads, headDim]`, straight out of the
   * projection reshape).
   */
  layout?: "BHTD" | "BTHD";
}

const ropeCache = new Map<string, { cos: Tensor; sin: Tensor }>();

/**
 * cos / signed-sin tables `[P, D]` for positions `pos`: for i < D/2 the angle of column i and i+D/2 is
 * `pos · invFreq[i]`, `invFreq[i] = 1 / theta^(2i/D)`; the sine table's first half is negated so that
 * `rotate_half(x)·sin == swapHalves(x)·sinSigned`. Computed like Hugging Face's float32 path (inverse
 * frequencies and angles rounded to float32, then cos/sin).
 */
function ropeTables(
  b: Backend,
  pos: ArrayLike<number>,
  d: number,
  theta: number,
  cached: boolean,
  invFreq?: ArrayLike<number>,
): { cos: Tensor; sin: Tensor } {
  const half = d / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    inv[i] = invFreq
      ? Math.fround(invFreq[i])
      : Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / d)));
  }
  const cos = new Float32Array(pos.length * d), sin = new Float32Array(pos.length * d);
  for (let p = 0; p < pos.length; p++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(Math.fround(pos[p]) * inv[i]);
      const c = Math.cos(a), s = Math.sin(a);
      cos[p * d + i] = c;
      cos[p * d + i + half] = c;
      sin[p * d + i] = -s;
      sin[p * d + i + half] = s;
    }
  }
  const c = Tensor.fromStorage(b.fromArray(cos, true), [pos.length, d]);
  const s = Tensor.fromStorage(b.fromArray(sin, true), [pos.length, d]);
  // cached tables outlive any tidy scope; per-call tables are released with the call's scope
  return cached ? { cos: keep(c), sin: keep(s) } : { cos: c, sin: s };
}

/** `[..., D]` → `[..., D]` with the two halves of the last axis swapped (its own transpose). */
function swapHalves(x: Tensor): Tensor {
  const d = x.shape[x.ndim - 1], half = d / 2, rows = x.size / d;
  const b = x.backend;
  const out = b.full(x.size, 0);
  b.copyStrided(x.storage, half, [d, 1], out, 0, [d, 1], [rows, half]);
  b.copyStrided(x.storage, 0, [d, 1], out, half, [d, 1], [rows, half]);
  return Tensor.fromStorage(out, x.shape);
}

/**
 * Rotary position embedding (Su et al. 2021, RoFormer) in Hugging Face's convention
 * (`apply_rotary_pos_emb` with `rotate_half`: the head dimension is split into two halves rather than
 * interleaved pairs): `y = x·cos + rotate_half(x)·sin`, `rotate_half([x1, x2]) = [−x2, x1]`, with
 * angle `pos · theta^(−2i/D)` for columns i and i + D/2.
 *
 * @param x `[B, H, T, D]` (default layout "BHTD") or `[B, T, H, D]` ("BTHD"); D even.
 * @returns same shape as x. The backward is the transposed rotation.
 * @throws {RangeError} when x is not 4-D, D is odd, `positions` has neither T nor B·T entries,
 *   theta is not a positive finite number, or `invFreq` has not D/2 positive finite entries.
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const q = randn([1, 4, 6, 8]); // [B, H, T, D]
 * const q2 = applyRotaryEmb(q, { theta: 10000 }); // same shape
 * ```
 */
export function applyRotaryEmb(x: Tensor, opts: RotaryOptions = {}): Tensor {
  if (x.ndim !== 4) {
    throw new RangeError(
      `applyRotaryEmb: x must be 4-D [B, H, T, D] or [B, T, H, D], got ${fmtShape(x.shape)}`,
    );
  }
  const layout = opts.layout ?? "BHTD";
  if (layout !== "BHTD" && layout !== "BTHD") {
    throw new RangeError(`applyRotaryEmb: unknown layout "${layout}"`);
  }
  const theta = opts.theta ?? 10000;
  if (!(theta > 0) || !Number.isFinite(theta)) {
    throw new RangeError(`applyRotaryEmb: theta must be > 0, got ${theta}`);
  }
  const [bsz, a1, a2, d] = x.shape;
  const t = layout === "BHTD" ? a2 : a1;
  if (d % 2 !== 0) throw new RangeError(`applyRotaryEmb: head dimension must be even, got ${d}`);
  const invFreq = opts.invFreq;
  if (invFreq !== undefined) {
    if (invFreq.length !== d / 2) {
      throw new RangeError(`applyRotaryEmb: invFreq has ${invFreq.length} entries; need D/2 = ${d / 2}`);
    }
    for (let i = 0; i < invFreq.length; i++) {
      if (!(invFreq[i] > 0) || !Number.isFinite(invFreq[i])) {
        throw new RangeError(
          `applyRotaryEmb: invFreq[${i}] must be a positive finite number, got ${invFreq[i]}`,
        );
      }
    }
  }
  const b = x.backend;
  let tables: { cos: Tensor; sin: Tensor };
  let perBatch = false;
  if (opts.positions === undefined) {
    const key = `${b.name}|${d}|${invFreq ? Array.from(invFreq).join(",") : theta}|${t}`;
    let c = ropeCache.get(key);
    if (!c || c.cos.isDisposed) {
      c = ropeTables(b, Array.from({ length: t }, (_, i) => i), d, theta, true, invFreq);
      ropeCache.set(key, c);
    }
    tables = c;
  } else {
    const pos = opts.positions;
    if (pos.length !== t && pos.length !== bsz * t) {
      throw new RangeError(
        `applyRotaryEmb: positions has ${pos.length} entries; need T=${t} or B·T=${bsz * t}`,
      );
    }
    for (let i = 0; i < pos.length; i++) {
      if (!Number.isFinite(pos[i])) throw new RangeError(`applyRotaryEmb: position ${i} is ${pos[i]}`);
    }
    perBatch = pos.length !== t || bsz === 1;
    tables = ropeTables(b, pos, d, theta, false, invFreq);
  }
  const pb = perBatch ? bsz : 1;
  if (b.supports("rotaryEmb") && x.size > 0) {
    // fused backend kernel: one pass forward, one (transposed rotation) backward
    const p = { batch: bsz, heads: layout === "BHTD" ? a1 : a2, seq: t, dim: d, layout, perBatch: pb > 1 };
    const cosS = tables.cos.storage, sinS = tables.sin.storage;
    const out = Tensor.fromStorage(b.rotaryEmb(x.storage, cosS, sinS, p, false), x.shape);
    return recordOp(
      "applyRotaryEmb",
      out,
      [x],
      (g) => [Tensor.fromStorage(b.rotaryEmb(g.storage, cosS, sinS, p, true), x.shape)],
    );
  }
  const tshape = layout === "BHTD" ? [pb, 1, t, d] : [pb, t, 1, d];
  const cos = tables.cos.reshape(tshape), sin = tables.sin.reshape(tshape);
  const out = noGrad(() => add(mul(x, cos), mul(swapHalves(x), sin)));
  return recordOp("applyRotaryEmb", out, [x], (g) => [add(mul(g, cos), swapHalves(mul(g, sin)))]);
}

// ------------------------------------------------------------------------------------------ attention

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /**
   * Causal mask: query i attends to keys j <= i (PyTorch `is_causal`: the mask is `tril(ones(L, S))`,
   * aligned top-left). Default false.
   */
  causal?: boolean;
  /** Multiplier of `q·kᵀ`; default `1/√D`. */
  scale?: number;
  /**
   * Additive float mask broadcastable to `[B, Hq, L, S]` (use `-Infinity` to block a key), added to
   * the scaled scores before the softmax; not differentiated. Mirrors a float `attn_mask`.
   */
  attnMask?: Tensor;
}

const causalCache = new Map<string, Storage>();

function causalMask(b: Backend, l: number, s: number): Storage {
  const key = `${b.name}|${l}|${s}`;
  let m = causalCache.get(key);
  if (!m || b.isDisposed(m)) {
    const d = new Float32Array(l * s);
    for (let i = 0; i < l; i++) for (let j = i + 1; j < s; j++) d[i * s + j] = -Infinity;
    m = b.fromArray(d, true);
    causalCache.set(key, m);
  }
  return m;
}

/**
 * Scaled dot-product attention with grouped key/value heads (GQA):
 * `out[b, h] = softmax(scale · q[b, h] · k[b, kv(h)]ᵀ + mask) · v[b, kv(h)]`, where query head h uses
 * key/value head `kv(h) = floor(h / (Hq / Hkv))` (the grouping of `repeat_kv` / `repeat_interleave` in
 * Hugging Face Llama). Mirrors `torch.nn.functional.scaled_dot_product_attention(q, k, v,
 * attn_mask, is_causal, scale, enable_gqa=True)` without dropout.
 *
 * Shapes: q `[B, Hq, L, D]`, k `[B, Hkv, S, D]`, v `[B, Hkv, S, Dv]` → `[B, Hq, L, Dv]`; Hq must be a
 * multiple of Hkv. The Hq/Hkv query heads that share a kv head are processed as one `[g·L, D]` matrix,
 * so no key/value copies are made: forward is two batched matmuls (batch B·Hkv) and a softmax; backward
 * is four batched matmuls and the fused softmax gradient. Saves the probabilities `[B, Hq, L, S]`. With
 * `causal` and no mask the products skip the masked triangle (the `MatmulCausal` hint), scale + mask +
 * softmax is one kernel (`causalSoftmax`), and an executor with the fused `causalAttention` kernels
 * (wasm) runs each direction in one call, with the same results.
 * Rows whose keys are all masked give NaN, as in PyTorch. First-order gradients only.
 *
 * @throws {RangeError} naming the shapes when ranks, batch sizes, head counts, D or S disagree, or
 *   `attnMask` does not broadcast to `[B, Hq, L, S]`.
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const q = randn([2, 4, 5, 8]), k = randn([2, 2, 5, 8]), v = randn([2, 2, 5, 8]);
 * const o = scaledDotProductAttention(q, k, v, { causal: true }); // [2, 4, 5, 8]
 * ```
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): Tensor {
  const shapes = () => `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new RangeError(`scaledDotProductAttention: q, k, v must be 4-D [B, H, T, D], got ${shapes()}`);
  }
  const [bsz, hq, l, d] = q.shape;
  const [bk, hkv, s, dk] = k.shape;
  const [bv, hv, sv, dv] = v.shape;
  if (bk !== bsz || bv !== bsz) {
    throw new RangeError(`scaledDotProductAttention: batch sizes differ: ${shapes()}`);
  }
  if (hv !== hkv || sv !== s) {
    throw new RangeError(`scaledDotProductAttention: k and v must agree on heads and length: ${shapes()}`);
  }
  if (dk !== d) throw new RangeError(`scaledDotProductAttention: q and k head dims differ: ${shapes()}`);
  if (hkv === 0 || hq % hkv !== 0) {
    throw new RangeError(
      `scaledDotProductAttention: query heads (${hq}) must be a multiple of kv heads (${hkv}): ${shapes()}`,
    );
  }
  sameBackend("scaledDotProductAttention", { query: q, key: k, value: v, attnMask: opts.attnMask });
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(scale)) {
    throw new RangeError(`scaledDotProductAttention: scale must be finite, got ${scale}`);
  }
  const b = q.backend;
  const g = hq / hkv, batch = bsz * hkv, gl = g * l;
  const rows = bsz * hq * l;
  const full = [bsz, hq, l, s];
  let maskStrides: number[] | null = null;
  if (opts.attnMask) {
    const ms = opts.attnMask.shape, off = 4 - ms.length;
    if (off < 0 || ms.some((n, i) => n !== 1 && n !== full[i + off])) {
      throw new RangeError(
        `scaledDotProductAttention: attnMask ${fmtShape(ms)} does not broadcast to ${fmtShape(full)}`,
      );
    }
    maskStrides = broadcastStrides(ms, full);
  }
  if (opts.causal && !opts.attnMask && b.supports("causalAttention") && b.supports("causalAttentionGrad")) {
    return fusedCausalAttention(q, k, v, { batch, group: g, l, s, d, dv, scale });
  }
  // scores [B·Hkv, g·L, S] == [B, Hq, L, S]. A power-of-two scale (head dim 64: 1/8) multiplies q
  // instead: exact either way (bit-identical scores barring subnormals), and q has D, not S, columns.
  const e = Math.log2(Math.abs(scale));
  const onQ = Number.isInteger(e) && Math.abs(e) < 64 && s > d;
  const qs = onQ ? b.binaryScalar("mul", q.storage, scale, false) : q.storage;
  // causal (query i sees keys j <= i): the products leave out the masked upper triangle (scores past
  // it are 0 or computed, then masked; the probabilities there are 0, so their terms are skipped)
  const causal = (form: MatmulCausal["form"]) =>
    opts.causal && !opts.attnMask ? { form, period: l, offset: 0 } : undefined;
  const scores = b.matmul(qs, k.storage, {
    m: gl,
    n: s,
    k: d,
    batch,
    transB: true,
    causal: causal("scores"),
  });
  if (onQ) b.dispose(qs);
  // causal without a mask: scale, mask and softmax in one fused kernel (skips the masked keys) where
  // the executor has it; queries align top-left (query i sees keys j <= i: offset 0)
  const fused = !!opts.causal && !opts.attnMask && s > 0 && b.supports("causalSoftmax");
  const causalAttrs = { rows, cols: s, scale: onQ ? 1 : scale, period: l, offset: 0 };
  let probs: Storage;
  if (fused) probs = b.run("causalSoftmax", { x: scores }, causalAttrs).y;
  else {
    if (!onQ) b.binaryScalar("mul", scores, scale, false, scores);
    if (opts.causal) {
      b.binary("add", scores, causalMask(b, l, s), [rows / l, l, s], [l * s, s, 1], [0, s, 1], scores);
    }
    if (opts.attnMask && maskStrides) {
      b.binary("add", scores, opts.attnMask.storage, full, [hq * l * s, l * s, s, 1], maskStrides, scores);
    }
    probs = b.softmax(scores, rows, s, 1, false);
  }
  b.dispose(scores);
  const out = Tensor.fromStorage(
    b.matmul(probs, v.storage, { m: gl, n: dv, k: s, batch, causal: causal("weights") }),
    [bsz, hq, l, dv],
  );
  const probsT = Tensor.fromStorage(probs, full); // owns the saved probabilities (disposable by tidy)
  return recordOp("scaledDotProductAttention", out, [q, k, v], (gOut, need) => {
    let gq: Tensor | null = null, gk: Tensor | null = null, gv: Tensor | null = null;
    if (need[0] || need[1]) {
      const dp = b.matmul(gOut.storage, v.storage, {
        m: gl,
        n: s,
        k: dv,
        batch,
        transB: true,
        causal: causal("scores"),
      });
      let ds: Storage;
      if (fused && b.supports("causalSoftmaxGrad")) {
        ds = b.run("causalSoftmaxGrad", { y: probsT.storage, g: dp }, { ...causalAttrs, scale }).gx;
      } else {
        ds = b.softmaxGrad(probsT.storage, dp, rows, s, 1, false);
        b.binaryScalar("mul", ds, scale, false, ds);
      }
      b.dispose(dp);
      if (need[0]) {
        gq = Tensor.fromStorage(
          b.matmul(ds, k.storage, { m: gl, n: d, k: s, batch, causal: causal("weights") }),
          q.shape,
        );
      }
      if (need[1]) {
        gk = Tensor.fromStorage(
          b.matmul(ds, q.storage, { m: s, n: d, k: gl, batch, transA: true, causal: causal("weightsT") }),
          k.shape,
        );
      }
      b.dispose(ds);
    }
    if (need[2]) {
      gv = Tensor.fromStorage(
        b.matmul(probsT.storage, gOut.storage, {
          m: s,
          n: dv,
          k: gl,
          batch,
          transA: true,
          causal: causal("weightsT"),
        }),
        v.shape,
      );
    }
    return [gq, gk, gv];
  });
}

/**
 * Causal attention without a mask through the executor's fused kernels (`causalAttention`,
 * `causalAttentionGrad`): the same products and softmax as the composed form below, one kernel call
 * each way (the wasm executor keeps the scores in its memory between the steps).
 */
function fusedCausalAttention(q: Tensor, k: Tensor, v: Tensor, a: CausalAttentionAttrs): Tensor {
  const b = q.backend;
  const [bsz, hq, l] = q.shape;
  // no gradient wanted (noGrad, inference): no probabilities are kept
  const grad = isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad);
  const r = b.run("causalAttention", { q: q.storage, k: k.storage, v: v.storage }, { ...a, saveProbs: grad });
  const out = Tensor.fromStorage(r.out, [bsz, hq, l, a.dv]);
  if (r.probs === null) return out;
  const probsT = Tensor.fromStorage(r.probs, [bsz, hq, l, a.s]); // owns the saved probabilities
  return recordOp("scaledDotProductAttention", out, [q, k, v], (gOut, need) => {
    const gr = b.run("causalAttentionGrad", {
      q: need[1] ? q.storage : null,
      k: need[0] ? k.storage : null,
      v: v.storage,
      probs: probsT.storage,
      gOut: gOut.storage,
    }, { ...a, needQ: need[0], needK: need[1], needV: need[2] });
    const t = (st: Storage | null, shape: readonly number[]) =>
      st === null ? null : Tensor.fromStorage(st, shape);
    return [t(gr.gq, q.shape), t(gr.gk, k.shape), t(gr.gv, v.shape)];
  });
}

/** Drops cached rotary tables and causal masks (e.g. after switching backends). */
export function clearNnCaches(): void {
  ropeCache.clear();
  causalCache.clear();
}
