/**
 * The optional fused kernels of the Backend interface on the WebGPU executor (src/backend/backend.ts:
 * `adamStep`, `rmsNorm`, `rmsNormGrad`, `swiglu`, `swigluGrad`, `rotaryEmb`), so that an AdamW step,
 * RMSNorm, the SwiGLU MLP and rotary embeddings are one dispatch each instead of a chain of elementwise
 * kernels. Semantics are those documented on the interface (PyTorch's single-tensor Adam/AdamW, HF
 * RMSNorm with `rstd` saved for backward, signed-sine rotary tables).
 *
 * Sums (RMSNorm statistics and weight gradient) use blocked float32 accumulation (blocks of 64).
 *
 * @module
 */

import type { AdamStepParams, RotaryParams } from "../kernels.ts";
import { f32bits, type GpuExecutor, type Kernel, PARAMS_DECL, WG, WGSL_COMMON } from "./executor.ts";
import { runStrided, WGSL_MATH } from "./strided.ts";

const MAIN =
  `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = gidx(wid, nwg, lid, ${WG}u);
  if (e >= P[0]) { return; }`;

function kern(key: string, layout: string, decls: string, body: string): Kernel {
  return {
    key,
    layout,
    code: () => `${PARAMS_DECL}\n${decls}\n${WGSL_COMMON}${WGSL_MATH}\n${MAIN}\n${body}\n}`,
  };
}

/** Hyper-parameters of {@link adamStep}: the shared {@link AdamStepParams}. */
export type AdamParams = AdamStepParams;

// Params: 0 count, 1..5 bases (p, m, v, vmax, g), 6 beta1, 7 beta2, 8 eps, 9 wd, 10 1 - lr·wd,
// 11 lr / bc1, 12 1/√bc2, 13 flags (1 decoupled, 2 maximize, 4 amsgrad), 14 1 - beta1, 15 1 - beta2
// (the complements are computed in float64: 1 - f32(0.999) is off by 1.3e-5 relative)
const ADAM = kern(
  "adamStep",
  "wwwwr",
  `@group(0) @binding(1) var<storage, read_write> Pm: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> VM: array<f32>;
@group(0) @binding(5) var<storage, read> G: array<f32>;`,
  `  let flags = P[13];
  var g = G[P[5] + e];
  if ((flags & 2u) != 0u) { g = -g; }
  var p = Pm[P[1] + e];
  if ((flags & 1u) != 0u) { p = p * pf(10u); } else { g = g + pf(9u) * p; }
  let b1 = pf(6u); let b2 = pf(7u);
  let m = b1 * M[P[2] + e] + pf(14u) * g;
  var v = b2 * V[P[3] + e] + pf(15u) * g * g;
  M[P[2] + e] = m;
  V[P[3] + e] = v;
  if ((flags & 4u) != 0u) {
    v = max(VM[P[4] + e], v);
    VM[P[4] + e] = v;
  }
  Pm[P[1] + e] = p - pf(11u) * m / (sqrt(v) * pf(12u) + pf(8u));`,
);

/** One Adam/AdamW update of storages p, m, v (and vmax, or -1) from gradient g, all `n` elements. */
export function adamStep(
  ex: GpuExecutor,
  p: number,
  g: number,
  m: number,
  v: number,
  vmax: number,
  n: number,
  c: AdamParams,
): void {
  if (n === 0) return;
  const bc1 = 1 - c.beta1 ** c.step, bc2 = 1 - c.beta2 ** c.step;
  const decoupled = c.decoupled || c.weightDecay === 0;
  const flags = (decoupled ? 1 : 0) | (c.maximize ? 2 : 0) | (vmax >= 0 ? 4 : 0);
  // without AMSGrad the vmax slot needs a distinct writable buffer: a one-float temporary
  const dummy = vmax >= 0 ? null : ex.temp(4);
  for (const [s, e] of ex.chunks(n, 1)) {
    const wp = ex.window(p, s, e), wm = ex.window(m, s, e), wv = ex.window(v, s, e), wg = ex.window(g, s, e);
    const wx = dummy ? { binding: ex.wholeBuffer(dummy, 1), base: 0 } : ex.window(vmax, s, e);
    const params = [
      e - s,
      wp.base,
      wm.base,
      wv.base,
      wx.base,
      wg.base,
      f32bits(c.beta1),
      f32bits(c.beta2),
      f32bits(c.eps),
      f32bits(c.weightDecay),
      f32bits(1 - c.lr * c.weightDecay),
      f32bits(c.lr / bc1),
      f32bits(1 / Math.sqrt(bc2)),
      flags,
      f32bits(1 - c.beta1),
      f32bits(1 - c.beta2),
    ];
    ex.dispatch(ADAM, [wp.binding, wm.binding, wv.binding, wx.binding, wg.binding], params, ex.grid(e - s));
  }
}

