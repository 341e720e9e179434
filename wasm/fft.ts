// Batched real FFT kernels (AssemblyScript, SIMD f32x4, no allocation, byte-offset pointers).
//
// Design: "batch lanes". Four transforms of the batch are processed together, one per f32x4 lane,
// so every butterfly is plain vertical SIMD with no shuffles, and twiddles are splat loads. The
// working buffers hold complex vectors in a split lane layout: element e of a length-L complex
// signal occupies 32 bytes at buf + 32*e, the real parts of the 4 lanes first, then the 4 imaginary
// parts. Rows of the caller's row-major arrays move in and out of that layout with 4x4 transposes,
// fused into the real-input pre/post passes.
//
// The complex transform is a mixed radix 2/3/4/5 Stockham autosort FFT (decimation in frequency, no
// bit reversal); lengths with other prime factors go through Bluestein's chirp-z algorithm on a
// 2/3/5-smooth length. Real input of even length n uses the half-length complex trick; odd n uses
// a full complex transform of length n. Inverses are computed with forward kernels through
// conjugation: ifft(X) = conj(fft(conj(X))).
//
// The plan (factorisation, twiddles, chirps) is built in TypeScript (src/fft/plan.ts) and stored in
// wasm memory; its layout is documented there (`PlanLayout`) and mirrored by the offsets below.

// ---------------------------------------------------------------------------------------------
// Plan descriptor offsets (i32 words, byte offsets here). Keep in sync with src/fft/plan.ts.
// Real plan:
//   0 n, 4 m (complex length: n/2 for even n, n for odd n), 8 even (1/0), 12 postTw ptr
//   (even n: (cos, -sin)(2*pi*k/n) for k = 0..m as f32 pairs), 16 complex plan ptr,
//   20 scale (f32, 1/n)
// Complex plan:
//   0 kind (0 = Stockham, 1 = Bluestein), 4 length
//   Stockham: 8 number of passes, then per pass 16 bytes at 12 + 16*i: radix, L, s, twiddle ptr
//   Bluestein: 8 M, 12 chirp ptr (L f32 pairs), 16 filter spectrum ptr (M f32 pairs, scaled by
//   1/M), 20 Stockham plan ptr for length M
// ---------------------------------------------------------------------------------------------

const ELEM: usize = 32;

// ----- radix passes -----------------------------------------------------------------------------
// A DIF Stockham pass of radix p on a signal of total length N = p*L*s:
//   for j < L, q < s: a_k = x[q + s*(j + k*L)],  y[q + s*(p*j + t)] = w^(j*t) * sum_k a_k e^(-2 pi i k t/p)
// with w = e^(-2 pi i/(p*L)). Twiddles: for each j, (p-1) complex values w^(j*t), t = 1..p-1.

function pass2(src: usize, dst: usize, L: i32, s: i32, tw: usize): void {
  const sb = <usize> s << 5;
  const kb = <usize> (L * s) << 5;
  for (let j = 0; j < L; j++) {
    const w1r = v128.load32_splat(tw), w1i = v128.load32_splat(tw, 4);
    tw += 8;
    let x = src + ((<usize> (j * s)) << 5);
    let y = dst + ((<usize> (2 * j * s)) << 5);
    const xe = x + sb;
    while (x < xe) {
      const a0r = v128.load(x), a0i = v128.load(x, 16);
      const a1r = v128.load(x + kb), a1i = v128.load(x + kb, 16);
      v128.store(y, f32x4.add(a0r, a1r));
      v128.store(y, f32x4.add(a0i, a1i), 16);
      const dr = f32x4.sub(a0r, a1r), di = f32x4.sub(a0i, a1i);
      v128.store(y + sb, f32x4.sub(f32x4.mul(dr, w1r), f32x4.mul(di, w1i)));
      v128.store(y + sb, f32x4.add(f32x4.mul(dr, w1i), f32x4.mul(di, w1r)), 16);
      x += ELEM;
      y += ELEM;
    }
  }
}

