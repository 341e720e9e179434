/**
 * A progress line for long work (training loops, `mergeAndUnload({ progressbar: true })`).
 *
 * On a terminal it rewrites one line in place (`\r`), at most every `minIntervalMs`; when the stream is not
 * a terminal (CI logs, pipes, files) it prints plain lines, at most one per `plainIntervalMs` plus the last.
 * It writes to standard error by default, like Python's tqdm (which PEFT's `progressbar` uses), so that a
 * script's results on standard output stay clean. No dependency; outside Deno (browsers) it falls back to
 * `console.log` lines.
 *
 * @module
 */

/** A sink the progress line writes to: anything with Deno's `writeSync` (e.g. `Deno.stderr`). */
export interface ProgressWriter {
  /** Writes bytes synchronously; returns how many were written. */
  writeSync(p: Uint8Array): number;
  /** Whether the sink is an interactive terminal (then the line is rewritten in place). */
  isTerminal?(): boolean;
}

/** Options for {@linkcode Progress}. */
export interface ProgressOptions {
  /** Number of steps the work has (integer >= 0). Required. */
  total: number;
  /** Text in front of the counter, e.g. `"train"` or `"merge"`. Default `""`. */
  label?: string;
  /** Where to write. Default `Deno.stderr` in Deno, `console.log` lines elsewhere. */
  writer?: ProgressWriter;
  /** Force the in-place (`\r`) mode on or off. Default: `writer.isTerminal()`. */
  tty?: boolean;
  /** Minimum milliseconds between in-place redraws. Default 100. */
  minIntervalMs?: number;
  /** Minimum milliseconds between plain lines when not on a terminal. Default 10 000. */
  plainIntervalMs?: number;
  /** Clock in milliseconds (for tests). Default `performance.now`. */
  now?: () => number;
  /**
   * Steps already done before this line started (tqdm `initial`, e.g. a resumed run): the counter starts
   * there and the ETA extrapolates from the steps done since. Default 0.
   */
  initial?: number;
}

/** Per-step values shown on the line. All optional. */
export interface ProgressFields {
  /** Current loss (shown with 4 decimals). */
  loss?: number;
  /** Tokens processed during the steps being reported (accumulated to a tokens/s rate). */
  tokens?: number;
  /** Any extra `key: value` pairs, shown as `key value`. */
  extra?: Record<string, string | number>;
}

/** Formats seconds as `m:ss` or `h:mm:ss`. Non-finite or negative values give `"?"`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Formats a rate with k/M suffixes, e.g. `1234` → `"1.23k"`. */
export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return "?";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)}k`;
  return x.toFixed(1);
}

function defaultWriter(): ProgressWriter | null {
  const d = (globalThis as { Deno?: { stderr?: ProgressWriter } }).Deno;
  return d?.stderr ?? null;
}

/**
 * One updating progress line: `label 12/100 12% | loss 1.2345 | 3.10k tok/s | 0:04 elapsed, ETA 0:29`.
 *
 * The rate is total tokens divided by elapsed time since construction; the ETA extrapolates the time per
 * step so far (steps after `initial`) to the remaining steps.
 *
 * @throws {RangeError} if `total` is not a non-negative integer.
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const bar = new Progress({ total: 3, label: "train" });
 * for (let i = 0; i < 3; i++) bar.tick(1, { loss: 2 - i / 3, tokens: 512 });
 * bar.finish();
 * ```
 */
export class Progress {
  /** Number of steps expected. */
  readonly total: number;
  /** Steps done so far. */
  step = 0;
  /** Tokens accumulated from {@linkcode ProgressFields.tokens}. */
  tokens = 0;
  /** Last loss reported (NaN before any). */
  loss: number = NaN;
  readonly #label: string;
  readonly #writer: ProgressWriter | null;
  readonly #tty: boolean;
  readonly #minInterval: number;
  readonly #plainInterval: number;
  readonly #now: () => number;
  readonly #start: number;
  readonly #initial: number;
  #lastDraw = -Infinity;
  #lastLen = 0;
  #extra: Record<string, string | number> = {};
  #finished = false;
  readonly #enc = new TextEncoder();

