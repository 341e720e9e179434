/**
 * Global gradient-recording switch, mirroring `torch.no_grad()` / `torch.enable_grad()` /
 * `torch.is_grad_enabled()`.
 *
 * @module
 */

let enabled = true;

/** True when ops record the autograd graph (default). Mirrors `torch.is_grad_enabled()`. */
export function isGradEnabled(): boolean {
  return enabled;
}

/**
 * Turns graph recording on or off globally and returns the previous setting. Prefer the scoped
 * {@link noGrad} / {@link enableGrad}. Mirrors `torch.set_grad_enabled(mode)`.
 */
export function setGradEnabled(mode: boolean): boolean {
  const prev = enabled;
  enabled = mode;
  return prev;
}

/**
 * Runs `fn` with graph recording off (results have no `gradFn` and `requiresGrad` false) and returns
 * its result; the previous mode is restored even if `fn` throws. Mirrors `with torch.no_grad():`.
 * The scope is synchronous: for an async `fn`, only the part before its first `await` runs without
 * grad.
 *
 * @example
 * ```ts
 * import { randn } from "@c3a/c3a";
 *
 * const params = [randn([3]).requiresGrad_()], lr = 0.1;
 * params[0].square().sum().backward();
 * noGrad(() => { for (const p of params) p.sub_(p.grad!.mul(lr)); }); // a manual SGD step, not recorded
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/**
 * Runs `fn` with graph recording on (inside a {@link noGrad} scope, for example) and restores the
 * previous mode afterwards. Mirrors `with torch.enable_grad():`.
 */
export function enableGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
