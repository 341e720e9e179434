/**
 * Containers: `ModuleList`, `Sequential`, `ModuleDict`, `ParameterDict` (PyTorch `torch.nn` classes of
 * the same names). Their entries are stored as own properties named by index or key, so the dotted
 * names of their contents are PyTorch's (`"layers.0.mlp"`, `"c3a_kernel.default"`).
 *
 * @module
 */

import { Module } from "./module.ts";
import { Parameter } from "./parameter.ts";

function checkKey(key: string, what: string): void {
  if (typeof key !== "string" || key === "" || key.includes(".")) {
    throw new TypeError(`${what}: key must be a non-empty string without ".", got ${JSON.stringify(key)}`);
  }
}

/**
 * An indexable list of modules whose children are named `"0"`, `"1"`, … Mirrors
 * `torch.nn.ModuleList`. Iterable; `length`, `at(i)`, `push`, `extend`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@c3a/c3a";
 *
 * const layers = new ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 4)]);
 * let x = randn([2, 4]);
 * for (const l of layers) x = l.forward(x);
 * ```
 */
export class ModuleList<M extends Module = Module> extends Module {
  #length = 0;

  /**
   * Creates a ModuleList.
   *
   * @param modules initial entries.
   */
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Number of entries. */
  get length(): number {
    return this.#length;
  }

  /**
   * Entry `i` (negative counts from the end).
   *
   * @throws {RangeError} when out of range.
   */
  at(i: number): M {
    const j = i < 0 ? i + this.#length : i;
    if (!Number.isInteger(j) || j < 0 || j >= this.#length) {
      throw new RangeError(`ModuleList index ${i} is out of range for length ${this.#length}`);
    }
    return (this as unknown as Record<string, M>)[String(j)];
  }

