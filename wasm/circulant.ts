// Frequency-domain block products of C3A (spec/c3a.md §1.3, §1.4).
//
// A C3A layer with kernel w [m, n, b] maps the n input chunks x_j (length b) of every row to m output
// chunks y_i. In the rfft domain (F = floor(b/2) + 1 bins, interleaved complex) this is, per
// frequency f, a small complex GEMM:
//   forward      Y[r][i] = Σ_j X[r][j] ∘ conj(W[i][j])      (circular cross-correlation)
//   input grad   GX[r][j] = Σ_i G[r][i] ∘ W[i][j]           (true gradient, g·A)
//   kernel grad  GW[i][j] = Σ_r X[r][j] ∘ conj(G[r][i])
// Spectra are stored as the batched rfft produces them: vector after vector, F complex numbers each
// (byte stride F·8), e.g. X is [rows][n][F][2]. One v128 holds two neighbouring frequencies ("a pair").
//
// The kernel spectrum is first packed (c3aPackKernel) frequency-pair-major so that the slice one
// frequency pair needs (m·n·32 bytes) is contiguous and stays in L1 while a block of rows streams past:
//   full pairs p < F>>1:  ((p·m + i)·n + j)·32 bytes: [wr0, wr0, wr1, wr1] [wi0, −wi0, wi1, −wi1]
//   odd last bin (F odd): tailBase + (i·n + j)·16:  [wr, wr, wi, −wi]
// With xs = [xi0, xr0, xi1, xr1] (lanes swapped): x·conj(w) = x·wrDup + xs·wiSigned and
// g·w = g·wrDup − gs·wiSigned, so forward and input grad share the packed layout.
//
// Kernels never allocate; all pointers are byte offsets into linear memory, sizes are element counts.

/** Bytes c3aPackKernel writes for an [m, n] grid of spectra with `freqs` bins each. */
export function c3aPackedKernelBytes(m: i32, n: i32, freqs: i32): usize {
  return <usize> m * <usize> n * ((<usize> (freqs >> 1) << 5) + (<usize> (freqs & 1) << 4));
}

/**
 * Packs kernel spectra `spec` ([m][n][freqs][2], as rfft writes them) into the layout described at
 * the top of this file, at `packed` (c3aPackedKernelBytes bytes).
 */
export function c3aPackKernel(spec: usize, packed: usize, m: i32, n: i32, freqs: i32): void {
  const pairs = freqs >> 1;
  const vecBytes = <usize> freqs << 3;
  const mn = <usize> m * <usize> n;
  const tailBase = packed + ((mn * <usize> pairs) << 5);
  const sg = f32x4(1, -1, 1, -1);
  const st = f32x4(1, 1, 1, -1);
  for (let ij: usize = 0; ij < mn; ij++) {
    const src = spec + ij * vecBytes;
    let dst = packed + (ij << 5);
    for (let p = 0; p < pairs; p++) {
      const v = v128.load(src + (<usize> p << 4));
      v128.store(dst, v128.shuffle<f32>(v, v, 0, 0, 2, 2));
      v128.store(dst, f32x4.mul(v128.shuffle<f32>(v, v, 1, 1, 3, 3), sg), 16);
      dst += mn << 5;
    }
    if (freqs & 1) {
      const v = v128.load64_zero(src + (<usize> pairs << 4));
      v128.store(tailBase + (ij << 4), f32x4.mul(v128.shuffle<f32>(v, v, 0, 0, 1, 1), st));
    }
  }
}

/** Rows per block so that the spectra of one block (input + output rows) stay in L2. */
function rowBlock(rowBytes: usize, rows: i32): i32 {
  let r = <i32> (<usize> (256 << 10) / (rowBytes > 0 ? rowBytes : 1));
  if (r < 2) r = 2;
  if (r > rows) r = rows;
  return r;
}

/**
 * Forward product: ys[r][i] = Σ_j xs[r][j] ∘ conj(W[i][j]) for every bin. xs is [rows][n][freqs][2],
 * ys [rows][m][freqs][2] (overwritten), wp the packed kernel spectrum.
 */
export function c3aSpectralForward(
  xs: usize,
  wp: usize,
  ys: usize,
  rows: i32,
  m: i32,
  n: i32,
  freqs: i32,
): void {
  spectralProduct(xs, wp, ys, rows, m, n, m, n, freqs, <usize> n << 5, 32, <usize> n << 4, 16, 1.0);
}

