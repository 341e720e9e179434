/**
 * The one FFT planner of every executor: factorisation, twiddle tables, Bluestein sizes and chirps
 * for the batched real FFT of any length n >= 1, parameterised by what the executor's kernels
 * support ({@link FftCapabilities}: its radix set). Plans are plain data (numbers and typed
 * arrays), computed in float64 and stored as float32, cached per (n, capabilities); the wasm
 * executor uploads them into wasm memory (src/backend/wasm/fft_plan.ts), the WebGPU executor into
 * GPU buffers (src/backend/webgpu/fft.ts).
 *
 * Algorithm (conventions of numpy.fft / torch.fft):
 * - even n: the real signal x is read as the complex signal z_j = x_2j + i x_2j+1 of length m = n/2,
 *   transformed, and split: X_k = (Z_k + conj Z_(m-k))/2 - i w^k (Z_k - conj Z_(m-k))/2,
 *   w = e^(-2 pi i/n), for k = 0..m;
 * - odd n: a complex transform of length n of the real signal;
 * - complex transforms of 2/3/5-smooth length: mixed radix 4/2/3/5 (and 8 where the executor has
 *   it) Stockham autosort passes (decimation in frequency, no bit-reversal pass), see
 *   {@link factorize};
 * - other lengths L: Bluestein's chirp-z algorithm on a smooth length M >= 2L-1.
 *
 * Planning costs O(n log n): twiddles and chirps come from exact rational angles (chirp index
 * j^2 mod 2L), and the Bluestein filter spectrum from a float64 Stockham FFT of length M that
 * shares one root table with the float32 sub plan (n = 999983 plans in well under a second).
 *
 * @module
 */

/**
 * One Stockham radix pass on a complex signal of total length N = radix * l * s (decimation in
 * frequency): for j < l, q < s, inputs a_k = x[q + s(j + k l)] and outputs
 * y[q + s(radix j + t)] = w^(j t) * sum_k a_k e^(-2 pi i k t / radix), w = e^(-2 pi i/(radix l)).
 */
export interface FftPass {
  /** 2, 3, 4, 5 or 8 (8 only for executors that have it, see {@link factorize}). */
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

/**
 * What an executor's FFT kernels support: the Stockham radices it implements. Every executor has
 * 2, 3, 4 and 5; 8 is optional.
 */
export interface FftCapabilities {
  /** Supported radices (a superset of 2, 3, 4, 5). */
  readonly radices: readonly number[];
}

/** The radices every executor implements (the default capabilities). */
export const BASE_FFT_CAPABILITIES: FftCapabilities = { radices: [2, 3, 4, 5] };

const planCache = new Map<string, FftPlan>();
const complexCache = new Map<string, ComplexPlan>();

function capsKey(c: FftCapabilities): string {
  return c.radices.includes(8) ? "8" : "";
}

/**
 * Returns the (cached) plan of the real FFT of length n for an executor with capabilities `caps`.
 *
 * @param n signal length, an integer >= 1
 * @param caps the executor's radix set (default: 2, 3, 4, 5)
 * @throws {RangeError} if n is not an integer >= 1 or exceeds 2^27
 */
export function getFftPlan(n: number, caps: FftCapabilities = BASE_FFT_CAPABILITIES): FftPlan {
  checkLength(n);
  const key = `${n}|${capsKey(caps)}`;
  let p = planCache.get(key);
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
    complex: getComplexPlan(complexLength, caps),
  };
  planCache.set(key, p);
  return p;
}

/**
 * Returns the (cached) plan of the forward complex DFT of length L (Stockham for 2/3/5-smooth L,
 * Bluestein otherwise).
 *
 * @param length L, an integer >= 1
 * @param caps the executor's radix set (default: 2, 3, 4, 5)
 * @throws {RangeError} if L is not an integer >= 1 or exceeds 2^27
 */
