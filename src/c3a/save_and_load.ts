/**
 * PEFT adapter files for C3A (spec §4): `adapter_config.json` + `adapter_model.safetensors` (PEFT's
 * `peft/utils/save_and_load.py`).
 *
 * Two layers: pure functions that turn a model's adapter into the two files' contents and back
 * ({@link adapterToFiles}, {@link decodeAdapterFiles}, {@link getPeftModelStateDict},
 * {@link setPeftModelStateDict}; no `Deno`, so browsers use them with `File`/`Blob`/`Uint8Array`),
 * and the directory readers/writers behind `C3AModel.savePretrained` / `fromPretrained` /
 * `loadAdapter`, thin `Deno` wrappers over the pure layer.
 *
 * Tensor keys in the file are PEFT's: `base_model.model.<module path>.c3a_kernel` (F32,
 * `[out/b, in/b, b]`), plus `base_model.model.<path>.base_layer.bias` (bias `"c3a_only"`), every
 * `….bias` (bias `"all"`) and `base_model.model.<wrapped module>.<sub-key>` for `modules_to_save`.
 * The adapter name never appears in the file, so an adapter can be loaded under any name. Files
 * written here load in Hugging Face PEFT and PEFT's files load here.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type TensorLike,
} from "../io/safetensors.ts";
import { writeBytesAtomic, writeTextAtomic } from "../io/atomic.ts";
import { C3AConfig } from "./config.ts";
import { formatValue, ValueError, warn } from "./errors.ts";
import type { C3AModel } from "./model.ts";
import { checkAdapterName } from "./layer.ts";

/** File name of the adapter configuration (PEFT `CONFIG_NAME`). */
export const ADAPTER_CONFIG_NAME = "adapter_config.json";
/** File name of the adapter weights (PEFT `SAFETENSORS_WEIGHTS_NAME`). */
export const ADAPTER_SAFE_WEIGHTS_NAME = "adapter_model.safetensors";
/** PEFT's pickle weight file, which this library does not read. */
export const ADAPTER_WEIGHTS_NAME = "adapter_model.bin";
/** Prefix PEFT puts in front of module paths in adapter files. */
export const PEFT_KEY_PREFIX = "base_model.model.";

/** Options of `C3AModel.savePretrained`. */
export interface SavePretrainedOptions {
  /** Adapters to write (default: all). `"default"` goes to the directory itself, others to sub-folders. */
  selectedAdapters?: readonly string[];
  /**
   * Replace adapter files that already exist (default false: an existing `adapter_config.json` or
   * `adapter_model.safetensors` is an error and nothing is written — this library never overwrites a
   * user's files without being asked; PEFT's `save_pretrained` overwrites silently).
   */
  overwrite?: boolean;
}

/** Options of `C3AModel.fromPretrained`. */
export interface FromPretrainedOptions {
  /** Name to load the adapter under (default `"default"`). */
  adapterName?: string;
  /** Keep the kernels trainable (default false: frozen, model in eval mode; PEFT `is_trainable`). */
  isTrainable?: boolean;
}

/** One tensor of an adapter: its key in the file, its name in the model, the live tensor. */
export interface AdapterTensorEntry {
  /** Key in `adapter_model.safetensors`, e.g. `base_model.model.lin0.c3a_kernel`. */
  fileKey: string;
  /** Name in `C3AModel.stateDict()`, e.g. `lin0.c3a_kernel.default`. */
  modelKey: string;
  /** The model's tensor (shares storage with the parameter). */
  tensor: Tensor;
}

