/**
 * Browser tests: build the browser bundles (`examples/browser/bundle.ts`, esbuild, wasm embedded),
 * serve the example pages on 127.0.0.1 (ephemeral port), open them in Debian's headless Chromium
 * (`/usr/bin/chromium`, driven by playwright-core) and check what the pages show.
 *
 * The fine-tuning page (`index.html`, the shipped byte-level Llama + C3A in a Web Worker):
 * - a 20-step run on a fixed text (`assets/moby-dick-ch1-5.txt`) with a fixed seed gives the same
 *   per-step losses and held-out bits per byte as the same job (`examples/browser/job.ts`) run here in
 *   Deno on `mod.ts` (wasm, within 1e-4), and again with Chromium's WebGPU adapter forced (smaller run);
 * - the downloaded adapter (PEFT's two files) loads in Deno with `C3AModel.fromPretrained` and gives the
 *   held-out bits per byte the page reported (evaluated with the main job's `evaluateBpb`);
 * - no main-thread long task over 200 ms while training (PerformanceObserver "longtask");
 * - threads: served cross-origin isolated (COOP/COEP), the page's worker runs the wasm kernels on
 *   more than one thread, with at least one kernel worker running; served without those headers it runs
 *   on one thread and says why, with the same losses (the kernels are bit-identical for any thread count);
 * - Auto does not pick Chromium's software WebGPU adapter (SwiftShader);
 * - a binary file and a too-short text are refused in plain words and the page recovers; Stop ends a
 *   run early and keeps what was trained;
 * - the page's and the job's defaults are the main job's (`examples/finetune.ts`).
 * Timings of the runs are printed (not asserted).
 *
 * The MLP probe page (`mlp.html`):
 *
 * - the probe log-probabilities of the adapted MLP against Hugging Face PEFT's reference output
 *   (`tests/fixtures/peft/mlp/expected.json`, float64 from the same weights) — independent;
 * - the per-step training losses against the same computation (`examples/browser/demo.js`) run here
 *   in Deno on `mod.ts`, within float32 tolerance, and that training lowers the loss;
 * - the user path: an `adapter_model.safetensors` chosen through the page's file input (config
 *   inferred from the kernel shapes) gives the same numbers as the shipped adapter with its config;
 * - threads: the page is cross-origin isolated, but the library runs on its main thread, which may not
 *   block, so the wasm kernels run on one thread and `utils.parallelInfo()` says why;
 * - the WebGPU path: with `--enable-unsafe-webgpu` Chromium offers a software (SwiftShader) adapter;
 *   the page selected with `?webgpu=1` must run on the "webgpu" backend and give the same numbers
 *   (skipped, saying why, while mod.ts exports no `selectBackend`).
 *
 * Without /usr/bin/chromium the test fails when `CI` is set (CI installs Debian's chromium) and is
 * ignored with a printed reason otherwise.
 */

import { assert, assertEquals } from "./deps.ts";
import * as c3a from "../mod.ts";
import { bundle } from "../examples/browser/bundle.ts";
import { createHandler } from "../examples/browser/serve.ts";
import { type DemoResult, runDemo } from "../examples/browser/demo.js";
import { C3AModel, LlamaForCausalLM, setBackend } from "../mod.ts";
import {
  checkpointTokenizer,
  FINETUNE_DEFAULTS,
  type JobResult,
  prepareText,
  runFinetune,
} from "../examples/browser/job.ts";
import { evaluateBpb } from "../examples/lib/lm.ts";
import { MIN_TEXT_BYTES } from "../examples/lib/data.ts";
import { DEFAULT_TARGETS, OPTIONS } from "../examples/finetune.ts";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // WebGPU on SwiftShader (software) even with --disable-gpu, so the WebGPU path runs headless.
  "--enable-unsafe-webgpu",
];
const ASSETS = new URL("../examples/browser/assets/", import.meta.url);
const EXPECTED = new URL("./fixtures/peft/mlp/expected.json", import.meta.url);

