/**
 * Reading and writing the safetensors file format (the format of Hugging Face checkpoints and PEFT
 * adapters: `model.safetensors`, `adapter_model.safetensors`).
 *
 * Layout: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 * `{"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}`,
 * then the byte buffer; offsets are relative to the start of the buffer, tensors are stored row-major
 * little-endian, back to back with no gaps, and the header is padded with spaces to a multiple of 8.
 *
 * Why our own code and not a library: the project prefers a well-kept library for file formats, but
 * none on npm fits. `safetensors` (npm, 0.0.1) is a single unmaintained release with no documentation
 * or repository; `@huggingface/hub` only parses the *header* of files on the Hub over HTTP (no tensor
 * decoding, no writing, network-only, and it pulls a wasm dependency). We need offline decoding of
 * F32/F16/BF16 in Deno and in a browser bundle, writing with metadata, and strict validation of
 * corrupt files, so this module implements the (small, fully specified) format directly, following
 * the validation rules of the reference Rust implementation (huggingface/safetensors): header size
 * limit, contiguous non-overlapping offsets covering the whole buffer, byte sizes matching
 * shape x dtype.
 *
 * @module
 */

import { decodeHalf, toHalfBits } from "./half.ts";
export { f16BitsToFloat } from "./half.ts";
import { HeaderJsonError, type HeaderValue, parseHeaderJson } from "./header_json.ts";

/** Element types this module decodes (each is returned as float32). */
export type SafetensorsDtype = "F32" | "F16" | "BF16";

/** One decoded tensor: row-major float32 data of `shape` (product of shape elements). */
export interface SafetensorsTensor {
  /** Element type stored in the file (the data is converted to float32). */
  dtype: SafetensorsDtype;
  /** Dimensions; `[]` is a scalar (one element). */
  shape: number[];
  /** The values, row-major, converted to float32 (a fresh copy, not a view of the input bytes). */
  data: Float32Array;
}

/** Result of {@link decodeSafetensors}. */
export interface DecodedSafetensors {
  /** Tensors by name, in header order (as for any JavaScript object, integer-like names come first). */
  tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

/**
 * Anything with a shape and float32 data: a `Tensor` (via `dataSync()`, or `bitsSync()` when its
 * `dtype` is "bfloat16" / "float16") or a plain `{shape, data}` record.
 */
export type TensorLike =
  | {
    readonly shape: readonly number[];
    readonly dtype?: string;
    dataSync(): Float32Array;
    bitsSync?(): Uint16Array;
  }
  | { readonly shape: readonly number[]; readonly data: Float32Array };

/** Options of {@link encodeSafetensors} / {@link saveSafetensors}. */
export interface EncodeSafetensorsOptions {
  /**
   * Element type written for every tensor: "F16" / "BF16" round each float32 value to nearest, ties to
   * even (src/io/half.ts); NaN stays NaN, ±Inf and −0 are kept. Default: each tensor's own type
   * ("F32", or "BF16" / "F16" for a bfloat16 / float16 Tensor, whose bits are written unchanged).
   */
  dtype?: SafetensorsDtype;
}

/** A safetensors file that is truncated, malformed, inconsistent or uses an unsupported dtype. */
export class SafetensorsError extends Error {
  /** Always "SafetensorsError". */
  override name = "SafetensorsError";
}

/** Header size limit of the reference implementation (100 MB); larger headers are rejected. */
const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines (sub-byte ones marked 0: rejected anyway). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
  F4: 0,
  F6_E2M3: 0,
  F6_E3M2: 0,
};
const SUPPORTED: readonly string[] = ["F32", "F16", "BF16"];

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function fail(msg: string): never {
  throw new SafetensorsError(`safetensors: ${msg}`);
}

/** A header value for a message: JSON text (Maps as objects, bigints as numbers), cut at 60 characters. */
function describe(v: unknown): string {
  const plain = (x: unknown): unknown =>
    x instanceof Map
      ? Object.fromEntries([...x].map(([k, y]) => [k, plain(y)]))
      : Array.isArray(x)
      ? x.map(plain)
      : typeof x === "bigint"
      ? (Number.isSafeInteger(Number(x)) ? Number(x) : `${x}`)
      : x;
  const s = JSON.stringify(plain(v));
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** Defines an own enumerable property (safe for names such as "__proto__"). */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Largest value of the format's `usize` fields (the reference reader's 64-bit `usize`). */
const U64_MAX = 2n ** 64n - 1n;

