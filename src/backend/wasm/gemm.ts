/**
 * Single-precision matrix multiply (sgemm) on the wasm kernel module.
 *
 * `C[m, n] = op(A) · op(B)` (+ C when accumulating), row-major, optionally batched with element strides
 * (stride 0 broadcasts one matrix over the batch). This is the dense path behind `matmul` and `linear`
 * (DESIGN.md, "gemm.ts: SIMD sgemm for Linear layers and attention"); semantics follow BLAS `sgemm`
 * with alpha = 1 and beta = 0 (or 1 when accumulating), in row-major storage.
 *
 * Two levels, following the ownership rule of `memory.ts`:
 * - {@link sgemm} takes and returns JS `Float32Array`s (operands copied into wasm memory once, the
 *   result copied out; operands larger than `residentCap()` of memory.ts stream through in tiles);
 * - {@link sgemmPtr} works on byte offsets into wasm memory for hot paths that chain kernels.
 *
 * @module
 */

import { f32view, memory, residentCap, Scratch, wasm } from "./memory.ts";
import { getNumThreads, parallelCall, splitThreshold } from "../threads/pool.ts";
import { MAX_SLICES } from "../threads/control.ts";
import type { MatmulCausal } from "../kernels.ts";

/** Options shared by {@link sgemm} and {@link sgemmPtr}. */
export interface SgemmOptions {
  /** Use Aᵀ: A is stored `[k, m]` instead of `[m, k]`. Default false. */
  transA?: boolean;
  /** Use Bᵀ: B is stored `[n, k]` instead of `[k, n]` (a `Linear` weight `[out, in]`). Default false. */
  transB?: boolean;
  /** Number of matrix products, integer >= 0. Default 1. */
  batch?: number;
  /** Elements between consecutive A matrices of the batch; 0 broadcasts one A. Default `m * k`. */
  strideA?: number;
  /** Elements between consecutive B matrices of the batch; 0 broadcasts one B. Default `k * n`. */
  strideB?: number;
  /**
   * Elements between consecutive C matrices of the batch. Default `m * n`. 0 makes every batch item
   * add into the same C, so C = Σ_t op(A_t)·op(B_t) (e.g. a weight gradient summed over a batch).
   */
  strideC?: number;
  /** Add the product to the existing C (BLAS beta = 1) instead of overwriting it. Default false. */
  accumulate?: boolean;
  /**
   * Causal structure of an attention product ({@link MatmulCausal}): a hint. Resident products on the
   * blocked path leave out the micro-tiles and depth ranges it makes unnecessary ("scores" tiles wholly
   * past the limit are written as 0, or left as they are with `accumulate`); the tiled path of products
   * past the resident cap ignores it.
   */
  causal?: MatmulCausal | null;
}

/** Options of {@link sgemm}. */
export interface SgemmArrayOptions extends SgemmOptions {
  /**
   * Destination `[batch, m, n]` (with `strideC`); written in place and returned. Required when
   * `accumulate` is true (it holds the C that is added to).
   */
  out?: Float32Array;
  /**
   * Adds the block-circulant matrix `getCirculant(kernel)` of a C3A kernel `[rows/b, cols/b, b]` to B
   * as stored (`[n, k]` with transB, else `[k, n]`; rows and cols divisible by `blockSize`), inside the
   * kernel while B is packed: `C = op(A)·op(B + W)` without `B + W` (or W) ever formed in memory
   * (wasm/gemm.ts `sgemmCirculant`). The result equals sgemm on a stored `B + W` rounded to float32.
   * Only for one product (batch 1). C3A's merged-weight training path (src/ops/circulant.ts
   * `circulantLinear`).
   */
  addCirculant?: { kernel: Float32Array; blockSize: number };
}

/** {@link SgemmArrayOptions.addCirculant} with its kernel in wasm memory, for one call of the kernel. */
export interface CirculantPtr {
  /** Byte offset of the kernel `[rows/bs, blocks, bs]`. */
  ptr: number;
  /** Byte offset of its rows doubled in the orientation of op(B) (wasm/gemm.ts addCirculant). */
  tab: number;
  /** Blocks along the stored B's columns. */
  blocks: number;
  /** Block size. */
  bs: number;
  /** Column of the whole op(B) where this call's op(B) starts. */
  colOff: number;
  /** Row of the whole op(B) where this call's op(B) starts (a k-range of a larger product). */
  rowOff: number;
}

/** `c` for a column slice of op(B) starting `j0` columns further. */
function shifted(c: CirculantPtr | undefined, j0: number): CirculantPtr | undefined {
  return c === undefined ? undefined : { ...c, colOff: c.colOff + j0 };
}

