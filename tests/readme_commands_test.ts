// README's commands run as written: every line of its ```sh blocks is `npx --yes deno@2.9.6 …` (the Deno
// the quick start gets from npm), names a task of deno.json or a script of the repository, and is run in a
// dry form here — the script's `--help` with the same flags (so a renamed task, script or flag fails this
// test), or, for tasks that run deno's own tools (test, check, bench, build), a check that the task exists
// and every file or folder it names is in the repository. The library snippet runs from a project that has
// nothing but README's import-map line.
import { assert, assertEquals } from "./deps.ts";

const ROOT = new URL("../", import.meta.url);
const README = Deno.readTextFileSync(new URL("README.md", ROOT));
/** Markdown files whose ```sh commands are checked: the top-level README and the examples' README. */
const READMES = ["README.md", "examples/README.md"];
const DENO_JSON = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))) as {
  tasks: Record<string, string>;
};
/** How README writes every command: the Deno the quick start fetches from npm. */
const PREFIX = "npx --yes deno@2.9.6 ";

/** The fenced blocks of `lang` in a Markdown text, in order. */
function fencedBlocks(markdown: string, lang: string): string[] {
  const re = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "gm");
  return [...markdown.matchAll(re)].map((m) => m[1]);
}

/** The READMEs' shell commands: lines of their ```sh blocks without comments; blank and comment lines dropped. */
function readmeCommands(): string[] {
  return READMES.flatMap((f) => fencedBlocks(Deno.readTextFileSync(new URL(f, ROOT)), "sh"))
    .flatMap((b) => b.split("\n"))
    .map((line) => line.replace(/\s+#.*$/, "").replace(/^#.*$/, "").trim())
    .filter((line) => line.length > 0);
}

/** Runs deno (this test's own binary, the version README pins in CI) with `args`; returns code and output. */
async function deno(args: string[], cwd: URL | string = ROOT): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Paths (files with an extension, or folders written with a trailing `/`) a task's command line names. */
function pathsIn(command: string): string[] {
  const paths = new Set<string>();
  for (const word of command.split(/[\s,=]+/)) {
    if (word.startsWith("npm:") || word.startsWith("-") || word.includes("://")) continue;
    if (/^[\w./-]+\.(ts|js|json|md|wasm)$/.test(word) || /^[\w.-]+\/([\w.-]+\/)*$/.test(word)) {
      paths.add(word);
    }
  }
  return [...paths];
}

/** `deno run [flags] FILE args…` as a single command (no `&&`): the script file and the flags after it. */
function runScript(words: string[]): { file: string; args: string[] } | null {
  if (words[0] !== "run") return null;
  const i = words.findIndex((w, k) => k > 0 && !w.startsWith("-"));
  return i < 0 ? null : { file: words[i], args: words.slice(i + 1) };
}

/** The dry form of one README command; returns what it checked, throws with the command on a failure. */
async function dryRun(command: string): Promise<string> {
  assert(
    command.startsWith(PREFIX),
    `README command "${command}" does not start with "${PREFIX.trim()}" (the Deno the quick start sets up)`,
  );
  const words = command.slice(PREFIX.length).trim().split(/\s+/);
  let script: { file: string; args: string[] } | null;
  if (words[0] === "task") {
    const name = words[1];
    const task = DENO_JSON.tasks[name];
    assert(task !== undefined, `README command "${command}": deno.json has no task "${name}"`);
    for (const p of pathsIn(task)) {
      const st = Deno.statSync(new URL(p, ROOT));
      assert(st.isFile || st.isDirectory, p);
    }
    const taskWords = task.trim().split(/\s+/);
    // a task running deno's own tools (test, check, bench) or an npm tool (build:wasm) has no dry form
    let inner = task.includes("&&") || taskWords[0] !== "deno" ? null : runScript(taskWords.slice(1));
    if (inner?.file.startsWith("npm:")) inner = null;
    if (inner === null) {
      assertEquals(words.length, 2, `README command "${command}": extra arguments to task "${name}"`);
      return `task ${name} exists; its paths exist`;
    }
    const flags = taskWords.slice(2, taskWords.indexOf(inner.file)); // after "deno run"
    script = { file: inner.file, args: [...inner.args, ...words.slice(2)] };
    words.splice(0, words.length, "run", ...flags, inner.file, ...script.args);
  } else {
    script = runScript(words);
    assert(script !== null, `README command "${command}": only "task" and "run" commands are checked here`);
  }
  const { code, out } = await deno([...words, "--help"]);
  assertEquals(code, 0, `README command "${command}" --help exited with ${code}:\n${out}`);
  assert(/usage:/i.test(out), `README command "${command}" --help printed no usage:\n${out}`);
  return `${script!.file} ${script!.args.join(" ")} --help: usage printed`;
}

Deno.test("README, examples/README: every ```sh command is written for the quick start's Deno and runs in a dry form", async () => {
  const commands = readmeCommands();
  assert(commands.length >= 15, `expected README's sh blocks to hold the commands, found ${commands.length}`);
  assert(commands.includes(`${PREFIX}run -A examples/finetune.ts`), "the quick start's main job");
  assert(commands.includes(`${PREFIX}task test`), "the quick start's test command");
  // three at a time (each --help loads the script's imports); a repeated command is checked once
  const unique = [...new Set(commands)];
  for (let i = 0; i < unique.length; i += 3) await Promise.all(unique.slice(i, i + 3).map(dryRun));
});

Deno.test("README command check fails for a renamed task, script or flag", async () => {
  const bad: [string, string][] = [
    [`${PREFIX}task finetun`, 'no task "finetun"'], // renamed task
    [`${PREFIX}task finetune --txt notes.txt`, "unknown option --txt"], // renamed flag
    [`${PREFIX}run -A examples/pretrain2.ts --steps 5`, "Module not found"], // renamed script
    [`${PREFIX}task bundle --mnify`, "unknown arguments: --mnify"], // misspelt flag
    [`deno task finetune`, "does not start with"], // a deno the quick start did not install
  ];
  for (const [c, why] of bad) {
    const err = await dryRun(c).then(() => null, (e: Error) => e);
    assert(err !== null, `the check accepted "${c}"`);
    assert(err.message.includes(why), `"${c}" failed for another reason: ${err.message}`);
  }
});

Deno.test("README library snippet runs from a project holding only README's import-map line", async () => {
  const [importMap] = fencedBlocks(README, "json");
  assert(importMap?.includes('"@c3a/c3a"'), "README shows the import-map line for @c3a/c3a");
  const [snippet] = fencedBlocks(README, "ts");
  assert(snippet.includes('from "@c3a/c3a"'), "the snippet keeps the package name");
  const dir = await Deno.makeTempDir({ prefix: "c3a-readme-" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, importMap);
    // README's line maps to ./c3a/mod.ts: the checkout, cloned beside the user's files
    const target = JSON.parse(importMap).imports["@c3a/c3a"] as string;
    assertEquals(target, "./c3a/mod.ts");
    await Deno.symlink(new URL(".", ROOT).pathname, `${dir}/c3a`);
    await Deno.writeTextFile(`${dir}/main.ts`, snippet + '\nconsole.log("snippet ok");\n');
    const { code, out } = await deno(["run", "--allow-read", "main.ts"], dir);
    assertEquals(code, 0, out);
    assert(out.includes("snippet ok"), out);
    assert(out.includes("trainable params"), out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
