/**
 * The command set between the WebGPU backend (main thread) and its executor (worker or same thread):
 * each command is a tuple `[name, ...args]` of structured-cloneable values (numbers, arrays, typed
 * arrays), applied in order by {@link runCommand}. Storages are integer ids chosen by the backend;
 * kernels write into output ids the backend allocated with an earlier `alloc`.
 *
 * @module
 */

import type { BinaryOp, ReduceOp, UnaryOp } from "../backend.ts";
import type { GpuExecutor } from "./executor.ts";
import * as ew from "./elementwise.ts";
import { reduce } from "./reduce.ts";
import { matmul, type ResolvedMatmul } from "./matmul.ts";
import { softmax } from "./softmax.ts";
import * as ix from "./indexing.ts";
import { irfft, rfft } from "./fft.ts";
import * as c3a from "./circulant.ts";
import * as fused from "./fused.ts";

/** A fire-and-forget command (no reply). */
export type Command =
  | ["alloc", id: number, elems: number, fill: number | null]
  | ["upload", id: number, data: Float32Array]
  | ["free", id: number]
  | ["fill", id: number, value: number]
  | ["copy", src: number, dst: number]
  | ["unary", op: UnaryOp, x: number, out: number, n: number]
  | ["unaryGrad", op: UnaryOp, x: number, y: number, g: number, out: number, n: number]
  | ["binary", op: BinaryOp, a: number, b: number, out: number, shape: number[], as: number[], bs: number[]]
  | [
    "where",
    c: number,
    a: number,
    b: number,
    out: number,
    shape: number[],
    cs: number[],
    as: number[],
    bs: number[],
  ]
  | ["binaryScalar", op: BinaryOp, x: number, s: number, reverse: boolean, out: number, n: number]
  | ["axpby", x: number, alpha: number, y: number, beta: number, out: number, n: number]
  | [
    "copyStrided",
    src: number,
    sOff: number,
    sStr: number[],
    dst: number,
    dOff: number,
    dStr: number[],
    shape: number[],
  ]
  | ["reduce", op: ReduceOp, x: number, shape: number[], axes: number[], out: number]
  | ["matmul", a: number, b: number, out: number, p: ResolvedMatmul]
  | [
    "softmax",
    x: number,
    g: number | null,
    out: number,
    outer: number,
    dim: number,
    inner: number,
    log: boolean,
  ]
  | ["gatherLast", x: number, rows: number, cols: number, index: Int32Array, out: number]
  | ["scatterLast", g: number, rows: number, cols: number, index: Int32Array, out: number]
  | ["indexSelectRows", x: number, rowSize: number, index: Int32Array, out: number]
  | ["indexAddRows", g: number, numRows: number, rowSize: number, index: Int32Array, out: number]
  | ["rfft", x: number, out: number, n: number, batch: number]
  | ["irfft", spec: number, out: number, n: number, batch: number]
  | ["c3aSpectrum", kernel: number, spec: number, m: number, n: number, b: number]
  | ["c3aForward", x: number, spec: number, out: number, rows: number, m: number, n: number, b: number]
  | [
    "c3aBackward",
    x: number,
    spec: number,
    g: number,
    gradX: number,
    gradKernel: number,
    rows: number,
    m: number,
    n: number,
    b: number,
  ]
  | ["getCirculant", kernel: number, out: number, m: number, n: number, b: number]
  | ["adamStep", p: number, g: number, m: number, v: number, vmax: number, n: number, c: fused.AdamParams]
  | ["rmsNorm", x: number, w: number, y: number, rstd: number, rows: number, d: number, eps: number]
  | [
    "rmsNormGrad",
    g: number,
    x: number,
    w: number,
    rstd: number,
    gx: number,
    gw: number,
    rows: number,
    d: number,
  ]
  | ["swiglu", gate: number, up: number, out: number, n: number]
  | ["swigluGrad", gate: number, up: number, g: number, gGate: number, gUp: number, n: number]
  | ["rotaryEmb", x: number, cos: number, sin: number, out: number, p: fused.RotaryLayout, inverse: boolean]
  | ["loseDevice"]
  | ["injectValidationError"];

/** Applies one command to the executor. Throws on unknown commands or kernel errors. */
export function runCommand(ex: GpuExecutor, c: Command): void {
  switch (c[0]) {
    case "alloc":
      return ex.alloc(c[1], c[2], c[3] ?? undefined);
    case "upload":
      return ex.upload(c[1], c[2]);
    case "free":
      return ex.free(c[1]);
    case "fill":
      return ex.fill(c[1], c[2]);
    case "copy":
      return ex.copy(c[1], c[2]);
    case "unary":
      return ew.unary(ex, c[1], c[2], c[3], c[4]);
    case "unaryGrad":
      return ew.unaryGrad(ex, c[1], c[2], c[3], c[4], c[5], c[6]);
    case "binary":
      return ew.binary(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    case "where":
      return ew.where(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
    case "binaryScalar":
      return ew.binaryScalar(ex, c[1], c[2], c[3], c[4], c[5], c[6]);
    case "axpby":
      return ew.axpby(ex, c[1], c[2], c[3], c[4], c[5], c[6]);
    case "copyStrided":
      return ew.copyStrided(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    case "reduce":
      return reduce(ex, c[1], c[2], c[3], c[4], c[5]);
    case "matmul":
      return matmul(ex, c[1], c[2], c[3], c[4]);
    case "softmax":
      return softmax(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    case "gatherLast":
      return ix.gatherLast(ex, c[1], c[2], c[3], c[4], c[5]);
    case "scatterLast":
      return ix.scatterLast(ex, c[1], c[2], c[3], c[4], c[5]);
    case "indexSelectRows":
      return ix.indexSelectRows(ex, c[1], c[2], c[3], c[4]);
    case "indexAddRows":
      return ix.indexAddRows(ex, c[1], c[2], c[3], c[4], c[5]);
    case "rfft":
      return rfft(ex, c[1], c[2], c[3], c[4]);
    case "irfft":
      return irfft(ex, c[1], c[2], c[3], c[4]);
    case "c3aSpectrum":
      return c3a.c3aSpectrum(ex, c[1], c[2], c[3], c[4], c[5]);
    case "c3aForward":
      return c3a.c3aForward(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    case "c3aBackward":
      return c3a.c3aBackward(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
    case "getCirculant":
      return c3a.getCirculant(ex, c[1], c[2], c[3], c[4], c[5]);
    case "adamStep":
      return fused.adamStep(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    case "rmsNorm":
      return fused.rmsNorm(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    case "rmsNormGrad":
      return fused.rmsNormGrad(ex, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
    case "swiglu":
      return fused.swiglu(ex, c[1], c[2], c[3], c[4]);
    case "swigluGrad":
      return fused.swigluGrad(ex, c[1], c[2], c[3], c[4], c[5], c[6]);
    case "rotaryEmb":
      return fused.rotaryEmb(ex, c[1], c[2], c[3], c[4], c[5], c[6]);
    case "injectValidationError":
      return ex.injectValidationError();
    case "loseDevice":
      ex.flush();
      ex.device.destroy();
      return;
    default:
      throw new Error(`WebGPU executor: unknown command ${JSON.stringify((c as unknown[])[0])}`);
  }
}
