/**
 * Hugging Face checkpoint directories (what `from_pretrained` / `save_pretrained` of transformers read
 * and write): `config.json` plus `model.safetensors`, or shards `model-0000i-of-0000n.safetensors`
 * listed in `model.safetensors.index.json` (`{"metadata": {"total_size"}, "weight_map": {name: file}}`).
 *
 * @module
 */

import {
  type SafetensorsDtype,
  type SafetensorsEntry,
  SafetensorsReader,
  saveSafetensors,
  type TensorLike,
} from "./safetensors.ts";

/** Storage dtype names of `savePretrained` (transformers' `torch_dtype` values). */
export type SaveDtype = "float32" | "float16" | "bfloat16";

const DTYPES: Record<SaveDtype, SafetensorsDtype> = { float32: "F32", float16: "F16", bfloat16: "BF16" };
const BYTES: Record<SaveDtype, number> = { float32: 4, float16: 2, bfloat16: 2 };

/** Options of `savePretrained` of the Hugging Face architectures (transformers' names). */
export interface SaveCheckpointOptions {
  /**
   * Element type of the weights on disk, written to config.json as `torch_dtype`. Default: each
   * tensor's own (float32, or bfloat16 / float16 for weights loaded with `torchDtype`, written bit for
   * bit); `torch_dtype` is then the 16-bit type when there is one, else "float32".
   */
  dtype?: SaveDtype;
  /**
   * Largest shard: bytes, or a string as transformers accepts ("5GB" = 5·10⁹, "500MB", "2GiB" = 2·2³⁰,
   * "100KB"). Default "5GB". A tensor larger than this gets a shard of its own.
   */
  maxShardSize?: number | string;
  /** Replace existing checkpoint files in `dir` (default false: refuse, nothing written). */
  overwrite?: boolean;
}

/**
 * An opened checkpoint directory: the parsed `config.json` and every tensor of every weight file,
 * validated (headers) but not read yet — each entry's `readInto` reads it from its file on demand
 * (see {@link SafetensorsReader}). {@link OpenedCheckpoint.close} closes the files.
 */
export interface OpenedCheckpoint extends Disposable {
  /** The parsed `config.json`. */
  config: Record<string, unknown>;
  /** Every tensor of every shard (a name in two shards: the later file wins, as before). */
  tensors: Record<string, SafetensorsEntry>;
  /** Closes every weight file. */
  close(): void;
}

/** `dir` + `/` + `name`, for paths, `file:`/`http(s):` URL strings and URL objects. */
export function joinPath(dir: string | URL, name: string): string | URL {
  if (dir instanceof URL) return new URL(name, dir.href.endsWith("/") ? dir : new URL(dir.href + "/"));
  return dir.replace(/\/?$/, "/") + name;
}

function isRemote(p: string | URL): boolean {
  return p instanceof URL ? p.protocol !== "file:" : /^https?:\/\//.test(p);
}

/** `fetch(p)`, or an error naming `p` and the HTTP status (the body is cancelled). */
async function fetchOk(p: string | URL): Promise<Response> {
  const res = await fetch(p);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`fromPretrained: fetching ${String(p)} failed: HTTP ${res.status}`);
  }
  return res;
}

/** Reads a text file of a checkpoint directory (Deno file system, or fetch for URLs / browsers). */
export async function readText(dir: string | URL, name: string): Promise<string> {
  const p = joinPath(dir, name);
  if (isRemote(p) || typeof Deno === "undefined") {
    return await (await fetchOk(p)).text();
  }
  try {
    return await Deno.readTextFile(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`fromPretrained: ${String(p)} not found`);
    throw e;
  }
}

/**
 * Reads and parses `config.json` of a checkpoint directory.
 *
 * @throws {Error} a missing file, text that is not JSON, or JSON that is not an object (each names the file).
 */
export async function readConfigJson(dir: string | URL): Promise<Record<string, unknown>> {
  const text = await readText(dir, "config.json");
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `fromPretrained: ${String(joinPath(dir, "config.json"))} is not JSON (${(e as Error).message})`,
    );
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`fromPretrained: ${String(joinPath(dir, "config.json"))} must hold a JSON object`);
  }
  return config as Record<string, unknown>;
}