/** A JSON integer the format's `usize` fields accept (a non-negative integer literal below 2^64). */
function isUsize(v: HeaderValue | undefined): v is bigint {
  return typeof v === "bigint" && v >= 0n && v <= U64_MAX;
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: bigint;
  end: bigint;
}

/**
 * Parses a safetensors file held in memory.
 *
 * Refuses every file the reference reader (huggingface/safetensors, Rust) refuses — the header length
 * and its 100 MB limit, UTF-8, JSON as serde_json reads it (no byte-order mark, nothing after the value,
 * nesting at most 127 deep, well-formed `\u` escapes), an object of entries, `__metadata__` null or a map of
 * strings, `dtype` / `shape` / `data_offsets` with exact non-negative integer literals below 2^64, shape
 * products that do not overflow 64 bits, offsets that (sorted) start at 0, follow each other without gap
 * or overlap and end exactly at the end of the file, byte sizes equal to shape x dtype size — and, beyond
 * it, a key repeated in one JSON object (ambiguous: `JSON.parse` would keep the last), dtypes other
 * than F32/F16/BF16 and a dimension above 2^53 (only possible beside a 0 dimension; not a JavaScript
 * integer). Nothing is allocated from a header field before the whole header is validated
 * against the file's actual size. Extra fields in an entry are ignored, as the reference reader does.
 *
 * @param bytes the whole file.
 * @returns every tensor (F32, F16 and BF16 converted to float32, copied out of `bytes`) and the
 *   `__metadata__` map.
 * @throws {SafetensorsError} for any of the above; the message names the problem (and the tensor).
 * @example
 * ```ts
 * const bytes = encodeSafetensors({ "lin0.weight": { shape: [20, 10], data: new Float32Array(200) } });
 * // or the bytes of a file: await Deno.readFile("model.safetensors")
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * tensors["lin0.weight"].shape; // [20, 10]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("decodeSafetensors: bytes must be a Uint8Array");
  const { entries, metadata } = readHeader(new BytesSource(bytes));
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const e of entries) {
    setOwn(tensors, e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: convert(bytes, e.start, e.byteLength / DTYPE_BYTES[e.dtype], e.dtype),
    });
  }
  return { tensors, metadata };
}

/** Random-access bytes of one safetensors file: in memory or an open file (Deno). */
interface ByteSource {
  /** Total bytes. */
  readonly size: number;
  /** Fills `dst` with the bytes at `pos` (`pos + dst.length <= size`). */
  readAt(pos: number, dst: Uint8Array): void;
  /** Releases the file (no-op in memory). */
  close(): void;
}

class BytesSource implements ByteSource {
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  readAt(pos: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(pos, pos + dst.length));
  }
  close(): void {}
}

