/**
 * Placement: which backend a tensor lives on, and the one check every multi-input op makes.
 *
 * `tensor.to(name)` copies a tensor to another backend (differentiable, like `torch.Tensor.to`);
 * `module.to(name)` moves a model's parameters and buffers in place (src/nn/module.ts). Both name a
 * backend by its registered name ("wasm", "webgpu") or pass the {@link Backend} itself. An op whose
 * inputs live on different backends throws {@link sameBackend}'s one-line error, which says which
 * input is where and how to move it.
 *
 * @module
 */

import { type Backend, backendNamed } from "../backend/backend.ts";
import type { Tensor } from "./tensor.ts";

/** Where a tensor or module goes: a registered backend name ("wasm", "webgpu") or the backend itself. */
export type BackendLike = "wasm" | "webgpu" | (string & Record<never, never>) | Backend;

/**
 * The backend `where` names, started if needed (in Deno the WebGPU device starts synchronously; in a
 * browser it must have been started with `await setBackend("webgpu")`).
 *
 * @throws {RangeError} naming the registered backends when `where` is not one of them.
 * @throws {TypeError} when `where` is neither a string nor a backend.
 */
export function resolveBackend(where: BackendLike, what = "to"): Backend {
  if (typeof where === "string") {
    try {
      return backendNamed(where);
    } catch (e) {
      if (e instanceof RangeError) throw new RangeError(`${what}(${JSON.stringify(where)}): ${e.message}`);
      throw e;
    }
  }
  if (where !== null && typeof where === "object" && typeof (where as Backend).fromArray === "function") {
    return where as Backend;
  }
  throw new TypeError(
    `${what}(): expected a backend name ("wasm", "webgpu") or a Backend, got ${typeof where}`,
  );
}

/**
 * Checks that every given tensor lives on one backend and returns it (the first tensor's backend;
 * null/undefined entries are skipped). For op implementations.
 *
 * @param what the op's name, the error's prefix
 * @param tensors the op's tensor inputs by argument name, in argument order
 * @throws {Error} one line naming the first two inputs on different backends and the calls that move
 *   one, e.g. `matmul: a is on "webgpu" but b is on "wasm"; move one of them: b.to("webgpu") or
 *   a.to("wasm") (a model's weights: model.to(name))`
 * @example
 * ```ts
 * import { tensor } from "./creation.ts";
 * const a = tensor([1, 2]), b = tensor([3, 4]);
 * sameBackend("add", { a, b }).name; // "wasm"
 * ```
 */
export function sameBackend(what: string, tensors: Record<string, Tensor | null | undefined>): Backend {
  let first: [string, Tensor] | null = null;
  for (const [name, t] of Object.entries(tensors)) {
    if (t === null || t === undefined) continue;
    if (first === null) first = [name, t];
    else if (t.backend !== first[1].backend) {
      const [n0, t0] = first;
      throw new Error(
        `${what}: ${n0} is on "${t0.backend.name}" but ${name} is on "${t.backend.name}"; move one of them: ` +
          `${name}.to("${t0.backend.name}") or ${n0}.to("${t.backend.name}") (a model's weights: model.to(name))`,
      );
    }
  }
  if (first === null) throw new TypeError(`${what}: no tensor inputs`);
  return first[1].backend;
}
