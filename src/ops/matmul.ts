/**
 * Matrix products with autograd: {@link matmul} (PyTorch `torch.matmul` semantics, batched with
 * broadcasting of batch dimensions) and {@link linear} (`torch.nn.functional.linear`, weight
 * `[out, in]`). Both run on the backend's `matmul` kernel (the SIMD sgemm of the wasm module on the
 * wasm backend); gradients use the transposed-operand flags instead of materialising transposes.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { Tensor } from "../tensor/tensor.ts";
import { sameBackend } from "../tensor/placement.ts";
import { broadcastShapes, fmtShape, shapesEqual, sizeOf } from "../tensor/shape.ts";
import { expand, reshape } from "./shape.ts";

function mm(
  a: Tensor,
  b: Tensor,
  m: number,
  n: number,
  k: number,
  o: {
    batch?: number;
    transA?: boolean;
    transB?: boolean;
    strideA?: number;
    strideB?: number;
    bias?: Tensor;
  },
  shape: readonly number[],
): Tensor {
  const st = a.backend.matmul(a.storage, b.storage, {
    m,
    n,
    k,
    batch: o.batch,
    transA: o.transA,
    transB: o.transB,
    strideA: o.strideA,
    strideB: o.strideB,
    bias: o.bias?.storage,
  });
  return Tensor.fromStorage(st, shape);
}

/** Sums a `[batch, r, c]` result over the batch when the operand was broadcast (stride 0). */
function sumBatch(t: Tensor, batch: number, r: number, c: number): Tensor {
  if (batch === 1) return t;
  return Tensor.fromStorage(t.backend.reduce("sum", t.storage, [batch, r, c], [0]), [r, c]);
}

/**
 * Core batched product for operands of rank >= 2 whose batch part is either the full broadcast batch
 * or of size 1 (the wrapper expands other cases).
 */
function batchedMatmul(a: Tensor, b: Tensor, batchShape: number[]): Tensor {
  const m = a.shape[a.ndim - 2], k = a.shape[a.ndim - 1], n = b.shape[b.ndim - 1];
  const batch = sizeOf(batchShape);
  const aBatch = sizeOf(a.shape.slice(0, -2)), bBatch = sizeOf(b.shape.slice(0, -2));
  const outShape = [...batchShape, m, n];
  if (bBatch === 1) {
    // fold A's batch into rows: one [batch·m, k] x [k, n] product
    const rows = aBatch * m;
    const out = mm(a, b, rows, n, k, {}, outShape);
    return recordOp("matmul", out, [a, b], (g, need) => [
      need[0] ? reshape(mm(g, b, rows, k, n, { transB: true }, [rows, k]), a.shape) : null,
      need[1] ? reshape(mm(a, g, k, n, rows, { transA: true }, [k, n]), b.shape) : null,
    ]);
  }
  const sa = aBatch === 1 ? 0 : m * k, sb = n * k;
  const out = mm(a, b, m, n, k, { batch, strideA: sa, strideB: sb }, outShape);
  return recordOp("matmul", out, [a, b], (g, need) => {
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (need[0]) {
      const full = mm(g, b, m, k, n, { batch, transB: true, strideA: m * n, strideB: sb }, [batch, m, k]);
      ga = reshape(aBatch === 1 ? sumBatch(full, batch, m, k) : full, a.shape);
    }
    if (need[1]) {
      const full = mm(a, g, k, n, m, { batch, transA: true, strideA: sa, strideB: m * n }, [batch, k, n]);
      gb = reshape(full, b.shape);
    }
    return [ga, gb];
  });
}