class FileSource implements ByteSource {
  readonly size: number;
  #file: Deno.FsFile | null;
  constructor(readonly path: string | URL) {
    this.#file = Deno.openSync(path, { read: true });
    try {
      this.size = this.#file.statSync().size;
    } catch (e) {
      this.close();
      throw e;
    }
  }
  readAt(pos: number, dst: Uint8Array): void {
    const f = this.#file;
    if (f === null) throw new Error(`safetensors: file ${String(this.path)} is closed`);
    f.seekSync(pos, Deno.SeekMode.Start);
    for (let done = 0; done < dst.length;) {
      const n = f.readSync(dst.subarray(done));
      if (n === null || n === 0) {
        fail(
          `file ended at byte ${pos + done} while reading ${dst.length} bytes at ${pos}: changed on disk?`,
        );
      }
      done += n;
    }
  }
  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

/** Where one tensor of a validated header lies: byte range in the file (absolute), dtype, shape. */
interface Located {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** First byte in the file. */
  start: number;
  byteLength: number;
}

/**
 * Reads and validates the header of a safetensors file against the file's real size (every rule of
 * {@link decodeSafetensors}); reads only the 8-byte length and the header itself.
 */
function readHeader(src: ByteSource): { entries: Located[]; metadata: Record<string, string> } {
  if (src.size < 8) fail(`file is ${src.size} bytes, shorter than the 8-byte header length`);
  const head = new Uint8Array(8);
  src.readAt(0, head);
  const n = new DataView(head.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const headerLen = Number(n);
  if (8 + headerLen > src.size) {
    fail(`header length ${headerLen} runs past the end of the file (${src.size} bytes): file truncated?`);
  }
  const json = new Uint8Array(headerLen);
  src.readAt(8, json);
  let text: string;
  try {
    // ignoreBOM: a byte-order mark stays in the text, where the JSON parser refuses it (as serde_json does)
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(json);
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: HeaderValue;
  try {
    header = parseHeaderJson(text);
  } catch (e) {
    if (e instanceof HeaderJsonError) fail(`header is not valid JSON (${e.message})`);
    throw e;
  }
  if (!(header instanceof Map)) fail(`header must be a JSON object, got ${describe(header)}`);

  const bufferStart = 8 + headerLen;
  const bufferLen = src.size - bufferStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of header) {
    if (name === "__metadata__") {
      if (raw === null) continue; // the reference reader's Option: null = no metadata
      if (!(raw instanceof Map)) fail(`__metadata__ must be an object of strings, got ${describe(raw)}`);
      for (const [k, v] of raw) {
        if (typeof v !== "string") fail(`__metadata__["${k}"] must be a string, got ${describe(v)}`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    entries.push(parseEntry(name, raw, bufferLen));
  }

  // Like the reference implementation: sorted by offsets, tensors must tile the buffer exactly.
  const sorted = [...entries].sort((x, y) =>
    x.begin < y.begin ? -1 : x.begin > y.begin ? 1 : x.end < y.end ? -1 : x.end > y.end ? 1 : 0
  );
  let pos = 0n;
  for (const e of sorted) {
    if (e.begin < pos) {
      fail(
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${pos})`,
      );
    }
    if (e.begin > pos) {
      fail(`gap in the data buffer: bytes [${pos}, ${e.begin}) belong to no tensor (next is "${e.name}")`);
    }
    pos = e.end;
  }
  if (pos !== BigInt(bufferLen)) {
    fail(`tensors cover ${pos} bytes of data but the buffer after the header has ${bufferLen} bytes`);
  }
  // Every entry now lies inside the buffer: sizes below come from the file's real length.
  const located = entries.map((e) => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    start: bufferStart + Number(e.begin),
    byteLength: Number(e.end - e.begin),
  }));
  return { entries: located, metadata };
}

/** Elements converted per chunk when a 16-bit tensor is read from a file (2 MiB of halves). */
const CHUNK_ELEMENTS = 1 << 20;

/** One tensor of a {@link SafetensorsReader}: dtype and shape from the header; data read on demand. */
export interface SafetensorsEntry {
  /** Element type stored in the file. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions; `[]` is a scalar. */
  readonly shape: readonly number[];
  /**
   * Reads the tensor into `dst` (float32, `dst.length` = product of `shape`): F32 bytes go straight
   * into `dst`, F16/BF16 are converted through a 2 MiB buffer, so no copy of the whole tensor is made.
   *
   * @throws {RangeError} when `dst` has the wrong length; {@link SafetensorsError} when the file
   *   ended early (changed on disk after it was opened); {@link Error} when the reader is closed.
   */
  readInto(dst: Float32Array): void;
}

/**
 * A safetensors file whose header has been read and validated (every rule of
 * {@link decodeSafetensors}) but whose tensors are read one at a time, on demand, from the file (or
 * the bytes) it was opened on: loading a checkpoint this way holds no copy of the file beside the
 * model. Close it when done (or `using`).
 */
export class SafetensorsReader implements Disposable {
  /** Tensors by name, in header order. */
  readonly tensors: Readonly<Record<string, SafetensorsEntry>>;
  /** The `__metadata__` string map (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
  #src: ByteSource;
  #what: string;

  private constructor(src: ByteSource, what: string) {
    this.#src = src;
    this.#what = what;
    const { entries, metadata } = readHeader(src);
    const tensors: Record<string, SafetensorsEntry> = {};
    for (const e of entries) {
      setOwn(tensors, e.name, { dtype: e.dtype, shape: e.shape, readInto: (dst) => this.#read(e, dst) });
    }
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /**
   * Opens a local safetensors file (Deno) and validates its header; reads nothing else yet.
   *
   * @param path a path or `file:` URL.
   * @throws {SafetensorsError} for a corrupt or unsupported header (the message names the file).
   * @throws {Error} when the file cannot be opened (Deno's error, e.g. `Deno.errors.NotFound`).
   */
  static open(path: string | URL): SafetensorsReader {
    const src = new FileSource(path);
    try {
      return new SafetensorsReader(src, ` (file ${String(path)})`);
    } catch (e) {
      src.close();
      if (e instanceof SafetensorsError) throw new SafetensorsError(`${e.message} (file ${String(path)})`);
      throw e;
    }
  }

  /**
   * A reader over the bytes of a whole file held in memory (e.g. fetched): the tensors are converted
   * when read, not all up front.
   *
   * @throws {SafetensorsError} as {@link decodeSafetensors}.
   */
  static fromBytes(bytes: Uint8Array, what = ""): SafetensorsReader {
    try {
      return new SafetensorsReader(new BytesSource(bytes), what ? ` (file ${what})` : "");
    } catch (e) {
      if (e instanceof SafetensorsError && what) throw new SafetensorsError(`${e.message} (file ${what})`);
      throw e;
    }
  }

  #read(e: Located, dst: Float32Array): void {
    const count = e.byteLength / DTYPE_BYTES[e.dtype];
    if (!(dst instanceof Float32Array) || dst.length !== count) {
      throw new RangeError(
        `SafetensorsReader: "${e.name}" has ${count} elements; the destination must be a Float32Array of ` +
          `that length, got ${dst instanceof Float32Array ? dst.length : typeof dst}`,
      );
    }
    try {
      if (this.#src instanceof BytesSource) convertInto(this.#src.bytes, e.start, count, e.dtype, dst, 0);
      else if (e.dtype === "F32" && LITTLE_ENDIAN) {
        this.#src.readAt(e.start, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
      } else {
        const width = DTYPE_BYTES[e.dtype];
        const chunk = new Uint8Array(Math.min(count, CHUNK_ELEMENTS) * width);
        for (let i = 0; i < count; i += CHUNK_ELEMENTS) {
          const m = Math.min(CHUNK_ELEMENTS, count - i);
          const part = chunk.subarray(0, m * width);
          this.#src.readAt(e.start + i * width, part);
          convertInto(part, 0, m, e.dtype, dst, i);
        }
      }
    } catch (err) {
      if (err instanceof SafetensorsError) throw new SafetensorsError(`${err.message}${this.#what}`);
      throw err;
    }
  }

  /** Closes the file (reading a tensor afterwards throws). */
  close(): void {
    this.#src.close();
  }

  /** Same as {@link SafetensorsReader.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function parseEntry(name: string, raw: HeaderValue, bufferLen: number): Entry {
  if (!(raw instanceof Map)) fail(`header entry "${name}" must be an object, got ${describe(raw)}`);
  const dtype = raw.get("dtype");
  if (typeof dtype !== "string") fail(`tensor "${name}": dtype must be a string, got ${describe(dtype)}`);
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) fail(`tensor "${name}": unknown dtype "${dtype}"`);
  if (!SUPPORTED.includes(dtype)) {
    fail(`tensor "${name}": dtype ${dtype} is not supported (supported: ${SUPPORTED.join(", ")})`);
  }
  const shape = raw.get("shape");
  if (!Array.isArray(shape) || !shape.every(isUsize)) {
    fail(`tensor "${name}": shape must be an array of integers >= 0, got ${describe(shape)}`);
  }
  const offs = raw.get("data_offsets");
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isUsize)) {
    fail(`tensor "${name}": data_offsets must be [begin, end] integers >= 0, got ${describe(offs)}`);
  }
  const [begin, end] = offs as [bigint, bigint];
  if (begin > end) fail(`tensor "${name}": data_offsets [${begin}, ${end}] have begin > end`);
  if (end > BigInt(bufferLen)) {
    fail(
      `tensor "${name}": data_offsets [${begin}, ${end}] run past the data buffer (${bufferLen} bytes): file truncated?`,
    );
  }
  // the element count and byte size in 64 bits, failing on overflow as the reference reader does
  let count = 1n;
  for (const d of shape as bigint[]) {
    count *= d;
    if (count > U64_MAX) fail(`tensor "${name}": shape ${describe(shape)} has more than 2^64 elements`);
  }
  const nbytes = count * BigInt(DTYPE_BYTES[dtype]);
  if (nbytes > U64_MAX) {
    fail(`tensor "${name}": shape ${describe(shape)} of ${dtype} needs more than 2^64 bytes`);
  }
  if (end - begin !== nbytes) {
    fail(
      `tensor "${name}": shape [${shape.join(", ")}] of ${dtype} needs ${nbytes} bytes but data_offsets ` +
        `[${begin}, ${end}] span ${end - begin}`,
    );
  }
  // every dim divides a byte size that fits the file, so it is a safe integer (or the count is 0)
  const dims = (shape as bigint[]).map((d) => d <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(d) : NaN);
  if (dims.some(Number.isNaN)) fail(`tensor "${name}": shape ${describe(shape)} has a dimension above 2^53`);
  return { name, dtype: dtype as SafetensorsDtype, shape: dims, begin, end };
}

function convert(bytes: Uint8Array, start: number, count: number, dtype: SafetensorsDtype): Float32Array {
  const out = new Float32Array(count);
  convertInto(bytes, start, count, dtype, out, 0);
  return out;
}

/** Converts `count` little-endian elements of `dtype` at `bytes[start..]` into `out[at..]` (float32). */
function convertInto(
  bytes: Uint8Array,
  start: number,
  count: number,
  dtype: SafetensorsDtype,
  out: Float32Array,
  at: number,
): void {
  const abs = bytes.byteOffset + start;
  if (dtype === "F32") {
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer, out.byteOffset + at * 4, count * 4).set(
        bytes.subarray(start, start + count * 4),
      );
    } else {
      const dv = new DataView(bytes.buffer, abs, count * 4);
      for (let i = 0; i < count; i++) out[at + i] = dv.getFloat32(i * 4, true);
    }
    return;
  }
  // 16-bit types: read the little-endian halves (a view when aligned, else a copy)
  let halves: Uint16Array;
  if (LITTLE_ENDIAN && abs % 2 === 0) halves = new Uint16Array(bytes.buffer, abs, count);
  else if (LITTLE_ENDIAN) {
    halves = new Uint16Array(count);
    new Uint8Array(halves.buffer).set(bytes.subarray(start, start + count * 2));
  } else {
    halves = new Uint16Array(count);
    const dv = new DataView(bytes.buffer, abs, count * 2);
    for (let i = 0; i < count; i++) halves[i] = dv.getUint16(i * 2, true);
  }
  decodeHalf(halves, dtype === "F16" ? "float16" : "bfloat16", out, at);
}

/** Orders strings by Unicode code point (= UTF-8 byte order, as the reference implementation sorts). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator](), ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next(), y = ib.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const cx = x.value.codePointAt(0)!, cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** A lone UTF-16 surrogate (not part of a pair). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Refuses strings JSON can only write with a lone-surrogate escape (which readers refuse). */
function checkWellFormed(what: string, s: string): void {
  const m = LONE_SURROGATE.exec(s);
  if (m) {
    throw new RangeError(
      `encodeSafetensors: ${what} ${
        JSON.stringify(s).slice(0, 60)
      } is not well-formed Unicode (lone surrogate ` +
        `U+${m[0].charCodeAt(0).toString(16).toUpperCase()} at ${m.index}); safetensors readers refuse it`,
    );
  }
}

const HALF_DTYPES: Record<string, SafetensorsDtype> = { bfloat16: "BF16", float16: "F16" };

/** The 16-bit bits and their safetensors dtype of a bfloat16 / float16 Tensor, else null. */
function halfData(t: TensorLike): { bits: Uint16Array; dtype: "BF16" | "F16" } | null {
  if (t === null || typeof t !== "object" || !("dtype" in t) || typeof t.bitsSync !== "function") return null;
  const dtype = HALF_DTYPES[t.dtype as string];
  return dtype === undefined ? null : { bits: t.bitsSync(), dtype: dtype as "BF16" | "F16" };
}

function tensorData(name: string, t: TensorLike): Float32Array {
  if (t === null || typeof t !== "object") {
    throw new TypeError(`encodeSafetensors: "${name}" is not a tensor`);
  }
  const d = "dataSync" in t && typeof t.dataSync === "function"
    ? t.dataSync()
    : (t as { data: unknown }).data;
  if (!(d instanceof Float32Array)) {
    throw new TypeError(`encodeSafetensors: "${name}" must have dataSync() or data returning a Float32Array`);
  }
  return d;
}

/**
 * Serialises float32 tensors to safetensors bytes, byte-compatible with the Python/Rust writer:
 * compact JSON header with `__metadata__` first (when given), tensors sorted by name and stored back
 * to back in that order, header padded with spaces to a multiple of 8. Every limit of
 * {@link decodeSafetensors} applies here too, so it never writes a file its reader refuses.
 *
 * @param tensors name -> tensor (`{shape, dataSync()}` or `{shape, data}`), float32, row-major; the
 *   element count must equal the product of `shape`.
 * @param metadata optional `__metadata__` string map (PEFT writes `{format: "pt"}`).
 * @param options `dtype` of the stored elements (default: each tensor's own, "F32" for float32 data;
 *   "F16"/"BF16" round to nearest even).
 * @returns the file bytes.
 * @throws {RangeError} for a shape with non-integer or negative dimensions, or whose size differs from
 *   the data length; for the reserved name `__metadata__` or an empty name; for a name or metadata
 *   string that is not well-formed Unicode (a lone surrogate, which JSON can only write as an escape
 *   readers refuse); for a header above the readers' 100 MB limit.
 * @throws {TypeError} when a tensor has no Float32Array data or a metadata value is not a string.
 * @throws {RangeError} for a dtype other than F32, F16 or BF16.
 * @example
 * ```ts
 * const bytes = encodeSafetensors({ "lin.weight": { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
 *   { format: "pt" });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, TensorLike>,
  metadata?: Record<string, string>,
  options: EncodeSafetensorsOptions = {},
): Uint8Array {
  if (options.dtype !== undefined && !SUPPORTED.includes(options.dtype)) {
    throw new RangeError(
      `encodeSafetensors: dtype ${describe(options.dtype)} is not one of ${SUPPORTED.join(", ")}`,
    );
  }
  const names = Object.keys(tensors).sort(compareCodePoints);
  // The JSON is assembled by hand: JS objects would reorder integer-like keys ("0", "10", "2").
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta: string[] = [];
    for (const k of Object.keys(metadata).sort(compareCodePoints)) {
      const v = metadata[k];
      if (typeof v !== "string") {
        throw new TypeError(`encodeSafetensors: metadata["${k}"] must be a string, got ${describe(v)}`);
      }
      checkWellFormed("metadata key", k);
      checkWellFormed(`metadata["${k}"]`, v);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${meta.join(",")}}`);
  }
  const datas: Array<Float32Array | Uint16Array> = [];
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__" || name === "") {
      throw new RangeError(`encodeSafetensors: "${name}" is not allowed as a tensor name`);
    }
    checkWellFormed("tensor name", name);
    const t = tensors[name];
    const half = halfData(t);
    const dtype = options.dtype ?? half?.dtype ?? "F32";
    const width = DTYPE_BYTES[dtype];
    // 16 bits kept as they are when the dtype does not change; otherwise through float32
    const keep = half !== null && half.dtype === dtype;
    const data: Float32Array | Uint16Array = keep
      ? half.bits
      : half !== null
      ? decodeHalf(half.bits, half.dtype === "BF16" ? "bfloat16" : "float16")
      : tensorData(name, t);
    const shape = Array.from(t.shape);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new RangeError(
        `encodeSafetensors: "${name}" has shape [${shape.join(", ")}]; dims must be integers >= 0`,
      );
    }
    // the reader's 64-bit overflow rule, in the reader's order (e.g. [2^40, 2^40, 0] is refused)
    let wide = 1n;
    for (const d of shape) {
      wide *= BigInt(d);
      if (wide * BigInt(width) > U64_MAX) {
        throw new RangeError(
          `encodeSafetensors: "${name}" has shape [${shape.join(", ")}], whose partial products overflow ` +
            "64 bits; safetensors readers refuse it",
        );
      }
    }
    const count = shape.reduce((x, y) => x * y, 1);
    if (count !== data.length) {
      throw new RangeError(
        `encodeSafetensors: "${name}" has shape [${
          shape.join(", ")
        }] (${count} elements) but ${data.length} values`,
      );
    }
    const entry = { dtype, shape, data_offsets: [offset, offset + data.length * width] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += data.length * width;
    datas.push(keep || dtype === "F32" ? data : toHalfBits(data as Float32Array, dtype));
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = json.length + ((8 - (json.length % 8)) % 8);
  if (headerLen > MAX_HEADER_BYTES) {
    throw new RangeError(
      `encodeSafetensors: the header would be ${headerLen} bytes, above the ${MAX_HEADER_BYTES}-byte limit ` +
        "readers accept; write fewer tensors per file (shard the checkpoint)",
    );
  }
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const d of datas) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    } else {
      const dv = new DataView(out.buffer, pos, d.byteLength);
      for (let i = 0; i < d.length; i++) {
        if (d instanceof Float32Array) dv.setFloat32(i * 4, d[i], true);
        else dv.setUint16(i * 2, d[i], true);
      }
    }
    pos += d.byteLength;
  }
  return out;
}

function isRemote(p: string | URL): boolean {
  const s = p instanceof URL ? p.protocol : /^[a-z][a-z0-9+.-]*:/i.exec(p)?.[0];
  return s === "http:" || s === "https:" || s === "blob:" || s === "data:";
}

/**
 * Loads a safetensors file: from bytes, a local path or `file:` URL (Deno), or an `http(s):` URL
 * (`fetch`, works in browsers).
 *
 * @returns see {@link decodeSafetensors}.
 * @throws {SafetensorsError} for corrupt or unsupported files (see {@link decodeSafetensors}).
 * @throws {Error} when the file cannot be read (missing file, HTTP error, no file system).
 * @example
 * ```ts
 * const path = `${await Deno.makeTempDir()}/adapter_model.safetensors`;
 * await saveSafetensors(path, { "lin0.c3a_kernel": { shape: [4, 2, 5], data: new Float32Array(40) } });
 * const { tensors } = await loadSafetensors(path);
 * ```
 */
export async function loadSafetensors(
  pathOrBytes: string | URL | Uint8Array | ArrayBuffer,
): Promise<DecodedSafetensors> {
  if (pathOrBytes instanceof Uint8Array) return decodeSafetensors(pathOrBytes);
  if (pathOrBytes instanceof ArrayBuffer) return decodeSafetensors(new Uint8Array(pathOrBytes));
  let bytes: Uint8Array;
  if (isRemote(pathOrBytes) || typeof Deno === "undefined") {
    const res = await fetch(pathOrBytes);
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`loadSafetensors: fetching ${String(pathOrBytes)} failed: HTTP ${res.status}`);
    }
    bytes = new Uint8Array(await res.arrayBuffer());
  } else {
    bytes = await Deno.readFile(pathOrBytes);
  }
  try {
    return decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) {
      throw new SafetensorsError(`${e.message} (file ${String(pathOrBytes)})`);
    }
    throw e;
  }
}

/**
 * Writes tensors to a safetensors file atomically: the bytes go to a temporary file in the same
 * directory, which is then renamed over `path`, so readers never see a partial file; on any error the
 * temporary file is removed and `path` is left as it was. Needs Deno (file system); in a browser
 * use {@link encodeSafetensors} and hand the bytes to a download.
 *
 * @param path destination path or `file:` URL (its directory must exist).
 * @param tensors / metadata / options see {@link encodeSafetensors}.
 * @throws {RangeError|TypeError} for invalid tensors (nothing is written).
 * @throws {Error} when the file cannot be written or renamed, or no Deno file system is available.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await saveSafetensors(`${dir}/weights.safetensors`, { w: { shape: [2], data: new Float32Array([1, 2]) } });
 * ```
 */
export async function saveSafetensors(
  path: string | URL,
  tensors: Record<string, TensorLike>,
  metadata?: Record<string, string>,
  options: EncodeSafetensorsOptions = {},
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata, options);
  if (typeof Deno === "undefined") {
    throw new Error("saveSafetensors: needs the Deno file system; use encodeSafetensors in a browser");
  }
  const target = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  const slash = target.lastIndexOf("/");
  const dir = slash >= 0 ? target.slice(0, slash + 1) : "";
  const base = target.slice(slash + 1);
  const rand = Math.random().toString(36).slice(2, 10);
  const tmp = `${dir}.${base}.${Date.now().toString(36)}${rand}.tmp`;
  try {
    await Deno.writeFile(tmp, bytes, { createNew: true });
    await Deno.rename(tmp, target);
  } catch (e) {
    try {
      await Deno.remove(tmp);
    } catch {
      // the temporary file was never created or is already gone
    }
    throw new Error(`saveSafetensors: writing ${target} failed: ${(e as Error).message}`, { cause: e });
  }
}
