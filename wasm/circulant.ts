// Frequency-domain block products of C3A (placeholder until the circulant kernels land).
export function circulantVersion(): i32 {
  return 0;
}
