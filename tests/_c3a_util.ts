// Shared helpers of the c3a_* tests: fixture loading, float64 naive references, closeness checks.
import { assert } from "./deps.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { fromFloat32Array } from "../src/tensor/creation.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { Linear } from "../src/nn/linear.ts";
import { Module } from "../src/nn/module.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { loadGoldenCase } from "./_golden.ts";

/** The PEFT fixtures copied into the repository (tests/fixtures/README.md says where they came from). */
export const FIXTURES = new URL("./fixtures/peft/", import.meta.url);

/** A `{shape, data}` record from the fixture JSON files, data rounded to float32. */
export interface Rec {
  shape: number[];
  data: Float32Array;
}

export function rec(o: { shape: number[]; data: number[] }): Rec {
  return { shape: o.shape, data: Float32Array.from(o.data, Math.fround) };
}

export function toTensor(r: Rec): Tensor {
  return fromFloat32Array(r.data.slice(), r.shape);
}

export async function readJson(url: URL): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(url));
}

/** A golden case from tests/fixtures/golden: meta + tensors as float32 records. */
export function golden(file: string): { meta: Record<string, number>; t: Record<string, Rec> } {
  const j = loadGoldenCase(file);
  const t: Record<string, Rec> = {};
  for (const [k, v] of Object.entries(j.tensors)) t[k] = rec(v);
  return { meta: j.meta as unknown as Record<string, number>, t };
}

/** max |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert(a.length === b.length, `length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Assert max|actual - expected| <= rel * max|expected| (+ abs). */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  what: string,
  abs = 0,
): void {
  const err = maxAbsDiff(actual, expected);
  const tol = rel * maxAbs(expected) + abs;
  assert(err <= tol, `${what}: max error ${err.toExponential(3)} > tolerance ${tol.toExponential(3)}`);
}

/**
 * float64 naive block circular cross-correlation (spec §1.3), unscaled:
 * y[p, i*b + s] = Σ_j Σ_u w[i][j][u] · x[p, j*b + (s+u) mod b].
 */
export function bccRef(
  x: ArrayLike<number>,
  rows: number,
  kernel: ArrayLike<number>,
  m: number,
  n: number,
  b: number,
): Float64Array {
  const inF = n * b;
  const outF = m * b;
  const y = new Float64Array(rows * outF);
  for (let p = 0; p < rows; p++) {
    for (let i = 0; i < m; i++) {
      for (let s = 0; s < b; s++) {
        let acc = 0;
        for (let j = 0; j < n; j++) {
          for (let u = 0; u < b; u++) acc += kernel[(i * n + j) * b + u] * x[p * inF + j * b + ((s + u) % b)];
        }
        y[p * outF + i * b + s] = acc;
      }
    }
  }
  return y;
}

/** float64 dense block-circulant matrix A [out, in]: A[i*b+s][j*b+t] = w[i][j][(t-s) mod b]. */
export function circulantRef(kernel: ArrayLike<number>, m: number, n: number, b: number): Float64Array {
  const inF = n * b;
  const a = new Float64Array(m * b * inF);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let s = 0; s < b; s++) {
        for (let t = 0; t < b; t++) {
          a[(i * b + s) * inF + j * b + t] = kernel[(i * n + j) * b + (((t - s) % b) + b) % b];
        }
      }
    }
  }
  return a;
}

/** float64 x·Wᵀ + bias for x [rows, in], W [out, in]. */
export function linearRef(
  x: ArrayLike<number>,
  rows: number,
  w: ArrayLike<number>,
  outF: number,
  inF: number,
  bias?: ArrayLike<number> | null,
): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let p = 0; p < rows; p++) {
    for (let o = 0; o < outF; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[p * inF + i] * w[o * inF + i];
      y[p * outF + o] = acc;
    }
  }
  return y;
}

/** Deterministic pseudo-random numbers in [-1, 1) (LCG), for test data. */
export function lcgData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

/** A Linear with the given weight [out, in] and bias. */
export function linearWith(
  inF: number,
  outF: number,
  weight: Float32Array,
  bias: Float32Array | null,
): Linear {
  const lin = new Linear(inF, outF, { bias: bias !== null });
  noGrad(() => {
    lin.weight.copy_(fromFloat32Array(weight.slice(), [outF, inF]));
    if (bias && lin.bias) lin.bias.copy_(fromFloat32Array(bias.slice(), [outF]));
  });
  return lin;
}

/** Overwrite a tensor's values (no grad). */
export function setData(t: Tensor, data: ArrayLike<number>): void {
  noGrad(() => t.copy_(fromFloat32Array(Float32Array.from(data), t.shape)));
}

/** The keys of PEFT's C3A adapter_config.json, sorted (what `C3AConfig.toJSON()` must produce). */
export const PEFT_KEYS: readonly string[] = [
  "auto_mapping",
  "base_model_name_or_path",
  "bias",
  "block_size",
  "block_size_pattern",
  "inference_mode",
  "init_weights",
  "layers_pattern",
  "layers_to_transform",
  "modules_to_save",
  "peft_type",
  "peft_version",
  "revision",
  "target_modules",
  "task_type",
];

/** Two Linear layers with a ReLU in between, plus a head (8 → 12 → 8 → 4, seed 7): small enough for float64 references. */
export class Net extends Module {
  lin0: Linear;
  lin1: Linear;
  head: Linear;
  constructor() {
    super();
    manualSeed(7);
    this.lin0 = new Linear(8, 12);
    this.lin1 = new Linear(12, 8);
    this.head = new Linear(8, 4);
  }
  override forward(x: Tensor): Tensor {
    return this.head.forward(this.lin1.forward(this.lin0.forward(x).relu()));
  }
}

/** The fixed input of `Net` in the c3a tests: [3, 8] values from `lcgData(24, 99)`. */
export const NET_X: Float32Array = lcgData(3 * 8, 99);

/** A fresh tensor [3, 8] holding `NET_X`. */
export function netInput(): Tensor {
  return fromFloat32Array(NET_X.slice(), [3, 8]);
}

/** A model's output on `netInput()` (no grad), copied out. */
export function netOutput(m: { forward(x: Tensor): Tensor }): Float32Array {
  return noGrad(() => m.forward(netInput())).dataSync().slice();
}
