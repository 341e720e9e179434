/**
 * Builds the browser bundle `dist/c3a.js`: the whole library (`mod.ts`) as one ES module, with the
 * wasm kernels (`wasm/kernels.wasm`) embedded, so a page needs a single `import` and no other asset.
 *
 * Bundler: esbuild's JS API (npm `esbuild`), with `esbuild-plugin-wasm` in embedded mode for the
 * Deno-style named-export wasm import in `src/backend/wasm/memory.ts`
 * (`import * as kernels from "../../../wasm/kernels.wasm"`): the plugin inlines the bytes and
 * instantiates them with a top-level `await WebAssembly.instantiate(...)`, so importing the bundle
 * resolves once the kernels are ready. The kernel module has no imports, so it needs no glue.
 * Node built-ins used only on Deno code paths are replaced by throwing stubs (see `BROWSER_STUBS`).
 * The wasm thread pool's worker (`src/backend/threads/worker.ts`) is bundled first, on its own, and
 * embedded in the library bundle as text that the pool starts from a Blob URL (module Web Workers, in
 * a cross-origin-isolated page's Web Worker; see `kernelWorkerSource`).
 *
 * Beside it goes `finetune-worker.js`, the fine-tuning page's Web Worker (`worker.ts` and what it
 * imports from `examples/`), in which `mod.ts` stays an import of `./c3a.js`: the worker uses the
 * library bundle, it does not carry a second copy.
 *
 * Run: `deno task bundle` (or `deno run -A examples/browser/bundle.ts [--minify] [--outfile path]`).
 * Other scripts (the browser test) call {@link bundle} directly.
 *
 * @module
 */

import * as esbuild from "esbuild";
import { wasmLoader } from "esbuild-plugin-wasm";

/** Options of {@link bundle}. */
export interface BundleOptions {
  /** Entry module (default the repository's `mod.ts`). */
  entry?: string | URL;
  /** Output file (default `dist/c3a.js` in the repository). */
  outfile?: string | URL;
  /** Minify identifiers, whitespace and syntax (default false: readable output with a source map). */
  minify?: boolean;
  /** Write `<outfile>.map` and link it from the bundle (default true). */
  sourcemap?: boolean;
  /** Also write the page's worker, `finetune-worker.js`, beside `outfile` (default true). */
  worker?: boolean;
}

/** What {@link bundle} wrote. */
export interface BundleResult {
  /** Absolute path of the bundle. */
  outfile: string;
  /** Size of the bundle in bytes. */
  bytes: number;
  /** Absolute path of the worker bundle (when built). */
  workerFile?: string;
  /** Size of the worker bundle in bytes (when built). */
  workerBytes?: number;
  /** Wall time of the build in milliseconds. */
  ms: number;
  /** esbuild warnings, formatted (empty when none). */
  warnings: string[];
}

const ROOT = new URL("../../", import.meta.url);

/**
 * Node built-ins the library imports for Deno-only code paths, with the names it imports. In the
 * browser bundle each becomes a stub whose exports throw when used: `node:worker_threads` is used by
 * the WebGPU backend's worker transport, only taken where the thread may block (Deno; in a browser the
 * backend runs inline on the page's thread), and by the wasm thread pool in Deno (in browsers it
 * starts Web Workers instead).
 */
const BROWSER_STUBS: Readonly<Record<string, readonly string[]>> = {
  "node:worker_threads": ["Worker"],
};

/** esbuild plugin: resolves {@link BROWSER_STUBS}; any other `node:` import fails the build, named. */
function nodeBuiltinStubs(): esbuild.Plugin {
  return {
    name: "c3a-node-builtin-stubs",
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => {
        if (!(args.path in BROWSER_STUBS)) {
          return {
            errors: [{
              text:
                `${args.path} (imported by ${args.importer}) has no browser stub: add it to BROWSER_STUBS ` +
                "in examples/browser/bundle.ts if the importing code path never runs in browsers",
            }],
          };
        }
        return { path: args.path, namespace: "c3a-browser-stub" };
      });
      build.onLoad({ filter: /.*/, namespace: "c3a-browser-stub" }, (args) => ({
        loader: "js",
        contents: BROWSER_STUBS[args.path].map((name) =>
          `export function ${name}() { throw new Error(${
            JSON.stringify(`${args.path}: ${name} is not available in browsers (c3a browser bundle stub)`)
          }); }`
        ).join("\n"),
      }));
    },
  };
}

/**
 * esbuild plugin: bare specifiers that `deno.json` maps to npm packages (`"@huggingface/tokenizers":
 * "npm:@huggingface/tokenizers@0.2.0"`) resolve to that package in Deno's npm cache (its `browser`,
 * `module` or `main` entry), so the bundle holds exactly the versions Deno runs. Packages the library
 * imports dynamically (vega for training-curve SVGs, a Deno-side feature) stay external imports. `deno cache mod.ts`
 * (run first by {@link bundle}) has put them there.
 */
