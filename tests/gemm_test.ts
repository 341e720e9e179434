import { assert, assertEquals, assertThrows } from "./deps.ts";
import { sgemm, type SgemmArrayOptions, sgemmPtr } from "../src/backend/wasm/gemm.ts";
import {
  f32view,
  free,
  malloc,
  memoryStats,
  Scratch,
  setResidentCap,
  wasm,
} from "../src/backend/wasm/memory.ts";
import { stopWorkers, withThreads } from "../src/backend/threads/pool.ts";
import { uniformData } from "./_random.ts";

interface RefOpts {
  transA?: boolean;
  transB?: boolean;
  lda?: number;
  ldb?: number;
  ldc?: number;
}

/**
 * Independent float64 triple loop for one matrix product, reading the float32 operands exactly.
 * Returns the product and, per entry, Σ_p |a_ip·b_pj| (for the error bound).
 */
function refGemm(
  a: Float32Array,
  offA: number,
  b: Float32Array,
  offB: number,
  m: number,
  n: number,
  k: number,
  o: RefOpts = {},
): { c: Float64Array; abs: Float64Array } {
  const lda = o.lda ?? (o.transA ? m : k);
  const ldb = o.ldb ?? (o.transB ? k : n);
  const c = new Float64Array(m * n), abs = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, t = 0;
      for (let p = 0; p < k; p++) {
        const av = o.transA ? a[offA + p * lda + i] : a[offA + i * lda + p];
        const bv = o.transB ? b[offB + j * ldb + p] : b[offB + p * ldb + j];
        s += av * bv;
        t += Math.abs(av * bv);
      }
      c[i * n + j] = s;
      abs[i * n + j] = t;
    }
  }
  return { c, abs };
}

/**
 * Error bound for one float32 entry. A float32 dot product of length k, summed in any order (SIMD
 * lanes, k-blocking), satisfies |ĉ − c| <= γ_k Σ_p |a_p b_p| with γ_k = k·u/(1 − k·u), u = 2^-24
 * (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1); accumulating into an existing C
 * adds one more rounding, of at most u·|ĉ|. We allow (k + 2)·2^-23, i.e. twice the worst-case bound,
 * relative to the per-entry Σ|a·b| (≤ k·max|a|·max|b|), plus a tiny absolute floor. A wrong index or a
 * missing term changes an entry by about |a·b| ≈ Σ|a·b| / k, far above this bound for the sizes used.
 */
function tolerance(k: number, absSum: number, cExtra = 0): number {
  return (k + 2) * 2 ** -23 * (absSum + Math.abs(cExtra)) + 1e-30;
}

function assertClose(
  got: Float32Array,
  gotOff: number,
  ldc: number,
  ref: { c: Float64Array; abs: Float64Array },
  m: number,
  n: number,
  k: number,
  label: string,
  base?: Float32Array,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const extra = base ? base[gotOff + i * ldc + j] : 0;
      const want = ref.c[i * n + j] + extra;
      const have = got[gotOff + i * ldc + j];
      const tol = tolerance(k, ref.abs[i * n + j], extra);
      if (!(Math.abs(have - want) <= tol)) {
        throw new Error(
          `${label}: C[${i},${j}] = ${have}, want ${want} (|diff| ${Math.abs(have - want)} > ${tol})`,
        );
      }
    }
  }
}

const sizes = [1, 3, 7, 8, 17];

Deno.test("sgemm matches a float64 triple loop: small and odd sizes, all transposes", () => {
  let seed = 1;
  for (const m of sizes) {
    for (const n of sizes) {
      for (const k of [1, 3, 7, 17, 32]) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = uniformData(m * k, seed++), b = uniformData(k * n, seed++);
            const c = sgemm(a, b, m, n, k, { transA, transB });
            assertEquals(c.length, m * n);
            const ref = refGemm(a, 0, b, 0, m, n, k, { transA, transB });
            assertClose(c, 0, n, ref, m, n, k, `m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`);
          }
        }
      }
    }
  }
});

Deno.test("sgemm matches the reference on sizes that cross register tiles and cache blocks", () => {
  // m, n, k chosen to leave remainders against 4/6/8-wide tiles and to exceed typical k/m/n blocks
  const shapes: Array<[number, number, number]> = [
    [13, 11, 5],
    [64, 64, 64],
    [97, 45, 301],
    [130, 70, 515],
    [5, 2100, 9],
    [200, 33, 1],
    [1, 300, 200],
    [300, 1, 200],
  ];
  let seed = 1000;
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const a = uniformData(m * k, seed++, 3), b = uniformData(k * n, seed++, 0.5);
        const c = sgemm(a, b, m, n, k, { transA, transB });
        const ref = refGemm(a, 0, b, 0, m, n, k, { transA, transB });
        assertClose(c, 0, n, ref, m, n, k, `m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`);
      }
    }
  }
});

