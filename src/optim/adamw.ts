/**
 * Adam and AdamW (PyTorch `torch.optim.Adam` / `torch.optim.AdamW`; Kingma & Ba 2015, Loshchilov &
 * Hutter 2019).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer, type ParamGroup, type ParamGroupInput } from "./optimizer.ts";
import { checkOptionKeys, keysOf } from "../util/options.ts";

/** Hyper-parameters of {@link AdamW} / {@link Adam} (per group). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients (β1, β2) of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps: number;
  /** Weight decay λ: decoupled `θ ← θ·(1 − lr·λ)` in AdamW (default 1e-2), L2 `g ← g + λθ` in Adam (default 0). */
  weightDecay: number;
  /** Use the maximum of past second moments (AMSGrad; default false). */
  amsgrad: boolean;
  /** Maximise the objective instead (default false). */
  maximize: boolean;
}

function adamDefaults(opts: Partial<AdamOptions>, wd: number, where: string): AdamOptions {
  checkOptionKeys(
    where,
    opts,
    keysOf<AdamOptions>({
      lr: true,
      betas: true,
      eps: true,
      weightDecay: true,
      amsgrad: true,
      maximize: true,
    }),
  );
  return {
    lr: opts.lr ?? 1e-3,
    betas: opts.betas ?? [0.9, 0.999],
    eps: opts.eps ?? 1e-8,
    weightDecay: opts.weightDecay ?? wd,
    amsgrad: opts.amsgrad ?? false,
    maximize: opts.maximize ?? false,
  };
}

/**
 * Shared implementation of {@link Adam} and {@link AdamW} (they differ only in how weight decay is applied).
 */
export abstract class AdamBase extends Optimizer<AdamOptions> {
  /** True for AdamW (decay applied to the weights), false for Adam (decay added to the gradient). */
  protected abstract readonly decoupled: boolean;