/** The causal hint of the part of C from row i0 and column j0 (a "scores" limit moves with the columns). */
function causalAt(c: Resolved["causal"], i0: number, j0: number): Resolved["causal"] {
  return c === undefined
    ? undefined
    : { ...c, row0: c.row0 + i0, offset: c.form === 1 ? c.offset - j0 : c.offset };
}

const CAUSAL_FORMS = { scores: 1, weights: 2, weightsT: 3 } as const;

function resolveCausal(fn: string, c: MatmulCausal, m: number, n: number, k: number): Resolved["causal"] {
  const form = Object.hasOwn(CAUSAL_FORMS, c.form) ? CAUSAL_FORMS[c.form] : undefined;
  if (form === undefined) {
    throw new RangeError(
      `${fn}: causal.form must be "scores", "weights" or "weightsT", got ${String(c.form)}`,
    );
  }
  const period = checkCount(fn, "causal.period", c.period, 1);
  const offset = checkCount(fn, "causal.offset", c.offset);
  const along = form === 3 ? k : m;
  if (along % period !== 0) {
    throw new RangeError(
      `${fn}: causal.period ${period} must divide ${form === 3 ? "k" : "m"} = ${along} for form "${c.form}"`,
    );
  }
  // past the last column (scores) or depth (weights), or the last row (weightsT), every entry is visible:
  // clamped there, the kernel's limits stay far from i32 overflow
  return { form, period, row0: 0, offset: Math.min(offset, form === 1 ? n : form === 2 ? k : m) };
}

/** Options of {@link sgemmPtr}: row strides (leading dimensions) in elements, for sub-matrices. */
export interface SgemmPtrOptions extends SgemmOptions {
  /**
   * Block-circulant addend of B already in wasm memory ({@link circulantPtr}), with the offsets of this
   * call's op(B) in the whole one (the frozen 16-bit weight's tiles of src/backend/wasm/half_gemm.ts).
   * Batch 1 only.
   */
  addCirculant?: CirculantPtr;
  /** Row stride of the stored A: >= k (or >= m with transA). Default the stored row length. */
  lda?: number;
  /** Row stride of the stored B: >= n (or >= k with transB). Default the stored row length. */
  ldb?: number;
  /** Row stride of C: >= n. Default n. */
  ldc?: number;
}

interface Resolved {
  transA: boolean;
  transB: boolean;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
  accumulate: boolean;
  lda: number;
  ldb: number;
  ldc: number;
  /** The block-circulant addend of B (sgemm's `addCirculant`), when given. */
  circ?: CirculantPtr;
  /** The causal hint as the kernel's form (1 scores, 2 weights, 3 weightsT), period, first row, offset. */
  causal?: { form: number; period: number; row0: number; offset: number };
  /** Elements spanned by the whole batch of A, B, C (0 when empty). */
  extentA: number;
  extentB: number;
  extentC: number;
}

function checkCount(fn: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > 0x7fffffff) {
    const got = typeof v === "string" ? JSON.stringify(v) : String(v);
    throw new RangeError(`${fn}: ${name} must be an integer in [${min}, 2^31), got ${got}`);
  }
  return v;
}

/** Elements from the first to the last element of `batch` matrices of `rows` x `cols` (row stride ld). */
function extent(batch: number, stride: number, rows: number, cols: number, ld: number): number {
  if (batch === 0 || rows === 0 || cols === 0) return 0;
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}

function resolve(
  fn: string,
  m: number,
  n: number,
  k: number,
  o: Omit<SgemmPtrOptions, "addCirculant">,
): Resolved {
  checkCount(fn, "m", m);
  checkCount(fn, "n", n);
  checkCount(fn, "k", k);
  const transA = !!o.transA, transB = !!o.transB;
  const batch = checkCount(fn, "batch", o.batch ?? 1);
  const aRows = transA ? k : m, aCols = transA ? m : k;
  const bRows = transB ? n : k, bCols = transB ? k : n;
  const lda = checkCount(fn, "lda", o.lda ?? aCols, aCols);
  const ldb = checkCount(fn, "ldb", o.ldb ?? bCols, bCols);
  const ldc = checkCount(fn, "ldc", o.ldc ?? n, n);
  const strideA = checkCount(fn, "strideA", o.strideA ?? aRows * lda);
  const strideB = checkCount(fn, "strideB", o.strideB ?? bRows * ldb);
  const strideC = checkCount(fn, "strideC", o.strideC ?? m * ldc);
  const spanC = m === 0 || n === 0 ? 0 : (m - 1) * ldc + n;
  if (batch > 1 && strideC !== 0 && strideC < spanC) {
    throw new RangeError(
      `${fn}: strideC ${strideC} makes the C matrices of the batch overlap (each spans ${spanC} elements); ` +
        `use strideC = 0 to sum into one C or >= ${spanC}`,
    );
  }
  return {
    transA,
    transB,
    batch,
    strideA,
    strideB,
    strideC,
    accumulate: !!o.accumulate,
    lda,
    ldb,
    ldc,
    extentA: extent(batch, strideA, aRows, aCols, lda),
    extentB: extent(batch, strideB, bRows, bCols, ldb),
    extentC: extent(batch, strideC, m, n, ldc),
    causal: o.causal ? resolveCausal(fn, o.causal, m, n, k) : undefined,
  };
}

