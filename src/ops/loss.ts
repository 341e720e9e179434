/**
 * Loss functions with PyTorch semantics: {@link crossEntropy} (log-softmax + NLL, `ignoreIndex`,
 * reductions), {@link nllLoss}, {@link mseLoss}.
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import { recordOp } from "../autograd/engine.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { fmtShape, shapesEqual, sizeOf } from "../tensor/shape.ts";
import { sameBackend } from "../tensor/placement.ts";
import { gatherLast, type IndexLike, toIndexArray } from "./indexing.ts";
import { logSoftmax } from "./softmax.ts";
import { div, mul, neg, square, sub } from "./elementwise.ts";
import { mean, sum } from "./reduce.ts";

/** How per-element losses are combined. */
export type Reduction = "mean" | "sum" | "none";

/** Options of {@link crossEntropy} and {@link nllLoss}. */
export interface CrossEntropyOptions {
  /** Target value whose rows contribute neither loss nor gradient (default -100, as PyTorch). */
  ignoreIndex?: number;
  /**
   * "mean" (default): sum over non-ignored rows divided by their count (NaN if all are ignored, as
   * PyTorch); "sum"; "none": per-row losses of shape `logits.shape[:-1]` (0 at ignored rows).
   */
  reduction?: Reduction;
}

/** Throws one line naming `what` when a target is outside `[0, classes)` and not `ignoreIndex`. */
function checkTargets(idx: Int32Array, classes: number, ignoreIndex: number, what: string): void {
  for (let r = 0; r < idx.length; r++) {
    const t = idx[r];
    if (t !== ignoreIndex && (t < 0 || t >= classes)) {
      throw new RangeError(
        `${what}: target ${t} at row ${r} is outside [0, ${classes}) and not ignoreIndex ${ignoreIndex}`,
      );
    }
  }
}

function checkReduction(r: string): void {
  if (r !== "mean" && r !== "sum" && r !== "none") {
    throw new RangeError(`reduction must be "mean", "sum" or "none", got "${r}"`);
  }
}

/**
 * Negative log-likelihood of class `targets` under log-probabilities `logProbs` `[..., C]` (class axis
 * last). Mirrors `torch.nn.functional.nll_loss` for class-last layouts.
 *
 * @throws {RangeError} when the target count differs from the number of rows, a target is outside
 *   `[0, C)` and not `ignoreIndex`, or `reduction` is unknown.
 */
export function nllLoss(logProbs: Tensor, targets: IndexLike, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? "mean";
  checkReduction(reduction);
  if (logProbs.ndim < 1) {
    throw new RangeError(`nllLoss: input must be [..., C], got ${fmtShape(logProbs.shape)}`);
  }
  const idx = toIndexArray(targets, "nllLoss targets");
  const rows = sizeOf(logProbs.shape.slice(0, -1));
  if (idx.length !== rows) {
    throw new RangeError(
      `nllLoss: ${idx.length} targets for input ${fmtShape(logProbs.shape)} (${rows} rows)`,
    );
  }
  checkTargets(idx, logProbs.shape[logProbs.ndim - 1], ignoreIndex, "nllLoss");
  const perRow = neg(gatherLast(logProbs, idx, ignoreIndex));
  if (reduction === "none") return perRow;
  const total = sum(perRow);
  if (reduction === "sum") return total;
  let count = 0;
  for (let i = 0; i < idx.length; i++) if (idx[i] !== ignoreIndex) count++;
  return div(total, count);
}

/**
 * Cross-entropy between unnormalised `logits` `[N, C]` (or `[..., C]`, classes last) and class-index
 * `targets` (`rows` integers: Int32Array, number[] or a tensor of whole numbers). The value is
 * `nllLoss(logSoftmax(logits, -1), targets)`, numerically stable; the backward is one fused
 * `s·(softmax − onehot)` that keeps only the log-probabilities between forward and backward. Mirrors
 * `torch.nn.functional.cross_entropy(logits.view(-1, C), targets.view(-1), ignore_index, reduction)`.
 *
 * @throws {RangeError} as {@link nllLoss}.
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const logits = randn([4, 5]).requiresGrad_(); // 4 rows, 5 classes
 * const loss = crossEntropy(logits, [3, 1, -100, 0]); // mean over the 3 non-ignored rows
 * loss.backward();
 * ```
 */
export function crossEntropy(logits: Tensor, targets: IndexLike, opts: CrossEntropyOptions = {}): Tensor {
  if (logits.ndim < 1) {
    throw new RangeError(`crossEntropy: logits must be [..., C], got ${fmtShape(logits.shape)}`);
  }
  const reduction = opts.reduction ?? "mean";
  checkReduction(reduction);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const idx = toIndexArray(targets, "crossEntropy targets");
  const classes = logits.shape[logits.ndim - 1], rowCount = logits.size / Math.max(classes, 1);
  if (idx.length === rowCount) checkTargets(idx, classes, ignoreIndex, "crossEntropy");
  // forward without a graph: log-probabilities y (kept for backward) and the loss from them
  const y = noGrad(() => logSoftmax(logits, -1));
  const loss = noGrad(() => nllLoss(y, idx, opts));
  const c = logits.shape[logits.ndim - 1], rows = y.size / Math.max(c, 1);
  // one fused backward: ∂loss/∂logits = s_i · (softmax(logits)_i − onehot(t_i)), s_i the row's weight
  // of the upstream gradient (0 at ignored rows). It holds y and the result only — the composed
  // logSoftmax + NLL backward held three more [rows, C] arrays (the scattered NLL gradient, exp(y) and
  // their product), the peak of a language model's step at a large vocabulary. The one-hot term is
  // added in place at each row's target (p[r, t] + (−s_r), the same float32 value as p − onehot·s).
  return recordOp("crossEntropy", loss, [logits], (g) => {
    const b = logits.backend;
    let count = 0;
    const hot = new Int32Array(rows), weight = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      if (idx[r] === ignoreIndex) {
        hot[r] = -1; // scatterLast skips the row
      } else {
        hot[r] = idx[r];
        weight[r] = 1;
        count++;
      }
    }
    const w = Tensor.fromStorage(b.fromArray(weight, true), [rows]);
    // all rows ignored: every weight is 0, so the gradient is 0 (PyTorch), not 0/0
    const sRow = mul(
      reduction === "none" ? g.reshape([rows]) : g,
      reduction === "mean" ? div(w, Math.max(count, 1)) : w,
    );
    const p = b.unary("exp", y.storage);
    b.binary("mul", p, sRow.storage, [rows, c], [c, 1], [1, 0], p);
    b.scatterLast(neg(sRow).storage, rows, c, hot, p);
    return [Tensor.fromStorage(p, logits.shape)];
  }, [y]);
}

/**
 * Mean squared error `(input − target)²`, reduced by `reduction` (default "mean" over all elements).
 * Shapes must match exactly (PyTorch warns on broadcasting; we refuse). Mirrors `F.mse_loss`.
 *
 * @throws {RangeError} naming both shapes when they differ, or for an unknown reduction.
 */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = opts.reduction ?? "mean";
  checkReduction(reduction);
  sameBackend("mseLoss", { input, target });
  if (!shapesEqual(input.shape, target.shape)) {
    throw new RangeError(
      `mseLoss: input ${fmtShape(input.shape)} and target ${fmtShape(target.shape)} differ`,
    );
  }
  const e = square(sub(input, target));
  if (reduction === "none") return e;
  return reduction === "sum" ? sum(e) : mean(e);
}
