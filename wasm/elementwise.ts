// SIMD (f32x4) elementwise, normalisation and optimizer kernels of the wasm backend.
//
// Every kernel works on float32 buffers in linear memory given as byte offsets (16-byte aligned) and
// processes whole 4-lane vectors: a buffer of n elements is read and written up to the next multiple
// of 4, so callers pad every buffer by 3 elements (the TypeScript side stages data in padded slots).
// Row kernels write rows in order; a ragged row's last vector may spill into the next row's first
// lanes, which that row then overwrites (and into the padding after the last row).
//
// Transcendental functions are our own polynomial approximations (float32 arithmetic). Errors are
// against float64 Math.* / series references; "measured" = max over dense grids of the float32 range
// in tests/wasm_elementwise_test.ts (bounds asserted there in brackets):
//   exp      2^n · p(r), n = round(x·log2 e) (1.5·2^23 rounding trick), r = x − n·ln2 (Cody–Waite
//            two-part ln2), p a degree-6 polynomial; 2^n applied as two exact power-of-two factors so
//            results down to the subnormal range and up to overflow come out right. Measured 1.3 ulp,
//            relative 1.1e-7 [2.4e-7]; +Inf for x > 88.7228, 0 for x < -103.97, NaN propagates.
//   log      x = 2^e · m, m in [√½, √2), log m = 2s + s³·Q(s²), s = (m−1)/(m+1), Q degree 3.
//            Measured relative 1.5e-7 [2.5e-7] from subnormals to FLT_MAX; log 0 = −Inf,
//            log(x<0) = NaN, subnormals prescaled by 2^23.
//   tanh     |x| < 0.625: x + x³·P(x²), P degree 4; else sign(x)·(1 − 2/(exp(2|x|)+1)). Measured
//            relative 1.4e-7 [2e-7].
//   sigmoid  e = exp(−|x|), r = 1/(1+e): r for x ≥ 0, e·r for x < 0 (no overflow, relative accuracy
//            for very negative x). Measured relative 2.0e-7 [3e-7] while the result is a normal
//            float. silu = x·sigmoid(x): measured 2.3e-7 [4e-7].
//   gelu     exact x·Φ(x), Φ(x) = 1 − h (x ≥ 0) or h (x < 0), h = erfc(|x|/√2)/2, with
//            erfc(z) = 1 − z·P(z²) for z < 1 (P degree 6) and erfc(z) = t·F(t)·exp(−z²),
//            t = 1/(1 + z/2), for z ≥ 1 (F degree 8). Measured absolute 3.8e-7 [1e-6] on [−10, 10],
//            relative [1e-6] beyond.
//   geluTanh x·sigmoid(2·√(2/π)·(x + 0.044715·x³)) (= 0.5·x·(1 + tanh(...)) without its cancellation
//            for negative x). Measured absolute 5.2e-7 [1e-6].
// The polynomial coefficients were fitted for this file (Chebyshev interpolation of the function on
// the stated interval with mpmath at 40 digits; the fits' own errors are 2e-9 (exp), 4e-8 (tanh P),
// 1e-9 (log Q), 1e-9 (erf P), 1.4e-9 (erfc F), below float32 rounding).
//
// Sums (softmax normaliser, row sums, RMSNorm statistics and weight gradients) accumulate in float64.
// Kernels never allocate.

// ------------------------------------------------------------------ constants

const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375; // 9 significant bits: n·LN2_HI is exact for |n| <= 2^15
const LN2_LO: f32 = -2.12194440e-4;
const SQRT1_2: f32 = 0.707106781;
const INV_SQRT_2PI: f32 = 0.398942280;
const GELU_2K: f32 = 1.59576912; // 2·√(2/π)
const GELU_2KC: f32 = 0.0713548162; // 2·√(2/π)·0.044715

// exp: p(r) ≈ e^r on [−ln2/2, ln2/2], highest degree first (constant term 1)
const E6: f32 = 0.00139411084;
const E5: f32 = 0.0083751264;
const E4: f32 = 0.0416663529;
const E3: f32 = 0.166664155;
const E2: f32 = 0.500000005;
const E1: f32 = 1.00000004;
// tanh: (tanh(x) − x)/x³ ≈ P(x²) for |x| < 0.625
const T4: f32 = -0.00609671417;
const T3: f32 = 0.020997179;
const T2: f32 = -0.0538509096;
const T1: f32 = 0.133327697;
const T0: f32 = -0.333333289;
// log: (2·atanh(s) − 2s)/s³ ≈ Q(s²) for |s| <= (√2−1)/(√2+1)
const L3: f32 = 0.233304672;
const L2: f32 = 0.285508208;
const L1: f32 = 0.400001218;
const L0: f32 = 0.666666666;
// erf(z)/z ≈ P(z²) for z in [0, 1]
const P6: f32 = 7.87587506e-5;
const P5: f32 = -0.000801686429;
const P4: f32 = 0.00518908742;
const P3: f32 = -0.026854212;
const P2: f32 = 0.112835947;
const P1: f32 = -0.376126267;
const P0: f32 = 1.12837917;
// erfc(z)·exp(z²)/t ≈ F(t), t = 1/(1 + z/2), z in [1, 10.5]
const F8: f32 = -0.0415744287;
const F7: f32 = 0.230644612;
const F6: f32 = -0.4189295;
const F5: f32 = 0.232655591;
const F4: f32 = -0.00990826907;
const F3: f32 = 0.199500275;
const F2: f32 = 0.243311391;
const F1: f32 = 0.282394237;
const F0: f32 = 0.282083894;

// unary op codes (mirrored in src/backend/wasm/elementwise.ts)
const U_NEG = 0;
const U_ABS = 1;
const U_SIGN = 2;
const U_EXP = 3;
const U_LOG = 4;
const U_SQRT = 5;
const U_RSQRT = 6;
const U_SQUARE = 7;
const U_RECIPROCAL = 8;
const U_TANH = 9;
const U_SIGMOID = 10;
const U_RELU = 11;
const U_GELU = 12;
const U_GELU_TANH = 13;
const U_SILU = 14;

// binary op codes (mirrored in src/backend/wasm/elementwise.ts)
const B_ADD = 0;
const B_SUB = 1;
const B_MUL = 2;
const B_DIV = 3;
const B_MAX = 4;
const B_MIN = 5;
const B_EQ = 6;
const B_NE = 7;
const B_GT = 8;
const B_GE = 9;
const B_LT = 10;
const B_LE = 11;

// ------------------------------------------------------------------ vector math

