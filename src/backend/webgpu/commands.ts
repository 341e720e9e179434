/**
 * The command set between the WebGPU backend (main thread) and its executor (worker or same thread):
 * each command is a tuple `[name, ...args]` of structured-cloneable values (numbers, arrays, typed
 * arrays), applied in order by {@link runCommand}. Storages are integer ids chosen by the backend;
 * kernels write into output ids the backend allocated with an earlier `alloc`. Every kernel of the
 * kernel table (src/backend/kernels.ts) travels as one `run` command (inputs and outputs by declared
 * name, attributes as given) and is looked up in ./kernels.ts; the other commands manage storage.
 *
 * @module
 */

import type { KernelName } from "../kernels.ts";
import type { GpuExecutor } from "./executor.ts";
import { gpuKernels } from "./kernels.ts";

/** A fire-and-forget command (no reply). */
export type Command =
  | ["alloc", id: number, elems: number, fill: number | null]
  | ["upload", id: number, data: Float32Array]
  | ["free", id: number]
  | ["fill", id: number, value: number]
  | ["copy", src: number, dst: number]
  | [
    "run",
    kernel: KernelName,
    inputs: Record<string, number | null>,
    outputs: Record<string, number | null>,
    attrs: unknown,
  ]
  | ["loseDevice"]
  | ["injectValidationError"];

/** What a command does, for error messages: the kernel's name for `run`, else the command's. */
export function commandName(c: Command): string {
  return c[0] === "run" ? c[1] : c[0];
}

/** Applies one command to the executor. Throws on unknown commands or kernel errors. */
export function runCommand(ex: GpuExecutor, c: Command): void {
  switch (c[0]) {
    case "alloc":
      return ex.alloc(c[1], c[2], c[3] ?? undefined);
    case "upload":
      return ex.upload(c[1], c[2]);
    case "free":
      return ex.free(c[1]);
    case "fill":
      return ex.fill(c[1], c[2]);
    case "copy":
      return ex.copy(c[1], c[2]);
    case "run": {
      const f = (gpuKernels as Record<string, unknown>)[c[1]] as
        | ((i: unknown, o: unknown, a: unknown, ex: GpuExecutor) => void)
        | undefined;
      if (f === undefined) throw new Error(`WebGPU executor: no kernel "${c[1]}"`);
      return f(c[2], c[3], c[4], ex);
    }
    case "injectValidationError":
      return ex.injectValidationError();
    case "loseDevice":
      ex.flush();
      ex.device.destroy();
      return;
    default:
      throw new Error(`WebGPU executor: unknown command ${JSON.stringify((c as unknown[])[0])}`);
  }
}