function pass3(src: usize, dst: usize, L: i32, s: i32, tw: usize): void {
  const sb = <usize> s << 5;
  const kb = <usize> (L * s) << 5;
  const half = f32x4.splat(0.5);
  const s3 = f32x4.splat(0.8660254037844386);
  for (let j = 0; j < L; j++) {
    const w1r = v128.load32_splat(tw), w1i = v128.load32_splat(tw, 4);
    const w2r = v128.load32_splat(tw, 8), w2i = v128.load32_splat(tw, 12);
    tw += 16;
    let x = src + ((<usize> (j * s)) << 5);
    let y = dst + ((<usize> (3 * j * s)) << 5);
    const xe = x + sb;
    while (x < xe) {
      const a0r = v128.load(x), a0i = v128.load(x, 16);
      const a1r = v128.load(x + kb), a1i = v128.load(x + kb, 16);
      const a2r = v128.load(x + 2 * kb), a2i = v128.load(x + 2 * kb, 16);
      const t1r = f32x4.add(a1r, a2r), t1i = f32x4.add(a1i, a2i);
      const t2r = f32x4.mul(s3, f32x4.sub(a1r, a2r)), t2i = f32x4.mul(s3, f32x4.sub(a1i, a2i));
      v128.store(y, f32x4.add(a0r, t1r));
      v128.store(y, f32x4.add(a0i, t1i), 16);
      const mr = f32x4.sub(a0r, f32x4.mul(half, t1r)), mi = f32x4.sub(a0i, f32x4.mul(half, t1i));
      // b1 = m - i*t2, b2 = m + i*t2
      const b1r = f32x4.add(mr, t2i), b1i = f32x4.sub(mi, t2r);
      const b2r = f32x4.sub(mr, t2i), b2i = f32x4.add(mi, t2r);
      v128.store(y + sb, f32x4.sub(f32x4.mul(b1r, w1r), f32x4.mul(b1i, w1i)));
      v128.store(y + sb, f32x4.add(f32x4.mul(b1r, w1i), f32x4.mul(b1i, w1r)), 16);
      v128.store(y + 2 * sb, f32x4.sub(f32x4.mul(b2r, w2r), f32x4.mul(b2i, w2i)));
      v128.store(y + 2 * sb, f32x4.add(f32x4.mul(b2r, w2i), f32x4.mul(b2i, w2r)), 16);
      x += ELEM;
      y += ELEM;
    }
  }
}

function pass4(src: usize, dst: usize, L: i32, s: i32, tw: usize): void {
  const sb = <usize> s << 5;
  const kb = <usize> (L * s) << 5;
  for (let j = 0; j < L; j++) {
    const w1r = v128.load32_splat(tw), w1i = v128.load32_splat(tw, 4);
    const w2r = v128.load32_splat(tw, 8), w2i = v128.load32_splat(tw, 12);
    const w3r = v128.load32_splat(tw, 16), w3i = v128.load32_splat(tw, 20);
    tw += 24;
    let x = src + ((<usize> (j * s)) << 5);
    let y = dst + ((<usize> (4 * j * s)) << 5);
    const xe = x + sb;
    while (x < xe) {
      const a0r = v128.load(x), a0i = v128.load(x, 16);
      const a1r = v128.load(x + kb), a1i = v128.load(x + kb, 16);
      const a2r = v128.load(x + 2 * kb), a2i = v128.load(x + 2 * kb, 16);
      const a3r = v128.load(x + 3 * kb), a3i = v128.load(x + 3 * kb, 16);
      const t0r = f32x4.add(a0r, a2r), t0i = f32x4.add(a0i, a2i);
      const t1r = f32x4.sub(a0r, a2r), t1i = f32x4.sub(a0i, a2i);
      const t2r = f32x4.add(a1r, a3r), t2i = f32x4.add(a1i, a3i);
      const t3r = f32x4.sub(a1r, a3r), t3i = f32x4.sub(a1i, a3i);
      v128.store(y, f32x4.add(t0r, t2r));
      v128.store(y, f32x4.add(t0i, t2i), 16);
      // b1 = t1 - i t3, b2 = t0 - t2, b3 = t1 + i t3
      const b1r = f32x4.add(t1r, t3i), b1i = f32x4.sub(t1i, t3r);
      const b2r = f32x4.sub(t0r, t2r), b2i = f32x4.sub(t0i, t2i);
      const b3r = f32x4.sub(t1r, t3i), b3i = f32x4.add(t1i, t3r);
      v128.store(y + sb, f32x4.sub(f32x4.mul(b1r, w1r), f32x4.mul(b1i, w1i)));
      v128.store(y + sb, f32x4.add(f32x4.mul(b1r, w1i), f32x4.mul(b1i, w1r)), 16);
      v128.store(y + 2 * sb, f32x4.sub(f32x4.mul(b2r, w2r), f32x4.mul(b2i, w2i)));
      v128.store(y + 2 * sb, f32x4.add(f32x4.mul(b2r, w2i), f32x4.mul(b2i, w2r)), 16);
      v128.store(y + 3 * sb, f32x4.sub(f32x4.mul(b3r, w3r), f32x4.mul(b3i, w3i)));
      v128.store(y + 3 * sb, f32x4.add(f32x4.mul(b3r, w3i), f32x4.mul(b3i, w3r)), 16);
      x += ELEM;
      y += ELEM;
    }
  }
}

