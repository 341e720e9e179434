/**
 * Gradient clipping by global norm (PyTorch `torch.nn.utils.clip_grad_norm_`).
 *
 * @module
 */

import { checkOptionKeys, keysOf } from "../util/options.ts";
import { getBackend, type Storage } from "../backend/backend.ts";
import { Tensor } from "../tensor/tensor.ts";
import { sameBackend } from "../tensor/placement.ts";

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** p of the p-norm: 2 (default), any p > 0, or Infinity (max |g|). */
  normType?: number;
  /** Throw when the total norm is NaN or infinite (default false: the gradients become NaN/0). */
  errorIfNonfinite?: boolean;
}

/**
 * Rescales the gradients of `params` in place so that their global norm (the norm of all gradients
 * concatenated) is at most `maxNorm`: every gradient is multiplied by `min(1, maxNorm / (total + 1e-6))`.
 * Parameters without a gradient are ignored. Runs as backend kernels (no host read unless
 * `errorIfNonfinite`). Mirrors `torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)`.
 *
 * @returns the total norm before clipping, a 0-d float32 Tensor (`.item()` for a number), 0 when no
 *   parameter has a gradient.
 * @throws {RangeError} when `maxNorm` is negative or not a number, or `normType` is not > 0.
 * @throws {Error} with `errorIfNonfinite` when the norm is NaN or infinite.
 * @example
 * ```ts
 * import { nn, optim, randn } from "@c3a/c3a";
 *
 * const model = new nn.Linear(4, 2), opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const loss = model.forward(randn([8, 4])).square().mean();
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 1.0).item(); // total norm before clipping
 * opt.step();
 * ```
 */
export function clipGradNorm(
  params: Iterable<Tensor>,
  maxNorm: number,
  opts: ClipGradNormOptions = {},
): Tensor {
  checkOptionKeys(
    "clipGradNorm",
    opts,
    keysOf<ClipGradNormOptions>({ normType: true, errorIfNonfinite: true }),
  );
  const p = opts.normType ?? 2;
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  if (!(p > 0)) throw new RangeError(`clipGradNorm: normType must be > 0 or Infinity, got ${p}`);
  const grads = [...params].map((t) => t.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return Tensor.fromStorage(getBackend().full(1, 0), []);
  const b = grads[0].backend;
  let acc: Storage | null = null;
  for (const g of grads) {
    if (g.backend !== b) {
      sameBackend("clipGradNorm", { "grads[0]": grads[0], [`grads[${grads.indexOf(g)}]`]: g });
    }
    if (g.size === 0) continue;
    const a = b.unary("abs", g.storage);
    let part: Storage;
    if (p === Infinity) part = b.reduce("max", a, [g.size], [0]);
    else {
      const pw = p === 1
        ? a
        : p === 2
        ? b.binary("mul", a, a, [g.size], [1], [1])
        : b.binaryScalar("pow", a, p);
      part = b.reduce("sum", pw, [g.size], [0]);
      if (pw !== a) b.dispose(pw);
    }
    b.dispose(a);
    if (acc === null) acc = part;
    else {
      if (p === Infinity) b.binary("max", acc, part, [1], [1], [1], acc);
      else b.axpby(acc, 1, part, 1, acc);
      b.dispose(part);
    }
  }
  const total: Storage = acc ?? b.full(1, 0);
  if (p !== Infinity && p !== 1) b.binaryScalar("pow", total, 1 / p, false, total);
  if (opts.errorIfNonfinite) {
    const v = b.readSync(total)[0];
    if (!Number.isFinite(v)) {
      throw new Error(
        `The total norm of order ${p} for gradients from \`parameters\` is non-finite (${v}), so it cannot be clipped`,
      );
    }
  }
  // coef = min(1, maxNorm / (total + 1e-6))
  const coef = b.binaryScalar("add", total, 1e-6);
  b.binaryScalar("div", coef, maxNorm, true, coef);
  b.binaryScalar("min", coef, 1, false, coef);
  for (const g of grads) if (g.size > 0) b.binary("mul", g.storage, coef, [g.size], [1], [0], g.storage);
  b.dispose(coef);
  return Tensor.fromStorage(total, []);
}
