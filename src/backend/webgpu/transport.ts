/**
 * How the WebGPU backend reaches its executor.
 *
 * - {@link WorkerTransport} (default in Deno): the device lives in a `node:worker_threads` worker
 *   (./worker.ts). Commands are queued and posted in batches (on the next microtask, or every 256
 *   commands); synchronous calls (reads, stats) block the calling thread with `Atomics.wait` until the
 *   worker answers through a SharedArrayBuffer. This gives the backend synchronous reads
 *   (`readSync`, `Tensor.item()`), which WebGPU itself only offers asynchronously. The worker is
 *   unref'd (it never keeps a finished program alive) and its device is destroyed on `unload`.
 * - {@link InlineTransport}: the executor runs on the calling thread (browsers' main thread, where
 *   `Atomics.wait` is not allowed). `readSync` throws; `read` is asynchronous.
 *
 * Errors recorded by the executor (validation, out of memory, device loss, a failing command) set a
 * fault; the next command or call on the transport throws {@link WebGPUError} with the message.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
import type { Command } from "./commands.ts";
import { commandName, runCommand } from "./commands.ts";
import type { AdapterDescription, ExecutorLimits, ExecutorOptions, ExecutorStats } from "./executor.ts";
import type { GpuExecutor } from "./executor.ts";
import { CTRL_BYTES, CTRL_INIT, readReply, REPLY_HEADER, ReplyKind } from "./protocol.ts";

/**
 * An error of the WebGPU backend: a GPU validation error, out of memory, a lost device or a failed
 * kernel. The wasm backend is unaffected (`setBackend("wasm")`).
 */
export class WebGPUError extends Error {
  /** An error with `message` (what failed), named "WebGPUError". */
  constructor(message: string) {
    super(message);
    this.name = "WebGPUError";
  }
}

/** The operations the backend needs from a transport. */
export interface Transport {
  /** "worker" or "inline". */
  readonly mode: "worker" | "inline";
  /** The adapter's description. */
  readonly adapter: AdapterDescription;
  /** Executor limits. */
  readonly limits: ExecutorLimits;
  /** Queues a command. @throws {WebGPUError} after a fault (except for "free"). */
  send(c: Command): void;
  /** Contents of storage `id` (`size` elements), synchronously. @throws {WebGPUError} */
  readSync(id: number, size: number): Float32Array;
  /** Contents of storage `id`. */
  read(id: number, size: number): Promise<Float32Array>;
  /** Executor counters (after submitting pending work). */
  stats(): ExecutorStats;
  /** Waits until all queued work ran and its error scopes resolved. @throws {WebGPUError} */
  sync(): void;
  /** Destroys the device (idempotent); returns the final counters when available. */
  close(): ExecutorStats | null;
  /** True after {@link Transport.close}. */
  readonly closed: boolean;
}

const DEFAULT_TIMEOUT_MS = 600_000;