/** A weights file of a checkpoint directory: opened on disk (Deno), or fetched whole (URLs, browsers). */
async function openWeights(dir: string | URL, name: string): Promise<SafetensorsReader> {
  const p = joinPath(dir, name);
  if (isRemote(p) || typeof Deno === "undefined") {
    const res = await fetchOk(p);
    return SafetensorsReader.fromBytes(new Uint8Array(await res.arrayBuffer()), String(p));
  }
  return SafetensorsReader.open(p);
}

/**
 * Opens a checkpoint directory: reads `config.json` and validates the header of every weights file
 * (`model.safetensors`, or the shards listed in `model.safetensors.index.json`), reading no tensor
 * data yet. Local files stay open until {@link OpenedCheckpoint.close}; remote ones are fetched whole
 * (one copy of the bytes; tensors are converted when read).
 *
 * @throws {Error} a missing `config.json` / weights file (names it); {@link SafetensorsError} for a
 *   corrupt file; a `config.json` that is not a JSON object; an index without `weight_map`.
 */
export async function openCheckpoint(dir: string | URL): Promise<OpenedCheckpoint> {
  const config = await readConfigJson(dir);
  let index: string | null = null;
  try {
    index = await readText(dir, "model.safetensors.index.json");
  } catch {
    index = null;
  }
  let files: string[];
  if (index !== null) {
    const map = (JSON.parse(index) as { weight_map?: Record<string, string> }).weight_map;
    if (typeof map !== "object" || map === null) {
      throw new Error(`fromPretrained: model.safetensors.index.json in ${String(dir)} has no weight_map`);
    }
    files = [...new Set(Object.values(map))];
  } else {
    files = ["model.safetensors"];
  }
  const readers: SafetensorsReader[] = [];
  const close = () => readers.forEach((r) => r.close());
  const tensors: Record<string, SafetensorsEntry> = {};
  try {
    for (const file of files) {
      let r: SafetensorsReader;
      try {
        r = await openWeights(dir, file);
      } catch (e) {
        if (typeof Deno !== "undefined" && e instanceof Deno.errors.NotFound) {
          throw new Error(`fromPretrained: ${String(joinPath(dir, file))} not found`, { cause: e });
        }
        throw e;
      }
      readers.push(r);
      for (const [k, v] of Object.entries(r.tensors)) {
        Object.defineProperty(tensors, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
  } catch (e) {
    close();
    throw e;
  }
  return { config, tensors, close, [Symbol.dispose]: close };
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/**
 * A shard size in bytes from a number or a string such as "5GB", "500MB", "2GiB" (transformers'
 * `convert_file_size_to_int`; "b" suffixes as bits are not supported).
 *
 * @throws {RangeError} anything else, or a size below 1 byte.
 */
export function parseShardSize(size: number | string): number {
  let bytes = NaN;
  if (typeof size === "number") bytes = size;
  else if (typeof size === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(size);
    if (m) bytes = Number(m[1]) * UNITS[(m[2] ?? "B").toUpperCase()];
  }
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new RangeError(
      `savePretrained: maxShardSize ${
        JSON.stringify(size)
      } is not a size (bytes >= 1, or e.g. "5GB", "500MB", "2GiB")`,
    );
  }
  return Math.floor(bytes);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors$|^model\.safetensors\.index\.json$/;

/**
 * Writes a checkpoint directory as transformers' `save_pretrained` does: `config.json` (with
 * `torch_dtype`), `model.safetensors` or shards `model-0000i-of-0000n.safetensors` (tensors in name
 * order, a new shard when the next tensor would pass `maxShardSize`) with
 * `model.safetensors.index.json`. Every file is written under a temporary name first and renamed
 * when all are complete; on overwrite, weight files of an earlier save that the new one does not
 * use are removed.
 *
 * @param dir target directory (created if missing).
 * @param config the `config.json` object (`torch_dtype` is set from `dtype`).
 * @param tensors name → tensor (float32, or bfloat16 / float16 Tensors).
 * @throws {Error} when `dir` already holds checkpoint files and `overwrite` is not set (names the
 *   file); {@link parseShardSize}'s and the safetensors writer's errors. Nothing is written then.
 */
export async function saveCheckpoint(
  dir: string,
  config: Record<string, unknown>,
  tensors: Record<string, TensorLike>,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const given = options.dtype;
  if (given !== undefined && !(given in DTYPES)) {
    throw new RangeError(
      `savePretrained: dtype ${JSON.stringify(given)} is not one of ${Object.keys(DTYPES).join(", ")}`,
    );
  }
  const own = (t: TensorLike): SaveDtype => {
    const d = (t as { dtype?: unknown }).dtype;
    return d === "bfloat16" || d === "float16" ? d : "float32";
  };
  const dtype: SaveDtype = given ??
    Object.values(tensors).map(own).find((d) => d !== "float32") ?? "float32";
  const limit = parseShardSize(options.maxShardSize ?? "5GB");
  if (typeof Deno === "undefined") throw new Error("savePretrained: needs the Deno file system");
  const names = Object.keys(tensors).sort();
  const shards: string[][] = [[]];
  let size = 0, total = 0;
  for (const n of names) {
    const bytes = tensors[n].shape.reduce((a, b) => a * b, 1) * BYTES[given ?? own(tensors[n])];
    if (size > 0 && size + bytes > limit) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(n);
    size += bytes;
    total += bytes;
  }
  const pad = (i: number) => String(i).padStart(5, "0");
  const files = shards.length === 1
    ? ["model.safetensors"]
    : shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const outputs = ["config.json", ...files];
  if (shards.length > 1) outputs.push("model.safetensors.index.json");
  await Deno.mkdir(dir, { recursive: true });
  const base = dir.replace(/\/?$/, "/");
  let stale: string[] = [];
  if (!options.overwrite) {
    for (const f of outputs) {
      if (await exists(base + f)) {
        throw new Error(`savePretrained: ${base + f} exists; pass { overwrite: true } to replace it`);
      }
    }
    for (const e of Deno.readDirSync(dir)) {
      if (WEIGHT_FILE.test(e.name)) {
        throw new Error(`savePretrained: ${base + e.name} exists; pass { overwrite: true } to replace it`);
      }
    }
  } else {
    for (const e of Deno.readDirSync(dir)) {
      if (WEIGHT_FILE.test(e.name) && !outputs.includes(e.name)) stale.push(e.name);
    }
  }
  const tag = `.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  const temps: string[] = [];
  try {
    const st = given === undefined ? undefined : DTYPES[given];
    for (let i = 0; i < shards.length; i++) {
      const tmp = `${base}.${files[i]}${tag}`;
      temps.push(tmp);
      const part = Object.fromEntries(shards[i].map((n) => [n, tensors[n]]));
      await saveSafetensors(tmp, part, { format: "pt" }, { dtype: st });
    }
    if (shards.length > 1) {
      const weightMap: Record<string, string> = {};
      shards.forEach((s, i) => s.forEach((n) => (weightMap[n] = files[i])));
      const tmp = `${base}.model.safetensors.index.json${tag}`;
      temps.push(tmp);
      await Deno.writeTextFile(
        tmp,
        JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + "\n",
        { createNew: true },
      );
    }
    const tmp = `${base}.config.json${tag}`;
    temps.push(tmp);
    await Deno.writeTextFile(tmp, JSON.stringify({ ...config, torch_dtype: dtype }, null, 2) + "\n", {
      createNew: true,
    });
    const finals = [...files, ...(shards.length > 1 ? ["model.safetensors.index.json"] : []), "config.json"];
    for (let i = 0; i < temps.length; i++) await Deno.rename(temps[i], base + finals[i]);
    temps.length = 0;
    for (const f of stale) await Deno.remove(base + f);
    stale = [];
  } finally {
    for (const t of temps) await Deno.remove(t).catch(() => {});
  }
}