/**
 * Input-gradient product: gxs[r][j] = Σ_i gs[r][i] ∘ W[i][j] for every bin. gs is [rows][m][freqs][2],
 * gxs [rows][n][freqs][2] (overwritten), wp the packed kernel spectrum.
 */
export function c3aSpectralInputGrad(
  gs: usize,
  wp: usize,
  gxs: usize,
  rows: i32,
  m: i32,
  n: i32,
  freqs: i32,
): void {
  spectralProduct(gs, wp, gxs, rows, n, m, m, n, freqs, 32, <usize> n << 5, 16, <usize> n << 4, -1.0);
}

// out[r][o] = Σ_q a[r][q] ∘ W(o, q), W(o, q) at wp + p·m·n·32 + o·so + q·sq (tail: o·sot + q·sqt).
// sign = +1: a·conj(w); sign = −1: a·w.
function spectralProduct(
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
  sot: usize,
  sqt: usize,
  sign: f32,
): void {
  if (rows <= 0 || nOut <= 0) return;
  const pairs = freqs >> 1;
  const vecB = <usize> freqs << 3;
  const mn = <usize> m * <usize> n;
  const aRowB = <usize> nRed * vecB;
  const oRowB = <usize> nOut * vecB;
  const R = rowBlock(aRowB + oRowB, rows);
  const sv = f32x4.splat(sign);
  const tailW = wp + ((mn * <usize> pairs) << 5);
  const tsv = f32x4(1, 1, sign, sign);
  for (let rb = 0; rb < rows; rb += R) {
    const rEnd = rb + R < rows ? rb + R : rows;
    for (let p = 0; p < pairs; p++) {
      const wpP = wp + ((<usize> p * mn) << 5);
      const off = <usize> p << 4;
      for (let r = rb; r < rEnd; r += 2) {
        // an odd last row is paired with its predecessor (recomputed, same values stored)
        let r0 = r;
        if (r0 + 1 >= rEnd && r0 > rb) r0 = rEnd - 2;
        const r1 = r0 + 1 < rEnd ? r0 + 1 : r0;
        const a0 = a + <usize> r0 * aRowB + off;
        const a1 = a + <usize> r1 * aRowB + off;
        const o0 = out + <usize> r0 * oRowB + off;
        const o1 = out + <usize> r1 * oRowB + off;
        if (nOut >= 4) {
          for (let o = 0; o < nOut; o += 4) {
            const oo = o + 4 <= nOut ? o : nOut - 4; // last tile overlaps instead of running past
            pairTile2x4(
              a0,
              a1,
              wpP + <usize> oo * so,
              o0 + <usize> oo * vecB,
              o1 + <usize> oo * vecB,
              nRed,
              vecB,
              so,
              sq,
              sv,
            );
          }
        } else {
          for (let o = 0; o < nOut; o++) {
            pairTile2x1(
              a0,
              a1,
              wpP + <usize> o * so,
              o0 + <usize> o * vecB,
              o1 + <usize> o * vecB,
              nRed,
              vecB,
              sq,
              sv,
            );
          }
        }
      }
    }
    if (freqs & 1) {
      const off = <usize> pairs << 4;
      for (let r = rb; r < rEnd; r += 2) {
        let r0 = r;
        if (r0 + 1 >= rEnd && r0 > rb) r0 = rEnd - 2;
        const r1 = r0 + 1 < rEnd ? r0 + 1 : r0;
        const a0 = a + <usize> r0 * aRowB + off;
        const a1 = a + <usize> r1 * aRowB + off;
        const o0 = out + <usize> r0 * oRowB + off;
        const o1 = out + <usize> r1 * oRowB + off;
        if (nOut >= 4) {
          for (let o = 0; o < nOut; o += 4) {
            const oo = o + 4 <= nOut ? o : nOut - 4;
            tailTile2x4(
              a0,
              a1,
              tailW + <usize> oo * sot,
              o0 + <usize> oo * vecB,
              o1 + <usize> oo * vecB,
              nRed,
              vecB,
              sot,
              sqt,
              tsv,
            );
          }
        } else {
          for (let o = 0; o < nOut; o++) {
            tailTile2x1(
              a0,
              a1,
              tailW + <usize> o * sot,
              o0 + <usize> o * vecB,
              o1 + <usize> o * vecB,
              nRed,
              vecB,
              sqt,
              tsv,
            );
          }
        }
      }
    }
  }
}