// Constant vectors live in a table in memory and are loaded where used: V8 materialises every
// v128.const with several instructions at each use inside a loop, while a load from the table is one
// (often folded into the arithmetic). Measured: exp 1.5x faster than with inline constants.
const C_ONE = 0; // 1.0
const C_HALF = 1; // 0.5
const C_GELU_2K = 2; // GELU_2K
const C_TWO = 3; // 2.0
const C_NEG_INF = 4; // -Infinity
const C_SQRT1_2 = 5; // SQRT1_2
const C_LN2_LO = 6; // LN2_LO
const C_LN2_HI = 7; // LN2_HI
const C_GELU_2KC = 8; // GELU_2KC
const C_ROUND = 9; // 12582912.0
const C_T4 = 10; // T4
const C_T3 = 11; // T3
const C_T2 = 12; // T2
const C_T1 = 13; // T1
const C_T0 = 14; // T0
const C_P6 = 15; // P6
const C_P5 = 16; // P5
const C_P4 = 17; // P4
const C_P3 = 18; // P3
const C_P2 = 19; // P2
const C_P1 = 20; // P1
const C_P0 = 21; // P0
const C_NAN = 22; // NaN
const C_LOG2E = 23; // LOG2E
const C_L3 = 24; // L3
const C_L2 = 25; // L2
const C_L1 = 26; // L1
const C_L0 = 27; // L0
const C_INF = 28; // Infinity
const C_INV_SQRT_2PI = 29; // INV_SQRT_2PI
const C_F8 = 30; // F8
const C_F7 = 31; // F7
const C_F6 = 32; // F6
const C_F5 = 33; // F5
const C_F4 = 34; // F4
const C_F3 = 35; // F3
const C_F2 = 36; // F2
const C_F1 = 37; // F1
const C_F0 = 38; // F0
const C_E6 = 39; // E6
const C_E5 = 40; // E5
const C_E4 = 41; // E4
const C_E3 = 42; // E3
const C_E2 = 43; // E2
const C_E1 = 44; // E1
const C_EXP_HI = 45; // 89.0
const C_EXP_LO = 46; // -104.0
const C_2P23 = 47; // 8388608.0
const C_GELU_6KC = 48; // 3.0 * GELU_2KC
const C_20 = 49; // 20.0
const C_M20 = 50; // -20.0
const C_FLT_MIN = 51; // 1.17549435e-38
const C_TANH_SPLIT = 52; // 0.625
const C_MONE = 53; // -1.0
const C_MHALF = 54; // -0.5
const C_EXP_NORMAL = 55; // -87.0
const I_127 = 0; // 127
const I_SQRTH_BITS = 1; // 0x3f3504f3
const I_23 = 2; // 23
const I_SIGN = 3; // 0x80000000
const I_ROUND_BITS = 4; // 0x4b400000
const I_MANT = 5; // 0x007fffff
const KF: usize = memory.data<f32>([
  1.0, 1.0, 1.0, 1.0,
  0.5, 0.5, 0.5, 0.5,
  <f32> (GELU_2K), <f32> (GELU_2K), <f32> (GELU_2K), <f32> (GELU_2K),
  2.0, 2.0, 2.0, 2.0,
  <f32> (-Infinity), <f32> (-Infinity), <f32> (-Infinity), <f32> (-Infinity),
  <f32> (SQRT1_2), <f32> (SQRT1_2), <f32> (SQRT1_2), <f32> (SQRT1_2),
  <f32> (LN2_LO), <f32> (LN2_LO), <f32> (LN2_LO), <f32> (LN2_LO),
  <f32> (LN2_HI), <f32> (LN2_HI), <f32> (LN2_HI), <f32> (LN2_HI),
  <f32> (GELU_2KC), <f32> (GELU_2KC), <f32> (GELU_2KC), <f32> (GELU_2KC),
  12582912.0, 12582912.0, 12582912.0, 12582912.0,
  <f32> (T4), <f32> (T4), <f32> (T4), <f32> (T4),
  <f32> (T3), <f32> (T3), <f32> (T3), <f32> (T3),
  <f32> (T2), <f32> (T2), <f32> (T2), <f32> (T2),
  <f32> (T1), <f32> (T1), <f32> (T1), <f32> (T1),
  <f32> (T0), <f32> (T0), <f32> (T0), <f32> (T0),
  <f32> (P6), <f32> (P6), <f32> (P6), <f32> (P6),
  <f32> (P5), <f32> (P5), <f32> (P5), <f32> (P5),
  <f32> (P4), <f32> (P4), <f32> (P4), <f32> (P4),
  <f32> (P3), <f32> (P3), <f32> (P3), <f32> (P3),
  <f32> (P2), <f32> (P2), <f32> (P2), <f32> (P2),
  <f32> (P1), <f32> (P1), <f32> (P1), <f32> (P1),
  <f32> (P0), <f32> (P0), <f32> (P0), <f32> (P0),
  <f32> (NaN), <f32> (NaN), <f32> (NaN), <f32> (NaN),
  <f32> (LOG2E), <f32> (LOG2E), <f32> (LOG2E), <f32> (LOG2E),
  <f32> (L3), <f32> (L3), <f32> (L3), <f32> (L3),
  <f32> (L2), <f32> (L2), <f32> (L2), <f32> (L2),
  <f32> (L1), <f32> (L1), <f32> (L1), <f32> (L1),
  <f32> (L0), <f32> (L0), <f32> (L0), <f32> (L0),
  <f32> (Infinity), <f32> (Infinity), <f32> (Infinity), <f32> (Infinity),
  <f32> (INV_SQRT_2PI), <f32> (INV_SQRT_2PI), <f32> (INV_SQRT_2PI), <f32> (INV_SQRT_2PI),
  <f32> (F8), <f32> (F8), <f32> (F8), <f32> (F8),
  <f32> (F7), <f32> (F7), <f32> (F7), <f32> (F7),
  <f32> (F6), <f32> (F6), <f32> (F6), <f32> (F6),
  <f32> (F5), <f32> (F5), <f32> (F5), <f32> (F5),
  <f32> (F4), <f32> (F4), <f32> (F4), <f32> (F4),
  <f32> (F3), <f32> (F3), <f32> (F3), <f32> (F3),
  <f32> (F2), <f32> (F2), <f32> (F2), <f32> (F2),
  <f32> (F1), <f32> (F1), <f32> (F1), <f32> (F1),
  <f32> (F0), <f32> (F0), <f32> (F0), <f32> (F0),
  <f32> (E6), <f32> (E6), <f32> (E6), <f32> (E6),
  <f32> (E5), <f32> (E5), <f32> (E5), <f32> (E5),
  <f32> (E4), <f32> (E4), <f32> (E4), <f32> (E4),
  <f32> (E3), <f32> (E3), <f32> (E3), <f32> (E3),
  <f32> (E2), <f32> (E2), <f32> (E2), <f32> (E2),
  <f32> (E1), <f32> (E1), <f32> (E1), <f32> (E1),
  89.0, 89.0, 89.0, 89.0,
  -104.0, -104.0, -104.0, -104.0,
  8388608.0, 8388608.0, 8388608.0, 8388608.0,
  <f32> (3.0 * GELU_2KC), <f32> (3.0 * GELU_2KC), <f32> (3.0 * GELU_2KC), <f32> (3.0 * GELU_2KC),
  20.0, 20.0, 20.0, 20.0,
  -20.0, -20.0, -20.0, -20.0,
  <f32> (1.17549435e-38), <f32> (1.17549435e-38), <f32> (1.17549435e-38), <f32> (1.17549435e-38),
  0.625, 0.625, 0.625, 0.625,
  -1.0, -1.0, -1.0, -1.0,
  -0.5, -0.5, -0.5, -0.5,
  -87.0, -87.0, -87.0, -87.0,
], 16);
const KI: usize = memory.data<i32>([
  127, 127, 127, 127,
  0x3f3504f3, 0x3f3504f3, 0x3f3504f3, 0x3f3504f3,
  23, 23, 23, 23,
  0x80000000, 0x80000000, 0x80000000, 0x80000000,
  0x4b400000, 0x4b400000, 0x4b400000, 0x4b400000,
  0x007fffff, 0x007fffff, 0x007fffff, 0x007fffff,
], 16);