  /**
   * Checks a parameter group's hyper-parameters.
   *
   * @throws {RangeError} for invalid hyper-parameters (PyTorch's messages).
   */
  protected override validateGroup(g: ParamGroup<AdamOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`Invalid learning rate: ${g.lr}`);
    if (!(g.eps >= 0)) throw new RangeError(`Invalid epsilon value: ${g.eps}`);
    const [b1, b2] = g.betas;
    if (!(b1 >= 0 && b1 < 1)) throw new RangeError(`Invalid beta parameter at index 0: ${b1}`);
    if (!(b2 >= 0 && b2 < 1)) throw new RangeError(`Invalid beta parameter at index 1: ${b2}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`Invalid weightDecay value: ${g.weightDecay}`);
  }

  /**
   * One update of every parameter with a gradient (PyTorch's single-tensor algorithm):
   * `t ← t+1; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
   * θ ← θ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)`, with weight decay applied first (decoupled
   * for AdamW, added to g for Adam). Runs as one fused pass per parameter when the backend has
   * `adamStep`, else as a sequence of elementwise kernels.
   */
  step(): void {
    for (const g of this.paramGroups) {
      const { lr, eps, weightDecay, amsgrad, maximize } = g;
      const [beta1, beta2] = g.betas;
      for (const p of g.params) {
        if (p.grad === null) continue;
        const b = p.backend;
        if (b.supports("adamStep") && p.grad.backend === b) {
          // fused backend kernel: one pass over param, grad and state
          let st = this.state.get(p);
          if (!st) {
            st = { step: 0, expAvg: this.stateZeros(p), expAvgSq: this.stateZeros(p) };
            this.state.set(p, st);
          }
          const step = (st.step as number) + 1;
          st.step = step;
          const vmax = amsgrad ? ((st.maxExpAvgSq ??= this.stateZeros(p)) as Tensor).storage : null;
          b.adamStep(
            p.storage,
            p.grad.storage,
            (st.expAvg as Tensor).storage,
            (st.expAvgSq as Tensor).storage,
            vmax,
            {
              lr,
              beta1,
              beta2,
              eps,
              weightDecay,
              step,
              decoupled: this.decoupled,
              maximize,
            },
          );
          continue;
        }
        const temps = [];
        let grad = p.grad.storage;
        if (maximize) temps.push(grad = b.binaryScalar("mul", grad, -1));
        let st = this.state.get(p);
        if (!st) {
          st = { step: 0, expAvg: this.stateZeros(p), expAvgSq: this.stateZeros(p) };
          if (amsgrad) st.maxExpAvgSq = this.stateZeros(p);
          this.state.set(p, st);
        }
        if (weightDecay !== 0) {
          if (this.decoupled) b.binaryScalar("mul", p.storage, 1 - lr * weightDecay, false, p.storage);
          else temps.push(grad = b.axpby(grad, 1, p.storage, weightDecay));
        }
        const step = (st.step as number) + 1;
        st.step = step;
        const m = (st.expAvg as Tensor).storage, v = (st.expAvgSq as Tensor).storage;
        b.axpby(m, beta1, grad, 1 - beta1, m);
        const g2 = Optimizer.ew(b, "mul", grad, grad);
        b.axpby(v, beta2, g2, 1 - beta2, v);
        b.dispose(g2);
        const bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step;
        let vUse = v;
        if (amsgrad) {
          const vmax = (st.maxExpAvgSq ??= this.stateZeros(p)) as Tensor;
          Optimizer.ew(b, "max", vmax.storage, v, vmax.storage);
          vUse = vmax.storage;
        }
        const denom = b.unary("sqrt", vUse);
        b.binaryScalar("mul", denom, 1 / Math.sqrt(bc2), false, denom);
        b.binaryScalar("add", denom, eps, false, denom);
        Optimizer.ew(b, "div", m, denom, denom);
        b.axpby(p.storage, 1, denom, -lr / bc1, p.storage);
        b.dispose(denom);
        for (const t of temps) b.dispose(t);
      }
    }
  }
}

/**
 * AdamW: Adam with decoupled weight decay, PyTorch semantics (`θ ← θ·(1 − lr·λ)` before the Adam step,
 * bias-corrected moments). Defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2. Groups
 * may override every option (e.g. no decay on norms and biases).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@c3a/c3a";
 *
 * const model = new nn.Linear(4, 2);
 * const params = model.namedParameters();
 * const decayed = params.filter(([n]) => !n.endsWith("bias")).map(([, p]) => p);
 * const noDecay = params.filter(([n]) => n.endsWith("bias")).map(([, p]) => p);
 * const opt = new AdamW([
 *   { params: decayed, weightDecay: 0.01 },
 *   { params: noDecay, weightDecay: 0 },
 * ], { lr: 3e-4 });
 * const loss = model.forward(randn([8, 4])).square().mean();
 * loss.backward(); opt.step(); opt.zeroGrad();
 * ```
 */
export class AdamW extends AdamBase {
  /** Decay is applied to the weights, not the gradient. */
  protected readonly decoupled = true;
  /**
   * Creates a AdamW.
   *
   * @param params tensors or parameter groups.
   * @param opts defaults for every group.
   * @throws {RangeError} for invalid hyper-parameters.
   * @throws {TypeError} for an unknown option key (e.g. `weight_decay`), named with the key meant.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamOptions>>,
    opts: Partial<AdamOptions> = {},
  ) {
    super(params, adamDefaults(opts, 1e-2, "AdamW"));
  }
}

/**
 * Adam with (coupled) L2 weight decay `g ← g + λθ`, PyTorch semantics; defaults as {@link AdamW}
 * except weightDecay 0.
 */
export class Adam extends AdamBase {
  /** Decay is added to the gradient. */
  protected readonly decoupled = false;
  /**
   * Creates a Adam.
   *
   * @param params tensors or parameter groups.
   * @param opts defaults for every group.
   * @throws {RangeError} for invalid hyper-parameters.
   * @throws {TypeError} for an unknown option key (e.g. `weight_decay`), named with the key meant.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamOptions>>,
    opts: Partial<AdamOptions> = {},
  ) {
    super(params, adamDefaults(opts, 0, "Adam"));
  }
}
