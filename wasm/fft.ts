// Batched real FFT kernels (AssemblyScript, SIMD f32x4, no allocation, byte-offset pointers).
//
// Design: "batch lanes". Four transforms of the batch are processed together, one per f32x4 lane,
// so every butterfly is plain vertical SIMD with no shuffles, and twiddles are splat loads. The
// working buffers hold complex vectors in a split lane layout: element e of a complex signal
// occupies 32 bytes at buf + 32*e, the real parts of the 4 lanes first, then the 4 imaginary parts.
// Rows of the caller's row-major arrays move in and out of that layout with 4x4 transposes, fused
// into the real-input split/merge steps. Lane i of group g works on row i*Q + g (Q = groups), so
// each lane reads and writes one sequential stream (friendly to hardware prefetchers).
//
// The complex transform is a mixed radix 2/3/4/5/8 Stockham autosort FFT (decimation in frequency, no
// bit reversal); lengths with other prime factors go through Bluestein's chirp-z algorithm on a
// 2/3/5-smooth length. Real input of even length n uses the half-length complex trick (the final
// radix-2 pass, when there is one, is fused into the split step); odd n packs two real rows into
// one complex signal of length n (8 rows per group; rows whose results are not finite are redone
// unpaired, so rows stay independent). Inverses run the forward kernels through
// conjugation: ifft(X) = conj(fft(conj(X))).
//
// The plan (factorisation, twiddles, chirps) is built in TypeScript (src/fft/plan.ts) and uploaded
// to wasm memory by src/fft/wasm_plan.ts, which documents the descriptor layout mirrored here:
// Real plan (byte offsets): 0 n, 4 m (complex length: n/2 for even n, n for odd n), 8 even (1/0),
//   12 split twiddles ptr (even n: w^k/2, w = e^(-2 pi i/n), k = 0..m, f32 pairs), 16 complex plan
//   ptr, 20 scale (f32, 1/n).
// Complex plan: 0 kind (0 = Stockham, 1 = Bluestein), 4 length L;
//   Stockham: 8 number of passes, then per pass 16 bytes at 12 + 16*i: radix, l, s, twiddle ptr;
//   Bluestein: 8 M, 12 chirp ptr (L f32 pairs), 16 filter spectrum ptr (M f32 pairs, scaled by
//   1/M), 20 Stockham plan ptr for length M.
// Workspace: two lane buffers of bufElems elements (>= max(m+2, M)), then a dummy row that the
// missing rows of the last group are written to, then a zero row (odd n: the partner of rows that
// are transformed unpaired, and the input of missing rows), ((n+7) & ~3) floats each.

const ELEM: usize = 32;
// Complex lengths m = n/2 whose fused radix-2 split step writes through a lane buffer (rfftExec).
const SEQ_MIN_M: i32 = 128;
const SEQ_MAX_M: i32 = 1024;

// ----- radix passes -----------------------------------------------------------------------------
// A DIF Stockham pass of radix p on a signal of total length N = p*L*s:
//   for j < L, q < s: a_k = x[q + s*(j + k*L)],  y[q + s*(p*j + t)] = w^(j*t) * sum_k a_k e^(-2 pi i k t/p)
// with w = e^(-2 pi i/(p*L)). Twiddles: for each j, (p-1) complex values w^(j*t), t = 1..p-1.

