// Frequency-domain block products of C3A (spec/c3a.md §1.3, §1.4).
//
// A C3A layer with kernel w [m, n, b] maps the n input chunks x_j (length b) of every row to m output
// chunks y_i. In the rfft domain (F = floor(b/2) + 1 bins, interleaved complex) this is, per
// frequency f, a small complex GEMM:
//   forward      Y[r][i] = Σ_j X[r][j] ∘ conj(W[i][j])      (circular cross-correlation)
//   input grad   GX[r][j] = Σ_i G[r][i] ∘ W[i][j]           (true gradient, g·A)
//   kernel grad  GW[i][j] = Σ_r X[r][j] ∘ conj(G[r][i])
// Spectra in and out are stored as the batched rfft produces them: vector after vector, F complex
// numbers each (byte stride F·8), e.g. X is [rows][n][F][2].
//
// Work is done on "pairs": one v128 holds two neighbouring bins (2p, 2p+1); PP = ceil(F/2) pairs per
// vector, the last one half empty (upper lanes 0) when F is odd. Rows are transposed into pair-major
// order ([pair][vector], contiguous) in a small workspace before the products, so the complex GEMM of
// one pair reads contiguous memory and keeps its accumulators in registers, independent of the
// (cache-set-aliasing) stride F·8 of the natural layout; results are transposed back.
//
// The kernel spectrum is packed once (c3aPackKernel), pair-major too:
//   ((p·m + i)·n + j)·32 bytes: [wr0, wr0, wr1, wr1] [wi0, −wi0, wi1, −wi1]
// With xs = [xi0, xr0, xi1, xr1] (lanes swapped): x·conj(w) = x·wrDup + xs·wiSigned and
// g·w = g·wrDup − gs·wiSigned, so forward and input grad share the packed layout.
//
// Kernels never allocate: scratch comes from the caller (c3aWorkBytes). All pointers are byte
// offsets into linear memory, sizes are element counts.

import { rfftExec } from "./fft";

/** Number of bin pairs of a spectrum with `freqs` bins. */
function pairCount(freqs: i32): i32 {
  return (freqs + 1) >> 1;
}

/** Bytes c3aPackKernel writes for an [m, n] grid of spectra with `freqs` bins each. */
export function c3aPackedKernelBytes(m: i32, n: i32, freqs: i32): usize {
  return (<usize> m * <usize> n * <usize> pairCount(freqs)) << 5;
}

/**
 * Packs kernel spectra `spec` ([m][n][freqs][2], as rfft writes them) into the layout described at
 * the top of this file, at `packed` (c3aPackedKernelBytes bytes).
 */
export function c3aPackKernel(spec: usize, packed: usize, m: i32, n: i32, freqs: i32): void {
  const full = freqs >> 1;
  const pp = pairCount(freqs);
  const vecBytes = <usize> freqs << 3;
  const mn = <usize> m * <usize> n;
  const sg = f32x4(1, -1, 1, -1);
  for (let ij: usize = 0; ij < mn; ij++) {
    const src = spec + ij * vecBytes;
    let dst = packed + (ij << 5);
    for (let p = 0; p < pp; p++) {
      const at = src + (<usize> p << 4);
      const v = p < full ? v128.load(at) : v128.load64_zero(at);
      v128.store(dst, v128.shuffle<f32>(v, v, 0, 0, 2, 2));
      v128.store(dst, f32x4.mul(v128.shuffle<f32>(v, v, 1, 1, 3, 3), sg), 16);
      dst += mn << 5;
    }
  }
}

/** Workspace bytes the product kernels need for these sizes (the maximum over the three). */
export function c3aWorkBytes(_rows: i32, m: i32, n: i32, freqs: i32): usize {
  const pp = <usize> pairCount(freqs);
  const vec = <usize> (m + n) << 4; // one pair of every vector of a row (x and y side)
  return (pp * vec) << 1;
}