function pass5(src: usize, dst: usize, L: i32, s: i32, tw: usize): void {
  const sb = <usize> s << 5;
  const kb = <usize> (L * s) << 5;
  const c1 = f32x4.splat(0.30901699437494745); // cos(2 pi/5)
  const c2 = f32x4.splat(-0.8090169943749475); // cos(4 pi/5)
  const s1 = f32x4.splat(0.9510565162951535); // sin(2 pi/5)
  const s2 = f32x4.splat(0.5877852522924731); // sin(4 pi/5)
  for (let j = 0; j < L; j++) {
    const tp = tw;
    tw += 32;
    let x = src + ((<usize> (j * s)) << 5);
    let y = dst + ((<usize> (5 * j * s)) << 5);
    const xe = x + sb;
    while (x < xe) {
      const a0r = v128.load(x), a0i = v128.load(x, 16);
      const a1r = v128.load(x + kb), a1i = v128.load(x + kb, 16);
      const a2r = v128.load(x + 2 * kb), a2i = v128.load(x + 2 * kb, 16);
      const a3r = v128.load(x + 3 * kb), a3i = v128.load(x + 3 * kb, 16);
      const a4r = v128.load(x + 4 * kb), a4i = v128.load(x + 4 * kb, 16);
      const t1r = f32x4.add(a1r, a4r), t1i = f32x4.add(a1i, a4i);
      const t2r = f32x4.add(a2r, a3r), t2i = f32x4.add(a2i, a3i);
      const t3r = f32x4.sub(a1r, a4r), t3i = f32x4.sub(a1i, a4i);
      const t4r = f32x4.sub(a2r, a3r), t4i = f32x4.sub(a2i, a3i);
      v128.store(y, f32x4.add(a0r, f32x4.add(t1r, t2r)));
      v128.store(y, f32x4.add(a0i, f32x4.add(t1i, t2i)), 16);
      const m1r = f32x4.add(a0r, f32x4.add(f32x4.mul(c1, t1r), f32x4.mul(c2, t2r)));
      const m1i = f32x4.add(a0i, f32x4.add(f32x4.mul(c1, t1i), f32x4.mul(c2, t2i)));
      const m2r = f32x4.add(a0r, f32x4.add(f32x4.mul(c2, t1r), f32x4.mul(c1, t2r)));
      const m2i = f32x4.add(a0i, f32x4.add(f32x4.mul(c2, t1i), f32x4.mul(c1, t2i)));
      const n1r = f32x4.add(f32x4.mul(s1, t3r), f32x4.mul(s2, t4r));
      const n1i = f32x4.add(f32x4.mul(s1, t3i), f32x4.mul(s2, t4i));
      const n2r = f32x4.sub(f32x4.mul(s2, t3r), f32x4.mul(s1, t4r));
      const n2i = f32x4.sub(f32x4.mul(s2, t3i), f32x4.mul(s1, t4i));
      // b1 = m1 - i n1, b4 = m1 + i n1, b2 = m2 - i n2, b3 = m2 + i n2
      twStore(y + sb, f32x4.add(m1r, n1i), f32x4.sub(m1i, n1r), tp);
      twStore(y + 2 * sb, f32x4.add(m2r, n2i), f32x4.sub(m2i, n2r), tp + 8);
      twStore(y + 3 * sb, f32x4.sub(m2r, n2i), f32x4.add(m2i, n2r), tp + 16);
      twStore(y + 4 * sb, f32x4.sub(m1r, n1i), f32x4.add(m1i, n1r), tp + 24);
      x += ELEM;
      y += ELEM;
    }
  }
}

