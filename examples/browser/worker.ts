/**
 * The page's Web Worker: picks the backend, runs the fine-tuning job (`job.ts`) off the page's main
 * thread and posts its progress. Bundled by `bundle.ts` into `dist/finetune-worker.js`, where `mod.ts`
 * is the library bundle `dist/c3a.js` (imported, not copied).
 *
 * Messages in: `{type: "probe"}` (answered with `{type: "probe", name, device, reason, threads}`: what
 * Auto would choose here, and the wasm kernels' threads as {@link describeThreads} words them), or `{type: "start", checkpoint, text, options, backend: "auto" | "webgpu" | "wasm"}`, then
 * `{type: "stop"}` to end training early (what was trained is kept). Messages out, in order:
 * `backend`, `phase`*, `start`, (`step` | `eval` | `phase`)*, then `done` (with the result, PEFT's
 * two adapter files and `threads`, the library's `utils.parallelInfo()` at the end of the run) or `error` (`kind`: "input" | "gpu" | "memory" | "file" | "internal", and a
 * message in plain words). One run per worker: the page starts a fresh worker for every run, so a
 * failure (a lost GPU device, memory exhausted) never leaves state behind.
 *
 * @module
 */

import { getNumThreads, SafetensorsError, setBackend, utils, WebGPUError } from "../../mod.ts";
import { type Checkpoint, InputError, type JobOptions, runFinetune } from "./job.ts";

/** The `start` message. */
export interface StartMessage {
  /** Message type. */
  type: "start";
  /** The base model. */
  checkpoint: Checkpoint;
  /** The user's text. */
  text: string;
  /** Settings (defaults: the main job's). */
  options: JobOptions;
  /** "auto": WebGPU on a hardware adapter, else wasm; or force one. */
  backend: "auto" | "webgpu" | "wasm";
}

/** The kinds of failure the page words differently. */
export type ErrorKind = "input" | "gpu" | "memory" | "file" | "internal";

const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
};

let stopRequested = false;
let started = false;

function post(message: Record<string, unknown>, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

/**
 * Selects the backend the user asked for with the library's `setBackend` ("auto": WebGPU only on a
 * hardware adapter that passes the known-answer check, else wasm); returns what the page shows.
 */
async function chooseBackend(
  mode: StartMessage["backend"],
): Promise<{ name: string; description: string; why: string }> {
  if (mode !== "auto" && mode !== "webgpu" && mode !== "wasm") {
    throw new InputError(`backend must be "auto", "webgpu" or "wasm", got "${mode}"`);
  }
  let c;
  try {
    c = await setBackend(mode);
  } catch (e) {
    if (mode !== "webgpu") throw e;
    throw new WebGPUError(
      `WebGPU was asked for but cannot be used here (${(e as Error).message}). Choose WebAssembly or Auto.`,
    );
  }
  const threads = c.name === "wasm" ? `, ${describeThreads()}` : "";
  return { name: c.name, description: `${c.name} (${c.device}${threads})`, why: c.reason };
}

/**
 * The wasm kernels' threads in words: "2 threads" (the library's `getNumThreads()`: this worker plus
 * kernel workers; threads need a cross-origin-isolated page), or "one thread" and why.
 */
export function describeThreads(): string {
  const n = getNumThreads();
  if (n > 1) return `${n} threads`;
  const why = utils.parallelInfo().reason;
  return why === "" ? "one thread" : `one thread: ${why}`;
}

/** Sorts a failure into a kind and a message in plain words. */
export function describeError(e: unknown): { kind: ErrorKind; message: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  const msg = err.message.split("\n")[0];
  if (err instanceof InputError) return { kind: "input", message: msg };
  if (err instanceof SafetensorsError) {
    return { kind: "file", message: `The model file could not be read: ${msg}` };
  }
  if (err instanceof WebGPUError || /device (was )?lost|GPUDevice|WebGPU/i.test(msg)) {
    return { kind: "gpu", message: `The GPU failed: ${msg}. Choose wasm and start again.` };
  }
  if (
    /out of memory|allocation failed|could not allocate|Memory\.grow|memory access out of bounds/i.test(msg)
  ) {
    return {
      kind: "memory",
      message: `Out of memory (${msg}). Use a smaller batch size or sequence length, or close other tabs.`,
    };
  }
  return { kind: "internal", message: `${err.name}: ${msg}` };
}

async function run(msg: StartMessage): Promise<void> {
  try {
    const backend = await chooseBackend(msg.backend);
    post({ type: "backend", ...backend });
    const r = await runFinetune(msg.checkpoint, msg.text, msg.options, {
      phase: (text) => post({ type: "phase", text }),
      start: (info) => post({ type: "start", info }),
      step: (report) => post({ type: "step", report }),
      eval: (report) => post({ type: "eval", report }),
      shouldStop: () => stopRequested,
    });
    post({ type: "done", result: r, threads: utils.parallelInfo() }, [
      r.adapter.weights.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    post({ type: "error", ...describeError(e) });
  }
}

scope.onmessage = (ev: MessageEvent) => {
  const m = ev.data as { type?: string };
  if (m?.type === "stop") stopRequested = true;
  else if (m?.type === "probe" && !started) {
    started = true;
    setBackend("auto").then(
      (c) =>
        post({ type: "probe", name: c.name, device: c.device, reason: c.reason, threads: describeThreads() }),
      (e) => post({ type: "error", ...describeError(e) }),
    );
  } else if (m?.type === "start" && !started) {
    started = true;
    void run(m as StartMessage);
  } else post({ type: "error", kind: "internal", message: `unexpected message ${JSON.stringify(m?.type)}` });
};
post({ type: "ready" });
