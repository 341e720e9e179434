/**
 * Output handling for the example scripts: check early that the output directory is writable, stage every
 * output file in a hidden directory inside it and move them into place only when the run succeeded (so a
 * failed or interrupted run leaves nothing half-written), and sample peak memory.
 *
 * @module
 */

import { CliError } from "./cli.ts";

/**
 * Creates `dir` (with parents) if needed and checks that files can be created in it.
 * @throws {CliError} naming the directory and the reason, with the fix (`--out`).
 */
export async function ensureWritableDir(dir: string, flag = "--out"): Promise<void> {
  try {
    const st = await Deno.stat(dir).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    });
    if (st && !st.isDirectory) throw new Error("it exists and is not a directory");
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.write-test-${Deno.pid}`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new CliError(
      `output directory "${dir}" is not writable (${
        (e as Error).message
      }); pass ${flag} with a writable directory`,
    );
  }
}

/**
 * Checks what an earlier run left in `outDir` before anything is trained: of the names a script can write
 * (`owned`), those this run writes again are replaced at the end, and those it does not write (e.g. `merged/`
 * of an earlier `--merge` run) would be deleted so that the directory describes one run. Deleting needs
 * `overwrite` (the scripts' `--overwrite`); replacing is said up front.
 * @returns a one-line note saying what will be replaced or deleted, or `null` when nothing is there.
 * @throws {CliError} naming the outputs that would be deleted without `overwrite`.
 */
export async function planReplace(
  outDir: string,
  owned: readonly string[],
  written: readonly string[],
  overwrite: boolean,
): Promise<string | null> {
  const present: string[] = [];
  for (const name of owned) {
    const st = await Deno.lstat(`${outDir}/${name}`).catch(() => null);
    if (st) present.push(st.isDirectory ? `${name}/` : name);
  }
  if (present.length === 0) return null;
  const bare = (n: string) => n.replace(/\/$/, "");
  const replaced = present.filter((n) => written.includes(bare(n)));
  const deleted = present.filter((n) => !written.includes(bare(n)));
  if (deleted.length > 0 && !overwrite) {
    throw new CliError(
      `--out ${outDir} holds ${deleted.join(", ")} of an earlier run, which this run does not write and ` +
        `would delete; pass --overwrite to delete ${deleted.length === 1 ? "it" : "them"}, or another --out`,
    );
  }
  const parts = [];
  if (replaced.length > 0) parts.push(`replaces ${replaced.join(", ")}`);
  if (deleted.length > 0) parts.push(`deletes ${deleted.join(", ")} (--overwrite)`);
  return `note: --out ${outDir} holds an earlier run's outputs; this run ${
    parts.join(" and ")
  } when it finishes`;
}

/**
 * A hidden staging directory inside the output directory. Write outputs under {@linkcode Staging.path};
 * {@linkcode Staging.commit} moves each top-level entry into the output directory (replacing an entry of the
 * same name left by an earlier run); {@linkcode Staging.abort} deletes everything staged. Renames within one
 * directory are atomic on POSIX file systems, so each output appears whole or not at all.
 */
export class Staging {
  /** The final output directory. */
  readonly outDir: string;
  /** The staging directory (inside `outDir`). */
  readonly dir: string;
  #done = false;

  private constructor(outDir: string, dir: string) {
    this.outDir = outDir;
    this.dir = dir;
  }

  /** Creates the staging directory inside `outDir` (which must exist and be writable). */
  static async create(outDir: string): Promise<Staging> {
    const dir = `${outDir}/.staging-${Deno.pid}-${Date.now().toString(36)}`;
    await Deno.mkdir(dir, { recursive: true });
    return new Staging(outDir, dir);
  }

  /** Path of `name` inside the staging directory. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Writes a UTF-8 text file into the staging directory. */
  async writeText(name: string, text: string): Promise<void> {
    await Deno.writeTextFile(this.path(name), text);
  }

  /** Writes `value` as pretty JSON (2-space indent, trailing newline) into the staging directory. */
  async writeJson(name: string, value: unknown): Promise<void> {
    await this.writeText(name, JSON.stringify(value, null, 2) + "\n");
  }

  /**
   * Moves every staged entry into the output directory and removes the staging directory. Entries of the
   * output directory named in `owned` (the names the script can write, e.g. `["adapter", "merged"]`) that this
   * run did not stage are deleted, so the directory holds the outputs of exactly one run; nothing else in it
   * is touched.
   * @returns the final paths, sorted.
   */
  async commit(owned: readonly string[] = []): Promise<string[]> {
    if (this.#done) throw new Error("Staging: already committed or aborted");
    const moved: string[] = [];
    const staged = new Set<string>();
    for await (const e of Deno.readDir(this.dir)) staged.add(e.name);
    for (const name of owned) {
      if (staged.has(name) || name.includes("/") || name === "" || name === "." || name === "..") continue;
      await Deno.remove(`${this.outDir}/${name}`, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
    for await (const e of Deno.readDir(this.dir)) {
      const dest = `${this.outDir}/${e.name}`;
      const old = await Deno.lstat(dest).catch(() => null);
      if (old?.isDirectory) await Deno.remove(dest, { recursive: true });
      await Deno.rename(this.path(e.name), dest);
      moved.push(dest);
    }
    await Deno.remove(this.dir, { recursive: true });
    this.#done = true;
    return moved.sort();
  }

  /** Deletes the staging directory and everything in it (safe to call more than once). */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Peak resident memory, sampled when {@linkcode PeakMemory.sample} is called (e.g. once per step). */
export class PeakMemory {
  /** Highest `Deno.memoryUsage().rss` seen, in bytes. */
  peakRss = 0;
  /** Highest V8 `heapUsed` seen, in bytes. */
  peakHeap = 0;
  constructor() {
    this.sample();
  }
  /** Reads the current usage and updates the peaks. */
  sample(): void {
    const m = Deno.memoryUsage();
    if (m.rss > this.peakRss) this.peakRss = m.rss;
    if (m.heapUsed > this.peakHeap) this.peakHeap = m.heapUsed;
  }
}

/** Bytes → `"123.4 MB"` (decimal megabytes). */
export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The machine a run used, as recorded in the scripts' JSON logs. */
export function machineInfo(): { os: string; arch: string; deno: string; cpus: number } {
  return {
    os: Deno.build.os,
    arch: Deno.build.arch,
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
  };
}