/**
 * Matrix product with `torch.matmul` semantics:
 * - 1-D · 1-D: dot product (0-d result);
 * - 2-D `[m, k]` · 2-D `[k, n]` → `[m, n]`;
 * - 1-D operands are treated as a row (left) or column (right) vector and that dimension is removed;
 * - N-D: batch dimensions (all but the last two) broadcast: `[..., m, k] · [..., k, n] → [..., m, n]`.
 *   When only `a` is batched (e.g. activations times a weight matrix) the batch is folded into one
 *   large product.
 *
 * float32 in and out; accumulation per the backend (sgemm: float32).
 *
 * @throws {RangeError} naming both shapes when the inner sizes differ, batch dimensions do not
 *   broadcast, or an operand is 0-d.
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const y = matmul(randn([4, 8, 16]), randn([16, 32])); // [4, 8, 32]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new RangeError(
      `matmul: both operands need at least 1 dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  sameBackend("matmul", { a, b });
  const ka = a.shape[a.ndim - 1];
  const kb = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (ka !== kb) {
    throw new RangeError(
      `matmul: inner sizes differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)} (${ka} vs ${kb})`,
    );
  }
  if (a.ndim === 1 || b.ndim === 1) {
    const a2 = a.ndim === 1 ? reshape(a, [1, ka]) : a;
    const b2 = b.ndim === 1 ? reshape(b, [kb, 1]) : b;
    const r = matmul(a2, b2);
    const shape = r.shape.slice();
    if (b.ndim === 1) shape.splice(shape.length - 1, 1);
    if (a.ndim === 1) shape.splice(shape.length - (b.ndim === 1 ? 1 : 2), 1);
    return reshape(r, shape);
  }
  const aB = a.shape.slice(0, -2), bB = b.shape.slice(0, -2);
  let batchShape: number[];
  try {
    batchShape = broadcastShapes(aB, bB);
  } catch {
    throw new RangeError(
      `matmul: batch dimensions of ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not broadcast`,
    );
  }
  const m = a.shape[a.ndim - 2], n = b.shape[b.ndim - 1];
  let a2 = a, b2 = b;
  const bBatch = sizeOf(bB);
  if (bBatch === 1) {
    // b acts as one matrix; a keeps its own batch (broadcast to batchShape if that is larger)
    if (!shapesEqual(aB, batchShape)) a2 = expand(a, [...batchShape, m, ka]);
    if (b.ndim > 2) b2 = reshape(b, [kb, n]);
  } else {
    if (sizeOf(aB) !== 1 && !shapesEqual(aB, batchShape)) a2 = expand(a, [...batchShape, m, ka]);
    if (!shapesEqual(bB, batchShape)) b2 = expand(b, [...batchShape, kb, n]);
    if (sizeOf(aB) === 1 && a.ndim > 2) a2 = reshape(a, [m, ka]);
  }
  return batchedMatmul(a2, b2, batchShape);
}

/**
 * Affine map `y = x · weightᵀ + bias` (PyTorch `F.linear` layout): x `[..., in]`, weight `[out, in]`,
 * bias `[out]` (optional) → `[..., out]`. Leading dimensions of x are folded into one sgemm; the bias
 * is fused into it. Gradients: `gx = g · W`, `gW = gᵀ · x`, `gb = Σ_rows g`.
 *
 * @throws {RangeError} naming the shapes when weight is not 2-D, `x.shape[-1] !== in`, or bias is not
 *   `[out]`.
 * @example
 * ```ts
 * import { randn, zeros } from "@c3a/c3a";
 *
 * const y = linear(randn([2, 5, 16]), randn([8, 16]), zeros([8])); // [2, 5, 8]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) {
    throw new RangeError(`linear: weight must be [out, in], got ${fmtShape(weight.shape)}`);
  }
  const [outF, inF] = weight.shape;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    throw new RangeError(
      `linear: input ${fmtShape(x.shape)} does not end in in_features ${inF} (weight ${
        fmtShape(weight.shape)
      })`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new RangeError(`linear: bias must be [${outF}], got ${fmtShape(bias.shape)}`);
  }
  sameBackend("linear", { input: x, weight, bias });
  const rows = x.size / inF || 0;
  const outShape = [...x.shape.slice(0, -1), outF];
  const out = mm(x, weight, rows, outF, inF, { transB: true, bias: bias ?? undefined }, outShape);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return recordOp("linear", out, inputs, (g, need) => [
    need[0] ? mm(g, weight, rows, inF, outF, {}, x.shape) : null,
    need[1] ? mm(g, x, outF, inF, rows, { transA: true }, weight.shape) : null,
    need[2] ? Tensor.fromStorage(g.backend.reduce("sum", g.storage, [rows, outF], [0]), [outF]) : null,
  ]);
}