/** Products below this many multiply-adds run on the calling thread only. */
const PARALLEL_MIN_MACS = 1 << 21;
/** Columns of C per slice are a multiple of this (the micro-kernel's tile width). */
const SLICE_COLS = 8;
/** Rows of the micro-kernel's tile (wasm/gemm.ts MR): row ranges of a split start at multiples of it. */
const MR = 6;
/** Fewest columns per slice when a product has more slices than threads (packing A costs ~5 % there). */
const MIN_SLICE_COLS = 96;

/**
 * Runs the product on operands in wasm memory, split over threads when large enough. `beside` runs on
 * the calling thread while the workers start on the slices (parallelCall), or first when the product
 * runs on this thread alone.
 */
function run(
  r: Resolved,
  m: number,
  n: number,
  k: number,
  pa: number,
  pb: number,
  pc: number,
  beside?: () => void,
): void {
  using s = new Scratch();
  // Fold batches into one product as the kernel would (wasm/gemm.ts), before sizing workspaces (they
  // depend on the folded m and k) and before slicing (so a slice never changes an item's path).
  let batch = r.batch;
  if (
    batch > 1 && r.strideB === 0 && !r.transA && r.strideA === m * r.lda && r.strideC === m * r.ldc &&
    r.causal?.form !== 3
  ) {
    // shared B, A and C stacked: [batch·m, k] · B
    m *= batch;
    batch = 1;
  } else if (
    batch > 1 && r.strideC === 0 && r.transA && !r.transB && r.strideA === k * r.lda &&
    r.strideB === k * r.ldb && r.causal === undefined
  ) {
    // one C summed over the batch, A and B stacked along k: [batch·k, m]ᵀ · [batch·k, n]
    k *= batch;
    batch = 1;
  }
  const rr = { ...r, batch };
  const threads = getNumThreads();
  if (threads === 1 || batch * m * n * k < splitThreshold(PARALLEL_MIN_MACS)) {
    const ws = Number(wasm.sgemmWorkspaceBytes(m, n, k));
    beside?.();
    callSgemm(sgemmArgs(rr, m, n, k, pa, pb, pc, ws > 0 ? s.alloc(ws) : 0));
    return;
  }
  // Slices are disjoint parts of C, each computed exactly as the whole call computes it, so the result
  // does not depend on the thread count.
  const parts: number[][] = [];
  const want = Math.min(4 * threads, MAX_SLICES);
  // Items per thread uneven and few (3 KV heads of attention on 2 threads): each item in `pieces` row
  // ranges (when op(B) is the smaller operand to re-pack, and every range keeps the blocked path's more
  // than SMALL_M_ROWS rows) or column ranges, so that every thread gets the same work.
  let pieces = 1;
  if (batch > 1 && r.strideC !== 0 && batch >= threads && batch < want && batch % threads !== 0) {
    pieces = 2;
    while ((batch * pieces) % threads !== 0 || batch * pieces < 2 * threads) pieces++;
    if (batch * pieces > MAX_SLICES) pieces = 1;
  }
  const byRows = pieces > 1 && n < m && Math.floor(m / pieces) > SMALL_M_ROWS + MR;
  if (pieces > 1 && (byRows || pieces <= Math.ceil(n / SLICE_COLS))) {
    const tiles = Math.ceil(n / SLICE_COLS), bCol = r.transB ? r.ldb : 1;
    const aRow = r.transA ? 1 : r.lda, panels = Math.ceil(m / MR);
    for (let t = 0; t < batch; t++) {
      for (let q = 0; q < pieces; q++) {
        let i0 = 0, i1 = m, j0 = 0, j1 = n;
        if (byRows) {
          i0 = Math.floor((q * panels) / pieces) * MR;
          i1 = Math.min(m, Math.floor(((q + 1) * panels) / pieces) * MR);
        } else {
          j0 = Math.floor((q * tiles) / pieces) * SLICE_COLS;
          j1 = Math.min(n, Math.floor(((q + 1) * tiles) / pieces) * SLICE_COLS);
        }
        const ws = Number(wasm.sgemmWorkspaceBytes(i1 - i0, j1 - j0, k));
        parts.push(
          sgemmArgs(
            { ...r, batch: 1, causal: causalAt(r.causal, i0, j0) },
            i1 - i0,
            j1 - j0,
            k,
            pa + 4 * (t * r.strideA + i0 * aRow),
            pb + 4 * (t * r.strideB + j0 * bCol),
            pc + 4 * (t * r.strideC + i0 * r.ldc + j0),
            ws > 0 ? s.alloc(ws) : 0,
          ),
        );
      }
    }
  } else if (batch > 1 && r.strideC !== 0 && batch >= threads) {
    // independent batch items: contiguous ranges of items
    const count = Math.min(batch, want);
    const ws = Number(wasm.sgemmWorkspaceBytes(m, n, k));
    for (let q = 0; q < count; q++) {
      const t0 = Math.floor((q * batch) / count), t1 = Math.floor(((q + 1) * batch) / count);
      const at = (stride: number) => 4 * t0 * stride;
      parts.push(
        sgemmArgs(
          { ...r, batch: t1 - t0 },
          m,
          n,
          k,
          pa + at(r.strideA),
          pb + at(r.strideB),
          pc + at(r.strideC),
          ws > 0 ? s.alloc(ws) : 0,
        ),
      );
    }
  } else {
    // column ranges of C (and of op(B)), multiples of the tile width
    const tiles = Math.ceil(n / SLICE_COLS);
    // each slice re-packs all of op(A): at least MIN_SLICE_COLS columns per slice beyond one per thread
    let count = Math.min(tiles, want, Math.max(threads, Math.floor(n / MIN_SLICE_COLS)));
    // whole rounds: 5 equal slices on 2 threads leave one thread a third slice while the other idles
    if (count > threads) count -= count % threads;
    const bCol = r.transB ? r.ldb : 1;
    for (let q = 0; q < count; q++) {
      const j0 = Math.floor((q * tiles) / count) * SLICE_COLS;
      const j1 = Math.min(n, Math.floor(((q + 1) * tiles) / count) * SLICE_COLS);
      if (j1 <= j0) continue;
      const ws = Number(wasm.sgemmWorkspaceBytes(m, j1 - j0, k));
      parts.push(
        sgemmArgs(
          { ...rr, circ: shifted(rr.circ, j0), causal: causalAt(rr.causal, 0, j0) },
          m,
          j1 - j0,
          k,
          pa,
          pb + 4 * j0 * bCol,
          pc + 4 * j0,
          ws > 0 ? s.alloc(ws) : 0,
        ),
      );
    }
  }
  parallelCall(rr.circ === undefined ? "sgemm" : "sgemmCirculant", parts, beside);
}

