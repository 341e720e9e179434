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

/** Kernel `causalAttention`: `probs` and `out` from q, k, v (see CausalAttentionAttrs). */
export function causalAttentionKernel(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  a: CausalAttentionAttrs,
): void {
  const { batch, group, l, s, d, dv } = a;
  const gl = group * l, rows = batch * gl;
  if (rows === 0 || s === 0) {
    out.fill(0); // no keys: the products over no terms (probs is empty)
    return;
  }
  const bytes = 4 * (q.length + k.length + v.length + 2 * (rows * s + PAD) + out.length);
  if (bytes > residentCap()) {
    const scores = new Float32Array(rows * s);
    sgemm(q, k, gl, s, d, { batch, transB: true, out: scores, causal: hint("scores", a) });
    causalSoftmaxKernel(scores, probs, rows_(a));
    sgemm(probs, v, gl, dv, s, { batch, out, causal: hint("weights", a) });
    return;
  }
  using m = new Scratch();
  const pq = m.copyIn(q), pk = m.copyIn(k), pv = m.copyIn(v);
  const ps = m.alloc(4 * (rows * s + PAD)), pp = m.alloc(4 * (rows * s + PAD)), po = m.alloc(4 * out.length);
  sgemmPtr(pq, pk, ps, gl, s, d, { batch, transB: true, causal: hint("scores", a) });
  causalSoftmaxPtr(ps, pp, rows_(a));
  sgemmPtr(pp, pv, po, gl, dv, s, { batch, causal: hint("weights", a) });
  out.set(f32view(po, out.length));
  probs.set(f32view(pp, probs.length));
}

/**
 * Kernel `causalAttentionGrad`: from the saved `probs` and the upstream `gOut`, `gq = gScores·k`
 * (when gq is given; reads k), `gk = gScoresᵀ·q` (when gk is given; reads q) and `gv = probsᵀ·gOut`
 * (when gv is given), `gScores` the causal softmax gradient (times scale) of `gOut·vᵀ`.
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
  const bytes = 4 * (v.length + gOut.length + (rows * s + PAD) * (scores ? 3 : 1) +
    (gq !== null ? k!.length + gq.length : 0) + (gk !== null ? q!.length + gk.length : 0) +
    (gv?.length ?? 0));
  if (bytes > residentCap()) {
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
  using m = new Scratch();
  const pp = m.alloc(4 * (rows * s + PAD));
  f32view(pp, probs.length).set(probs);
  const pg = m.copyIn(gOut);
  if (scores) {
    const pv = m.copyIn(v);
    const pdp = m.alloc(4 * (rows * s + PAD)), pds = m.alloc(4 * (rows * s + PAD));
    sgemmPtr(pg, pv, pdp, gl, s, dv, { batch, transB: true, causal: hint("scores", a) });
    causalSoftmaxGradPtr(pp, pdp, pds, rows_(a));
    if (gq !== null) {
      const pk = m.copyIn(k!), pgq = m.alloc(4 * gq.length);
      sgemmPtr(pds, pk, pgq, gl, d, s, { batch, causal: hint("weights", a) });
      gq.set(f32view(pgq, gq.length));
    }
    if (gk !== null) {
      const pq = m.copyIn(q!), pgk = m.alloc(4 * gk.length);
      sgemmPtr(pds, pq, pgk, s, d, gl, { batch, transA: true, causal: hint("weightsT", a) });
      gk.set(f32view(pgk, gk.length));
    }
  }
  if (gv !== null) {
    const pgv = m.alloc(4 * gv.length);
    sgemmPtr(pp, pg, pgv, s, dv, gl, { batch, transA: true, causal: hint("weightsT", a) });
    gv.set(f32view(pgv, gv.length));
  }
}