// Params: 0 rows, 1 d, 2 eps, 3 xBase, 4 yBase, 5 rstdBase, 6 hasWeight
const RMS = kern(
  "rmsNorm",
  "wwrr",
  `@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> R: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;`,
  `  let d = P[1];
  let xb = P[3] + e * d;
  var acc = 0.0; var blk = 0.0;
  for (var j = 0u; j < d; j++) {
    let v = X[xb + j];
    blk += v * v;
    if ((j & 63u) == 63u) { acc += blk; blk = 0.0; }
  }
  acc += blk;
  let r = 1.0 / sqrt(acc / f32(d) + pf(2u));
  R[P[5] + e] = r;
  let yb = P[4] + e * d;
  for (var j = 0u; j < d; j++) {
    var y = X[xb + j] * r;
    if (P[6] != 0u) { y = y * W[j]; }
    Y[yb + j] = y;
  }`,
);

/** y `[rows, d]` and rstd `[rows]` of RMSNorm of x (weight storage or -1). */
export function rmsNorm(
  ex: GpuExecutor,
  x: number,
  weight: number,
  y: number,
  rstd: number,
  rows: number,
  d: number,
  eps: number,
): void {
  if (rows === 0) return;
  const wb = weight >= 0 ? ex.whole(weight) : null;
  for (const [r0, r1] of ex.chunks(rows, Math.max(d, 1))) {
    const xw = ex.window(x, r0 * d, r1 * d), yw = ex.window(y, r0 * d, r1 * d), rw = ex.window(rstd, r0, r1);
    ex.dispatch(
      RMS,
      [yw.binding, rw.binding, xw.binding, wb ?? xw.binding],
      [r1 - r0, d, f32bits(eps), xw.base, yw.base, rw.base, wb ? 1 : 0],
      ex.grid(r1 - r0),
    );
  }
}

// Params: 0 rows, 1 d, 2 gBase, 3 xBase, 4 rstdBase, 5 gxBase, 6 hasWeight
const RMS_GX = kern(
  "rmsNormGradX",
  "wrrrr",
  `@group(0) @binding(1) var<storage, read_write> GX: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<f32>;
@group(0) @binding(5) var<storage, read> W: array<f32>;`,
  `  let d = P[1];
  let gb = P[2] + e * d; let xb = P[3] + e * d;
  let r = R[P[4] + e];
  var acc = 0.0; var blk = 0.0;
  for (var j = 0u; j < d; j++) {
    var gn = G[gb + j];
    if (P[6] != 0u) { gn = gn * W[j]; }
    blk += gn * X[xb + j] * r;
    if ((j & 63u) == 63u) { acc += blk; blk = 0.0; }
  }
  acc += blk;
  let mean = acc / f32(d);
  let ob = P[5] + e * d;
  for (var j = 0u; j < d; j++) {
    var gn = G[gb + j];
    if (P[6] != 0u) { gn = gn * W[j]; }
    GX[ob + j] = r * (gn - X[xb + j] * r * mean);
  }`,
);

// Params: 0 d, 1 rows, 2 gBase, 3 xBase, 4 rstdBase (whole bindings)
const RMS_GW = kern(
  "rmsNormGradW",
  "wrrr",
  `@group(0) @binding(1) var<storage, read_write> GW: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<f32>;`,
  `  let d = P[0]; let rows = P[1];
  var acc = 0.0; var blk = 0.0;
  for (var r = 0u; r < rows; r++) {
    blk += G[P[2] + r * d + e] * X[P[3] + r * d + e] * R[P[4] + r];
    if ((r & 63u) == 63u) { acc += blk; blk = 0.0; }
  }
  GW[e] = acc + blk;`,
);

