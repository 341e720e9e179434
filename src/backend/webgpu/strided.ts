/**
 * The generic strided elementwise kernel of the WebGPU executor: `out[o] = EXPR(in_1[..], in_2[..],
 * ...)` where every operand (output included) is read or written with its own element strides over one
 * common shape. Unary, binary (broadcasting), scalar, where, axpby and strided copy all run through it
 * (./elementwise.ts), so broadcasting, aliasing and work splitting are handled once:
 *
 * - dimensions that are contiguous for every operand are merged first;
 * - operands on the same storage share one binding (so `out` may alias an input);
 * - when an operand's touched range exceeds the binding limit, the index space is cut into boxes
 *   (ranges of the outermost dimension that fit, recursing inward when one slice is too big), each
 *   dispatched with its own binding windows and grid.
 *
 * @module
 */

import { collapseDims } from "../strides.ts";
import {
  type Binding,
  f32bits,
  type GpuExecutor,
  type Kernel,
  PARAMS_DECL,
  WG,
  WGSL_COMMON,
} from "./executor.ts";

/** One operand: a storage id, the element offset of index 0 and one stride per dimension. */
export interface Operand {
  /** Storage id. */
  id: number;
  /** Element offset of the origin. */
  base: number;
  /** Element strides (>= 0), one per dimension of the shape. */
  strides: readonly number[];
}

/** Row-major contiguous strides of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

interface Box {
  shape: number[];
  origins: number[];
}

/**
 * Cuts the index space into boxes whose per-operand touched ranges have at most `max` elements.
 * Box shapes are suffixes of `shape` with a (possibly shortened) first dimension.
 */
export function boxes(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  bases: readonly number[],
  max: number,
): Box[] {
  const nd = shape.length;
  const out: Box[] = [];
  const rec = (d: number, origins: number[]) => {
    if (d === nd) {
      out.push({ shape: [], origins });
      return;
    }
    let fits = true;
    let rows = shape[d];
    for (let o = 0; o < strides.length; o++) {
      let inner = 0;
      for (let e = d + 1; e < nd; e++) inner += (shape[e] - 1) * strides[o][e];
      if (inner + 1 > max) {
        fits = false;
        break;
      }
      const s = strides[o][d];
      if (s > 0) rows = Math.min(rows, Math.floor((max - inner - 1) / s) + 1);
    }
    if (!fits) {
      for (let i = 0; i < shape[d]; i++) rec(d + 1, origins.map((v, o) => v + i * strides[o][d]));
      return;
    }
    rows = Math.max(1, rows);
    for (let i0 = 0; i0 < shape[d]; i0 += rows) {
      const i1 = Math.min(shape[d], i0 + rows);
      out.push({
        shape: [i1 - i0, ...shape.slice(d + 1)],
        origins: origins.map((v, o) => v + i0 * strides[o][d]),
      });
    }
  };
  rec(0, bases.slice());
  return out;
}

function kernelFor(expr: string, slots: number[], nSlots: number, nScalars: number): Kernel {
  const nOps = slots.length; // operand 0 = out
  const key = `ew|${expr}|${slots.join(",")}|${nScalars}`;
  return {
    key,
    layout: "w" + "r".repeat(nSlots - 1),
    code: () => {
      const decls: string[] = [PARAMS_DECL];
      for (let s = 0; s < nSlots; s++) {
        decls.push(
          `@group(0) @binding(${s + 1}) var<storage, ${s === 0 ? "read_write" : "read"}> B${s}: array<f32>;`,
        );
      }
      const sh = 2 + nOps + nScalars; // shape starts here
      const lines: string[] = [];
      for (let o = 0; o < nOps; o++) lines.push(`  var o${o} = P[${2 + o}u];`);
      for (let k = 0; k < nScalars; k++) lines.push(`  let s${k} = pf(${2 + nOps + k}u);`);
      lines.push(`  var rem = i;`);
      lines.push(`  for (var d = nd; d > 0u; d--) {`);
      lines.push(`    let k = d - 1u;`);
      lines.push(`    let n = P[${sh}u + k];`);
      lines.push(`    let c = rem % n;`);
      lines.push(`    rem = rem / n;`);
      for (let o = 0; o < nOps; o++) lines.push(`    o${o} += c * P[${sh}u + ${o + 1}u * nd + k];`);
      lines.push(`  }`);
      for (let o = 1; o < nOps; o++) lines.push(`  let v${o} = B${slots[o]}[o${o}];`);
      lines.push(`  B0[o0] = ${expr};`);
      return `${decls.join("\n")}
${WGSL_COMMON}
${WGSL_MATH}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = gidx(wid, nwg, lid, ${WG}u);
  if (i >= P[0]) { return; }
  let nd = P[1];
${lines.join("\n")}
}`;
    },
  };
}