// Natural [nVec][freqs][2] row at src → pair-major at dst: pair p of vector v at dst + p·pStride + v·16.
function toPairMajor(src: usize, dst: usize, nVec: i32, freqs: i32, p0: i32, np: i32, pStride: usize): void {
  const full = freqs >> 1;
  const vecB = <usize> freqs << 3;
  const pEnd = p0 + np;
  const fullEnd = pEnd < full ? pEnd : full;
  for (let v = 0; v < nVec; v++) {
    const s = src + <usize> v * vecB;
    let d = dst + (<usize> v << 4);
    let p = p0;
    for (; p < fullEnd; p++) {
      v128.store(d, v128.load(s + (<usize> p << 4)));
      d += pStride;
    }
    if (p < pEnd) v128.store(d, v128.load64_zero(s + (<usize> p << 4)));
  }
}

// Inverse of toPairMajor (all pairs), writing the natural row at dst.
function fromPairMajor(src: usize, dst: usize, nVec: i32, freqs: i32, pStride: usize): void {
  const full = freqs >> 1;
  const vecB = <usize> freqs << 3;
  for (let v = 0; v < nVec; v++) {
    const d = dst + <usize> v * vecB;
    let s = src + (<usize> v << 4);
    for (let p = 0; p < full; p++) {
      v128.store(d + (<usize> p << 4), v128.load(s));
      s += pStride;
    }
    if (freqs & 1) v128.store64_lane(d + (<usize> full << 4), v128.load(s), 0);
  }
}

/**
 * Forward product: ys[r][i] = Σ_j xs[r][j] ∘ conj(W[i][j]) for every bin. xs is [rows][n][freqs][2],
 * ys [rows][m][freqs][2] (overwritten), wp the packed kernel spectrum, work c3aWorkBytes bytes.
 */
export function c3aSpectralForward(
  xs: usize,
  wp: usize,
  ys: usize,
  rows: i32,
  m: i32,
  n: i32,
  freqs: i32,
  work: usize,
): void {
  spectralProduct<f32>(xs, wp, ys, rows, m, n, m, n, freqs, <usize> n << 5, 32, work);
}

/**
 * Input-gradient product: gxs[r][j] = Σ_i gs[r][i] ∘ W[i][j] for every bin. gs is [rows][m][freqs][2],
 * gxs [rows][n][freqs][2] (overwritten), wp the packed kernel spectrum, work c3aWorkBytes bytes.
 */
export function c3aSpectralInputGrad(
  gs: usize,
  wp: usize,
  gxs: usize,
  rows: i32,
  m: i32,
  n: i32,
  freqs: i32,
  work: usize,
): void {
  spectralProduct<f64>(gs, wp, gxs, rows, n, m, m, n, freqs, 32, <usize> n << 5, work);
}

// acc + a·conj(w) (T = f32) or acc + a·w (T = f64), for a = [ar0, ai0, ar1, ai1], as = lanes swapped.
function cmac<T>(acc: v128, a: v128, as: v128, wr: v128, wi: v128): v128 {
  if (sizeof<T>() == 4) return f32x4.add(acc, f32x4.add(f32x4.mul(a, wr), f32x4.mul(as, wi)));
  return f32x4.add(acc, f32x4.sub(f32x4.mul(a, wr), f32x4.mul(as, wi)));
}

function swapRI(x: v128): v128 {
  return v128.shuffle<f32>(x, x, 1, 0, 3, 2);
}