// @ts-ignore: decorator
@inline function kf(i: i32): v128 {
  return v128.load(KF + (<usize> i << 4));
}

// @ts-ignore: decorator
@inline function ki(i: i32): v128 {
  return v128.load(KI + (<usize> i << 4));
}


// @ts-ignore: decorator
@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}

/** e^x per lane (see the top of the file for range and accuracy). */
// @ts-ignore: decorator
@inline function vexp(x0: v128): v128 {
  // clamp (pmin/pmax keep a NaN first operand), then n = round(x·log2 e) by the 1.5·2^23 trick: the
  // low mantissa bits of t hold n as an integer
  const x = f32x4.pmax(f32x4.pmin(x0, kf(C_EXP_HI)), kf(C_EXP_LO));
  const t = madd(x, kf(C_LOG2E), kf(C_ROUND));
  const n = f32x4.sub(t, kf(C_ROUND));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, kf(C_LN2_HI))), f32x4.mul(n, kf(C_LN2_LO)));
  let p = madd(kf(C_E6), r, kf(C_E5));
  p = madd(p, r, kf(C_E4));
  p = madd(p, r, kf(C_E3));
  p = madd(p, r, kf(C_E2));
  p = madd(p, r, kf(C_E1));
  p = madd(p, r, kf(C_ONE));
  const ni = i32x4.sub(t, ki(I_ROUND_BITS));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, ki(I_127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, ki(I_127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/**
 * exp of the max-shifted logits of a softmax row (x − max <= 0): 0 below −87 instead of a subnormal
 * (masked −Inf scores, far tails). Producing subnormals is a slow path on x86 (causal attention's
 * softmax ran 2x slower); they are below 1.2e-38 relative to the row's largest term. NaN stays NaN.
 */
// @ts-ignore: decorator
@inline function vexpShifted(d: v128): v128 {
  return v128.andnot(vexp(f32x4.pmax(d, kf(C_EXP_NORMAL))), f32x4.lt(d, kf(C_EXP_NORMAL)));
}

/** Natural logarithm per lane. */
// @ts-ignore: decorator
@inline function vlog(x: v128): v128 {
  const tiny = f32x4.lt(x, kf(C_FLT_MIN)); // subnormal (or <= 0: fixed up below)
  const xs = v128.bitselect(f32x4.mul(x, kf(C_2P23)), x, tiny);
  const t = i32x4.sub(xs, ki(I_SQRTH_BITS));
  const e = i32x4.sub(i32x4.shr_s(t, 23), v128.and(tiny, ki(I_23)));
  const m = i32x4.add(v128.and(t, ki(I_MANT)), ki(I_SQRTH_BITS));
  const f = f32x4.sub(m, kf(C_ONE));
  const s = f32x4.div(f, f32x4.add(f, kf(C_TWO)));
  const y = f32x4.mul(s, s);
  let q = madd(kf(C_L3), y, kf(C_L2));
  q = madd(q, y, kf(C_L1));
  q = madd(q, y, kf(C_L0));
  const lm = f32x4.add(f32x4.add(s, s), f32x4.mul(s, f32x4.mul(y, q)));
  const ef = f32x4.convert_i32x4_s(e);
  let res = f32x4.add(f32x4.mul(ef, kf(C_LN2_HI)), f32x4.add(lm, f32x4.mul(ef, kf(C_LN2_LO))));
  res = v128.bitselect(x, res, f32x4.eq(x, kf(C_INF)));
  res = v128.bitselect(kf(C_NEG_INF), res, f32x4.eq(x, splat(0.0)));
  // x < 0 or NaN: NaN
  return v128.bitselect(kf(C_NAN), res, v128.not(f32x4.ge(x, splat(0.0))));
}

/** tanh per lane. */
// @ts-ignore: decorator
@inline function vtanh(x: v128): v128 {
  const a = f32x4.abs(x);
  const y = f32x4.mul(x, x);
  let p = madd(kf(C_T4), y, kf(C_T3));
  p = madd(p, y, kf(C_T2));
  p = madd(p, y, kf(C_T1));
  p = madd(p, y, kf(C_T0));
  const small = f32x4.add(x, f32x4.mul(x, f32x4.mul(y, p)));
  const e = vexp(f32x4.add(a, a));
  const big = f32x4.sub(kf(C_ONE), f32x4.div(kf(C_TWO), f32x4.add(e, kf(C_ONE))));
  const bigSigned = v128.bitselect(x, big, ki(I_SIGN));
  return v128.bitselect(small, bigSigned, f32x4.lt(a, kf(C_TANH_SPLIT)));
}

/** sigmoid per lane. */
// @ts-ignore: decorator
@inline function vsigmoid(x: v128): v128 {
  const e = vexp(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(kf(C_ONE), f32x4.add(kf(C_ONE), e));
  return v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, splat(0.0)));
}

/**
 * Φ(x) (standard normal CDF) per lane, given e = exp(−x²/2) (shared with the gelu gradient).
 */
// @ts-ignore: decorator
@inline function vphi(x: v128, z: v128, e: v128): v128 {
  const zz = f32x4.mul(z, z);
  // z < 1: erfc = 1 − z·P(z²)
  let p = madd(kf(C_P6), zz, kf(C_P5));
  p = madd(p, zz, kf(C_P4));
  p = madd(p, zz, kf(C_P3));
  p = madd(p, zz, kf(C_P2));
  p = madd(p, zz, kf(C_P1));
  p = madd(p, zz, kf(C_P0));
  const hSmall = f32x4.sub(kf(C_HALF), f32x4.mul(kf(C_HALF), f32x4.mul(z, p)));
  // z >= 1: erfc = t·F(t)·exp(−z²)
  const t = f32x4.div(kf(C_ONE), madd(z, kf(C_HALF), kf(C_ONE)));
  let q = madd(kf(C_F8), t, kf(C_F7));
  q = madd(q, t, kf(C_F6));
  q = madd(q, t, kf(C_F5));
  q = madd(q, t, kf(C_F4));
  q = madd(q, t, kf(C_F3));
  q = madd(q, t, kf(C_F2));
  q = madd(q, t, kf(C_F1));
  q = madd(q, t, kf(C_F0));
  const hBig = f32x4.mul(f32x4.mul(kf(C_HALF), t), f32x4.mul(q, e));
  const h = v128.bitselect(hSmall, hBig, f32x4.lt(z, kf(C_ONE)));
  return v128.bitselect(f32x4.sub(kf(C_ONE), h), h, f32x4.ge(x, splat(0.0)));
}

/** Math.sign per lane: ±1, ±0 and NaN kept. */
// @ts-ignore: decorator
@inline function vsign(x: v128): v128 {
  const r = v128.bitselect(kf(C_ONE), x, f32x4.gt(x, splat(0.0)));
  return v128.bitselect(kf(C_MONE), r, f32x4.lt(x, splat(0.0)));
}

// @ts-ignore: decorator
@inline function vunary(op: i32, x: v128): v128 {
  switch (op) {
    case U_NEG:
      return f32x4.neg(x);
    case U_ABS:
      return f32x4.abs(x);
    case U_SIGN:
      return vsign(x);
    case U_EXP:
      return vexp(x);
    case U_LOG:
      return vlog(x);
    case U_SQRT:
      return f32x4.sqrt(x);
    case U_RSQRT:
      return f32x4.div(kf(C_ONE), f32x4.sqrt(x));
    case U_SQUARE:
      return f32x4.mul(x, x);
    case U_RECIPROCAL:
      return f32x4.div(kf(C_ONE), x);
    case U_TANH:
      return vtanh(x);
    case U_SIGMOID:
      return vsigmoid(x);
    case U_RELU: // pmax keeps NaN (first operand); + 0 turns −0 into +0
      return f32x4.add(f32x4.pmax(x, splat(0.0)), splat(0.0));
    case U_GELU: {
      const z = f32x4.mul(f32x4.abs(x), kf(C_SQRT1_2));
      const e = vexp(f32x4.neg(f32x4.mul(z, z)));
      return f32x4.mul(x, vphi(x, z, e));
    }
    case U_GELU_TANH: {
      const u = f32x4.mul(x, madd(kf(C_GELU_2KC), f32x4.mul(x, x), kf(C_GELU_2K)));
      return f32x4.mul(x, vsigmoid(u));
    }
    case U_SILU:
      return f32x4.mul(x, vsigmoid(x));
  }
  return x;
}

/** d op(x)/dx · g per lane, from the input x, the forward output y and the upstream g. */
// @ts-ignore: decorator
@inline function vunaryGrad(op: i32, x: v128, y: v128, g: v128): v128 {
  switch (op) {
    case U_NEG:
      return f32x4.neg(g);
    case U_ABS:
      return f32x4.mul(g, vsign(x));
    case U_SIGN:
      return splat(0.0);
    case U_EXP:
      return f32x4.mul(g, y);
    case U_LOG:
      return f32x4.div(g, x);
    case U_SQRT:
      return f32x4.div(f32x4.mul(g, kf(C_HALF)), y);
    case U_RSQRT:
      return f32x4.mul(f32x4.mul(f32x4.mul(f32x4.mul(kf(C_MHALF), g), y), y), y);
    case U_SQUARE:
      return f32x4.mul(f32x4.mul(kf(C_TWO), g), x);
    case U_RECIPROCAL:
      return f32x4.mul(f32x4.mul(f32x4.neg(g), y), y);
    case U_TANH:
      return f32x4.mul(g, f32x4.sub(kf(C_ONE), f32x4.mul(y, y)));
    case U_SIGMOID:
      return f32x4.mul(f32x4.mul(g, y), f32x4.sub(kf(C_ONE), y));
    case U_RELU:
      return v128.and(g, f32x4.gt(x, splat(0.0)));
    case U_GELU: {
      const z = f32x4.mul(f32x4.abs(x), kf(C_SQRT1_2));
      const e = vexp(f32x4.neg(f32x4.mul(z, z)));
      const d = madd(x, f32x4.mul(e, kf(C_INV_SQRT_2PI)), vphi(x, z, e));
      return f32x4.mul(g, d);
    }
    case U_GELU_TANH: {
      const u = f32x4.mul(x, madd(kf(C_GELU_2KC), f32x4.mul(x, x), kf(C_GELU_2K)));
      const e = vexp(f32x4.neg(f32x4.abs(u)));
      const r = f32x4.div(kf(C_ONE), f32x4.add(kf(C_ONE), e));
      const s = v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(u, splat(0.0)));
      const s1s = f32x4.mul(e, f32x4.mul(r, r)); // s·(1 − s) without cancellation
      // for |x| > 20, s·(1−s) is exactly 0; clamping keeps x·(...)·x² finite there
      const xc = f32x4.pmax(f32x4.pmin(x, kf(C_20)), kf(C_M20));
      const du = madd(kf(C_GELU_6KC), f32x4.mul(xc, xc), kf(C_GELU_2K));
      return f32x4.mul(g, madd(f32x4.mul(xc, s1s), du, s));
    }
    case U_SILU: {
      const e = vexp(f32x4.neg(f32x4.abs(x)));
      const r = f32x4.div(kf(C_ONE), f32x4.add(kf(C_ONE), e));
      const er = f32x4.mul(e, r);
      const pos = f32x4.ge(x, splat(0.0));
      const sp = v128.bitselect(r, er, pos); // sigmoid(x)
      const sm = v128.bitselect(er, r, pos); // 1 − sigmoid(x)
      return f32x4.mul(g, f32x4.mul(sp, madd(x, sm, kf(C_ONE))));
    }
  }
  return g;
}

