/**
 * Learning-rate schedulers: PyTorch's `LambdaLR` and the warm-up schedules of Hugging Face
 * `transformers.optimization` (`get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup`,
 * `get_constant_schedule_with_warmup`).
 *
 * A scheduler multiplies each parameter group's *initial* learning rate by a factor that depends on the
 * step count. Like PyTorch, constructing a scheduler records `initialLr` on every group and
 * immediately applies the factor for step 0; call {@link LRScheduler.step} once after every
 * `optimizer.step()`.
 *
 * @module
 */

/** What a scheduler needs from an optimizer: its parameter groups, each with a mutable `lr`. */
export interface SchedulableOptimizer {
  /** Parameter groups; the scheduler reads and writes `lr` and sets `initialLr` once. */
  paramGroups: Array<{ lr: number; initialLr?: number }>;
}

/** Serializable scheduler state (see {@link LRScheduler.stateDict}). */
export interface LRSchedulerState {
  /** Number of `step()` calls so far (0 right after construction). */
  lastEpoch: number;
  /** Base learning rates (one per parameter group). */
  baseLrs: number[];
}

/**
 * Base class of learning-rate schedulers (PyTorch `torch.optim.lr_scheduler.LRScheduler`).
 * Subclasses implement {@link LRScheduler.getLr} and call `initialStep()` at the end of their constructor.
 */
export abstract class LRScheduler {
  /** The optimizer whose groups' `lr` this scheduler sets. */
  readonly optimizer: SchedulableOptimizer;
  /** Initial learning rate of each group (PyTorch `base_lrs`). */
  baseLrs: number[];
  /** Step counter: 0 after construction, incremented by every {@link LRScheduler.step}. */
  lastEpoch: number;
  #lastLr: number[] = [];