// out[r][o] = Σ_q a[r][q] ∘ W(o, q) (conj(W) when T = f32), W(o, q) of pair p at
// wp + p·m·n·32 + o·so + q·sq. Rows go in pairs (an odd last row is paired with itself).
function spectralProduct<T>(
  a: usize,
  wp: usize,
  out: usize,
  rows: i32,
  nOut: i32,
  nRed: i32,
  m: i32,
  n: i32,
  freqs: i32,
  so: usize,
  sq: usize,
  work: usize,
): void {
  if (rows <= 0) return;
  if (nOut == 1 && nRed == 1) {
    elementwiseProduct<T>(a, wp, out, rows, freqs);
    return;
  }
  const pp = pairCount(freqs);
  const vecB = <usize> freqs << 3;
  const mn = <usize> m * <usize> n;
  const aRowB = <usize> nRed * vecB;
  const oRowB = <usize> nOut * vecB;
  const aPS = <usize> nRed << 5; // pair stride of the transposed input (two rows)
  const oPS = <usize> nOut << 5;
  const at = work;
  const ot = work + <usize> pp * aPS;
  for (let r = 0; r < rows; r += 2) {
    const r1 = r + 1 < rows ? r + 1 : r;
    toPairMajor(a + <usize> r * aRowB, at, nRed, freqs, 0, pp, aPS);
    toPairMajor(a + <usize> r1 * aRowB, at + (<usize> nRed << 4), nRed, freqs, 0, pp, aPS);
    for (let p = 0; p < pp; p++) {
      const wpP = wp + ((<usize> p * mn) << 5);
      const a0 = at + <usize> p * aPS;
      const a1 = a0 + (<usize> nRed << 4);
      const o0 = ot + <usize> p * oPS;
      const o1 = o0 + (<usize> nOut << 4);
      if (nOut >= 4) {
        for (let o = 0; o < nOut; o += 4) {
          const oo = o + 4 <= nOut ? o : nOut - 4; // last tile overlaps instead of running past
          const oOff = <usize> oo << 4;
          pairTile2x4<T>(a0, a1, wpP + <usize> oo * so, o0 + oOff, o1 + oOff, nRed, so, sq);
        }
      } else {
        for (let o = 0; o < nOut; o++) {
          const oOff = <usize> o << 4;
          pairTile2x1<T>(a0, a1, wpP + <usize> o * so, o0 + oOff, o1 + oOff, nRed, sq);
        }
      }
    }
    fromPairMajor(ot, out + <usize> r * oRowB, nOut, freqs, oPS);
    if (r1 != r) fromPairMajor(ot + (<usize> nOut << 4), out + <usize> r1 * oRowB, nOut, freqs, oPS);
  }
}

// m = n = 1 (b = in = out): out[r] = a[r] ∘ conj(w) (or ∘ w), streaming along the natural layout.
function elementwiseProduct<T>(a: usize, wp: usize, out: usize, rows: i32, freqs: i32): void {
  const full = freqs >> 1;
  const vecB = <usize> freqs << 3;
  for (let r = 0; r < rows; r++) {
    const ar = a + <usize> r * vecB;
    const or = out + <usize> r * vecB;
    let w = wp;
    let p = 0;
    for (; p < full; p++) {
      const off = <usize> p << 4;
      const x = v128.load(ar + off);
      v128.store(or + off, cmac<T>(f32x4.splat(0), x, swapRI(x), v128.load(w), v128.load(w, 16)));
      w += 32;
    }
    if (freqs & 1) {
      const off = <usize> p << 4;
      const x = v128.load64_zero(ar + off);
      v128.store64_lane(or + off, cmac<T>(f32x4.splat(0), x, swapRI(x), v128.load(w), v128.load(w, 16)), 0);
    }
  }
}