// @ts-ignore: decorator
@inline function vbinary(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case B_ADD:
      return f32x4.add(a, b);
    case B_SUB:
      return f32x4.sub(a, b);
    case B_MUL:
      return f32x4.mul(a, b);
    case B_DIV:
      return f32x4.div(a, b);
    case B_MAX:
      return f32x4.max(a, b);
    case B_MIN:
      return f32x4.min(a, b);
    case B_EQ:
      return v128.and(f32x4.eq(a, b), kf(C_ONE));
    case B_NE:
      return v128.and(f32x4.ne(a, b), kf(C_ONE));
    case B_GT:
      return v128.and(f32x4.gt(a, b), kf(C_ONE));
    case B_GE:
      return v128.and(f32x4.ge(a, b), kf(C_ONE));
    case B_LT:
      return v128.and(f32x4.lt(a, b), kf(C_ONE));
    case B_LE:
      return v128.and(f32x4.le(a, b), kf(C_ONE));
  }
  return a;
}

/** Bytes spanned by n elements rounded up to whole vectors. */
// @ts-ignore: decorator
@inline function vecBytes(n: i32): usize {
  return (<usize> (n + 3) >> 2) << 4;
}

/** Lanes [0, rem) all ones, the others zero (rem in 1..3 for a ragged tail, 4 = all). */
// @ts-ignore: decorator
@inline function tailMask(rem: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(rem));
}

/** Sum of the four lanes of v, in float64. */
// @ts-ignore: decorator
@inline function hsum64(acc: v128): f64 {
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** acc (f64x2) += the four lanes of v (promoted to float64), folded pairwise. */
// @ts-ignore: decorator
@inline function acc64(acc: v128, v: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))));
}

// ------------------------------------------------------------------ unary

// @ts-ignore: decorator
@inline function unaryLoop(op: i32, x: usize, out: usize, n: i32): void {
  const end = x + vecBytes(n);
  while (x < end) {
    v128.store(out, vunary(op, v128.load(x)));
    x += 16;
    out += 16;
  }
}

