/**
 * The public API's snapshot: every name each entry point of deno.json "exports" exposes (namespace
 * members included, with their kind), compared with the committed list in tests/api_snapshot.txt.
 * Adding or removing an export fails this test until the snapshot is updated on purpose:
 *
 *     deno run -A tests/api_snapshot_test.ts --update
 *
 * Names come from `deno doc --json` (the same view `deno doc` and JSR give users), so type-only
 * exports are covered too.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";

const ROOT = new URL("../", import.meta.url);
const SNAPSHOT = new URL("./api_snapshot.txt", import.meta.url);

/** Most top-level names the main entry point may have (issue 10: a curated surface). */
const MAX_TOP_LEVEL = 150;

/**
 * Names of executor and op internals that must not appear in the main entry point (they belong to
 * `./backend`).
 */
const INTERNALS = [
  "Command",
  "Transport",
  "PoolStats",
  "WebGPUStorage",
  "WebGPUBackend",
  "WebGPUSpectrum",
  "ResolvedMatmul",
  "binaryRaw",
  "scalarRaw",
  "shapeArg",
  "clearNnCaches",
  "c3aKernels",
  "recordOp",
  "registerBackend",
  "memoryStats",
];

interface DocDeclaration {
  kind: string;
  def?: { elements?: DocSymbol[] };
}
interface DocSymbol {
  name: string;
  declarations: DocDeclaration[];
}

async function entryPoints(): Promise<Record<string, string>> {
  const cfg = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const ex = cfg.exports;
  return typeof ex === "string" ? { ".": ex } : ex;
}

async function docSymbols(file: string): Promise<DocSymbol[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", file],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno doc --json ${file} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const json = JSON.parse(new TextDecoder().decode(out.stdout));
  const nodes = Object.values(json.nodes as Record<string, { symbols: DocSymbol[] }>);
  return nodes.flatMap((n) => n.symbols);
}

function lines(entry: string, symbols: DocSymbol[], prefix = ""): string[] {
  const out: string[] = [];
  for (const s of symbols) {
    const kinds = [...new Set(s.declarations.map((d) => d.kind))].sort().join("+");
    out.push(`${entry} ${prefix}${s.name} ${kinds}`);
    const members = s.declarations.flatMap((d) => d.kind === "namespace" ? d.def?.elements ?? [] : []);
    if (members.length > 0) out.push(...lines(entry, members, `${prefix}${s.name}.`));
  }
  return out;
}

/** The snapshot text of the current tree: one `file name kind` line per export, sorted. */
export async function currentSnapshot(): Promise<string> {
  const all: string[] = [];
  for (const file of Object.values(await entryPoints())) {
    all.push(...lines(file.replace(/^\.\//, ""), await docSymbols(file)));
  }
  return [...new Set(all)].sort().join("\n") + "\n";
}

Deno.test("api: the exports of every entry point match tests/api_snapshot.txt", async () => {
  const want = await Deno.readTextFile(SNAPSHOT);
  const got = await currentSnapshot();
  const wantSet = new Set(want.trim().split("\n"));
  const gotSet = new Set(got.trim().split("\n"));
  const added = [...gotSet].filter((l) => !wantSet.has(l));
  const removed = [...wantSet].filter((l) => !gotSet.has(l));
  assertEquals(
    { added, removed },
    { added: [], removed: [] },
    "the public API changed: if on purpose, run `deno run -A tests/api_snapshot_test.ts --update`, " +
      "list the names in README's API table and commit tests/api_snapshot.txt",
  );
});

Deno.test("api: the main entry point has a curated top level without executor internals", async () => {
  const entries = await entryPoints();
  const top = (await docSymbols(entries["."])).map((s) => s.name);
  assert(top.length <= MAX_TOP_LEVEL, `mod.ts has ${top.length} top-level names, at most ${MAX_TOP_LEVEL}`);
  const leaked = top.filter((n) => INTERNALS.includes(n));
  assertEquals(leaked, [], `executor internals in mod.ts: ${leaked.join(", ")} (they belong in backend.ts)`);
  // The PyTorch-style groups exist.
  for (const ns of ["nn", "optim", "fft"]) assert(top.includes(ns), `mod.ts lacks the namespace ${ns}`);
});

if (import.meta.main) {
  if (!Deno.args.includes("--update")) {
    console.error("usage: deno run -A tests/api_snapshot_test.ts --update");
    Deno.exit(2);
  }
  const text = await currentSnapshot();
  const tmp = new URL("./api_snapshot.txt.tmp", import.meta.url);
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, SNAPSHOT);
  console.log(`wrote ${SNAPSHOT.pathname}: ${text.trim().split("\n").length} exports`);
}