// Stores (br + i bi) * w at y, w read (splat) from the twiddle table at tp.
// @ts-ignore: decorator
@inline
function twStore(y: usize, br: v128, bi: v128, tp: usize): void {
  const wr = v128.load32_splat(tp), wi = v128.load32_splat(tp, 4);
  v128.store(y, f32x4.sub(f32x4.mul(br, wr), f32x4.mul(bi, wi)));
  v128.store(y, f32x4.add(f32x4.mul(br, wi), f32x4.mul(bi, wr)), 16);
}

// Runs the Stockham passes of a plan; data starts in a, b is scratch. Returns the buffer holding
// the result (a or b).
function stockham(plan: usize, a: usize, b: usize): usize {
  const np = load<i32>(plan, 8);
  let src = a, dst = b;
  for (let i = 0; i < np; i++) {
    const p = plan + 12 + (<usize> i << 4);
    const radix = load<i32>(p), L = load<i32>(p, 4), s = load<i32>(p, 8);
    const tw = <usize> load<u32>(p, 12);
    if (radix == 4) pass4(src, dst, L, s, tw);
    else if (radix == 2) pass2(src, dst, L, s, tw);
    else if (radix == 3) pass3(src, dst, L, s, tw);
    else pass5(src, dst, L, s, tw);
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

// Complex forward DFT of length L (lane layout) held in a; b is scratch. Both buffers hold at least
// max(L, M) elements. Returns the buffer holding the result.
function complexFft(cplan: usize, a: usize, b: usize): usize {
  if (load<i32>(cplan) == 0) return stockham(cplan, a, b);
  // Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c_(k-j)), c_j = e^(-pi i j^2 / L)
  const L = load<i32>(cplan, 4), M = load<i32>(cplan, 8);
  const chirp = <usize> load<u32>(cplan, 12), filt = <usize> load<u32>(cplan, 16);
  const sub = <usize> load<u32>(cplan, 20);
  // b[j] = a[j] * c_j for j < L, 0 up to M
  for (let j = 0; j < L; j++) {
    const e = <usize> j << 5, c = chirp + (<usize> j << 3);
    const cr = v128.load32_splat(c), ci = v128.load32_splat(c, 4);
    const xr = v128.load(a + e), xi = v128.load(a + e, 16);
    v128.store(b + e, f32x4.sub(f32x4.mul(xr, cr), f32x4.mul(xi, ci)));
    v128.store(b + e, f32x4.add(f32x4.mul(xr, ci), f32x4.mul(xi, cr)), 16);
  }
  memory.fill(b + (<usize> L << 5), 0, <usize> (M - L) << 5);
  let r = stockham(sub, b, a);
  let o = r == b ? a : b;
  // r[k] = conj(r[k] * F_k): the inverse transform as a conjugated forward one
  for (let k = 0; k < M; k++) {
    const e = <usize> k << 5, f = filt + (<usize> k << 3);
    const fr = v128.load32_splat(f), fi = v128.load32_splat(f, 4);
    const xr = v128.load(r + e), xi = v128.load(r + e, 16);
    v128.store(r + e, f32x4.sub(f32x4.mul(xr, fr), f32x4.mul(xi, fi)));
    v128.store(r + e, f32x4.neg(f32x4.add(f32x4.mul(xr, fi), f32x4.mul(xi, fr))), 16);
  }
  r = stockham(sub, r, o);
  o = r == b ? a : b;
  // o[k] = c_k * conj(r[k])
  for (let k = 0; k < L; k++) {
    const e = <usize> k << 5, c = chirp + (<usize> k << 3);
    const cr = v128.load32_splat(c), ci = v128.load32_splat(c, 4);
    const xr = v128.load(r + e), xi = f32x4.neg(v128.load(r + e, 16));
    v128.store(o + e, f32x4.sub(f32x4.mul(xr, cr), f32x4.mul(xi, ci)));
    v128.store(o + e, f32x4.add(f32x4.mul(xr, ci), f32x4.mul(xi, cr)), 16);
  }
  return o;
}

// ----- row <-> lane transposes --------------------------------------------------------------------
// Four rows r0..r3 (byte offsets). A 4x4 transpose turns 4 floats of each row into 4 lane vectors.

// @ts-ignore: decorator
@inline
function lo2(a: v128, b: v128): v128 {
  return f32x4.shuffle(a, b, 0, 4, 1, 5);
}

// @ts-ignore: decorator
@inline
function hi2(a: v128, b: v128): v128 {
  return f32x4.shuffle(a, b, 2, 6, 3, 7);
}

// @ts-ignore: decorator
@inline
function lo4(a: v128, b: v128): v128 {
  return f32x4.shuffle(a, b, 0, 1, 4, 5);
}

// @ts-ignore: decorator
@inline
function hi4(a: v128, b: v128): v128 {
  return f32x4.shuffle(a, b, 2, 3, 6, 7);
}

// Row pointers of the current group of 4 transforms (set by setRows).
let in0: usize = 0, in1: usize = 0, in2: usize = 0, in3: usize = 0;
let out0: usize = 0, out1: usize = 0, out2: usize = 0, out3: usize = 0;

// Rows g*4 .. g*4+3 of input (stride inStride bytes) and output (stride outStride bytes). Missing
// rows of the last group read row g*4 and write to the dummy row.
function setRows(
  inp: usize,
  outp: usize,
  g: i32,
  batch: i32,
  inStride: usize,
  outStride: usize,
  dummy: usize,
): void {
  const r = g << 2;
  in0 = inp + <usize> r * inStride;
  out0 = outp + <usize> r * outStride;
  in1 = r + 1 < batch ? in0 + inStride : in0;
  in2 = r + 2 < batch ? in0 + 2 * inStride : in0;
  in3 = r + 3 < batch ? in0 + 3 * inStride : in0;
  out1 = r + 1 < batch ? out0 + outStride : dummy;
  out2 = r + 2 < batch ? out0 + 2 * outStride : dummy;
  out3 = r + 3 < batch ? out0 + 3 * outStride : dummy;
}

// Loads 4 floats at byte offset off of each input row and transposes: v0 = lane vector of float 0 ...
let v0: v128 = v128.splat<i32>(0),
  v1: v128 = v128.splat<i32>(0),
  v2: v128 = v128.splat<i32>(0),
  v3: v128 = v128.splat<i32>(0);

// @ts-ignore: decorator
@inline
function loadT(off: usize): void {
  const a = v128.load(in0 + off),
    b = v128.load(in1 + off),
    c = v128.load(in2 + off),
    d = v128.load(in3 + off);
  const t0 = lo2(a, b), t1 = hi2(a, b), t2 = lo2(c, d), t3 = hi2(c, d);
  v0 = lo4(t0, t2);
  v1 = hi4(t0, t2);
  v2 = lo4(t1, t3);
  v3 = hi4(t1, t3);
}

// Transposes 4 lane vectors and stores 4 floats at byte offset off of each output row.
// @ts-ignore: decorator
@inline
function storeT(off: usize, a: v128, b: v128, c: v128, d: v128): void {
  const t0 = lo2(a, b), t1 = hi2(a, b), t2 = lo2(c, d), t3 = hi2(c, d);
  v128.store(out0 + off, lo4(t0, t2));
  v128.store(out1 + off, hi4(t0, t2));
  v128.store(out2 + off, lo4(t1, t3));
  v128.store(out3 + off, hi4(t1, t3));
}

// Lane vector of the float at byte offset off of each input row.
// @ts-ignore: decorator
@inline
function loadS(off: usize): v128 {
  let v = f32x4.splat(load<f32>(in0 + off));
  v = f32x4.replace_lane(v, 1, load<f32>(in1 + off));
  v = f32x4.replace_lane(v, 2, load<f32>(in2 + off));
  return f32x4.replace_lane(v, 3, load<f32>(in3 + off));
}

// Stores lane i of v at byte offset off of output row i.
// @ts-ignore: decorator
@inline
function storeS(off: usize, v: v128): void {
  store<f32>(out0 + off, f32x4.extract_lane(v, 0));
  store<f32>(out1 + off, f32x4.extract_lane(v, 1));
  store<f32>(out2 + off, f32x4.extract_lane(v, 2));
  store<f32>(out3 + off, f32x4.extract_lane(v, 3));
}

// ----- forward real FFT -------------------------------------------------------------------------

// Even n: z_j = x_2j + i x_2j+1 for j < m, into a (lane layout).
function gatherEven(a: usize, m: i32): void {
  let j = 0;
  for (; j + 2 <= m; j += 2) {
    loadT(<usize> j << 3);
    const e = a + (<usize> j << 5);
    v128.store(e, v0);
    v128.store(e, v1, 16);
    v128.store(e, v2, 32);
    v128.store(e, v3, 48);
  }
  if (j < m) {
    const e = a + (<usize> j << 5);
    v128.store(e, loadS(<usize> j << 3));
    v128.store(e, loadS((<usize> j << 3) + 4), 16);
  }
}

// Odd n: z_j = x_j, into a.
function gatherReal(a: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    loadT(<usize> j << 2);
    const e = a + (<usize> j << 5);
    v128.store(e, v0);
    v128.store(e, zero, 16);
    v128.store(e, v1, 32);
    v128.store(e, zero, 48);
    v128.store(e, v2, 64);
    v128.store(e, zero, 80);
    v128.store(e, v3, 96);
    v128.store(e, zero, 112);
  }
  for (; j < n; j++) {
    const e = a + (<usize> j << 5);
    v128.store(e, loadS(<usize> j << 2));
    v128.store(e, zero, 16);
  }
}

// Even n: X_k = E_k + w^k O_k from Z = FFT_m(z) in z, written to the output rows, k = 0..m.
// E_k = (Z_k + conj Z_(m-k))/2, O_k = -i (Z_k - conj Z_(m-k))/2; tw holds (w^k)/2.
function postEven(z: usize, m: i32, tw: usize): void {
  const half = f32x4.splat(0.5);
  const mb = <usize> m << 5;
  let k = 0;
  let re0 = f32x4.splat(0), im0 = f32x4.splat(0);
  for (; k <= m; k++) {
    const e1 = k == m ? z : z + (<usize> k << 5);
    const e2 = k == 0 ? z : z + mb - (<usize> k << 5);
    const zr = v128.load(e1), zi = v128.load(e1, 16);
    const cr = v128.load(e2), ci = v128.load(e2, 16); // Z_(m-k), conj taken below
    const sr = f32x4.add(zr, cr), si = f32x4.sub(zi, ci); // Z_k + conj Z_(m-k)
    const dr = f32x4.sub(zr, cr), di = f32x4.add(zi, ci); // Z_k - conj Z_(m-k)
    // O*2 = -i d = (di, -dr); X = s/2 + (w/2)(di - i dr)
    const t = tw + (<usize> k << 3);
    const wr = v128.load32_splat(t), wi = v128.load32_splat(t, 4);
    const xr = f32x4.add(f32x4.mul(half, sr), f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr)));
    const xi = f32x4.add(f32x4.mul(half, si), f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr)));
    if (k & 1) {
      storeT(<usize> (k - 1) << 3, re0, im0, xr, xi);
    } else {
      re0 = xr;
      im0 = xi;
    }
  }
  // m+1 bins; if m is even the last one (k = m) is pending.
  if (!(m & 1)) {
    const off = <usize> m << 3;
    storeS(off, re0);
    storeS(off + 4, im0);
  }
}

