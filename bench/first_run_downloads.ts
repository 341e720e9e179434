/**
 * What a first run of the main job downloads: runs each command with an empty `DENO_DIR` (needs the npm
 * registry) and prints the npm tarballs fetched and the size of the npm cache afterwards. Not a `deno bench`
 * suite; run it with `deno run -A bench/first_run_downloads.ts`.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Runs `args` with a fresh DENO_DIR; returns tarballs downloaded and the npm cache size in bytes. */
async function firstRun(args: string[]): Promise<{ code: number; tarballs: number; bytes: number }> {
  const dir = await Deno.makeTempDir({ prefix: "c3a-first-run-" });
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { DENO_DIR: dir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stderr);
  const tarballs = log.split("\n").filter((l) => l.startsWith("Download") && l.endsWith(".tgz")).length;
  let bytes = 0;
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) bytes += (await Deno.stat(p)).size;
    }
  };
  await walk(`${dir}/npm`).catch(() => {});
  await Deno.remove(dir, { recursive: true });
  return { code: out.code, tarballs, bytes };
}

if (import.meta.main) {
  const out = await Deno.makeTempDir({ prefix: "c3a-first-run-out-" });
  const cases: [string, string[]][] = [
    ["deno task finetune --help", ["task", "finetune", "--help"]],
    ["deno run -A examples/finetune.ts --help", ["run", "-A", "examples/finetune.ts", "--help"]],
    [
      "deno run -A examples/finetune.ts --steps 1 (a real run: loads the corpus, writes the plot)",
      ["run", "-A", "examples/finetune.ts", "--steps", "1", "--sample-length", "0", "--out", out],
    ],
  ];
  console.log("| command (empty DENO_DIR) | exit | npm tarballs | npm cache |");
  console.log("| --- | --- | --- | --- |");
  for (const [name, args] of cases) {
    const r = await firstRun(args);
    console.log(`| \`${name}\` | ${r.code} | ${r.tarballs} | ${(r.bytes / 1e6).toFixed(1)} MB |`);
  }
  await Deno.remove(out, { recursive: true });
}
