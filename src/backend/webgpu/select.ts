/**
 * Backend selection: registers the WebGPU backend as "webgpu", starts it ({@link initWebGPU}),
 * chooses between WebGPU and wasm ({@link selectBackend}: WebGPU when `navigator.gpu.requestAdapter()`
 * yields an adapter, wasm otherwise, `C3A_BACKEND=wasm|webgpu` or an option to force one), and
 * describes the current backend in one line for training-script headers ({@link describeBackend}).
 *
 * `getBackend()` / `setBackend()` (src/backend/backend.ts) stay synchronous: in Deno,
 * `setBackend("webgpu")` starts the WebGPU worker on first use, blocking until the device is ready.
 *
 * @module
 */

import "../wasm/backend.ts";
import { type Backend, getBackend, registerBackend, setBackend } from "../backend.ts";
import { WebGPUBackend } from "./backend.ts";
import { type ExecutorOptions, GpuExecutor, gpuOrNull } from "./executor.ts";
import { InlineTransport, WebGPUError, WorkerTransport } from "./transport.ts";

/** The one WebGPU backend instance (what `setBackend("webgpu")` returns). */
export const webgpuBackend: WebGPUBackend = new WebGPUBackend();

let unavailable: string | null = null;

/** True where the calling thread may block in `Atomics.wait` (Deno, workers), i.e. the worker mode works. */
function canBlock(): boolean {
  const g = globalThis as unknown as { Deno?: unknown; SharedArrayBuffer?: unknown };
  return typeof g.SharedArrayBuffer === "function" && typeof g.Deno === "object";
}

registerBackend("webgpu", () => {
  if (!webgpuBackend.ready) {
    if (!canBlock()) {
      throw new WebGPUError(
        'the WebGPU backend must be started with "await initWebGPU()" (or selectBackend()) before setBackend("webgpu")',
      );
    }
    void webgpuBackend.transport; // starts the worker; throws WebGPUError when no adapter
  }
  return webgpuBackend;
});

/** Options of {@link initWebGPU}. */
export interface InitWebGPUOptions extends ExecutorOptions {
  /**
   * "worker" (device in a worker thread: synchronous reads work; the default in Deno), "inline"
   * (device on this thread: only `await tensor.data()` reads; the default elsewhere), or "auto".
   */
  mode?: "worker" | "inline" | "auto";
}

/**
 * Starts the WebGPU backend on a new device (closing any previous one) and returns it, or null when
 * `navigator.gpu` is missing or no adapter/device is available ({@link webgpuUnavailableReason} says
 * why). Does not change the current backend; see {@link selectBackend}.
 *
 * @example
 * ```ts
 * import { setBackend } from "../backend.ts";
 * const gpu = await initWebGPU();
 * if (gpu) setBackend("webgpu");
 * destroyWebGPU(); // tests and short scripts: release the device now (it is also released at exit)
 * ```
 */
export async function initWebGPU(opts: InitWebGPUOptions = {}): Promise<WebGPUBackend | null> {
  const gpu = gpuOrNull();
  if (!gpu) {
    unavailable = "navigator.gpu is not available in this runtime";
    return null;
  }
  const mode = opts.mode === undefined || opts.mode === "auto"
    ? (canBlock() ? "worker" : "inline")
    : opts.mode;
  const { mode: _m, ...exOpts } = opts;
  webgpuBackend.options = exOpts;
  if (mode === "worker") {
    const t = WorkerTransport.start(exOpts);
    if (typeof t === "string") {
      unavailable = t;
      return null;
    }
    webgpuBackend.attach(t);
  } else {
    let ex: GpuExecutor | null;
    try {
      ex = await GpuExecutor.create(exOpts);
    } catch (e) {
      unavailable = `WebGPU device request failed: ${e}`;
      return null;
    }
    if (ex === null) {
      unavailable = "navigator.gpu.requestAdapter() returned no adapter";
      return null;
    }
    webgpuBackend.attach(new InlineTransport(ex));
  }
  unavailable = null;
  return webgpuBackend;
}