Deno.test("sgemm accumulates into opts.out and leaves elements past C untouched", () => {
  const m = 9, n = 13, k = 21;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const a = uniformData(m * k, 7), b = uniformData(k * n, 8);
      const out = uniformData(m * n + 5, 9);
      const before = out.slice();
      const ret = sgemm(a, b, m, n, k, { transA, transB, accumulate: true, out });
      assert(ret === out, "returns opts.out");
      const ref = refGemm(a, 0, b, 0, m, n, k, { transA, transB });
      assertClose(out, 0, n, ref, m, n, k, `accumulate tA=${transA} tB=${transB}`, before);
      assertEquals(Array.from(out.subarray(m * n)), Array.from(before.subarray(m * n)));
      // without accumulate, out is overwritten (old contents ignored)
      const out2 = uniformData(m * n, 10);
      sgemm(a, b, m, n, k, { transA, transB, out: out2 });
      assertClose(out2, 0, n, ref, m, n, k, `overwrite tA=${transA} tB=${transB}`);
    }
  }
});

Deno.test("sgemm batch: default strides, gaps, broadcast A or B (stride 0), summed C (strideC 0)", () => {
  const m = 6, n = 10, k = 7, batch = 4;
  const cases: Array<
    { strideA?: number; strideB?: number; strideC?: number; transA?: boolean; transB?: boolean }
  > = [
    {},
    { transA: true, transB: true },
    { strideA: m * k + 3, strideB: k * n + 5, strideC: m * n + 2 },
    { strideA: 0 },
    { strideB: 0, transB: true },
    { strideA: 0, strideB: 0 },
  ];
  let seed = 50;
  for (const cs of cases) {
    const sA = cs.strideA ?? m * k, sB = cs.strideB ?? k * n, sC = cs.strideC ?? m * n;
    const a = uniformData((batch - 1) * sA + m * k, seed++),
      b = uniformData((batch - 1) * sB + k * n, seed++);
    const c = sgemm(a, b, m, n, k, { ...cs, batch });
    assertEquals(c.length, (batch - 1) * sC + m * n);
    for (let t = 0; t < batch; t++) {
      const ref = refGemm(a, t * sA, b, t * sB, m, n, k, cs);
      assertClose(c, t * sC, n, ref, m, n, k, `batch ${JSON.stringify(cs)} item ${t}`);
    }
    if (sC > m * n) {
      for (let t = 0; t + 1 < batch; t++) {
        for (let g = m * n; g < sC; g++) assertEquals(c[t * sC + g], 0, "gap between C matrices stays 0");
      }
    }
  }
  // strideC = 0: C = Σ_t op(A_t) op(B_t) (+ C with accumulate); the transA case with stacked A and B is
  // a weight gradient Σ_t X_tᵀ G_t (the kernel may fold it into one product of depth batch*k)
  for (
    const [accumulate, transA, strideB] of [[false, false, 0], [true, false, 0], [false, true, k * n], [
      true,
      true,
      k * n,
    ]] as const
  ) {
    const a = uniformData(batch * m * k, 70), b = uniformData(batch * k * n, 71);
    const out = uniformData(m * n, 72);
    const base = out.slice();
    sgemm(a, b, m, n, k, { batch, transA, strideB, strideC: 0, out, accumulate });
    const sum = { c: new Float64Array(m * n), abs: new Float64Array(m * n) };
    for (let t = 0; t < batch; t++) {
      const r = refGemm(a, t * m * k, b, t * strideB, m, n, k, { transA });
      for (let i = 0; i < m * n; i++) {
        sum.c[i] += r.c[i];
        sum.abs[i] += r.abs[i];
      }
    }
    assertClose(
      out,
      0,
      n,
      sum,
      m,
      n,
      batch * k,
      `strideC 0 accumulate=${accumulate} transA=${transA}`,
      accumulate ? base : undefined,
    );
  }
});

Deno.test("sgemm edge cases: empty sizes, k = 0, non-finite values", () => {
  assertEquals(sgemm(new Float32Array(0), new Float32Array(5), 0, 5, 1).length, 0);
  assertEquals(Array.from(sgemm(new Float32Array(0), new Float32Array(0), 2, 3, 0)), [0, 0, 0, 0, 0, 0]);
  const out = new Float32Array([1, 2, 3, 4]);
  sgemm(new Float32Array(0), new Float32Array(0), 2, 2, 0, { out, accumulate: true });
  assertEquals(Array.from(out), [1, 2, 3, 4]);
  sgemm(new Float32Array(0), new Float32Array(0), 2, 2, 0, { out });
  assertEquals(Array.from(out), [0, 0, 0, 0]);
  assertEquals(sgemm(new Float32Array(4), new Float32Array(4), 2, 2, 2, { batch: 0 }).length, 0);
  // IEEE semantics like the reference: inf·0 = NaN, inf·x = ±inf
  const a = new Float32Array([Infinity, 1, 2, 3]);
  const b = new Float32Array([0, 1, 1, 1]);
  const c = sgemm(a, b, 2, 2, 2);
  assert(Number.isNaN(c[0]), `inf*0 + 1*1 is NaN, got ${c[0]}`);
  assertEquals(c[1], Infinity);
  assertEquals(c[2], 3);
  assertEquals(c[3], 5);
});

