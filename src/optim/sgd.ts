/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (PyTorch
 * `torch.optim.SGD`).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer, type ParamGroup, type ParamGroupInput } from "./optimizer.ts";
import { checkOptionKeys, keysOf } from "../util/options.ts";

/** Hyper-parameters of {@link SGD} (per group). */
export interface SGDOptions {
  /** Learning rate (default 1e-3, as PyTorch). */
  lr: number;
  /** Momentum factor μ (default 0). */
  momentum: number;
  /** Dampening τ of the momentum (default 0). */
  dampening: number;
  /** L2 penalty λ added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Maximise the objective instead (default false). */
  maximize: boolean;
}

/**
 * SGD, PyTorch's algorithm exactly: `g ← ∇ (+ λ·θ)`; with momentum `b ← g` on the first step, then
 * `b ← μ·b + (1−τ)·g`; `g ← g + μ·b` (Nesterov) or `g ← b`; `θ ← θ − lr·g`. Parameters without a
 * gradient are skipped. Updates run as backend kernels in place.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@c3a/c3a";
 *
 * const model = new nn.Linear(4, 2);
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * const loss = model.forward(randn([8, 4])).square().mean();
 * loss.backward(); opt.step(); opt.zeroGrad();
 * ```
 */
export class SGD extends Optimizer<SGDOptions> {
  /**
   * Creates a SGD.
   *
   * @param params tensors or parameter groups (each may override any option).
   * @param opts defaults for every group.
   * @throws {RangeError} for a negative lr / momentum / weightDecay, or Nesterov without momentum or
   *   with dampening.
   * @throws {TypeError} for an unknown option key (e.g. `weight_decay`), named with the key meant.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDOptions>>,
    opts: Partial<SGDOptions> = {},
  ) {
    checkOptionKeys(
      "SGD",
      opts,
      keysOf<SGDOptions>({
        lr: true,
        momentum: true,
        dampening: true,
        weightDecay: true,
        nesterov: true,
        maximize: true,
      }),
    );
    super(params, {
      lr: opts.lr ?? 1e-3,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  /**
   * Checks a parameter group's hyper-parameters.
   *
   * @throws {RangeError} for invalid hyper-parameters.
   */
  protected override validateGroup(g: ParamGroup<SGDOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`Invalid learning rate: ${g.lr}`);
    if (!(g.momentum >= 0)) throw new RangeError(`Invalid momentum value: ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`Invalid weightDecay value: ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError("Nesterov momentum requires a momentum and zero dampening");
    }
  }

  /** One SGD update of every parameter with a gradient. */
  step(): void {
    for (const g of this.paramGroups) {
      const { lr, momentum, dampening, weightDecay, nesterov, maximize } = g;
      for (const p of g.params) {
        if (p.grad === null) continue;
        const b = p.backend;
        const temps = [];
        let d = p.grad.storage;
        if (maximize) temps.push(d = b.binaryScalar("mul", d, -1));
        if (weightDecay !== 0) temps.push(d = b.axpby(d, 1, p.storage, weightDecay));
        if (momentum !== 0) {
          let st = this.state.get(p);
          if (!st) this.state.set(p, st = {});
          let buf = st.momentumBuffer as Tensor | undefined;
          if (!buf) st.momentumBuffer = buf = this.stateCopy(p, d);
          else b.axpby(buf.storage, momentum, d, 1 - dampening, buf.storage);
          if (nesterov) temps.push(d = b.axpby(d, 1, buf.storage, momentum));
          else d = buf.storage;
        }
        b.axpby(p.storage, 1, d, -lr, p.storage);
        for (const t of temps) b.dispose(t);
      }
    }
  }
}
