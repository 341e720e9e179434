/**
 * Reductions (sum / max / min over any axes, kept-dims output) of the WebGPU executor.
 *
 * The input's dimensions are split into kept and reduced ones (each collapsed). Two shaders:
 * - one invocation per output when there are many outputs or few reduced elements;
 * - one workgroup of 256 invocations per output otherwise (strided partial sums, then a tree in
 *   workgroup memory).
 * Sums use blocked accumulation (blocks of 64, three levels) since float32 compensated summation is
 * not reliable under the driver's algebraic simplification; error grows with about 3·64·eps instead of
 * n·eps. max/min propagate NaN like the wasm backend; empty reductions give 0 / -Inf / +Inf.
 *
 * @module
 */

import type { ReduceOp } from "../backend.ts";
import { type GpuExecutor, type Kernel, PARAMS_DECL, WGSL_COMMON } from "./executor.ts";
import { collapseDims } from "../strides.ts";
import { boxes } from "./strided.ts";

const RED_WG = 256;

function init(op: ReduceOp): string {
  return op === "sum" ? "0.0" : op === "max" ? "ninf()" : "pinf()";
}

function combine(op: ReduceOp, a: string, b: string): string {
  return op === "sum" ? `(${a} + ${b})` : op === "max" ? `max_(${a}, ${b})` : `min_(${a}, ${b})`;
}

const MAXMIN = `
fn max_(a: f32, b: f32) -> f32 { return select(b, a, a > b || isnan_(a)); }
fn min_(a: f32, b: f32) -> f32 { return select(b, a, a < b || isnan_(a)); }
`;

// Params: 0 outCount, 1 R (reduced count), 2 ndKept, 3 ndRed, 4 xBase, then keptShape[ndKept],
// keptStrides[ndKept], redShape[ndRed], redStrides[ndRed].
function offsetsFns(): string {
  return `
fn keptOffset(o: u32) -> u32 {
  let nk = P[2]; var rem = o; var off = P[4];
  for (var d = nk; d > 0u; d--) {
    let k = d - 1u;
    let n = P[5u + k];
    off += (rem % n) * P[5u + nk + k];
    rem = rem / n;
  }
  return off;
}
fn redOffset(r: u32) -> u32 {
  let nk = P[2]; let nr = P[3]; let b = 5u + 2u * nk;
  if (nr == 1u) { return r * P[b + 1u]; }
  var rem = r; var off = 0u;
  for (var d = nr; d > 0u; d--) {
    let k = d - 1u;
    let n = P[b + k];
    off += (rem % n) * P[b + nr + k];
    rem = rem / n;
  }
  return off;
}`;
}

function accumulate(op: ReduceOp, start: string, step: string): string {
  if (op !== "sum") {
    return `
  var acc = ${init(op)};
  for (var r = ${start}; r < R; r += ${step}) { acc = ${combine(op, "acc", "X[base + redOffset(r)]")}; }`;
  }
  return `
  var acc = 0.0; var b1 = 0.0; var b2 = 0.0; var c1 = 0u; var c2 = 0u;
  for (var r = ${start}; r < R; r += ${step}) {
    b1 += X[base + redOffset(r)];
    c1++;
    if (c1 == 64u) { b2 += b1; b1 = 0.0; c1 = 0u; c2++; if (c2 == 64u) { acc += b2; b2 = 0.0; c2 = 0u; } }
  }
  acc += b2 + b1;`;
}

function perOutputKernel(op: ReduceOp): Kernel {
  return {
    key: `reduce1|${op}`,
    layout: "wr",
    code: () =>
      `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
${WGSL_COMMON}${MAXMIN}${offsetsFns()}
@compute @workgroup_size(${RED_WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = gidx(wid, nwg, lid, ${RED_WG}u);
  if (o >= P[0]) { return; }
  let R = P[1];
  let base = keptOffset(o);
  ${accumulate(op, "0u", "1u")}
  O[P[5u + 2u * P[2] + 2u * P[3]] + o] = acc;
}`,
  };
}

function perGroupKernel(op: ReduceOp): Kernel {
  return {
    key: `reduceWg|${op}`,
    layout: "wr",
    code: () =>
      `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
${WGSL_COMMON}${MAXMIN}${offsetsFns()}
var<workgroup> part: array<f32, ${RED_WG}>;
@compute @workgroup_size(${RED_WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = wid.z * nwg.y * nwg.x + wid.y * nwg.x + wid.x;
  let inRange = o < P[0];
  let R = select(0u, P[1], inRange);
  let base = select(0u, keptOffset(o), inRange);
  ${accumulate(op, "lid.x", `${RED_WG}u`)}
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${RED_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { part[lid.x] = ${combine(op, "part[lid.x]", "part[lid.x + s]")}; }
    workgroupBarrier();
  }
  if (lid.x == 0u && inRange) { O[P[5u + 2u * P[2] + 2u * P[3]] + o] = part[0]; }
}`,
  };
}

/**
 * Reduces storage `x` (shape `shape`) over sorted `axes` into storage `out` (kept-dims, row-major).
 */