Deno.test("sgemmPtr on wasm memory with leading dimensions (sub-matrices)", () => {
  const m = 5, n = 6, k = 7, lda = 11, ldb = 9, ldc = 8;
  const before = memoryStats().liveBytes;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      using s = new Scratch();
      const aRows = transA ? k : m, bRows = transB ? n : k;
      const aData = uniformData(aRows * lda, 11), bData = uniformData(bRows * ldb, 12);
      const pa = s.copyIn(aData), pb = s.copyIn(bData);
      const cInit = uniformData(m * ldc, 13);
      const pc = s.copyIn(cInit);
      sgemmPtr(pa, pb, pc, m, n, k, { transA, transB, lda, ldb, ldc, accumulate: true });
      const c = f32view(pc, m * ldc).slice();
      const ref = refGemm(aData, 0, bData, 0, m, n, k, { transA, transB, lda, ldb });
      assertClose(c, 0, ldc, ref, m, n, k, `ptr tA=${transA} tB=${transB}`, cInit);
      for (let i = 0; i < m; i++) {
        for (let j = n; j < ldc; j++) {
          assertEquals(c[i * ldc + j], cInit[i * ldc + j], "padding columns kept");
        }
      }
    }
  }
  assertEquals(memoryStats().liveBytes, before, "no wasm memory leaked");
});

Deno.test("sgemmPtr batch with shared B and padded rows (stacked product) matches per-item reference", () => {
  const m = 7, n = 10, k = 9, lda = 12, ldc = 13, batch = 3;
  for (const transB of [false, true]) {
    using s = new Scratch();
    const aData = uniformData(batch * m * lda, 21),
      bData = uniformData(k * n, 22),
      cInit = uniformData(batch * m * ldc, 23);
    const pa = s.copyIn(aData), pb = s.copyIn(bData), pc = s.copyIn(cInit);
    sgemmPtr(pa, pb, pc, m, n, k, {
      transB,
      batch,
      lda,
      ldc,
      strideA: m * lda,
      strideB: 0,
      strideC: m * ldc,
      accumulate: true,
    });
    const c = f32view(pc, batch * m * ldc).slice();
    for (let t = 0; t < batch; t++) {
      const ref = refGemm(aData, t * m * lda, bData, 0, m, n, k, { transB, lda });
      assertClose(c, t * m * ldc, ldc, ref, m, n, k, `stacked tB=${transB} item ${t}`, cInit);
    }
  }
});

Deno.test("sgemm releases its wasm scratch memory", () => {
  const before = memoryStats().liveBytes;
  sgemm(uniformData(50 * 40, 1), uniformData(40 * 30, 2), 50, 30, 40, { transB: true });
  sgemm(uniformData(50 * 40, 1), uniformData(40 * 30, 2), 50, 30, 40, {
    batch: 1,
    out: new Float32Array(1500),
  });
  assertEquals(memoryStats().liveBytes, before);
});

Deno.test("sgemm rejects bad arguments with RangeErrors naming the value", () => {
  const a = new Float32Array(6), b = new Float32Array(6);
  assertThrows(() => sgemm(a, b, 2.5, 3, 2), RangeError, "m must be an integer in [0, 2^31), got 2.5");
  assertThrows(() => sgemm(a, b, 2, -1, 2), RangeError, "n must be an integer in [0, 2^31), got -1");
  assertThrows(() => sgemm(a, b, 2, 3, NaN), RangeError, "got NaN");
  assertThrows(() => sgemm(a, b, 2, 3, 2, { batch: 1.5 }), RangeError, "batch");
  assertThrows(() => sgemm(a, b, 2, 3, 2, { strideA: -2 }), RangeError, "strideA");
  assertThrows(() => sgemm(a, b, 2, 3, 4), RangeError, "a has 6 elements, the batch needs 8");
  assertThrows(() => sgemm(a, b, 3, 4, 2), RangeError, "b has 6 elements, the batch needs 8");
  assertThrows(() => sgemm(a, b, 2, 3, 1, { batch: 3 }), RangeError, "b has 6 elements, the batch needs 9");
  assertThrows(() => sgemm(a, b, 2, 3, 2, { batch: 2 }), RangeError, "a has 6 elements, the batch needs 8");
  assertThrows(() => sgemm(a, b, 2, 3, 2, { out: new Float32Array(5) }), RangeError, "out has 5 elements");
  assertThrows(() => sgemm(a, b, 2, 3, 2, { accumulate: true }), RangeError, "needs opts.out");
  assertThrows(
    () => sgemm(new Float32Array(8), b, 2, 3, 2, { batch: 2, strideA: 4, strideB: 0, strideC: 3 }),
    RangeError,
    "strideC 3",
  );
  assertThrows(() => sgemm(a, b, 2, 3, 2, { ldc: 4 } as never), RangeError, "only accepted by sgemmPtr");
  const p = malloc(64);
  try {
    assertThrows(
      () => sgemmPtr(p, p, p, 2, 2, 2, { lda: 1 }),
      RangeError,
      "lda must be an integer in [2, 2^31), got 1",
    );
    assertThrows(() => sgemmPtr(p + 2, p, p, 2, 2, 2), RangeError, "aPtr must be a 4-byte-aligned");
    assertThrows(() => sgemmPtr(p, p, 2 ** 40, 2, 2, 2), RangeError, "runs past the end of wasm memory");
  } finally {
    free(p);
  }
});

