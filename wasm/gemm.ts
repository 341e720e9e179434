// SIMD sgemm (placeholder until the GEMM kernel lands).
export function gemmVersion(): i32 {
  return 0;
}