function denoNpmImports(imports: Record<string, string>, npmCache: string): esbuild.Plugin {
  return {
    name: "c3a-deno-npm-imports",
    setup(build) {
      build.onResolve({ filter: /^[@a-zA-Z]/ }, (args) => {
        const target = imports[args.path];
        if (target === undefined || !target.startsWith("npm:")) return undefined;
        // Loaded on first use by Deno-only paths (vega for plot SVGs): left out of the browser bundle.
        if (args.kind === "dynamic-import") return { path: args.path, external: true };
        const m = /^npm:(@?[^@/]+(?:\/[^@/]+)?)@([^/]+)$/.exec(target);
        if (!m) {
          return { errors: [{ text: `deno.json maps ${args.path} to ${target}: not an npm:name@version` }] };
        }
        const dir = `${npmCache}/registry.npmjs.org/${m[1]}/${m[2]}`;
        let pkg: { browser?: unknown; module?: string; main?: string };
        try {
          pkg = JSON.parse(Deno.readTextFileSync(`${dir}/package.json`));
        } catch {
          return {
            errors: [{ text: `${m[1]}@${m[2]} is not in Deno's npm cache (${dir}); run deno cache mod.ts` }],
          };
        }
        const entry = (typeof pkg.browser === "string" ? pkg.browser : undefined) ?? pkg.module ?? pkg.main ??
          "index.js";
        return { path: `${dir}/${entry.replace(/^\.\//, "")}` };
      });
    },
  };
}

/** Deno's npm cache directory and the repository's import map, after caching what `entry` imports. */
async function denoNpmSetup(entry: string): Promise<{ imports: Record<string, string>; npmCache: string }> {
  const run = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: toPath(ROOT),
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`deno ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return new TextDecoder().decode(out.stdout);
  };
  await run(["cache", entry]);
  const npmCache = (JSON.parse(await run(["info", "--json"])) as { npmCache: string }).npmCache;
  const imports = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).imports ?? {};
  return { imports, npmCache };
}

/** The wasm thread pool's module that names the kernel worker's URL (replaced in the bundle). */
const WORKER_URL_TS = "src/backend/threads/worker_url.ts";

/**
 * Bundles the wasm thread pool's worker (`src/backend/threads/worker.ts`, a few KiB: it gets the
 * compiled kernels and the shared memory in its first message) into one ES module and returns its
 * code, for {@link kernelWorkerUrl}.
 */
async function kernelWorkerSource(minify: boolean): Promise<string> {
  const r = await esbuild.build({
    entryPoints: [toPath(new URL("src/backend/threads/worker.ts", ROOT))],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    legalComments: "none",
    logLevel: "silent",
    plugins: [nodeBuiltinStubs()],
  });
  return r.outputFiles[0].text;
}

/**
 * esbuild plugin: `src/backend/threads/worker_url.ts` (which names `./worker.ts` beside it, a file a
 * page cannot run) becomes a module that returns a Blob URL of the bundled worker `source`, made once.
 * Blob URLs inherit the page's origin and cross-origin isolation, so the workers share its memory.
 */
function kernelWorkerUrl(source: string): esbuild.Plugin {
  const target = toPath(new URL(WORKER_URL_TS, ROOT));
  return {
    name: "c3a-kernel-worker-url",
    setup(build) {
      build.onLoad({ filter: /worker_url\.ts$/ }, (args) => {
        if (args.path !== target) return undefined;
        return {
          loader: "js",
          contents: `const SOURCE = ${JSON.stringify(source)};\nlet url;\n` +
            "export function kernelWorkerUrl() {\n" +
            '  return url ??= URL.createObjectURL(new Blob([SOURCE], { type: "text/javascript" }));\n}\n',
        };
      });
    },
  };
}

/** The worker's name beside the library bundle. */
export const WORKER_FILE = "finetune-worker.js";

/**
 * esbuild plugin for the worker build: the repository's `mod.ts` becomes the external import
 * `./c3a.js` (the library bundle beside the worker), and `examples/lib/deps.ts` (corpora, plots and
 * CLI parsing, npm packages the page never uses) a module whose exports throw.
 */
function workerImports(): esbuild.Plugin {
  const modTs = toPath(new URL("mod.ts", ROOT));
  const depsTs = toPath(new URL("examples/lib/deps.ts", ROOT));
  return {
    name: "c3a-worker-imports",
    setup(build) {
      build.onResolve({ filter: /(^|\/)(mod|deps)\.ts$/ }, (args) => {
        const full = toPath(new URL(args.path, `file://${args.importer}`));
        if (full === modTs) return { path: "./c3a.js", external: true };
        if (full === depsTs) return { path: full, namespace: "c3a-browser-stub" };
        return undefined;
      });
      build.onLoad({ filter: /.*/, namespace: "c3a-browser-stub" }, (args) => ({
        loader: "js",
        contents: exportedNames(Deno.readTextFileSync(args.path)).map((name) =>
          `export function ${name}() { throw new Error("examples/lib/deps.ts: ${name} is not in the browser worker"); }`
        ).join("\n"),
      }));
    },
  };
}

