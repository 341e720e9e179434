/**
 * Matrix products whose B operand is 16-bit storage (a frozen bfloat16 / float16 weight, see
 * `DType`): `C = op(A) · op(B)` (+ C when accumulating) with B converted to float32 one tile of
 * whole rows of the stored B at a time, straight into wasm memory, and each tile multiplied by the SIMD
 * sgemm ({@link sgemmPtr}). No float32 copy of the whole weight ever exists: besides A and C, wasm memory
 * holds one tile of about {@link HALF_TILE_BYTES} bytes; A and C go through in row blocks when they
 * exceed the shared operand cap (`residentCap()` of ./memory.ts). The forward of a Linear layer (`x · Wᵀ`,
 * transB) gets C column blocks from rows of W; its input gradient (`g · W`) sums the products of
 * k-ranges (rows of W) into C, so its float32 rounding differs slightly from one sgemm call.
 *
 * @module
 */

import type { MatmulAttrs } from "../kernels.ts";
import { f32view, residentCap, Scratch } from "./memory.ts";
import { circulantPtr, sgemmPtr } from "./gemm.ts";
import type { HalfArray } from "./half_array.ts";
import { decodeHalf } from "../../io/half.ts";

/** Bytes of one converted float32 tile of B (a multiple of 8 rows of the stored B). */
export const HALF_TILE_BYTES = 1 << 20;

/**
 * `C[t] = op(A[t]) · op(B[t])` (+ C[t] when `accumulate`) for the batch of `p`, B 16-bit. `c` is
 * `[batch, m, n]`, written in place. Same shapes and strides as the `matmul` kernel. With `add` (batch
 * 1), the block-circulant matrix of a C3A kernel is added to each converted tile of B as the sgemm packs
 * it (the `circulantMatmul` kernel on a 16-bit weight; sgemm's `addCirculant`).
 */
export function sgemmHalfB(
  a: Float32Array,
  b: HalfArray,
  c: Float32Array,
  p: MatmulAttrs,
  accumulate: boolean,
  add?: { kernel: Float32Array; blockSize: number },
): void {
  const { m, n, k, batch, transA, transB, strideA, strideB } = p;
  if (m === 0 || n === 0 || k === 0) return;
  using ks = new Scratch();
  const circ = add === undefined
    ? undefined
    : circulantPtr(ks, add.kernel, add.blockSize, (transB ? k : n) / add.blockSize, transB);
  // transB (x·Wᵀ, W [n, k]): tiles of whole rows of W = columns of C, each C column block written once.
  // Otherwise (g·W, W [k, n]): tiles of whole rows of W = a k-range, accumulated into C; both tile kinds
  // are contiguous in W and keep the products wide (all of n, or many columns).
  const per = transB ? k : n;
  const span = transB ? n : k;
  const tileRows = Math.min(span, Math.max(8, Math.floor(HALF_TILE_BYTES / (4 * per) / 8) * 8));
  // row blocks of A and C (only without transA: A's rows are then contiguous)
  const block = transA ? m : Math.max(16, Math.min(m, Math.floor(residentCap() / ((k + n) * 4))));
  const bits = b.bits;
  for (let t = 0; t < batch; t++) {
    const oa = t * strideA, ob = t * strideB, oc = t * m * n;
    for (let i0 = 0; i0 < m; i0 += block) {
      const rows = Math.min(block, m - i0);
      using s = new Scratch();
      const pa = transA
        ? s.copyIn(a.subarray(oa, oa + k * m))
        : s.copyIn(a.subarray(oa + i0 * k, oa + (i0 + rows) * k));
      const cRows = c.subarray(oc + i0 * n, oc + (i0 + rows) * n);
      const pc = accumulate ? s.copyIn(cRows) : s.alloc(rows * n * 4);
      const pb = s.alloc(tileRows * per * 4);
      for (let r0 = 0; r0 < span; r0 += tileRows) {
        const w = Math.min(tileRows, span - r0);
        decodeHalf(bits.subarray(ob + r0 * per, ob + (r0 + w) * per), b.dtype, f32view(pb, w * per));
        if (transB) {
          sgemmPtr(pa, pb, pc + 4 * r0, rows, w, k, {
            transA,
            transB,
            lda: transA ? m : k,
            ldb: k,
            ldc: n,
            accumulate,
            addCirculant: circ && { ...circ, colOff: r0 },
          });
        } else {
          // C (+)= op(A)[:, r0:r0+w] · W[r0:r0+w, :]
          const aOff = transA ? r0 * m : r0;
          sgemmPtr(pa + 4 * aOff, pb, pc, rows, n, w, {
            transA,
            lda: transA ? m : k,
            ldb: n,
            ldc: n,
            accumulate: accumulate || r0 > 0,
            addCirculant: circ && { ...circ, rowOff: r0 },
          });
        }
      }
      cRows.set(f32view(pc, rows * n));
    }
  }
}