function pass2(src: usize, dst: usize, L: i32, s: i32, tw: usize): void {
  const sb = <usize> s << 5;
  const kb = <usize> (L * s) << 5;
  pass2n(src, dst, s, kb);
  tw += 8;
  for (let j = 1; j < L; j++) {
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
  pass3n(src, dst, s, kb);
  tw += 16;
  for (let j = 1; j < L; j++) {
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
  pass4n(src, dst, s, kb);
  tw += 24;
  for (let j = 1; j < L; j++) {
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

// Radix-8 pass: a radix-2 step (u_k = a_k + a_(k+4), v_k = (a_k - a_(k+4)) e^(-2 pi i k/8)), then
// radix-4 DFTs of u (outputs t = 0, 2, 4, 6) and of v (t = 1, 3, 5, 7). Twiddles: 7 per group j
// (56 bytes); group j = 0 (unit twiddles) skips the multiplications.
const R8C: f32 = 0.7071067811865476; // sqrt(1/2)

function pass8(src: usize, dst: usize, L: i32, s: i32, tw: usize): void {
  const sb = <usize> s << 5;
  const kb = <usize> (L * s) << 5;
  const c = f32x4.splat(R8C);
  for (let j = 0; j < L; j++) {
    const tp = tw + <usize> j * 56;
    let x = src + ((<usize> (j * s)) << 5);
    let y = dst + ((<usize> (8 * j * s)) << 5);
    const xe = x + sb;
    while (x < xe) {
      // radix-2 step
      let p0r = v128.load(x), p0i = v128.load(x, 16);
      let p4r = v128.load(x + 4 * kb), p4i = v128.load(x + 4 * kb, 16);
      const u0r = f32x4.add(p0r, p4r), u0i = f32x4.add(p0i, p4i);
      const v0r = f32x4.sub(p0r, p4r), v0i = f32x4.sub(p0i, p4i);
      p0r = v128.load(x + 2 * kb); p0i = v128.load(x + 2 * kb, 16);
      p4r = v128.load(x + 6 * kb); p4i = v128.load(x + 6 * kb, 16);
      const u2r = f32x4.add(p0r, p4r), u2i = f32x4.add(p0i, p4i);
      // v2 = (a2 - a6) * (-i)
      const v2r = f32x4.sub(p0i, p4i), v2i = f32x4.sub(p4r, p0r);
      p0r = v128.load(x + kb); p0i = v128.load(x + kb, 16);
      p4r = v128.load(x + 5 * kb); p4i = v128.load(x + 5 * kb, 16);
      const u1r = f32x4.add(p0r, p4r), u1i = f32x4.add(p0i, p4i);
      let dr = f32x4.sub(p0r, p4r), di = f32x4.sub(p0i, p4i);
      // v1 = d * c(1 - i)
      const v1r = f32x4.mul(c, f32x4.add(dr, di)), v1i = f32x4.mul(c, f32x4.sub(di, dr));
      p0r = v128.load(x + 3 * kb); p0i = v128.load(x + 3 * kb, 16);
      p4r = v128.load(x + 7 * kb); p4i = v128.load(x + 7 * kb, 16);
      const u3r = f32x4.add(p0r, p4r), u3i = f32x4.add(p0i, p4i);
      dr = f32x4.sub(p0r, p4r);
      di = f32x4.sub(p0i, p4i);
      // v3 = d * c(-1 - i)
      const v3r = f32x4.mul(c, f32x4.sub(di, dr)), v3i = f32x4.neg(f32x4.mul(c, f32x4.add(dr, di)));
      {
        const t0r = f32x4.add(u0r, u2r), t0i = f32x4.add(u0i, u2i);
        const t1r = f32x4.sub(u0r, u2r), t1i = f32x4.sub(u0i, u2i);
        const t2r = f32x4.add(u1r, u3r), t2i = f32x4.add(u1i, u3i);
        const t3r = f32x4.sub(u1r, u3r), t3i = f32x4.sub(u1i, u3i);
        if (j == 0) {
          v128.store(y, f32x4.add(t0r, t2r));
          v128.store(y, f32x4.add(t0i, t2i), 16);
          v128.store(y + 2 * sb, f32x4.add(t1r, t3i));
          v128.store(y + 2 * sb, f32x4.sub(t1i, t3r), 16);
          v128.store(y + 4 * sb, f32x4.sub(t0r, t2r));
          v128.store(y + 4 * sb, f32x4.sub(t0i, t2i), 16);
          v128.store(y + 6 * sb, f32x4.sub(t1r, t3i));
          v128.store(y + 6 * sb, f32x4.add(t1i, t3r), 16);
        } else {
          v128.store(y, f32x4.add(t0r, t2r));
          v128.store(y, f32x4.add(t0i, t2i), 16);
          twStore(y + 2 * sb, f32x4.add(t1r, t3i), f32x4.sub(t1i, t3r), tp + 8);
          twStore(y + 4 * sb, f32x4.sub(t0r, t2r), f32x4.sub(t0i, t2i), tp + 24);
          twStore(y + 6 * sb, f32x4.sub(t1r, t3i), f32x4.add(t1i, t3r), tp + 40);
        }
      }
      {
        const t0r = f32x4.add(v0r, v2r), t0i = f32x4.add(v0i, v2i);
        const t1r = f32x4.sub(v0r, v2r), t1i = f32x4.sub(v0i, v2i);
        const t2r = f32x4.add(v1r, v3r), t2i = f32x4.add(v1i, v3i);
        const t3r = f32x4.sub(v1r, v3r), t3i = f32x4.sub(v1i, v3i);
        if (j == 0) {
          v128.store(y + sb, f32x4.add(t0r, t2r));
          v128.store(y + sb, f32x4.add(t0i, t2i), 16);
          v128.store(y + 3 * sb, f32x4.add(t1r, t3i));
          v128.store(y + 3 * sb, f32x4.sub(t1i, t3r), 16);
          v128.store(y + 5 * sb, f32x4.sub(t0r, t2r));
          v128.store(y + 5 * sb, f32x4.sub(t0i, t2i), 16);
          v128.store(y + 7 * sb, f32x4.sub(t1r, t3i));
          v128.store(y + 7 * sb, f32x4.add(t1i, t3r), 16);
        } else {
          twStore(y + sb, f32x4.add(t0r, t2r), f32x4.add(t0i, t2i), tp);
          twStore(y + 3 * sb, f32x4.add(t1r, t3i), f32x4.sub(t1i, t3r), tp + 16);
          twStore(y + 5 * sb, f32x4.sub(t0r, t2r), f32x4.sub(t0i, t2i), tp + 32);
          twStore(y + 7 * sb, f32x4.sub(t1r, t3i), f32x4.add(t1i, t3r), tp + 48);
        }
      }
      x += ELEM;
      y += ELEM;
    }
  }
}

// Butterflies with unit twiddles (j = 0, all of a pass with l = 1); kb: byte stride of the inputs.
function pass2n(src: usize, dst: usize, s: i32, kb: usize): void {
  const sb = <usize>s << 5;
  let x = src, y = dst;
  const xe = x + sb;
  while (x < xe) {
    const a0r = v128.load(x), a0i = v128.load(x, 16);
    const a1r = v128.load(x + kb), a1i = v128.load(x + kb, 16);
    v128.store(y, f32x4.add(a0r, a1r));
    v128.store(y, f32x4.add(a0i, a1i), 16);
    v128.store(y + sb, f32x4.sub(a0r, a1r));
    v128.store(y + sb, f32x4.sub(a0i, a1i), 16);
    x += ELEM;
    y += ELEM;
  }
}

function pass3n(src: usize, dst: usize, s: i32, kb: usize): void {
  const sb = <usize>s << 5;
  const half = f32x4.splat(0.5);
  const s3 = f32x4.splat(0.8660254037844386);
  let x = src, y = dst;
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
    v128.store(y + sb, f32x4.add(mr, t2i));
    v128.store(y + sb, f32x4.sub(mi, t2r), 16);
    v128.store(y + 2 * sb, f32x4.sub(mr, t2i));
    v128.store(y + 2 * sb, f32x4.add(mi, t2r), 16);
    x += ELEM;
    y += ELEM;
  }
}

function pass4n(src: usize, dst: usize, s: i32, kb: usize): void {
  const sb = <usize>s << 5;
  let x = src, y = dst;
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
    v128.store(y + sb, f32x4.add(t1r, t3i));
    v128.store(y + sb, f32x4.sub(t1i, t3r), 16);
    v128.store(y + 2 * sb, f32x4.sub(t0r, t2r));
    v128.store(y + 2 * sb, f32x4.sub(t0i, t2i), 16);
    v128.store(y + 3 * sb, f32x4.sub(t1r, t3i));
    v128.store(y + 3 * sb, f32x4.add(t1i, t3r), 16);
    x += ELEM;
    y += ELEM;
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
  return stockhamPasses(plan, a, b, load<i32>(plan, 8));
}

// The first np passes of a Stockham plan.
function stockhamPasses(plan: usize, a: usize, b: usize, np: i32): usize {
  let src = a, dst = b;
  for (let i = 0; i < np; i++) {
    const p = plan + 12 + (<usize> i << 4);
    const radix = load<i32>(p), L = load<i32>(p, 4), s = load<i32>(p, 8);
    const tw = <usize> load<u32>(p, 12);
    if (L == 1) {
      const sb = <usize>s << 5;
      if (radix == 4) pass4n(src, dst, s, sb);
      else if (radix == 2) pass2n(src, dst, s, sb);
      else if (radix == 3) pass3n(src, dst, s, sb);
      else if (radix == 8) pass8(src, dst, L, s, tw);
      else pass5(src, dst, L, s, tw);
    } else {
      if (radix == 4) pass4(src, dst, L, s, tw);
      else if (radix == 2) pass2(src, dst, L, s, tw);
      else if (radix == 3) pass3(src, dst, L, s, tw);
      else if (radix == 8) pass8(src, dst, L, s, tw);
      else pass5(src, dst, L, s, tw);
    }
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
// The caller's rows are addressed by 4 row pointers per group (r0..r3 input, o0..o3 output); rows
// missing from the last group of a batch read lane 0's row and write to the dummy row. Four floats
// of each of the 4 rows become 4 lane vectors through a 4x4 transpose (and back).

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

// Transposes a, b, c, d (lane vectors) and stores 4 floats at byte offset off of each output row.
// @ts-ignore: decorator
@inline
function storeT(o0: usize, o1: usize, o2: usize, o3: usize, off: usize, a: v128, b: v128, c: v128, d: v128): void {
  const t0 = lo2(a, b), t1 = hi2(a, b), t2 = lo2(c, d), t3 = hi2(c, d);
  v128.store(o0 + off, lo4(t0, t2));
  v128.store(o1 + off, hi4(t0, t2));
  v128.store(o2 + off, lo4(t1, t3));
  v128.store(o3 + off, hi4(t1, t3));
}

// Loads 4 floats at byte offset off of each input row and stores them transposed (4 lane vectors)
// at e, e+16, e+32, e+48.
// @ts-ignore: decorator
@inline
function copyT(r0: usize, r1: usize, r2: usize, r3: usize, off: usize, e: usize): void {
  const x0 = v128.load(r0 + off), x1 = v128.load(r1 + off), x2 = v128.load(r2 + off), x3 = v128.load(r3 + off);
  const t0 = lo2(x0, x1), t1 = hi2(x0, x1), t2 = lo2(x2, x3), t3 = hi2(x2, x3);
  v128.store(e, lo4(t0, t2));
  v128.store(e, hi4(t0, t2), 16);
  v128.store(e, lo4(t1, t3), 32);
  v128.store(e, hi4(t1, t3), 48);
}

// Lane vector of the float at byte offset off of each input row.
// @ts-ignore: decorator
@inline
function loadS(r0: usize, r1: usize, r2: usize, r3: usize, off: usize): v128 {
  let v = f32x4.splat(load<f32>(r0 + off));
  v = f32x4.replace_lane(v, 1, load<f32>(r1 + off));
  v = f32x4.replace_lane(v, 2, load<f32>(r2 + off));
  return f32x4.replace_lane(v, 3, load<f32>(r3 + off));
}

// Stores lane i of v at byte offset off of output row i.
// @ts-ignore: decorator
@inline
function storeS(o0: usize, o1: usize, o2: usize, o3: usize, off: usize, v: v128): void {
  store<f32>(o0 + off, f32x4.extract_lane(v, 0));
  store<f32>(o1 + off, f32x4.extract_lane(v, 1));
  store<f32>(o2 + off, f32x4.extract_lane(v, 2));
  store<f32>(o3 + off, f32x4.extract_lane(v, 3));
}

// Copies `count` floats of each input row (starting at float 0) into lane layout: float f of the
// rows becomes lane vector f at a + 16*f. Used for even n (floats x_2j, x_2j+1 = re, im of z_j) and
// for spectra (re, im of bin k).
function gatherPairs(a: usize, count: i32, r0: usize, r1: usize, r2: usize, r3: usize): void {
  const end = <usize>(count & ~3) << 2;
  let e = a;
  for (let off: usize = 0; off < end; off += 16) {
    copyT(r0, r1, r2, r3, off, e);
    e += 64;
  }
  for (let f = count & ~3; f < count; f++) {
    v128.store(a + (<usize>f << 4), loadS(r0, r1, r2, r3, <usize>f << 2));
  }
}


// ----- forward real FFT -------------------------------------------------------------------------
// Even n, split step from Z = FFT_m(z): with S = Z_k + conj Z_(m-k), D = Z_k - conj Z_(m-k),
// A = S/2 and T = (w^k/2)(-i D):  X_k = A + T,  X_(m-k) = conj(A - T).  tw holds w^k/2.

// One bin: Z_k at e1, Z_(m-k) at e2, w^k/2 at t, output byte offset off; scalar stores.
function postBin<T>(e1: usize, e2: usize, t: usize, off: usize, o0: usize, o1: usize, o2: usize, o3: usize, lb: usize): void {
  const zr = v128.load(e1), zi = v128.load(e1, 16);
  const cr = v128.load(e2), ci = v128.load(e2, 16);
  const half = f32x4.splat(0.5);
  const sr = f32x4.add(zr, cr), si = f32x4.sub(zi, ci);
  const dr = f32x4.sub(zr, cr), di = f32x4.add(zi, ci);
  const wr = v128.load32_splat(t), wi = v128.load32_splat(t, 4);
  const xr = f32x4.add(f32x4.mul(half, sr), f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr)));
  const xi = f32x4.add(f32x4.mul(half, si), f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr)));
  if (isFloat<T>()) {
    v128.store(lb + (off << 2), xr);
    v128.store(lb + (off << 2), xi, 16);
  } else {
    storeS(o0, o1, o2, o3, off, xr);
    storeS(o0, o1, o2, o3, off + 4, xi);
  }
}

function postEven(z: usize, m: i32, tw: usize, o0: usize, o1: usize, o2: usize, o3: usize): void {
  const half = f32x4.splat(0.5);
  let k = 0;
  // bins k, k+1 and their mirrors m-k-1, m-k, while all four are distinct
  for (; 2 * k + 2 < m; k += 2) {
    const pa = z + (<usize>k << 5);
    const pb = z + (<usize>(m - k - 1) << 5); // Z_(m-k-1); Z_(m-k) follows (or is Z_0 for k = 0)
    const pc = k == 0 ? z : pb + 32;
    const t = tw + (<usize>k << 3);
    // bin k with Z_(m-k)
    let zr = v128.load(pa), zi = v128.load(pa, 16);
    let cr = v128.load(pc), ci = v128.load(pc, 16);
    let ar = f32x4.mul(half, f32x4.add(zr, cr)), ai = f32x4.mul(half, f32x4.sub(zi, ci));
    let dr = f32x4.sub(zr, cr), di = f32x4.add(zi, ci);
    let wr = v128.load32_splat(t), wi = v128.load32_splat(t, 4);
    let tr = f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr));
    let ti = f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr));
    const x0r = f32x4.add(ar, tr), x0i = f32x4.add(ai, ti); // X_k
    const y0r = f32x4.sub(ar, tr), y0i = f32x4.sub(ti, ai); // X_(m-k)
    // bin k+1 with Z_(m-k-1)
    zr = v128.load(pa, 32);
    zi = v128.load(pa, 48);
    cr = v128.load(pb);
    ci = v128.load(pb, 16);
    ar = f32x4.mul(half, f32x4.add(zr, cr));
    ai = f32x4.mul(half, f32x4.sub(zi, ci));
    dr = f32x4.sub(zr, cr);
    di = f32x4.add(zi, ci);
    wr = v128.load32_splat(t, 8);
    wi = v128.load32_splat(t, 12);
    tr = f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr));
    ti = f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr));
    const x1r = f32x4.add(ar, tr), x1i = f32x4.add(ai, ti); // X_(k+1)
    const y1r = f32x4.sub(ar, tr), y1i = f32x4.sub(ti, ai); // X_(m-k-1)
    storeT(o0, o1, o2, o3, <usize>k << 3, x0r, x0i, x1r, x1i);
    storeT(o0, o1, o2, o3, <usize>(m - k - 1) << 3, y1r, y1i, y0r, y0i);
  }
  for (let b = k; b <= m - k; b++) {
    const e1 = z + (<usize>(b == m ? 0 : b) << 5), e2 = z + (<usize>(b == 0 ? 0 : m - b) << 5);
    postBin<ToRows>(e1, e2, tw + (<usize>b << 3), <usize>b << 3, o0, o1, o2, o3, 0);
  }
}