Deno.test("sgemm sizes its workspace for folded batches: no write past the workspace", () => {
  // A batch summed into one C (transA, stacked A and B) is computed as one product with batch·k rows of
  // depth; a workspace sized for the unfolded k would be overrun. Put a sentinel block right after a
  // hole that exactly fits the unfolded-size workspace: the call must not touch the sentinel.
  const m = 40, n = 120, k = 16, batch = 24;
  const a = uniformData(batch * k * m, 5), b = uniformData(batch * k * n, 6), c = new Float32Array(m * n);
  const pa = malloc(a.length * 4), pb = malloc(b.length * 4), pc = malloc(c.length * 4);
  f32view(pa, a.length).set(a);
  f32view(pb, b.length).set(b);
  const unfolded = Number(wasm.sgemmWorkspaceBytes(m, n, k));
  const hole = malloc(unfolded);
  const sentinel = malloc(1 << 16);
  f32view(sentinel, 1 << 14).fill(7);
  free(hole);
  try {
    sgemmPtr(pa, pb, pc, m, n, k, { transA: true, batch, strideC: 0 });
    assert(f32view(sentinel, 1 << 14).every((v) => v === 7), "the block after the workspace was overwritten");
    const want = new Float64Array(m * n);
    for (let t = 0; t < batch; t++) {
      for (let p = 0; p < k; p++) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) want[i * n + j] += a[(t * k + p) * m + i] * b[(t * k + p) * n + j];
        }
      }
    }
    const got = f32view(pc, m * n);
    for (let i = 0; i < m * n; i++) {
      assert(Math.abs(got[i] - want[i]) < 1e-4, `[${i}] ${got[i]} vs ${want[i]}`);
    }
  } finally {
    [pa, pb, pc, sentinel].forEach(free);
  }
});

Deno.test("sgemm streams row tiles when the operands exceed the resident cap: bit-identical to one call", () => {
  // a cap of 64 KiB forces tiles of a few dozen rows (and a short last tile that borrows rows)
  const cases: [number, number, number, SgemmArrayOptions][] = [
    [203, 70, 90, {}],
    [157, 64, 33, { transB: true }],
    [181, 40, 120, { transA: true }],
    [97, 50, 60, { transA: true, transB: true }],
  ];
  for (const [m, n, k, o] of cases) {
    const a = uniformData(m * k, m + 1), b = uniformData(k * n, n + 2), c0 = uniformData(m * n, 3);
    for (const accumulate of [false, true]) {
      const whole = sgemm(a, b, m, n, k, { ...o, accumulate, out: c0.slice() });
      setResidentCap(64 << 10);
      let tiled: Float32Array;
      try {
        tiled = sgemm(a, b, m, n, k, { ...o, accumulate, out: c0.slice() });
      } finally {
        setResidentCap(undefined);
      }
      const tag = `${m}x${n}x${k} ${JSON.stringify(o)} accumulate=${accumulate}`;
      assert(tiled.every((v, i) => Object.is(v, whole[i])), `${tag}: tiled differs from one call`);
      // and both are right (float64 reference of one entry per row)
      for (let i = 0; i < m; i++) {
        const j = (i * 7) % n;
        let want = accumulate ? c0[i * n + j] : 0;
        for (let p = 0; p < k; p++) {
          want += (o.transA ? a[p * m + i] : a[i * k + p]) * (o.transB ? b[j * k + p] : b[p * n + j]);
        }
        assert(Math.abs(whole[i * n + j] - want) < 1e-4, `${tag} [${i}, ${j}]`);
      }
    }
  }
});

/** `sgemm` with the resident cap lowered to `cap` bytes (restored afterwards). */
function sgemmCapped(
  cap: number,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  o: SgemmArrayOptions,
) {
  setResidentCap(cap);
  try {
    return sgemm(a, b, m, n, k, o);
  } finally {
    setResidentCap(undefined);
  }
}

/**
 * Independent float64 reference of a strided batch (strideC = 0 sums into one C), checked entry by
 * entry against `got` with the dot-product error bound.
 */