/** out[i] = op(x[i]) for i < n (op codes U_*; whole vectors, see the top of the file). */
export function ewUnary(op: i32, x: usize, out: usize, n: i32): void {
  switch (op) {
    case U_NEG: unaryLoop(U_NEG, x, out, n); break;
    case U_ABS: unaryLoop(U_ABS, x, out, n); break;
    case U_SIGN: unaryLoop(U_SIGN, x, out, n); break;
    case U_EXP: unaryLoop(U_EXP, x, out, n); break;
    case U_LOG: unaryLoop(U_LOG, x, out, n); break;
    case U_SQRT: unaryLoop(U_SQRT, x, out, n); break;
    case U_RSQRT: unaryLoop(U_RSQRT, x, out, n); break;
    case U_SQUARE: unaryLoop(U_SQUARE, x, out, n); break;
    case U_RECIPROCAL: unaryLoop(U_RECIPROCAL, x, out, n); break;
    case U_TANH: unaryLoop(U_TANH, x, out, n); break;
    case U_SIGMOID: unaryLoop(U_SIGMOID, x, out, n); break;
    case U_RELU: unaryLoop(U_RELU, x, out, n); break;
    case U_GELU: unaryLoop(U_GELU, x, out, n); break;
    case U_GELU_TANH: unaryLoop(U_GELU_TANH, x, out, n); break;
    case U_SILU: unaryLoop(U_SILU, x, out, n); break;
  }
}

// @ts-ignore: decorator
@inline function unaryGradLoop(op: i32, x: usize, y: usize, g: usize, out: usize, n: i32): void {
  const end = g + vecBytes(n);
  while (g < end) {
    v128.store(out, vunaryGrad(op, v128.load(x), v128.load(y), v128.load(g)));
    x += 16;
    y += 16;
    g += 16;
    out += 16;
  }
}

/**
 * out[i] = g[i]·op'(x[i]) for i < n, given the input x, forward output y and upstream gradient g.
 * Pointers of operands the op does not read may be any valid address (they are still loaded).
 */
export function ewUnaryGrad(op: i32, x: usize, y: usize, g: usize, out: usize, n: i32): void {
  switch (op) {
    case U_NEG: unaryGradLoop(U_NEG, x, y, g, out, n); break;
    case U_ABS: unaryGradLoop(U_ABS, x, y, g, out, n); break;
    case U_SIGN: unaryGradLoop(U_SIGN, x, y, g, out, n); break;
    case U_EXP: unaryGradLoop(U_EXP, x, y, g, out, n); break;
    case U_LOG: unaryGradLoop(U_LOG, x, y, g, out, n); break;
    case U_SQRT: unaryGradLoop(U_SQRT, x, y, g, out, n); break;
    case U_RSQRT: unaryGradLoop(U_RSQRT, x, y, g, out, n); break;
    case U_SQUARE: unaryGradLoop(U_SQUARE, x, y, g, out, n); break;
    case U_RECIPROCAL: unaryGradLoop(U_RECIPROCAL, x, y, g, out, n); break;
    case U_TANH: unaryGradLoop(U_TANH, x, y, g, out, n); break;
    case U_SIGMOID: unaryGradLoop(U_SIGMOID, x, y, g, out, n); break;
    case U_RELU: unaryGradLoop(U_RELU, x, y, g, out, n); break;
    case U_GELU: unaryGradLoop(U_GELU, x, y, g, out, n); break;
    case U_GELU_TANH: unaryGradLoop(U_GELU_TANH, x, y, g, out, n); break;
    case U_SILU: unaryGradLoop(U_SILU, x, y, g, out, n); break;
  }
}

// ------------------------------------------------------------------ binary

// @ts-ignore: decorator
@inline function binaryRows(
  op: i32, a: usize, sa: usize, ia: i32, b: usize, sb: usize, ib: i32, out: usize, rows: i32, cols: i32,
): void {
  const rowBytes = vecBytes(cols);
  const oStride = <usize> cols << 2;
  sa <<= 2;
  sb <<= 2;
  for (let r = 0; r < rows; r++) {
    const end = out + rowBytes;
    let o = out, pa = a, pb = b;
    if (ia != 0 && ib != 0) {
      while (o < end) {
        v128.store(o, vbinary(op, v128.load(pa), v128.load(pb)));
        o += 16;
        pa += 16;
        pb += 16;
      }
    } else if (ia != 0) {
      const vb = v128.load32_splat(pb);
      while (o < end) {
        v128.store(o, vbinary(op, v128.load(pa), vb));
        o += 16;
        pa += 16;
      }
    } else if (ib != 0) {
      const va = v128.load32_splat(pa);
      while (o < end) {
        v128.store(o, vbinary(op, va, v128.load(pb)));
        o += 16;
        pb += 16;
      }
    } else {
      const v = vbinary(op, v128.load32_splat(pa), v128.load32_splat(pb));
      while (o < end) {
        v128.store(o, v);
        o += 16;
      }
    }
    out += oStride;
    a += sa;
    b += sb;
  }
}

/**
 * out[r, j] = op(a[r·sa + j·ia], b[r·sb + j·ib]) for r < rows, j < cols; out contiguous [rows, cols];
 * sa/sb are row strides in elements (0 broadcasts a row), ia/ib are 1 (contiguous) or 0 (one value
 * per row). Op codes B_*.
 */
