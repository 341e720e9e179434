/**
 * Error classes and the warning channel of the C3A tuner.
 *
 * The classes mirror the Python exception types Hugging Face PEFT raises for the same conditions
 * (`ValueError`, `NotImplementedError`, `NoMatchingPeftModuleError`), so a message search in PEFT's
 * issue tracker finds the same situation. Bad sizes (block sizes that do not divide a layer, tensor
 * shapes that do not fit) throw {@link BlockSizeError} / `RangeError`, per the house style.
 *
 * @module
 */

/**
 * A value is not allowed (PEFT raises Python's `ValueError` in the same situation).
 * The message names the offending value and what is allowed.
 */
export class ValueError extends Error {
  /**
   * Create the error.
   *
   * @param message what was wrong and how to fix it
   */
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

/**
 * A requested option exists in the API but is not implemented (PEFT: Python `NotImplementedError`,
 * e.g. `bias="lora_only"`-style values other than `"none"`, `"all"`, `"c3a_only"`).
 */
export class NotImplementedError extends Error {
  /**
   * Create the error.
   *
   * @param message what was requested and what is supported
   */
  constructor(message: string) {
    super(message);
    this.name = "NotImplementedError";
  }
}

/**
 * No module of the model was selected for adaptation (PEFT: `NoMatchingPeftModuleError`, a
 * `ValueError` subclass raised by `inject_adapter`). The message says which targets were asked for
 * and lists candidate module names.
 */
export class NoMatchingPeftModuleError extends ValueError {
  /**
   * Create the error.
   *
   * @param message the PEFT message plus the names that could have matched
   */
  constructor(message: string) {
    super(message);
    this.name = "NoMatchingPeftModuleError";
  }
}

/**
 * A block size does not fit a layer: not a positive integer, or not a divisor of the layer's input
 * or output width (PEFT raises `ValueError` in `C3ALayer.update_layer`; here a `RangeError` subclass,
 * per house style for bad sizes). The message lists the valid block sizes of that layer.
 */
export class BlockSizeError extends RangeError {
  /**
   * Create the error.
   *
   * @param message PEFT's message plus the valid divisors
   */
  constructor(message: string) {
    super(message);
    this.name = "BlockSizeError";
  }
}

/** Receives every warning the C3A tuner emits (PEFT emits them with Python's `warnings.warn`). */
export type WarningHandler = (message: string) => void;

const defaultHandler: WarningHandler = (message) => console.warn(`[c3a] ${message}`);
let handler: WarningHandler = defaultHandler;

/**
 * Replace the warning handler (default: `console.warn` with a `[c3a]` prefix). Tests use it to
 * capture warnings; applications can route them to their logger or silence them with `() => {}`.
 *
 * @param fn the new handler, or `null` to restore the default
 * @returns the previous handler (pass it back to restore)
 */
export function setWarningHandler(fn: WarningHandler | null): WarningHandler {
  const previous = handler;
  handler = fn ?? defaultHandler;
  return previous;
}

/**
 * Emit a warning through the current handler.
 *
 * @param message the warning text (PEFT's wording where PEFT warns in the same situation)
 */
export function warn(message: string): void {
  handler(message);
}

/**
 * Run `fn` while collecting the warnings it emits instead of printing them.
 *
 * @param fn the code to run (synchronous)
 * @returns the value of `fn` and the collected warnings, in order
 * @throws whatever `fn` throws (the previous handler is restored first)
 */
export function captureWarnings<T>(fn: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  const previous = setWarningHandler((m) => warnings.push(m));
  try {
    return { value: fn(), warnings };
  } finally {
    setWarningHandler(previous);
  }
}

/**
 * Show a value in an error message: numbers as JavaScript writes them but with `-0` kept (so
 * `NaN`, `Infinity`, `-Infinity`, `-0` are visible, unlike `JSON.stringify`, which writes `null` or
 * `0`), strings quoted, arrays and plain objects in JSON-like form with the same number rules,
 * `undefined`, bigints (`5n`), functions and class instances by name. Cycles are shown as
 * `[Circular]`; the result is cut to `maxLength` characters (with `…`).
 *
 * @param v any value
 * @param maxLength longest result (default 200)
 * @returns a one-line description
 *
 * @example
 * ```ts
 * formatValue(NaN); // "NaN"
 * formatValue({ blockSize: -0 }); // '{"blockSize": -0}'
 * formatValue("64"); // '"64"'
 * ```
 */
export function formatValue(v: unknown, maxLength = 200): string {
  const s = fmtValue(v, new Set());
  return s.length > maxLength ? s.slice(0, Math.max(0, maxLength - 1)) + "…" : s;
}

function fmtValue(v: unknown, seen: Set<unknown>): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "undefined":
      return "undefined";
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return String(v);
    case "symbol":
      return v.toString();
    case "function":
      return `[Function ${(v as { name?: string }).name || "(anonymous)"}]`;
  }
  if (seen.has(v)) return "[Circular]";
  seen.add(v);
  try {
    if (Array.isArray(v)) return `[${v.map((e) => fmtValue(e, seen)).join(", ")}]`;
    if (v instanceof Set) return `Set(${fmtValue([...v], seen)})`;
    if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<unknown>).length})`;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      return `[${(v as { constructor?: { name?: string } }).constructor?.name || "object"}]`;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    return `{${entries.map(([k, e]) => `${JSON.stringify(k)}: ${fmtValue(e, seen)}`).join(", ")}}`;
  } finally {
    seen.delete(v);
  }
}