// Writes bins 0..h-1 of the lane-layout signal z to the output rows (interleaved complex).
function scatterComplex(z: usize, h: i32): void {
  let k = 0;
  for (; k + 2 <= h; k += 2) {
    const e = z + (<usize> k << 5);
    storeT(<usize> k << 3, v128.load(e), v128.load(e, 16), v128.load(e, 32), v128.load(e, 48));
  }
  if (k < h) {
    const e = z + (<usize> k << 5);
    storeS(<usize> k << 3, v128.load(e));
    storeS((<usize> k << 3) + 4, v128.load(e, 16));
  }
}

/**
 * Batched forward real FFT. `plan`: real plan descriptor (src/fft/plan.ts); `inp`: `[batch, n]`
 * f32; `outp`: `[batch, floor(n/2)+1, 2]` f32; `work`: workspace of `rfftWorkBytes` bytes.
 */
export function rfftExec(plan: usize, inp: usize, outp: usize, batch: i32, work: usize, bufElems: i32): void {
  const n = load<i32>(plan), m = load<i32>(plan, 4), even = load<i32>(plan, 8);
  const tw = <usize> load<u32>(plan, 12), cplan = <usize> load<u32>(plan, 16);
  const a = work, b = work + (<usize> bufElems << 5), dummy = b + (<usize> bufElems << 5);
  const h = (n >> 1) + 1;
  const groups = (batch + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    setRows(inp, outp, g, batch, <usize> n << 2, <usize> h << 3, dummy);
    if (even) {
      gatherEven(a, m);
      const r = complexFft(cplan, a, b);
      postEven(r, m, tw);
    } else {
      gatherReal(a, n);
      const r = complexFft(cplan, a, b);
      scatterComplex(r, h);
    }
  }
}