// Even n with a final radix-2 pass (l = 1, s = m/2): that pass is fused into the split step. src
// holds the input a of the last pass; Z_j = a_j + a_(j+s) and Z_(j+s) = a_j - a_(j+s) for j < s.
// Butterflies k and s-k give Z_k, Z_(k+s), Z_(s-k), Z_(2s-k): the mirror pairs (k, m-k) and
// (s+k, s-k). With k and k+1 at a time, 8 bins are written per iteration. For k = 0 the mirror
// butterfly (a_s, a_2s) is replaced by (a_0, -a_s), which yields Z_0 and Z_s (bin s is then
// written twice, with equal values).
function postEvenR2<T>(src: usize, m: i32, tw: usize, o0: usize, o1: usize, o2: usize, o3: usize, lb: usize): void {
  const half = f32x4.splat(0.5);
  const s = m >> 1;
  const sb = <usize>s << 5;
  const sign = i32x4.splat(0x80000000), nosign = i32x4.splat(0);
  let k = 0;
  for (; 2 * k + 2 < s; k += 2) {
    const pa = src + (<usize>k << 5); // a_k, a_(k+1); + sb: a_(k+s), a_(k+s+1)
    const pb = src + (<usize>(s - k - 1) << 5); // a_(s-k-1); + sb: a_(2s-k-1)
    const pc = k == 0 ? src : pb + 32; // a_(s-k)
    const pd = k == 0 ? src + sb : pb + 32 + sb; // a_(2s-k) (negated a_s for k = 0)
    const sg = k == 0 ? sign : nosign;
    const t0 = tw + (<usize>k << 3), t1 = tw + (<usize>(s + k) << 3);
    let x0r = nosign, x0i = nosign, y0r = nosign, y0i = nosign; // X_k, X_(2s-k)
    let u0r = nosign, u0i = nosign, v0r = nosign, v0i = nosign; // X_(s+k), X_(s-k)
    {
      const ar = v128.load(pa), ai = v128.load(pa, 16), br = v128.load(pa + sb), bi = v128.load(pa + sb, 16);
      const cr = v128.load(pc), ci = v128.load(pc, 16);
      const dr = v128.xor(v128.load(pd), sg), di = v128.xor(v128.load(pd, 16), sg);
      const zkr = f32x4.add(ar, br), zki = f32x4.add(ai, bi); // Z_k
      const zsr = f32x4.sub(ar, br), zsi = f32x4.sub(ai, bi); // Z_(s+k)
      const mcr = f32x4.add(cr, dr), mci = f32x4.add(ci, di); // Z_(s-k)
      const mdr = f32x4.sub(cr, dr), mdi = f32x4.sub(ci, di); // Z_(2s-k)
      {
        const ar = f32x4.mul(half, f32x4.add(zkr, mdr)), ai = f32x4.mul(half, f32x4.sub(zki, mdi));
        const dr = f32x4.sub(zkr, mdr), di = f32x4.add(zki, mdi);
        const wr = v128.load32_splat(t0, 0), wi = v128.load32_splat(t0, 4);
        const tr = f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr));
        const ti = f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr));
        x0r = f32x4.add(ar, tr);
        x0i = f32x4.add(ai, ti);
        y0r = f32x4.sub(ar, tr);
        y0i = f32x4.sub(ti, ai);
      }
      {
        const ar = f32x4.mul(half, f32x4.add(zsr, mcr)), ai = f32x4.mul(half, f32x4.sub(zsi, mci));
        const dr = f32x4.sub(zsr, mcr), di = f32x4.add(zsi, mci);
        const wr = v128.load32_splat(t1, 0), wi = v128.load32_splat(t1, 4);
        const tr = f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr));
        const ti = f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr));
        u0r = f32x4.add(ar, tr);
        u0i = f32x4.add(ai, ti);
        v0r = f32x4.sub(ar, tr);
        v0i = f32x4.sub(ti, ai);
      }
    }
    {
      const ar = v128.load(pa, 32), ai = v128.load(pa, 48), br = v128.load(pa + sb, 32), bi = v128.load(pa + sb, 48);
      const cr = v128.load(pb), ci = v128.load(pb, 16), dr = v128.load(pb + sb), di = v128.load(pb + sb, 16);
      const zkr = f32x4.add(ar, br), zki = f32x4.add(ai, bi); // Z_(k+1)
      const zsr = f32x4.sub(ar, br), zsi = f32x4.sub(ai, bi); // Z_(s+k+1)
      const mcr = f32x4.add(cr, dr), mci = f32x4.add(ci, di); // Z_(s-k-1)
      const mdr = f32x4.sub(cr, dr), mdi = f32x4.sub(ci, di); // Z_(2s-k-1)
      let x1r = nosign, x1i = nosign, y1r = nosign, y1i = nosign; // X_(k+1), X_(2s-k-1)
      {
        const ar = f32x4.mul(half, f32x4.add(zkr, mdr)), ai = f32x4.mul(half, f32x4.sub(zki, mdi));
        const dr = f32x4.sub(zkr, mdr), di = f32x4.add(zki, mdi);
        const wr = v128.load32_splat(t0, 8), wi = v128.load32_splat(t0, 12);
        const tr = f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr));
        const ti = f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr));
        x1r = f32x4.add(ar, tr);
        x1i = f32x4.add(ai, ti);
        y1r = f32x4.sub(ar, tr);
        y1i = f32x4.sub(ti, ai);
      }
      put4<T>(lb, o0, o1, o2, o3, <usize>k << 3, x0r, x0i, x1r, x1i);
      put4<T>(lb, o0, o1, o2, o3, <usize>(m - k - 1) << 3, y1r, y1i, y0r, y0i);
      let u1r = nosign, u1i = nosign, v1r = nosign, v1i = nosign; // X_(s+k+1), X_(s-k-1)
      {
        const ar = f32x4.mul(half, f32x4.add(zsr, mcr)), ai = f32x4.mul(half, f32x4.sub(zsi, mci));
        const dr = f32x4.sub(zsr, mcr), di = f32x4.add(zsi, mci);
        const wr = v128.load32_splat(t1, 8), wi = v128.load32_splat(t1, 12);
        const tr = f32x4.add(f32x4.mul(wr, di), f32x4.mul(wi, dr));
        const ti = f32x4.sub(f32x4.mul(wi, di), f32x4.mul(wr, dr));
        u1r = f32x4.add(ar, tr);
        u1i = f32x4.add(ai, ti);
        v1r = f32x4.sub(ar, tr);
        v1i = f32x4.sub(ti, ai);
      }
      put4<T>(lb, o0, o1, o2, o3, <usize>(s + k) << 3, u0r, u0i, u1r, u1i);
      put4<T>(lb, o0, o1, o2, o3, <usize>(s - k - 1) << 3, v1r, v1i, v0r, v0i);
    }
  }
  for (let b = k; b <= s - k; b++) postBinR2<T>(src, m, tw, b, o0, o1, o2, o3, lb);
  for (let b = s + k; b <= m - k; b++) postBinR2<T>(src, m, tw, b, o0, o1, o2, o3, lb);
}

