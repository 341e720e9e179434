/**
 * `Module`, the base class of every layer and model (PyTorch `torch.nn.Module`).
 *
 * Children are discovered, not registered: every own enumerable property of a module whose value is
 * a {@link Module} is a child, a {@link Parameter} is a parameter, and a Tensor registered with
 * {@link Module.registerBuffer} is a buffer. Plain arrays of modules or parameters also count, their
 * elements named by index (`"blocks.0"`), so both `this.layers = new ModuleList([...])` and
 * `this.layers = [...]` give PyTorch's dotted names (`"model.layers.0.self_attn.q_proj"`). Other
 * properties (numbers, configs, plain tensors) are ignored, as in PyTorch. Internal state lives in
 * private fields, so it never shows up as a child.
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, shapesEqual, sizeOf } from "../tensor/shape.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { keep } from "../tensor/scope.ts";
import { Parameter } from "./parameter.ts";
import { type BackendLike, resolveBackend } from "../tensor/placement.ts";

/**
 * A state-dict value accepted by {@link Module.loadStateDict}: a Tensor, the `{shape, data}`
 * records `decodeSafetensors`/`loadSafetensors` return (float32 data, row-major), or a
 * `{shape, readInto}` source that writes its float32 values into the array it is given (a tensor of
 * an opened safetensors file, read straight into the parameter's storage: no copy of the file).
 */
export type StateDictValue =
  | Tensor
  | { readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly shape: readonly number[]; readInto(dst: Float32Array): void };

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /**
   * When true (default) every key of the module's state dict must be present in the given one and
   * vice versa; otherwise an Error lists the missing and unexpected keys. Shape mismatches always throw.
   */
  strict?: boolean;
}

/** What {@link Module.loadStateDict} reports (PyTorch's `_IncompatibleKeys`). */
export interface LoadStateDictResult {
  /** Keys of the module's state dict that the given dict lacked (left unchanged). */
  missingKeys: string[];
  /** Keys of the given dict that the module does not have (ignored). */
  unexpectedKeys: string[];
}

/** A value reachable by a dotted path: a module, a parameter/buffer, or an array slot. */
type Slot = { owner: Record<string, unknown> | unknown[]; key: string | number };

function isModuleArray(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.some((e) => e instanceof Module || e instanceof Parameter);
}

/**
 * Base class of layers and models. Subclasses assign children, parameters and buffers as ordinary
 * properties and implement `forward`. Mirrors `torch.nn.Module` (names in camelCase).
 *
 * @example
 * ```ts
 * import { nn, type Tensor } from "@c3a/c3a";
 *
 * class Net extends Module {
 *   lin0 = new nn.Linear(10, 20);
 *   lin1 = new nn.Linear(20, 2);
 *   override forward(x: Tensor): Tensor { return this.lin1.forward(this.lin0.forward(x).relu()); }
 * }
 * const net = new Net();
 * net.namedParameters().map(([n]) => n); // ["lin0.weight", "lin0.bias", "lin1.weight", "lin1.bias"]
 * ```
 */
export class Module {
  #training = true;
  /** Names of own properties registered as buffers -> persistent (saved in the state dict). */
  #buffers = new Map<string, boolean>();

  /**
   * The module's computation. Subclasses override it with their own signature.
   *
   * @throws {Error} when the subclass did not implement it.
   */
  // deno-lint-ignore no-explicit-any
  forward(..._args: any[]): any {
    throw new Error(`${this.constructor.name} has no forward() implementation`);
  }

  // ---------------------------------------------------------------- mode

  /** True in training mode (the default), false after {@link Module.eval}. Affects dropout. */
  get training(): boolean {
    return this.#training;
  }

  /** Sets training mode on this module and every descendant; returns this. Mirrors `Module.train()`. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.#training = mode;
    return this;
  }

  /** Same as `train(false)`. Mirrors `Module.eval()`. */
  eval(): this {
    return this.train(false);
  }

  // ---------------------------------------------------------------- registration helpers

