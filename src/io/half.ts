/**
 * float32 → float16 / bfloat16 bit patterns, rounding to nearest with ties to even (IEEE 754 and
 * PyTorch's `tensor.to(torch.float16 / torch.bfloat16)`): NaN stays NaN (quiet, sign kept), ±Inf and
 * −0 are kept, values beyond the largest finite number round to ±Inf, small ones to subnormals or ±0.
 * And back (exact: every 16-bit value is a float32): {@link decodeHalf}, used by the safetensors
 * reader and by the kernels that read 16-bit storage tile by tile.
 *
 * @module
 */

import type { HalfDType } from "../backend/backend.ts";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The bfloat16 bit pattern nearest to `x` (first rounded to float32), ties to even.
 *
 * @param x any number (converted to float32 first, as a Float32Array would).
 * @returns a 16-bit unsigned integer: the upper half of the rounded float32.
 * @example
 * ```ts
 * floatToBf16Bits(1.01171875); // 0x3F82 (0x3F818000 is a tie, rounds to the even mantissa)
 * ```
 */
export function floatToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff; // NaN: quiet, sign kept
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * The float16 (IEEE binary16) bit pattern nearest to `x` (first rounded to float32), ties to even;
 * overflow gives ±Inf, underflow subnormals or ±0.
 *
 * @param x any number (converted to float32 first).
 * @returns a 16-bit unsigned integer.
 * @example
 * ```ts
 * floatToF16Bits(1); // 0x3C00
 * floatToF16Bits(65520); // 0x7C00 (Inf: half-way above the largest half, 65504)
 * ```
 */
export function floatToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant === 0 ? 0x7c00 : 0x7e00 | (mant >>> 13)); // Inf / quiet NaN
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    // subnormal half (or zero): value = m · 2^-24 with m = round(full mantissa · 2^(e - 1 - 13))
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const full = mant | 0x800000; // 24-bit significand
    const shift = 14 - e; // 14..24
    const m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    const up = rest > half || (rest === half && (m & 1) === 1) ? 1 : 0;
    return sign | (m + up); // m + up may reach 0x400: the smallest normal, correctly encoded
  }
  const m = mant >>> 13;
  const rest = mant & 0x1fff;
  const up = rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1) ? 1 : 0;
  return sign | ((e << 10) + m + up); // a carry into the exponent (or to Inf) is the right result
}

/**
 * float32 values → float16 or bfloat16 bit patterns (one `Uint16Array` element per value).
 *
 * @param data the values.
 * @param dtype `"F16"` or `"BF16"` (safetensors dtype names).
 * @returns the rounded bit patterns.
 */
export function toHalfBits(data: Float32Array, dtype: "F16" | "BF16"): Uint16Array {
  const out = new Uint16Array(data.length);
  if (dtype === "BF16") {
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i++) {
      const b = bits[i];
      out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x0040 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  } else {
    for (let i = 0; i < data.length; i++) out[i] = floatToF16Bits(data[i]);
  }
  return out;
}

/** float16 bit pattern -> float32 value (exact: every half is representable in single precision). */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let f16Table: Float32Array | null = null;

/** Every float16 bit pattern's value (256 KiB, built on first use). */
function getF16Table(): Float32Array {
  if (f16Table === null) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToFloat(h);
  }
  return f16Table;
}

/**
 * bfloat16 / float16 bit patterns → float32 values (exact), written into `out` from `outOffset`.
 *
 * @param bits the patterns (a subarray for a tile).
 * @param dtype "bfloat16" (the upper half of a float32) or "float16" (IEEE binary16).
 * @param out destination with room for `bits.length` values from `outOffset` (default: a new array).
 * @returns `out`.
 * @example
 * ```ts
 * decodeHalf(new Uint16Array([0x3f80, 0xc000]), "bfloat16"); // Float32Array [1, -2]
 * ```
 */
export function decodeHalf(
  bits: Uint16Array,
  dtype: HalfDType,
  out: Float32Array = new Float32Array(bits.length),
  outOffset = 0,
): Float32Array {
  const n = bits.length;
  if (dtype === "bfloat16") {
    const u = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, n);
    for (let i = 0; i < n; i++) u[i] = bits[i] << 16;
  } else {
    const table = getF16Table();
    for (let i = 0; i < n; i++) out[outOffset + i] = table[bits[i]];
  }
  return out;
}

/**
 * float32 values → bfloat16 / float16 bit patterns, round to nearest even (as {@link toHalfBits}).
 *
 * @example
 * ```ts
 * encodeHalf(new Float32Array([1, -2]), "bfloat16"); // Uint16Array [0x3f80, 0xc000]
 * ```
 */
export function encodeHalf(data: Float32Array, dtype: HalfDType): Uint16Array {
  return toHalfBits(data, dtype === "bfloat16" ? "BF16" : "F16");
}
