/**
 * Fused causal attention of the wasm executor (kernels `causalAttention` / `causalAttentionGrad` of
 * src/backend/kernels.ts): the composed form's products (wasm sgemm with the causal hint, see
 * `MatmulCausal`) and its fused causal softmax, run on operands copied into wasm memory once per call,
 * so the `[rows, s]` scores, probabilities and their gradients never travel between JS arrays and wasm
 * memory between the steps (the composed form copies each in and out of every kernel). Same kernels in
 * the same order as the composed form: the results are the same bits (a power-of-two scale, which the
 * composed form applies to q instead, is exact either way). Calls whose operands do not fit in wasm memory
 * at once (residentCap) run the same steps on the arrays, each streamed or tiled on its own.
 *
 * @module
 */

import type { CausalAttentionAttrs, MatmulCausal } from "../kernels.ts";
import { sgemm, sgemmPtr } from "./gemm.ts";
import { f32view, residentCap, Scratch } from "./memory.ts";
import {
  type CausalRows,
  causalSoftmaxGradKernel,
  causalSoftmaxGradPtr,
  causalSoftmaxKernel,
  causalSoftmaxPtr,
} from "./softmax.ts";

/** Floats of padding after a `[rows, s]` buffer: the softmax kernels write whole vectors. */
const PAD = 4;

function hint(form: MatmulCausal["form"], a: CausalAttentionAttrs): MatmulCausal {
  return { form, period: a.l, offset: 0 };
}

/** The softmax rows of an attention call: every query of every head, top-left causal. */
function rows_(a: CausalAttentionAttrs): CausalRows {
  return { rows: a.batch * a.group * a.l, cols: a.s, scale: a.scale, period: a.l, offset: 0 };
}

/**
 * Most bytes of wasm memory one group of batch items takes, as a fraction of {@link residentCap}
 * (64 MiB at the default 1 GiB): a call runs in groups of consecutive batch items (batch × key/value
 * heads), so its `[rows, s]` buffers stay this small however long the sequence (an 8 × 1024-token
 * Qwen2.5-0.5B call: 16 groups of one item instead of 940 MB of scores and probabilities at once).
 * Items are independent, so the results are the same bits as one call.
 */
const GROUP_FRACTION = 1 / 16;

/** Consecutive batch items per group when one item takes `itemBytes` of wasm memory (>= 1). */
function itemsPerGroup(itemBytes: number, batch: number): number {
  return Math.max(1, Math.min(batch, Math.floor((residentCap() * GROUP_FRACTION) / itemBytes)));
}

/** Copies items `[t0, t0 + n)` of `src` (`per` floats each) into wasm memory at `ptr`. */
function stageItems(src: Float32Array, per: number, t0: number, n: number, ptr: number): void {
  f32view(ptr, n * per).set(src.subarray(t0 * per, (t0 + n) * per));
}

/** Copies `n` items (`per` floats each) at `ptr` into items `[t0, t0 + n)` of `dst`. */
function unstageItems(ptr: number, per: number, t0: number, n: number, dst: Float32Array): void {
  dst.set(f32view(ptr, n * per), t0 * per);
}

/**
 * Kernel `causalAttention`: `out` and (when given) `probs` from q, k, v (see CausalAttentionAttrs), in
 * groups of batch items ({@link GROUP_FRACTION}); `probs` null when no backward follows.
 */
export function causalAttentionKernel(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  probs: Float32Array | null,
  a: CausalAttentionAttrs,
): void {
  const { batch, group, l, s, d, dv } = a;
  const gl = group * l, rows = batch * gl;
  if (rows === 0 || s === 0) {
    out.fill(0); // no keys: the products over no terms (probs is empty)
    return;
  }
  const item = 4 * (gl * d + s * d + s * dv + 2 * gl * s + gl * dv) + 8 * PAD;
  if (item > residentCap()) {
    // one item alone past the cap: the same steps on the arrays, each streamed or tiled on its own
    const scores = new Float32Array(rows * s), p = probs ?? new Float32Array(rows * s);
    sgemm(q, k, gl, s, d, { batch, transB: true, out: scores, causal: hint("scores", a) });
    causalSoftmaxKernel(scores, p, rows_(a));
    sgemm(p, v, gl, dv, s, { batch, out, causal: hint("weights", a) });
    return;
  }
  const n = itemsPerGroup(item, batch);
  using m = new Scratch();
  const pq = m.alloc(4 * n * gl * d), pk = m.alloc(4 * n * s * d), pv = m.alloc(4 * n * s * dv);
  const ps = m.alloc(4 * (n * gl * s + PAD)), pp = m.alloc(4 * (n * gl * s + PAD));
  const po = m.alloc(4 * n * gl * dv);
  for (let t0 = 0; t0 < batch; t0 += n) {
    const c = Math.min(n, batch - t0), ga = { ...a, batch: c };
    stageItems(q, gl * d, t0, c, pq);
    stageItems(k, s * d, t0, c, pk);
    stageItems(v, s * dv, t0, c, pv);
    sgemmPtr(pq, pk, ps, gl, s, d, { batch: c, transB: true, causal: hint("scores", ga) });
    causalSoftmaxPtr(ps, pp, rows_(ga));
    sgemmPtr(pp, pv, po, gl, dv, s, { batch: c, causal: hint("weights", ga) });
    unstageItems(po, gl * dv, t0, c, out);
    if (probs !== null) unstageItems(pp, gl * s, t0, c, probs);
  }
}