  /**
   * A progress line for `total` steps; nothing is drawn until the first `update`.
   *
   * @param options `total` steps (an integer >= 0), label, writer and redraw intervals.
   * @throws {RangeError} when `total` is not an integer >= 0.
   */
  constructor(options: ProgressOptions) {
    const { total } = options;
    if (!Number.isInteger(total) || total < 0) {
      throw new RangeError(`Progress: total must be an integer >= 0, got ${total}`);
    }
    this.total = total;
    this.#label = options.label ?? "";
    this.#writer = options.writer ?? defaultWriter();
    let tty = options.tty;
    if (tty === undefined) {
      try {
        tty = this.#writer?.isTerminal?.() ?? false;
      } catch {
        tty = false;
      }
    }
    this.#tty = tty;
    this.#minInterval = options.minIntervalMs ?? 100;
    this.#plainInterval = options.plainIntervalMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#initial = Math.max(0, Math.min(total, options.initial ?? 0));
    this.step = this.#initial;
  }

  /** Seconds since construction. */
  get elapsed(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /** Tokens per second so far (0 before any time has passed). */
  get tokensPerSecond(): number {
    const e = this.elapsed;
    return e > 0 ? this.tokens / e : 0;
  }

  /** Advances by `n` steps (default 1) and redraws if enough time has passed. */
  tick(n = 1, fields: ProgressFields = {}): void {
    this.update(this.step + n, fields);
  }

  /** Sets the step counter to `step` (clamped to `[0, total]`) and redraws if enough time has passed. */
  update(step: number, fields: ProgressFields = {}): void {
    this.step = Math.max(0, Math.min(this.total, step));
    if (fields.loss !== undefined) this.loss = fields.loss;
    if (fields.tokens !== undefined) this.tokens += fields.tokens;
    if (fields.extra) Object.assign(this.#extra, fields.extra);
    const t = this.#now();
    const interval = this.#tty ? this.#minInterval : this.#plainInterval;
    if (t - this.#lastDraw >= interval || this.step === this.total) this.#draw(t);
  }

  /** The current line's text (without `\r` or newline). */
  render(): string {
    const parts: string[] = [];
    const pct = this.total > 0 ? Math.floor((100 * this.step) / this.total) : 100;
    const width = String(this.total).length;
    parts.push(
      `${this.#label ? this.#label + " " : ""}${String(this.step).padStart(width)}/${this.total} ${
        String(pct).padStart(3)
      }%`,
    );
    if (Number.isFinite(this.loss)) parts.push(`loss ${this.loss.toFixed(4)}`);
    if (this.tokens > 0) parts.push(`${formatRate(this.tokensPerSecond)} tok/s`);
    for (const [k, v] of Object.entries(this.#extra)) parts.push(`${k} ${v}`);
    const e = this.elapsed;
    const done = this.step - this.#initial;
    const eta = done > 0 ? (e / done) * (this.total - this.step) : NaN;
    parts.push(`${formatDuration(e)} elapsed, ETA ${formatDuration(eta)}`);
    return parts.join(" | ");
  }

  #draw(t: number): void {
    this.#lastDraw = t;
    const line = this.render();
    if (!this.#writer) {
      console.log(line);
      return;
    }
    if (this.#tty) {
      const pad = this.#lastLen > line.length ? " ".repeat(this.#lastLen - line.length) : "";
      this.#lastLen = line.length;
      this.#write(`\r${line}${pad}`);
    } else {
      this.#write(`${line}\n`);
    }
  }

  #write(s: string): void {
    const bytes = this.#enc.encode(s);
    let off = 0;
    while (off < bytes.length) off += this.#writer!.writeSync(bytes.subarray(off));
  }

  /**
   * Draws the final state and ends the line (newline on a terminal). Further calls do nothing.
   * @param message optional text appended after the line, e.g. `"done"`.
   */
  finish(message?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const line = message ? `${this.render()} | ${message}` : this.render();
    if (!this.#writer) {
      console.log(line);
      return;
    }
    if (this.#tty) {
      const pad = this.#lastLen > line.length ? " ".repeat(this.#lastLen - line.length) : "";
      this.#write(`\r${line}${pad}\n`);
    } else if (this.#lastDraw < 0 || this.step !== this.total || message) {
      // Plain mode: the last update already printed the final line unless something changed since.
      this.#write(`${line}\n`);
    }
  }
}
