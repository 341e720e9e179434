// Seeded pseudo-random test data shared by the tests: mulberry32 (a public-domain 32-bit generator), so
// inputs are reproducible across runs and machines without depending on the code under test.

/** Seeded uniform generator in [0, 1) (mulberry32): each call returns the next float64 draw. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `len` float32 values `map(u)` of successive mulberry32 draws `u` in [0, 1). */
export function mulberryData(len: number, seed: number, map: (u: number) => number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = map(next());
  return out;
}

/** `len` float32 values uniform in [-scale, scale) (mulberry32 draws `u`, value `(2u − 1)·scale`). */
export function uniformData(len: number, seed: number, scale = 1): Float32Array {
  return mulberryData(len, seed, (u) => (u * 2 - 1) * scale);
}