export function ewBinary(
  op: i32, a: usize, sa: i32, ia: i32, b: usize, sb: i32, ib: i32, out: usize, rows: i32, cols: i32,
): void {
  const usa = <usize> sa, usb = <usize> sb;
  switch (op) {
    case B_ADD: binaryRows(B_ADD, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_SUB: binaryRows(B_SUB, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_MUL: binaryRows(B_MUL, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_DIV: binaryRows(B_DIV, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_MAX: binaryRows(B_MAX, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_MIN: binaryRows(B_MIN, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_EQ: binaryRows(B_EQ, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_NE: binaryRows(B_NE, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_GT: binaryRows(B_GT, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_GE: binaryRows(B_GE, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_LT: binaryRows(B_LT, a, usa, ia, b, usb, ib, out, rows, cols); break;
    case B_LE: binaryRows(B_LE, a, usa, ia, b, usb, ib, out, rows, cols); break;
  }
}

/** out[i] = alpha·x[i] + beta·y[i] for i < n. */
export function ewAxpby(x: usize, alpha: f32, y: usize, beta: f32, out: usize, n: i32): void {
  const end = x + vecBytes(n);
  const va = splat(alpha), vb = splat(beta);
  if (alpha == 1) {
    while (x < end) {
      v128.store(out, madd(v128.load(y), vb, v128.load(x)));
      x += 16;
      y += 16;
      out += 16;
    }
  } else {
    while (x < end) {
      v128.store(out, f32x4.add(f32x4.mul(v128.load(x), va), f32x4.mul(v128.load(y), vb)));
      x += 16;
      y += 16;
      out += 16;
    }
  }
}

// ------------------------------------------------------------------ rows: softmax, sums

/**
 * Max of scale·x over the n >= 1 elements x[0, n) of one row (float32 products, lanes past n never
 * used; a NaN is skipped here and propagates through the exp sum instead); 0 for an all −Inf row
 * (avoids inf − inf, giving NaN as PyTorch).
 */
// @ts-ignore: decorator
@inline function rowMax(x: usize, n: i32, vs: v128): f32 {
  const full = n & ~3, rem = n & 3;
  let vm = kf(C_NEG_INF);
  let j = 0;
  for (; j < full; j += 4) vm = f32x4.pmax(vm, f32x4.mul(v128.load(x + (<usize> j << 2)), vs));
  if (rem) {
    vm = f32x4.pmax(vm, v128.bitselect(f32x4.mul(v128.load(x + (<usize> j << 2)), vs), kf(C_NEG_INF), tailMask(rem)));
  }
  const m = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  return m == -Infinity ? 0 : m;
}

/**
 * Softmax of scale·x over the n >= 1 elements x[0, n) of one row into out[0, n) (max subtracted,
 * normaliser summed in float64); the lanes of out's last vector past n are written as 0 (out is
 * written up to vecBytes(n)), lanes of x past n are never used. scale = 1 is the plain softmax.
 */
// @ts-ignore: decorator
@inline function softmaxRow(x: usize, out: usize, n: i32, vs: v128): void {
  const full = n & ~3, rem = n & 3;
  const vmx = splat(rowMax(x, n, vs));
  let acc = f64x2.splat(0);
  let j = 0;
  for (; j < full; j += 4) {
    const e = vexpShifted(f32x4.sub(f32x4.mul(v128.load(x + (<usize> j << 2)), vs), vmx));
    v128.store(out + (<usize> j << 2), e);
    acc = acc64(acc, e);
  }
  if (rem) {
    const e = v128.and(vexpShifted(f32x4.sub(f32x4.mul(v128.load(x + (<usize> j << 2)), vs), vmx)), tailMask(rem));
    v128.store(out + (<usize> j << 2), e);
    acc = acc64(acc, e);
  }
  const inv = splat(<f32> (1.0 / hsum64(acc)));
  const fullBytes = <usize> full << 2;
  for (let o: usize = 0; o < fullBytes; o += 16) v128.store(out + o, f32x4.mul(v128.load(out + o), inv));
  // the tail's lanes past n stay 0 even when the sum is 0 or NaN (an all −Inf / NaN row)
  if (rem) v128.store(out + fullBytes, v128.and(f32x4.mul(v128.load(out + fullBytes), inv), tailMask(rem)));
}

/**
 * Softmax gradient over the n >= 1 elements of one row from its output y and upstream g:
 * out = y·(g − Σ g·y)·scale (sum in float64, scale multiplied last, as a separate multiply would);
 * the lanes of out's last vector past n are written as 0, lanes of y and g past n are never used.
 */
// @ts-ignore: decorator
@inline function softmaxGradRow(y: usize, g: usize, out: usize, n: i32, vs: v128): void {
  const full = n & ~3, rem = n & 3;
  const mask = tailMask(rem);
  let acc = f64x2.splat(0);
  let j = 0;
  for (; j < full; j += 4) {
    const o = <usize> j << 2;
    acc = acc64(acc, f32x4.mul(v128.load(g + o), v128.load(y + o)));
  }
  if (rem) {
    const o = <usize> j << 2;
    acc = acc64(acc, v128.and(f32x4.mul(v128.load(g + o), v128.load(y + o)), mask));
  }
  const s = splat(<f32> hsum64(acc));
  const fullBytes = <usize> full << 2;
  for (let o: usize = 0; o < fullBytes; o += 16) {
    v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(y + o), f32x4.sub(v128.load(g + o), s)), vs));
  }
  if (rem) {
    const o = fullBytes;
    v128.store(out + o, v128.and(f32x4.mul(f32x4.mul(v128.load(y + o), f32x4.sub(v128.load(g + o), s)), vs), mask));
  }
}

/**
 * Softmax (log = 0) or log-softmax (log = 1) of each row of x [rows, dim] into out (distinct
 * buffers), max subtracted; the normaliser is summed in float64. A row that is all −Inf uses 0 as
 * its max (giving NaN, as PyTorch).
 */
export function ewSoftmaxRows(x: usize, out: usize, rows: i32, dim: i32, log: i32): void {
  const full = dim & ~3, rem = dim & 3;
  const mask = tailMask(rem);
  const rowBytes = <usize> dim << 2;
  const one = splat(1);
  for (let r = 0; r < rows; r++) {
    if (log) {
      const m = rowMax(x, dim, one);
      const vmx = splat(m);
      let acc = f64x2.splat(0);
      let j = 0;
      for (; j < full; j += 4) acc = acc64(acc, vexpShifted(f32x4.sub(v128.load(x + (<usize> j << 2)), vmx)));
      if (rem) acc = acc64(acc, v128.and(vexpShifted(f32x4.sub(v128.load(x + (<usize> j << 2)), vmx)), mask));
      const lse = splat(<f32> (<f64> m + Math.log(hsum64(acc))));
      const end = vecBytes(dim);
      for (let o: usize = 0; o < end; o += 16) v128.store(out + o, f32x4.sub(v128.load(x + o), lse));
    } else softmaxRow(x, out, dim, one);
    x += rowBytes;
    out += rowBytes;
  }
}

/**
 * Gradient of ewSoftmaxRows from its output y and upstream g (rows of length dim):
 * softmax out = y·(g − Σ g·y), log-softmax out = g − exp(y)·Σ g (sums in float64).
 */
export function ewSoftmaxGradRows(y: usize, g: usize, out: usize, rows: i32, dim: i32, log: i32): void {
  const full = dim & ~3, rem = dim & 3;
  const mask = tailMask(rem);
  const rowBytes = <usize> dim << 2;
  const end = vecBytes(dim);
  const one = splat(1);
  for (let r = 0; r < rows; r++) {
    if (log) {
      let acc = f64x2.splat(0);
      let j = 0;
      for (; j < full; j += 4) acc = acc64(acc, v128.load(g + (<usize> j << 2)));
      if (rem) acc = acc64(acc, v128.and(v128.load(g + (<usize> j << 2)), mask));
      const s = splat(<f32> hsum64(acc));
      for (let o: usize = 0; o < end; o += 16) {
        v128.store(out + o, f32x4.sub(v128.load(g + o), f32x4.mul(vexp(v128.load(y + o)), s)));
      }
    } else softmaxGradRow(y, g, out, dim, one);
    y += rowBytes;
    g += rowBytes;
    out += rowBytes;
  }
}

/** Zeros the vectors of a row of cols elements from vecBytes(n) on (up to 3 lanes past the row). */
// @ts-ignore: decorator
@inline function zeroTail(out: usize, n: i32, cols: i32): void {
  const end = vecBytes(cols);
  for (let o = vecBytes(n); o < end; o += 16) v128.store(out + o, i32x4.splat(0));
}

/**
 * Causal softmax of scale·x for rows [rows, cols] stacked in blocks of `period` query positions:
 * row r (position p = (p0 + r) mod period, p0 < period) is the softmax of scale·x over its first
 * n = min(p + offset, cols − 1) + 1 entries (rowMax / softmaxRow), zeros beyond; entries of x past n
 * are never read into the result. offset must be in [0, cols].
 */
export function ewCausalSoftmaxRows(
  x: usize,
  out: usize,
  rows: i32,
  cols: i32,
  scale: f32,
  p0: i32,
  period: i32,
  offset: i32,
): void {
  const rowBytes = <usize> cols << 2;
  const vs = splat(scale);
  let p = p0;
  for (let r = 0; r < rows; r++) {
    const n = min(p + offset, cols - 1) + 1;
    softmaxRow(x, out, n, vs);
    zeroTail(out, n, cols);
    x += rowBytes;
    out += rowBytes;
    if (++p == period) p = 0;
  }
}

/**
 * Gradient of ewCausalSoftmaxRows from its output y and upstream g (same rows and positions):
 * out = scale·y·(g − Σ g·y) over each row's first n entries (softmaxGradRow), zeros beyond.
 */
export function ewCausalSoftmaxGradRows(
  y: usize,
  g: usize,
  out: usize,
  rows: i32,
  cols: i32,
  scale: f32,
  p0: i32,
  period: i32,
  offset: i32,
): void {
  const rowBytes = <usize> cols << 2;
  const vs = splat(scale);
  let p = p0;
  for (let r = 0; r < rows; r++) {
    const n = min(p + offset, cols - 1) + 1;
    softmaxGradRow(y, g, out, n, vs);
    zeroTail(out, n, cols);
    y += rowBytes;
    g += rowBytes;
    out += rowBytes;
    if (++p == period) p = 0;
  }
}

/** out[r] = Σ_j x[r, j] for x [rows, cols], out float64 [rows] (float64 accumulation). */
export function ewSumRows(x: usize, out: usize, rows: i32, cols: i32): void {
  const full = cols & ~3, rem = cols & 3;
  const mask = tailMask(rem);
  for (let r = 0; r < rows; r++) {
    let acc = f64x2.splat(0);
    let j = 0;
    for (; j < full; j += 4) acc = acc64(acc, v128.load(x + (<usize> j << 2)));
    if (rem) acc = acc64(acc, v128.and(v128.load(x + (<usize> j << 2)), mask));
    store<f64>(out + (<usize> r << 3), hsum64(acc));
    x += <usize> cols << 2;
  }
}

/**
 * acc[j] += Σ_r x[r, j] for r < rows, j < cols, rows `stride` elements apart, in row order (float64
 * accumulation); acc float64 [cols] padded to whole vectors (lanes past cols receive garbage). Column
 * ranges starting at a multiple of 4 are independent: threads split the columns.
 */
export function ewSumColsAcc(x: usize, acc: usize, rows: i32, cols: i32, stride: i32): void {
  const end = vecBytes(cols);
  for (let r = 0; r < rows; r++) {
    for (let o: usize = 0; o < end; o += 16) {
      const v = v128.load(x + o);
      const p = acc + (o << 1);
      v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v)));
      v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))), 16);
    }
    x += <usize> stride << 2;
  }
}

