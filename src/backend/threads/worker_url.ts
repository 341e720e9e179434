/**
 * Where the pool (./pool.ts) starts its kernel workers from: ./worker.ts beside this file. The browser
 * bundle (examples/browser/bundle.ts) replaces this module with one that returns a Blob URL of
 * ./worker.ts bundled on its own, so a page that imports the one bundle file needs no other asset.
 *
 * @module
 */

/** The URL of the kernel worker's entry module. */
export function kernelWorkerUrl(): URL | string {
  return new URL("./worker.ts", import.meta.url);
}