function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const inCI = (Deno.env.get("CI") ?? "") !== "";
const skip = !haveChromium() && !inCI;
if (skip) {
  console.log(
    `browser_test: ignored — ${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium; ` +
      "in CI, where CI is set, a missing browser fails the test)",
  );
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  assertEquals(a.length, b.length, "length mismatch");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  tol: number,
  what: string,
): void {
  const d = maxAbsDiff(actual, expected);
  assert(
    d <= tol,
    `${what}: max |diff| ${d.toExponential(3)} > ${tol.toExponential(1)}\n  got      ${
      actual.join(", ")
    }\n  expected ${expected.join(", ")}`,
  );
}

/** What the page put in #result-json. */
type PageResult = DemoResult & {
  backendDescription: string;
  adapterSource: string;
  ms: number;
  /** The page's `utils.parallelInfo()` after the run. */
  threads: c3a.utils.ParallelInfo;
};

Deno.test({
  name: "browser: bundle + MLP probe page (mlp.html) in headless Chromium match Deno and PEFT",
  ignore: skip,
  async fn(t) {
    if (!haveChromium()) {
      throw new Error(
        `${CHROMIUM} not found but CI is set: the browser test needs Debian's chromium ` +
          "(.ci/run installs it with apt-get install -y chromium)",
      );
    }
    const timings: Record<string, number> = {};
    let t0 = performance.now();
    const distDir = await Deno.makeTempDir({ prefix: "c3a-browser-" });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createHandler({ distDir: `${distDir}/` }),
    );
    let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
    try {
      const built = await bundle({ outfile: `${distDir}/c3a.js`, sourcemap: false });
      timings.bundle = performance.now() - t0;
      assert(built.bytes > 20_000, `bundle suspiciously small: ${built.bytes} bytes`);

      t0 = performance.now();
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      timings.launch = performance.now() - t0;
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console.error: ${m.text()} (${m.location().url})`);
      });
      const base = `http://127.0.0.1:${server.addr.port}/examples/browser/mlp.html`;

      const waitDone = async (): Promise<PageResult> => {
        // Evaluated in the page (a string: this file is type-checked without the DOM library).
        await page.waitForFunction(
          `(() => { const s = document.getElementById("status")?.textContent ?? ""; ` +
            `return s === "done" || s.startsWith("error"); })()`,
          undefined,
          { timeout: 60_000 },
        );
        const status = await page.textContent("#status");
        assertEquals(status, "done", `page reported: ${status}\n${problems.join("\n")}`);
        return JSON.parse((await page.textContent("#result-json")) ?? "null");
      };

      // Deno side: the same computation on mod.ts.
      const seed = 3, steps = 20, lr = 0.1;
      const probe = JSON.parse(await Deno.readTextFile(new URL("probe.json", ASSETS)));
      const inputs = {
        baseWeights: await Deno.readFile(new URL("model.safetensors", ASSETS)),
        adapterWeights: await Deno.readFile(new URL("adapter/adapter_model.safetensors", ASSETS)),
        probe: probe.x,
        seed,
        steps,
        lr,
      };
      t0 = performance.now();
      const denoWithConfig = await runDemo(c3a, {
        ...inputs,
        adapterConfig: await Deno.readTextFile(new URL("adapter/adapter_config.json", ASSETS)),
      });
      const denoInferred = await runDemo(c3a, inputs);
      timings.deno = performance.now() - t0;

      // Independent reference: PEFT's output for this base model + adapter on the probe input.
      const expected = JSON.parse(await Deno.readTextFile(EXPECTED));
      const ref: number[] = expected.adapters.c3a_adapter.output.data;
      assertEquals(probe.x, expected.input.x, "examples/browser/assets/probe.json drifted from the fixture");
      assertEquals(probe.output, expected.adapters.c3a_adapter.output, "probe.json reference drifted");
      const refTol = 1e-4 * Math.max(...ref.map(Math.abs));

      await t.step("shipped adapter + config", async () => {
        t0 = performance.now();
        await page.goto(`${base}?seed=${seed}&steps=${steps}&lr=${lr}&webgpu=0`);
        const r = await waitDone();
        timings.page = performance.now() - t0;
        timings.pageCompute = r.ms;
        assertEquals(r.backend, "wasm");
        // Cross-origin isolated, but on the page's main thread (which may not block): one thread.
        assertEquals(await page.evaluate("globalThis.crossOriginIsolated"), true);
        assertEquals([r.threads.sharedMemory, r.threads.numThreads], [false, 1], JSON.stringify(r.threads));
        assert(r.threads.reason.includes("may not block"), r.threads.reason);
        assertEquals(r.blockSizes, { lin0: 5, lin1: 2 });
        assertEquals(r.trainableParams, 4 * 2 * 5 + 1 * 10 * 2);
        assertClose(r.probeOutput, ref, refTol, "page probe output vs PEFT");
        assertClose(denoWithConfig.probeOutput, ref, refTol, "Deno probe output vs PEFT");
        assertEquals(r.losses.length, steps);
        assertClose(r.losses, denoWithConfig.losses, 1e-5, "page losses vs Deno losses");
        assertClose([r.finalLoss], [denoWithConfig.finalLoss], 1e-5, "page final loss vs Deno");
        assert(
          r.finalLoss < r.losses[0] - 0.01,
          `training did not lower the loss: ${r.losses[0]} -> ${r.finalLoss}`,
        );
      });

      await t.step("adapter chosen through the file input (config inferred)", async () => {
        await page.setInputFiles(
          "#files",
          decodeURIComponent(new URL("adapter/adapter_model.safetensors", ASSETS).pathname),
        );
        // The change event starts a run; wait for it to finish with the chosen file.
        await page.waitForFunction(
          `(document.getElementById("adapter-source")?.textContent ?? "").includes("inferred")`,
          undefined,
          { timeout: 60_000 },
        );
        const r = await waitDone();
        assert(r.adapterSource.includes("inferred"), r.adapterSource);
        assertEquals(r.blockSizes, { lin0: 5, lin1: 2 });
        assertClose(r.probeOutput, ref, refTol, "page probe output (inferred config) vs PEFT");
        assertClose(r.losses, denoInferred.losses, 1e-5, "page losses (inferred config) vs Deno");
        assertClose(denoInferred.losses, denoWithConfig.losses, 1e-6, "inferred vs file config in Deno");
      });

      const hasSelect = "setBackend" in c3a;
      await t.step({
        name: "WebGPU backend (SwiftShader adapter) gives the same numbers",
        ignore: !hasSelect,
        async fn() {
          t0 = performance.now();
          await page.goto(`${base}?seed=${seed}&steps=${steps}&lr=${lr}&webgpu=1`);
          const r = await waitDone();
          timings.pageWebGPU = performance.now() - t0;
          assertEquals(r.backend, "webgpu", `page did not run on WebGPU: ${r.backendDescription}`);
          // Different kernels (WGSL FFT/matmul vs wasm): float32 rounding differs, so a looser bound.
          assertClose(r.probeOutput, ref, refTol, "page probe output on WebGPU vs PEFT");
          assertClose(r.losses, denoWithConfig.losses, 1e-4, "page losses on WebGPU vs Deno (wasm)");
        },
      });
      if (!hasSelect) {
        console.log("browser_test: WebGPU step ignored — mod.ts does not export setBackend");
      }

      assertEquals(problems, [], "the page logged errors");
      console.log(
        `browser_test timings (ms): ${
          Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")
        }; bundle ${(built.bytes / 1024).toFixed(0)} KiB`,
      );
    } finally {
      await browser?.close();
      await server.shutdown();
      await Deno.remove(distDir, { recursive: true });
    }
  },
});