// ----- inverse real FFT ---------------------------------------------------------------------------

// Reads h bins of each input row (interleaved complex) into lane layout at a.
function gatherComplex(a: usize, h: i32): void {
  let k = 0;
  for (; k + 2 <= h; k += 2) {
    loadT(<usize> k << 3);
    const e = a + (<usize> k << 5);
    v128.store(e, v0);
    v128.store(e, v1, 16);
    v128.store(e, v2, 32);
    v128.store(e, v3, 48);
  }
  if (k < h) {
    const e = a + (<usize> k << 5);
    v128.store(e, loadS(<usize> k << 3));
    v128.store(e, loadS((<usize> k << 3) + 4), 16);
  }
}

// Even n: from the spectrum X_0..X_m in s (imaginary parts of X_0, X_m ignored), writes
// conj(Z_k)/n to z for k < m, where Z_k = (X_k + conj X_(m-k)) + i (X_k - conj X_(m-k)) conj(w^k):
// then z_j = x_2j + i x_2j+1 = conj(FFT_m(conj Z / n))_j. tw holds w^k / 2; scale = 1/n.
function preEven(s: usize, z: usize, m: i32, tw: usize, scale: f32): void {
  const mb = <usize> m << 5;
  const sc = f32x4.splat(scale), sc2 = f32x4.splat(scale * 2);
  const zero = f32x4.splat(0);
  v128.store(s, zero, 16);
  v128.store(s + mb, zero, 16);
  for (let k = 0; k < m; k++) {
    const e1 = s + (<usize> k << 5), e2 = s + mb - (<usize> k << 5);
    const xr = v128.load(e1), xi = v128.load(e1, 16);
    const cr = v128.load(e2), ci = v128.load(e2, 16);
    const sr = f32x4.add(xr, cr), si = f32x4.sub(xi, ci); // X_k + conj X_(m-k)
    const dr = f32x4.sub(xr, cr), di = f32x4.add(xi, ci); // X_k - conj X_(m-k)
    const t = tw + (<usize> k << 3);
    const wr = v128.load32_splat(t), wi = v128.load32_splat(t, 4); // w^k / 2
    // o = d * conj(w^k) = (dr wr + di wi, di wr - dr wi) (times 2 via sc2 since tw holds w/2)
    const or = f32x4.add(f32x4.mul(dr, wr), f32x4.mul(di, wi));
    const oi = f32x4.sub(f32x4.mul(di, wr), f32x4.mul(dr, wi));
    // Z = s + i o = (sr - oi, si + or); store conj(Z) * scale
    const e = z + (<usize> k << 5);
    v128.store(e, f32x4.sub(f32x4.mul(sc, sr), f32x4.mul(sc2, oi)));
    v128.store(e, f32x4.neg(f32x4.add(f32x4.mul(sc, si), f32x4.mul(sc2, or))), 16);
  }
}

