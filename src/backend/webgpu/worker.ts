/**
 * Entry point of the WebGPU worker thread (started by ./transport.ts with `node:worker_threads`, which
 * Deno supports and which can be unref'd so it never keeps a finished program alive). It owns the
 * device through a {@link GpuExecutor}, applies command batches in order, and answers synchronous
 * calls (reads, stats, fault message, destroy) through SharedArrayBuffers, so the main thread can
 * block on `Atomics.wait` — this is what makes `Backend.readSync` (and `Tensor.item()`) work on the
 * GPU backend.
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";
import { type ExecutorOptions, GpuExecutor } from "./executor.ts";
import { type Command, commandName, runCommand } from "./commands.ts";
import { CTRL_INIT, REPLY_HEADER, ReplyKind, writeReply } from "./protocol.ts";

/** A synchronous call inside a command batch. */
type Call = ["$call", name: string, reply: SharedArrayBuffer, ...args: unknown[]];

const { ctrl, options } = workerData as { ctrl: SharedArrayBuffer; options: ExecutorOptions };
const ctrlWords = new Int32Array(ctrl, 0, 4);
let ex: GpuExecutor | null = null;
let fault: string | null = null;

function setFault(msg: string): void {
  if (fault === null) fault = msg;
  Atomics.store(ctrlWords, 1, 1);
}

try {
  ex = await GpuExecutor.create(options);
  if (ex === null) {
    writeReply(ctrl, CTRL_INIT, ReplyKind.Json, { ok: false, error: "no WebGPU adapter in the worker" });
  } else {
    ex.onFault = () => setFault(ex!.lostReason !== null ? `device lost (${ex!.lostReason})` : ex!.error!);
    writeReply(ctrl, CTRL_INIT, ReplyKind.Json, { ok: true, adapter: ex.adapter, limits: ex.limits });
  }
} catch (e) {
  writeReply(ctrl, CTRL_INIT, ReplyKind.Error, `WebGPU device request failed: ${e}`);
  ex = null;
}

async function handleCall(c: Call): Promise<void> {
  const [, name, reply, ...args] = c;
  try {
    if (ex === null) throw new Error("WebGPU executor is not available");
    switch (name) {
      case "read": {
        const data = await ex.read(args[0] as number);
        new Float32Array(reply, REPLY_HEADER, data.length).set(data);
        const head = new Int32Array(reply, 0, 4);
        head[1] = ReplyKind.Floats;
        head[2] = data.length * 4;
        Atomics.store(head, 0, 1);
        Atomics.notify(head, 0);
        return;
      }
      case "stats":
        ex.flush();
        return writeReply(reply, 0, ReplyKind.Json, ex.stats());
      case "sync":
        ex.flush();
        await ex.settle();
        return writeReply(reply, 0, ReplyKind.Json, null);
      case "fault":
        return writeReply(
          reply,
          0,
          ReplyKind.Json,
          fault ?? (ex.lostReason ? `device lost (${ex.lostReason})` : ex.error),
        );
      case "destroy": {
        const lost = ex.device.lost;
        ex.destroy();
        // let the device's teardown finish before the thread may be terminated
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([lost, new Promise((r) => timer = setTimeout(r, 1000))]);
        clearTimeout(timer);
        return writeReply(reply, 0, ReplyKind.Json, ex.stats());
      }
      default:
        throw new Error(`unknown call "${name}"`);
    }
  } catch (e) {
    let msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    if (ex !== null && !ex.destroyed) {
      // a failed map is often the first sign of a lost device: give device.lost a moment to settle
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([ex.device.lost, new Promise((r) => timer = setTimeout(r, 200))]);
      clearTimeout(timer);
      if (ex.lostReason !== null) msg = `device lost (${ex.lostReason}); ${msg}`;
    }
    writeReply(reply, 0, ReplyKind.Error, msg);
  }
}

async function processBatch(batch: Array<Command | Call>): Promise<void> {
  for (const c of batch) {
    if (c[0] === "$call") {
      await handleCall(c as Call);
      continue;
    }
    if (ex === null || ex.destroyed) continue;
    try {
      runCommand(ex, c as Command);
    } catch (e) {
      setFault(`${commandName(c as Command)} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`);
    }
  }
  if (ex !== null && !ex.destroyed && ex.lostReason === null) {
    try {
      ex.flush();
    } catch (e) {
      setFault(`submit failed: ${e}`);
    }
  }
}

let chain: Promise<void> = Promise.resolve();
parentPort!.on("message", (batch: Array<Command | Call>) => {
  chain = chain.then(() => processBatch(batch));
});