/** The kernel's arguments: sgemm's 21, or sgemmCirculant's 23 when `r.circ` is set. */
function sgemmArgs(
  r: Resolved,
  m: number,
  n: number,
  k: number,
  pa: number,
  pb: number,
  pc: number,
  work: number,
): number[] {
  const args = [
    r.transA ? 1 : 0,
    r.transB ? 1 : 0,
    m,
    n,
    k,
    pa,
    r.lda,
    r.strideA,
    pb,
    r.ldb,
    r.strideB,
    pc,
    r.ldc,
    r.strideC,
    r.batch,
    r.accumulate ? 1 : 0,
    work,
  ];
  if (r.circ !== undefined) {
    args.push(r.circ.ptr, r.circ.tab, r.circ.blocks, r.circ.bs, r.circ.colOff, r.circ.rowOff);
  } else {
    const c = r.causal;
    args.push(c?.form ?? 0, c?.period ?? 1, c?.row0 ?? 0, c?.offset ?? 0);
  }
  return args;
}

function callSgemm(args: number[]): void {
  const fn = args.length > 21 ? wasm.sgemmCirculant : wasm.sgemm;
  (fn as (...x: number[]) => void)(...args);
}

/**
 * Row-major single-precision matrix multiply: `C = op(A) · op(B)`, or `C += op(A) · op(B)` with
 * `accumulate`, for each of `batch` matrix triples.
 *
 * Shapes (float32, row-major): A `[m, k]` (`[k, m]` with `transA`), B `[k, n]` (`[n, k]` with `transB`),
 * C `[m, n]`; batch item t uses `a[t*strideA ..]`, `b[t*strideB ..]`, `c[t*strideC ..]`. A `Linear`
 * layer `y = x · Wᵀ` with x `[rows, in]`, W `[out, in]` is `sgemm(x, W, rows, out, in, {transB: true})`.
 * Accumulation is in float32 (not compensated): the error of each entry is at most about
 * `k · 2^-24 · Σ|a·b|` (standard dot-product bound).
 *
 * @param a A, at least `(batch-1)*strideA + m*k` elements.
 * @param b B, at least `(batch-1)*strideB + k*n` elements.
 * @param m rows of op(A) and C, integer >= 0.
 * @param n columns of op(B) and C, integer >= 0.
 * @param k columns of op(A) = rows of op(B), integer >= 0 (k = 0 gives C = 0, or C unchanged).
 * @returns C `[batch, m, n]` (length `(batch-1)*strideC + m*n`), or `opts.out` filled in place.
 * @throws {RangeError} when a size, batch or stride is not an integer >= 0, when `a`, `b` or `out` is
 *   shorter than the batch needs, when C matrices of the batch would overlap, or when `accumulate` is
 *   set without `out`.
 * @example
 * ```ts
 * // [2,3] · [3,2]
 * const c = sgemm(new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([1, 0, 0, 1, 1, 1]), 2, 2, 3);
 * // c = [4, 5, 10, 11]
 * ```
 */
