// Backend selection and failure handling of the WebGPU backend (src/tensor/select.ts,
// src/backend/webgpu/select.ts, transport.ts): `setBackend("auto")` chooses wasm when no adapter is
// available (an injected adapter probe returning null, and subprocesses whose
// navigator.gpu.requestAdapter is stubbed / whose navigator.gpu is removed) or when the adapter is a
// software/fallback one (llvmpipe here), and WebGPU for an adapter that says it is real; C3A_BACKEND is
// the default of `setBackend()` (subprocesses); a GPU that computes wrong numbers (simulated by
// corrupting every buffer read back from the device) makes "auto" warn once and use wasm, and an
// explicit setBackend("webgpu") fail with the numbers; tensor.to / module.to move to the GPU and back;
// a lost device and a failing kernel surface as WebGPUError while the wasm backend keeps working; the
// inline (same-thread) executor offers only asynchronous reads.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./deps.ts";
import { backendNamed, getBackend } from "../src/backend/backend.ts";
import "../src/backend/executors.ts";
import {
  destroyWebGPU,
  initWebGPU,
  isSoftwareAdapter,
  webgpuBackend,
  WebGPUError,
} from "../src/backend/webgpu/mod.ts";
import { describeBackend, knownAnswerCheck, setBackend } from "../src/tensor/select.ts";
import { tensor } from "../src/tensor/index.ts";
import { Linear } from "../src/nn/mod.ts";
import { setWarningHandler } from "../src/c3a/errors.ts";

const adapter = await navigator.gpu?.requestAdapter();
const hasGpu = !!adapter;
if (!hasGpu) console.warn("webgpu_select_test: navigator.gpu has no adapter here; device tests skipped");
const opts = { sanitizeOps: false, sanitizeResources: false };

const selectModule = new URL("../src/tensor/select.ts", import.meta.url).href;
const webgpuModule = new URL("../src/backend/webgpu/mod.ts", import.meta.url).href;

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

/** The real adapter, presented as a hardware one named "Test GPU" (info.isFallbackAdapter false). */
function asHardware(a: GPUAdapter): GPUAdapter {
  const info = {
    vendor: "test",
    architecture: "",
    device: "",
    description: "Test GPU",
    isFallbackAdapter: false,
  };
  return new Proxy(a, {
    get: (t, k) => k === "info" ? info : k === "isFallbackAdapter" ? false : Reflect.get(t, k, t),
  });
}

Deno.test("isSoftwareAdapter: the fallback flag or a known software rasteriser's name", () => {
  const fake = (info: Record<string, unknown>) => ({ info }) as unknown as GPUAdapter;
  assert(isSoftwareAdapter(fake({ isFallbackAdapter: true, vendor: "x" })));
  assert(isSoftwareAdapter(fake({ vendor: "mesa", device: "llvmpipe (LLVM 15.0.6, 256 bits)" })));
  assert(isSoftwareAdapter(fake({ vendor: "google", architecture: "swiftshader" })));
  assert(isSoftwareAdapter(fake({ description: "Microsoft Basic Render Driver" })));
  assert(isSoftwareAdapter(fake({ vendor: "mesa", device: "lavapipe" })));
  assert(
    !isSoftwareAdapter(
      fake({ vendor: "nvidia", architecture: "hopper", description: "NVIDIA H100 80GB HBM3" }),
    ),
  );
  assert(!isSoftwareAdapter(fake({ vendor: "apple", architecture: "metal-3" })));
});

Deno.test({
  name: "setBackend: an adapter probe returning null selects wasm (auto) or fails (webgpu)",
  ...opts,
  async fn() {
    const c = await setBackend("auto", { requestAdapter: () => Promise.resolve(null) });
    assertEquals(c.name, "wasm");
    assertEquals(getBackend(), backendNamed("wasm"));
    assertEquals(c.reason, "auto: webgpu: requestAdapter() returned no adapter");
    assertEquals(
      describeBackend(),
      "wasm (WebAssembly SIMD, CPU): auto: webgpu: requestAdapter() returned no adapter",
    );
    await assertRejects(
      () => setBackend("webgpu", { requestAdapter: () => Promise.resolve(null) }),
      Error,
      'setBackend("webgpu"): webgpu is unavailable: requestAdapter() returned no adapter',
    );
    await assertRejects(() => setBackend("cuda"), RangeError, 'unknown backend "cuda"; allowed: "wasm"');
  },
});