function checkBatchedRef(
  tag: string,
  got: Float32Array,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  o: SgemmArrayOptions,
  c0: Float32Array | undefined,
): void {
  const batch = o.batch ?? 1;
  const sA = o.strideA ?? m * k, sB = o.strideB ?? k * n, sC = o.strideC ?? m * n;
  const want = new Float64Array(got.length), abs = new Float64Array(got.length);
  if (c0 !== undefined) { for (let i = 0; i < got.length; i++) want[i] = c0[i]; }
  // without accumulate the items' entries start at 0 (gaps between items keep c0)
  if (!o.accumulate) {
    for (let t = 0; t < batch; t++) for (let i = 0; i < m * n; i++) want[t * sC + i] = 0;
  }
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0, mag = 0;
        for (let p = 0; p < k; p++) {
          const x = (o.transA ? a[t * sA + p * m + i] : a[t * sA + i * k + p]) *
            (o.transB ? b[t * sB + j * k + p] : b[t * sB + p * n + j]);
          acc += x;
          mag += Math.abs(x);
        }
        want[t * sC + i * n + j] += acc;
        abs[t * sC + i * n + j] += mag;
      }
    }
  }
  for (let i = 0; i < got.length; i++) {
    const tol = 2 * (k * batch + 2) * 2 ** -24 * (abs[i] + Math.abs(want[i])) + 1e-30;
    assert(Math.abs(got[i] - want[i]) <= tol, `${tag} [${i}]: ${got[i]} vs float64 ${want[i]} (tol ${tol})`);
  }
}

Deno.test("sgemm tiles columns of B and C when B alone exceeds the cap: bit-identical to one call", () => {
  // B of 4·k·n bytes above 3/4 of the cap: column blocks (multiples of 8, a ragged last one), with A
  // resident or in row tiles too; m <= 10 takes the kernel's small-m paths, m > 10 the blocked path
  const cases: [number, number, number, SgemmArrayOptions, number][] = [
    [40, 203, 90, {}, 64 << 10],
    [40, 203, 90, { transB: true }, 64 << 10],
    [5, 301, 70, {}, 32 << 10], // smallAxpy
    [3, 301, 300, { transB: true }, 128 << 10], // smallDot
    [131, 77, 60, { transA: true }, 24 << 10], // row and column tiles, transA gather
    [97, 150, 64, { transA: true, transB: true }, 40 << 10],
  ];
  for (const [m, n, k, o, cap] of cases) {
    assert(4 * k * n > (cap * 3) / 4, "the case must tile B");
    const a = uniformData(m * k, m + 11), b = uniformData(k * n, n + 12), c0 = uniformData(m * n, 13);
    for (const accumulate of [false, true]) {
      const opts = () => ({ ...o, accumulate, out: c0.slice() });
      const whole = sgemm(a, b, m, n, k, opts());
      const tiled = sgemmCapped(cap, a, b, m, n, k, opts());
      const tag = `${m}x${n}x${k} ${JSON.stringify(o)} accumulate=${accumulate}`;
      assert(tiled.every((v, i) => Object.is(v, whole[i])), `${tag}: tiled differs from one call`);
      checkBatchedRef(tag, whole, a, b, m, n, k, { ...o, accumulate }, accumulate ? c0 : undefined);
    }
  }
});

Deno.test("sgemm tiles batches over the batch dimension (attention QKᵀ and PV, sums, broadcasts, folds)", () => {
  const T = 37, hd = 16, items = 6; // batch × heads = 6
  const cases: [string, number, number, number, SgemmArrayOptions][] = [
    ["QKᵀ", T, T, hd, { batch: items, transB: true }],
    ["PV", T, hd, T, { batch: items }],
    ["gradQ = gS·K", T, hd, T, { batch: items }],
    ["gradK = gSᵀ·Q", T, hd, T, { batch: items, transA: true }],
    ["broadcast A", 12, 20, 9, { batch: 5, strideA: 0 }],
    ["sum into one C", 12, 20, 9, { batch: 5, strideC: 0 }],
    ["gapped C", 12, 20, 9, { batch: 4, strideC: 12 * 20 + 7 }],
    ["fold: shared B", 4, 30, 25, { batch: 7, strideB: 0 }], // 4 rows per item: [28, 25] · B
    ["fold: C summed over k", 20, 24, 6, { batch: 9, transA: true, strideC: 0 }],
  ];
  for (const [name, m, n, k, o] of cases) {
    const batch = o.batch!;
    const sA = o.strideA ?? m * k, sB = o.strideB ?? k * n, sC = o.strideC ?? m * n;
    const lenC = sC === 0 ? m * n : (batch - 1) * sC + m * n;
    const a = uniformData(Math.max(sA * (batch - 1), 0) + m * k, 21),
      b = uniformData((batch - 1) * sB + k * n, 22);
    const c0 = uniformData(lenC, 23);
    const item = 4 * (m * k + k * n + m * n);
    // caps: two or three items per group; and below one item (each item tiled on its own)
    for (const cap of [3 * item, Math.floor(item / 2)]) {
      for (const accumulate of [false, true]) {
        const opts = () => ({ ...o, accumulate, out: c0.slice() });
        const whole = sgemm(a, b, m, n, k, opts());
        const tiled = sgemmCapped(cap, a, b, m, n, k, opts());
        const tag = `${name} cap=${cap} accumulate=${accumulate}`;
        assert(tiled.every((v, i) => Object.is(v, whole[i])), `${tag}: tiled differs from one call`);
        checkBatchedRef(
          tag,
          whole,
          a,
          b,
          m,
          n,
          k,
          { ...o, accumulate },
          accumulate || sC > m * n ? c0 : undefined,
        );
      }
    }
  }
});

