/**
 * The generic tuner machinery, independent of the adapter kind (PEFT separates it as `BaseTuner` in
 * `tuners_utils.py` from `tuners/c3a`): a log of reversible model edits so that a failed injection
 * is rolled back ({@link EditLog}), freezing every parameter except the adapters'
 * ({@link markOnlyAdaptersAsTrainable}) and counting trainable parameters
 * ({@link countParameters}). The C3A specifics (targets, layers, configs) are in model.ts and
 * layer.ts.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import type { Parameter } from "../nn/parameter.ts";

/**
 * Reversible edits of a model: each edit records how to undo it; {@link EditLog.undo} undoes them
 * last first, runs `onUndo`, then restores every parameter's `requiresGrad` as it was when the log
 * was created.
 */
export class EditLog {
  readonly #steps: Array<() => void> = [];
  readonly #flags: Array<[Parameter, boolean]>;
  readonly #onUndo: () => void;

  /**
   * @param model the model whose parameters' `requiresGrad` flags are restored by {@link EditLog.undo}
   * @param onUndo run after the edits are undone (e.g. to forget the adapter's config)
   */
  constructor(model: Module, onUndo: () => void = () => {}) {
    this.#flags = model.parameters().map((p): [Parameter, boolean] => [p, p.requiresGrad]);
    this.#onUndo = onUndo;
  }

  /** Records how to undo an edit just made. */
  push(undo: () => void): void {
    this.#steps.push(undo);
  }

  /** Undoes the recorded edits (last first; each once), runs `onUndo`, restores the flags. */
  undo(): void {
    for (let i = this.#steps.length - 1; i >= 0; i--) this.#steps[i]();
    this.#steps.length = 0;
    this.#onUndo();
    for (const [p, rg] of this.#flags) p.requiresGrad = rg;
  }
}

/**
 * Freezes every parameter of `model` that is not in `adapterParams` (PEFT
 * `_mark_only_adapters_as_trainable`, before the bias rules of the adapter kind); parameters in the
 * set keep their flag.
 */
export function markOnlyAdaptersAsTrainable(model: Module, adapterParams: ReadonlySet<Parameter>): void {
  for (const p of model.parameters()) if (!adapterParams.has(p)) p.requiresGrad = false;
}

/**
 * `[trainable, all]` parameter element counts of `model` (PEFT `get_nb_trainable_parameters`); tied
 * parameters count once.
 */
export function countParameters(model: Module): [number, number] {
  let trainable = 0;
  let all = 0;
  for (const p of model.parameters()) {
    all += p.size;
    if (p.requiresGrad) trainable += p.size;
  }
  return [trainable, all];
}