// Even n: x_2j = Re r_j, x_2j+1 = -Im r_j, to the output rows.
function scatterEven(r: usize, m: i32): void {
  let j = 0;
  for (; j + 2 <= m; j += 2) {
    const e = r + (<usize> j << 5);
    storeT(
      <usize> j << 3,
      v128.load(e),
      f32x4.neg(v128.load(e, 16)),
      v128.load(e, 32),
      f32x4.neg(v128.load(e, 48)),
    );
  }
  if (j < m) {
    const e = r + (<usize> j << 5);
    storeS(<usize> j << 3, v128.load(e));
    storeS((<usize> j << 3) + 4, f32x4.neg(v128.load(e, 16)));
  }
}

// Odd n: builds conj(Z)/n of the full Hermitian spectrum (length n) from the h = (n+1)/2 bins in s.
function preOdd(s: usize, z: usize, n: i32, h: i32, scale: f32): void {
  const sc = f32x4.splat(scale);
  const zero = f32x4.splat(0);
  v128.store(z, f32x4.mul(sc, v128.load(s)));
  v128.store(z, zero, 16);
  const nb = <usize> n << 5;
  for (let k = 1; k < h; k++) {
    const e = s + (<usize> k << 5);
    const xr = f32x4.mul(sc, v128.load(e)), xi = f32x4.mul(sc, v128.load(e, 16));
    const p = z + (<usize> k << 5), q = z + nb - (<usize> k << 5);
    v128.store(p, xr);
    v128.store(p, f32x4.neg(xi), 16);
    v128.store(q, xr);
    v128.store(q, xi, 16);
  }
}

