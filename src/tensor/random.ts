/**
 * Seeded random numbers and parameter initialisers.
 *
 * Algorithm (deterministic for a given seed on every platform; not PyTorch's stream, which cannot be
 * reproduced bit-for-bit cheaply): the 32-bit seed is expanded by SplitMix32 into the 128-bit state of
 * xoshiro128** (Blackman & Vigna). Uniform floats are `(next() >>> 8) · 2⁻²⁴` ∈ [0, 1), exactly
 * representable in float32. Normals use the Box–Muller transform on two uniforms
 * (`u1 = 1 − uniform` ∈ (0, 1]), returning both outputs in turn. Draws fill tensors in row-major order.
 *
 * @module
 */

import { getBackend } from "../backend/backend.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { Tensor } from "./tensor.ts";
import { checkShape, fmtShape, type Shape, sizeOf } from "./shape.ts";
import type { CreationOptions } from "./creation.ts";

/**
 * A xoshiro128** generator. Mirrors `torch.Generator` (own state, `manualSeed`).
 */
export class Generator {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spare: number | null = null;

  /** Creates a generator seeded with `seed` (default 0). */
  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /**
   * Resets the state from `seed` (any finite number; reduced to its low 32 bits after truncation).
   *
   * @throws {RangeError} when `seed` is not a finite number.
   */
  manualSeed(seed: number): this {
    if (!Number.isFinite(seed)) throw new RangeError(`manualSeed: seed must be a finite number, got ${seed}`);
    let x = Math.trunc(seed) >>> 0;
    const next = () => {
      // SplitMix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
    this.#spare = null;
    return this;
  }

  /**
   * The generator state: the four xoshiro128** words plus the cached Box–Muller value (NaN if none).
   * Mirrors `Generator.get_state()`.
   */
  getState(): Float64Array {
    return Float64Array.of(
      this.#s0 >>> 0,
      this.#s1 >>> 0,
      this.#s2 >>> 0,
      this.#s3 >>> 0,
      this.#spare ?? NaN,
    );
  }

  /**
   * Restores a state from {@link Generator.getState} (4 words, optionally the cached normal).
   * Mirrors `Generator.set_state()`.
   *
   * @throws {RangeError} when fewer than 4 words are given, a word is not a uint32, or all are 0.
   */
  setState(state: ArrayLike<number>): this {
    if (state.length < 4) throw new RangeError(`setState: need 4 state words, got ${state.length}`);
    for (let i = 0; i < 4; i++) {
      const v = state[i];
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`setState: word ${i} is ${v}, not a uint32`);
      }
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new RangeError("setState: the all-zero state is invalid");
    }
    this.#s0 = state[0] | 0;
    this.#s1 = state[1] | 0;
    this.#s2 = state[2] | 0;
    this.#s3 = state[3] | 0;
    const spare = state.length > 4 ? state[4] : NaN;
    this.#spare = Number.isNaN(spare) ? null : spare;
    return this;
  }

  /** Next raw 32-bit output (unsigned integer). */
  nextUint32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0, n3 = s3 ^ s1;
    this.#s1 = s1 ^ n2;
    this.#s0 = s0 ^ n3;
    this.#s2 = n2 ^ t;
    this.#s3 = (n3 << 11) | (n3 >>> 21);
    return r;
  }

  /** Uniform float in [0, 1) with 24 random bits. */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) * 5.9604644775390625e-8;
  }

  /** Standard normal draw (Box–Muller, both outputs used). */
  nextNormal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    const u1 = 1 - this.nextFloat();
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u2;
    this.#spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}

/** The generator used when none is passed. */
export const defaultGenerator: Generator = new Generator(0);

/**
 * Seeds the default generator (state also resets the Box–Muller cache). Mirrors `torch.manual_seed`.
 *
 * @throws {RangeError} when `seed` is not finite.
 */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}

/** Options of the random creation functions and initialisers. */
export interface RandomOptions extends CreationOptions {
  /** Generator to draw from (default {@link defaultGenerator}). */
  generator?: Generator;
}

