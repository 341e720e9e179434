/**
 * FFT planner shared by every backend: factorisation, twiddle tables, Bluestein sizes and chirps
 * for the batched real FFT of any length n >= 1. Plans are plain data (numbers and typed arrays),
 * computed in float64 and stored as float32, cached per n, so the wasm executor
 * (`src/fft/wasm_plan.ts`) and a WebGPU executor can both consume them.
 *
 * Algorithm (conventions of numpy.fft / torch.fft):
 * - even n: the real signal x is read as the complex signal z_j = x_2j + i x_2j+1 of length m = n/2,
 *   transformed, and split: X_k = (Z_k + conj Z_(m-k))/2 - i w^k (Z_k - conj Z_(m-k))/2,
 *   w = e^(-2 pi i/n), for k = 0..m;
 * - odd n: a complex transform of length n of the real signal;
 * - complex transforms of 2/3/5-smooth length: mixed radix 4/2/3/5 Stockham autosort passes
 *   (decimation in frequency, no bit-reversal pass);
 * - other lengths L: Bluestein's chirp-z algorithm on a smooth length M >= 2L-1.
 *
 * @module
 */

/**
 * One Stockham radix pass on a complex signal of total length N = radix * l * s (decimation in
 * frequency): for j < l, q < s, inputs a_k = x[q + s(j + k l)] and outputs
 * y[q + s(radix j + t)] = w^(j t) * sum_k a_k e^(-2 pi i k t / radix), w = e^(-2 pi i/(radix l)).
 */
export interface FftPass {
  /** 2, 3, 4 or 5. */
  readonly radix: number;
  /** Number of distinct twiddle groups (the current sub-transform length divided by radix). */
  readonly l: number;
  /** Stride: product of the radices of earlier passes. */
  readonly s: number;
  /**
   * Twiddles, float32 interleaved complex, `[l, radix-1, 2]`: entry (j, t-1) is w^(j t),
   * w = e^(-2 pi i/(radix l)).
   */
  readonly twiddles: Float32Array;
}

/** Plan of a forward complex DFT (X_k = sum_j x_j e^(-2 pi i jk/L)) of one length L. */
export type ComplexPlan = StockhamPlan | BluesteinPlan;

/** A 2/3/5-smooth length, computed by a sequence of Stockham passes (none for L = 1). */
export interface StockhamPlan {
  /** Discriminant. */
  readonly kind: "stockham";
  /** Transform length L. */
  readonly length: number;
  /** Passes in execution order; the product of their radices is L. */
  readonly passes: readonly FftPass[];
}

/**
 * Bluestein's algorithm for a length L with a prime factor > 5:
 * X_k = c_k * sum_j (x_j c_j) conj(c_(k-j)), c_j = e^(-pi i j^2/L), the convolution computed
 * circularly with a smooth length M >= 2L-1.
 */
export interface BluesteinPlan {
  /** Discriminant. */
  readonly kind: "bluestein";
  /** Transform length L. */
  readonly length: number;
  /** Convolution length M (2/3/5-smooth, >= 2L-1). */
  readonly m: number;
  /** Chirp c_j = e^(-pi i j^2/L), float32 interleaved complex `[L, 2]`. */
  readonly chirp: Float32Array;
  /**
   * DFT of the circular filter h (h_t = conj c_|t| for |t| < L, else 0) divided by M, float32
   * interleaved complex `[M, 2]`.
   */
  readonly filter: Float32Array;
  /** Plan of the length-M transforms. */
  readonly sub: StockhamPlan;
}

/** Plan of the batched real FFT of length n (and its inverse). */
export interface FftPlan {
  /** Signal length n >= 1. */
  readonly n: number;
  /** Number of spectrum bins, floor(n/2) + 1. */
  readonly bins: number;
  /** True when n is even (half-length complex trick). */
  readonly even: boolean;
  /** Length of the complex transform: n/2 for even n, n for odd n. */
  readonly complexLength: number;
  /**
   * Even n: split twiddles w^k = e^(-2 pi i k/n) for k = 0..n/2, float32 interleaved complex
   * `[n/2+1, 2]`. Odd n: empty.
   */
  readonly splitTwiddles: Float32Array;
  /** The complex transform of length `complexLength`. */
  readonly complex: ComplexPlan;
}

const planCache = new Map<number, FftPlan>();
const complexCache = new Map<number, ComplexPlan>();

/**
 * Returns the (cached) plan of the real FFT of length n.
 *
 * @param n signal length, an integer >= 1
 * @throws {RangeError} if n is not an integer >= 1 or exceeds 2^27
 */
export function getFftPlan(n: number): FftPlan {
  checkLength(n);
  let p = planCache.get(n);
  if (p) return p;
  const even = n % 2 === 0;
  const complexLength = even ? n / 2 : n;
  let splitTwiddles = new Float32Array(0);
  if (even) {
    const m = n / 2;
    splitTwiddles = new Float32Array(2 * (m + 1));
    for (let k = 0; k <= m; k++) {
      const [c, s] = unitRoot(k, n);
      splitTwiddles[2 * k] = c;
      splitTwiddles[2 * k + 1] = -s;
    }
  }
  p = {
    n,
    bins: Math.floor(n / 2) + 1,
    even,
    complexLength,
    splitTwiddles,
    complex: getComplexPlan(complexLength),
  };
  planCache.set(n, p);
  return p;
}

/**
 * Returns the (cached) plan of the forward complex DFT of length L (Stockham for 2/3/5-smooth L,
 * Bluestein otherwise).
 *
 * @param length L, an integer >= 1
 * @throws {RangeError} if L is not an integer >= 1 or exceeds 2^27
 */
