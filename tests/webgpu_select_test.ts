// Backend selection and failure handling of the WebGPU backend (src/backend/webgpu/select.ts,
// transport.ts): wasm is chosen when no adapter is available (an injected adapter probe returning
// null, and a subprocess whose navigator.gpu.requestAdapter is stubbed to return null / whose
// navigator.gpu is removed), C3A_BACKEND forces a backend (subprocesses), a lost device and a failing
// kernel surface as WebGPUError while the wasm backend keeps working, the inline (same-thread)
// executor offers only asynchronous reads, and setBackend("webgpu") starts a device by itself.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./deps.ts";
import { getBackend, setBackend } from "../src/backend/backend.ts";
import "../src/backend/wasm/backend.ts";
import {
  describeBackend,
  destroyWebGPU,
  initWebGPU,
  selectBackend,
  webgpuBackend,
  WebGPUError,
  webgpuUnavailableReason,
} from "../src/backend/webgpu/mod.ts";

const adapter = await navigator.gpu?.requestAdapter();
const hasGpu = !!adapter;
if (!hasGpu) console.warn("webgpu_select_test: navigator.gpu has no adapter here; device tests skipped");
const opts = { sanitizeOps: false, sanitizeResources: false };

const selectModule = new URL("../src/backend/webgpu/mod.ts", import.meta.url).href;
const backendModule = new URL("../src/backend/backend.ts", import.meta.url).href;

/** Runs a script in a fresh Deno process; returns its stdout (trimmed) and exit code. */
async function runScript(
  code: string,
  env: Record<string, string> = {},
): Promise<{ out: string; err: string; code: number }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", file],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      out: new TextDecoder().decode(r.stdout).trim(),
      err: new TextDecoder().decode(r.stderr),
      code: r.code,
    };
  } finally {
    await Deno.remove(file);
  }
}

Deno.test({
  name: "select: an adapter probe returning null selects wasm",
  ...opts,
  async fn() {
    const b = await selectBackend({ requestAdapter: () => Promise.resolve(null), backend: "auto" });
    assertEquals(b.name, "wasm");
    assertEquals(getBackend(), b);
    assertEquals(describeBackend(), "wasm (WebAssembly SIMD, CPU)");
    assertMatch(webgpuUnavailableReason() ?? "", /requestAdapter|missing/);
    await assertRejects(
      () => selectBackend({ requestAdapter: () => Promise.resolve(null), backend: "webgpu" }),
      WebGPUError,
      "unavailable",
    );
    await assertRejects(() => selectBackend({ backend: "cuda" as "wasm" }), RangeError, "C3A_BACKEND");
  },
});

Deno.test({
  name: "select: subprocess with requestAdapter stubbed to null / navigator.gpu removed falls back to wasm",
  ...opts,
  async fn() {
    const stub = await runScript(`
      if (navigator.gpu) navigator.gpu.requestAdapter = () => Promise.resolve(null);
      const { selectBackend, describeBackend } = await import(${JSON.stringify(selectModule)});
      const b = await selectBackend();
      console.log(b.name + "|" + describeBackend());`);
    assertEquals(stub.code, 0, stub.err);
    assertEquals(stub.out, "wasm|wasm (WebAssembly SIMD, CPU)");
    const gone = await runScript(`
      Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });
      const { selectBackend, initWebGPU, webgpuUnavailableReason } = await import(${
      JSON.stringify(selectModule)
    });
      const b = await selectBackend();
      console.log(b.name + "|" + (await initWebGPU()) + "|" + webgpuUnavailableReason());`);
    assertEquals(gone.code, 0, gone.err);
    assertEquals(gone.out, "wasm|null|navigator.gpu is not available in this runtime");
  },
});