Deno.test("tiled sgemm is bit-identical for every thread count", async () => {
  try {
    const cases: [number, number, number, SgemmArrayOptions, number][] = [
      [64, 200, 48, { transB: true }, 48 << 10], // A within a quarter of the cap: column chunks (pipelined)
      [160, 200, 48, { transB: true }, 48 << 10], // A larger: column and row tiles
      [40, 40, 16, { batch: 12, transB: true }, 4 * 3 * (40 * 16 * 2 + 1600)], // groups of 3 items
      [40, 16, 40, { batch: 12 }, 16 << 10], // items tiled on their own
    ];
    for (const [m, n, k, o, cap] of cases) {
      const batch = o.batch ?? 1;
      const a = uniformData(batch * m * k, 31), b = uniformData(batch * k * n, 32);
      const one = withThreads(1, false, () => sgemmCapped(cap, a, b, m, n, k, o));
      for (const threads of [2, 3]) {
        const many = withThreads(threads, true, () => sgemmCapped(cap, a, b, m, n, k, o));
        assert(
          many.every((v, i) => Object.is(v, one[i])),
          `${m}x${n}x${k} ${JSON.stringify(o)}: ${threads} threads`,
        );
      }
      checkBatchedRef(`${m}x${n}x${k}`, one, a, b, m, n, k, o, undefined);
    }
  } finally {
    await stopWorkers();
  }
});

Deno.test("sgemm pipelines big products over threads in column chunks: bit-identical to one thread", async () => {
  try {
    // [m, n, k, opts, splitAll]: above the pipeline's size (B and C over 16 MiB, several chunks) with the
    // default thresholds, and smaller ragged products that take the pipelined path only with splitAll
    const cases: [number, number, number, SgemmArrayOptions, boolean][] = [
      [12, 36004, 120, { transB: true }, false], // lm_head-like: B and C over 16 MiB, n not a multiple of 8
      [24, 3001, 96, {}, true], // NN: B's columns staged row by row
      [20, 3000, 90, { transA: true, transB: true }, true],
      [12, 45, 19, { transB: true }, true],
      [7, 30, 5, {}, true], // small-m path inside each chunk
      [13, 9, 33, { transA: true }, true], // fewer column tiles than chunks
      [5, 9, 0, {}, true], // k = 0: C = 0 (or unchanged)
    ];
    for (const [m, n, k, o, splitAll] of cases) {
      const a = uniformData(m * k, 41 + m), b = uniformData(k * n, 42 + n), c0 = uniformData(m * n, 43);
      for (const accumulate of [false, true]) {
        const opts = () => ({ ...o, accumulate, out: c0.slice() });
        const one = withThreads(1, false, () => sgemm(a, b, m, n, k, opts()));
        const tag = `${m}x${n}x${k} ${JSON.stringify(o)} accumulate=${accumulate}`;
        for (const threads of [2, 3]) {
          const many = withThreads(threads, splitAll, () => sgemm(a, b, m, n, k, opts()));
          assert(many.every((v, i) => Object.is(v, one[i])), `${tag}: ${threads} threads differ from 1`);
        }
        checkBatchedRef(tag, one, a, b, m, n, k, { ...o, accumulate }, accumulate ? c0 : undefined);
      }
    }
  } finally {
    await stopWorkers();
  }
});

Deno.test("sgemm past the resident cap with a small A (the lm_head) streams column chunks of B and C: bit-identical to one call, 1/2/3 threads", async () => {
  try {
    // A within a quarter of the cap; B and C far past it: chunks of at most cap/8 bytes of B and C
    // (many more than the 16 of a resident product), ragged last chunk, NN (B's columns gathered) and NT
    const cases: [number, number, number, SgemmArrayOptions, number][] = [
      [24, 2003, 40, { transB: true }, 32 << 10],
      [24, 2003, 40, {}, 32 << 10],
      [11, 999, 64, { transA: true, transB: true }, 32 << 10],
      [4, 1501, 33, {}, 16 << 10], // small-m path in every chunk
    ];
    for (const [m, n, k, o, cap] of cases) {
      assert(4 * m * k <= cap / 4 && 4 * (k * n + m * n) > 8 * cap, "the case must stream many chunks");
      const a = uniformData(m * k, 61 + m), b = uniformData(k * n, 62 + n), c0 = uniformData(m * n, 63);
      for (const accumulate of [false, true]) {
        const opts = () => ({ ...o, accumulate, out: c0.slice() });
        const whole = withThreads(1, false, () => sgemm(a, b, m, n, k, opts()));
        const tag = `${m}x${n}x${k} ${JSON.stringify(o)} accumulate=${accumulate}`;
        for (const threads of [1, 2, 3]) {
          const chunked = withThreads(threads, false, () => sgemmCapped(cap, a, b, m, n, k, opts()));
          assert(
            chunked.every((v, i) => Object.is(v, whole[i])),
            `${tag}: ${threads} threads differ from one call`,
          );
        }
        checkBatchedRef(tag, whole, a, b, m, n, k, { ...o, accumulate }, accumulate ? c0 : undefined);
      }
    }
  } finally {
    await stopWorkers();
  }
});