// Output targets of the split steps, chosen at compile time (no branch in the loops): ToRows stores
// to the output rows o0..o3, ToLanes to the lane buffer lb (element = bin).
type ToRows = u32;
type ToLanes = f32;

// Two bins (a, b: bin at byte offset off, c, d: the next bin) to the target T.
// @ts-ignore: decorator
@inline
function put4<T>(lb: usize, o0: usize, o1: usize, o2: usize, o3: usize, off: usize, a: v128, b: v128, c: v128, d: v128): void {
  if (isFloat<T>()) {
    const e = lb + (off << 2);
    v128.store(e, a);
    v128.store(e, b, 16);
    v128.store(e, c, 32);
    v128.store(e, d, 48);
  } else {
    storeT(o0, o1, o2, o3, off, a, b, c, d);
  }
}

// Bins 0..count-1 of a lane-layout spectrum to the output rows, in order.
function scatterBins(lb: usize, count: i32, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let j = 0;
  for (; j + 2 <= count; j += 2) {
    const e = lb + (<usize>j << 5);
    storeT(o0, o1, o2, o3, <usize>j << 3, v128.load(e), v128.load(e, 16), v128.load(e, 32), v128.load(e, 48));
  }
  if (j < count) {
    const e = lb + (<usize>j << 5);
    storeS(o0, o1, o2, o3, <usize>j << 3, v128.load(e));
    storeS(o0, o1, o2, o3, (<usize>j << 3) + 4, v128.load(e, 16));
  }
}