/** Why the last {@link initWebGPU} / {@link selectBackend} did not use WebGPU (null if it did). */
export function webgpuUnavailableReason(): string | null {
  return unavailable;
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions extends InitWebGPUOptions {
  /**
   * Force a backend: "wasm" or "webgpu" ("auto" = probe). Default: the environment variable
   * `C3A_BACKEND` when readable (needs `--allow-env`), else "auto".
   */
  backend?: "wasm" | "webgpu" | "auto";
  /**
   * Adapter probe (default `navigator.gpu.requestAdapter()`); returning null selects wasm. Lets
   * callers and tests decide availability without a real adapter.
   */
  requestAdapter?: () => Promise<GPUAdapter | null>;
}

function envBackend(): string | undefined {
  try {
    const D = (globalThis as unknown as {
      Deno?: {
        env: { get(k: string): string | undefined };
        permissions?: { querySync?(d: { name: "env"; variable: string }): { state: string } };
      };
    }).Deno;
    if (!D) return undefined;
    const st = D.permissions?.querySync?.({ name: "env", variable: "C3A_BACKEND" });
    if (st && st.state !== "granted") return undefined;
    const v = D.env.get("C3A_BACKEND");
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/**
 * Chooses and sets the current backend: WebGPU when an adapter is available (and its device starts),
 * otherwise wasm. `opts.backend` or the environment variable `C3A_BACKEND` ("wasm" | "webgpu" |
 * "auto") force a choice.
 *
 * @returns the backend now current (see {@link describeBackend})
 * @throws {RangeError} for an unknown forced backend name
 * @throws {WebGPUError} when "webgpu" is forced but unavailable
 * @example
 * ```ts
 * await selectBackend();
 * console.log(describeBackend()); // "webgpu (llvmpipe (LLVM 15.0.6, 256 bits), fallback adapter)"
 * destroyWebGPU(); // short scripts and tests: release the device now rather than at exit
 * ```
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<Backend> {
  const forced = opts.backend ?? envBackend() ?? "auto";
  if (forced !== "wasm" && forced !== "webgpu" && forced !== "auto") {
    throw new RangeError(`C3A_BACKEND / backend must be "wasm", "webgpu" or "auto", got "${forced}"`);
  }
  if (forced === "wasm") {
    unavailable = "wasm forced";
    return setBackend("wasm");
  }
  const probe = opts.requestAdapter ??
    (async () => {
      const gpu = gpuOrNull();
      return gpu ? await gpu.requestAdapter() : null;
    });
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await probe();
  } catch (e) {
    unavailable = `requestAdapter failed: ${e}`;
  }
  if (adapter === null) {
    unavailable ??= "navigator.gpu is missing or requestAdapter() returned null";
    if (forced === "webgpu") {
      throw new WebGPUError(`C3A_BACKEND=webgpu but WebGPU is unavailable: ${unavailable}`);
    }
    return setBackend("wasm");
  }
  if (!webgpuBackend.ready) {
    const { backend: _b, requestAdapter: _r, ...init } = opts;
    const b = await initWebGPU(init);
    if (b === null) {
      if (forced === "webgpu") {
        throw new WebGPUError(`C3A_BACKEND=webgpu but WebGPU is unavailable: ${unavailable}`);
      }
      return setBackend("wasm");
    }
  }
  unavailable = null;
  return setBackend("webgpu");
}

/**
 * Selects the WebGPU backend when an adapter and device are available, else stays on / switches to
 * wasm (ignores `C3A_BACKEND`). For pages with a "use WebGPU" switch.
 *
 * @returns true when WebGPU is now the current backend
 * @example
 * ```ts
 * if (!(await useWebGPU())) console.log("no WebGPU here:", webgpuUnavailableReason());
 * destroyWebGPU(); // short scripts and tests: release the device now rather than at exit
 * ```
 */
export async function useWebGPU(opts: InitWebGPUOptions = {}): Promise<boolean> {
  const b = await selectBackend({ ...opts, backend: "auto" });
  return b === webgpuBackend;
}

/**
 * One line naming the backend (default: the current one) for logs and training-script headers, e.g.
 * "webgpu (llvmpipe (LLVM 15.0.6, 256 bits), fallback adapter)" or "wasm (WebAssembly SIMD, CPU)".
 */
export function describeBackend(backend: Backend = getBackend()): string {
  if (backend instanceof WebGPUBackend) return backend.describe();
  if (backend.name === "wasm") return "wasm (WebAssembly SIMD, CPU)";
  return backend.name;
}

/**
 * Destroys the WebGPU device (all its buffers) if one is running and returns its final counters; the
 * next WebGPU use starts a new device. Switches the current backend to wasm if it was WebGPU.
 */
export function destroyWebGPU(): ReturnType<WebGPUBackend["destroy"]> {
  if (getBackend() === webgpuBackend) setBackend("wasm");
  return webgpuBackend.destroy();
}