/** B + getCirculant(kernel) as stored (`[rows, cols]`), rounded to float32, from the index formula. */
function plusCirculant(
  b: Float32Array,
  kernel: Float32Array,
  rows: number,
  cols: number,
  bs: number,
): Float32Array {
  const out = new Float32Array(rows * cols), blocks = cols / bs;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const w = kernel[(Math.floor(r / bs) * blocks + Math.floor(c / bs)) * bs + (((c - r) % bs) + bs) % bs];
      out[r * cols + c] = b[r * cols + c] + w;
    }
  }
  return out;
}

Deno.test("sgemm addCirculant = sgemm on the stored B + getCirculant(kernel), bit for bit, on every path and thread count", async () => {
  try {
    // [m, n, k, transB, bs, cap (resident bytes; 0 = default), splitAll]
    const cases: [number, number, number, boolean, number, number, boolean][] = [
      [64, 96, 48, true, 16, 0, true], // NT (x·(W + A)ᵀ): column slices over threads
      [64, 48, 96, false, 16, 0, true], // NN (g·(W + A))
      [30, 40, 24, true, 8, 0, false], // one thread
      [12, 36008, 120, true, 8, 0, false], // pipelined column chunks (B and C over 16 MiB)
      [64, 200, 48, true, 8, 48 << 10, true], // column and row tiles
      [64, 48, 200, false, 8, 48 << 10, true],
      [40, 45, 27, false, 3, 0, true], // odd block size, n not a multiple of 8
    ];
    for (const [m, n, k, transB, bs, cap, splitAll] of cases) {
      const a = uniformData(m * k, 61 + m), b = uniformData(k * n, 62 + n);
      const rows = transB ? n : k, cols = transB ? k : n;
      const kernel = uniformData(rows * cols / bs, 63 + bs);
      const merged = plusCirculant(b, kernel, rows, cols, bs);
      const tag = `${m}x${n}x${k} transB=${transB} b=${bs} cap=${cap}`;
      const call = (threads: number, withAdd: boolean) =>
        withThreads(threads, splitAll, () => {
          const o: SgemmArrayOptions = withAdd
            ? { transB, addCirculant: { kernel, blockSize: bs } }
            : { transB };
          return cap > 0
            ? sgemmCapped(cap, a, withAdd ? b : merged, m, n, k, o)
            : sgemm(a, withAdd ? b : merged, m, n, k, o);
        });
      const want = call(1, false);
      checkBatchedRef(tag, want, a, merged, m, n, k, { transB }, undefined);
      for (const threads of [1, 2, 3]) {
        const got = call(threads, true);
        assert(
          got.every((v, i) => Object.is(v, want[i])),
          `${tag}: ${threads} threads differ from sgemm on B + W`,
        );
      }
    }
    // few rows: the kernel takes its blocked path (plain sgemm streams B there): float64 reference only
    const a = uniformData(5 * 32, 71), b = uniformData(32 * 16, 72), kernel = uniformData(32 * 16 / 8, 73);
    const got = sgemm(a, b, 5, 32, 16, { transB: true, addCirculant: { kernel, blockSize: 8 } });
    checkBatchedRef(
      "5 rows",
      got,
      a,
      plusCirculant(b, kernel, 32, 16, 8),
      5,
      32,
      16,
      { transB: true },
      undefined,
    );
  } finally {
    await stopWorkers();
  }
});

Deno.test("sgemm addCirculant: wrong block size, kernel length or batch throw one-line errors", () => {
  const a = new Float32Array(4 * 8), b = new Float32Array(8 * 6);
  assertThrows(
    () => sgemm(a, b, 4, 6, 8, { addCirculant: { kernel: new Float32Array(12), blockSize: 4 } }),
    RangeError,
    "blockSize 4 must be an integer >= 1 dividing both sides of the stored B [8, 6]",
  );
  assertThrows(
    () => sgemm(a, b, 4, 6, 8, { addCirculant: { kernel: new Float32Array(5), blockSize: 2 } }),
    RangeError,
    "addCirculant.kernel must be a Float32Array [4, 3, 2] (24 elements)",
  );
  assertThrows(
    () =>
      sgemm(a, b, 2, 6, 8, {
        batch: 2,
        strideB: 0,
        addCirculant: { kernel: new Float32Array(24), blockSize: 2 },
      }),
    RangeError,
    "addCirculant needs batch = 1, got 2",
  );
});

/**
 * Operands of a causal attention product (MatmulCausal): the zero structure the hint promises is put
 * into A (forms "weights", "weightsT"), so the full product is the reference.
 */