// @ts-ignore: decorator

function swapRI(x: v128): v128 {
  return v128.shuffle<f32>(x, x, 1, 0, 3, 2);
}

// @ts-ignore: decorator

function cmac(acc: v128, x: v128, xs: v128, w: usize): v128 {
  return f32x4.add(acc, f32x4.add(f32x4.mul(x, v128.load(w)), f32x4.mul(xs, v128.load(w, 16))));
}

// Two rows × four outputs, one frequency pair. Output o+k's weights at w + k·so + q·sq.
function pairTile2x4(
  a0: usize,
  a1: usize,
  w: usize,
  o0: usize,
  o1: usize,
  nRed: i32,
  vecB: usize,
  so: usize,
  sq: usize,
  sv: v128,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  const so2 = so << 1;
  const so3 = so2 + so;
  for (let q = 0; q < nRed; q++) {
    const x0 = v128.load(a0);
    const x1 = v128.load(a1);
    const s0 = f32x4.mul(swapRI(x0), sv);
    const s1 = f32x4.mul(swapRI(x1), sv);
    let wr = v128.load(w), wi = v128.load(w, 16);
    c00 = f32x4.add(c00, f32x4.add(f32x4.mul(x0, wr), f32x4.mul(s0, wi)));
    c10 = f32x4.add(c10, f32x4.add(f32x4.mul(x1, wr), f32x4.mul(s1, wi)));
    wr = v128.load(w + so);
    wi = v128.load(w + so, 16);
    c01 = f32x4.add(c01, f32x4.add(f32x4.mul(x0, wr), f32x4.mul(s0, wi)));
    c11 = f32x4.add(c11, f32x4.add(f32x4.mul(x1, wr), f32x4.mul(s1, wi)));
    wr = v128.load(w + so2);
    wi = v128.load(w + so2, 16);
    c02 = f32x4.add(c02, f32x4.add(f32x4.mul(x0, wr), f32x4.mul(s0, wi)));
    c12 = f32x4.add(c12, f32x4.add(f32x4.mul(x1, wr), f32x4.mul(s1, wi)));
    wr = v128.load(w + so3);
    wi = v128.load(w + so3, 16);
    c03 = f32x4.add(c03, f32x4.add(f32x4.mul(x0, wr), f32x4.mul(s0, wi)));
    c13 = f32x4.add(c13, f32x4.add(f32x4.mul(x1, wr), f32x4.mul(s1, wi)));
    a0 += vecB;
    a1 += vecB;
    w += sq;
  }
  v128.store(o0, c00);
  v128.store(o0 + vecB, c01);
  v128.store(o0 + (vecB << 1), c02);
  v128.store(o0 + (vecB << 1) + vecB, c03);
  v128.store(o1, c10);
  v128.store(o1 + vecB, c11);
  v128.store(o1 + (vecB << 1), c12);
  v128.store(o1 + (vecB << 1) + vecB, c13);
}

function pairTile2x1(
  a0: usize,
  a1: usize,
  w: usize,
  o0: usize,
  o1: usize,
  nRed: i32,
  vecB: usize,
  sq: usize,
  sv: v128,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let q = 0; q < nRed; q++) {
    const x0 = v128.load(a0);
    const x1 = v128.load(a1);
    c0 = cmac(c0, x0, f32x4.mul(swapRI(x0), sv), w);
    c1 = cmac(c1, x1, f32x4.mul(swapRI(x1), sv), w);
    a0 += vecB;
    a1 += vecB;
    w += sq;
  }
  v128.store(o0, c0);
  v128.store(o1, c1);
}

// Odd last bin: x = [xr, xi, 0, 0] → xd = [xr, xi, s·xi, s·xr]; xd·[wr, wr, wi, −wi] summed over its
// halves gives x·conj(w) (s = +1) or x·w (s = −1).
// @ts-ignore: decorator

function tailX(a: usize, tsv: v128): v128 {
  const x = v128.load64_zero(a);
  return f32x4.mul(v128.shuffle<f32>(x, x, 0, 1, 1, 0), tsv);
}

// @ts-ignore: decorator

