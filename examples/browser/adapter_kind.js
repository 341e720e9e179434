// @ts-check
/**
 * Is the browser's WebGPU adapter real hardware? Chromium without a usable GPU offers SwiftShader (a
 * CPU emulation of a GPU) and Mesa offers llvmpipe/lavapipe: there WebGPU works but trains several
 * times slower than the wasm backend, so the page uses WebGPU by default only on a hardware adapter.
 * Plain JavaScript so the page (main thread) and the worker bundle share it; `deno check` checks it.
 *
 * @module
 */

/** Adapter names (vendor, architecture, device, description) that mean a software rasterizer. */
export const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render|\bwarp\b/i;

/**
 * @typedef {object} WebGPUProbe
 * @property {boolean} available an adapter was returned
 * @property {boolean} hardware the adapter is neither a fallback adapter nor a known software one
 * @property {string} name the adapter's vendor / architecture / description, "" when none
 * @property {string} why one line: why WebGPU is or is not the default here
 */

/**
 * Asks `navigator.gpu` for an adapter and classifies it. Never throws.
 *
 * @param {{ gpu?: { requestAdapter(): Promise<unknown> } }} [nav] the navigator (default: this thread's)
 * @returns {Promise<WebGPUProbe>}
 */
export async function probeWebGPU(nav = /** @type {any} */ (globalThis.navigator)) {
  if (!nav?.gpu) {
    return { available: false, hardware: false, name: "", why: "this browser has no WebGPU (navigator.gpu)" };
  }
  /** @type {any} */
  let adapter = null;
  try {
    adapter = await nav.gpu.requestAdapter();
  } catch (e) {
    return { available: false, hardware: false, name: "", why: `WebGPU adapter request failed: ${e}` };
  }
  if (!adapter) {
    return { available: false, hardware: false, name: "", why: "WebGPU is present but offers no adapter" };
  }
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => typeof s === "string" && s !== "").join(" ") || "unnamed adapter";
  const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  const software = fallback || SOFTWARE_ADAPTER.test(name);
  return {
    available: true,
    hardware: !software,
    name,
    why: software
      ? `the WebGPU adapter (${name}) is a software ${
        fallback ? "fallback" : "rasterizer"
      } that trains slower than wasm`
      : `hardware WebGPU adapter (${name})`,
  };
}