  /**
   * Creates a LRScheduler.
   *
   * @param optimizer optimizer with `paramGroups`.
   * @param lastEpoch index of the last step when resuming (-1 = fresh start, as in PyTorch). When
   *   resuming (`lastEpoch >= 0`) every group must already carry `initialLr`.
   * @throws {Error} if resuming and a group lacks `initialLr`.
   */
  constructor(optimizer: SchedulableOptimizer, lastEpoch = -1) {
    this.optimizer = optimizer;
    if (lastEpoch === -1) {
      for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    } else {
      optimizer.paramGroups.forEach((g, i) => {
        if (g.initialLr === undefined) {
          throw new Error(
            `param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer`,
          );
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /**
   * Applies the step-0 learning rates (PyTorch `_initial_step`). Every concrete subclass calls this at
   * the end of its constructor, once the state `getLr` needs is initialised.
   */
  protected initialStep(): void {
    this.step();
  }

  /** Learning rates for the current `lastEpoch`, one per group. */
  abstract getLr(): number[];

  /** Advances the step counter by one and writes the new learning rates into the optimizer groups. */
  step(): void {
    this.lastEpoch += 1;
    const lrs = this.getLr();
    this.optimizer.paramGroups.forEach((g, i) => g.lr = lrs[i]);
    this.#lastLr = lrs.slice();
  }

  /** The learning rates set by the last {@link LRScheduler.step} (PyTorch `get_last_lr()`). */
  getLastLr(): number[] {
    return this.#lastLr.slice();
  }

  /** Scheduler state for checkpointing. */
  stateDict(): LRSchedulerState {
    return { lastEpoch: this.lastEpoch, baseLrs: this.baseLrs.slice() };
  }

  /** Restores {@link LRScheduler.stateDict} output; does not touch the optimizer's current `lr`. */
  loadStateDict(state: LRSchedulerState): void {
    this.lastEpoch = state.lastEpoch;
    this.baseLrs = state.baseLrs.slice();
    this.#lastLr = this.getLr();
  }
}

/**
 * `lr = initialLr * lambda(step)` for each group (PyTorch `LambdaLR`).
 *
 * @example
 * ```ts
 * import { nn, optim } from "@c3a/c3a";
 *
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = new LambdaLR(opt, (step) => 0.95 ** step);
 * for (let step = 0; step < 3; step++) { opt.step(); sched.step(); } // lr: 0.1, 0.095, 0.09025, ...
 * ```
 */
export class LambdaLR extends LRScheduler {
  #lambdas: Array<(step: number) => number> = [];

  /**
   * Creates a LambdaLR.
   *
   * @param optimizer optimizer with `paramGroups`.
   * @param lrLambda one function for all groups, or one per group.
   * @param lastEpoch see {@link LRScheduler}.
   * @throws {RangeError} if a list of lambdas does not have one entry per group.
   */
  constructor(
    optimizer: SchedulableOptimizer,
    lrLambda: ((step: number) => number) | Array<(step: number) => number>,
    lastEpoch = -1,
  ) {
    const n = optimizer.paramGroups.length;
    let lambdas: Array<(step: number) => number>;
    if (Array.isArray(lrLambda)) {
      if (lrLambda.length !== n) {
        throw new RangeError(`expected ${n} lrLambdas (one per param group), got ${lrLambda.length}`);
      }
      lambdas = lrLambda.slice();
    } else {
      lambdas = Array.from({ length: n }, () => lrLambda);
    }
    super(optimizer, lastEpoch);
    this.#lambdas = lambdas;
    this.initialStep();
  }

  /** `baseLr * lambda(lastEpoch)` per group. */
  getLr(): number[] {
    return this.baseLrs.map((lr, i) => lr * this.#lambdas[i](this.lastEpoch));
  }
}

function checkSteps(numWarmupSteps: number, numTrainingSteps?: number): void {
  if (!Number.isInteger(numWarmupSteps) || numWarmupSteps < 0) {
    throw new RangeError(`numWarmupSteps must be an integer >= 0, got ${numWarmupSteps}`);
  }
  if (numTrainingSteps !== undefined && (!Number.isInteger(numTrainingSteps) || numTrainingSteps < 0)) {
    throw new RangeError(`numTrainingSteps must be an integer >= 0, got ${numTrainingSteps}`);
  }
}

/**
 * Linear warm-up from 0 to the initial lr over `numWarmupSteps`, then linear decay to 0 at
 * `numTrainingSteps` (transformers `get_linear_schedule_with_warmup`):
 * factor(s) = s / max(1, W) for s < W, else max(0, (N - s) / max(1, N - W)).
 *
 * @throws {RangeError} if a step count is not a non-negative integer.
 * @example
 * ```ts
 * import { nn, optim } from "@c3a/c3a";
 *
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = getLinearScheduleWithWarmup(opt, 10, 100); // 10 warm-up steps of 100
 * ```
 */
export function getLinearScheduleWithWarmup(
  optimizer: SchedulableOptimizer,
  numWarmupSteps: number,
  numTrainingSteps: number,
  lastEpoch = -1,
): LambdaLR {
  checkSteps(numWarmupSteps, numTrainingSteps);
  return new LambdaLR(optimizer, (s) => {
    if (s < numWarmupSteps) return s / Math.max(1, numWarmupSteps);
    return Math.max(0, (numTrainingSteps - s) / Math.max(1, numTrainingSteps - numWarmupSteps));
  }, lastEpoch);
}

/**
 * Linear warm-up, then a cosine decay to 0 (transformers `get_cosine_schedule_with_warmup`):
 * factor(s) = s / max(1, W) for s < W, else with p = (s - W) / max(1, N - W):
 * max(0, 0.5 · (1 + cos(π · numCycles · 2 · p))). The default `numCycles = 0.5` is a half cosine
 * from 1 down to 0. Past `numTrainingSteps` the formula is not clamped at 0 for every `numCycles` (for
 * 0.5 the factor rises again), exactly as in transformers: stop stepping at N.
 *
 * @throws {RangeError} if a step count is not a non-negative integer.
 * @example
 * ```ts
 * import { nn, optim } from "@c3a/c3a";
 *
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = getCosineScheduleWithWarmup(opt, 10, 100); // 10 warm-up steps of 100
 * ```
 */
export function getCosineScheduleWithWarmup(
  optimizer: SchedulableOptimizer,
  numWarmupSteps: number,
  numTrainingSteps: number,
  numCycles = 0.5,
  lastEpoch = -1,
): LambdaLR {
  checkSteps(numWarmupSteps, numTrainingSteps);
  return new LambdaLR(optimizer, (s) => {
    if (s < numWarmupSteps) return s / Math.max(1, numWarmupSteps);
    const p = (s - numWarmupSteps) / Math.max(1, numTrainingSteps - numWarmupSteps);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * p)));
  }, lastEpoch);
}

/**
 * Linear warm-up, then constant (transformers `get_constant_schedule_with_warmup`):
 * factor(s) = s / max(1, W) for s < W, else 1.
 *
 * @throws {RangeError} if `numWarmupSteps` is not a non-negative integer.
 */
export function getConstantScheduleWithWarmup(
  optimizer: SchedulableOptimizer,
  numWarmupSteps: number,
  lastEpoch = -1,
): LambdaLR {
  checkSteps(numWarmupSteps);
  return new LambdaLR(optimizer, (s) => s < numWarmupSteps ? s / Math.max(1, numWarmupSteps) : 1, lastEpoch);
}