// --- the fine-tuning page (index.html) ---------------------------------------------------------------

const CHECKPOINT = new URL("../examples/checkpoints/sotu-byte-llama/", import.meta.url);
const TEXT = new URL("../examples/browser/assets/moby-dick-ch1-5.txt", import.meta.url);
/** A short run: the job's defaults except these (small batches keep the test fast). */
const RUN = { steps: 20, batchSize: 4, seqLen: 64, evalEvery: 10, evalWindows: 8, sampleLength: 16, seed: 7 };
/** The WebGPU run: smaller still (Chromium's SwiftShader adapter is a CPU emulation of a GPU). */
const GPU_RUN = {
  steps: 20,
  batchSize: 1,
  seqLen: 16,
  evalEvery: 0,
  evalWindows: 2,
  sampleLength: 0,
  seed: 7,
};
const query = (r: typeof RUN) =>
  `steps=${r.steps}&batch=${r.batchSize}&seqlen=${r.seqLen}&evalevery=${r.evalEvery}` +
  `&evalwindows=${r.evalWindows}&samplelength=${r.sampleLength}&seed=${r.seed}`;
const QUERY = query(RUN);

/** What the page puts in #result-json after a run. */
type FinetunePageResult = Omit<JobResult, "adapter"> & {
  backend: string;
  backendDescription: string;
  backendWhy: string;
  adapterBytes: number;
  ms: number;
  /** The worker's `utils.parallelInfo()` at the end of the run. */
  threads: c3a.utils.ParallelInfo;
};