export function getComplexPlan(length: number): ComplexPlan {
  checkLength(length);
  let p = complexCache.get(length);
  if (p) return p;
  if (isSmooth(length)) {
    p = stockhamPlan(length);
  } else {
    const m = nextSmooth(2 * length - 1);
    const chirp = new Float32Array(2 * length);
    const c64 = new Float64Array(2 * length);
    for (let j = 0; j < length; j++) {
      // angle pi j^2 / L, reduced exactly: j^2 mod 2L (j^2 < 2^53 for L <= 2^26)
      const [c, s] = unitRoot((j * j) % (2 * length), 2 * length);
      c64[2 * j] = c;
      c64[2 * j + 1] = -s;
    }
    chirp.set(c64);
    const hr = new Float64Array(m), hi = new Float64Array(m);
    for (let t = 0; t < length; t++) {
      hr[t] = c64[2 * t];
      hi[t] = -c64[2 * t + 1];
      if (t > 0) {
        hr[m - t] = hr[t];
        hi[m - t] = hi[t];
      }
    }
    fft64(hr, hi);
    const filter = new Float32Array(2 * m);
    for (let k = 0; k < m; k++) {
      filter[2 * k] = hr[k] / m;
      filter[2 * k + 1] = hi[k] / m;
    }
    p = { kind: "bluestein", length, m, chirp, filter, sub: stockhamPlan(m) };
  }
  complexCache.set(length, p);
  return p;
}

/** True when n > 0 has no prime factor other than 2, 3 and 5. */
export function isSmooth(n: number): boolean {
  for (const p of [2, 3, 5]) while (n % p === 0) n /= p;
  return n === 1;
}

/** The smallest 2/3/5-smooth integer >= n. */
export function nextSmooth(n: number): number {
  let m = Math.max(1, Math.ceil(n));
  while (!isSmooth(m)) m++;
  return m;
}

/** Radices in execution order for a smooth length: 5s, 3s, 4s, then at most one 2. */
export function factorize(n: number): number[] {
  const out: number[] = [];
  for (const p of [5, 3]) {
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  }
  while (n % 4 === 0) {
    out.push(4);
    n /= 4;
  }
  if (n === 2) {
    out.push(2);
    n = 1;
  }
  if (n !== 1) throw new RangeError(`factorize: ${n} has a prime factor other than 2, 3 and 5`);
  return out;
}

function stockhamPlan(length: number): StockhamPlan {
  const passes: FftPass[] = [];
  let s = 1;
  let cur = length;
  for (const radix of factorize(length)) {
    const l = cur / radix;
    const twiddles = new Float32Array(2 * l * (radix - 1));
    for (let j = 0; j < l; j++) {
      for (let t = 1; t < radix; t++) {
        const [c, sn] = unitRoot((j * t) % cur, cur);
        const o = 2 * (j * (radix - 1) + t - 1);
        twiddles[o] = c;
        twiddles[o + 1] = -sn;
      }
    }
    passes.push({ radix, l, s, twiddles });
    s *= radix;
    cur = l;
  }
  return { kind: "stockham", length, passes };
}

/** [cos, sin] of 2 pi k / n in float64, using symmetry so that exact values come out exact. */
function unitRoot(k: number, n: number): [number, number] {
  // reduce to the first octant for accuracy
  k %= n;
  if (k < 0) k += n;
  // use exact rational angle k/n; fold into [0, 1/8]
  const k8 = 8 * k;
  let oct = Math.floor(k8 / n);
  let r = k8 - oct * n; // angle = (oct + r/n) * pi/4
  let c: number, s: number;
  if (oct % 2 === 1) {
    // angle = (oct+1)*pi/4 - (n-r)/n*pi/4
    r = n - r;
    oct += 1;
    const a = (Math.PI / 4) * (r / n);
    // rotate by -a from (oct)*pi/4
    c = Math.cos(a);
    s = -Math.sin(a);
  } else {
    const a = (Math.PI / 4) * (r / n);
    c = Math.cos(a);
    s = Math.sin(a);
  }
  // now angle = oct*pi/4 + atan2(s, c), oct even: 0, 2, 4, 6, 8 (quarter turns)
  const q = (oct / 2) % 4;
  switch (q) {
    case 0:
      return [c, s];
    case 1:
      return [-s, c];
    case 2:
      return [-c, -s];
    default:
      return [s, -c];
  }
}

/** In-place float64 forward complex DFT of a 2/3/5-smooth length (planning only). */
function fft64(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (n <= 1) return;
  const p = n % 2 === 0 ? 2 : n % 3 === 0 ? 3 : 5;
  const m = n / p;
  const subR: Float64Array[] = [], subI: Float64Array[] = [];
  for (let r = 0; r < p; r++) {
    const sr = new Float64Array(m), si = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      sr[j] = re[p * j + r];
      si[j] = im[p * j + r];
    }
    fft64(sr, si);
    subR.push(sr);
    subI.push(si);
  }
  for (let k = 0; k < n; k++) {
    const kk = k % m;
    let ar = 0, ai = 0;
    for (let r = 0; r < p; r++) {
      const [c, s] = unitRoot((r * k) % n, n);
      const xr = subR[r][kk], xi = subI[r][kk];
      // times e^(-2 pi i r k/n) = c - i s
      ar += xr * c + xi * s;
      ai += xi * c - xr * s;
    }
    re[k] = ar;
    im[k] = ai;
  }
}

function checkLength(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 27) {
    throw new RangeError(`FFT length must be an integer in [1, 2^27], got ${n}`);
  }
}
