// float32 -> float16 / bfloat16 rounding (src/io/half.ts) against references written here:
// float16 through the engine's Math.f16round (IEEE round-to-nearest-even, independent of src/) and
// an explicit bit encoder; bfloat16 through exact float64 arithmetic (significand quantised to 8 bits,
// ties to even). Named cases plus a sweep of random float32 bit patterns.
import { assert, assertEquals } from "./deps.ts";
import { floatToBf16Bits, floatToF16Bits, toHalfBits } from "../src/io/half.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.ts";

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number) => {
  u32[0] = b >>> 0;
  return f32[0];
};

/** The binary16 bit pattern of a value that is exactly a half (or ±Inf / NaN). */
function halfBits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | (a / 2 ** -24); // subnormal: integer multiple of 2^-24
  const e = Math.floor(Math.log2(a));
  const m = a / 2 ** e - 1;
  return sign | ((e + 15) << 10) | (m * 1024);
}
const refF16 = (x: number) => halfBits(Math.f16round(x));

/** bfloat16 by exact arithmetic: x = q · ulp with ulp = 2^(e - 7); round q to an integer, ties to even. */
function refBf16(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  const a = Math.abs(x);
  if (a === Infinity || a === 0) {
    f32[0] = x;
    return u32[0] >>> 16;
  }
  const e = Math.max(Math.floor(Math.log2(a)), -126); // subnormals share the smallest exponent
  const ulp = 2 ** (e - 7);
  const q = a / ulp, r = Math.floor(q), frac = q - r;
  const n = frac > 0.5 || (frac === 0.5 && r % 2 === 1) ? r + 1 : r;
  f32[0] = sign * n * ulp; // exactly representable (or beyond the range: Inf)
  return u32[0] >>> 16;
}

Deno.test("bfloat16 rounding: the issue's cases, NaN, ±Inf, −0, subnormals", () => {
  const cases: Array<[number, number]> = [
    [0x3f818000, 0x3f82], // tie, odd lower half -> up
    [0x3f808000, 0x3f80], // tie, even -> down
    [0x3f808001, 0x3f81], // above the tie -> up
    [0x7f800000, 0x7f80], // +Inf
    [0xff800000, 0xff80], // -Inf
    [0x80000000, 0x8000], // -0
    [0x00000000, 0x0000],
    [0x00018000, 0x0002], // subnormal tie, odd -> up
    [0x00008000, 0x0000], // subnormal tie, even -> 0
    [0x7f7fffff, 0x7f80], // largest float rounds to Inf
  ];
  for (const [inBits, want] of cases) {
    assertEquals(floatToBf16Bits(fromBits(inBits)), want, `0x${inBits.toString(16)}`);
    assertEquals(refBf16(fromBits(inBits)), want, `reference 0x${inBits.toString(16)}`);
  }
  for (const nan of [0x7fc00000, 0x7f800001, 0xffffffff, 0x7fffffff]) {
    const h = floatToBf16Bits(fromBits(nan));
    assert((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0, `NaN 0x${nan.toString(16)} -> 0x${h.toString(16)}`);
    assertEquals(h & 0x8000, (nan >>> 16) & 0x8000, "NaN sign kept");
  }
});

Deno.test("float16 rounding: ties to even, overflow to Inf, subnormals, NaN, −0", () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00], // tie above the largest half -> Inf
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [-0, 0x8000],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie, even -> 0
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 -> 2 (even)
    [2 ** -14, 0x0400], // smallest normal
    [1023.5 * 2 ** -24, 0x0400], // subnormal tie carries into the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie, even -> down
    [1 + 3 * 2 ** -11, 0x3c02], // tie, odd -> up
  ];
  for (const [x, want] of cases) {
    assertEquals(floatToF16Bits(x), want, `${x}`);
    assertEquals(refF16(x), want, `reference ${x}`);
  }
  const h = floatToF16Bits(NaN);
  assert((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0);
});

Deno.test("float16 / bfloat16: random float32 bit patterns agree with the references", () => {
  let s = 12345;
  const data = new Float32Array(200_000);
  const bits = new Uint32Array(data.buffer);
  for (let i = 0; i < bits.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // half the draws near the float16 range, where the rounding is interesting
    bits[i] = i % 2 ? s : (s & 0x807fffff) | (((s >>> 23) % 40 + 100) << 23);
  }
  const bf = toHalfBits(data, "BF16"), hf = toHalfBits(data, "F16");
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (Number.isNaN(x)) {
      assert((bf[i] & 0x7fff) > 0x7f80 && (hf[i] & 0x7fff) > 0x7c00);
      continue;
    }
    if (bf[i] !== refBf16(x)) throw new Error(`bf16 of 0x${bits[i].toString(16)}: ${bf[i]} vs ${refBf16(x)}`);
    if (hf[i] !== refF16(x)) throw new Error(`f16 of 0x${bits[i].toString(16)}: ${hf[i]} vs ${refF16(x)}`);
  }
});

Deno.test("encodeSafetensors dtype F16/BF16: header dtype, bytes, and decode gives the rounded values", () => {
  const data = new Float32Array([1.01171875, -0, Infinity, NaN, 65520, 3e-8, 0.1]);
  for (const dtype of ["F16", "BF16"] as const) {
    const bytes = encodeSafetensors({ w: { shape: [7], data } }, undefined, { dtype });
    const t = decodeSafetensors(bytes).tensors.w;
    assertEquals(t.dtype, dtype);
    for (let i = 0; i < data.length; i++) {
      const want = dtype === "F16" ? Math.f16round(data[i]) : fromBits(refBf16(data[i]) << 16);
      assert(Object.is(t.data[i], want) || (Number.isNaN(want) && Number.isNaN(t.data[i])), `${dtype}[${i}]`);
    }
  }
});