Deno.test({
  name: "browser: fine-tuning page (Llama + C3A in a worker) matches the job in Deno; adapter loads in Deno",
  ignore: skip,
  async fn(t) {
    if (!haveChromium()) throw new Error(`${CHROMIUM} not found but CI is set: install Debian's chromium`);
    const distDir = await Deno.makeTempDir({ prefix: "c3a-browser-ft-" });
    const dlDir = await Deno.makeTempDir({ prefix: "c3a-browser-dl-" });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createHandler({ distDir: `${distDir}/` }),
    );
    // The same files without the cross-origin isolation headers: no SharedArrayBuffer, one thread.
    const plainServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createHandler({ distDir: `${distDir}/`, isolation: false }),
    );
    let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
    const timings: string[] = [];
    try {
      await bundle({ outfile: `${distDir}/c3a.js`, sourcemap: false });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
      });
      const base = `http://127.0.0.1:${server.addr.port}/examples/browser/`;
      const textPath = decodeURIComponent(TEXT.pathname);
      const text = await Deno.readTextFile(TEXT);

      /** Sets the text through the file input and waits until Start is enabled. */
      const chooseText = async () => {
        await page.setInputFiles("#file", textPath);
        await page.waitForFunction(`!document.getElementById("start").disabled`, undefined, {
          timeout: 60_000,
        });
      };
      /** Waits for the end of a run; returns the status line. */
      const waitEnd = async (timeout = 240_000): Promise<string> => {
        await page.waitForFunction(
          `(() => { const s = document.getElementById("status")?.textContent ?? ""; ` +
            `return s === "done" || s === "stopped" || s.startsWith("error"); })()`,
          undefined,
          { timeout },
        );
        return (await page.textContent("#status")) ?? "";
      };
      const result = async (): Promise<FinetunePageResult> =>
        JSON.parse((await page.textContent("#result-json")) ?? "null");

      // Deno side: the same job on mod.ts (wasm).
      await setBackend("wasm");
      const ckpt = {
        config: JSON.parse(await Deno.readTextFile(new URL("config.json", CHECKPOINT))),
        weights: await Deno.readFile(new URL("model.safetensors", CHECKPOINT)),
        name: "sotu-byte-llama",
        tokenizerJson: JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", CHECKPOINT))),
        tokenizerConfig: JSON.parse(await Deno.readTextFile(new URL("tokenizer_config.json", CHECKPOINT))),
      };
      const t0 = performance.now();
      const deno = await runFinetune(ckpt, text, RUN);
      timings.push(`Deno job (wasm) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const denoTrain = deno.train.map((p) => p.value);
      const denoEval = deno.eval.map((p) => p.value);

      await t.step("defaults are the main job's (finetune.ts) and the page's form shows them", async () => {
        const opt = (name: string) => OPTIONS.find((o) => o.name === name)!.default;
        assertEquals(FINETUNE_DEFAULTS.steps, opt("steps"));
        assertEquals(FINETUNE_DEFAULTS.warmup, opt("warmup"));
        assertEquals(FINETUNE_DEFAULTS.batchSize, opt("batch-size"));
        assertEquals(FINETUNE_DEFAULTS.seqLen, opt("seq-len"));
        assertEquals(FINETUNE_DEFAULTS.evalEvery, opt("eval-every"));
        assertEquals(FINETUNE_DEFAULTS.evalWindows, opt("eval-windows"));
        assertEquals(FINETUNE_DEFAULTS.sampleLength, opt("sample-length"));
        assertEquals(FINETUNE_DEFAULTS.seed, opt("seed"));
        // --init-weights has no table default (C3A-only flag); its help names the default.
        assert(
          OPTIONS.find((o) => o.name === "init-weights")!.help.includes(
            `default ${FINETUNE_DEFAULTS.initWeights}`,
          ),
        );
        assertEquals(FINETUNE_DEFAULTS.targets.join(","), DEFAULT_TARGETS);
        await page.goto(base);
        const form = JSON.parse(
          await page.evaluate(
            `JSON.stringify(["steps","lr","batch","seqlen","seed","evalevery","evalwindows","samplelength"]` +
              `.map((id) => Number(document.getElementById(id).value)))`,
          ) as string,
        );
        const d = FINETUNE_DEFAULTS;
        assertEquals(form, [
          d.steps,
          d.lr,
          d.batchSize,
          d.seqLen,
          d.seed,
          d.evalEvery,
          d.evalWindows,
          d.sampleLength,
        ]);
      });

      await t.step(
        "a binary file and a too-short text are refused in plain words; the page recovers",
        async () => {
          await page.goto(`${base}?${QUERY}&backend=wasm`);
          const binary = `${dlDir}/model.bin`;
          await Deno.writeFile(
            binary,
            new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0xff, 0xfe, 0x00, 0x01, 0xc3, 0x28]),
          );
          await page.setInputFiles("#file", binary);
          await page.waitForSelector("#error:not([hidden])");
          const err = (await page.textContent("#error")) ?? "";
          assert(err.includes("not UTF-8 text"), err);
          assert(await page.isDisabled("#start"), "Start must stay disabled for a refused file");
          await page.fill("#text", "A short text. ".repeat(20));
          const info = (await page.textContent("#text-info")) ?? "";
          assert(info.includes("too short") && info.includes(MIN_TEXT_BYTES.toLocaleString("en-US")), info);
          // Start anyway: the worker refuses it and says how much is needed; the page stays usable.
          await page.click("#start");
          assert((await waitEnd()).startsWith("error"));
          const msg = (await page.textContent("#error")) ?? "";
          assert(msg.includes("at least 2,048 are needed") && msg.includes("add"), msg);
          await chooseText(); // recovers without a reload
          assert(await page.isHidden("#error"));
        },
      );

      await t.step("Auto does not use Chromium's software WebGPU adapter", async () => {
        await page.waitForFunction("globalThis.__autoBackend !== undefined", undefined, { timeout: 60_000 });
        const auto = JSON.parse(await page.evaluate("JSON.stringify(globalThis.__autoBackend)") as string);
        const info = (await page.textContent("#backend-info")) ?? "";
        assertEquals(auto.name, "wasm", `Auto chose ${auto.name}: ${auto.reason}`);
        assert(info.startsWith("Auto uses WebAssembly"), info);
      });

      let wasmResult: FinetunePageResult | null = null;
      await t.step("20 steps on wasm: same losses as Deno, no long task, adapter downloads", async () => {
        const tStart = await page.evaluate("performance.now()") as number;
        await page.click("#start");
        const status = await waitEnd();
        assertEquals(status, "done", `${status}\n${problems.join("\n")}`);
        const tEnd = await page.evaluate("performance.now()") as number;
        const r = await result();
        wasmResult = r;
        timings.push(
          `page wasm: ${(r.ms / 1000).toFixed(1)} s (training ${r.trainSeconds.toFixed(1)} s, ` +
            `${r.tokensPerSecond.toFixed(0)} tokens/s)`,
        );
        assertEquals(r.backend, "wasm");
        assertEquals(r.stepsDone, RUN.steps);
        // Served with COOP/COEP: the worker's kernels run on several threads, and kernel workers ran.
        assert(
          r.threads.sharedMemory && r.threads.numThreads > 1 && r.threads.workersRunning >= 1,
          `the page's worker did not run threaded: ${JSON.stringify(r.threads)}`,
        );
        assert(r.backendDescription.includes(`${r.threads.numThreads} threads`), r.backendDescription);
        assertClose(r.train.map((p) => p.value), denoTrain, 1e-4, "page (wasm) train bits/byte vs Deno");
        assertClose(r.eval.map((p) => p.value), denoEval, 1e-4, "page (wasm) held-out bits/byte vs Deno");
        assertClose([r.bpbBefore], [deno.bpbBefore], 1e-4, "bits/byte before");
        assertEquals(r.samples, deno.samples, "samples differ from Deno's");
        assert(
          r.bpbAfter < r.bpbBefore,
          `training did not lower held-out bits/byte: ${r.bpbBefore} -> ${r.bpbAfter}`,
        );
        const long = (JSON.parse(await page.evaluate("JSON.stringify(globalThis.__longTasks)") as string) as {
          start: number;
          duration: number;
        }[]).filter((e) => e.start >= tStart && e.start <= tEnd && e.duration > 200);
        assertEquals(long, [], "main-thread long tasks over 200 ms during training");

        const downloads: Promise<unknown>[] = [];
        const saved: string[] = [];
        const got = new Promise<void>((resolve) => {
          page.on("download", (d) => {
            downloads.push(
              d.saveAs(`${dlDir}/${d.suggestedFilename()}`).then(() => {
                saved.push(d.suggestedFilename());
                if (saved.length === 2) resolve();
              }),
            );
          });
        });
        await page.click("#download");
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([
            got,
            new Promise((_, rej) => {
              timer = setTimeout(() => rej(new Error("downloads timed out")), 30_000);
            }),
          ]);
        } finally {
          clearTimeout(timer);
        }
        await Promise.all(downloads);
        assertEquals(saved.sort(), ["adapter_config.json", "adapter_model.safetensors"]);
        assertEquals((await Deno.stat(`${dlDir}/adapter_model.safetensors`)).size, r.adapterBytes);
      });

      await t.step("without the isolation headers: one thread, says why, same losses as Deno", async () => {
        const plain = `http://127.0.0.1:${plainServer.addr.port}/examples/browser/`;
        await page.goto(`${plain}?${QUERY}&backend=wasm`);
        assertEquals(await page.evaluate("globalThis.crossOriginIsolated"), false);
        await chooseText();
        await page.click("#start");
        const status = await waitEnd();
        assertEquals(status, "done", `${status}\n${problems.join("\n")}`);
        const r = await result();
        timings.push(
          `page wasm, not isolated: ${(r.ms / 1000).toFixed(1)} s (training ${
            r.trainSeconds.toFixed(1)
          } s, ` +
            `${r.tokensPerSecond.toFixed(0)} tokens/s)`,
        );
        assertEquals(
          [r.threads.sharedMemory, r.threads.numThreads, r.threads.workersStarted],
          [false, 1, 0],
          JSON.stringify(r.threads),
        );
        assert(r.threads.reason.includes("not cross-origin isolated"), r.threads.reason);
        assert(r.backendDescription.includes("one thread: the page is not cross-origin isolated"));
        assertClose(
          r.train.map((p) => p.value),
          denoTrain,
          1e-4,
          "page (one thread) train bits/byte vs Deno",
        );
        assertClose(r.eval.map((p) => p.value), denoEval, 1e-4, "page (one thread) held-out vs Deno");
        assertEquals(r.samples, deno.samples, "samples (one thread) differ from Deno's");
      });

      await t.step(
        "the downloaded adapter loads in Deno and gives the page's held-out bits/byte",
        async () => {
          assert(wasmResult !== null);
          const base = await LlamaForCausalLM.fromPretrained(decodeURIComponent(CHECKPOINT.pathname));
          const model = await C3AModel.fromPretrained(base, dlDir);
          const cfg = JSON.parse(await Deno.readTextFile(`${dlDir}/adapter_config.json`));
          assertEquals(cfg.peft_type, "C3A");
          assertEquals(cfg.block_size, wasmResult.blockSize);
          const data = prepareText(text, RUN.seqLen, RUN.evalWindows, checkpointTokenizer(ckpt));
          const bpb = evaluateBpb(model as unknown as LlamaForCausalLM, {
            tokens: data.heldOut,
            offsets: data.offsets,
            seqLen: RUN.seqLen,
          });
          assertClose(
            [bpb],
            [wasmResult.bpbAfter],
            1e-5,
            "held-out bits/byte of the downloaded adapter in Deno",
          );
        },
      );

      await t.step("Stop ends the run early and keeps what was trained", async () => {
        await page.goto(`${base}?${QUERY.replace(`steps=${RUN.steps}`, "steps=500")}&backend=wasm`);
        await chooseText();
        await page.click("#start");
        await page.waitForFunction(
          `(document.getElementById("s-step")?.textContent ?? "").startsWith("step 3 ")`,
          undefined,
          { timeout: 120_000 },
        );
        await page.click("#stop");
        assertEquals(await waitEnd(), "stopped");
        const r = await result();
        assert(r.stopped && r.stepsDone >= 3 && r.stepsDone < 500, `stepsDone ${r.stepsDone}`);
        assertEquals(r.train.length, r.stepsDone);
        assertEquals(r.eval[r.eval.length - 1].step, r.stepsDone, "no held-out evaluation at the stop");
        assertClose(
          r.train.map((p) => p.value).slice(0, 3),
          denoTrain.slice(0, 3),
          1e-4,
          "first steps vs Deno",
        );
        assert(r.adapterBytes > 0 && (await page.getAttribute("#dl-weights", "href"))?.startsWith("blob:"));
      });

      await t.step("20 steps with Chromium's WebGPU adapter forced: same losses as Deno (wasm)", async () => {
        const auto = JSON.parse(await page.evaluate("JSON.stringify(globalThis.__autoBackend)") as string);
        if (!/software|fallback/i.test(auto.reason)) {
          console.log(
            `browser_test (fine-tuning page): WebGPU run skipped — no WebGPU adapter (${auto.reason})`,
          );
          return;
        }
        await setBackend("wasm");
        let t0 = performance.now();
        const ref = await runFinetune(ckpt, text, GPU_RUN);
        timings.push(
          `Deno job, WebGPU run's settings (wasm) ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        t0 = performance.now();
        await page.goto(`${base}?${query(GPU_RUN)}&backend=webgpu`);
        await chooseText();
        await page.click("#start");
        const status = await waitEnd(300_000);
        assertEquals(status, "done", `${status}\n${problems.join("\n")}`);
        const r = await result();
        timings.push(
          `page WebGPU (${r.backendDescription}, ${GPU_RUN.batchSize}×${GPU_RUN.seqLen} bytes a step): ` +
            `${(r.ms / 1000).toFixed(1)} s (training ${r.trainSeconds.toFixed(1)} s, ${
              r.tokensPerSecond.toFixed(0)
            } tokens/s)`,
        );
        assertEquals(r.backend, "webgpu", r.backendDescription);
        // Other kernels (WGSL FFT and matmul) round differently from wasm.
        assertClose(
          r.train.map((p) => p.value),
          ref.train.map((p) => p.value),
          1e-4,
          "page (WebGPU) train bits/byte vs Deno (wasm)",
        );
        assertClose(
          r.eval.map((p) => p.value),
          ref.eval.map((p) => p.value),
          1e-4,
          "page (WebGPU) held-out vs Deno (wasm)",
        );
      });

      assertEquals(problems, [], "the page logged errors");
      console.log(
        `browser_test (fine-tuning page) timings (20 steps of ${RUN.batchSize}×${RUN.seqLen} bytes): ${
          timings.join("; ")
        }`,
      );
    } finally {
      await browser?.close();
      await server.shutdown();
      await plainServer.shutdown();
      await Deno.remove(distDir, { recursive: true });
      await Deno.remove(dlDir, { recursive: true });
    }
  },
});
