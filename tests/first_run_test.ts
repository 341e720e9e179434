// The main job downloads what it needs (issue: the first `deno task finetune` fetched ~300 npm packages,
// 211 MB, build and test tools included). `deno task` installs every npm dependency of the repository before
// it runs anything (denoland/deno#28999), so README runs the job with `deno run`; with
// `"unstable": ["npm-lazy-caching"]` in deno.json that fetches only the npm packages of the job's module
// graph, and the corpora are imported on first use. `bench/first_run_downloads.ts` measures it with an
// empty Deno cache (needs the npm registry); this test guards the three parts offline.
import { assert, assertEquals } from "./deps.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("first run: npm packages are cached lazily (deno.json) and README runs the main job without deno task", () => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))) as { unstable?: string[] };
  assert(config.unstable?.includes("npm-lazy-caching"), `deno.json "unstable": ${config.unstable}`);
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const quickStart = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("### Results"));
  assert(
    quickStart.includes("npx --yes deno@2.9.6 run -A examples/finetune.ts "),
    "the main job runs directly",
  );
  assert(
    !/^npx --yes deno@2\.9\.6 task finetune/m.test(readme),
    "no sh line runs the main job via deno task",
  );
});

Deno.test("first run: the main job's module graph holds only deno-std and the tokenizer libraries from npm (corpora and Vega load on use)", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "examples/finetune.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: { specifier: string }[] };
  const npm = new Set(
    info.modules.map((m) => m.specifier).filter((s) => s.startsWith("npm:"))
      .map((s) => s.replace(/^npm:\/?/, "").replace(/^((@[^/]+\/)?[^@/]+)@.*$/, "$1")),
  );
  // @huggingface/tokenizers and @huggingface/jinja (no dependencies of their own) read the checkpoint's
  // tokenizer.json and chat template; Vega (loss.svg) is imported when the picture is drawn
  assertEquals([...npm].sort(), ["@huggingface/jinja", "@huggingface/tokenizers", "deno-std"]);
});
