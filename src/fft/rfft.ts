/**
 * The public batched real FFT and its inverse, with the conventions of `numpy.fft.rfft` /
 * `torch.fft.rfft` (unnormalised forward) and `numpy.fft.irfft` / `torch.fft.irfft` (divides by n),
 * for every length n >= 1, on two kinds of operands:
 *
 * - `Float32Array`s (`rfft(x, n, batch, out?)`): run by the CPU executor ("wasm") through the
 *   kernel table;
 * - `Tensor`s (`rfft(x)`, `irfft(X, n?)`): on the tensor's own backend (every executor), and
 *   differentiable. Layout: the spectrum of a real tensor `[..., n]` is a real tensor
 *   `[..., floor(n/2)+1, 2]` whose last axis holds (re, im) — the layout of
 *   `torch.view_as_real(torch.fft.rfft(x))`.
 *
 * Arguments are validated here, once; the executors' kernels trust them.
 *
 * @module
 */

import { backendNamed, type Storage } from "../backend/backend.ts";
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, sizeOf } from "../tensor/shape.ts";
import { recordOp } from "../autograd/engine.ts";
import { mul } from "../ops/elementwise.ts";

/** A value as an error message names it: `"4" (string)`, `Float64Array(8)`, `Array(4)`, `3.5`. */
function described(v: unknown): string {
  if (typeof v === "string") return `${JSON.stringify(v)} (string)`;
  if (ArrayBuffer.isView(v)) {
    return `${v.constructor.name}(${(v as unknown as { length?: number }).length ?? v.byteLength})`;
  }
  if (Array.isArray(v)) return `Array(${v.length})`;
  return String(v);
}

