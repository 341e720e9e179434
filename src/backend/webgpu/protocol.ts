/**
 * Wire format between the WebGPU backend and its worker (./worker.ts, ./transport.ts).
 *
 * - Commands (./commands.ts) travel in batches (`postMessage(Command[])`), applied in order.
 * - A synchronous call is the command `["$call", name, reply, ...args]` in a batch; the worker answers
 *   by writing into the `reply` SharedArrayBuffer and waking the waiting thread with `Atomics.notify`:
 *   Int32 words `[0]` state (0 pending, 1 done), `[1]` kind ({@link ReplyKind}), `[2]` payload bytes;
 *   the payload starts at byte {@link REPLY_HEADER}.
 * - The control SharedArrayBuffer (made by the backend, given to the worker at start) holds Int32
 *   `[0]` init state (0 pending, 1 done) and `[1]` fault flag (1 once the executor recorded an error or
 *   lost its device); the init reply uses the same layout as a call reply, from byte 16.
 *
 * @module
 */

/** Bytes before a reply's payload. */
export const REPLY_HEADER = 16;

/** Payload kinds of a reply: UTF-8 JSON, float32 elements, or a UTF-8 error message. */
export const ReplyKind = { Json: 0, Floats: 1, Error: 2 } as const;
/** One of {@link ReplyKind}'s values. */
export type ReplyKind = 0 | 1 | 2;

/** Byte offset of the init reply in the control buffer. */
export const CTRL_INIT = 16;
/** Size of the control buffer (init reply room included). */
export const CTRL_BYTES = CTRL_INIT + REPLY_HEADER + 65536;

/** Writes a JSON or error reply into `sab` at `at` (the reply header's offset) and wakes the waiter. */
export function writeReply(sab: SharedArrayBuffer, at: number, kind: ReplyKind, value: unknown): void {
  const head = new Int32Array(sab, at, 4);
  const text = kind === ReplyKind.Error ? String(value) : JSON.stringify(value ?? null);
  let bytes = new TextEncoder().encode(text);
  const room = sab.byteLength - at - REPLY_HEADER;
  if (bytes.length > room) {
    bytes = new TextEncoder().encode(
      kind === ReplyKind.Error ? text.slice(0, Math.floor(room / 4)) : JSON.stringify({ truncated: true }),
    );
  }
  new Uint8Array(sab, at + REPLY_HEADER, bytes.length).set(bytes);
  head[1] = kind;
  head[2] = bytes.length;
  Atomics.store(head, 0, 1);
  Atomics.notify(head, 0);
}

/** Reads a finished reply (after the waiter woke up). */
export function readReply(sab: SharedArrayBuffer, at: number): { kind: ReplyKind; value: unknown } {
  const head = new Int32Array(sab, at, 4);
  const kind = head[1] as ReplyKind;
  const len = head[2];
  if (kind === ReplyKind.Floats) {
    return { kind, value: new Float32Array(sab, at + REPLY_HEADER, len / 4).slice() };
  }
  const text = new TextDecoder().decode(new Uint8Array(sab, at + REPLY_HEADER, len).slice());
  return { kind, value: kind === ReplyKind.Error ? text : JSON.parse(text) };
}
