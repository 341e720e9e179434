/**
 * `tidy(fn)`: dispose every tensor created inside `fn` except those it returns or marks with
 * {@link keep}. On the wasm backend tensors are garbage-collected anyway (see
 * src/backend/wasm/memory.ts) and tidy only makes the release prompt; on a GPU backend it is how a
 * loop avoids holding buffers until GC.
 *
 * Rules: call `backward()` inside the same tidy as the forward (a tidy disposes the intermediates the
 * graph saved); gradients written into leaf `.grad` by backward are kept automatically; tensors an
 * optimizer or cache creates inside a tidy and keeps must be passed to {@link keep}.
 *
 * @module
 */

/** Anything with a dispose method and a "kept" flag: the Tensor class. */
export interface Trackable {
  /** Releases the storage. */
  dispose(): void;
}

const scopes: Array<Set<Trackable>> = [];
const kept = new WeakSet<Trackable>();

/** Registers a new tensor with the innermost tidy scope (called by the Tensor constructor). */
export function trackTensor(t: Trackable): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

/** Removes `t` from every active tidy scope so it survives them; returns `t`. */
export function keep<T extends Trackable>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(v: unknown, out: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== "object" || depth > 4) return;
  if ("dispose" in (v as object) && "shape" in (v as object)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) { for (const x of v) collect(x, out, depth + 1); }
  else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v as Record<string, unknown>)) collect(x, out, depth + 1);
  }
}

/**
 * Runs `fn`; afterwards disposes every tensor created during it, except tensors reachable from its
 * return value (a tensor, or arrays / plain objects of tensors, up to 4 levels deep) and tensors
 * passed to {@link keep}. Kept and returned tensors move to the enclosing scope. `fn` must be
 * synchronous. Mirrors tf.js `tidy`; PyTorch has no equivalent (it frees by reference counting).
 *
 * Memory: the scope references every tensor made inside it until it ends, so nothing made in `fn` is
 * freed earlier, not even by the garbage collector. Wrap one training step or one layer, not a whole
 * large computation whose intermediates should go as it proceeds (Llama-family forwards without a
 * graph already use one scope per layer).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@c3a/c3a";
 *
 * const model = new nn.Linear(4, 1), x = randn([8, 4]), y = randn([8, 1]);
 * const lossValue = tidy(() => {
 *   const loss = model.forward(x).sub(y).square().mean();
 *   loss.backward();
 *   return loss.item();
 * });
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Trackable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const ret = new Set<unknown>();
  collect(result, ret);
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : null;
  for (const t of scope) {
    if (ret.has(t) || kept.has(t)) {
      if (parent) parent.add(t);
    } else t.dispose();
  }
  return result;
}