// Two rows × four outputs of one pair. Inputs contiguous over q (16 bytes); output o+k's weights at
// w + k·so + q·sq; outputs written contiguously (16 bytes apart).
function pairTile2x4<T>(
  a0: usize,
  a1: usize,
  w: usize,
  o0: usize,
  o1: usize,
  nRed: i32,
  so: usize,
  sq: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  const so2 = so << 1;
  const so3 = so2 + so;
  for (let q = 0; q < nRed; q++) {
    const x0 = v128.load(a0);
    const x1 = v128.load(a1);
    const s0 = swapRI(x0);
    const s1 = swapRI(x1);
    let wr = v128.load(w), wi = v128.load(w, 16);
    c00 = cmac<T>(c00, x0, s0, wr, wi);
    c10 = cmac<T>(c10, x1, s1, wr, wi);
    wr = v128.load(w + so);
    wi = v128.load(w + so, 16);
    c01 = cmac<T>(c01, x0, s0, wr, wi);
    c11 = cmac<T>(c11, x1, s1, wr, wi);
    wr = v128.load(w + so2);
    wi = v128.load(w + so2, 16);
    c02 = cmac<T>(c02, x0, s0, wr, wi);
    c12 = cmac<T>(c12, x1, s1, wr, wi);
    wr = v128.load(w + so3);
    wi = v128.load(w + so3, 16);
    c03 = cmac<T>(c03, x0, s0, wr, wi);
    c13 = cmac<T>(c13, x1, s1, wr, wi);
    a0 += 16;
    a1 += 16;
    w += sq;
  }
  v128.store(o0, c00);
  v128.store(o0, c01, 16);
  v128.store(o0, c02, 32);
  v128.store(o0, c03, 48);
  v128.store(o1, c10);
  v128.store(o1, c11, 16);
  v128.store(o1, c12, 32);
  v128.store(o1, c13, 48);
}

function pairTile2x1<T>(a0: usize, a1: usize, w: usize, o0: usize, o1: usize, nRed: i32, sq: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let q = 0; q < nRed; q++) {
    const x0 = v128.load(a0);
    const x1 = v128.load(a1);
    const wr = v128.load(w), wi = v128.load(w, 16);
    c0 = cmac<T>(c0, x0, swapRI(x0), wr, wi);
    c1 = cmac<T>(c1, x1, swapRI(x1), wr, wi);
    a0 += 16;
    a1 += 16;
    w += sq;
  }
  v128.store(o0, c0);
  v128.store(o1, c1);
}

// ---------------------------------------------------------------- kernel gradient
//
// Straight on the natural layout: rows in blocks that stay in L2, and per pair a 2×4 register tile
// of (i, j) summed over the block's rows (transposing here cost more than it saved), narrower at the
// edges (odd m, n mod 4) so that no entry is computed twice; the odd last bin in 2×4 tiles too, one
// kernel column per lane. Each entry's arithmetic is the same whatever tile computes it (m < 2 or
// n < 4 aside: kgTile1x1 sums even and odd rows apart), tests/circulant_test.ts spells it out.
//
// The row blocks fix the bits: every element of gw is the sum over blocks, in block order, of the
// block's own sum (accumulated from zero over the block's rows in row order). c3aSpectralKernelGrad
// adds each block's sum into gw as it goes; c3aKernelGradBlocks stores the sums of any range of
// blocks (a thread's share) apart and c3aKernelGradSum adds them up in block order afterwards: the
// same additions, so the result does not depend on how blocks are shared among threads.

/**
 * Rows per block of the kernel-gradient product (before capping at the row count): the block's x and
 * g spectra, (m + n)·freqs·8 bytes a row, take about 256 KiB so that they stay in L2; at least 2.
 */
export function c3aKernelGradRowBlock(m: i32, n: i32, freqs: i32): i32 {
  const rowBytes = <usize> (m + n) * (<usize> freqs << 3);
  const r = <i32> (<usize> (256 << 10) / (rowBytes > 0 ? rowBytes : 1));
  return r < 2 ? 2 : r;
}

/**
 * Kernel-gradient product: gw[i][j] (+)= Σ_r xs[r][j] ∘ conj(gs[r][i]) for every bin. xs is
 * [rows][n][freqs][2], gs [rows][m][freqs][2], gw [m][n][freqs][2] (accumulated into when
 * accumulate != 0, else overwritten). `work` is unused (kept for a uniform signature).
 */
