/**
 * Reads configuration from environment variables where the runtime allows it without asking.
 *
 * In Deno the variable is read only when `--allow-env` (or `--allow-env=NAME`) already grants it, so
 * importing the library never triggers a permission prompt; in browsers there is no environment and
 * every variable is unset.
 *
 * @module
 */

/**
 * The value of environment variable `name`, or `undefined` when it is unset, when the runtime has no
 * environment (browsers), or when reading it is not already permitted.
 */
export function envVar(name: string): string | undefined {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno === undefined) return undefined;
  try {
    if (deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return deno.env.get(name);
  } catch {
    return undefined;
  }
}
