// Types for npm:deno-std@1.4.0/cli/parse_args.js (the package ships none): the subset the examples use.
/** Options of `parseArgs` (see the function's JSDoc in deno-std). */
export interface ParseOptions {
  /** Flags always parsed as booleans. */
  boolean?: string[];
  /** Flags always parsed as strings. */
  string?: string[];
  /** Flags that may repeat; collected into arrays. */
  collect?: string[];
  /** Boolean flags that accept a `--no-` prefix. */
  negatable?: string[];
  /** Alternative names, e.g. `{ h: "help" }`. */
  alias?: Record<string, string | string[]>;
  /** Default values. */
  default?: Record<string, unknown>;
  /** Stop at the first non-flag argument. */
  stopEarly?: boolean;
  /** Put arguments after `--` into `result["--"]`. */
  "--"?: boolean;
  /** Called for each unknown flag; returning `false` drops it. */
  unknown?: (arg: string, key?: string, value?: unknown) => unknown;
}
/** Parsed arguments: flags by name, positionals in `_`. */
export interface Args {
  [key: string]: unknown;
  _: (string | number)[];
}
/** Parses command-line arguments (deno-std `parseArgs`). */
export function parseArgs(args: string[], options?: ParseOptions): Args;