// Stores Z_j (j mod m), computed from the input a of a final radix-2 pass, at slot.
function zR2(src: usize, m: i32, j: i32, slot: usize): void {
  const s = m >> 1;
  if (j >= m) j -= m;
  const lo = j < s ? j : j - s;
  const p = src + (<usize>lo << 5), q = p + (<usize>s << 5);
  if (j < s) {
    v128.store(slot, f32x4.add(v128.load(p), v128.load(q)));
    v128.store(slot, f32x4.add(v128.load(p, 16), v128.load(q, 16)), 16);
  } else {
    v128.store(slot, f32x4.sub(v128.load(p), v128.load(q)));
    v128.store(slot, f32x4.sub(v128.load(p, 16), v128.load(q, 16)), 16);
  }
}

// One bin k (0..m) of postEvenR2 with scalar stores; elements m and m+1 of src's buffer are scratch.
function postBinR2<T>(src: usize, m: i32, tw: usize, k: i32, o0: usize, o1: usize, o2: usize, o3: usize, lb: usize): void {
  const slot = src + (<usize>m << 5);
  zR2(src, m, k, slot);
  zR2(src, m, k == 0 ? 0 : m - k, slot + 32);
  postBin<T>(slot, slot + 32, tw + (<usize>k << 3), <usize>k << 3, o0, o1, o2, o3, lb);
}

// Row pointer of row r, or fallback for rows past the batch.
// @ts-ignore: decorator
@inline
function rowPtr(base: usize, r: i32, batch: i32, stride: usize, fallback: usize): usize {
  return r < batch ? base + <usize>r * stride : fallback;
}

// Row pointer of row r, or fallback for r < 0 (no row).
// @ts-ignore: decorator
@inline
function optPtr(base: usize, r: i32, stride: usize, fallback: usize): usize {
  return r >= 0 ? base + <usize>r * stride : fallback;
}

// Work layout: lane buffers a, b (bufElems elements each), then a dummy row (outputs of the missing
// rows of a last group) and a zero row (odd n: partner of unpaired rows), rowFloats(n) floats each.
// @ts-ignore: decorator
@inline
function rowFloats(n: i32): i32 {
  return (n + 7) & ~3; // >= n + 4: holds a signal (n) or a spectrum (n + 2) row
}

/**
 * Batched forward real FFT. `plan`: real plan descriptor (src/fft/wasm_plan.ts); `inp`:
 * `[batch, n]` f32; `outp`: `[batch, floor(n/2)+1, 2]` f32; `work`: 2*bufElems*32 bytes of lane
 * buffers followed by a dummy row and a zero row of ((n+7) & ~3) floats each. Rows are
 * independent: a NaN or infinity in one row never reaches another row's output.
 */
export function rfftExec(plan: usize, inp: usize, outp: usize, batch: i32, work: usize, bufElems: i32): void {
  const n = load<i32>(plan), m = load<i32>(plan, 4), even = load<i32>(plan, 8);
  const tw = <usize>load<u32>(plan, 12), cplan = <usize>load<u32>(plan, 16);
  const a = work, b = work + (<usize>bufElems << 5), dummy = b + (<usize>bufElems << 5);
  const h = (n >> 1) + 1;
  const is = <usize>n << 2, os = <usize>h << 3;
  if (!even) {
    rfftOdd(cplan, inp, outp, batch, n, a, b, dummy, dummy + (<usize>rowFloats(n) << 2));
    return;
  }
  // a final radix-2 pass of a Stockham plan is fused into the split step
  const np = load<i32>(cplan) == 0 ? load<i32>(cplan, 8) : 0;
  const fuseR2 = np > 0 && load<i32>(cplan + 12 + (<usize>(np - 1) << 4)) == 2;
  // Lanes never mix (vertical SIMD; transposes only move data), so the missing rows of the last
  // group may read row r0: their lanes only reach the dummy row.
  // Long rows, fused radix-2 split: postEvenR2 writes the spectrum to the free lane buffer and
  // scatterBins then writes each output row in order, instead of storing 2 bins at 4 places of each
  // of the 4 rows per step (16 concurrent write streams, slow once the outputs miss the caches).
  // Measured with a batch of 4096: -10..12% at n = 768, 1024, 1280; n = 256: -26% with the data
  // evicted (bench --cold), -17% right after another large transform, +4% when the same batch was
  // just transformed (outputs still cached); +8% at n = 64 (direct stores win); no gain for postEven
  // (2 places per row: n = 1000, 2048); m > 1024 untried.
  const seq = fuseR2 && m >= SEQ_MIN_M && m <= SEQ_MAX_M;
  const Q = (batch + 3) >> 2; // lane i handles rows i*Q .. i*Q+Q-1: 4 sequential streams
  for (let r = 0; r < Q; r++) {
    const r0 = inp + <usize>r * is, o0 = outp + <usize>r * os;
    const r1 = rowPtr(inp, r + Q, batch, is, r0), r2 = rowPtr(inp, r + 2 * Q, batch, is, r0);
    const r3 = rowPtr(inp, r + 3 * Q, batch, is, r0);
    const o1 = rowPtr(outp, r + Q, batch, os, dummy), o2 = rowPtr(outp, r + 2 * Q, batch, os, dummy);
    const o3 = rowPtr(outp, r + 3 * Q, batch, os, dummy);
    gatherPairs(a, n, r0, r1, r2, r3);
    if (fuseR2) {
      const src = stockhamPasses(cplan, a, b, np - 1);
      if (seq) {
        const lb = src == a ? b : a;
        postEvenR2<ToLanes>(src, m, tw, o0, o1, o2, o3, lb);
        scatterBins(lb, m + 1, o0, o1, o2, o3);
      } else {
        postEvenR2<ToRows>(src, m, tw, o0, o1, o2, o3, 0);
      }
    } else {
      postEven(complexFft(cplan, a, b), m, tw, o0, o1, o2, o3);
    }
  }
}

