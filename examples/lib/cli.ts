/**
 * Command-line options for the example scripts, on top of deno-std's `parseArgs` (`@std/cli`): a table of
 * options gives types, defaults, allowed ranges and the `--help` text; bad input becomes a one-line
 * {@linkcode CliError} naming the flag and what is allowed.
 *
 * @module
 */

import { parseArgs } from "./deps.ts";

/** An error in the user's input (bad flag, bad file, bad size): printed as one line, exit code 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** Kinds of option values. */
export type OptionType = "string" | "number" | "int" | "boolean";

/** One command-line option. */
export interface OptionSpec {
  /** Flag name without dashes, e.g. `"lr"` for `--lr`. */
  name: string;
  /** Value kind: `int` rejects fractions; `boolean` takes no value (`--merge`). */
  type: OptionType;
  /** One-line help text. */
  help: string;
  /** Default value (absent = no default, the value is `undefined` unless given). */
  default?: string | number | boolean;
  /** For numbers: smallest allowed value (inclusive). */
  min?: number;
  /** For numbers: largest allowed value (inclusive). */
  max?: number;
  /** For strings: the allowed values. */
  choices?: readonly string[];
  /** Placeholder shown in `--help`, e.g. `"DIR"`. */
  metavar?: string;
}

/** Parsed values by option name. */
export type OptionValues = Record<string, string | number | boolean | undefined>;

/** Formats the `--help` text for a script. */
export function helpText(usage: string, description: string, specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => {
    const flag = s.type === "boolean" ? `--${s.name}` : `--${s.name} ${s.metavar ?? s.type.toUpperCase()}`;
    const extra: string[] = [];
    if (s.choices) extra.push(`one of ${s.choices.join("|")}`);
    if (s.default !== undefined && s.type !== "boolean") extra.push(`default ${s.default}`);
    return [flag, s.help + (extra.length ? ` (${extra.join("; ")})` : "")];
  });
  rows.push(["--help", "show this help and exit"]);
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [
    `usage: ${usage}`,
    "",
    description,
    "",
    "options:",
    ...rows.map(([f, h]) => `  ${f.padEnd(w)}${h}`),
  ].join("\n");
}

/**
 * Largest number of tokens (`--batch-size` × `--seq-len`) one training step may hold: 2^20 = 1,048,576.
 * Above it the logits alone (`[tokens, 256]` float32) pass 1 GiB and typed-array lengths overflow soon after,
 * so the scripts refuse such sizes up front instead of failing mid-run.
 */
export const MAX_TOKENS_PER_STEP: number = 2 ** 20;

/**
 * Checks `batchSize × seqLen <= MAX_TOKENS_PER_STEP`.
 * @throws {CliError} naming both flags, their product and the bound.
 */
export function checkTokensPerStep(batchSize: number, seqLen: number): void {
  const tokens = batchSize * seqLen;
  if (tokens > MAX_TOKENS_PER_STEP) {
    throw new CliError(
      `--batch-size ${batchSize} × --seq-len ${seqLen} = ${tokens} tokens per step; at most ` +
        `${MAX_TOKENS_PER_STEP} (2^20) are allowed; lower --batch-size or --seq-len`,
    );
  }
}

/**
 * Joins a number/int option written with a space before a negative value (`--steps -5`) into `--steps=-5`,
 * so the value reaches the range check instead of being read as an unknown flag. Other tokens pass as they are.
 */
function joinNegativeValues(args: readonly string[], specs: readonly OptionSpec[]): string[] {
  const numeric = new Set(specs.filter((s) => s.type === "number" || s.type === "int").map((s) => s.name));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    if (
      a.startsWith("--") && numeric.has(a.slice(2)) && next !== undefined && next.startsWith("-") &&
      next.trim() !== "" && !Number.isNaN(Number(next))
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parses `args` against `specs`. A number/int option followed by a negative number (`--seed -1`) takes it
 * as its value.
 * @returns the values (defaults filled in) and whether `--help` was given.
 * @throws {CliError} for an unknown flag, a missing value, a value of the wrong kind, out of range, or not
 *   among the choices; or any positional argument.
 */
export function parseOptions(
  args: readonly string[],
  specs: readonly OptionSpec[],
): { values: OptionValues; help: boolean } {
  if (specs.some((s) => s.name === "help")) throw new Error("an option may not be called 'help'");
  const unknown: string[] = [];
  const parsed = parseArgs(joinNegativeValues(args, specs), {
    boolean: ["help", ...specs.filter((s) => s.type === "boolean").map((s) => s.name)],
    string: specs.filter((s) => s.type !== "boolean").map((s) => s.name),
    alias: { h: "help" },
    unknown: (arg: string, key?: string) => {
      if (key !== undefined || arg.startsWith("-")) {
        unknown.push(arg);
        return false;
      }
      return true;
    },
  });
  if (unknown.length > 0) {
    throw new CliError(`unknown option ${unknown[0]}; run with --help to see the options`);
  }
  if (parsed._.length > 0) {
    throw new CliError(
      `unexpected argument "${parsed._[0]}"; options are given as --name value (see --help)`,
    );
  }
  const values: OptionValues = {};
  for (const s of specs) {
    const raw = parsed[s.name];
    if (s.type === "boolean") {
      values[s.name] = raw === true ? true : (s.default as boolean | undefined) ?? false;
      continue;
    }
    if (raw === undefined) {
      values[s.name] = s.default;
      continue;
    }
    const str = String(raw);
    if (str === "") throw new CliError(`--${s.name} needs a value`);
    if (s.type === "string") {
      if (s.choices && !s.choices.includes(str)) {
        throw new CliError(`--${s.name} "${str}" is not allowed; use one of ${s.choices.join(", ")}`);
      }
      values[s.name] = str;
      continue;
    }
    const num = Number(str);
    if (!Number.isFinite(num) || (s.type === "int" && !Number.isInteger(num))) {
      throw new CliError(`--${s.name} must be ${s.type === "int" ? "an integer" : "a number"}, got "${str}"`);
    }
    if (s.min !== undefined && num < s.min) throw new CliError(`--${s.name} must be >= ${s.min}, got ${num}`);
    if (s.max !== undefined && num > s.max) throw new CliError(`--${s.name} must be <= ${s.max}, got ${num}`);
    values[s.name] = num;
  }
  return { values, help: parsed.help === true };
}

/**
 * Runs a script's `main`, turning a {@linkcode CliError} (and other errors the script marks as user errors by
 * throwing `CliError`) into `error: <message>` on stderr with exit code 2. Other errors keep their stack
 * trace and exit code 1.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`error: ${e.message}`);
      Deno.exit(2);
    }
    console.error(e);
    Deno.exit(1);
  }
}