/** The value names a module exports (`export const/function/class X`, `export { a as X, type T }`). */
function exportedNames(source: string): string[] {
  const names = [...source.matchAll(/export\s+(?:async\s+)?(?:const|let|function|class)\s+(\w+)/g)].map((m) =>
    m[1]
  );
  for (const m of source.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const part of m[1].split(",")) {
      const p = part.trim();
      if (p === "" || p.startsWith("type ")) continue;
      names.push(p.split(/\s+as\s+/).pop()!.trim());
    }
  }
  return names;
}

function toPath(p: string | URL): string {
  return p instanceof URL ? decodeURIComponent(p.pathname) : p;
}

/**
 * Bundles `entry` for browsers into one ES module (ES2022: top-level await, no Node built-ins) with
 * the wasm kernels embedded. esbuild's service process is stopped before returning, so callers (and
 * the test sanitizers) see no leftover child process.
 *
 * @throws {Error} esbuild's build errors (unresolvable import, syntax error), formatted.
 */
export async function bundle(opts: BundleOptions = {}): Promise<BundleResult> {
  const entry = toPath(opts.entry ?? new URL("mod.ts", ROOT));
  const outfile = toPath(opts.outfile ?? new URL("dist/c3a.js", ROOT));
  const sourcemap = opts.sourcemap ?? true;
  const t0 = performance.now();
  const npm = await denoNpmSetup(entry);
  try {
    const workerSource = await kernelWorkerSource(opts.minify ?? false);
    const result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      format: "esm",
      platform: "browser",
      // ES2022 has top-level await (used by the wasm loader); newer syntax (`using`) is lowered.
      target: "es2022",
      minify: opts.minify ?? false,
      sourcemap: sourcemap ? "linked" : false,
      legalComments: "none",
      logLevel: "silent",
      plugins: [
        nodeBuiltinStubs(),
        kernelWorkerUrl(workerSource),
        denoNpmImports(npm.imports, npm.npmCache),
        wasmLoader({ mode: "embedded" }),
      ],
      metafile: true,
    });
    const warnings = await esbuild.formatMessages(result.warnings, { kind: "warning" });
    const bytes = result.metafile.outputs[
      Object.keys(result.metafile.outputs).find((k) => k.endsWith(".js"))!
    ]
      .bytes;
    if (opts.worker === false) return { outfile, bytes, ms: performance.now() - t0, warnings };
    const workerFile = outfile.replace(/[^/\\]*$/, WORKER_FILE);
    const w = await esbuild.build({
      entryPoints: [toPath(new URL("examples/browser/worker.ts", ROOT))],
      outfile: workerFile,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: opts.minify ?? false,
      sourcemap: sourcemap ? "linked" : false,
      legalComments: "none",
      logLevel: "silent",
      plugins: [workerImports()],
      metafile: true,
    });
    warnings.push(...await esbuild.formatMessages(w.warnings, { kind: "warning" }));
    const workerBytes = Object.entries(w.metafile.outputs).find(([k]) => k.endsWith(".js"))![1].bytes;
    return { outfile, bytes, workerFile, workerBytes, ms: performance.now() - t0, warnings };
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors;
    if (errors?.length) {
      const text = await esbuild.formatMessages(errors, { kind: "error" });
      throw new Error(`bundling ${entry} failed:\n${text.join("\n")}`, { cause: e });
    }
    throw e;
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = (name: string): boolean => {
    const i = args.indexOf(name);
    if (i >= 0) args.splice(i, 1);
    return i >= 0;
  };
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined) throw new RangeError(`${name} needs a value`);
    args.splice(i, 2);
    return v;
  };
  const usage = "usage: bundle.ts [--minify] [--outfile path] [--entry path] [--help]";
  const help = flag("--help");
  const minify = flag("--minify");
  const outfile = value("--outfile");
  const entry = value("--entry");
  if (args.length > 0) {
    console.error(`unknown arguments: ${args.join(" ")}\n${usage}`);
    Deno.exit(2);
  }
  if (help) {
    console.log(`${usage}\nBuilds the browser bundle (default dist/c3a.js: mod.ts with the wasm embedded).`);
    Deno.exit(0);
  }
  const r = await bundle({ minify, outfile, entry });
  for (const w of r.warnings) console.warn(w);
  console.log(`${r.outfile}: ${(r.bytes / 1024).toFixed(1)} KiB in ${r.ms.toFixed(0)} ms`);
  if (r.workerFile) console.log(`${r.workerFile}: ${(r.workerBytes! / 1024).toFixed(1)} KiB`);
}