// Odd n: two real rows per lane, packed as x_a + i x_b (rows r + i*Q, i < 4, in the real parts and
// i = 4..7 in the imaginary parts of the 4 lanes), one complex transform of length n for 8 rows;
// then X_a[k] = (Z_k + conj Z_(n-k))/2 and X_b[k] = -i (Z_k - conj Z_(n-k))/2.
// Pairing mixes the two rows of a lane: a NaN or infinity in one (or an overflow) spreads to both.
// The split step therefore sums each lane's outputs; a lane whose sum is not finite had a
// non-finite value somewhere (+, -, * never turn one finite), and its rows are redone unpaired, with
// the zero row as partner. Finite data thus takes the paired path only. Rows past the batch read the
// zero row.
function rfftOdd(cplan: usize, inp: usize, outp: usize, batch: i32, n: i32, a: usize, b: usize, dummy: usize, zrow: usize): void {
  const is = <usize>n << 2, os = <usize>((n >> 1) + 1) << 3;
  memory.fill(zrow, 0, <usize>rowFloats(n) << 2);
  const Q = (batch + 7) >> 3; // row i*Q + r in lane (i mod 4), real part for i < 4
  for (let r = 0; r < Q; r++) {
    const bad = rfftOddGroup(cplan, n, a, b,
      inp + <usize>r * is, rowPtr(inp, r + Q, batch, is, zrow), rowPtr(inp, r + 2 * Q, batch, is, zrow),
      rowPtr(inp, r + 3 * Q, batch, is, zrow), rowPtr(inp, r + 4 * Q, batch, is, zrow),
      rowPtr(inp, r + 5 * Q, batch, is, zrow), rowPtr(inp, r + 6 * Q, batch, is, zrow),
      rowPtr(inp, r + 7 * Q, batch, is, zrow),
      outp + <usize>r * os, rowPtr(outp, r + Q, batch, os, dummy), rowPtr(outp, r + 2 * Q, batch, os, dummy),
      rowPtr(outp, r + 3 * Q, batch, os, dummy), rowPtr(outp, r + 4 * Q, batch, os, dummy),
      rowPtr(outp, r + 5 * Q, batch, os, dummy), rowPtr(outp, r + 6 * Q, batch, os, dummy),
      rowPtr(outp, r + 7 * Q, batch, os, dummy));
    if (bad == 0) continue;
    // redo the rows of the flagged lanes, 4 at a time, each alone in its lane
    let cnt = 0, q0 = -1, q1 = -1, q2 = -1, q3 = -1;
    for (let i = 0; i < 8; i++) {
      const row = r + i * Q;
      if (((bad >> (i & 3)) & 1) == 0 || row >= batch) continue;
      if (cnt == 0) q0 = row;
      else if (cnt == 1) q1 = row;
      else if (cnt == 2) q2 = row;
      else q3 = row;
      if (++cnt == 4) {
        rfftOddSingles(cplan, n, a, b, inp, outp, is, os, zrow, dummy, q0, q1, q2, q3);
        cnt = 0;
        q0 = q1 = q2 = q3 = -1;
      }
    }
    if (cnt > 0) {
      rfftOddSingles(cplan, n, a, b, inp, outp, is, os, zrow, dummy, q0, q1, q2, q3);
    }
  }
}

// Rows q0..q3 (-1: none) alone in lanes 0..3, with the zero row as partner.
function rfftOddSingles(cplan: usize, n: i32, a: usize, b: usize, inp: usize, outp: usize, is: usize, os: usize,
  zrow: usize, dummy: usize, q0: i32, q1: i32, q2: i32, q3: i32): void {
  rfftOddGroup(cplan, n, a, b,
    optPtr(inp, q0, is, zrow), optPtr(inp, q1, is, zrow), optPtr(inp, q2, is, zrow), optPtr(inp, q3, is, zrow),
    zrow, zrow, zrow, zrow,
    optPtr(outp, q0, os, dummy), optPtr(outp, q1, os, dummy), optPtr(outp, q2, os, dummy), optPtr(outp, q3, os, dummy),
    dummy, dummy, dummy, dummy);
}

// Lanes (bits 0..3) of v whose value is NaN or infinite.
// @ts-ignore: decorator
@inline
function nonFiniteLanes(v: v128): i32 {
  return i32x4.bitmask(f32x4.ne(f32x4.sub(v, v), f32x4.splat(0)));
}

// One group of 8 odd-length rows (r0..r7 -> o0..o7, rows r_i and r_(i+4) paired in lane i).
// Returns the lanes (bits 0..3) whose outputs are not all finite.
function rfftOddGroup(cplan: usize, n: i32, a: usize, b: usize,
  r0: usize, r1: usize, r2: usize, r3: usize, r4: usize, r5: usize, r6: usize, r7: usize,
  o0: usize, o1: usize, o2: usize, o3: usize, o4: usize, o5: usize, o6: usize, o7: usize): i32 {
  const h = (n >> 1) + 1;
  const half = f32x4.splat(0.5);
  const zero = f32x4.splat(0);
  // gather: element j = (x_a[j], x_b[j]) for the 4 lanes
  const end = <usize>(n & ~3) << 2;
  let e = a;
  for (let off: usize = 0; off < end; off += 16) {
    let x0 = v128.load(r0 + off), x1 = v128.load(r1 + off), x2 = v128.load(r2 + off), x3 = v128.load(r3 + off);
    let t0 = lo2(x0, x1), t1 = hi2(x0, x1), t2 = lo2(x2, x3), t3 = hi2(x2, x3);
    v128.store(e, lo4(t0, t2));
    v128.store(e, hi4(t0, t2), 32);
    v128.store(e, lo4(t1, t3), 64);
    v128.store(e, hi4(t1, t3), 96);
    x0 = v128.load(r4 + off);
    x1 = v128.load(r5 + off);
    x2 = v128.load(r6 + off);
    x3 = v128.load(r7 + off);
    t0 = lo2(x0, x1);
    t1 = hi2(x0, x1);
    t2 = lo2(x2, x3);
    t3 = hi2(x2, x3);
    v128.store(e, lo4(t0, t2), 16);
    v128.store(e, hi4(t0, t2), 48);
    v128.store(e, lo4(t1, t3), 80);
    v128.store(e, hi4(t1, t3), 112);
    e += 128;
  }
  for (let j = n & ~3; j < n; j++) {
    const off = <usize>j << 2, p = a + (<usize>j << 5);
    v128.store(p, loadS(r0, r1, r2, r3, off));
    v128.store(p, loadS(r4, r5, r6, r7, off), 16);
  }
  const z = complexFft(cplan, a, b);
  // split: bins k, k+1 at a time; acc sums every output of each lane
  const nb = <usize>n << 5;
  let ar0 = zero, ai0 = zero, br0 = zero, bi0 = zero, acc = zero;
  for (let k = 0; k < h; k++) {
    const p = z + (<usize>k << 5), q = k == 0 ? z : z + nb - (<usize>k << 5);
    const zr = v128.load(p), zi = v128.load(p, 16), cr = v128.load(q), ci = v128.load(q, 16);
    const ar = f32x4.mul(half, f32x4.add(zr, cr)), ai = f32x4.mul(half, f32x4.sub(zi, ci));
    const br = f32x4.mul(half, f32x4.add(zi, ci)), bi = f32x4.mul(half, f32x4.sub(cr, zr));
    acc = f32x4.add(acc, f32x4.add(f32x4.add(ar, ai), f32x4.add(br, bi)));
    if (k & 1) {
      const off = <usize>(k - 1) << 3;
      storeT(o0, o1, o2, o3, off, ar0, ai0, ar, ai);
      storeT(o4, o5, o6, o7, off, br0, bi0, br, bi);
    } else {
      ar0 = ar;
      ai0 = ai;
      br0 = br;
      bi0 = bi;
    }
  }
  if (h & 1) {
    const off = <usize>(h - 1) << 3;
    storeS(o0, o1, o2, o3, off, ar0);
    storeS(o0, o1, o2, o3, off + 4, ai0);
    storeS(o4, o5, o6, o7, off, br0);
    storeS(o4, o5, o6, o7, off + 4, bi0);
  }
  return nonFiniteLanes(acc);
}