/** gx `[rows, d]` (and gw `[d]` when `gw >= 0`) of RMSNorm given upstream g, x and the saved rstd. */
export function rmsNormGrad(
  ex: GpuExecutor,
  g: number,
  x: number,
  weight: number,
  rstd: number,
  gx: number,
  gw: number,
  rows: number,
  d: number,
): void {
  if (rows * d === 0) {
    if (gw >= 0) ex.fill(gw, 0);
    return;
  }
  const wb = weight >= 0 ? ex.whole(weight) : null;
  for (const [r0, r1] of ex.chunks(rows, d)) {
    const gwin = ex.window(g, r0 * d, r1 * d), xw = ex.window(x, r0 * d, r1 * d);
    const rw = ex.window(rstd, r0, r1), ow = ex.window(gx, r0 * d, r1 * d);
    ex.dispatch(
      RMS_GX,
      [ow.binding, gwin.binding, xw.binding, rw.binding, wb ?? xw.binding],
      [r1 - r0, d, gwin.base, xw.base, rw.base, ow.base, wb ? 1 : 0],
      ex.grid(r1 - r0),
    );
  }
  if (gw >= 0) {
    const gW = ex.window(g, 0, rows * d), xW = ex.window(x, 0, rows * d), rW = ex.window(rstd, 0, rows);
    ex.dispatch(RMS_GW, [ex.whole(gw), gW.binding, xW.binding, rW.binding], [
      d,
      rows,
      gW.base,
      xW.base,
      rW.base,
    ], ex.grid(d));
  }
}

const lin = (id: number) => ({ id, base: 0, strides: [1] });

/** y = silu(gate)·up over `n` elements. */
export function swiglu(ex: GpuExecutor, gate: number, up: number, out: number, n: number): void {
  runStrided(ex, "((v1 / (1.0 + exp(-v1))) * v2)", [n], lin(out), [lin(gate), lin(up)]);
}

/** gGate = g·up·silu'(gate), gUp = g·silu(gate). */
export function swigluGrad(
  ex: GpuExecutor,
  gate: number,
  up: number,
  g: number,
  gGate: number,
  gUp: number,
  n: number,
): void {
  runStrided(ex, "silu_grad(v1, v3 * v2)", [n], lin(gGate), [lin(gate), lin(up), lin(g)]);
  runStrided(ex, "(v2 * (v1 / (1.0 + exp(-v1))))", [n], lin(gUp), [lin(gate), lin(g)]);
}

/** Layout of {@link rotaryEmb}: the shared {@link RotaryParams}. */
export type RotaryLayout = RotaryParams;

// Params: 0 count, 1 H, 2 T, 3 D, 4 bthd, 5 perBatch, 6 inverse
const ROTARY = kern(
  "rotaryEmb",
  "wrrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> C: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<f32>;`,
  `  let H = P[1]; let T = P[2]; let D = P[3];
  let j = e % D; let rest = e / D;
  var t: u32; var b: u32;
  if (P[4] != 0u) { t = (rest / H) % T; b = rest / (H * T); } else { t = rest % T; b = rest / (H * T); }
  let half = D / 2u;
  let pj = select(j - half, j + half, j < half);
  let pe = e - j + pj;
  var tb = t * D;
  if (P[5] != 0u) { tb = (b * T + t) * D; }
  if (P[6] == 0u) {
    O[e] = X[e] * C[tb + j] + X[pe] * S[tb + j];
  } else {
    O[e] = X[e] * C[tb + j] + X[pe] * S[tb + pj];
  }`,
);

/** Rotary embedding (or, with `inverse`, its transposed rotation) of x into out (whole bindings). */
export function rotaryEmb(
  ex: GpuExecutor,
  x: number,
  cos: number,
  sin: number,
  out: number,
  p: RotaryLayout,
  inverse: boolean,
): void {
  const n = p.batch * p.heads * p.seq * p.dim;
  if (n === 0) return;
  ex.dispatch(
    ROTARY,
    [ex.whole(out), ex.whole(x), ex.whole(cos), ex.whole(sin)],
    [n, p.heads, p.seq, p.dim, p.layout === "BTHD" ? 1 : 0, p.perBatch ? 1 : 0, inverse ? 1 : 0],
    ex.grid(n),
  );
}
