/**
 * Strict option bags: a key a function does not know (a typo, or PEFT's / PyTorch's snake_case spelling
 * such as `block_size`) is an error that names the key and the camelCase key meant, never silently
 * dropped. Used by `C3AConfig`, `getPeftModel`, the optimizers and the other public option bags.
 *
 * @module
 */

/** `block_size` → `blockSize`, `layers-pattern` → `layersPattern`. */
function camelCase(key: string): string {
  return key.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Lower case without `_` and `-`: `block_size`, `blocksize` and `BlockSize` all give `blocksize`. */
function fold(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, "");
}

/** Levenshtein distance, stopping early above `max` (keys are short). */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, cur[j]);
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The keys of an options type as a list, checked by the compiler: `keysOf<SGDOptions>({ lr: true, ... })`
 * fails to type-check when a key of the type is missing or an extra one is listed.
 */
export function keysOf<T>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}

/** The allowed key an unknown `key` most likely meant, or null. */
export function suggestKey(key: string, allowed: readonly string[]): string | null {
  const camel = camelCase(key);
  if (allowed.includes(camel)) return camel;
  const folded = allowed.find((a) => fold(a) === fold(key));
  if (folded !== undefined) return folded;
  let best: string | null = null;
  let bestDistance = 3; // at most 2 edits
  for (const a of allowed) {
    const d = editDistance(fold(key), fold(a), 2);
    if (d < bestDistance) [best, bestDistance] = [a, d];
  }
  return best;
}

/**
 * Checks that every own key of `options` is one of `allowed`.
 *
 * @param where the function or class named in the message, e.g. `"C3AConfig"`
 * @param options the option bag (null / undefined pass: no options)
 * @param allowed the keys the function reads
 * @param note text appended to the message (e.g. where snake_case keys belong)
 * @throws {TypeError} `C3AConfig: unknown option "block_size" (did you mean "blockSize"?); allowed: ...`
 *   for the first unknown key; `options must be an object` for a non-object
 */
export function checkOptionKeys(
  where: string,
  options: unknown,
  allowed: readonly string[],
  note = "",
): void {
  if (options === null || options === undefined) return;
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object {${allowed.join(", ")}}, got ${typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const hint = suggestKey(key, allowed);
    throw new TypeError(
      `${where}: unknown option "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}; allowed: ${
        allowed.join(", ")
      }${note}`,
    );
  }
}