// ----- inverse real FFT ---------------------------------------------------------------------------
// Even n: from X_0..X_m (imaginary parts of X_0, X_m ignored), Z'_k = S + i P with
// S = X_k + conj X_(m-k), P = (X_k - conj X_(m-k)) conj(w^k); then Z'_(m-k) = conj(S - i P), and
// x_2j + i x_2j+1 = (1/n) sum_k Z'_k e^(2 pi i jk/m) = conj(FFT_m(conj(Z')/n))_j.
// preEven writes conj(Z'_k)/n = (Sr - Pi, -(Si + Pr))/n and conj(Z'_(m-k))/n = (Sr + Pi, Si - Pr)/n.
// tw holds w^k/2, so P is computed halved and scaled by 2/n.

// One bin k < m, reading the gathered spectrum s (lane layout, m+1 bins, Im of 0 and m zeroed).
function preBin(s: usize, z: usize, m: i32, tw: usize, k: i32, sc: v128, sc2: v128): void {
  const e1 = s + (<usize>k << 5), e2 = s + (<usize>(m - k) << 5);
  const xr = v128.load(e1), xi = v128.load(e1, 16);
  const cr = v128.load(e2), ci = v128.load(e2, 16);
  const sr = f32x4.add(xr, cr), si = f32x4.sub(xi, ci);
  const dr = f32x4.sub(xr, cr), di = f32x4.add(xi, ci);
  const t = tw + (<usize>k << 3);
  const wr = v128.load32_splat(t), wi = v128.load32_splat(t, 4);
  const pr = f32x4.add(f32x4.mul(dr, wr), f32x4.mul(di, wi));
  const pi = f32x4.sub(f32x4.mul(di, wr), f32x4.mul(dr, wi));
  const e = z + (<usize>k << 5);
  v128.store(e, f32x4.sub(f32x4.mul(sc, sr), f32x4.mul(sc2, pi)));
  v128.store(e, f32x4.neg(f32x4.add(f32x4.mul(sc, si), f32x4.mul(sc2, pr))), 16);
}

function preEven(s: usize, z: usize, m: i32, tw: usize, scale: f32): void {
  const mb = <usize>m << 5;
  const sc = f32x4.splat(scale), sc2 = f32x4.splat(scale * 2);
  const zero = f32x4.splat(0);
  v128.store(s, zero, 16);
  v128.store(s + mb, zero, 16);
  let k = 0;
  for (; 2 * k < m; k++) {
    const e1 = s + (<usize>k << 5), e2 = s + mb - (<usize>k << 5);
    const xr = v128.load(e1), xi = v128.load(e1, 16);
    const cr = v128.load(e2), ci = v128.load(e2, 16);
    const sr = f32x4.mul(sc, f32x4.add(xr, cr)), si = f32x4.mul(sc, f32x4.sub(xi, ci));
    const dr = f32x4.sub(xr, cr), di = f32x4.add(xi, ci);
    const t = tw + (<usize>k << 3);
    const wr = f32x4.mul(sc2, v128.load32_splat(t)), wi = f32x4.mul(sc2, v128.load32_splat(t, 4));
    const pr = f32x4.add(f32x4.mul(dr, wr), f32x4.mul(di, wi));
    const pi = f32x4.sub(f32x4.mul(di, wr), f32x4.mul(dr, wi));
    const p = z + (<usize>k << 5), q = z + mb - (<usize>k << 5); // q = z[m] for k = 0 (spare slot)
    v128.store(p, f32x4.sub(sr, pi));
    v128.store(p, f32x4.neg(f32x4.add(si, pr)), 16);
    v128.store(q, f32x4.add(sr, pi));
    v128.store(q, f32x4.sub(si, pr), 16);
  }
  // middle bin k = m/2 (even m) pairs with itself
  if (2 * k == m) preBin(s, z, m, tw, k, sc, sc2);
}

// Even n: x_2j = Re r_j, x_2j+1 = -Im r_j, to the output rows.
function scatterEven(r: usize, m: i32, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let j = 0;
  for (; j + 2 <= m; j += 2) {
    const e = r + (<usize>j << 5);
    storeT(o0, o1, o2, o3, <usize>j << 3, v128.load(e), f32x4.neg(v128.load(e, 16)), v128.load(e, 32), f32x4.neg(v128.load(e, 48)));
  }
  if (j < m) {
    const e = r + (<usize>j << 5);
    storeS(o0, o1, o2, o3, <usize>j << 3, v128.load(e));
    storeS(o0, o1, o2, o3, (<usize>j << 3) + 4, f32x4.neg(v128.load(e, 16)));
  }
}



/**
 * Batched inverse real FFT (numpy `irfft` semantics, divides by n). `inp`: `[batch, floor(n/2)+1,
 * 2]` f32; `outp`: `[batch, n]` f32; `work`: as for rfftExec. The input is not modified. Rows are
 * independent, as for rfftExec.
 */
export function irfftExec(plan: usize, inp: usize, outp: usize, batch: i32, work: usize, bufElems: i32): void {
  const n = load<i32>(plan), m = load<i32>(plan, 4), even = load<i32>(plan, 8);
  const tw = <usize>load<u32>(plan, 12), cplan = <usize>load<u32>(plan, 16);
  const scale = load<f32>(plan, 20);
  const a = work, b = work + (<usize>bufElems << 5), dummy = b + (<usize>bufElems << 5);
  const h = (n >> 1) + 1;
  const is = <usize>h << 3, os = <usize>n << 2;
  if (!even) {
    irfftOdd(cplan, inp, outp, batch, n, scale, a, b, dummy, dummy + (<usize>rowFloats(n) << 2));
    return;
  }
  const Q = (batch + 3) >> 2; // lane i handles rows i*Q .. i*Q+Q-1: 4 sequential streams
  for (let r = 0; r < Q; r++) {
    const r0 = inp + <usize>r * is, o0 = outp + <usize>r * os;
    const r1 = rowPtr(inp, r + Q, batch, is, r0), r2 = rowPtr(inp, r + 2 * Q, batch, is, r0);
    const r3 = rowPtr(inp, r + 3 * Q, batch, is, r0);
    const o1 = rowPtr(outp, r + Q, batch, os, dummy), o2 = rowPtr(outp, r + 2 * Q, batch, os, dummy);
    const o3 = rowPtr(outp, r + 3 * Q, batch, os, dummy);
    gatherPairs(b, 2 * h, r0, r1, r2, r3);
    preEven(b, a, m, tw, scale);
    const z = complexFft(cplan, a, b);
    scatterEven(z, m, o0, o1, o2, o3);
  }
}