/** The executor in a worker thread, with synchronous calls (see the module doc). */
export class WorkerTransport implements Transport {
  /** "worker". */
  readonly mode = "worker" as const;
  /** The adapter's description. */
  readonly adapter: AdapterDescription;
  /** Executor limits. */
  readonly limits: ExecutorLimits;
  #worker: Worker;
  #ctrl: SharedArrayBuffer;
  #faultWord: Int32Array;
  #queue: Array<Command | unknown[]> = [];
  #scheduled = false;
  #closed = false;
  #fault: string | null = null;
  #timeoutMs: number;
  #onUnload = () => {
    this.close();
    // The worker's teardown (driver threads, EGL display) must finish before the process runs its
    // exit handlers, or Mesa's llvmpipe can crash in exit() (seen in ~6% of runs without this pause).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
  };

  private constructor(
    worker: Worker,
    ctrl: SharedArrayBuffer,
    adapter: AdapterDescription,
    limits: ExecutorLimits,
    timeoutMs: number,
  ) {
    this.#worker = worker;
    this.#ctrl = ctrl;
    this.#faultWord = new Int32Array(ctrl, 4, 1);
    this.adapter = adapter;
    this.limits = limits;
    this.#timeoutMs = timeoutMs;
    globalThis.addEventListener?.("unload", this.#onUnload);
  }

  /**
   * Starts the worker and waits (blocking) until it has a device.
   *
   * @returns the transport, or a string saying why no device is available
   */
  static start(options: ExecutorOptions = {}, timeoutMs = 30_000): WorkerTransport | string {
    const ctrl = new SharedArrayBuffer(CTRL_BYTES);
    let worker: Worker;
    try {
      worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: { ctrl, options } });
    } catch (e) {
      return `cannot start the WebGPU worker: ${e}`;
    }
    worker.unref();
    const head = new Int32Array(ctrl, CTRL_INIT, 4);
    if (Atomics.wait(head, 0, 0, timeoutMs) === "timed-out") {
      worker.terminate();
      return `the WebGPU worker did not start within ${timeoutMs} ms`;
    }
    const r = readReply(ctrl, CTRL_INIT);
    const v = r.value as { ok: boolean; error?: string; adapter: AdapterDescription; limits: ExecutorLimits };
    if (r.kind === ReplyKind.Error || !v.ok) {
      worker.terminate();
      return r.kind === ReplyKind.Error ? String(r.value) : v.error ?? "no adapter";
    }
    return new WorkerTransport(worker, ctrl, v.adapter, v.limits, DEFAULT_TIMEOUT_MS);
  }

  /** True after {@link WorkerTransport.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  #check(): void {
    if (this.#closed) throw new WebGPUError("the WebGPU device was destroyed (destroyWebGPU / close)");
    if (this.#fault === null && Atomics.load(this.#faultWord, 0) !== 0) {
      let msg = "unknown GPU error";
      try {
        msg = String(this.#call("fault") ?? msg);
      } catch (e) {
        msg = String(e);
      }
      this.#fault = msg;
    }
    if (this.#fault !== null) {
      throw new WebGPUError(
        `WebGPU backend failed: ${this.#fault}. The wasm backend is still usable (setBackend("wasm")).`,
      );
    }
  }

  #post(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0 || this.#closed) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#worker.postMessage(batch);
  }

  send(c: Command): void {
    if (c[0] === "free") {
      if (this.#closed) return;
    } else this.#check();
    this.#queue.push(c);
    if (this.#queue.length >= 256) this.#post();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#post());
    }
  }

  #call(name: string, bytes = 65536, ...args: unknown[]): unknown {
    const reply = new SharedArrayBuffer(REPLY_HEADER + Math.max(bytes, 4096));
    this.#queue.push(["$call", name, reply, ...args]);
    this.#post();
    const head = new Int32Array(reply, 0, 4);
    if (Atomics.wait(head, 0, 0, this.#timeoutMs) === "timed-out") {
      throw new WebGPUError(`the WebGPU worker did not answer "${name}" within ${this.#timeoutMs} ms`);
    }
    const r = readReply(reply, 0);
    if (r.kind === ReplyKind.Error) throw new WebGPUError(`WebGPU ${name} failed: ${r.value}`);
    return r.value;
  }

  readSync(id: number, size: number): Float32Array {
    this.#check();
    const out = this.#call("read", size * 4, id) as Float32Array;
    this.#check();
    return out;
  }

  read(id: number, size: number): Promise<Float32Array> {
    try {
      return Promise.resolve(this.readSync(id, size));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  stats(): ExecutorStats {
    if (this.#closed) throw new WebGPUError("the WebGPU device was destroyed");
    return this.#call("stats") as ExecutorStats;
  }

  sync(): void {
    this.#check();
    this.#call("sync");
    this.#check();
  }

  close(): ExecutorStats | null {
    if (this.#closed) return null;
    globalThis.removeEventListener?.("unload", this.#onUnload);
    let stats: ExecutorStats | null = null;
    try {
      stats = this.#call("destroy") as ExecutorStats;
    } catch { /* the worker is gone or the device broke; terminate anyway */ }
    this.#closed = true;
    this.#worker.terminate();
    return stats;
  }
}

/** The executor on the calling thread (no synchronous reads). */
export class InlineTransport implements Transport {
  /** "inline". */
  readonly mode = "inline" as const;
  /** The executor. */
  readonly executor: GpuExecutor;
  #scheduled = false;
  #failed: string | null = null;

  /** Wraps an executor created by {@link GpuExecutor.create}. */
  constructor(executor: GpuExecutor) {
    this.executor = executor;
  }

  /** The adapter's description. */
  get adapter(): AdapterDescription {
    return this.executor.adapter;
  }
  /** Executor limits. */
  get limits(): ExecutorLimits {
    return this.executor.limits;
  }
  /** True after close. */
  get closed(): boolean {
    return this.executor.destroyed;
  }

  #check(): void {
    if (this.executor.destroyed) {
      throw new WebGPUError("the WebGPU device was destroyed (destroyWebGPU / close)");
    }
    const f = this.#failed ??
      (this.executor.lostReason !== null ? `device lost (${this.executor.lostReason})` : this.executor.error);
    if (f !== null) {
      throw new WebGPUError(
        `WebGPU backend failed: ${f}. The wasm backend is still usable (setBackend("wasm")).`,
      );
    }
  }

  send(c: Command): void {
    if (c[0] === "free") {
      if (!this.executor.destroyed) this.executor.free(c[1]);
      return;
    }
    this.#check();
    try {
      runCommand(this.executor, c);
    } catch (e) {
      if (e instanceof RangeError) throw e;
      this.#failed = `${commandName(c)} failed: ${e}`;
      this.#check();
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        if (!this.executor.destroyed && this.executor.lostReason === null) this.executor.flush();
      });
    }
  }

  readSync(): Float32Array {
    throw new WebGPUError(
      "synchronous reads are not available with the inline WebGPU executor (no worker); use await tensor.data()",
    );
  }

  async read(id: number): Promise<Float32Array> {
    this.#check();
    const out = await this.executor.read(id);
    this.#check();
    return out;
  }

  stats(): ExecutorStats {
    this.executor.flush();
    return this.executor.stats();
  }

  sync(): void {
    this.#check();
    this.executor.flush();
  }

  close(): ExecutorStats | null {
    if (this.executor.destroyed) return null;
    this.executor.destroy();
    return this.executor.stats();
  }
}