export function sgemm(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  opts: SgemmArrayOptions = {},
): Float32Array {
  const fn = "sgemm";
  if ("lda" in opts || "ldb" in opts || "ldc" in opts) {
    throw new RangeError(`${fn}: lda/ldb/ldc are only accepted by sgemmPtr (arrays are contiguous)`);
  }
  const r = resolve(fn, m, n, k, opts);
  if (!(a instanceof Float32Array)) throw new TypeError(`${fn}: a must be a Float32Array`);
  if (!(b instanceof Float32Array)) throw new TypeError(`${fn}: b must be a Float32Array`);
  if (a.length < r.extentA) {
    throw new RangeError(`${fn}: a has ${a.length} elements, the batch needs ${r.extentA}`);
  }
  if (b.length < r.extentB) {
    throw new RangeError(`${fn}: b has ${b.length} elements, the batch needs ${r.extentB}`);
  }
  const out = opts.out;
  if (out !== undefined) {
    if (!(out instanceof Float32Array)) throw new TypeError(`${fn}: out must be a Float32Array`);
    if (out.length < r.extentC) {
      throw new RangeError(`${fn}: out has ${out.length} elements, the batch needs ${r.extentC}`);
    }
  } else if (r.accumulate) {
    throw new RangeError(`${fn}: accumulate = true needs opts.out (the C to add to)`);
  }
  const c = out ?? new Float32Array(r.extentC);
  using kernelScratch = new Scratch();
  if (opts.addCirculant !== undefined) r.circ = circulantIn(fn, opts.addCirculant, r, n, k, kernelScratch);
  if (r.extentC === 0) return c;
  const cap = residentCap();
  const big = (r.extentA + r.extentB + r.extentC) * 4 > cap;
  // one product whose B and C are large: column chunks of B and C stream through wasm memory beside
  // the arithmetic; past the cap too when A is small (the tied lm_head of a large vocabulary)
  if (
    r.batch === 1 && k > 0 &&
    (big
      ? r.extentA * 4 <= cap / 4
      : getNumThreads() > 1 && (r.extentB + r.extentC) * 4 >= splitThreshold(PIPELINE_MIN_BYTES) &&
        m * n * k >= splitThreshold(PARALLEL_MIN_MACS))
  ) {
    pipelined(a, b, c, m, n, k, r);
    return c;
  }
  if (big) {
    r.causal = undefined; // a hint; the tiles' products compute everything
    tiled(a, b, c, m, n, k, r);
    return c;
  }
  using s = new Scratch();
  const pa = r.extentA > 0 ? s.copyIn(a.subarray(0, r.extentA)) : 0;
  const pb = r.extentB > 0 ? s.copyIn(b.subarray(0, r.extentB)) : 0;
  const cView = c.subarray(0, r.extentC);
  // copy C in when it is read (accumulate) or when gaps between batch items must survive the copy-out
  const gaps = r.batch > 1 && r.strideC > m * n;
  const pc = r.accumulate || gaps ? s.copyIn(cView) : s.alloc(r.extentC * 4);
  run(r, m, n, k, pa, pb, pc);
  // memory may have grown during run(): take a fresh view
  cView.set(f32view(pc, r.extentC));
  return c;
}

/** Validates sgemm's `addCirculant` and copies its kernel into `s`. */
function circulantIn(
  fn: string,
  add: { kernel: Float32Array; blockSize: number },
  r: Resolved,
  n: number,
  k: number,
  s: Scratch,
): CirculantPtr {
  const { kernel, blockSize: bs } = add;
  if (r.batch !== 1) throw new RangeError(`${fn}: addCirculant needs batch = 1, got ${r.batch}`);
  const rows = r.transB ? n : k, cols = r.transB ? k : n;
  if (!Number.isInteger(bs) || bs < 1 || rows % bs !== 0 || cols % bs !== 0) {
    throw new RangeError(
      `${fn}: addCirculant.blockSize ${
        String(bs)
      } must be an integer >= 1 dividing both sides of the stored B [${rows}, ${cols}]`,
    );
  }
  if (!(kernel instanceof Float32Array) || kernel.length !== rows * cols / bs) {
    throw new RangeError(
      `${fn}: addCirculant.kernel must be a Float32Array [${rows / bs}, ${cols / bs}, ${bs}] (${
        rows * cols / bs
      } elements)`,
    );
  }
  return circulantPtr(s, kernel, bs, cols / bs, r.transB);
}