export function c3aSpectralKernelGrad(
  xs: usize,
  gs: usize,
  gw: usize,
  rows: i32,
  m: i32,
  n: i32,
  freqs: i32,
  accumulate: i32,
  _work: usize,
): void {
  const vecB = <usize> freqs << 3;
  if (!accumulate) memory.fill(gw, 0, <usize> m * <usize> n * vecB);
  if (rows <= 0) return;
  const xRowB = <usize> n * vecB;
  const gRowB = <usize> m * vecB;
  let R = c3aKernelGradRowBlock(m, n, freqs);
  if (R > rows) R = rows;
  for (let rb = 0; rb < rows; rb += R) {
    const nr = (rb + R < rows ? rb + R : rows) - rb;
    kgBlock(xs + <usize> rb * xRowB, gs + <usize> rb * gRowB, gw, nr, m, n, freqs, true);
  }
}

/**
 * Blocks k0 <= k < k1 of the kernel-gradient product, each block's sum stored apart: block k (rows
 * k·R .. min((k+1)·R, rows) − 1, R = `rowBlock`) writes Σ_r xs[r][j] ∘ conj(gs[r][i]) over its rows
 * to part + k·m·n·freqs·8 ([m][n][freqs][2]); add the parts up with c3aKernelGradSum. Threads may
 * take disjoint block ranges. With R = c3aKernelGradRowBlock capped at rows, the sum equals
 * c3aSpectralKernelGrad bit for bit.
 *
 * With `plan` = 0, `x` and `g` are the spectra xs [rows][n][freqs][2] and gs [rows][m][freqs][2].
 * Otherwise they are the signals, x [rows][n·b] and g [rows][m·b] float32 with b even (plan: the real
 * FFT plan of length b, see rfftExec; fftWork its workspace, bufElems its lane-buffer size), and
 * each block is first transformed into `spec` ((m + n)·R·freqs·8 bytes): its spectra are those of a
 * transform of all rows (even b: rows are transformed independently), and stay in cache for the
 * product.
 */
export function c3aKernelGradBlocks(
  x: usize,
  g: usize,
  part: usize,
  rows: i32,
  m: i32,
  n: i32,
  freqs: i32,
  rowBlock: i32,
  k0: i32,
  k1: i32,
  plan: usize,
  fftWork: usize,
  bufElems: i32,
  spec: usize,
): void {
  if (rows <= 0) return;
  const vecB = <usize> freqs << 3;
  const partB = <usize> m * <usize> n * vecB;
  const R = rowBlock;
  const b = plan ? <usize> load<i32>(plan) : 0;
  // bytes per row of the inputs: signals or spectra
  const xRowB = plan ? (<usize> n * b) << 2 : <usize> n * vecB;
  const gRowB = plan ? (<usize> m * b) << 2 : <usize> m * vecB;
  for (let k = k0; k < k1; k++) {
    const rb = k * R;
    const nr = (rb + R < rows ? rb + R : rows) - rb;
    let xb = x + <usize> rb * xRowB, gb = g + <usize> rb * gRowB;
    if (plan) {
      const xs = spec, gs = spec + <usize> nr * <usize> n * vecB;
      rfftExec(plan, xb, xs, nr * n, fftWork, bufElems);
      rfftExec(plan, gb, gs, nr * m, fftWork, bufElems);
      xb = xs;
      gb = gs;
    }
    kgBlock(xb, gb, part + <usize> k * partB, nr, m, n, freqs, false);
  }
}

/**
 * gw = (accumulate != 0 ? gw : 0) + part[0] + part[1] + … + part[count − 1], added in that order,
 * element by element (`elems` floats each; the parts contiguous).
 */
export function c3aKernelGradSum(part: usize, gw: usize, count: i32, elems: i32, accumulate: i32): void {
  const partB = <usize> elems << 2;
  let e = 0;
  for (; e + 4 <= elems; e += 4) {
    const off = <usize> e << 2;
    let s = accumulate ? v128.load(gw + off) : f32x4.splat(0);
    for (let k = 0; k < count; k++) s = f32x4.add(s, v128.load(part + <usize> k * partB + off));
    v128.store(gw + off, s);
  }
  for (; e < elems; e++) {
    const off = <usize> e << 2;
    let s: f32 = accumulate ? load<f32>(gw + off) : 0;
    for (let k = 0; k < count; k++) s += load<f32>(part + <usize> k * partB + off);
    store<f32>(gw + off, s);
  }
}

