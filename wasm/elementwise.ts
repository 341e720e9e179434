// SIMD elementwise / normalisation / optimizer kernels (placeholder until they land).
export function elementwiseVersion(): i32 {
  return 0;
}
