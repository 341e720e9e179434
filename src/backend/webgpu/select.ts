/**
 * Starting the WebGPU backend: its {@link BackendProvider} ({@link webgpuProvider}: probe the adapter
 * without starting it, start asynchronously, describe the device; registered as "webgpu" by
 * src/backend/executors.ts), starts it on a device
 * ({@link initWebGPU}) and releases it ({@link destroyWebGPU}). Which backend is used is decided by
 * the one public entry point, `await setBackend("wasm" | "webgpu" | "auto")` (src/tensor/select.ts).
 *
 * In Deno the device runs in a worker, so `backendNamed("webgpu")` / `tensor.to("webgpu")` can start
 * it synchronously (blocking until it is ready); in browsers it must be started with
 * `await setBackend("webgpu" | "auto")` first.
 *
 * @module
 */

// Registers "wasm" (destroyWebGPU falls back to it) and "webgpu" when this module is imported alone.
import "../executors.ts";
import {
  type Backend,
  backendNamed,
  type BackendProvider,
  type DeviceProbe,
  getBackend,
  setCurrentBackend,
} from "../backend.ts";
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

/** Software rasterisers that expose a WebGPU adapter: slower than the wasm backend on the same CPU. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|subzero|\bwarp\b|basic render|software/i;

/**
 * True for a fallback/software adapter: `isFallbackAdapter` (GPUAdapterInfo, or the older
 * GPUAdapter attribute), or a known software rasteriser in its vendor/architecture/device/description.
 */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = (adapter.info ?? {}) as Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter || (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter) {
    return true;
  }
  return SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(" "));
}

function adapterName(adapter: GPUAdapter): string {
  const info = (adapter.info ?? {}) as Partial<GPUAdapterInfo>;
  return info.description || [info.vendor, info.architecture, info.device].filter((s) => s).join(" ") ||
    "unknown adapter";
}

/** Options the WebGPU provider reads from `setBackend(name, options)`. */
interface ProviderOptions extends InitWebGPUOptions {
  /** Adapter probe (default `navigator.gpu.requestAdapter()`); tests inject adapters through it. */
  requestAdapter?: () => Promise<GPUAdapter | null>;
}

/**
 * How the WebGPU backend is probed, started and described; registered as "webgpu" by the
 * composition root (src/backend/executors.ts). A function declaration (hoisted) because
 * executors.ts and this module import each other: it is called before this module's body has run.
 */
export function webgpuProvider(): BackendProvider {
  return {
    create() {
      if (!webgpuBackend.ready) {
        if (!canBlock()) {
          throw new WebGPUError(
            'the WebGPU backend must be started with "await setBackend("webgpu")" (or "auto") first in this runtime',
          );
        }
        void webgpuBackend.transport; // starts the worker; throws WebGPUError when no adapter
      }
      return webgpuBackend;
    },
    async probe(options = {}): Promise<DeviceProbe> {
      const o = options as ProviderOptions;
      const gpu = gpuOrNull();
      if (!o.requestAdapter && !gpu) {
        return { available: false, device: "", fallback: false, reason: "navigator.gpu is not available" };
      }
      let adapter: GPUAdapter | null;
      try {
        adapter = o.requestAdapter ? await o.requestAdapter() : await gpu!.requestAdapter();
      } catch (e) {
        return { available: false, device: "", fallback: false, reason: `requestAdapter() failed: ${e}` };
      }
      if (!adapter) {
        return {
          available: false,
          device: "",
          fallback: false,
          reason: "requestAdapter() returned no adapter",
        };
      }
      return {
        available: true,
        device: adapterName(adapter),
        fallback: isSoftwareAdapter(adapter),
        reason: "",
      };
    },
    async start(options = {}): Promise<Backend> {
      if (webgpuBackend.ready) return webgpuBackend;
      const { requestAdapter: _r, ...init } = options as ProviderOptions;
      const b = await initWebGPU(init);
      if (b === null) throw new WebGPUError(`WebGPU is unavailable: ${unavailable}`);
      return b;
    },
    device(b: Backend): string {
      return (b as WebGPUBackend).describe().replace(/^webgpu \((.*)\)$/, "$1");
    },
  };
}

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
 * why). Does not change the current backend (that is `await setBackend("webgpu")`).
 *
 * @example
 * ```ts
 * const gpu = await initWebGPU({ mode: "inline" });
 * console.log(gpu ? gpu.describe() : webgpuUnavailableReason());
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

/** Why the last {@link initWebGPU} did not start a device (null if it did). */
export function webgpuUnavailableReason(): string | null {
  return unavailable;
}

/**
 * Destroys the WebGPU device (all its buffers) if one is running and returns its final counters; the
 * next WebGPU use starts a new device. Switches the current backend to wasm if it was WebGPU.
 */
export function destroyWebGPU(): ReturnType<WebGPUBackend["destroy"]> {
  if (getBackend() === webgpuBackend) setCurrentBackend(backendNamed("wasm"));
  return webgpuBackend.destroy();
}