// One row block: out (+)= Σ over its nr rows of xs[r][j] ∘ conj(gs[r][i]), every (i, j) and bin; the
// block's sums are added to out (add) or stored there. xb, gb: the block's first spectra rows.
function kgBlock(xb: usize, gb: usize, out: usize, nr: i32, m: i32, n: i32, freqs: i32, add: bool): void {
  const vecB = <usize> freqs << 3;
  const pairs = freqs >> 1;
  const xRowB = <usize> n * vecB;
  const gRowB = <usize> m * vecB;
  for (let p = 0; p < pairs; p++) {
    const off = <usize> p << 4;
    if (m >= 2 && n >= 4) {
      // tiles of 2 × 4 (i, j), narrower at the edges (an odd last i, the last n mod 4 columns)
      for (let i = 0; i < m; i += 2) {
        for (let j = 0; j < n; j += 4) {
          kgTile(
            xb + <usize> j * vecB + off,
            gb + <usize> i * vecB + off,
            out + (<usize> i * <usize> n + <usize> j) * vecB + off,
            nr,
            xRowB,
            gRowB,
            vecB,
            <usize> n * vecB,
            i + 1 < m,
            n - j < 4 ? n - j : 4,
            add,
          );
        }
      }
    } else {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          kgTile1x1(
            xb + <usize> j * vecB + off,
            gb + <usize> i * vecB + off,
            out + (<usize> i * <usize> n + <usize> j) * vecB + off,
            nr,
            xRowB,
            gRowB,
            add,
          );
        }
      }
    }
  }
  if (freqs & 1) {
    const off = <usize> pairs << 4;
    for (let i = 0; i < m; i += 2) {
      for (let j = 0; j < n; j += 4) {
        kgTailTile(
          xb + <usize> j * vecB + off,
          gb + <usize> i * vecB + off,
          out + (<usize> i * <usize> n + <usize> j) * vecB + off,
          nr,
          xRowB,
          gRowB,
          vecB,
          <usize> n * vecB,
          i + 1 < m,
          n - j < 4 ? n - j : 4,
          add,
        );
      }
    }
  }
}

// o = o + c (add) or o = c.
function put(o: usize, c: v128, add: bool): void {
  v128.store(o, add ? f32x4.add(v128.load(o), c) : c);
}

// One (two) kernel row(s) i (and i + 1) × `cols` (1 to 4) kernel columns j.., one frequency pair,
// summed over nr rows and added to o (add) or stored there: kgTileOf with constant sizes.
function kgTile(
  x: usize,
  g: usize,
  o: usize,
  nr: i32,
  xRowB: usize,
  gRowB: usize,
  vecB: usize,
  oRowB: usize,
  two: bool,
  cols: i32,
  add: bool,
): void {
  if (two) {
    if (cols == 4) kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, true, 4, add);
    else if (cols == 3) kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, true, 3, add);
    else if (cols == 2) kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, true, 2, add);
    else kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, true, 1, add);
  } else {
    if (cols == 4) kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, false, 4, add);
    else if (cols == 3) kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, false, 3, add);
    else if (cols == 2) kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, false, 2, add);
    else kgTileOf(x, g, o, nr, xRowB, gRowB, vecB, oRowB, false, 1, add);
  }
}