// ------------------------------------------------------------------ fused: RMSNorm

/**
 * RMSNorm forward of x [rows, d]: r = 1/√(mean(x²) + eps) (float64, rounded to float32) stored in
 * rstd[row], y = (x·r)·w (w [d], ignored when hasW = 0).
 */
export function ewRmsNorm(x: usize, w: usize, y: usize, rstd: usize, rows: i32, d: i32, eps: f32, hasW: i32): void {
  const full = d & ~3, rem = d & 3;
  const mask = tailMask(rem);
  const rowBytes = <usize> d << 2;
  const end = vecBytes(d);
  for (let r = 0; r < rows; r++) {
    let acc = f64x2.splat(0);
    let j = 0;
    for (; j < full; j += 4) {
      const v = v128.load(x + (<usize> j << 2));
      acc = acc64(acc, f32x4.mul(v, v));
    }
    if (rem) {
      const v = v128.and(v128.load(x + (<usize> j << 2)), mask);
      acc = acc64(acc, f32x4.mul(v, v));
    }
    const rs = <f32> (1.0 / Math.sqrt(hsum64(acc) / <f64> d + <f64> eps));
    store<f32>(rstd + (<usize> r << 2), rs);
    const vr = splat(rs);
    if (hasW) {
      for (let o: usize = 0; o < end; o += 16) {
        v128.store(y + o, f32x4.mul(f32x4.mul(v128.load(x + o), vr), v128.load(w + o)));
      }
    } else {
      for (let o: usize = 0; o < end; o += 16) v128.store(y + o, f32x4.mul(v128.load(x + o), vr));
    }
    x += rowBytes;
    y += rowBytes;
  }
}

/**
 * RMSNorm backward for rows of x [rows, d] with saved rstd: n = x·r, gn = g·w (g without flag 1),
 * gx = r·(gn − n·mean(gn·n)) (mean in float64); with flag 2, gwAcc[j] += g·n in float64 (gwAcc
 * padded to whole vectors). flags: 1 = scale by w, 2 = accumulate the weight gradient.
 */
export function ewRmsNormGrad(
  g: usize, x: usize, w: usize, rstd: usize, gx: usize, gwAcc: usize, rows: i32, d: i32, flags: i32,
): void {
  const hasW = flags & 1, accW = flags & 2;
  const full = d & ~3, rem = d & 3;
  const mask = tailMask(rem);
  const rowBytes = <usize> d << 2;
  const end = vecBytes(d);
  const invD = 1.0 / <f64> d;
  for (let r = 0; r < rows; r++) {
    const vr = v128.load32_splat(rstd + (<usize> r << 2));
    let acc = f64x2.splat(0);
    let j = 0;
    for (; j < full; j += 4) {
      const o = <usize> j << 2;
      const n = f32x4.mul(v128.load(x + o), vr);
      const gn = hasW ? f32x4.mul(v128.load(g + o), v128.load(w + o)) : v128.load(g + o);
      acc = acc64(acc, f32x4.mul(gn, n));
    }
    if (rem) {
      const o = <usize> j << 2;
      const n = f32x4.mul(v128.load(x + o), vr);
      const gn = hasW ? f32x4.mul(v128.load(g + o), v128.load(w + o)) : v128.load(g + o);
      acc = acc64(acc, v128.and(f32x4.mul(gn, n), mask));
    }
    const md = splat(<f32> (hsum64(acc) * invD));
    for (let o: usize = 0; o < end; o += 16) {
      const gv = v128.load(g + o);
      const n = f32x4.mul(v128.load(x + o), vr);
      const gn = hasW ? f32x4.mul(gv, v128.load(w + o)) : gv;
      v128.store(gx + o, f32x4.mul(vr, f32x4.sub(gn, f32x4.mul(n, md))));
      if (accW) {
        const t = f32x4.mul(gv, n);
        const p = gwAcc + (o << 1);
        v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(t)));
        v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(t, t, 2, 3, 0, 1))), 16);
      }
    }
    g += rowBytes;
    x += rowBytes;
    gx += rowBytes;
  }
}

/**
 * The weight-gradient part of ewRmsNormGrad alone: gwAcc[j] += g·(x·r) in float64 for r < rows,
 * j < cols, rows `stride` elements apart, in row order; the same float32 products and float64 sums as
 * ewRmsNormGrad with flag 2, so threads can split the columns (ranges starting at a multiple of 4)
 * while another pass computes gx by rows. gwAcc padded to whole vectors.
 */
export function ewRmsNormGradW(g: usize, x: usize, rstd: usize, gwAcc: usize, rows: i32, cols: i32, stride: i32): void {
  const end = vecBytes(cols);
  const rowBytes = <usize> stride << 2;
  for (let r = 0; r < rows; r++) {
    const vr = v128.load32_splat(rstd + (<usize> r << 2));
    for (let o: usize = 0; o < end; o += 16) {
      const t = f32x4.mul(v128.load(g + o), f32x4.mul(v128.load(x + o), vr));
      const p = gwAcc + (o << 1);
      v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(t)));
      v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(t, t, 2, 3, 0, 1))), 16);
    }
    g += rowBytes;
    x += rowBytes;
  }
}