  /**
   * Registers `tensor` as a buffer named `name` (a non-trainable tensor saved in the state dict when
   * `persistent`, e.g. running statistics, rotary tables when persistent). `null` registers the name
   * with no value. Mirrors `Module.register_buffer`.
   *
   * @throws {TypeError} when `name` is empty, contains ".", or is already a child/parameter.
   */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    checkName(name);
    const cur = (this as unknown as Record<string, unknown>)[name];
    if (cur instanceof Module || cur instanceof Parameter) {
      throw new TypeError(
        `registerBuffer: "${name}" is already a ${cur instanceof Module ? "submodule" : "parameter"}`,
      );
    }
    (this as unknown as Record<string, unknown>)[name] = tensor;
    this.#buffers.set(name, persistent);
  }

  /**
   * Sets property `name` to `param` (same as assigning it; for computed names). Mirrors
   * `Module.register_parameter`.
   *
   * @throws {TypeError} for an empty name or one containing ".".
   */
  registerParameter(name: string, param: Parameter | null): void {
    checkName(name);
    (this as unknown as Record<string, unknown>)[name] = param;
  }

  /**
   * Sets property `name` to `module` (same as assigning it; for computed names). Mirrors
   * `Module.add_module`/`register_module`.
   *
   * @throws {TypeError} for an empty name or one containing ".".
   */
  registerModule(name: string, module: Module | null): void {
    checkName(name);
    (this as unknown as Record<string, unknown>)[name] = module;
  }

  // ---------------------------------------------------------------- discovery

  /**
   * Direct children as `[name, module]`, in property order; elements of a plain array property are
   * named `"<prop>.<index>"`. Mirrors `Module.named_children()`.
   */
  namedChildren(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (isModuleArray(v)) {
        v.forEach((e, i) => {
          if (e instanceof Module) out.push([`${k}.${i}`, e]);
        });
      }
    }
    return out;
  }

  /** Direct children (see {@link Module.namedChildren}). */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and all descendants, pre-order, as `[dottedName, module]` (this module has name
   * `prefix`, "" by default). A module reachable twice is listed once. Mirrors `Module.named_modules()`.
   */
  namedModules(prefix = ""): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const walk = (m: Module, name: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [k, c] of m.namedChildren()) walk(c, name === "" ? k : `${name}.${k}`);
    };
    walk(this, prefix);
    return out;
  }

  /** All modules (this one first), see {@link Module.namedModules}. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Own (non-recursive) parameters as `[name, param]`, including `"<prop>.<i>"` for arrays. */
  #ownParameters(): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Parameter) out.push([k, v]);
      else if (isModuleArray(v)) {
        v.forEach((e, i) => {
          if (e instanceof Parameter) out.push([`${k}.${i}`, e]);
        });
      }
    }
    return out;
  }

  /** Own buffers as `[name, tensor, persistent]` (registered names whose value is a Tensor). */
  #ownBuffers(): Array<[string, Tensor, boolean]> {
    const out: Array<[string, Tensor, boolean]> = [];
    for (const [k, persistent] of this.#buffers) {
      const v = (this as unknown as Record<string, unknown>)[k];
      if (v instanceof Tensor) out.push([k, v, persistent]);
    }
    return out;
  }

  /**
   * Every parameter as `[dottedName, parameter]` (e.g. `"model.layers.0.self_attn.q_proj.weight"`),
   * modules in pre-order, each module's own parameters in property order. A parameter shared by two
   * modules (tied weights) is listed once, under its first name. Frozen parameters
   * (`requiresGrad` false) are included. Mirrors `Module.named_parameters()`.
   *
   * @param prefix prepended (with ".") to every name.
   * @param recurse false lists only this module's own parameters.
   */
  namedParameters(prefix = "", recurse = true): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    const seen = new Set<Tensor>();
    const mods: Array<[string, Module]> = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [mname, m] of mods) {
      for (const [k, p] of m.#ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([mname === "" ? k : `${mname}.${k}`, p]);
      }
    }
    return out;
  }

  /** All parameters (see {@link Module.namedParameters}). Mirrors `Module.parameters()`. */
  parameters(recurse = true): Parameter[] {
    return this.namedParameters("", recurse).map(([, p]) => p);
  }

  /**
   * Every registered buffer (persistent or not) as `[dottedName, tensor]`. Mirrors
   * `Module.named_buffers()`.
   */
  namedBuffers(prefix = "", recurse = true): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const mods: Array<[string, Module]> = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [mname, m] of mods) {
      for (const [k, b] of m.#ownBuffers()) {
        if (seen.has(b)) continue;
        seen.add(b);
        out.push([mname === "" ? k : `${mname}.${k}`, b]);
      }
    }
    return out;
  }

  /** All buffers (see {@link Module.namedBuffers}). */
  buffers(recurse = true): Tensor[] {
    return this.namedBuffers("", recurse).map(([, b]) => b);
  }

  // ---------------------------------------------------------------- state dict

  /**
   * Parameters and persistent buffers by dotted name, in {@link Module.namedModules} order. Unlike
   * {@link Module.namedParameters}, a tied parameter appears under every name (as in PyTorch). Values
   * are detached tensors sharing storage with the module (writes through them change the module).
   * Mirrors `Module.state_dict()`.
   *
   * @param prefix prepended (with ".") to every key.
   */
  stateDict(prefix = ""): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const walk = (m: Module, name: string, path: Set<Module>) => {
      if (path.has(m)) return; // cycle guard
      path.add(m);
      const pre = name === "" ? "" : `${name}.`;
      for (const [k, p] of m.#ownParameters()) out[pre + k] = p.detach();
      for (const [k, b, persistent] of m.#ownBuffers()) if (persistent) out[pre + k] = b.detach();
      for (const [k, c] of m.namedChildren()) walk(c, pre + k, path);
      path.delete(m);
    };
    walk(this, prefix, new Set());
    return out;
  }

  /**
   * Copies values from `stateDict` into this module's parameters and persistent buffers, in place
   * (under no-grad, keeping the same Parameter objects, so optimizers stay attached). Values may be
   * Tensors or `{shape, data}` records as `loadSafetensors` returns.
   *
   * Errors (Error, listing every problem at once, in PyTorch's wording):
   * - any shape mismatch (always): `size mismatch for <key>: copying a param with shape [a, b] from
   *   checkpoint, the shape in current model is [c, d].`
   * - with `strict` (default true): `Missing key(s) in state_dict: "k1", "k2".` and
   *   `Unexpected key(s) in state_dict: "k3".`
   * Nothing is copied when an error is thrown. Mirrors `Module.load_state_dict(state_dict, strict)`.
   *
   * @returns the missing and unexpected keys (both empty in strict mode, which would have thrown).
   * @throws {Error} as described; {@link RangeError} when a `{shape, data}` record's data length does
   *   not match its shape.
   */
  loadStateDict(
    stateDict: Record<string, StateDictValue>,
    opts: LoadStateDictOptions = {},
  ): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missingKeys: string[] = [];
    const unexpectedKeys: string[] = [];
    const errors: string[] = [];
    const plan: Array<[Tensor, StateDictValue]> = [];
    for (const [k, t] of Object.entries(own)) {
      if (!Object.hasOwn(stateDict, k)) {
        missingKeys.push(k);
        continue;
      }
      const v = stateDict[k];
      if (!(v instanceof Tensor)) {
        const source = v && "readInto" in v && typeof v.readInto === "function";
        if (!v || !Array.isArray(v.shape) || !(source || ("data" in v && v.data instanceof Float32Array))) {
          throw new TypeError(
            `loadStateDict: value for "${k}" is neither a Tensor, a {shape, data: Float32Array} nor a ` +
              "{shape, readInto}",
          );
        }
        if ("data" in v && v.data.length !== sizeOf(v.shape)) {
          throw new RangeError(
            `loadStateDict: value for "${k}" has shape ${
              fmtShape(v.shape)
            } but ${v.data.length} data elements`,
          );
        }
      }
      if (!shapesEqual(v.shape, t.shape)) {
        errors.push(
          `size mismatch for ${k}: copying a param with shape ${fmtShape(v.shape)} from checkpoint, ` +
            `the shape in current model is ${fmtShape(t.shape)}.`,
        );
        continue;
      }
      plan.push([t, v]);
    }
    for (const k of Object.keys(stateDict)) if (!Object.hasOwn(own, k)) unexpectedKeys.push(k);
    if (strict) {
      if (unexpectedKeys.length > 0) {
        errors.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}.`);
      }
      if (missingKeys.length > 0) {
        errors.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}.`);
      }
    }
    if (errors.length > 0) {
      throw new Error(
        `Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join("\n\t")}`,
      );
    }
    noGrad(() => {
      for (const [t, v] of plan) {
        if (t.dtype !== "float32" || (v instanceof Tensor && v.dtype !== "float32")) {
          // 16-bit on either side: converted by copy_ (to 16 bits: round to nearest even)
          let host: Float32Array | null = null;
          if (!(v instanceof Tensor)) {
            if ("data" in v) host = v.data;
            else v.readInto(host = new Float32Array(t.size)); // one tensor's float32 values at a time
          }
          t.copy_(v instanceof Tensor ? v : Tensor.fromStorage(t.backend.fromArray(host!, true), t.shape));
        } else if (v instanceof Tensor) {
          if (v.backend === t.backend) t.backend.copy(v.storage, t.storage);
          else t.backend.copy(t.backend.fromArray(v.dataSync()), t.storage);
        } else if ("data" in v) {
          const tmp = t.backend.fromArray(v.data);
          t.backend.copy(tmp, t.storage);
          t.backend.dispose(tmp);
        } else if (t.backend.name === "wasm") {
          // the wasm executor's readSync is the storage array itself: read the values straight in
          v.readInto(t.backend.readSync(t.storage));
        } else {
          const host = new Float32Array(t.size);
          v.readInto(host);
          const tmp = t.backend.fromArray(host, true);
          t.backend.copy(tmp, t.storage);
          t.backend.dispose(tmp);
        }
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---------------------------------------------------------------- paths

  #resolve(path: string, what: string): Slot {
    const parts = path.split(".");
    // deno-lint-ignore no-this-alias
    let cur: unknown = this;
    let walked = "";
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      let owner: Record<string, unknown> | unknown[];
      let key: string | number;
      if (Array.isArray(cur)) {
        const idx = Number(part);
        if (!Number.isInteger(idx) || idx < 0 || idx >= cur.length || String(idx) !== part) {
          throw new Error(
            `${what}: "${walked}" has no index "${part}" (length ${cur.length}) in path "${path}"`,
          );
        }
        owner = cur;
        key = idx;
      } else if (cur instanceof Module) {
        if (!Object.hasOwn(cur, part)) {
          throw new Error(
            `${what}: ${
              walked === "" ? "the module" : `"${walked}"`
            } (${cur.constructor.name}) has no attribute ` +
              `"${part}" in path "${path}"`,
          );
        }
        owner = cur as unknown as Record<string, unknown>;
        key = part;
      } else {
        throw new Error(`${what}: "${walked}" is not a module in path "${path}"`);
      }
      if (i === parts.length - 1) return { owner, key };
      cur = (owner as Record<string | number, unknown>)[key];
      walked = walked === "" ? part : `${walked}.${part}`;
    }
    throw new Error(`${what}: empty path`);
  }

  /**
   * The descendant module at dotted `path` (`""` is this module), e.g.
   * `"model.layers.0.self_attn.q_proj"`. Mirrors `Module.get_submodule`.
   *
   * @throws {Error} naming the part of the path that does not exist or is not a module.
   */
  getSubmodule(path: string): Module {
    if (path === "") return this;
    const { owner, key } = this.#resolve(path, "getSubmodule");
    const v = (owner as Record<string | number, unknown>)[key];
    if (!(v instanceof Module)) throw new Error(`getSubmodule: "${path}" is not a Module`);
    return v;
  }

  /**
   * The parameter at dotted `path` (e.g. `"lin0.weight"`). Mirrors `Module.get_parameter`.
   *
   * @throws {Error} when the path does not exist or names something that is not a Parameter.
   */
  getParameter(path: string): Parameter {
    const { owner, key } = this.#resolve(path, "getParameter");
    const v = (owner as Record<string | number, unknown>)[key];
    if (!(v instanceof Parameter)) throw new Error(`getParameter: "${path}" is not a Parameter`);
    return v;
  }

  /**
   * Replaces the submodule at dotted `path` with `module` (how the C3A tuner swaps a Linear for its
   * wrapper). The parent must exist; the last part must name an existing submodule property (or array
   * slot), unless `strict` is false, in which case a new property may be created. Mirrors
   * `Module.set_submodule`.
   *
   * @throws {Error} when the parent path does not exist, or (strict) the target does not exist or is
   *   not a Module.
   * @throws {TypeError} when `module` is not a Module, or `path` is empty.
   */
  setSubmodule(path: string, module: Module, strict = true): void {
    if (!(module instanceof Module)) throw new TypeError(`setSubmodule: value for "${path}" is not a Module`);
    if (path === "") throw new TypeError("setSubmodule: the path must not be empty");
    const dot = path.lastIndexOf(".");
    const parentPath = dot < 0 ? "" : path.slice(0, dot);
    const last = dot < 0 ? path : path.slice(dot + 1);
    if (!strict) {
      let parent: unknown;
      if (parentPath === "") parent = this;
      else {
        const s = this.#resolve(parentPath, "setSubmodule");
        parent = (s.owner as Record<string | number, unknown>)[s.key];
      }
      if (parent instanceof Module && !Object.hasOwn(parent, last)) {
        parent.registerModule(last, module);
        return;
      }
    }
    const { owner, key } = this.#resolve(path, "setSubmodule");
    const cur = (owner as Record<string | number, unknown>)[key];
    if (!(cur instanceof Module)) {
      throw new Error(`setSubmodule: "${path}" is not a Module (it holds ${describe(cur)})`);
    }
    (owner as Record<string | number, unknown>)[key] = module;
  }

  // ---------------------------------------------------------------- bulk operations

  /**
   * Calls `fn` on every descendant and then on this module (children first, as PyTorch's
   * `Module.apply`); returns this.
   */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Clears every parameter's gradient (`grad = null`, PyTorch's default `set_to_none=True`; pass false
   * to zero the existing gradient tensors instead). Mirrors `Module.zero_grad()`.
   */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (p.grad === null) continue;
      if (setToNone) p.grad = null;
      else noGrad(() => p.grad!.zero_());
    }
  }

  /**
   * Moves every parameter (with its gradient) and every buffer of this module and its descendants to
   * `backend` ("wasm", "webgpu", or a Backend) and returns this. Parameters move in place: the same
   * {@link Parameter} objects (so optimizers and tied weights keep working) with the same
   * `requiresGrad`; buffers are replaced by their copies. Optimizer state made before the move stays
   * behind: create the optimizer after `to()`, as in PyTorch. Mirrors `Module.to(device)`.
   *
   * @throws {RangeError} when `backend` names no registered backend.
   * @throws {TypeError} when a parameter is bfloat16 / float16 and `backend` has no 16-bit storage
   *   (WebGPU): call {@link Module.float} first.
   * @example
   * ```ts
   * import { Linear } from "./linear.ts";
   * const lin = new Linear(4, 2);
   * const w = lin.weight;
   * lin.to("wasm") === lin && lin.weight === w; // true
   * ```
   */
  to(backend: BackendLike): this {
    const target = resolveBackend(backend, "to");
    const movedBuffers = new Map<Tensor, Tensor>();
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const [, p] of m.#ownParameters()) p._moveTo(target);
        for (const [k, b] of m.#ownBuffers()) {
          let moved = movedBuffers.get(b);
          if (moved === undefined) {
            moved = keep(b.to(target)); // lives as long as the module, not an enclosing tidy
            movedBuffers.set(b, moved);
          }
          (m as unknown as Record<string, unknown>)[k] = moved;
        }
      }
    });
    return this;
  }

  /**
   * Converts every 16-bit (bfloat16 / float16) parameter of this module and its descendants to
   * float32 in place (the same Parameter objects; they stay frozen until `requiresGrad` is set) and
   * returns this. Mirrors `Module.float()` (here only 16-bit parameters change: buffers are float32).
   * Needed before `to("webgpu")` of a model loaded with `torchDtype`.
   */
  float(): this {
    for (const p of this.parameters()) p._castTo("float32");
    return this;
  }

  /** Sets `requiresGrad` on every parameter; returns this. Mirrors `Module.requires_grad_()`. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /** Number of parameter elements (trainable only when `trainableOnly`); tied weights count once. */
  numParameters(trainableOnly = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  // ---------------------------------------------------------------- printing

  /** Extra text shown inside this module's parentheses by `toString()` (PyTorch `extra_repr`). */
  extraRepr(): string {
    return "";
  }

  /** Multi-line structure, like PyTorch's module repr. */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([k, c]) => `  (${k}): ${c.toString().replaceAll("\n", "\n  ")}`);
    return `${head}\n${lines.join("\n")}\n)`;
  }
}

function checkName(name: string): void {
  if (typeof name !== "string" || name === "" || name.includes(".")) {
    throw new TypeError(
      `invalid attribute name ${JSON.stringify(name)}: must be a non-empty string without "."`,
    );
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (v instanceof Tensor) {
    return `a ${v instanceof Parameter ? "Parameter" : "Tensor"} of shape ${fmtShape(v.shape)}`;
  }
  if (typeof v === "object") return `a ${v.constructor?.name ?? "object"}`;
  return `a ${typeof v}`;
}