function causalOperands(
  form: "scores" | "weights" | "weightsT",
  batch: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  period: number,
  offset: number,
  seed: number,
): { a: Float32Array; b: Float32Array } {
  const a = uniformData(batch * m * k, seed), b = uniformData(batch * k * n, seed + 1);
  if (form !== "scores") {
    for (let t = 0; t < batch; t++) {
      for (let i = 0; i < m; i++) {
        for (let p = 0; p < k; p++) {
          const zero = form === "weights" ? p > (i % period) + offset : i > (p % period) + offset;
          if (zero) a[t * m * k + (transA ? p * m + i : i * k + p)] = 0;
        }
      }
    }
  }
  return { a, b };
}

Deno.test("sgemm causal hint: needed entries match a float64 reference and the full product; same bits for 1, 2, 3 threads", async () => {
  try {
    // [form, batch, m, n, k, transA, transB, period, offset]: attention's six products (g = 2 heads
    // per kv head, so rows stack two periods), periods not a multiple of the 6-row tile, an offset
    // (cached keys), a batch of 3 on 2 threads (row or column pieces of items), small m (unblocked path)
    type Case = [
      "scores" | "weights" | "weightsT",
      number,
      number,
      number,
      number,
      boolean,
      boolean,
      number,
      number,
    ];
    const cases: Case[] = [
      ["scores", 4, 2 * 64, 64, 24, false, true, 64, 0], // q·kᵀ
      ["weights", 4, 2 * 64, 24, 64, false, false, 64, 0], // probs·v, gScores·k
      ["weightsT", 4, 64, 24, 2 * 64, true, false, 64, 0], // probsᵀ·gOut, gScoresᵀ·q
      ["scores", 3, 3 * 37, 45, 13, false, true, 37, 8],
      ["weights", 3, 3 * 37, 13, 45, false, false, 37, 8],
      ["weightsT", 3, 45, 13, 3 * 37, true, false, 37, 8],
      ["scores", 1, 400, 400, 40, false, true, 400, 0], // column slices of one product
      ["weights", 2, 8, 9, 8, false, false, 4, 1],
      // offsets at the top of the i32 range: every entry visible (no overflow in the kernel's limits)
      ["scores", 2, 12, 12, 12, false, true, 12, 2 ** 31 - 1],
      ["weights", 2, 12, 12, 12, false, false, 12, 2 ** 31 - 2],
      ["weightsT", 2, 12, 12, 12, true, false, 12, 2 ** 31 - 1],
    ];
    for (const [form, batch, m, n, k, transA, transB, period, offset] of cases) {
      const label = `${form} ${batch}x${m}x${n}x${k} period ${period} offset ${offset}`;
      const { a, b } = causalOperands(form, batch, m, n, k, transA, period, offset, m + n);
      const o: SgemmArrayOptions = { batch, transA, transB };
      const causal = { form, period, offset };
      const full = sgemm(a, b, m, n, k, o);
      const one = withThreads(1, false, () => sgemm(a, b, m, n, k, { ...o, causal }));
      for (let t = 0; t < batch; t++) {
        const ref = refGemm(a, t * m * k, b, t * k * n, m, n, k, { transA, transB });
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const at = t * m * n + i * n + j, got = one[at];
            if (form === "scores" && j > (i % period) + offset) {
              // not needed: 0 (skipped tile) or the product (tile computed)
              assert(got === 0 || Object.is(got, full[at]), `${label}: masked C[${t},${i},${j}] = ${got}`);
              continue;
            }
            const want = ref.c[i * n + j], tol = tolerance(k, ref.abs[i * n + j]);
            assert(Math.abs(got - want) <= tol, `${label}: C[${t},${i},${j}] = ${got}, want ${want}`);
            // terms left out are exact zeros: the same float32 sums (weightsT: up to the order)
            if (form !== "weightsT") {
              assert(got === full[at], `${label}: C[${t},${i},${j}] ${got} != full ${full[at]}`);
            }
          }
        }
      }
      for (const threads of [2, 3]) {
        const many = withThreads(threads, true, () => sgemm(a, b, m, n, k, { ...o, causal }));
        assert(many.every((v, i) => Object.is(v, one[i])), `${label}: ${threads} threads`);
      }
    }
  } finally {
    await stopWorkers();
  }
});

Deno.test("sgemm causal hint: bad form, period or offset throw one-line errors", () => {
  const a = new Float32Array(64), b = new Float32Array(64);
  const bad = (causal: unknown, re: RegExp) =>
    assertThrows(() => sgemm(a, b, 8, 8, 8, { causal: causal as never }), RangeError, undefined, re.source);
  bad({ form: "mask", period: 8, offset: 0 }, /causal\.form/);
  bad({ form: "constructor", period: 8, offset: 0 }, /causal\.form/);
  bad({ form: "scores", period: 0, offset: 0 }, /causal\.period/);
  bad({ form: "scores", period: 3, offset: 0 }, /period 3 must divide m = 8/);
  bad({ form: "weightsT", period: 3, offset: 0 }, /period 3 must divide k = 8/);
  bad({ form: "weights", period: 8, offset: -1 }, /causal\.offset/);
  bad(
    { form: "weights", period: "2", offset: 0 },
    /causal\.period must be an integer in \[1, 2\^31\), got "2"/,
  );
});