// ------------------------------------------------------------------ fused: SwiGLU

/** y[i] = silu(a[i])·b[i] for i < n. */
export function ewSwiglu(a: usize, b: usize, y: usize, n: i32): void {
  const end = a + vecBytes(n);
  while (a < end) {
    v128.store(y, f32x4.mul(vunary(U_SILU, v128.load(a)), v128.load(b)));
    a += 16;
    b += 16;
    y += 16;
  }
}

/** Gradient of ewSwiglu: ga = g·b·silu'(a), gb = g·silu(a). */
export function ewSwigluGrad(a: usize, b: usize, g: usize, ga: usize, gb: usize, n: i32): void {
  const end = a + vecBytes(n);
  while (a < end) {
    const x = v128.load(a);
    const gv = v128.load(g);
    const e = vexp(f32x4.neg(f32x4.abs(x)));
    const r = f32x4.div(kf(C_ONE), f32x4.add(kf(C_ONE), e));
    const er = f32x4.mul(e, r);
    const pos = f32x4.ge(x, splat(0.0));
    const sp = v128.bitselect(r, er, pos);
    const sm = v128.bitselect(er, r, pos);
    v128.store(gb, f32x4.mul(gv, f32x4.mul(x, sp)));
    v128.store(ga, f32x4.mul(f32x4.mul(gv, v128.load(b)), f32x4.mul(sp, madd(x, sm, kf(C_ONE)))));
    a += 16;
    b += 16;
    g += 16;
    ga += 16;
    gb += 16;
  }
}

// ------------------------------------------------------------------ fused: rotary embedding

/**
 * Rotary embedding of rows of x [rows, d] (d even, half = d/2) with cos/signed-sin tables [*, d];
 * row r uses table row floor(r / rep). Forward (inverse = 0):
 *   y[i] = x[i]·C[i] + x[i+h]·S[i],  y[i+h] = x[i+h]·C[i+h] + x[i]·S[i+h];
 * inverse (the transposed rotation, for the gradient):
 *   y[i] = x[i]·C[i] + x[i+h]·S[i+h],  y[i+h] = x[i+h]·C[i+h] + x[i]·S[i].
 * out must not alias x.
 */
export function ewRotary(x: usize, cos: usize, sin: usize, out: usize, rows: i32, d: i32, rep: i32, inverse: i32): void {
  const half = d >> 1;
  const hb = <usize> half << 2;
  const fullB = <usize> (half & ~3) << 2;
  const rowBytes = <usize> d << 2;
  for (let r = 0; r < rows; r++) {
    const t = <usize> (r / rep) * rowBytes;
    const c = cos + t, s = sin + t;
    let o: usize = 0;
    for (; o < fullB; o += 16) {
      const x1 = v128.load(x + o), x2 = v128.load(x + o + hb);
      const s1 = v128.load(s + o), s2 = v128.load(s + o + hb);
      const c1 = v128.load(c + o), c2 = v128.load(c + o + hb);
      v128.store(out + o, f32x4.add(f32x4.mul(x1, c1), f32x4.mul(x2, inverse ? s2 : s1)));
      v128.store(out + o + hb, f32x4.add(f32x4.mul(x2, c2), f32x4.mul(x1, inverse ? s1 : s2)));
    }
    for (; o < hb; o += 4) {
      const x1 = load<f32>(x + o), x2 = load<f32>(x + o + hb);
      const s1 = load<f32>(s + o), s2 = load<f32>(s + o + hb);
      store<f32>(out + o, x1 * load<f32>(c + o) + x2 * (inverse ? s2 : s1));
      store<f32>(out + o + hb, x2 * load<f32>(c + o + hb) + x1 * (inverse ? s1 : s2));
    }
    x += rowBytes;
    out += rowBytes;
  }
}

// ------------------------------------------------------------------ fused: Adam / AdamW

// @ts-ignore: decorator
@inline function adamLoop(
  decoupled: bool, maximize: bool, amsgrad: bool,
  p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32,
  beta1: f32, omb1: f32, beta2: f32, omb2: f32, eps: f32, wd: f32, decayF: f32, stepSize: f32, invSqrtBc2: f32,
): void {
  const end = p + vecBytes(n);
  const b1 = splat(beta1), c1 = splat(omb1), b2 = splat(beta2), c2 = splat(omb2);
  const decay = splat(decayF), vwd = splat(wd), veps = splat(eps), vstep = splat(stepSize), vbc2 = splat(invSqrtBc2);
  while (p < end) {
    let pv = v128.load(p);
    let gv = v128.load(g);
    if (maximize) gv = f32x4.neg(gv);
    if (decoupled) pv = f32x4.mul(pv, decay);
    else gv = madd(pv, vwd, gv);
    const mv = madd(v128.load(m), b1, f32x4.mul(gv, c1));
    const vv = madd(v128.load(v), b2, f32x4.mul(f32x4.mul(gv, gv), c2));
    v128.store(m, mv);
    v128.store(v, vv);
    let vu = vv;
    if (amsgrad) {
      vu = f32x4.max(v128.load(vmax), vv);
      v128.store(vmax, vu);
      vmax += 16;
    }
    const denom = madd(f32x4.sqrt(vu), vbc2, veps);
    v128.store(p, f32x4.sub(pv, f32x4.mul(vstep, f32x4.div(mv, denom))));
    p += 16;
    g += 16;
    m += 16;
    v += 16;
  }
}

/**
 * One Adam/AdamW update of n parameters in place (PyTorch single-tensor algorithm):
 * g ← −g if maximize; decoupled: p ← p·(1 − lr·wd), else g ← g + wd·p;
 * m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; amsgrad: vmax ← max(vmax, v), used for v;
 * p ← p − stepSize·m / (√v·invSqrtBc2 + eps), stepSize = lr/(1−β1ᵗ), invSqrtBc2 = 1/√(1−β2ᵗ).
 * flags: 1 = decoupled, 2 = maximize, 4 = amsgrad. The caller passes 1−β1, 1−β2 and the decay
 * factor 1 − lr·wd computed in float64 (1 − float32(0.999) would be off by 1.3e-5 relative).
 */
export function ewAdamStep(
  p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32,
  beta1: f32, omb1: f32, beta2: f32, omb2: f32, eps: f32, wd: f32, decay: f32, stepSize: f32, invSqrtBc2: f32,
  flags: i32,
): void {
  switch (flags & 7) {
    case 0: adamLoop(false, false, false, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 1: adamLoop(true, false, false, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 2: adamLoop(false, true, false, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 3: adamLoop(true, true, false, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 4: adamLoop(false, false, true, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 5: adamLoop(true, false, true, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 6: adamLoop(false, true, true, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
    case 7: adamLoop(true, true, true, p, g, m, v, vmax, n, beta1, omb1, beta2, omb2, eps, wd, decay, stepSize, invSqrtBc2); break;
  }
}

/** Version of this kernel set (bumped when semantics change). */
export function elementwiseVersion(): i32 {
  return 1;
}