/**
 * Copies a C3A kernel `[rows/bs, blocks, bs]` into `s` for sgemm's block-circulant addend, with its rows
 * laid out twice over, forwards (B used as stored) or backwards (`transB`) (wasm/gemm.ts addCirculant).
 * No validation (sgemm's `addCirculant` checks the sizes; callers of {@link sgemmPtr} pass consistent ones).
 */
export function circulantPtr(
  s: Scratch,
  kernel: Float32Array,
  bs: number,
  blocks: number,
  transB: boolean,
): CirculantPtr {
  const count = kernel.length / bs, tab = new Float32Array(2 * kernel.length);
  for (let q = 0; q < count; q++) {
    const row = kernel.subarray(q * bs, (q + 1) * bs), o = 2 * q * bs;
    for (let u = 0; u < 2 * bs; u++) tab[o + u] = row[transB ? (bs - (u % bs)) % bs : u % bs];
  }
  return { ptr: s.copyIn(kernel), tab: s.copyIn(tab), blocks, bs, colOff: 0, rowOff: 0 };
}

/**
 * Bytes of B and C from which one product on several threads is pipelined (see {@link pipelined}):
 * where copying them (and faulting in a fresh C) is a large part of the call, e.g. the tied lm_head
 * (SmolLM2: B 113 MB, C 50 MB for 256 tokens). Below it the copies are a few % of the arithmetic.
 */
const PIPELINE_MIN_BYTES = 16 << 20;
/** Bytes of B and C per pipelined column chunk, about (2 to 16 chunks while both fit the resident cap). */
const CHUNK_BYTES = 8 << 20;
/**
 * Most bytes of B and C in one pipelined column chunk, as a fraction of {@link residentCap} (128 MiB
 * at the default 1 GiB): operands past the cap go in as many chunks as this needs, so wasm memory
 * holds A and two chunks (about a quarter of the cap) whatever n is.
 */
const CHUNK_MAX_FRACTION = 1 / 8;

/**
 * One product `C (+)= op(A)·op(B)` of {@link sgemm} in column chunks of op(B) and C (multiples of
 * SLICE_COLS), on every thread: A is copied into wasm memory once; chunk q of B (and of C when
 * accumulating) is copied into one of two alternating buffers while the threads compute chunk q−1
 * from the other (parallelCall's `beside`, which also copies chunk q−2's C out first), so the copies
 * (and the page faults of a fresh `c`) overlap the arithmetic, and wasm memory holds A and two chunks
 * however large B and C are (an lm_head `[vocab, hidden]` of 544 MB and its `[tokens, vocab]` output
 * past the resident cap). Every column of C is computed exactly as in one call (columns are
 * independent in the kernel; a chunk's leading dimensions change, not its arithmetic), so the result is
 * bit-identical to the unchunked product on any number of threads.
 */
function pipelined(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  r: Resolved,
): void {
  const tiles = Math.ceil(n / SLICE_COLS);
  const bytes = (r.extentB + r.extentC) * 4;
  const chunks = Math.max(
    1,
    Math.min(
      tiles,
      Math.max(
        Math.min(16, Math.max(2, Math.round(bytes / CHUNK_BYTES))),
        Math.ceil(bytes / (residentCap() * CHUNK_MAX_FRACTION)),
      ),
    ),
  );
  const col = (q: number) => Math.min(n, Math.floor((q * tiles) / chunks) * SLICE_COLS);
  let widest = 0;
  for (let q = 0; q < chunks; q++) widest = Math.max(widest, col(q + 1) - col(q));
  using s = new Scratch();
  const pa = s.copyIn(a.subarray(0, r.extentA));
  const pb = [s.alloc(widest * k * 4), s.alloc(widest * k * 4)];
  const pc = [s.alloc(m * widest * 4), s.alloc(m * widest * 4)];
  // fresh views on every use: run() allocates workspaces, which may grow memory
  const stage = (q: number) => {
    const j0 = col(q), j1 = col(q + 1), w = j1 - j0;
    const bv = f32view(pb[q % 2], w * k);
    if (r.transB) bv.set(b.subarray(j0 * k, j1 * k)); // rows j0..j1 of the stored [n, k]: contiguous
    else for (let p = 0; p < k; p++) bv.set(b.subarray(p * n + j0, p * n + j1), p * w);
    if (r.accumulate) {
      const cv = f32view(pc[q % 2], m * w);
      for (let i = 0; i < m; i++) cv.set(c.subarray(i * n + j0, i * n + j1), i * w);
    }
  };
  const unstage = (q: number) => {
    const j0 = col(q), j1 = col(q + 1), w = j1 - j0, cv = f32view(pc[q % 2], m * w);
    for (let i = 0; i < m; i++) c.set(cv.subarray(i * w, (i + 1) * w), i * n + j0);
  };
  stage(0);
  for (let q = 0; q < chunks; q++) {
    const j0 = col(q), j1 = col(q + 1), w = j1 - j0;
    const beside = () => {
      if (q > 0) unstage(q - 1); // its C buffer is the one chunk q + 1 is staged into
      if (q + 1 < chunks) stage(q + 1);
    };
    // the default 4 slices per thread: the workers take the slices this thread misses while copying
    const rq: Resolved = {
      ...r,
      ldb: r.transB ? k : w,
      ldc: w,
      circ: shifted(r.circ, j0),
      causal: causalAt(r.causal, 0, j0),
    };
    run(rq, m, w, k, pa, pb[q % 2], pc[q % 2], beside);
  }
  unstage(chunks - 1);
}