Deno.test({
  name: "select: C3A_BACKEND forces a backend (subprocesses)",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    const script = `
      const { selectBackend, describeBackend } = await import(${JSON.stringify(selectModule)});
      const { getBackend } = await import(${JSON.stringify(backendModule)});
      try {
        await selectBackend();
        console.log(getBackend().name + "|" + describeBackend());
      } catch (e) { console.log("error|" + e.name + ": " + e.message); }`;
    const forcedWasm = await runScript(script, { C3A_BACKEND: "wasm" });
    assertEquals(forcedWasm.code, 0, forcedWasm.err);
    assertEquals(forcedWasm.out, "wasm|wasm (WebAssembly SIMD, CPU)");
    const auto = await runScript(script, {});
    assertEquals(auto.code, 0, auto.err);
    assertMatch(auto.out, /^webgpu\|webgpu \(.+\)$/);
    const forcedGpu = await runScript(script, { C3A_BACKEND: "webgpu" });
    assertEquals(forcedGpu.out, auto.out);
    assertEquals(forcedGpu.code, 0, forcedGpu.err);
    const bogus = await runScript(script, { C3A_BACKEND: "metal" });
    assertMatch(bogus.out, /^error\|RangeError: C3A_BACKEND/);
  },
});

Deno.test({
  name: "select: setBackend('webgpu') starts a device by itself; describeBackend names the adapter",
  ...opts,
  ignore: !hasGpu,
  fn() {
    destroyWebGPU();
    const b = setBackend("webgpu");
    assertEquals(b, webgpuBackend);
    assertMatch(describeBackend(), /^webgpu \(.+\)$/);
    const s = b.fromArray(new Float32Array([1, 4, 9]));
    assertEquals(Array.from(b.readSync(b.unary("sqrt", s))), [1, 2, 3]);
    setBackend("wasm");
  },
});

Deno.test({
  name: "errors: a lost device surfaces as WebGPUError; wasm keeps working; a new device works",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    const g = await initWebGPU();
    assert(g !== null);
    const s = g.fromArray(new Float32Array([1, 2, 3]));
    g._loseDevice();
    assertThrows(() => g.readSync(s), WebGPUError, "device lost");
    assertThrows(() => g.unary("exp", s), WebGPUError, "wasm backend is still usable");
    const w = setBackend("wasm");
    const ws = w.fromArray(new Float32Array([1, 2, 3]));
    assertEquals(Array.from(w.readSync(w.binaryScalar("mul", ws, 2))), [2, 4, 6]);
    const again = await initWebGPU();
    assert(again !== null);
    assertEquals(
      Array.from(again.readSync(again.binaryScalar("add", again.fromArray(new Float32Array([1])), 1))),
      [2],
    );
    assertThrows(() => again.readSync(s), WebGPUError, "destroyed");
  },
});

Deno.test({
  name: "errors: a GPU validation error (captured by the error scopes) surfaces as WebGPUError",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    const g = await initWebGPU();
    assert(g !== null);
    const s = g.fromArray(new Float32Array([1, 2]));
    g._injectValidationError();
    g.unary("neg", s); // queued in the same submission
    assertThrows(
      () => {
        g.readSync(s);
        g.sync();
      },
      WebGPUError,
      "validation error",
    );
    assertThrows(() => g.full(3), WebGPUError, "wasm backend is still usable");
    destroyWebGPU();
  },
});

Deno.test({
  name: "errors: a kernel that cannot run (binding limit) reports which op failed",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    const g = await initWebGPU({ maxBindingBytes: 1024 });
    assert(g !== null);
    // one reduced slice of 4096 elements cannot be split for a max reduction? it can: partials
    const x = g.fromArray(new Float32Array(4096).fill(1));
    assertEquals(Array.from(g.readSync(g.reduce("max", x, [4096], [0]))), [1]);
    // an FFT row longer than a binding cannot be split
    const long = g.fromArray(new Float32Array(4096));
    const spec = g.rfft(long, 4096, 1);
    assertThrows(() => g.readSync(spec), WebGPUError, "rfft failed: RangeError");
    destroyWebGPU();
  },
});

Deno.test({
  name: "inline mode: kernels run on this thread, reads are asynchronous only",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    const g = await initWebGPU({ mode: "inline" });
    assert(g !== null);
    const a = g.fromArray(new Float32Array([1, 2, 3, 4])), b = g.fromArray(new Float32Array([10, 20]));
    const c = g.binary("add", a, b, [2, 2], [2, 1], [0, 1]);
    assertEquals(Array.from(await g.read(c)), [11, 22, 13, 24]);
    assertThrows(() => g.readSync(c), WebGPUError, "await tensor.data()");
    const st = g.stats();
    assertEquals(st.error, null);
    const final = destroyWebGPU();
    assert(final !== null && final.deviceDestroyed);
  },
});