function fromHost(d: Float32Array, shape: number[], opts?: CreationOptions): Tensor {
  const t = Tensor.fromStorage(getBackend().fromArray(d, true), shape);
  if (opts?.requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * Uniform samples in [0, 1) of `shape`. Mirrors `torch.rand`.
 *
 * @throws {RangeError} for an invalid shape.
 */
export function rand(shape: Shape, opts: RandomOptions = {}): Tensor {
  const s = checkShape(shape);
  const g = opts.generator ?? defaultGenerator;
  const d = new Float32Array(sizeOf(s));
  for (let i = 0; i < d.length; i++) d[i] = g.nextFloat();
  return fromHost(d, s, opts);
}

/**
 * Standard-normal samples of `shape`. Mirrors `torch.randn`.
 *
 * @throws {RangeError} for an invalid shape.
 */
export function randn(shape: Shape, opts: RandomOptions = {}): Tensor {
  const s = checkShape(shape);
  const g = opts.generator ?? defaultGenerator;
  const d = new Float32Array(sizeOf(s));
  for (let i = 0; i < d.length; i++) d[i] = g.nextNormal();
  return fromHost(d, s, opts);
}

/**
 * Integers uniform in `[low, high)` as an Int32Array (for token ids / class targets; slight modulo
 * bias below 2⁻³² · (high − low)). Mirrors `torch.randint` (returns indices, not a float tensor).
 *
 * @throws {RangeError} unless `low < high` are integers.
 */
export function randint(
  low: number,
  high: number,
  size: number,
  opts: { generator?: Generator } = {},
): Int32Array {
  if (
    !Number.isInteger(low) || !Number.isInteger(high) || high <= low || !Number.isInteger(size) || size < 0
  ) {
    throw new RangeError(`randint: need integers low < high and size >= 0, got (${low}, ${high}, ${size})`);
  }
  const g = opts.generator ?? defaultGenerator;
  const out = new Int32Array(size);
  const span = high - low;
  for (let i = 0; i < size; i++) out[i] = low + (g.nextUint32() % span);
  return out;
}

let skipInit = 0;

/**
 * Runs `fn` with the in-place initialisers ({@link uniform_}, {@link normal_} and everything built on
 * them: Kaiming, Xavier) turned into no-ops, as transformers' `no_init_weights` does while it builds
 * a model whose weights a checkpoint is about to overwrite: parameters keep the zeros (or ones) they
 * were created with and nothing is drawn or written. Nested calls are fine.
 *
 * @returns what `fn` returns.
 */
export function noInitWeights<T>(fn: () => T): T {
  skipInit++;
  try {
    return fn();
  } finally {
    skipInit--;
  }
}

function writeHost(t: Tensor, d: Float32Array): Tensor {
  noGrad(() => t.backend.copy(t.backend.fromArray(d, true), t.storage));
  return t;
}

/**
 * Fills `t` in place with uniform samples in [a, b) (no autograd). Mirrors `nn.init.uniform_`.
 *
 * @throws {RangeError} when `a > b` or a bound is not finite.
 */
export function uniform_(t: Tensor, a = 0, b = 1, opts: { generator?: Generator } = {}): Tensor {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a > b) {
    throw new RangeError(`uniform_: need finite a <= b, got (${a}, ${b})`);
  }
  if (skipInit > 0) return t;
  const g = opts.generator ?? defaultGenerator;
  const d = new Float32Array(t.size);
  for (let i = 0; i < d.length; i++) d[i] = a + (b - a) * g.nextFloat();
  return writeHost(t, d);
}

/**
 * Fills `t` in place with normal samples N(mean, std²) (no autograd). Mirrors `nn.init.normal_`.
 *
 * @throws {RangeError} when `std < 0` or a parameter is not finite.
 */
export function normal_(t: Tensor, mean = 0, std = 1, opts: { generator?: Generator } = {}): Tensor {
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
    throw new RangeError(`normal_: need finite mean and std >= 0, got (${mean}, ${std})`);
  }
  if (skipInit > 0) return t;
  const g = opts.generator ?? defaultGenerator;
  const d = new Float32Array(t.size);
  for (let i = 0; i < d.length; i++) d[i] = mean + std * g.nextNormal();
  return writeHost(t, d);
}