export function getComplexPlan(length: number, caps: FftCapabilities = BASE_FFT_CAPABILITIES): ComplexPlan {
  checkLength(length);
  const key = `${length}|${capsKey(caps)}`;
  let p = complexCache.get(key);
  if (p) return p;
  if (isSmooth(length)) {
    p = stockhamPlan(length, rootTable(length), factorize(length, caps.radices));
  } else {
    p = bluesteinPlan(length, caps);
  }
  complexCache.set(key, p);
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

/**
 * Radices in execution order for a smooth length, given the radices an executor supports: 5s, 3s,
 * 4s, then at most one 2; with radix 8 supported, powers of two 2^e with e >= 6 use radix-8 passes
 * first, then 4s, then a final 2 for odd e (e.g. 128 = 8·8·2 instead of 4·4·4·2): one pass fewer
 * over the data, measured ~5% faster at n = 256 and 1024 on wasm. Lengths with factors 3 or 5 keep
 * the base order (radix 8 measured slower for 640 = 5·8·8·2).
 *
 * @param radices supported radices (default 2, 3, 4, 5)
 * @throws {RangeError} if n has a prime factor other than 2, 3 and 5
 */
export function factorize(n: number, radices: readonly number[] = BASE_FFT_CAPABILITIES.radices): number[] {
  if (radices.includes(8) && n >= 64 && (n & (n - 1)) === 0) {
    const e = Math.round(Math.log2(n));
    const out: number[] = [];
    let rest = e % 2 === 1 ? e - 1 : e;
    // rest = 3a + 2b with a maximal
    let a = Math.floor(rest / 3);
    while ((rest - 3 * a) % 2 !== 0) a--;
    for (let i = 0; i < a; i++) out.push(8);
    for (rest -= 3 * a; rest > 0; rest -= 2) out.push(4);
    if (e % 2 === 1) out.push(2);
    return out;
  }
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

// Bluestein plan in O(L + M log M): the chirp from exact angles pi (j^2 mod 2L)/L, the filter
// spectrum with a float64 FFT of length M driven by one root table shared with the sub plan.
function bluesteinPlan(length: number, caps: FftCapabilities): BluesteinPlan {
  const m = nextSmooth(2 * length - 1);
  const chirp = new Float32Array(2 * length);
  const hr = new Float64Array(m), hi = new Float64Array(m);
  const twoL = 2 * length;
  let sq = 0; // j^2 mod 2L, updated incrementally: (j+1)^2 = j^2 + 2j + 1
  for (let j = 0; j < length; j++) {
    const [c, s] = unitRoot(sq, twoL); // c_j = e^(-pi i j^2/L) = c - i s
    chirp[2 * j] = c;
    chirp[2 * j + 1] = -s;
    // filter h_t = conj c_|t| for |t| < L (float64, before rounding the chirp)
    hr[j] = c;
    hi[j] = s;
    if (j > 0) {
      hr[m - j] = c;
      hi[m - j] = s;
    }
    sq += 2 * j + 1;
    if (sq >= twoL) sq %= twoL;
  }
  const table = rootTable(m);
  const [fr, fi] = fft64(hr, hi, table);
  const filter = new Float32Array(2 * m);
  for (let k = 0; k < m; k++) {
    filter[2 * k] = fr[k] / m;
    filter[2 * k + 1] = fi[k] / m;
  }
  return {
    kind: "bluestein",
    length,
    m,
    chirp,
    filter,
    sub: stockhamPlan(m, table, factorize(m, caps.radices)),
  };
}

// table: rootTable(length).
function stockhamPlan(
  length: number,
  table: Float64Array,
  radices: readonly number[] = factorize(length),
): StockhamPlan {
  const passes: FftPass[] = [];
  let s = 1;
  let cur = length;
  for (const radix of radices) {
    const l = cur / radix;
    const twiddles = new Float32Array(2 * l * (radix - 1));
    for (let j = 0; j < l; j++) {
      for (let t = 1; t < radix; t++) {
        // w^(j t), w = e^(-2 pi i/cur) = e^(-2 pi i s/length); j t s < length
        const e = 2 * j * t * s;
        const o = 2 * (j * (radix - 1) + t - 1);
        twiddles[o] = table[e];
        twiddles[o + 1] = table[e + 1];
      }
    }
    passes.push({ radix, l, s, twiddles });
    s *= radix;
    cur = l;
  }
  return { kind: "stockham", length, passes };
}

/**
 * Roots of unity e^(-2 pi i k/n) for k < n, float64 interleaved `[n, 2]` (re, im), each from an
 * exact rational angle (see unitRoot); the second half mirrors the first (conjugates).
 */
function rootTable(n: number): Float64Array {
  const t = new Float64Array(2 * n);
  const half = Math.floor(n / 2);
  for (let k = 0; k <= half; k++) {
    const [c, s] = unitRoot(k, n);
    t[2 * k] = c;
    t[2 * k + 1] = -s;
    if (k > 0 && k < n - k) {
      t[2 * (n - k)] = c;
      t[2 * (n - k) + 1] = s;
    }
  }
  return t;
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

/**
 * Float64 forward complex DFT of a 2/3/5-smooth length n (planning only): Stockham autosort
 * passes in the order of {@link factorize} (the same DIF passes as the float32 kernels), twiddles
 * read from `table` = rootTable(n). Consumes re/im as scratch; returns the arrays holding the
 * result. O(n log n).
 */
function fft64(re: Float64Array, im: Float64Array, table: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  let xr: Float64Array = re, xi: Float64Array = im;
  let yr: Float64Array = new Float64Array(n), yi: Float64Array = new Float64Array(n);
  let s = 1, cur = n;
  for (const p of factorize(n)) {
    const l = cur / p;
    for (let j = 0; j < l; j++) pass64(p, j, l, s, xr, xi, yr, yi, table);
    [xr, yr] = [yr, xr];
    [xi, yi] = [yi, xi];
    s *= p;
    cur = l;
  }
  return [xr, xi];
}

const S3 = 0.8660254037844386; // sin(pi/3)
const C51 = 0.30901699437494745, C52 = -0.8090169943749475; // cos(2 pi/5), cos(4 pi/5)
const S51 = 0.9510565162951535, S52 = 0.5877852522924731; // sin(2 pi/5), sin(4 pi/5)

// Butterflies of group j of a radix-p pass (see FftPass): for q < s, a_k = x[q + s(j + k l)],
// y[q + s(p j + t)] = w^(j t) b_t with b the length-p DFT of a and w^(j t) = table[j t s].
function pass64(
  p: number,
  j: number,
  l: number,
  s: number,
  xr: Float64Array,
  xi: Float64Array,
  yr: Float64Array,
  yi: Float64Array,
  table: Float64Array,
): void {
  const kb = s * l, e1 = 2 * j * s;
  const w1r = table[e1], w1i = table[e1 + 1];
  const w2r = table[2 * e1], w2i = table[2 * e1 + 1];
  const w3r = p > 3 ? table[3 * e1] : 0, w3i = p > 3 ? table[3 * e1 + 1] : 0;
  const w4r = p > 4 ? table[4 * e1] : 0, w4i = p > 4 ? table[4 * e1 + 1] : 0;
  for (let q = 0; q < s; q++) {
    const i = q + s * j, o = q + s * p * j;
    const a0r = xr[i], a0i = xi[i], a1r = xr[i + kb], a1i = xi[i + kb];
    let b0r: number, b0i: number, b1r: number, b1i: number, b2r = 0, b2i = 0, b3r = 0, b3i = 0;
    let b4r = 0, b4i = 0;
    if (p === 2) {
      b0r = a0r + a1r;
      b0i = a0i + a1i;
      b1r = a0r - a1r;
      b1i = a0i - a1i;
    } else if (p === 3) {
      const a2r = xr[i + 2 * kb], a2i = xi[i + 2 * kb];
      const t1r = a1r + a2r, t1i = a1i + a2i, t2r = S3 * (a1r - a2r), t2i = S3 * (a1i - a2i);
      const mr = a0r - 0.5 * t1r, mi = a0i - 0.5 * t1i;
      b0r = a0r + t1r;
      b0i = a0i + t1i;
      b1r = mr + t2i;
      b1i = mi - t2r;
      b2r = mr - t2i;
      b2i = mi + t2r;
    } else if (p === 4) {
      const a2r = xr[i + 2 * kb], a2i = xi[i + 2 * kb], a3r = xr[i + 3 * kb], a3i = xi[i + 3 * kb];
      const t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
      const t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
      b0r = t0r + t2r;
      b0i = t0i + t2i;
      b1r = t1r + t3i;
      b1i = t1i - t3r;
      b2r = t0r - t2r;
      b2i = t0i - t2i;
      b3r = t1r - t3i;
      b3i = t1i + t3r;
    } else {
      const a2r = xr[i + 2 * kb], a2i = xi[i + 2 * kb], a3r = xr[i + 3 * kb], a3i = xi[i + 3 * kb];
      const a4r = xr[i + 4 * kb], a4i = xi[i + 4 * kb];
      const t1r = a1r + a4r, t1i = a1i + a4i, t2r = a2r + a3r, t2i = a2i + a3i;
      const t3r = a1r - a4r, t3i = a1i - a4i, t4r = a2r - a3r, t4i = a2i - a3i;
      const m1r = a0r + C51 * t1r + C52 * t2r, m1i = a0i + C51 * t1i + C52 * t2i;
      const m2r = a0r + C52 * t1r + C51 * t2r, m2i = a0i + C52 * t1i + C51 * t2i;
      const n1r = S51 * t3r + S52 * t4r, n1i = S51 * t3i + S52 * t4i;
      const n2r = S52 * t3r - S51 * t4r, n2i = S52 * t3i - S51 * t4i;
      b0r = a0r + t1r + t2r;
      b0i = a0i + t1i + t2i;
      b1r = m1r + n1i;
      b1i = m1i - n1r;
      b2r = m2r + n2i;
      b2i = m2i - n2r;
      b3r = m2r - n2i;
      b3i = m2i + n2r;
      b4r = m1r - n1i;
      b4i = m1i + n1r;
    }
    yr[o] = b0r;
    yi[o] = b0i;
    yr[o + s] = b1r * w1r - b1i * w1i;
    yi[o + s] = b1r * w1i + b1i * w1r;
    if (p > 2) {
      yr[o + 2 * s] = b2r * w2r - b2i * w2i;
      yi[o + 2 * s] = b2r * w2i + b2i * w2r;
    }
    if (p > 3) {
      yr[o + 3 * s] = b3r * w3r - b3i * w3i;
      yi[o + 3 * s] = b3r * w3i + b3i * w3r;
    }
    if (p > 4) {
      yr[o + 4 * s] = b4r * w4r - b4i * w4i;
      yi[o + 4 * s] = b4r * w4i + b4i * w4r;
    }
  }
}

function checkLength(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 27) {
    throw new RangeError(`FFT length must be an integer in [1, 2^27], got ${n}`);
  }
}