export function reduce(
  ex: GpuExecutor,
  op: ReduceOp,
  x: number,
  shape: readonly number[],
  axes: readonly number[],
  out: number,
): void {
  const nd = shape.length;
  const isRed = new Array<boolean>(nd).fill(false);
  for (const a of axes) isRed[a] = true;
  const xStr = new Array<number>(nd);
  let acc = 1;
  for (let d = nd - 1; d >= 0; d--) {
    xStr[d] = acc;
    acc *= shape[d];
  }
  const keptShape: number[] = [], keptStr: number[] = [], redShape: number[] = [], redStr: number[] = [];
  for (let d = 0; d < nd; d++) {
    if (isRed[d]) {
      redShape.push(shape[d]);
      redStr.push(xStr[d]);
    } else {
      keptShape.push(shape[d]);
      keptStr.push(xStr[d]);
    }
  }
  let O = 1, R = 1;
  for (const d of keptShape) O *= d;
  for (const d of redShape) R *= d;
  if (O === 0) return;
  if (R === 0 || acc === 0) {
    ex.fill(out, op === "sum" ? 0 : op === "max" ? -Infinity : Infinity);
    return;
  }
  const kc = collapseDims(keptShape, [keptStr, contiguousOut(keptShape)]);
  const rc = collapseDims(redShape, [redStr]);
  const redShapeC = rc.shape.length ? rc.shape : [1];
  const redStrC = rc.strides[0].length ? rc.strides[0] : [0];
  let redSpan = 0;
  for (let d = 0; d < redShapeC.length; d++) redSpan += (redShapeC[d] - 1) * redStrC[d];
  const max = ex.maxWindowElems;
  // reduced index space: one box, or several whose partial results are combined
  const redBoxes = redSpan + 1 > Math.floor(max / 2)
    ? boxes(redShapeC, [redStrC], [0], Math.floor(max / 2))
    : [{ shape: redShapeC, origins: [0] }];
  const redInfo = redBoxes.map((rb) => {
    const st = redStrC.slice(redStrC.length - rb.shape.length);
    let span = 0, count = 1;
    for (let d = 0; d < rb.shape.length; d++) {
      span += (rb.shape[d] - 1) * st[d];
      count *= rb.shape[d];
    }
    return {
      shape: rb.shape.length ? rb.shape : [1],
      strides: st.length ? st : [0],
      origin: rb.origins[0],
      span,
      count,
    };
  });
  const maxRed = Math.max(...redInfo.map((r) => r.span));
  const kShape = kc.shape.length ? kc.shape : [1];
  const kStr = kc.strides[0].length ? kc.strides[0] : [0];
  const oStr = kc.strides[1].length ? kc.strides[1] : [1];
  const xBuf = ex.buf(x).buffer, oBuf = ex.buf(out).buffer;
  for (const box of boxes(kShape, [kStr, oStr], [0, 0], max - maxRed)) {
    const bnd = box.shape.length;
    const bStr = kStr.slice(kShape.length - bnd), bOStr = oStr.slice(kShape.length - bnd);
    let count = 1, kSpan = 0, oSpan = 0;
    for (let d = 0; d < bnd; d++) {
      count *= box.shape[d];
      kSpan += (box.shape[d] - 1) * bStr[d];
      oSpan += (box.shape[d] - 1) * bOStr[d];
    }
    const ow = ex.windowOf(oBuf, box.origins[1], box.origins[1] + oSpan + 1);
    const part = redInfo.length > 1 ? ex.temp(count * 4) : null;
    const pw = part ? ex.windowOf(part, 0, count) : null;
    redInfo.forEach((rb, ri) => {
      const start = box.origins[0] + rb.origin;
      const xw = ex.windowOf(xBuf, start, start + kSpan + rb.span + 1);
      const target = ri === 0 ? ow : pw!;
      const params = [
        count,
        rb.count,
        bnd,
        rb.shape.length,
        xw.base,
        ...box.shape,
        ...bStr,
        ...rb.shape,
        ...rb.strides,
        target.base,
      ];
      const wgMode = rb.count >= 512 && count < 8192;
      const k = wgMode ? perGroupKernel(op) : perOutputKernel(op);
      ex.dispatch(
        k,
        [target.binding, xw.binding],
        params,
        wgMode ? ex.grid(count, 1) : ex.grid(count, RED_WG),
      );
      if (ri > 0) {
        ex.dispatch(combineKernel(op), [ow.binding, pw!.binding], [count, ow.base], ex.grid(count, RED_WG));
      }
    });
  }
}

function combineKernel(op: ReduceOp): Kernel {
  return {
    key: `reduceCombine|${op}`,
    layout: "wr",
    code: () =>
      `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<f32>;
${WGSL_COMMON}${MAXMIN}
@compute @workgroup_size(${RED_WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = gidx(wid, nwg, lid, ${RED_WG}u);
  if (i >= P[0]) { return; }
  O[P[1] + i] = ${combine(op, "O[P[1] + i]", "T[i]")};
}`,
  };
}

function contiguousOut(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