// Odd n, two rows per lane: Z = X_a + i X_b over the Hermitian extension (Im of bin 0 ignored);
// conj(Z_k)/n = (ar - bi, -ai - br)/n, conj(Z_(n-k))/n = (ar + bi, ai - br)/n; with r = FFT_n of
// that, x_a = Re r and x_b = -Im r. Non-finite lanes are redone unpaired, as in rfftOdd.
function irfftOdd(cplan: usize, inp: usize, outp: usize, batch: i32, n: i32, scale: f32, a: usize, b: usize, dummy: usize, zrow: usize): void {
  const is = <usize>((n >> 1) + 1) << 3, os = <usize>n << 2;
  memory.fill(zrow, 0, <usize>rowFloats(n) << 2);
  const Q = (batch + 7) >> 3; // row i*Q + r in lane (i mod 4), real part for i < 4
  for (let r = 0; r < Q; r++) {
    const bad = irfftOddGroup(cplan, n, scale, a, b,
      inp + <usize>r * is, rowPtr(inp, r + Q, batch, is, zrow), rowPtr(inp, r + 2 * Q, batch, is, zrow),
      rowPtr(inp, r + 3 * Q, batch, is, zrow), rowPtr(inp, r + 4 * Q, batch, is, zrow),
      rowPtr(inp, r + 5 * Q, batch, is, zrow), rowPtr(inp, r + 6 * Q, batch, is, zrow),
      rowPtr(inp, r + 7 * Q, batch, is, zrow),
      outp + <usize>r * os, rowPtr(outp, r + Q, batch, os, dummy), rowPtr(outp, r + 2 * Q, batch, os, dummy),
      rowPtr(outp, r + 3 * Q, batch, os, dummy), rowPtr(outp, r + 4 * Q, batch, os, dummy),
      rowPtr(outp, r + 5 * Q, batch, os, dummy), rowPtr(outp, r + 6 * Q, batch, os, dummy),
      rowPtr(outp, r + 7 * Q, batch, os, dummy));
    if (bad == 0) continue;
    let cnt = 0, q0 = -1, q1 = -1, q2 = -1, q3 = -1;
    for (let i = 0; i < 8; i++) {
      const row = r + i * Q;
      if (((bad >> (i & 3)) & 1) == 0 || row >= batch) continue;
      if (cnt == 0) q0 = row;
      else if (cnt == 1) q1 = row;
      else if (cnt == 2) q2 = row;
      else q3 = row;
      if (++cnt == 4) {
        irfftOddSingles(cplan, n, scale, a, b, inp, outp, is, os, zrow, dummy, q0, q1, q2, q3);
        cnt = 0;
        q0 = q1 = q2 = q3 = -1;
      }
    }
    if (cnt > 0) {
      irfftOddSingles(cplan, n, scale, a, b, inp, outp, is, os, zrow, dummy, q0, q1, q2, q3);
    }
  }
}

// Rows q0..q3 (-1: none) alone in lanes 0..3, with the zero row as partner.
function irfftOddSingles(cplan: usize, n: i32, scale: f32, a: usize, b: usize, inp: usize, outp: usize, is: usize, os: usize,
  zrow: usize, dummy: usize, q0: i32, q1: i32, q2: i32, q3: i32): void {
  irfftOddGroup(cplan, n, scale, a, b,
    optPtr(inp, q0, is, zrow), optPtr(inp, q1, is, zrow), optPtr(inp, q2, is, zrow), optPtr(inp, q3, is, zrow),
    zrow, zrow, zrow, zrow,
    optPtr(outp, q0, os, dummy), optPtr(outp, q1, os, dummy), optPtr(outp, q2, os, dummy), optPtr(outp, q3, os, dummy),
    dummy, dummy, dummy, dummy);
}

// One group of 8 odd-length rows of irfftOdd (spectra r0..r7 -> signals o0..o7, rows r_i and
// r_(i+4) paired in lane i). Returns the lanes (bits 0..3) whose outputs are not all finite.
function irfftOddGroup(cplan: usize, n: i32, scale: f32, a: usize, b: usize,
  r0: usize, r1: usize, r2: usize, r3: usize, r4: usize, r5: usize, r6: usize, r7: usize,
  o0: usize, o1: usize, o2: usize, o3: usize, o4: usize, o5: usize, o6: usize, o7: usize): i32 {
  const h = (n >> 1) + 1;
  const sc = f32x4.splat(scale), nsc = f32x4.splat(-scale);
  const nb = <usize>n << 5, hb = <usize>h << 5;
  // spectra of rows a at b[0..h), of rows b at b[h..2h)
  gatherPairs(b, 2 * h, r0, r1, r2, r3);
  gatherPairs(b + hb, 2 * h, r4, r5, r6, r7);
  v128.store(a, f32x4.mul(sc, v128.load(b)));
  v128.store(a, f32x4.mul(nsc, v128.load(b + hb)), 16);
  for (let k = 1; k < h; k++) {
    const pa = b + (<usize>k << 5), pb = pa + hb;
    const ar = f32x4.mul(sc, v128.load(pa)), ai = f32x4.mul(sc, v128.load(pa, 16));
    const br = f32x4.mul(sc, v128.load(pb)), bi = f32x4.mul(sc, v128.load(pb, 16));
    const p = a + (<usize>k << 5), q = a + nb - (<usize>k << 5);
    v128.store(p, f32x4.sub(ar, bi));
    v128.store(p, f32x4.neg(f32x4.add(ai, br)), 16);
    v128.store(q, f32x4.add(ar, bi));
    v128.store(q, f32x4.sub(ai, br), 16);
  }
  const z = complexFft(cplan, a, b);
  // acc sums every output of each lane (x_b negated: same finiteness)
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const e = z + (<usize>j << 5), off = <usize>j << 2;
    const x0 = v128.load(e), x1 = v128.load(e, 32), x2 = v128.load(e, 64), x3 = v128.load(e, 96);
    const y0 = v128.load(e, 16), y1 = v128.load(e, 48), y2 = v128.load(e, 80), y3 = v128.load(e, 112);
    acc = f32x4.add(acc, f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(y0, y1), f32x4.add(y2, y3))));
    storeT(o0, o1, o2, o3, off, x0, x1, x2, x3);
    storeT(o4, o5, o6, o7, off, f32x4.neg(y0), f32x4.neg(y1), f32x4.neg(y2), f32x4.neg(y3));
  }
  for (; j < n; j++) {
    const e = z + (<usize>j << 5), off = <usize>j << 2;
    const x = v128.load(e), y = v128.load(e, 16);
    acc = f32x4.add(acc, f32x4.add(x, y));
    storeS(o0, o1, o2, o3, off, x);
    storeS(o4, o5, o6, o7, off, f32x4.neg(y));
  }
  return nonFiniteLanes(acc);
}

/** Version of the FFT kernels (bumped when the plan layout changes). */
export function fftVersion(): i32 {
  return 4;
}
