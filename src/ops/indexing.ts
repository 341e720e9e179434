/**
 * Integer-index ops with autograd: {@link gatherLast} (one element per row, the core of NLL /
 * cross-entropy) and {@link indexSelect} along axis 0 (embedding lookup). Index data is an
 * `Int32Array` (or number[] / a float tensor holding integers), validated here before the kernel runs.
 *
 * @module
 */

import { recordOp } from "../autograd/engine.ts";
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, sizeOf } from "../tensor/shape.ts";

/** Integer indices accepted by the indexing ops and losses. */
export type IndexLike = Int32Array | readonly number[] | Tensor;

/**
 * Converts indices to an Int32Array, checking that each is an integer.
 *
 * @throws {RangeError} naming the first non-integer entry.
 */
export function toIndexArray(idx: IndexLike, what: string): Int32Array {
  if (idx instanceof Int32Array) return idx;
  const src: ArrayLike<number> = idx instanceof Tensor ? idx.dataSync() : idx;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new RangeError(`${what}: index ${i} is ${v}, not an int32 integer`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * `out[..., 0] = x[..., index[r]]` per row: picks one element along the last axis for each of the
 * `rows = x.size / C` rows of `x` `[..., C]`, giving shape `x.shape[:-1]`. Entries equal to `ignore`
 * (when given) give 0 and receive no gradient. Mirrors `torch.gather(x, -1, index[..., None])`.
 *
 * @throws {RangeError} when the index count differs from the row count or an index is outside
 *   `[0, C)` (and not `ignore`).
 */
export function gatherLast(x: Tensor, index: IndexLike, ignore?: number): Tensor {
  if (x.ndim === 0) throw new RangeError("gatherLast: x must have at least 1 dimension");
  const c = x.shape[x.ndim - 1];
  const rows = c === 0 ? sizeOf(x.shape.slice(0, -1)) : x.size / c;
  const raw = toIndexArray(index, "gatherLast");
  if (raw.length !== rows) {
    throw new RangeError(`gatherLast: ${raw.length} indices for ${rows} rows of x ${fmtShape(x.shape)}`);
  }
  const idx = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const t = raw[r];
    if (ignore !== undefined && t === ignore) idx[r] = -1;
    else if (t < 0 || t >= c) {
      throw new RangeError(
        `gatherLast: index ${t} at row ${r} is out of range [0, ${c}) for x ${fmtShape(x.shape)}`,
      );
    } else idx[r] = t;
  }
  const out = Tensor.fromStorage(x.backend.gatherLast(x.storage, rows, c, idx), x.shape.slice(0, -1));
  return recordOp("gatherLast", out, [x], (g) => [
    Tensor.fromStorage(g.backend.scatterLast(g.storage, rows, c, idx), x.shape),
  ]);
}

/**
 * Rows of `x` `[N, ...rest]` picked by `index` (shape `indexShape`, default `[index.length]`):
 * result `[...indexShape, ...rest]`. Gradient scatter-adds into the picked rows (repeated indices
 * accumulate). Mirrors `torch.index_select(x, 0, index)` / `F.embedding(index, x)`.
 *
 * @throws {RangeError} for indices outside `[0, N)` or an `indexShape` whose size differs from the
 *   index count.
 */
export function indexSelect(x: Tensor, index: IndexLike, indexShape?: readonly number[]): Tensor {
  if (x.ndim === 0) throw new RangeError("indexSelect: x must have at least 1 dimension");
  const idx = toIndexArray(index, "indexSelect");
  const n = x.shape[0];
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= n) {
      throw new RangeError(
        `indexSelect: index ${idx[i]} at position ${i} is out of range [0, ${n}) for x ${fmtShape(x.shape)}`,
      );
    }
  }
  const ishape = indexShape ?? (index instanceof Tensor ? index.shape : [idx.length]);
  if (sizeOf(ishape) !== idx.length) {
    throw new RangeError(`indexSelect: index shape ${fmtShape(ishape)} does not hold ${idx.length} indices`);
  }
  const rest = x.shape.slice(1);
  const rowSize = sizeOf(rest);
  const out = Tensor.fromStorage(x.backend.indexSelectRows(x.storage, rowSize, idx), [...ishape, ...rest]);
  return recordOp("indexSelect", out, [x], (g) => [
    Tensor.fromStorage(g.backend.indexAddRows(g.storage, n, rowSize, idx), x.shape),
  ]);
}