function foldStore(o: usize, c: v128): void {
  v128.store64_lane(o, f32x4.add(c, v128.shuffle<f32>(c, c, 2, 3, 0, 1)), 0);
}

function tailTile2x4(
  a0: usize,
  a1: usize,
  w: usize,
  o0: usize,
  o1: usize,
  nRed: i32,
  vecB: usize,
  so: usize,
  sq: usize,
  tsv: v128,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  const so2 = so << 1;
  const so3 = so2 + so;
  for (let q = 0; q < nRed; q++) {
    const x0 = tailX(a0, tsv);
    const x1 = tailX(a1, tsv);
    let wv = v128.load(w);
    c00 = f32x4.add(c00, f32x4.mul(x0, wv));
    c10 = f32x4.add(c10, f32x4.mul(x1, wv));
    wv = v128.load(w + so);
    c01 = f32x4.add(c01, f32x4.mul(x0, wv));
    c11 = f32x4.add(c11, f32x4.mul(x1, wv));
    wv = v128.load(w + so2);
    c02 = f32x4.add(c02, f32x4.mul(x0, wv));
    c12 = f32x4.add(c12, f32x4.mul(x1, wv));
    wv = v128.load(w + so3);
    c03 = f32x4.add(c03, f32x4.mul(x0, wv));
    c13 = f32x4.add(c13, f32x4.mul(x1, wv));
    a0 += vecB;
    a1 += vecB;
    w += sq;
  }
  foldStore(o0, c00);
  foldStore(o0 + vecB, c01);
  foldStore(o0 + (vecB << 1), c02);
  foldStore(o0 + (vecB << 1) + vecB, c03);
  foldStore(o1, c10);
  foldStore(o1 + vecB, c11);
  foldStore(o1 + (vecB << 1), c12);
  foldStore(o1 + (vecB << 1) + vecB, c13);
}

function tailTile2x1(
  a0: usize,
  a1: usize,
  w: usize,
  o0: usize,
  o1: usize,
  nRed: i32,
  vecB: usize,
  sq: usize,
  tsv: v128,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let q = 0; q < nRed; q++) {
    const wv = v128.load(w);
    c0 = f32x4.add(c0, f32x4.mul(tailX(a0, tsv), wv));
    c1 = f32x4.add(c1, f32x4.mul(tailX(a1, tsv), wv));
    a0 += vecB;
    a1 += vecB;
    w += sq;
  }
  foldStore(o0, c0);
  foldStore(o1, c1);
}

