// SIMD helpers shared by the kernels, resolved at compile time per build.
//
// kernels.wasm is built with `--enable simd`; kernels_relaxed.wasm also with relaxed SIMD, where
// `madd` is one f32x4.relaxed_madd: a fused multiply-add (one rounding) on CPUs that have one, else
// a multiply and an add. The plain build multiplies and adds (two roundings), as it always did.

/** a·b + c on four f32 lanes (fused in the relaxed-SIMD build). */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}
