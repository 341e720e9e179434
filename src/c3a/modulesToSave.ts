/**
 * `ModulesToSaveWrapper`: PEFT's wrapper for `modules_to_save` (spec §3.6) — the original module is
 * kept frozen and each adapter gets its own fully trainable copy, used while that adapter is active.
 * Also {@link cloneModule}, the deep copy it needs.
 *
 * @module
 */

import { Module } from "../nn/module.ts";
import { Parameter } from "../nn/parameter.ts";
import { ModuleDict } from "../nn/container.ts";
import { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { ValueError } from "./errors.ts";

/**
 * A deep copy of a module (PyTorch `copy.deepcopy`): same class and structure, new Parameters and
 * buffers with copied values (same `requiresGrad`), submodules copied recursively, shared
 * (tied) parameters and modules stay shared within the copy, other properties copied by reference.
 * A bfloat16 / float16 parameter (a frozen base weight, `torchDtype`) is copied as float32, so the
 * copy can be trained (`modules_to_save`).
 *
 * How: the copy is created with the module's prototype by running only the base `Module`
 * constructor (subclass constructors are not re-run), then own enumerable properties are copied. A
 * subclass that keeps state in its own private (`#`) fields cannot be copied this way; give it a
 * `clone(): this` method, which is used instead when present.
 *
 * @param m the module to copy
 * @returns an independent copy
 */
export function cloneModule<M extends Module>(m: M, memo: Map<unknown, unknown> = new Map()): M {
  if (memo.has(m)) return memo.get(m) as M;
  const custom = (m as unknown as { clone?: unknown }).clone;
  if (typeof custom === "function") {
    const c = (custom as () => M).call(m);
    memo.set(m, c);
    return c;
  }
  const copy = Reflect.construct(Module, [], m.constructor) as M;
  memo.set(m, copy);
  const buffers = new Map(m.namedBuffers("", false));
  const persistent = new Set(Object.keys(m.stateDict()));
  for (const [key, value] of Object.entries(m)) {
    const v = copyValue(value, memo);
    if (value instanceof Tensor && !(value instanceof Parameter) && buffers.get(key) === value) {
      copy.registerBuffer(key, v as Tensor, persistent.has(key));
    } else (copy as unknown as Record<string, unknown>)[key] = v;
  }
  copy.train(m.training);
  return copy;
}

function copyValue(v: unknown, memo: Map<unknown, unknown>): unknown {
  if (v === null || typeof v !== "object") return v;
  if (memo.has(v)) return memo.get(v);
  if (v instanceof Module) return cloneModule(v, memo);
  if (v instanceof Parameter) {
    // a 16-bit (frozen base) weight is copied as float32: the copy is trained
    const p = new Parameter(
      noGrad(() => v.dtype === "float32" ? v.detach().clone() : v.float()),
      v.requiresGrad,
    );
    memo.set(v, p);
    return p;
  }
  if (v instanceof Tensor) {
    const t = keep(noGrad(() => v.detach().clone()));
    memo.set(v, t);
    return t;
  }
  if (Array.isArray(v) && v.some((e) => e instanceof Module || e instanceof Tensor)) {
    const arr = v.map((e) => copyValue(e, memo));
    memo.set(v, arr);
    return arr;
  }
  return v;
}

/**
 * Wraps a module listed in `modules_to_save` (PEFT `ModulesToSaveWrapper`). Children, named as in
 * PEFT: `original_module` (frozen) and `modules_to_save.<adapter>` (a trainable copy per adapter).
 * Forward runs the active adapter's copy, or the original when adapters are disabled or the active
 * adapter has no copy. Saved in adapter files as `<path>.<sub-key>` (the
 * `modules_to_save.<adapter>.` part removed).
 */
export class ModulesToSaveWrapper extends Module {
  /** The module as it was in the base model (frozen). */
  original_module: Module;
  /** One copy per adapter name. */
  modules_to_save: ModuleDict;
  #active: string | null;
  #disabled = false;

  /**
   * Wrap `module` and give `adapterName` its copy.
   *
   * @param module the module to wrap
   * @param adapterName the first adapter (gets a copy and becomes active)
   */
  constructor(module: Module, adapterName: string) {
    super();
    this.original_module = module;
    this.modules_to_save = new ModuleDict();
    this.#active = adapterName;
    this.update(adapterName);
  }

  /** The adapter whose copy forward uses (PEFT `active_adapter`), or null. */
  get activeAdapter(): string | null {
    return this.#active;
  }

  /** Whether forward uses the original module (adapters disabled). */
  get disableAdapters(): boolean {
    return this.#disabled;
  }

  /**
   * Add a copy of the original module for `adapterName` (PEFT `update`): the original is frozen; the
   * copy is trainable when `adapterName` is the active adapter, frozen otherwise.
   */
  update(adapterName: string): void {
    const copy = cloneModule(this.original_module);
    this.modules_to_save.set(adapterName, copy);
    this.original_module.requiresGrad_(false);
    copy.requiresGrad_(adapterName === this.#active);
  }

  /**
   * Make `names` active (PEFT `set_adapter`): its copy trainable (unless `inferenceMode`), others and
   * the original frozen. An empty list deactivates all copies.
   *
   * @throws {ValueError} more than one name (`Attempted to set multiple (...) adapters at once for
   *   modules_to_save, which is not allowed.`)
   */
  setAdapter(names: string | readonly string[], inferenceMode = false): void {
    const list = typeof names === "string" ? [names] : [...names];
    if (list.length > 1) {
      throw new ValueError(
        `Attempted to set multiple (${list.join(", ")}) adapters at once for modules_to_save, which is not ` +
          "allowed. Activate a single adapter when the model has modules_to_save.",
      );
    }
    this.original_module.requiresGrad_(false);
    for (const [k, m] of this.modules_to_save.entries()) m.requiresGrad_(k === list[0] && !inferenceMode);
    this.#active = list.length === 0 ? null : list[0];
  }

  /** Enable or disable the copies (disabled → forward uses the original). */
  enableAdapters(enabled: boolean): void {
    this.#disabled = !enabled;
  }

  /** Remove the copy of `adapterName`; if it was active, no copy is active afterwards. */
  deleteAdapter(adapterName: string): void {
    this.modules_to_save.delete(adapterName);
    if (this.#active === adapterName) this.#active = null;
  }

  /** The module forward uses right now. */
  get activeModule(): Module {
    if (this.#disabled || this.#active === null) return this.original_module;
    return this.modules_to_save.get(this.#active) ?? this.original_module;
  }

  /** Forward of {@link ModulesToSaveWrapper.activeModule}, same arguments. */
  // deno-lint-ignore no-explicit-any
  override forward(...args: any[]): any {
    return this.activeModule.forward(...args);
  }
}