Deno.test({
  name: "setBackend: subprocess with requestAdapter stubbed to null / navigator.gpu removed uses wasm",
  ...opts,
  async fn() {
    const stub = await runScript(`
      if (navigator.gpu) navigator.gpu.requestAdapter = () => Promise.resolve(null);
      await import(${JSON.stringify(webgpuModule)});
      const { setBackend, describeBackend } = await import(${JSON.stringify(selectModule)});
      const c = await setBackend();
      console.log(c.name + "|" + describeBackend());`);
    assertEquals(stub.code, 0, stub.err);
    assertEquals(
      stub.out,
      "wasm|wasm (WebAssembly SIMD, CPU): auto: webgpu: requestAdapter() returned no adapter",
    );
    const gone = await runScript(`
      Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });
      await import(${JSON.stringify(webgpuModule)});
      const { setBackend } = await import(${JSON.stringify(selectModule)});
      const c = await setBackend("auto");
      console.log(c.name + "|" + c.reason);`);
    assertEquals(gone.code, 0, gone.err);
    assertEquals(gone.out, "wasm|auto: webgpu: navigator.gpu is not available");
  },
});

Deno.test({
  name: "setBackend(): C3A_BACKEND is the default; auto passes over the fallback adapter (subprocesses)",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    const script = `
      await import(${JSON.stringify(webgpuModule)});
      const { setBackend, describeBackend } = await import(${JSON.stringify(selectModule)});
      try {
        const c = await setBackend();
        console.log(c.name + "|" + describeBackend());
      } catch (e) { console.log("error|" + e.name + ": " + e.message); }
      (await import(${JSON.stringify(webgpuModule)})).destroyWebGPU();`;
    const forcedWasm = await runScript(script, { C3A_BACKEND: "wasm" });
    assertEquals(forcedWasm.code, 0, forcedWasm.err);
    assertEquals(forcedWasm.out, "wasm|wasm (WebAssembly SIMD, CPU): asked for (C3A_BACKEND=wasm)");
    const forcedGpu = await runScript(script, { C3A_BACKEND: "webgpu" });
    assertEquals(forcedGpu.code, 0, forcedGpu.err);
    assertMatch(
      forcedGpu.out,
      /^webgpu\|webgpu \(.+\): asked for \(C3A_BACKEND=webgpu\); passed the known-answer check$/,
    );
    const bogus = await runScript(script, { C3A_BACKEND: "metal" });
    assertEquals(
      bogus.out,
      'error|RangeError: setBackend: unknown backend "metal" (C3A_BACKEND=metal); allowed: "wasm", "webgpu", "auto"',
    );
    const auto = await runScript(script, {});
    assertEquals(auto.code, 0, auto.err);
    if (isSoftwareAdapter(adapter!)) {
      assertMatch(
        auto.out,
        /^wasm\|wasm \(WebAssembly SIMD, CPU\): auto: webgpu adapter ".+" is a software\/fallback adapter, slower than wasm \(setBackend\("webgpu"\) uses it anyway\)$/,
      );
    } else {
      assertMatch(auto.out, /^webgpu\|webgpu \(.+\): auto: .+ passed the known-answer check$/);
    }
  },
});

Deno.test({
  name: "setBackend('auto') uses an adapter that says it is hardware, after the known-answer check",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    destroyWebGPU();
    const c = await setBackend("auto", {
      requestAdapter: async () => asHardware((await navigator.gpu.requestAdapter())!),
    });
    assertEquals(c.name, "webgpu");
    assertEquals(c.reason, "auto: Test GPU passed the known-answer check");
    assertEquals(getBackend(), webgpuBackend);
    const r = await knownAnswerCheck(webgpuBackend);
    assert(r.ok && r.maxAbsError <= r.tolerance && r.tolerance > 0, JSON.stringify(r));
    await setBackend("wasm");
    destroyWebGPU();
  },
});