/**
 * `[fanIn, fanOut]` of a weight: `fanIn = shape[1]·receptive`, `fanOut = shape[0]·receptive`, with
 * `receptive` the product of dimensions after the first two. Mirrors
 * `nn.init._calculate_fan_in_and_fan_out` (a Linear weight `[out, in]` has fanIn = in).
 *
 * @throws {RangeError} for tensors with fewer than 2 dimensions.
 */
export function calculateFanInAndFanOut(shape: Shape): [number, number] {
  if (shape.length < 2) {
    throw new RangeError(
      `fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions ${fmtShape(shape)}`,
    );
  }
  const receptive = sizeOf(shape.slice(2));
  return [shape[1] * receptive, shape[0] * receptive];
}

/** Nonlinearities understood by {@link calculateGain}. */
export type Nonlinearity =
  | "linear"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu"
  | "conv1d"
  | "conv2d";

/**
 * Recommended gain for a nonlinearity. Mirrors `nn.init.calculate_gain` (leaky_relu uses
 * `√(2/(1+a²))` with `param` = negative slope, default 0.01).
 *
 * @throws {RangeError} for an unknown nonlinearity.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
    case "conv1d":
    case "conv2d":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const a = param ?? 0.01;
      return Math.sqrt(2 / (1 + a * a));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unknown nonlinearity "${nonlinearity as string}"`);
  }
}

/**
 * Xavier/Glorot uniform init in place: U(−b, b) with `b = gain·√(6/(fanIn+fanOut))`. Mirrors
 * `nn.init.xavier_uniform_`.
 *
 * @throws {RangeError} for tensors with fewer than 2 dimensions.
 */
export function xavierUniform_(t: Tensor, gain = 1, opts: { generator?: Generator } = {}): Tensor {
  const [fi, fo] = calculateFanInAndFanOut(t.shape);
  const b = gain * Math.sqrt(6 / (fi + fo));
  return uniform_(t, -b, b, opts);
}

/**
 * Xavier/Glorot normal init in place: N(0, std²), `std = gain·√(2/(fanIn+fanOut))`. Mirrors
 * `nn.init.xavier_normal_`.
 *
 * @throws {RangeError} for tensors with fewer than 2 dimensions.
 */
export function xavierNormal_(t: Tensor, gain = 1, opts: { generator?: Generator } = {}): Tensor {
  const [fi, fo] = calculateFanInAndFanOut(t.shape);
  return normal_(t, 0, gain * Math.sqrt(2 / (fi + fo)), opts);
}

/** Options of {@link kaimingUniform_} / {@link kaimingNormal_}. */
export interface KaimingOptions {
  /** Negative slope for leaky_relu (default 0). `nn.Linear` uses `a = √5`. */
  a?: number;
  /** "fanIn" (default) or "fanOut". */
  mode?: "fanIn" | "fanOut";
  /** Default "leaky_relu". */
  nonlinearity?: Nonlinearity;
  /** Generator (default the global one). */
  generator?: Generator;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const [fi, fo] = calculateFanInAndFanOut(t.shape);
  const fan = (o.mode ?? "fanIn") === "fanIn" ? fi : fo;
  const gain = calculateGain(o.nonlinearity ?? "leaky_relu", o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * Kaiming/He uniform init in place: U(−b, b), `b = √3 · gain / √fan`. With `{a: Math.sqrt(5)}` on a
 * `[out, in]` weight this is `nn.Linear`'s default init (b = 1/√in). Mirrors `nn.init.kaiming_uniform_`.
 *
 * @throws {RangeError} for tensors with fewer than 2 dimensions or an unknown nonlinearity.
 */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -b, b, opts);
}

/**
 * Kaiming/He normal init in place: N(0, (gain/√fan)²). Mirrors `nn.init.kaiming_normal_`.
 *
 * @throws {RangeError} as {@link kaimingUniform_}.
 */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts), opts);
}