function pathJoin(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function toPath(p: string | URL): string {
  return p instanceof URL ? decodeURIComponent(p.pathname) : p;
}

function isBiasName(n: string): boolean {
  return n === "bias" || n.endsWith(".bias");
}

/**
 * The tensors that make up adapter `adapterName` in a model, with their file keys (PEFT
 * `get_peft_model_state_dict` for C3A): kernels, biases per the adapter's `bias` setting, and
 * modules_to_save copies. Used for both saving and loading, so the two agree.
 *
 * @throws {ValueError} unknown adapter
 */
export function adapterTensorEntries(model: C3AModel, adapterName: string): AdapterTensorEntry[] {
  const config = model.peftConfig[adapterName];
  if (!config) {
    throw new ValueError(
      `Adapter ${adapterName} not found. Available adapters: ${Object.keys(model.peftConfig).join(", ")}.`,
    );
  }
  const out: AdapterTensorEntry[] = [];
  const sd = model.stateDict();
  const wrappers = model.modulesToSaveWrappers();
  const insideWrapper = (n: string) => wrappers.some(([w]) => n.startsWith(w + "."));
  for (const [path, layer] of model.c3aLayers()) {
    if (!layer.c3a_kernel.has(adapterName)) continue;
    const modelKey = `${path}.c3a_kernel.${adapterName}`;
    out.push({ fileKey: `${PEFT_KEY_PREFIX}${path}.c3a_kernel`, modelKey, tensor: sd[modelKey] });
  }
  if (config.bias === "all") {
    for (const [n, t] of Object.entries(sd)) {
      if (isBiasName(n) && !insideWrapper(n)) {
        out.push({ fileKey: PEFT_KEY_PREFIX + n, modelKey: n, tensor: t });
      }
    }
  } else if (config.bias !== "none") {
    for (const [path, layer] of model.c3aLayers()) {
      if (!layer.base_layer.bias) continue;
      const n = `${path}.base_layer.bias`;
      out.push({ fileKey: PEFT_KEY_PREFIX + n, modelKey: n, tensor: sd[n] });
    }
  }
  for (const [path, w] of wrappers) {
    const copy = w.modules_to_save.get(adapterName);
    if (!copy) continue;
    for (const sub of Object.keys(copy.stateDict())) {
      const modelKey = `${path}.modules_to_save.${adapterName}.${sub}`;
      out.push({ fileKey: `${PEFT_KEY_PREFIX}${path}.${sub}`, modelKey, tensor: sd[modelKey] });
    }
  }
  return out;
}

/**
 * The adapter's tensors keyed as in PEFT's file (a copy of the data, float32), ready for
 * `encodeSafetensors`.
 */
export function getPeftModelStateDict(model: C3AModel, adapterName = "default"): Record<string, TensorLike> {
  const out: Record<string, TensorLike> = {};
  for (const e of adapterTensorEntries(model, adapterName)) {
    out[e.fileKey] = { shape: [...e.tensor.shape], data: e.tensor.dataSync().slice() };
  }
  return out;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Copy tensors read from a PEFT adapter file into adapter `adapterName` of `model` (PEFT
 * `set_peft_model_state_dict` + `load_state_dict(strict=False)`). Keys may carry the
 * `base_model.model.` prefix or not. All shapes are checked before anything is copied.
 *
 * Warnings: `Found missing adapter keys while loading the checkpoint: [...]` for tensors the adapter
 * has but the file lacks (they keep their initial values), and one naming file keys the adapter does
 * not use (ignored).
 *
 * @returns the missing (file-key form) and unexpected keys
 * @throws {RangeError} a shape mismatch, naming the key and both shapes (for kernels: the block size
 *   in adapter_config.json does not match the file); nothing is copied then
 */
export function setPeftModelStateDict(
  model: C3AModel,
  tensors: Record<string, { shape: readonly number[]; data: Float32Array }>,
  adapterName = "default",
): { missingKeys: string[]; unexpectedKeys: string[] } {
  const normalised = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [k, v] of Object.entries(tensors)) {
    normalised.set(k.startsWith(PEFT_KEY_PREFIX) ? k : PEFT_KEY_PREFIX + k, v);
  }
  const entries = adapterTensorEntries(model, adapterName);
  const missingKeys: string[] = [];
  const errors: string[] = [];
  const toLoad: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  const used = new Set<string>();
  for (const e of entries) {
    const v = normalised.get(e.fileKey);
    if (v === undefined) {
      missingKeys.push(e.fileKey);
      continue;
    }
    used.add(e.fileKey);
    const same = v.shape.length === e.tensor.shape.length && v.shape.every((d, i) => d === e.tensor.shape[i]);
    if (!same) {
      let msg =
        `size mismatch for ${e.fileKey}: copying a param with shape ${fmt(v.shape)} from checkpoint, ` +
        `the shape in current model is ${fmt(e.tensor.shape)}.`;
      if (e.fileKey.endsWith(".c3a_kernel") && v.shape.length === 3) {
        msg += ` The file's kernel has block size ${v.shape[2]}, the model's ${e.tensor.shape[2]}: ` +
          "block_size / block_size_pattern in adapter_config.json must match the saved kernels.";
      }
      errors.push(msg);
      continue;
    }
    toLoad[e.modelKey] = v;
  }
  if (errors.length > 0) throw new RangeError(errors.join("\n"));
  const unexpectedKeys = [...normalised.keys()].filter((k) => !used.has(k));
  model.model.loadStateDict(toLoad, { strict: false });
  if (missingKeys.length > 0) {
    warn(
      `Found missing adapter keys while loading the checkpoint: [${
        missingKeys.map((k) => `'${k}'`).join(", ")
      }]`,
    );
  }
  if (unexpectedKeys.length > 0) {
    warn(
      `Unexpected keys in the adapter checkpoint, ignored (no such module/parameter for adapter ` +
        `'${adapterName}'): [${unexpectedKeys.map((k) => `'${k}'`).join(", ")}]`,
    );
  }
  return { missingKeys, unexpectedKeys };
}

/**
 * The `adapter_config.json` text PEFT's `save_pretrained` writes for `config`: sorted keys,
 * `inference_mode: true`, `base_model_name_or_path` filled from the model's `nameOrPath` /
 * `config.nameOrPath` / `name_or_path` when null, and, for `task_type` null, `auto_mapping` naming the
 * base model class (`parent_library` `"c3a"`).
 */
export function adapterConfigText(model: C3AModel, config: C3AConfig): string {
  const base = model.model as unknown as {
    nameOrPath?: unknown;
    name_or_path?: unknown;
    config?: { nameOrPath?: unknown; name_or_path?: unknown; _name_or_path?: unknown };
  };
  const np = config.baseModelNameOrPath ?? base.nameOrPath ?? base.name_or_path ?? base.config?.nameOrPath ??
    base.config?.name_or_path ?? base.config?._name_or_path ?? null;
  const autoMapping = config.taskType === null
    ? { base_model_class: model.model.constructor.name, parent_library: "c3a" }
    : config.autoMapping;
  return config.toJSONString({
    inference_mode: true,
    base_model_name_or_path: typeof np === "string" ? np : null,
    auto_mapping: autoMapping,
  });
}

/**
 * One adapter's two PEFT files, keyed by their names on disk. As returned by {@link adapterToFiles}
 * (the defaults: config text, weight bytes); as accepted by `C3AModel.fromFiles` /
 * `loadAdapterFromFiles`, each may also be bytes or a `Blob`/`File` (what a browser's file input gives).
 *
 * @typeParam C type of the `adapter_config.json` content
 * @typeParam W type of the `adapter_model.safetensors` content
 */
export interface AdapterFiles<C = string, W = Uint8Array> {
  /** `adapter_config.json`: its text (sorted keys, as PEFT's `save_pretrained` writes it). */
  "adapter_config.json": C;
  /** `adapter_model.safetensors`: its bytes (F32, metadata `{"format": "pt"}` when written here). */
  "adapter_model.safetensors": W;
}

/** The files as {@link decodeAdapterFiles} accepts them: text, bytes or a `Blob`/`File` each. */
export type AdapterFilesInput = AdapterFiles<
  string | Uint8Array | ArrayBuffer | Blob,
  Uint8Array | ArrayBuffer | Blob
>;

/**
 * Adapter `adapterName` of `model` as PEFT's two files, in memory (no file system: works in
 * browsers, e.g. for a download button). `C3AModel.savePretrained` writes exactly these bytes.
 *
 * @param model the PEFT model
 * @param adapterName which adapter (default `"default"`)
 * @returns `{ "adapter_config.json": text, "adapter_model.safetensors": bytes }`
 * @throws {ValueError} an unknown adapter name
 * @example
 * ```ts
 * import { MLP } from "../models/mlp.ts";
 * import { C3AConfig } from "./config.ts";
 * import { getPeftModel } from "./model.ts";
 *
 * const model = getPeftModel(new MLP(), new C3AConfig({ blockSize: 2, targetModules: ["lin0"] }));
 * const files = adapterToFiles(model);
 * JSON.parse(files["adapter_config.json"]).peft_type; // "C3A"
 * files["adapter_model.safetensors"].length > 0; // true
 * ```
 */
export function adapterToFiles(model: C3AModel, adapterName = "default"): AdapterFiles {
  const config = model.peftConfig[adapterName];
  if (!config) {
    throw new ValueError(
      `Adapter ${adapterName} not found. Available adapters: ${Object.keys(model.peftConfig).join(", ")}.`,
    );
  }
  return {
    [ADAPTER_CONFIG_NAME]: adapterConfigText(model, config),
    [ADAPTER_SAFE_WEIGHTS_NAME]: encodeSafetensors(getPeftModelStateDict(model, adapterName), {
      format: "pt",
    }),
  };
}

async function bytesOf(v: string | Uint8Array | ArrayBuffer | Blob): Promise<Uint8Array> {
  if (typeof v === "string") return new TextEncoder().encode(v);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (typeof Blob !== "undefined" && v instanceof Blob) return new Uint8Array(await v.arrayBuffer());
  throw new TypeError(
    `an adapter file must be a string, Uint8Array, ArrayBuffer or Blob, got ${formatValue(v)}`,
  );
}

/** What {@link decodeAdapterFiles} returns: the parsed config and the decoded tensors. */
export interface DecodedAdapterFiles {
  /** `adapter_config.json` as a config (unknown keys dropped with a warning). */
  config: C3AConfig;
  /** `adapter_model.safetensors` by file key (F32/F16/BF16 read as float32). */
  tensors: Record<string, { dtype: string; shape: number[]; data: Float32Array }>;
}

/**
 * Parse adapter files held in memory (no file system): the config text into a {@link C3AConfig} and
 * the safetensors bytes into tensors. Nothing is applied to a model; `C3AModel.fromFiles` /
 * `loadAdapterFromFiles` do that transactionally.
 *
 * @param files the two files (text/bytes/Blob/File each)
 * @throws {TypeError} a file is missing or of another type
 * @throws {SyntaxError} `adapter_config.json` is not JSON
 * @throws {ValueError} a non-C3A or missing `peft_type`
 * @throws {SafetensorsError} a truncated or corrupt weight file
 */
export async function decodeAdapterFiles(files: AdapterFilesInput): Promise<DecodedAdapterFiles> {
  const configFile = files?.[ADAPTER_CONFIG_NAME];
  const weightFile = files?.[ADAPTER_SAFE_WEIGHTS_NAME];
  if (configFile === undefined || weightFile === undefined) {
    throw new TypeError(
      `adapter files need both ${formatValue(ADAPTER_CONFIG_NAME)} and ${
        formatValue(ADAPTER_SAFE_WEIGHTS_NAME)
      }, got keys [${Object.keys(files ?? {}).map((k) => formatValue(k)).join(", ")}]`,
    );
  }
  const text = typeof configFile === "string"
    ? configFile
    : new TextDecoder().decode(await bytesOf(configFile));
  const config = parseAdapterConfig(text, ADAPTER_CONFIG_NAME);
  return { config, tensors: decodeAdapterWeights(await bytesOf(weightFile), ADAPTER_SAFE_WEIGHTS_NAME) };
}

/** `adapter_config.json` text → config; `where` names the file in a JSON error. */
function parseAdapterConfig(text: string, where: string): C3AConfig {
  try {
    return C3AConfig.fromJSON(text);
  } catch (e) {
    if (e instanceof SyntaxError) throw new SyntaxError(`${where} is not valid JSON: ${e.message}`);
    throw e;
  }
}

/** `adapter_model.safetensors` bytes → tensors; `where` names the file in a decoding error. */
function decodeAdapterWeights(bytes: Uint8Array, where: string): DecodedAdapterFiles["tensors"] {
  try {
    return decodeSafetensors(bytes).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new SafetensorsError(`${e.message} (file ${where})`);
    throw e;
  }
}

/**
 * Write adapters in PEFT's layout (implementation of `C3AModel.savePretrained`): for each selected
 * adapter, `adapter_model.safetensors` (F32, metadata `{"format": "pt"}`) and `adapter_config.json`,
 * in `dir` for `"default"` and in `dir/<name>` otherwise; each file written atomically.
 *
 * @throws {ValueError} an unknown adapter name, or a name that is not a plain folder name (see
 *   `checkAdapterName`: `A-Z a-z 0-9 _ -` only); nothing is written
 * @throws {Error} an adapter file already exists and `options.overwrite` is not set (names the file);
 *   nothing is written
 * @throws {Error} the directory cannot be created or a file cannot be written
 */
export async function savePretrainedImpl(
  model: C3AModel,
  dir: string | URL,
  options: SavePretrainedOptions = {},
): Promise<void> {
  const root = toPath(dir);
  const names = options.selectedAdapters ? [...options.selectedAdapters] : Object.keys(model.peftConfig);
  for (const n of names) {
    // every name but "default" becomes a folder under dir: refuse "a/b", "..", "" and the like
    checkAdapterName(n);
    if (!Object.hasOwn(model.peftConfig, n)) {
      throw new ValueError(
        `selectedAdapters contains ${formatValue(n)}, which is not an adapter of this model (adapters: ${
          Object.keys(model.peftConfig).join(", ")
        }).`,
      );
    }
  }
  const folder = (n: string) => n === "default" ? root : pathJoin(root, n);
  if (!options.overwrite) {
    for (const n of names) {
      for (const f of [ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME]) {
        const path = pathJoin(folder(n), f);
        if (await exists(path)) {
          throw new Error(`savePretrained: ${path} exists; pass { overwrite: true } to replace it`);
        }
      }
    }
  }
  for (const n of names) {
    const out = folder(n);
    const files = adapterToFiles(model, n);
    await Deno.mkdir(out, { recursive: true });
    await writeBytesAtomic(pathJoin(out, ADAPTER_SAFE_WEIGHTS_NAME), files[ADAPTER_SAFE_WEIGHTS_NAME]);
    await writeTextAtomic(pathJoin(out, ADAPTER_CONFIG_NAME), files[ADAPTER_CONFIG_NAME]);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Read and decode the adapter in `dir` (the file half of `fromPretrained`/`loadAdapter`, done before
 * anything is injected so a bad file leaves the model untouched): `adapter_config.json` first, then
 * `adapter_model.safetensors`, through the same pure code as {@link decodeAdapterFiles}.
 *
 * @param dir the adapter directory
 * @throws {Error} `Can't find 'adapter_config.json' at '{dir}'` (PEFT's message); no weight file
 *   (names the path; a PEFT pickle `adapter_model.bin` is reported as unsupported)
 * @throws {SyntaxError} invalid JSON (names the file)
 * @throws {ValueError} a non-C3A or missing `peft_type`
 * @throws {SafetensorsError} a truncated or corrupt file, or an unsupported dtype (names the file)
 */
export async function readAdapterDir(dir: string | URL): Promise<DecodedAdapterFiles> {
  const root = toPath(dir);
  const configPath = pathJoin(root, ADAPTER_CONFIG_NAME);
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Can't find '${ADAPTER_CONFIG_NAME}' at '${root}' (looked for ${configPath}).`);
    }
    throw e;
  }
  const config = parseAdapterConfig(text, configPath);
  const weightsPath = pathJoin(root, ADAPTER_SAFE_WEIGHTS_NAME);
  if (!(await exists(weightsPath))) {
    if (await exists(pathJoin(root, ADAPTER_WEIGHTS_NAME))) {
      throw new Error(
        `${root} has only ${ADAPTER_WEIGHTS_NAME} (a PyTorch pickle), which cannot be read here. Re-save the ` +
          `adapter in Python with save_pretrained(..., safe_serialization=True) to get ${ADAPTER_SAFE_WEIGHTS_NAME}.`,
      );
    }
    throw new Error(`Can't find weights at '${root}': ${weightsPath} does not exist.`);
  }
  return { config, tensors: decodeAdapterWeights(await Deno.readFile(weightsPath), weightsPath) };
}