// Odd n: x_j = Re r_j to the output rows.
function scatterReal(r: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const e = r + (<usize> j << 5);
    storeT(<usize> j << 2, v128.load(e), v128.load(e, 32), v128.load(e, 64), v128.load(e, 96));
  }
  for (; j < n; j++) storeS(<usize> j << 2, v128.load(r + (<usize> j << 5)));
}

/**
 * Batched inverse real FFT (numpy `irfft` semantics, divides by n). `inp`: `[batch, floor(n/2)+1,
 * 2]` f32; `outp`: `[batch, n]` f32; `work`: as for rfftExec. The input is not modified.
 */
export function irfftExec(
  plan: usize,
  inp: usize,
  outp: usize,
  batch: i32,
  work: usize,
  bufElems: i32,
): void {
  const n = load<i32>(plan), m = load<i32>(plan, 4), even = load<i32>(plan, 8);
  const tw = <usize> load<u32>(plan, 12), cplan = <usize> load<u32>(plan, 16);
  const scale = load<f32>(plan, 20);
  const a = work, b = work + (<usize> bufElems << 5), dummy = b + (<usize> bufElems << 5);
  const h = (n >> 1) + 1;
  const groups = (batch + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    setRows(inp, outp, g, batch, <usize> h << 3, <usize> n << 2, dummy);
    if (even) {
      gatherComplex(b, h);
      preEven(b, a, m, tw, scale);
      const r = complexFft(cplan, a, b);
      scatterEven(r, m);
    } else {
      gatherComplex(b, h);
      preOdd(b, a, n, h, scale);
      const r = complexFft(cplan, a, b);
      scatterReal(r, n);
    }
  }
}

/** Version of the FFT kernels (bumped when the plan layout changes). */
export function fftVersion(): i32 {
  return 1;
}