/** Rows of op(A) at or below which the kernel takes its small-m path (wasm/gemm.ts SMALL_M). */
const SMALL_M_ROWS = 10;

/**
 * {@link sgemm} whose operands exceed {@link residentCap}: streamed through wasm memory in tiles, each
 * computed exactly as in one call, so the result is bit-identical to the untiled product.
 * - A batch that the kernel folds into one product (shared B with stacked A and C: `[batch·m, k]·B`;
 *   one C summed over A and B stacked along k) is folded here the same way and tiled as one product.
 * - Other batches go in groups of consecutive items (same strides; an item summed into a shared C adds
 *   to the previous groups' sum in the kernel's order); an item too large on its own is tiled alone.
 * - One product goes in column tiles of B and C (multiples of the micro-kernel's 8 columns, B block at
 *   most half the cap; all columns when B takes at most 3/4 of it) times row tiles of A and C ({@link productTiles}).
 */
function tiled(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  r: Resolved,
) {
  const { batch, transA, transB, strideA, strideB, strideC, accumulate } = r;
  if (batch === 1) return productTiles(a, b, c, m, n, k, transA, transB, accumulate, r.circ);
  if (strideB === 0 && !transA && strideA === m * k && strideC === m * n) {
    return productTiles(a, b, c, batch * m, n, k, transA, transB, accumulate);
  }
  if (strideC === 0 && transA && !transB && strideA === k * m && strideB === k * n) {
    return productTiles(a, b, c, m, n, batch * k, transA, transB, accumulate);
  }
  const one = m * k + k * n + m * n, perItem = strideA + strideB + strideC;
  const cap = residentCap() / 4;
  if (one > cap) {
    for (let t = 0; t < batch; t++) {
      productTiles(
        a.subarray(t * strideA),
        b.subarray(t * strideB),
        c.subarray(t * strideC),
        m,
        n,
        k,
        transA,
        transB,
        accumulate || (strideC === 0 && t > 0),
      );
    }
    return;
  }
  const group = perItem === 0 ? batch : Math.min(batch, 1 + Math.floor((cap - one) / perItem));
  for (let t0 = 0; t0 < batch; t0 += group) {
    const g = Math.min(group, batch - t0);
    const sub = { ...r, batch: g, accumulate: accumulate || (strideC === 0 && t0 > 0) };
    const eA = extent(g, strideA, transA ? k : m, transA ? m : k, r.lda);
    const eB = extent(g, strideB, transB ? n : k, transB ? k : n, r.ldb);
    const eC = extent(g, strideC, m, n, n);
    using s = new Scratch();
    const pa = eA > 0 ? s.copyIn(a.subarray(t0 * strideA, t0 * strideA + eA)) : 0;
    const pb = eB > 0 ? s.copyIn(b.subarray(t0 * strideB, t0 * strideB + eB)) : 0;
    const cView = c.subarray(t0 * strideC, t0 * strideC + eC);
    const pc = sub.accumulate || strideC > m * n ? s.copyIn(cView) : s.alloc(eC * 4);
    run(sub, m, n, k, pa, pb, pc);
    cView.set(f32view(pc, eC));
  }
}

/**
 * One product `C (+)= op(A)·op(B)` (contiguous operands) in tiles: column blocks of op(B) and C
 * (multiples of SLICE_COLS, as the threaded split: each column computed as in one call), each B block
 * resident while row tiles of op(A) and C stream past it. Row tiles have more than SMALL_M_ROWS rows
 * (a short last tile borrows rows from its predecessor), so every tile takes the kernel's path of the
 * whole product. With transA the tile's columns of the stored A `[k, m]` are gathered into a contiguous
 * `[k, rows]` block; without transB a block's columns of B `[k, n]` into `[k, cols]`.
 */