/**
 * Kernel-gradient product: gw[i][j] (+)= Σ_r xs[r][j] ∘ conj(gs[r][i]) for every bin. xs is
 * [rows][n][freqs][2], gs [rows][m][freqs][2], gw [m][n][freqs][2] (accumulated into when
 * accumulate != 0, else overwritten).
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
): void {
  const vecB = <usize> freqs << 3;
  if (!accumulate) memory.fill(gw, 0, <usize> m * <usize> n * vecB);
  if (rows <= 0) return;
  const pairs = freqs >> 1;
  const xRowB = <usize> n * vecB;
  const gRowB = <usize> m * vecB;
  const R = rowBlock(xRowB + gRowB, rows);
  for (let rb = 0; rb < rows; rb += R) {
    const nr = (rb + R < rows ? rb + R : rows) - rb;
    const xb = xs + <usize> rb * xRowB;
    const gb = gs + <usize> rb * gRowB;
    for (let p = 0; p < pairs; p++) {
      const off = <usize> p << 4;
      if (m >= 2 && n >= 4) {
        for (let i = 0; i < m; i += 2) {
          const ii = i + 2 <= m ? i : m - 2;
          for (let j = 0; j < n; j += 4) {
            const jj = j + 4 <= n ? j : n - 4;
            // (ii + a, jj + k) with ii + a < i or jj + k < j were added by an earlier tile: skip them
            kgTile2x4(
              xb + <usize> jj * vecB + off,
              gb + <usize> ii * vecB + off,
              gw + (<usize> ii * <usize> n + <usize> jj) * vecB + off,
              nr,
              xRowB,
              gRowB,
              vecB,
              <usize> n * vecB,
              i - ii,
              j - jj,
            );
          }
        }
      } else {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            kgTile1x1(
              xb + <usize> j * vecB + off,
              gb + <usize> i * vecB + off,
              gw + (<usize> i * <usize> n + <usize> j) * vecB + off,
              nr,
              xRowB,
              gRowB,
            );
          }
        }
      }
    }
    if (freqs & 1) {
      const off = <usize> pairs << 4;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          kgTail1x1(
            xb + <usize> j * vecB + off,
            gb + <usize> i * vecB + off,
            gw + (<usize> i * <usize> n + <usize> j) * vecB + off,
            nr,
            xRowB,
            gRowB,
          );
        }
      }
    }
  }
}

// @ts-ignore: decorator

function addStore(o: usize, c: v128): void {
  v128.store(o, f32x4.add(v128.load(o), c));
}

// Two kernel rows (i, i+1) × four kernel columns (j..j+3), one frequency pair, summed over nr rows.
// Entries with a < skipI or k < skipJ are computed but not stored (overlapping edge tiles).
function kgTile2x4(
  x: usize,
  g: usize,
  o: usize,
  nr: i32,
  xRowB: usize,
  gRowB: usize,
  vecB: usize,
  oRowB: usize,
  skipI: i32,
  skipJ: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  const sg = f32x4(1, -1, 1, -1);
  const v2 = vecB << 1;
  const v3 = v2 + vecB;
  for (let r = 0; r < nr; r++) {
    const g0 = v128.load(g);
    const g1 = v128.load(g + vecB);
    const gr0 = v128.shuffle<f32>(g0, g0, 0, 0, 2, 2);
    const gi0 = f32x4.mul(v128.shuffle<f32>(g0, g0, 1, 1, 3, 3), sg);
    const gr1 = v128.shuffle<f32>(g1, g1, 0, 0, 2, 2);
    const gi1 = f32x4.mul(v128.shuffle<f32>(g1, g1, 1, 1, 3, 3), sg);
    let xv = v128.load(x);
    let xw = swapRI(xv);
    c00 = f32x4.add(c00, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
    c10 = f32x4.add(c10, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    xv = v128.load(x + vecB);
    xw = swapRI(xv);
    c01 = f32x4.add(c01, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
    c11 = f32x4.add(c11, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    xv = v128.load(x + v2);
    xw = swapRI(xv);
    c02 = f32x4.add(c02, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
    c12 = f32x4.add(c12, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    xv = v128.load(x + v3);
    xw = swapRI(xv);
    c03 = f32x4.add(c03, f32x4.add(f32x4.mul(xv, gr0), f32x4.mul(xw, gi0)));
    c13 = f32x4.add(c13, f32x4.add(f32x4.mul(xv, gr1), f32x4.mul(xw, gi1)));
    x += xRowB;
    g += gRowB;
  }
  if (skipI == 0) {
    if (skipJ <= 0) addStore(o, c00);
    if (skipJ <= 1) addStore(o + vecB, c01);
    if (skipJ <= 2) addStore(o + v2, c02);
    addStore(o + v3, c03);
  }
  o += oRowB;
  if (skipJ <= 0) addStore(o, c10);
  if (skipJ <= 1) addStore(o + vecB, c11);
  if (skipJ <= 2) addStore(o + v2, c12);
  addStore(o + v3, c13);
}

function kgTile1x1(x: usize, g: usize, o: usize, nr: i32, xRowB: usize, gRowB: usize): void {
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
  addStore(o, f32x4.add(c0, c1));
}

// Odd last bin: xd = [xr, xi, xi, xr], gt = [gr, gr, gi, −gi]; halves of xd·gt sum to x·conj(g).
function kgTail1x1(x: usize, g: usize, o: usize, nr: i32, xRowB: usize, gRowB: usize): void {
  const st = f32x4(1, 1, 1, -1);
  let c = f32x4.splat(0);
  for (let r = 0; r < nr; r++) {
    const xv = v128.load64_zero(x);
    const gv = v128.load64_zero(g);
    c = f32x4.add(
      c,
      f32x4.mul(
        v128.shuffle<f32>(xv, xv, 0, 1, 1, 0),
        f32x4.mul(v128.shuffle<f32>(gv, gv, 0, 0, 1, 1), st),
      ),
    );
    x += xRowB;
    g += gRowB;
  }
  const s = f32x4.add(c, v128.shuffle<f32>(c, c, 2, 3, 0, 1));
  const cur = v128.load64_zero(o);
  v128.store64_lane(o, f32x4.add(cur, s), 0);
}