  /**
   * Replaces entry `i`.
   *
   * @throws {RangeError} when out of range; {@link TypeError} when `m` is not a Module.
   */
  set(i: number, m: M): void {
    this.at(i);
    if (!(m instanceof Module)) throw new TypeError("ModuleList.set: value is not a Module");
    (this as unknown as Record<string, M>)[String(i < 0 ? i + this.#length : i)] = m;
  }

  /**
   * Appends `m`; returns this. Mirrors `ModuleList.append`.
   *
   * @throws {TypeError} when `m` is not a Module.
   */
  push(m: M): this {
    if (!(m instanceof Module)) throw new TypeError("ModuleList: entries must be Modules");
    (this as unknown as Record<string, M>)[String(this.#length)] = m;
    this.#length++;
    return this;
  }

  /** Appends every module of `ms`; returns this. */
  extend(ms: Iterable<M>): this {
    for (const m of ms) this.push(m);
    return this;
  }

  /** Iterates the entries in order. */
  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.#length; i++) yield (this as unknown as Record<string, M>)[String(i)];
  }

  /** ModuleList has no forward (PyTorch behaviour); {@link Sequential} overrides it. @throws {Error} always. */
  // deno-lint-ignore no-explicit-any
  override forward(..._args: any[]): any {
    throw new Error("ModuleList is a container and has no forward(); iterate it instead");
  }
}

/**
 * Modules applied in order: `forward(x)` = `mN(…m1(m0(x)))`. Children named `"0"`, `"1"`, …
 * Mirrors `torch.nn.Sequential`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@c3a/c3a";
 *
 * const net = new Sequential(new nn.Linear(10, 20), new nn.ReLU(), new nn.Linear(20, 2));
 * const y = net.forward(randn([3, 10])); // [3, 2]
 * ```
 */
export class Sequential extends ModuleList {
  /**
   * Creates a Sequential.
   *
   * @param modules the stages, in order.
   */
  constructor(...modules: Module[]) {
    super(modules);
  }

  /** Passes `x` through every stage in order and returns the last output. */
  // deno-lint-ignore no-explicit-any
  override forward(x: any): any {
    let y = x;
    for (const m of this) y = m.forward(y);
    return y;
  }
}

/**
 * Modules by string key (children named by key, in insertion order). Mirrors `torch.nn.ModuleDict`.
 */
export class ModuleDict<M extends Module = Module> extends Module {
  /**
   * Creates a ModuleDict.
   *
   * @param entries initial `[key, module]` pairs or a record.
   */
  constructor(entries: Iterable<[string, M]> | Record<string, M> = []) {
    super();
    const it = Symbol.iterator in (entries as object)
      ? (entries as Iterable<[string, M]>)
      : Object.entries(entries as Record<string, M>);
    for (const [k, m] of it) this.set(k, m);
  }

  /**
   * Adds or replaces entry `key`.
   *
   * @throws {TypeError} for an empty key, one containing ".", or a value that is not a Module.
   */
  set(key: string, m: M): void {
    checkKey(key, "ModuleDict");
    if (!(m instanceof Module)) throw new TypeError(`ModuleDict: value for "${key}" is not a Module`);
    (this as unknown as Record<string, M>)[key] = m;
  }

  /** Entry `key`, or undefined. */
  get(key: string): M | undefined {
    const v = Object.hasOwn(this, key) ? (this as unknown as Record<string, unknown>)[key] : undefined;
    return v instanceof Module ? v as M : undefined;
  }

  /** True when `key` holds a module. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Removes entry `key`; returns whether it existed. */
  delete(key: string): boolean {
    if (!this.has(key)) return false;
    delete (this as unknown as Record<string, unknown>)[key];
    return true;
  }

  /** Keys in insertion order. */
  keys(): string[] {
    return this.namedChildren().map(([k]) => k);
  }

  /** `[key, module]` pairs. */
  entries(): Array<[string, M]> {
    return this.namedChildren() as Array<[string, M]>;
  }

  /** Number of entries. */
  get size(): number {
    return this.keys().length;
  }
}

/**
 * Parameters by string key, named `"<dict>.<key>"` in state dicts (PEFT stores per-adapter weights
 * this way, e.g. `c3a_kernel.default`). Mirrors `torch.nn.ParameterDict`.
 */
export class ParameterDict extends Module {
  /**
   * Creates a ParameterDict.
   *
   * @param entries initial `[key, parameter]` pairs or a record.
   */
  constructor(entries: Iterable<[string, Parameter]> | Record<string, Parameter> = []) {
    super();
    const it = Symbol.iterator in (entries as object)
      ? (entries as Iterable<[string, Parameter]>)
      : Object.entries(entries as Record<string, Parameter>);
    for (const [k, p] of it) this.set(k, p);
  }

  /**
   * Adds or replaces entry `key`.
   *
   * @throws {TypeError} for an empty key, one containing ".", or a value that is not a Parameter.
   */
  set(key: string, p: Parameter): void {
    checkKey(key, "ParameterDict");
    if (!(p instanceof Parameter)) {
      throw new TypeError(`ParameterDict: value for "${key}" is not a Parameter`);
    }
    (this as unknown as Record<string, Parameter>)[key] = p;
  }

  /** Entry `key`, or undefined. */
  get(key: string): Parameter | undefined {
    const v = Object.hasOwn(this, key) ? (this as unknown as Record<string, unknown>)[key] : undefined;
    return v instanceof Parameter ? v : undefined;
  }

  /** True when `key` holds a parameter. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Removes entry `key`; returns whether it existed. */
  delete(key: string): boolean {
    if (!this.has(key)) return false;
    delete (this as unknown as Record<string, unknown>)[key];
    return true;
  }

  /** Keys in insertion order. */
  keys(): string[] {
    return this.namedParameters("", false).map(([k]) => k);
  }

  /** `[key, parameter]` pairs. */
  entries(): Array<[string, Parameter]> {
    return this.namedParameters("", false);
  }

  /** Number of entries. */
  get size(): number {
    return this.keys().length;
  }

  /** ParameterDict has no forward. @throws {Error} always. */
  override forward(): never {
    throw new Error("ParameterDict is a container and has no forward()");
  }
}
