/**
 * Matrix products whose B operand is 16-bit storage (a frozen bfloat16 / float16 weight, see
 * `DType`): `C = op(A) · op(B)` (+ C when accumulating) with B converted to float32 one column tile
 * of op(B) at a time, straight into wasm memory, and each tile multiplied by the SIMD sgemm
 * ({@link sgemmPtr}). No float32 copy of the whole weight ever exists: besides A and C, wasm memory
 * holds one tile of about {@link HALF_TILE_BYTES} bytes; A and C go through in row blocks when they
 * exceed the shared operand cap (`residentCap()` of ./memory.ts). The forward of a Linear layer (`x · Wᵀ`,
 * transB) converts rows of W; its input gradient (`g · W`) converts column blocks of W.
 *
 * @module
 */

import type { MatmulAttrs } from "../kernels.ts";
import { f32view, residentCap, Scratch } from "./memory.ts";
import { sgemmPtr } from "./gemm.ts";
import type { HalfArray } from "./half_array.ts";
import { decodeHalf } from "../../io/half.ts";

/** Bytes of one converted float32 tile of B (its width is a multiple of 8 columns of op(B)). */
export const HALF_TILE_BYTES = 1 << 20;

/**
 * `C[t] = op(A[t]) · op(B[t])` (+ C[t] when `accumulate`) for the batch of `p`, B 16-bit. `c` is
 * `[batch, m, n]`, written in place. Same shapes and strides as the `matmul` kernel.
 */
export function sgemmHalfB(
  a: Float32Array,
  b: HalfArray,
  c: Float32Array,
  p: MatmulAttrs,
  accumulate: boolean,
): void {
  const { m, n, k, batch, transA, transB, strideA, strideB } = p;
  if (m === 0 || n === 0 || k === 0) return;
  const nt = Math.min(n, Math.max(8, Math.floor(HALF_TILE_BYTES / (4 * k) / 8) * 8));
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
      const pb = s.alloc(nt * k * 4);
      for (let j0 = 0; j0 < n; j0 += nt) {
        const w = Math.min(nt, n - j0);
        const tile = f32view(pb, w * k);
        if (transB) {
          // B stored [n, k]: rows j0..j0+w are the tile, contiguous
          decodeHalf(bits.subarray(ob + j0 * k, ob + (j0 + w) * k), b.dtype, tile);
        } else {
          // B stored [k, n]: columns j0..j0+w of every row, packed as a [k, w] tile
          for (let q = 0; q < k; q++) {
            const src = ob + q * n + j0;
            decodeHalf(bits.subarray(src, src + w), b.dtype, tile, q * w);
          }
        }
        sgemmPtr(pa, pb, pc + 4 * j0, rows, w, k, {
          transA,
          transB,
          lda: transA ? m : k,
          ldb: transB ? k : w,
          ldc: n,
          accumulate,
        });
      }
      cRows.set(f32view(pc, rows * n));
    }
  }
}
