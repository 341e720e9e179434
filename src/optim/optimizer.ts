/**
 * `Optimizer`: the base class of SGD / Adam / AdamW (PyTorch `torch.optim.Optimizer`): parameter
 * groups with their own hyper-parameters, per-parameter state, `zeroGrad`, `stateDict`.
 *
 * Updates run as backend kernels on the parameters' storage, in place (no autograd graph), so the same
 * code runs on every backend. State tensors are kept out of `tidy` scopes.
 *
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
import { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { fmtShape } from "../tensor/shape.ts";
import { checkOptionKeys } from "../util/options.ts";

/** A parameter group as given to an optimizer: tensors plus optional per-group hyper-parameters. */
export type ParamGroupInput<H> = { params: Iterable<Tensor> } & Partial<H>;

/** A parameter group as stored: the tensors, every hyper-parameter, and `initialLr` once scheduled. */
export type ParamGroup<H> = H & { params: Tensor[]; initialLr?: number };

/** Per-parameter optimizer state: step counts and state tensors (momentum buffers, moments). */
export type ParamState = Record<string, number | Tensor>;

/** Serializable optimizer state (see {@link Optimizer.stateDict}). */
export interface OptimizerStateDict {
  /** State by parameter index (position over all groups, in order); tensors as `{shape, data}`. */
  state: Record<number, Record<string, number | { shape: number[]; data: Float32Array }>>;
  /** Hyper-parameters of each group, with `params` as parameter indices. */
  paramGroups: Array<Record<string, unknown> & { params: number[] }>;
}

/**
 * Base class of the optimizers. Subclasses implement {@link Optimizer.step}.
 *
 * @typeParam H the hyper-parameters of a group (always including `lr`).
 */
export abstract class Optimizer<H extends { lr: number }> {
  /** Parameter groups (mutable: schedulers write `lr`). */
  paramGroups: Array<ParamGroup<H>> = [];
  /** Default hyper-parameters for groups that do not set them. */
  readonly defaults: H;
  /** State per parameter (filled lazily by `step`). */
  state: Map<Tensor, ParamState> = new Map();