/**
 * Runs `out[...] = expr` over `shape`. In `expr`, `v1`..`vN` are the input values (operand order) and
 * `s0`.. the scalars (float32). The output operand's storage is written; inputs may share its storage.
 */
export function runStrided(
  ex: GpuExecutor,
  expr: string,
  shape: readonly number[],
  out: Operand,
  inputs: readonly Operand[],
  scalars: readonly number[] = [],
): void {
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const ops = [out, ...inputs];
  const c = collapseDims(shape, ops.map((o) => o.strides));
  // binding slots: unique storages, the output's first
  const ids: number[] = [out.id];
  const slots = ops.map((o) => {
    let s = ids.indexOf(o.id);
    if (s < 0) s = ids.push(o.id) - 1;
    return s;
  });
  const k = kernelFor(expr, slots, ids.length, scalars.length);
  const bufs = ids.map((id) => ex.buf(id).buffer);
  const nd = c.shape.length;
  for (const box of boxes(c.shape, c.strides, ops.map((o) => o.base), ex.maxWindowElems)) {
    const bnd = box.shape.length;
    const boxStrides = c.strides.map((s) => s.slice(nd - bnd));
    // per slot: union of the operands' ranges
    const lo = ids.map(() => Infinity), hi = ids.map(() => -Infinity);
    ops.forEach((_, o) => {
      let span = 0;
      for (let d = 0; d < bnd; d++) span += (box.shape[d] - 1) * boxStrides[o][d];
      lo[slots[o]] = Math.min(lo[slots[o]], box.origins[o]);
      hi[slots[o]] = Math.max(hi[slots[o]], box.origins[o] + span + 1);
    });
    const windows = ids.map((_, s) => ex.windowOf(bufs[s], lo[s], hi[s]));
    const bindings: Binding[] = windows.map((w) => w.binding);
    let boxTotal = 1;
    for (const d of box.shape) boxTotal *= d;
    const params: number[] = [boxTotal, bnd];
    ops.forEach((_, o) => params.push(windows[slots[o]].base + box.origins[o] - lo[slots[o]]));
    for (const s of scalars) params.push(f32bits(s));
    params.push(...box.shape);
    for (let o = 0; o < ops.length; o++) params.push(...boxStrides[o]);
    ex.dispatch(k, bindings, params, ex.grid(boxTotal));
  }
}

/**
 * WGSL math helpers matching the wasm backend's JS semantics: erf (absolute error < 1.2e-7),
 * overflow-safe tanh, stable sigmoid, JS-style pow and NaN-propagating max/min.
 */
export const WGSL_MATH = `
fn erf_(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn tanh_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  return tanh(clamp(x, -15.0, 15.0));
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn sign_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  return sign(x);
}
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (isnan_(a) || isnan_(b)) { return a + b; }
  if (b == 1.0) { return a; }
  if (b == 2.0) { return a * a; }
  let ab = abs(a);
  if (ab == 0.0) {
    if (b > 0.0) {
      let odd0 = abs(b) < 16777216.0 && floor(b) == b && (i32(b) & 1) == 1;
      return select(0.0, a, odd0);
    }
    let oddn = abs(b) < 16777216.0 && floor(b) == b && (i32(b) & 1) == 1;
    return select(pinf(), select(pinf(), ninf(), bitcast<u32>(a) != 0u), oddn);
  }
  var r = pow(ab, b);
  if (b == 0.5) { r = sqrt(ab); }
  if (a < 0.0) {
    if (floor(b) != b) { return nan_(); }
    if (abs(b) < 16777216.0 && (i32(b) & 1) == 1) { r = -r; }
  }
  return r;
}
fn max_(a: f32, b: f32) -> f32 { return select(b, a, a > b || isnan_(a)); }
fn min_(a: f32, b: f32) -> f32 { return select(b, a, a < b || isnan_(a)); }
fn sig_pair(u: f32) -> vec2<f32> {
  // (sigmoid(u), sigmoid(u)·(1 − sigmoid(u))) without cancellation
  let e = exp(-abs(u));
  let r = 1.0 / (1.0 + e);
  let s = select(e * r, r, u >= 0.0);
  return vec2<f32>(s, e * r * r);
}
fn gelu_tanh_grad(x: f32, g: f32) -> f32 {
  if (isnan_(x)) { return x; }
  let u = 1.5957691216057308 * (x + 0.044715 * x * x * x);
  let p = sig_pair(u);
  let xc = clamp(x, -20.0, 20.0);
  return g * (p.x + xc * p.y * 1.5957691216057308 * (1.0 + 3.0 * 0.044715 * xc * xc));
}
fn silu_grad(x: f32, g: f32) -> f32 {
  if (isnan_(x)) { return x; }
  let p = sig_pair(x);
  let xc = clamp(x, -100.0, 100.0);
  return g * (p.x + xc * p.y);
}
fn nz_(c: f32) -> bool { return (bitcast<u32>(c) & 0x7fffffffu) != 0u; }
`;