/**
 * Kernel `causalAttentionGrad`: from the saved `probs` and the upstream `gOut`, `gq = gScores·k`
 * (when gq is given; reads k), `gk = gScoresᵀ·q` (when gk is given; reads q) and `gv = probsᵀ·gOut`
 * (when gv is given), `gScores` the causal softmax gradient (times scale) of `gOut·vᵀ`; in groups of
 * batch items as the forward.
 */
export function causalAttentionGradKernel(
  q: Float32Array | null,
  k: Float32Array | null,
  v: Float32Array,
  probs: Float32Array,
  gOut: Float32Array,
  gq: Float32Array | null,
  gk: Float32Array | null,
  gv: Float32Array | null,
  a: CausalAttentionAttrs,
): void {
  const { batch, group, l, s, d, dv } = a;
  const gl = group * l, rows = batch * gl;
  if (rows === 0 || s === 0) {
    for (const t of [gq, gk, gv]) t?.fill(0);
    return;
  }
  const scores = gq !== null || gk !== null;
  const item = 4 * (s * dv + gl * dv + (gl * s + PAD) * (scores ? 3 : 1) +
    (gq !== null ? s * d + gl * d : 0) + (gk !== null ? gl * d + s * d : 0) + (gv !== null ? s * dv : 0));
  if (item > residentCap()) {
    if (scores) {
      const dp = new Float32Array(rows * s), ds = new Float32Array(rows * s);
      sgemm(gOut, v, gl, s, dv, { batch, transB: true, out: dp, causal: hint("scores", a) });
      causalSoftmaxGradKernel(probs, dp, ds, rows_(a));
      if (gq !== null) sgemm(ds, k!, gl, d, s, { batch, out: gq, causal: hint("weights", a) });
      if (gk !== null) sgemm(ds, q!, s, d, gl, { batch, transA: true, out: gk, causal: hint("weightsT", a) });
    }
    if (gv !== null) {
      sgemm(probs, gOut, s, dv, gl, { batch, transA: true, out: gv, causal: hint("weightsT", a) });
    }
    return;
  }
  const n = itemsPerGroup(item, batch);
  using m = new Scratch();
  const pp = m.alloc(4 * (n * gl * s + PAD)), pg = m.alloc(4 * n * gl * dv);
  const pv = scores ? m.alloc(4 * n * s * dv) : 0;
  const pdp = scores ? m.alloc(4 * (n * gl * s + PAD)) : 0,
    pds = scores ? m.alloc(4 * (n * gl * s + PAD)) : 0;
  const pk = gq !== null ? m.alloc(4 * n * s * d) : 0, pgq = gq !== null ? m.alloc(4 * n * gl * d) : 0;
  const pq = gk !== null ? m.alloc(4 * n * gl * d) : 0, pgk = gk !== null ? m.alloc(4 * n * s * d) : 0;
  const pgv = gv !== null ? m.alloc(4 * n * s * dv) : 0;
  for (let t0 = 0; t0 < batch; t0 += n) {
    const c = Math.min(n, batch - t0), ga = { ...a, batch: c };
    stageItems(probs, gl * s, t0, c, pp);
    stageItems(gOut, gl * dv, t0, c, pg);
    if (scores) {
      stageItems(v, s * dv, t0, c, pv);
      sgemmPtr(pg, pv, pdp, gl, s, dv, { batch: c, transB: true, causal: hint("scores", ga) });
      causalSoftmaxGradPtr(pp, pdp, pds, rows_(ga));
      if (gq !== null) {
        stageItems(k!, s * d, t0, c, pk);
        sgemmPtr(pds, pk, pgq, gl, d, s, { batch: c, causal: hint("weights", ga) });
        unstageItems(pgq, gl * d, t0, c, gq);
      }
      if (gk !== null) {
        stageItems(q!, gl * d, t0, c, pq);
        sgemmPtr(pds, pq, pgk, s, d, gl, { batch: c, transA: true, causal: hint("weightsT", ga) });
        unstageItems(pgk, s * d, t0, c, gk);
      }
    }
    if (gv !== null) {
      sgemmPtr(pp, pg, pgv, s, dv, gl, { batch: c, transA: true, causal: hint("weightsT", ga) });
      unstageItems(pgv, s * dv, t0, c, gv);
    }
  }
}