  /**
   * Creates a Optimizer.
   *
   * @param params tensors (one group) or groups `{params, ...hyperParameterOverrides}`.
   * @param defaults hyper-parameters used where a group does not set them.
   * @throws {Error} when a parameter appears twice, or the parameter list is empty.
   * @throws {TypeError} when an entry is not a Tensor.
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<H>>, defaults: H) {
    this.defaults = { ...defaults };
    const list = [...params] as Array<Tensor | ParamGroupInput<H>>;
    if (list.length === 0) throw new Error("optimizer got an empty parameter list");
    if (list.every((p) => p instanceof Tensor)) {
      this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupInput<H>);
    } else for (const g of list) this.addParamGroup(g as ParamGroupInput<H>);
  }

  /**
   * Adds a group (hyper-parameters default to {@link Optimizer.defaults}). Mirrors
   * `Optimizer.add_param_group`.
   *
   * @throws {Error} when one of its tensors already belongs to a group.
   * @throws {TypeError} when an entry is not a Tensor, or for a key that is neither `params`, `initialLr`
   *   nor a hyper-parameter of this optimizer (e.g. `weight_decay`; the message names the key meant).
   */
  addParamGroup(group: ParamGroupInput<H>): void {
    if (group instanceof Tensor || !group || !(Symbol.iterator in Object(group.params))) {
      throw new TypeError("a parameter group must be an object {params: Tensor[], ...}");
    }
    checkOptionKeys(`${this.constructor.name} parameter group`, group, [
      "params",
      ...Object.keys(this.defaults),
      "initialLr",
    ]);
    const params = [...group.params];
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new TypeError(`optimizer params must be Tensors, got ${typeof p}`);
      if (seen.has(p)) throw new Error("some parameters appear in more than one parameter group");
      if (!p.isLeaf) throw new Error(`can't optimize a non-leaf Tensor (shape ${fmtShape(p.shape)})`);
      seen.add(p);
    }
    const g = { ...this.defaults, ...group, params } as ParamGroup<H>;
    this.validateGroup(g);
    this.paramGroups.push(g);
  }

  /** Checks a group's hyper-parameters; subclasses throw RangeError for invalid values. */
  protected validateGroup(_group: ParamGroup<H>): void {}

  /**
   * Clears the gradients of every parameter (`grad = null` by default, like PyTorch's
   * `set_to_none=True`; false zeroes them in place).
   */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad === null) continue;
        if (setToNone) p.grad = null;
        else p.backend.binaryScalar("mul", p.grad.storage, 0, false, p.grad.storage);
      }
    }
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** A zero-initialised state tensor shaped like `p`, kept out of `tidy` scopes. */
  protected stateZeros(p: Tensor): Tensor {
    return keep(Tensor.fromStorage(p.backend.full(p.size, 0), p.shape));
  }

  /** A state tensor holding a copy of `s` (same size as `p`), kept out of `tidy` scopes. */
  protected stateCopy(p: Tensor, s: Storage): Tensor {
    const st = p.backend.full(p.size, 0);
    p.backend.copy(s, st);
    return keep(Tensor.fromStorage(st, p.shape));
  }

  /** `[n]` elementwise binary kernel on equal-size storages (optionally in place into `out`). */
  protected static ew(b: Backend, op: "mul" | "div" | "max", x: Storage, y: Storage, out?: Storage): Storage {
    return b.binary(op, x, y, [x.size], [1], [1], out);
  }

  /**
   * The optimizer's state: per-parameter state (tensors copied to `{shape, data}`) and group
   * hyper-parameters with parameter indices. Mirrors `Optimizer.state_dict()`.
   */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict["state"] = {};
    const groups: OptimizerStateDict["paramGroups"] = [];
    let idx = 0;
    for (const g of this.paramGroups) {
      const { params, ...hyper } = g;
      const ids: number[] = [];
      for (const p of params) {
        const s = this.state.get(p);
        if (s) {
          const out: Record<string, number | { shape: number[]; data: Float32Array }> = {};
          for (const [k, v] of Object.entries(s)) {
            out[k] = v instanceof Tensor ? { shape: v.shape.slice(), data: v.dataSync().slice() } : v;
          }
          state[idx] = out;
        }
        ids.push(idx++);
      }
      groups.push({ ...structuredClone(hyper), params: ids });
    }
    return { state, paramGroups: groups };
  }

  /**
   * Restores {@link Optimizer.stateDict} output onto an optimizer built over the same parameters
   * (same group sizes and order). Mirrors `Optimizer.load_state_dict`.
   *
   * @throws {RangeError} when the group count, a group's size, or a state tensor's size differs.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(
        `loaded state dict has ${sd.paramGroups.length} parameter groups, the optimizer has ${this.paramGroups.length}`,
      );
    }
    sd.paramGroups.forEach((g, i) => {
      if (g.params.length !== this.paramGroups[i].params.length) {
        throw new RangeError(
          `loaded state dict group ${i} has ${g.params.length} parameters, the optimizer's has ${
            this.paramGroups[i].params.length
          }`,
        );
      }
    });
    const newState = new Map<Tensor, ParamState>();
    sd.paramGroups.forEach((g, gi) => {
      const mine = this.paramGroups[gi];
      g.params.forEach((id, j) => {
        const p = mine.params[j];
        const s = sd.state[id];
        if (!s) return;
        const ps: ParamState = {};
        for (const [k, v] of Object.entries(s)) {
          if (typeof v === "number") ps[k] = v;
          else {
            if (v.data.length !== p.size) {
              throw new RangeError(
                `state "${k}" of parameter ${id} has ${v.data.length} elements, the parameter ${p.size}`,
              );
            }
            ps[k] = keep(Tensor.fromStorage(p.backend.fromArray(v.data.slice(), true), p.shape));
          }
        }
        newState.set(p, ps);
      });
    });
    sd.paramGroups.forEach((g, gi) => {
      const { params: _ids, ...hyper } = g;
      Object.assign(this.paramGroups[gi], structuredClone(hyper));
    });
    this.state = newState;
  }
}