Deno.test({
  name:
    "known-answer check: a GPU returning wrong numbers -> auto warns once and uses wasm; explicit webgpu fails",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    destroyWebGPU();
    const g = await initWebGPU({ mode: "inline" }); // the device on this thread, so its buffers can be wrapped
    assert(g !== null);
    // every buffer the device maps for reading comes back with each float32 scaled by 1.001
    const proto = GPUBuffer.prototype;
    const original = proto.getMappedRange;
    proto.getMappedRange = function (this: GPUBuffer, ...args: Parameters<GPUBuffer["getMappedRange"]>) {
      const r = original.apply(this, args);
      const f = new Float32Array(r);
      for (let i = 0; i < f.length; i++) f[i] *= 1.001;
      return r;
    };
    const warnings: string[] = [];
    const prev = setWarningHandler((m) => warnings.push(m));
    try {
      const hw = async () => asHardware((await navigator.gpu.requestAdapter())!);
      const c = await setBackend("auto", { requestAdapter: hw });
      assertEquals(c.name, "wasm");
      assertEquals(getBackend(), backendNamed("wasm"));
      assertEquals(warnings.length, 1, warnings.join("\n"));
      assertMatch(
        warnings[0],
        /^webgpu \(Test GPU\) failed the known-answer check: (matmul|blockCircularConvolution) differs from wasm by max abs error [0-9.e-]+ > tolerance [0-9.e-]+ \(0.0001 · max \|wasm\|\); using wasm$/,
      );
      assertEquals(c.reason, `auto: ${warnings[0]}`);
      const err = await assertRejects(() => setBackend("webgpu"), Error);
      assertMatch(
        err.message,
        /^setBackend\("webgpu"\): webgpu failed the known-answer check: .+ max abs error ([0-9.e-]+) > tolerance ([0-9.e-]+)/,
      );
      const [, e, t] = err.message.match(/error ([0-9.e-]+) > tolerance ([0-9.e-]+)/)!;
      assert(Number(e) > Number(t) && Number(t) > 0, err.message);
      assertEquals(getBackend(), backendNamed("wasm"));
    } finally {
      proto.getMappedRange = original;
      setWarningHandler(prev);
    }
    // the same device without the corruption passes
    const ok = await setBackend("webgpu");
    assertEquals(ok.name, "webgpu");
    await setBackend("wasm");
    destroyWebGPU();
  },
});

Deno.test({
  name: "tensor.to / module.to: to WebGPU and back, same numbers; setBackend('webgpu') names the adapter",
  ...opts,
  ignore: !hasGpu,
  async fn() {
    destroyWebGPU();
    const c = await setBackend("webgpu");
    assertEquals(c.name, "webgpu");
    assertMatch(describeBackend(), /^webgpu \(.+\): asked for; passed the known-answer check$/);
    await setBackend("wasm");
    const lin = new Linear(8, 4);
    const x = tensor(Array.from({ length: 16 }, (_, i) => i / 8 - 1), [2, 8]);
    const ref = lin.forward(x).dataSync().slice();
    const w = lin.weight;
    assertEquals(lin.to("webgpu"), lin);
    assertEquals(lin.weight, w);
    assertEquals(w.backend, webgpuBackend);
    assertThrows(() => lin.forward(x), Error, 'input is on "wasm" but weight is on "webgpu"');
    const y = lin.forward(x.to("webgpu"));
    assertEquals(y.backend, webgpuBackend);
    const got = y.to("wasm").dataSync();
    for (let i = 0; i < ref.length; i++) assert(Math.abs(got[i] - ref[i]) <= 1e-5, `${got[i]} vs ${ref[i]}`);
    lin.to("wasm");
    assertEquals(w.backend, backendNamed("wasm"));
    destroyWebGPU();
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
    await setBackend("wasm");
    const w = getBackend();
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
    const spec = g.run("rfft", { x: long }, { n: 4096, batch: 1 }).y;
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