/** An array argument as an error message names it: its length when it is a Float32Array, else its type. */
function arrayArg(v: unknown): string {
  return v instanceof Float32Array ? `length ${v.length}` : described(v);
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${described(v)}`);
  }
}

function checkN(fn: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 27) {
    throw new RangeError(`${fn}: n (the signal length) must be an integer in [1, 2^27], got ${described(n)}`);
  }
}

function checkOut(fn: string, out: Float32Array, want: number, what: string): void {
  if (!(out instanceof Float32Array) || out.length !== want) {
    throw new RangeError(
      `${fn}: out must be a Float32Array of length ${what} = ${want}, got ${arrayArg(out)}`,
    );
  }
}

/** Number of complex bins of the real FFT of length n: floor(n/2) + 1. */
export function rfftBins(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Runs an FFT kernel of the CPU executor on caller-owned arrays (no copies beyond the kernel's). */
function onArrays(
  kernel: "rfft" | "irfft",
  input: Float32Array,
  out: Float32Array,
  n: number,
  batch: number,
) {
  if (batch === 0) return;
  const be = backendNamed("wasm");
  const x = be.fromArray(input, true), y = be.fromArray(out, true);
  be.run(kernel, { x }, { n, batch }, { y });
}

/**
 * Per-bin weights of the FFT gradients, `[F, 2]` on `like`'s backend: `a` for bin 0 and (even n)
 * bin n/2, `b` for the others.
 */
function binWeights(like: Tensor, n: number, a: number, b: number): Tensor {
  const f = rfftBins(n);
  const w = new Float32Array(2 * f).fill(b);
  w[0] = w[1] = a;
  if (n % 2 === 0) w[2 * f - 2] = w[2 * f - 1] = a;
  return Tensor.fromStorage(like.backend.fromArray(w, true), [f, 2]);
}

function runFft(
  kernel: "rfft" | "irfft",
  x: Storage,
  be: Tensor["backend"],
  n: number,
  batch: number,
): Storage {
  return be.run(kernel, { x }, { n, batch }).y;
}

function rfftTensor(x: Tensor): Tensor {
  if (x.ndim < 1) throw new RangeError("rfft: the input tensor must have at least 1 dimension [..., n]");
  const n = x.shape[x.ndim - 1];
  checkN("rfft", n);
  const lead = x.shape.slice(0, -1);
  const batch = sizeOf(lead);
  const f = rfftBins(n);
  const out = Tensor.fromStorage(runFft("rfft", x.storage, x.backend, n, batch), [...lead, f, 2]);
  // x̄ = Rᵀ·ȳ = n·irfft(ȳ with bins 1..⌈n/2⌉−1 halved): irfft doubles them and divides by n
  return recordOp("rfft", out, [x], (g) => {
    const w = binWeights(g, n, n, n / 2);
    const gw = mul(g, w);
    const gx = Tensor.fromStorage(runFft("irfft", gw.storage, g.backend, n, batch), x.shape);
    gw.dispose();
    w.dispose();
    return [gx];
  });
}

function irfftTensor(spec: Tensor, n?: number): Tensor {
  if (spec.ndim < 2 || spec.shape[spec.ndim - 1] !== 2) {
    throw new RangeError(
      `irfft: the spectrum must have shape [..., floor(n/2)+1, 2] (re, im last), got ${fmtShape(spec.shape)}`,
    );
  }
  const f = spec.shape[spec.ndim - 2];
  const len = n ?? 2 * (f - 1);
  checkN("irfft", len);
  if (rfftBins(len) !== f) {
    throw new RangeError(
      `irfft: n = ${len} needs floor(n/2)+1 = ${rfftBins(len)} bins, the spectrum ${
        fmtShape(spec.shape)
      } has ${f}`,
    );
  }
  const lead = spec.shape.slice(0, -2);
  const batch = sizeOf(lead);
  const out = Tensor.fromStorage(runFft("irfft", spec.storage, spec.backend, len, batch), [...lead, len]);
  // X̄ = rfft(ȳ)·c_k/n with c = 1 for bin 0 and (even n) bin n/2, 2 otherwise (their imaginary parts,
  // which irfft ignores, get rfft's exact zeros)
  return recordOp("irfft", out, [spec], (g) => {
    const gs = Tensor.fromStorage(runFft("rfft", g.storage, g.backend, len, batch), spec.shape);
    const w = binWeights(g, len, 1 / len, 2 / len);
    const gx = mul(gs, w);
    gs.dispose();
    w.dispose();
    return [gx];
  });
}

/**
 * Batched real FFT, as `numpy.fft.rfft(x.reshape(batch, n), axis=-1)` / `torch.fft.rfft` in
 * float32.
 *
 * Arrays: `rfft(input, n, batch, out?)` with `input` `[batch, n]` row-major returns the spectra
 * `[batch, floor(n/2)+1, 2]` (interleaved re, im; `out` when given: reusing one avoids allocating
 * and page-faulting a fresh array on every call). Tensors: `rfft(x)` transforms the last axis of
 * `x` `[..., n]` on its backend and returns `[..., floor(n/2)+1, 2]` (the layout of
 * `torch.view_as_real(torch.fft.rfft(x))`), differentiable.
 *
 * @param input signals `[batch, n]` (array) or `[..., n]` (tensor), float32
 * @param n signal length (arrays), integer in [1, 2^27] (any length: mixed radix, Bluestein for
 *   prime factors > 5)
 * @param batch number of signals (arrays), integer >= 0
 * @param out optional destination array `[batch, floor(n/2)+1, 2]`
 * @returns the spectra, unnormalised
 * @throws {RangeError} if n or batch is not an allowed integer, the input's length is not
 *   `batch * n`, `out` has the wrong length, or a tensor is 0-d
 * @example
 * ```ts
 * import { tensor } from "../tensor/index.ts";
 * rfft(new Float32Array([1, 2, 3, 4]), 4, 1); // [10, 0, -2, 2, -2, 0]  (bins 0..2 as re, im)
 * rfft(tensor([1, 2, 3, 4]));                 // [[10, 0], [-2, 2], [-2, 0]]
 * ```
 */
export function rfft(input: Float32Array, n: number, batch: number, out?: Float32Array): Float32Array;
/** The real FFT of a tensor's last axis `[..., n]` → `[..., n/2+1, 2]` (see the array overload); takes no `n` (RangeError). */
export function rfft(input: Tensor): Tensor;
export function rfft(
  input: Float32Array | Tensor,
  n?: number,
  batch?: number,
  out?: Float32Array,
): Float32Array | Tensor {
  if (input instanceof Tensor) {
    if (n !== undefined) {
      throw new RangeError(
        `rfft: a tensor input takes no n (got ${n}); its last axis is n: pad or slice it first`,
      );
    }
    return rfftTensor(input);
  }
  checkN("rfft", n!);
  checkInt("rfft: batch", batch!, 0);
  if (!(input instanceof Float32Array) || input.length !== batch! * n!) {
    throw new RangeError(
      `rfft: input must be a Float32Array of length batch * n = ${batch} * ${n} = ${batch! * n!}, got ${
        arrayArg(input)
      }`,
    );
  }
  const len = batch! * rfftBins(n!) * 2;
  if (out === undefined) out = new Float32Array(len);
  else checkOut("rfft", out, len, "batch * (floor(n/2)+1) * 2");
  onArrays("rfft", input, out, n!, batch!);
  return out;
}

/**
 * Batched inverse real FFT, as `numpy.fft.irfft(X, n, axis=-1)` / `torch.fft.irfft` in float32:
 * divides by n, treats the spectrum as Hermitian and ignores the imaginary parts of bin 0 and (even
 * n) bin n/2.
 *
 * Arrays: `irfft(spectrum, n, batch, out?)` with `spectrum` `[batch, floor(n/2)+1, 2]` returns the
 * signals `[batch, n]`. Tensors: `irfft(X, n?)` with `X` `[..., F, 2]` (re, im last) returns
 * `[..., n]`, `n` = 2(F − 1) by default (as torch), differentiable.
 *
 * @param spectrum `[batch, floor(n/2)+1, 2]` (array) or `[..., F, 2]` (tensor), float32
 * @param n signal length, integer in [1, 2^27] (tensors: optional, floor(n/2)+1 must equal F)
 * @param batch number of signals (arrays), integer >= 0
 * @param out optional destination array `[batch, n]`
 * @returns the signals
 * @throws {RangeError} if n or batch is not an allowed integer or the sizes do not match
 * @example
 * ```ts
 * irfft(new Float32Array([10, 0, -2, 2, -2, 0]), 4, 1); // [1, 2, 3, 4]
 * ```
 */
export function irfft(spectrum: Float32Array, n: number, batch: number, out?: Float32Array): Float32Array;
/** The inverse real FFT of a tensor spectrum `[..., F, 2]` (see the array overload). */
export function irfft(spectrum: Tensor, n?: number): Tensor;
export function irfft(
  spectrum: Float32Array | Tensor,
  n?: number,
  batch?: number,
  out?: Float32Array,
): Float32Array | Tensor {
  if (spectrum instanceof Tensor) return irfftTensor(spectrum, n);
  checkN("irfft", n!);
  checkInt("irfft: batch", batch!, 0);
  const bins = rfftBins(n!);
  if (!(spectrum instanceof Float32Array) || spectrum.length !== batch! * bins * 2) {
    throw new RangeError(
      `irfft: spectrum must be a Float32Array of length batch * (floor(n/2)+1) * 2 = ${batch} * ${bins} * 2 = ${
        batch! * bins * 2
      }, got ${arrayArg(spectrum)}`,
    );
  }
  if (out === undefined) out = new Float32Array(batch! * n!);
  else checkOut("irfft", out, batch! * n!, "batch * n");
  onArrays("irfft", spectrum, out, n!, batch!);
  return out;
}
