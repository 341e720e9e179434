/**
 * Softmax / log-softmax and their gradients over the middle axis of `[outer, dim, inner]` on the
 * WebGPU executor (semantics of src/backend/wasm/softmax.ts: the maximum is subtracted, a row of
 * -Inf uses 0 instead).
 *
 * Two shaders per op: one invocation per row (many rows or short rows), or one 256-invocation
 * workgroup per row with tree reductions in workgroup memory (long rows, few of them — logits over a
 * vocabulary). Work is split over `outer` so each binding fits the binding limit.
 *
 * @module
 */

import { type GpuExecutor, type Kernel, PARAMS_DECL, WGSL_COMMON } from "./executor.ts";

const SWG = 256;

// Params: 0 rows (outer·inner in this chunk), 1 dim, 2 inner, 3 base of slot 1, 4 base of slot 2,
// 5 base of slot 3 (grad only)
function rowKernel(grad: boolean, log: boolean): Kernel {
  const body = grad
    ? log
      ? `var s = 0.0;
  for (var d = 0u; d < dim; d++) { s += G[gb + d * inner]; }
  for (var d = 0u; d < dim; d++) { let p = d * inner; O[ob + p] = G[gb + p] - exp(Y[yb + p]) * s; }`
      : `var s = 0.0;
  for (var d = 0u; d < dim; d++) { let p = d * inner; s += G[gb + p] * Y[yb + p]; }
  for (var d = 0u; d < dim; d++) { let p = d * inner; O[ob + p] = Y[yb + p] * (G[gb + p] - s); }`
    : log
    ? `var m = ninf();
  for (var d = 0u; d < dim; d++) { m = max(m, X[xb + d * inner]); }
  if (m == ninf()) { m = 0.0; }
  var s = 0.0;
  for (var d = 0u; d < dim; d++) { s += exp(X[xb + d * inner] - m); }
  let lse = m + log(s);
  for (var d = 0u; d < dim; d++) { let p = d * inner; O[ob + p] = X[xb + p] - lse; }`
    : `var m = ninf();
  for (var d = 0u; d < dim; d++) { m = max(m, X[xb + d * inner]); }
  if (m == ninf()) { m = 0.0; }
  var s = 0.0;
  for (var d = 0u; d < dim; d++) { s += exp(X[xb + d * inner] - m); }
  let inv = 1.0 / s;
  for (var d = 0u; d < dim; d++) { let p = d * inner; O[ob + p] = exp(X[xb + p] - m) * inv; }`;
  const decl = grad
    ? `@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;`
    : `@group(0) @binding(2) var<storage, read> X: array<f32>;`;
  return {
    key: `softmaxRow|${+grad}${+log}`,
    layout: grad ? "wrr" : "wr",
    code: () =>
      `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
${decl}
${WGSL_COMMON}
@compute @workgroup_size(${SWG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = gidx(wid, nwg, lid, ${SWG}u);
  if (row >= P[0]) { return; }
  let dim = P[1]; let inner = P[2];
  let o = row / inner; let i = row % inner;
  let off = o * dim * inner + i;
  let ob = P[3] + off;
  ${grad ? "let yb = P[4] + off; let gb = P[5] + off;" : "let xb = P[4] + off;"}
  ${body}
}`,
  };
}

// inner == 1 only: one workgroup per row.
function groupKernel(grad: boolean, log: boolean): Kernel {
  const red = (op: "max" | "sum", v: string) => `
  part[lid.x] = ${v};
  workgroupBarrier();
  for (var s = ${SWG / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { part[lid.x] = ${
    op === "max" ? "max(part[lid.x], part[lid.x + s])" : "part[lid.x] + part[lid.x + s]"
  }; }
    workgroupBarrier();
  }
  let ${op}All = part[0];
  workgroupBarrier();`;
  const body = grad
    ? log
      ? `var acc = 0.0;
  for (var d = lid.x; d < dim; d += ${SWG}u) { acc += G[gb + d]; }
  ${red("sum", "acc")}
  for (var d = lid.x; d < dim; d += ${SWG}u) { O[ob + d] = G[gb + d] - exp(Y[yb + d]) * sumAll; }`
      : `var acc = 0.0;
  for (var d = lid.x; d < dim; d += ${SWG}u) { acc += G[gb + d] * Y[yb + d]; }
  ${red("sum", "acc")}
  for (var d = lid.x; d < dim; d += ${SWG}u) { O[ob + d] = Y[yb + d] * (G[gb + d] - sumAll); }`
    : `var mx = ninf();
  for (var d = lid.x; d < dim; d += ${SWG}u) { mx = max(mx, X[xb + d]); }
  ${red("max", "mx")}
  var m = maxAll;
  if (m == ninf()) { m = 0.0; }
  var acc = 0.0;
  for (var d = lid.x; d < dim; d += ${SWG}u) { acc += exp(X[xb + d] - m); }
  ${red("sum", "acc")}
  ${
      log
        ? `let lse = m + log(sumAll);
  for (var d = lid.x; d < dim; d += ${SWG}u) { O[ob + d] = X[xb + d] - lse; }`
        : `let inv = 1.0 / sumAll;
  for (var d = lid.x; d < dim; d += ${SWG}u) { O[ob + d] = exp(X[xb + d] - m) * inv; }`
    }`;
  const decl = grad
    ? `@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;`
    : `@group(0) @binding(2) var<storage, read> X: array<f32>;`;
  return {
    key: `softmaxWg|${+grad}${+log}`,
    layout: grad ? "wrr" : "wr",
    code: () =>
      `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
${decl}
${WGSL_COMMON}
var<workgroup> part: array<f32, ${SWG}>;
@compute @workgroup_size(${SWG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.z * nwg.y * nwg.x + wid.y * nwg.x + wid.x;
  let live = row < P[0];
  let dim = select(0u, P[1], live);
  let off = row * P[1];
  let ob = P[3] + off;
  ${grad ? "let yb = P[4] + off; let gb = P[5] + off;" : "let xb = P[4] + off;"}
  ${body}
}`,
  };
}

/**
 * Softmax (or log-softmax) of storage `x` into `out`, or its gradient when `g` (and y = `x`) is given.
 */
export function softmax(
  ex: GpuExecutor,
  x: number,
  g: number | null,
  out: number,
  outer: number,
  dim: number,
  inner: number,
  log: boolean,
): void {
  const rowsTotal = outer * inner;
  if (rowsTotal === 0 || dim === 0) return;
  const grad = g !== null;
  const useWg = inner === 1 && dim >= 256;
  const kern = useWg ? groupKernel(grad, log) : rowKernel(grad, log);
  const slab = dim * inner;
  const ids = grad ? [out, x, g as number] : [out, x];
  for (const [o0, o1] of ex.chunks(outer, slab)) {
    const ws = ids.map((id) => ex.window(id, o0 * slab, o1 * slab));
    const rows = (o1 - o0) * inner;
    const params = [rows, dim, inner, ...ws.map((w) => w.base)];
    while (params.length < 6) params.push(0);
    ex.dispatch(kern, ws.map((w) => w.binding), params, useWg ? ex.grid(rows, 1) : ex.grid(rows, SWG));
  }
}
