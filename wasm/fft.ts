// Batched real FFT kernels (placeholder until the FFT issue lands).
export function fftVersion(): i32 {
  return 0;
}