function productTiles(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
  circ?: CirculantPtr,
): void {
  const cap = residentCap() / 4; // in elements
  let nt = n;
  if (k * n > (cap * 3) / 4) nt = Math.min(n, Math.max(1, Math.floor(cap / 2 / k / SLICE_COLS)) * SLICE_COLS);
  const minRows = Math.min(m, SMALL_M_ROWS + 1);
  const mt = Math.min(m, Math.max(minRows, Math.floor((cap - k * nt) / (k + nt))));
  using s = new Scratch();
  const pb = s.alloc(k * nt * 4), pa = s.alloc(mt * k * 4), pc = s.alloc(mt * nt * 4);
  for (let j0 = 0; j0 < n; j0 += nt) {
    const cols = Math.min(nt, n - j0);
    if (transB) f32view(pb, cols * k).set(b.subarray(j0 * k, (j0 + cols) * k));
    else if (cols === n) f32view(pb, k * n).set(b.subarray(0, k * n));
    else {
      const bv = f32view(pb, k * cols);
      for (let p = 0; p < k; p++) bv.set(b.subarray(p * n + j0, p * n + j0 + cols), p * cols);
    }
    for (let i0 = 0; i0 < m; i0 += mt) {
      let rows = Math.min(mt, m - i0), start = i0;
      if (rows < minRows) {
        start = m - minRows;
        rows = minRows;
      }
      if (transA) {
        const av = f32view(pa, rows * k);
        for (let p = 0; p < k; p++) av.set(a.subarray(p * m + start, p * m + start + rows), p * rows);
      } else {
        f32view(pa, rows * k).set(a.subarray(start * k, (start + rows) * k));
      }
      if (accumulate) {
        const cv = f32view(pc, rows * cols);
        if (cols === n) cv.set(c.subarray(start * n, (start + rows) * n));
        else {
          for (let i = 0; i < rows; i++) {
            cv.set(c.subarray((start + i) * n + j0, (start + i) * n + j0 + cols), i * cols);
          }
        }
      }
      const r: Resolved = {
        transA,
        transB,
        batch: 1,
        strideA: 0,
        strideB: 0,
        strideC: 0,
        accumulate,
        lda: transA ? rows : k,
        ldb: transB ? k : cols,
        ldc: cols,
        circ: shifted(circ, j0),
        extentA: 0,
        extentB: 0,
        extentC: 0,
      };
      run(r, rows, cols, k, pa, pb, pc);
      // rows before i0 (borrowed by a short last tile) were written by the previous tile: not again
      const cv = f32view(pc, rows * cols);
      if (cols === n) c.set(cv.subarray((i0 - start) * n), i0 * n);
      else {
        for (let i = i0 - start; i < rows; i++) {
          c.set(cv.subarray(i * cols, (i + 1) * cols), (start + i) * n + j0);
        }
      }
    }
  }
}

/**
 * Pointer-level {@link sgemm} on operands already in wasm memory (byte offsets from `memory.ts`
 * allocations, 4-byte aligned). Same semantics and shapes; C is written (or accumulated) in place.
 * `opts.lda/ldb/ldc` give row strides in elements for operating on sub-matrices. Packing workspace is
 * allocated and released internally.
 *
 * @param aPtr byte offset of A; `bPtr` of B; `cPtr` of C.
 * @throws {RangeError} for sizes, strides or leading dimensions that are not integers in range, for
 *   pointers that are not 4-byte-aligned offsets inside wasm memory, or when an operand would run past
 *   the end of wasm memory.
 */
export function sgemmPtr(
  aPtr: number,
  bPtr: number,
  cPtr: number,
  m: number,
  n: number,
  k: number,
  opts: SgemmPtrOptions = {},
): void {
  const fn = "sgemmPtr";
  const r = resolve(fn, m, n, k, opts);
  const size = memory.buffer.byteLength;
  const checkPtr = (name: string, p: number, ext: number) => {
    if (!Number.isInteger(p) || p < 0 || p % 4 !== 0) {
      throw new RangeError(`${fn}: ${name} must be a 4-byte-aligned byte offset >= 0, got ${p}`);
    }
    if (p + ext * 4 > size) {
      throw new RangeError(
        `${fn}: ${name} = ${p} plus ${ext} elements runs past the end of wasm memory (${size} bytes)`,
      );
    }
  };
  checkPtr("aPtr", aPtr, r.extentA);
  checkPtr("bPtr", bPtr, r.extentB);
  checkPtr("cPtr", cPtr, r.extentC);
  if (r.extentC === 0) return;
  if (opts.addCirculant !== undefined) {
    if (r.batch !== 1) throw new RangeError(`${fn}: addCirculant needs batch = 1, got ${r.batch}`);
    r.circ = opts.addCirculant;
  }
  run(r, m, n, k, aPtr, bPtr, cPtr);
}