// The register tile of kgTile, inlined with constant `two` and `cols` (the unused accumulators and
// loads fold away). Every entry c[a][k] += x[j + k] ∘ conj(g[i + a]) as x·gr + swap(x)·gi, row after
// row from zero, whatever the tile's size.
// @ts-ignore: decorator
@inline
function kgTileOf(
  x: usize,
  g: usize,
  o: usize,
  nr: i32,
  xRowB: usize,
  gRowB: usize,
  vecB: usize,
  oRowB: usize,
  two: bool,
  cols: i32,
  add: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  const sg = f32x4(1, -1, 1, -1);
  const v2 = vecB << 1;
  const v3 = v2 + vecB;
  for (let r = 0; r < nr; r++) {
    const g0 = v128.load(g);
    const gr0 = v128.shuffle<f32>(g0, g0, 0, 0, 2, 2);
    const gi0 = f32x4.mul(v128.shuffle<f32>(g0, g0, 1, 1, 3, 3), sg);
    let gr1 = gr0, gi1 = gi0;
    if (two) {
      const g1 = v128.load(g + vecB);
      gr1 = v128.shuffle<f32>(g1, g1, 0, 0, 2, 2);
      gi1 = f32x4.mul(v128.shuffle<f32>(g1, g1, 1, 1, 3, 3), sg);
    }
    let xv = v128.load(x);
    let xw = swapRI(xv);
    c00 = f32x4.add(c00, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
    if (two) c10 = f32x4.add(c10, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    if (cols > 1) {
      xv = v128.load(x + vecB);
      xw = swapRI(xv);
      c01 = f32x4.add(c01, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
      if (two) c11 = f32x4.add(c11, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    }
    if (cols > 2) {
      xv = v128.load(x + v2);
      xw = swapRI(xv);
      c02 = f32x4.add(c02, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
      if (two) c12 = f32x4.add(c12, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    }
    if (cols > 3) {
      xv = v128.load(x + v3);
      xw = swapRI(xv);
      c03 = f32x4.add(c03, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
      if (two) c13 = f32x4.add(c13, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    }
    x += xRowB;
    g += gRowB;
  }
  put(o, c00, add);
  if (cols > 1) put(o + vecB, c01, add);
  if (cols > 2) put(o + v2, c02, add);
  if (cols > 3) put(o + v3, c03, add);
  if (two) {
    o += oRowB;
    put(o, c10, add);
    if (cols > 1) put(o + vecB, c11, add);
    if (cols > 2) put(o + v2, c12, add);
    if (cols > 3) put(o + v3, c13, add);
  }
}

function kgTile1x1(x: usize, g: usize, o: usize, nr: i32, xRowB: usize, gRowB: usize, add: bool): void {
  const sg = f32x4(1, -1, 1, -1);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let r = 0;
  for (; r + 2 <= nr; r += 2) {
    const ga = v128.load(g);
    const xa = v128.load(x);
    c0 = f32x4.add(
      c0,
      f32x4.add(
        f32x4.mul(xa, v128.shuffle<f32>(ga, ga, 0, 0, 2, 2)),
        f32x4.mul(swapRI(xa), f32x4.mul(v128.shuffle<f32>(ga, ga, 1, 1, 3, 3), sg)),
      ),
    );
    const gb = v128.load(g + gRowB);
    const xb = v128.load(x + xRowB);
    c1 = f32x4.add(
      c1,
      f32x4.add(
        f32x4.mul(xb, v128.shuffle<f32>(gb, gb, 0, 0, 2, 2)),
        f32x4.mul(swapRI(xb), f32x4.mul(v128.shuffle<f32>(gb, gb, 1, 1, 3, 3), sg)),
      ),
    );
    x += xRowB << 1;
    g += gRowB << 1;
  }
  if (r < nr) {
    const ga = v128.load(g);
    const xa = v128.load(x);
    c0 = f32x4.add(
      c0,
      f32x4.add(
        f32x4.mul(xa, v128.shuffle<f32>(ga, ga, 0, 0, 2, 2)),
        f32x4.mul(swapRI(xa), f32x4.mul(v128.shuffle<f32>(ga, ga, 1, 1, 3, 3), sg)),
      ),
    );
  }
  put(o, f32x4.add(c0, c1), add);
}

// Odd last bin, kernel rows i (and i + 1 when `two`) × `cols` (1 to 4) kernel columns j.., one
// column per lane: with xr, xi the columns' real and imaginary parts and gr, gi row i's,
// a0 = Σ xr·gr, a1 = Σ xi·gr, a2 = Σ xi·gi, a3 = Σ xr·(−gi) over the rows, from zero;
// x·conj(g) = (a0 + a2, a1 + a3), added to o (add) or stored there. Missing rows and columns are
// computed on row i / column j and not written.
function kgTailTile(
  x: usize,
  g: usize,
  o: usize,
  nr: i32,
  xRowB: usize,
  gRowB: usize,
  vecB: usize,
  oRowB: usize,
  two: bool,
  cols: i32,
  add: bool,
): void {
  const x1 = cols > 1 ? vecB : 0, x2 = cols > 2 ? vecB << 1 : 0, x3 = cols > 3 ? vecB * 3 : 0;
  const g1 = two ? vecB : 0;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  for (let r = 0; r < nr; r++) {
    const t01 = v128.load64_lane(x + x1, v128.load64_zero(x), 1);
    const t23 = v128.load64_lane(x + x3, v128.load64_zero(x + x2), 1);
    const xr = v128.shuffle<f32>(t01, t23, 0, 2, 4, 6);
    const xi = v128.shuffle<f32>(t01, t23, 1, 3, 5, 7);
    let gv = v128.load64_zero(g);
    let gr = v128.shuffle<f32>(gv, gv, 0, 0, 0, 0), gi = v128.shuffle<f32>(gv, gv, 1, 1, 1, 1);
    a0 = f32x4.add(a0, f32x4.mul(xr, gr));
    a1 = f32x4.add(a1, f32x4.mul(xi, gr));
    a2 = f32x4.add(a2, f32x4.mul(xi, gi));
    a3 = f32x4.add(a3, f32x4.mul(xr, f32x4.neg(gi)));
    gv = v128.load64_zero(g + g1);
    gr = v128.shuffle<f32>(gv, gv, 0, 0, 0, 0);
    gi = v128.shuffle<f32>(gv, gv, 1, 1, 1, 1);
    b0 = f32x4.add(b0, f32x4.mul(xr, gr));
    b1 = f32x4.add(b1, f32x4.mul(xi, gr));
    b2 = f32x4.add(b2, f32x4.mul(xi, gi));
    b3 = f32x4.add(b3, f32x4.mul(xr, f32x4.neg(gi)));
    x += xRowB;
    g += gRowB;
  }
  putTail(o, f32x4.add(a0, a2), f32x4.add(a1, a3), vecB, cols, add);
  if (two) putTail(o + oRowB, f32x4.add(b0, b2), f32x4.add(b1, b3), vecB, cols, add);
}

// Writes (re[k], im[k]) at o + k·vecB for k < cols (added to what is there when add).
function putTail(o: usize, re: v128, im: v128, vecB: usize, cols: i32, add: bool): void {
  // offsets of columns 1..3, or of column 0 for missing ones (read, never written)
  const o1 = cols > 1 ? vecB : 0, o2 = cols > 2 ? vecB << 1 : 0, o3 = cols > 3 ? vecB * 3 : 0;
  let lo = v128.shuffle<f32>(re, im, 0, 4, 1, 5);
  let hi = v128.shuffle<f32>(re, im, 2, 6, 3, 7);
  if (add) {
    lo = f32x4.add(lo, v128.load64_lane(o + o1, v128.load64_zero(o), 1));
    hi = f32x4.add(hi, v128.load64_lane(o + o3, v128.load64_zero(o + o2), 1));
  }
  v128.store64_lane(o, lo, 0);
  if (cols > 1) v128.store64_lane(o + o1, lo, 1);
  if (cols > 2) v128.store64_lane(o + o2, hi, 0);
  if (cols > 3) v128.store64_lane(o + o3, hi, 1);
}
