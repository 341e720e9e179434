/**
 * `C3AConfig`: the configuration of a C3A adapter, field for field Hugging Face PEFT's `C3AConfig`
 * (spec §3.1) in camelCase, with (de)serialisation to PEFT's `adapter_config.json` (snake_case keys,
 * sorted, 2-space indent, exactly `json.dumps(d, indent=2, sort_keys=True)`).
 *
 * @module
 */

import { formatValue, NotImplementedError, ValueError, warn } from "./errors.ts";
import { checkOptionKeys } from "../util/options.ts";

/**
 * Kernel initialisation (spec §2): `true` = zeros (adapter is a no-op at start), `false` or
 * `"xavier_uniform"` = U(-a, a) with a = √(6/(in+out)), `"kaiming_uniform"` = U(-1/√in, 1/√in),
 * `"gaussian"` = N(0, 1). Any other value is rejected when a layer is created (PEFT behaviour).
 */
export type C3AInitWeights = boolean | "gaussian" | "kaiming_uniform" | "xavier_uniform";

/** Bias trainability (spec §3.5): `"none"`, `"all"` or `"c3a_only"`. */
export type C3ABias = "none" | "all" | "c3a_only";

/** PEFT's `TaskType` values (spec §3.1). */
export const TASK_TYPES = [
  "SEQ_CLS",
  "SEQ_2_SEQ_LM",
  "CAUSAL_LM",
  "TOKEN_CLS",
  "QUESTION_ANS",
  "FEATURE_EXTRACTION",
] as const;

/** One of PEFT's task types. */
export type TaskType = typeof TASK_TYPES[number];

/** The PEFT version whose file format and semantics this implementation mirrors (spec §0). */
export const PEFT_REFERENCE_VERSION = "0.20.1.dev0";

/**
 * Value written to `peft_version` when none is given: PEFT's `"<version>@<git hash>"` form, with
 * this library named in place of the hash so files written here can be told apart.
 */
export const DEFAULT_PEFT_VERSION = `${PEFT_REFERENCE_VERSION}@c3a-ts`;

/**
 * Options accepted by {@link C3AConfig}; every field optional, defaults as in PEFT. Keys are camelCase only:
 * any other key (a typo, or PEFT's snake_case `block_size`) is a TypeError naming it and the camelCase key
 * meant; PEFT's snake_case dictionaries are read by {@link C3AConfig.fromJSON}.
 */
export interface C3AConfigOptions {
  /** Default block size b for every targeted layer (PEFT `block_size`, default 256). */
  blockSize?: number;
  /**
   * Modules to adapt (PEFT `target_modules`): a string is a regex that must match the whole module
   * name (`"all-linear"` = every Linear except the output embedding); a list matches a name exactly
   * or as a dot-boundary suffix. `null` = the default for the model type (spec §3.3).
   */
  targetModules?: string | readonly string[] | ReadonlySet<string> | null;
  /** `"none"` (default), `"all"` or `"c3a_only"` (spec §3.5). Other strings fail at model creation. */
  bias?: C3ABias | string;
  /** Extra modules trained in full and saved with the adapter (PEFT `modules_to_save`, spec §3.6). */
  modulesToSave?: readonly string[] | null;
  /** Restrict to these layer indices (an int or a list; spec §3.4). */
  layersToTransform?: number | readonly number[] | null;
  /** Name(s) of the layer container used to find the layer index, raw regexes (spec §3.4). */
  layersPattern?: string | readonly string[] | null;
  /** Per-module block sizes: key K (a raw regex) matches names ending in `.K` (spec §3.2). */
  blockSizePattern?: Readonly<Record<string, number>>;
  /** Kernel initialisation (spec §2), default `"xavier_uniform"`. */
  initWeights?: C3AInitWeights | string;
  /** PEFT task type or null (invalid values throw {@link ValueError}). */
  taskType?: TaskType | string | null;
  /** Always `"C3A"`; any other value throws {@link ValueError}. */
  peftType?: string;
  /** PEFT `auto_mapping` (class information written when `taskType` is null), default null. */
  autoMapping?: Record<string, unknown> | null;
  /** PEFT `peft_version`; filled with {@link DEFAULT_PEFT_VERSION} when null. */
  peftVersion?: string | null;
  /** PEFT `base_model_name_or_path`, default null. */
  baseModelNameOrPath?: string | null;
  /** PEFT `revision`, default null. */
  revision?: string | null;
  /** When true at injection the adapter's kernels are frozen (spec §3.7), default false. */
  inferenceMode?: boolean;
}

/** The snake_case dictionary PEFT writes to `adapter_config.json` (sorted keys). */
export interface C3AConfigDict {
  /** Class information (`base_model_class`, `parent_library`) or null. */
  auto_mapping: Record<string, unknown> | null;
  /** Hub id or path of the base model, or null. */
  base_model_name_or_path: string | null;
  /** `"none"`, `"all"` or `"c3a_only"`. */
  bias: string;
  /** Default block size b. */
  block_size: number;
  /** Regex key → block size. */
  block_size_pattern: Record<string, number>;
  /** Adapter frozen when loaded (PEFT writes true on save). */
  inference_mode: boolean;
  /** Kernel initialisation (spec §2). */
  init_weights: C3AInitWeights | string;
  /** Layer-container regex(es) or null. */
  layers_pattern: string | string[] | null;
  /** Layer index / indices or null. */
  layers_to_transform: number | number[] | null;
  /** Fully trained extra modules or null. */
  modules_to_save: string[] | null;
  /** Always `"C3A"`. */
  peft_type: string;
  /** `"<version>@<hash>"` of the writer. */
  peft_version: string | null;
  /** Base model revision or null. */
  revision: string | null;
  /** Full-match regex, list of names, or null. */
  target_modules: string | string[] | null;
  /** PEFT task type or null. */
  task_type: string | null;
}

/** camelCase field name → PEFT JSON key, for every field of {@link C3AConfig}. */
const FIELD_TO_KEY = {
  autoMapping: "auto_mapping",
  baseModelNameOrPath: "base_model_name_or_path",
  bias: "bias",
  blockSize: "block_size",
  blockSizePattern: "block_size_pattern",
  inferenceMode: "inference_mode",
  initWeights: "init_weights",
  layersPattern: "layers_pattern",
  layersToTransform: "layers_to_transform",
  modulesToSave: "modules_to_save",
  peftType: "peft_type",
  peftVersion: "peft_version",
  revision: "revision",
  targetModules: "target_modules",
  taskType: "task_type",
} as const satisfies Record<keyof C3AConfigOptions, string>;

const KEY_TO_FIELD: Record<string, keyof C3AConfigOptions> = Object.fromEntries(
  Object.entries(FIELD_TO_KEY).map(([field, key]) => [key, field as keyof C3AConfigOptions]),
);

/** Bias values PEFT implements for C3A (plus any string ending in `"_only"`, which acts like `"c3a_only"`). */
export const VALID_BIAS = ["none", "all", "c3a_only"] as const;

/**
 * Check a bias value the way `BaseTuner._mark_only_adapters_as_trainable` does (spec §3.5):
 * `"none"`, `"all"` and any string ending in `"_only"` are accepted.
 *
 * @throws {NotImplementedError} `Requested bias: {bias}, is not implemented.` for anything else
 */
export function checkBias(bias: string): void {
  if (bias === "none" || bias === "all" || (typeof bias === "string" && bias.endsWith("_only"))) return;
  throw new NotImplementedError(
    `Requested bias: ${bias}, is not implemented. Use one of ${VALID_BIAS.map((b) => `"${b}"`).join(", ")}.`,
  );
}

function isStringList(v: unknown): v is readonly string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function checkNullableString(name: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") {
    throw new TypeError(`${name} must be a string or null, got ${formatValue(v)}`);
  }
  return v;
}

/**
 * Configuration of a C3A adapter: Hugging Face PEFT's `C3AConfig` (spec §3.1) with camelCase fields.
 *
 * Validation at construction is PEFT's (only these): a string `targetModules` cannot be combined with
 * `layersToTransform` or `layersPattern`, `taskType` must be a PEFT task type, `peftType` must be
 * `"C3A"`. Block sizes, `initWeights` and `bias` are checked when the model is adapted, as in PEFT.
 *
 * `targetModules` given as a list is de-duplicated (PEFT turns it into a set); it is written sorted.
 *
 * @example
 * ```ts
 * const config = new C3AConfig({
 *   blockSize: 64,
 *   targetModules: ["q_proj", "v_proj"],
 *   blockSizePattern: { down_proj: 128 },
 *   taskType: "CAUSAL_LM",
 * });
 * const text = config.toJSONString(); // what PEFT writes to adapter_config.json
 * const again = C3AConfig.fromJSON(text);
 * again.blockSizePattern; // { down_proj: 128 }
 * ```
 *
 * @throws {ValueError} `` `layers_to_transform` cannot be used when `target_modules` is a str. ``,
 *   `` `layers_pattern` cannot be used when `target_modules` is a str. ``, `Invalid task type: ...`,
 *   or a non-C3A `peftType`
 * @throws {TypeError} a field of the wrong JavaScript type (e.g. `blockSize: "64"`), or an unknown option
 *   key: `C3AConfig: unknown option "block_size" (did you mean "blockSize"?)` — keys are never dropped
 */
export class C3AConfig {
  /** Default block size b (PEFT `block_size`, default 256). Must divide every targeted layer's in/out. */
  blockSize: number;
  /** PEFT `target_modules`: a full-match regex string, a de-duplicated list, or null (model default). */
  targetModules: string | string[] | null;
  /** PEFT `bias`: `"none"` | `"all"` | `"c3a_only"` (checked at model creation). */
  bias: string;
  /** PEFT `modules_to_save`, or null. */
  modulesToSave: string[] | null;
  /** PEFT `layers_to_transform`: an index, a list of indices, or null (no filter). */
  layersToTransform: number | number[] | null;
  /** PEFT `layers_pattern`: raw regex(es) naming the layer container, or null. */
  layersPattern: string | string[] | null;
  /** PEFT `block_size_pattern`: regex key → block size, first match in insertion order wins. */
  blockSizePattern: Record<string, number>;
  /** PEFT `init_weights` (spec §2). */
  initWeights: C3AInitWeights | string;
  /** PEFT `task_type` or null. */
  taskType: string | null;
  /** Always `"C3A"`. */
  readonly peftType: "C3A" = "C3A";
  /** PEFT `auto_mapping`. */
  autoMapping: Record<string, unknown> | null;
  /** PEFT `peft_version` (filled with {@link DEFAULT_PEFT_VERSION} when not given). */
  peftVersion: string;
  /** PEFT `base_model_name_or_path`. */
  baseModelNameOrPath: string | null;
  /** PEFT `revision`. */
  revision: string | null;
  /** PEFT `inference_mode`: freeze the adapter's kernels at injection. */
  inferenceMode: boolean;

  /**
   * Build and validate a config.
   *
   * @param options any subset of the fields; missing ones take PEFT's defaults
   * @throws {TypeError} an unknown key (e.g. PEFT's snake_case `target_modules`), named with the camelCase key
   */
  constructor(options: C3AConfigOptions = {}) {
    checkOptionKeys(
      "C3AConfig",
      options,
      Object.keys(FIELD_TO_KEY),
      "; PEFT's snake_case adapter_config.json keys are read by C3AConfig.fromJSON",
    );
    const o = options ?? {};
    const blockSize = o.blockSize ?? 256;
    if (typeof blockSize !== "number" || Number.isNaN(blockSize)) {
      throw new TypeError(`blockSize must be a number, got ${formatValue(blockSize)}`);
    }
    this.blockSize = blockSize;

    const tm = o.targetModules ?? null;
    if (tm === null || typeof tm === "string") this.targetModules = tm;
    else if (tm instanceof Set || isStringList(tm)) this.targetModules = [...new Set(tm as Iterable<string>)];
    else {
      throw new TypeError(
        `targetModules must be a string (regex), a list of strings or null, got ${formatValue(tm)}`,
      );
    }

    const bias = o.bias ?? "none";
    if (typeof bias !== "string") throw new TypeError(`bias must be a string, got ${formatValue(bias)}`);
    this.bias = bias;

    const mts = o.modulesToSave ?? null;
    if (mts !== null && !isStringList(mts)) {
      throw new TypeError(`modulesToSave must be a list of strings or null, got ${formatValue(mts)}`);
    }
    this.modulesToSave = mts === null ? null : [...mts];

    const ltt = o.layersToTransform ?? null;
    if (ltt === null) this.layersToTransform = null;
    else if (typeof ltt === "number" && Number.isInteger(ltt)) this.layersToTransform = ltt;
    else if (Array.isArray(ltt) && ltt.every((v) => Number.isInteger(v))) this.layersToTransform = [...ltt];
    else {
      throw new TypeError(
        `layersToTransform must be an integer, a list of integers or null, got ${formatValue(ltt)}`,
      );
    }

    const lp = o.layersPattern ?? null;
    if (lp === null || typeof lp === "string") this.layersPattern = lp;
    else if (isStringList(lp)) this.layersPattern = [...lp];
    else {throw new TypeError(
        `layersPattern must be a string, a list of strings or null, got ${formatValue(lp)}`,
      );}

    const bsp = o.blockSizePattern ?? {};
    if (typeof bsp !== "object" || bsp === null || Array.isArray(bsp)) {
      throw new TypeError(
        `blockSizePattern must be an object {pattern: blockSize}, got ${formatValue(bsp)}`,
      );
    }
    for (const [k, v] of Object.entries(bsp)) {
      if (typeof v !== "number" || Number.isNaN(v)) {
        throw new TypeError(`blockSizePattern["${k}"] must be a number, got ${formatValue(v)}`);
      }
    }
    this.blockSizePattern = { ...bsp };

    const iw = o.initWeights ?? "xavier_uniform";
    if (typeof iw !== "boolean" && typeof iw !== "string") {
      throw new TypeError(
        `initWeights must be true, false, "gaussian", "kaiming_uniform" or "xavier_uniform", got ${
          formatValue(iw)
        }`,
      );
    }
    this.initWeights = iw;

    const taskType = checkNullableString("taskType", o.taskType);
    if (taskType !== null && !(TASK_TYPES as readonly string[]).includes(taskType)) {
      throw new ValueError(
        `Invalid task type: '${taskType}'. Must be one of the following task types: ${
          TASK_TYPES.join(", ")
        }.`,
      );
    }
    this.taskType = taskType;

    if (o.peftType !== undefined && o.peftType !== null && o.peftType !== "C3A") {
      throw new ValueError(
        `peft_type ${formatValue(o.peftType)} is not supported by C3AConfig: this library loads and writes ` +
          `C3A adapters only (peft_type "C3A").`,
      );
    }

    const am = o.autoMapping ?? null;
    if (am !== null && (typeof am !== "object" || Array.isArray(am))) {
      throw new TypeError(`autoMapping must be an object or null, got ${formatValue(am)}`);
    }
    this.autoMapping = am === null ? null : { ...am };
    this.peftVersion = checkNullableString("peftVersion", o.peftVersion) ?? DEFAULT_PEFT_VERSION;
    this.baseModelNameOrPath = checkNullableString("baseModelNameOrPath", o.baseModelNameOrPath);
    this.revision = checkNullableString("revision", o.revision);
    const im = o.inferenceMode ?? false;
    if (typeof im !== "boolean") {
      throw new TypeError(`inferenceMode must be a boolean, got ${formatValue(im)}`);
    }
    this.inferenceMode = im;

    // PEFT C3AConfig.__post_init__: the only two config-time checks.
    if (typeof this.targetModules === "string" && this.layersToTransform !== null) {
      throw new ValueError(
        "`layers_to_transform` cannot be used when `target_modules` is a str. " +
          "Give targetModules as a list of names, or drop layersToTransform.",
      );
    }
    if (typeof this.targetModules === "string" && this.layersPattern !== null) {
      throw new ValueError(
        "`layers_pattern` cannot be used when `target_modules` is a str. " +
          "Give targetModules as a list of names, or drop layersPattern.",
      );
    }
  }

  /** All fields as camelCase options (deep copies), e.g. to derive a modified config. */
  toOptions(): Required<C3AConfigOptions> {
    return {
      blockSize: this.blockSize,
      targetModules: Array.isArray(this.targetModules) ? [...this.targetModules] : this.targetModules,
      bias: this.bias,
      modulesToSave: this.modulesToSave === null ? null : [...this.modulesToSave],
      layersToTransform: Array.isArray(this.layersToTransform)
        ? [...this.layersToTransform]
        : this.layersToTransform,
      layersPattern: Array.isArray(this.layersPattern) ? [...this.layersPattern] : this.layersPattern,
      blockSizePattern: { ...this.blockSizePattern },
      initWeights: this.initWeights,
      taskType: this.taskType,
      peftType: this.peftType,
      autoMapping: this.autoMapping === null ? null : structuredClone(this.autoMapping),
      peftVersion: this.peftVersion,
      baseModelNameOrPath: this.baseModelNameOrPath,
      revision: this.revision,
      inferenceMode: this.inferenceMode,
    };
  }

  /**
   * A copy with some fields replaced.
   *
   * @param overrides fields to change
   * @returns a new, validated config
   */
  with(overrides: C3AConfigOptions): C3AConfig {
    return new C3AConfig({ ...this.toOptions(), ...overrides });
  }

  /**
   * The PEFT `adapter_config.json` dictionary: snake_case keys, inserted in sorted order at every
   * level (so `JSON.stringify` writes them sorted), `targetModules` list sorted (PEFT stores a set).
   * Note that sorting `block_size_pattern` keys changes their first-match order, exactly as PEFT's
   * `sort_keys=True` does.
   */
  toJSON(): C3AConfigDict {
    const tm = Array.isArray(this.targetModules) ? [...this.targetModules].sort() : this.targetModules;
    const dict: Record<string, unknown> = {};
    const opts = this.toOptions() as unknown as Record<string, unknown>;
    opts.targetModules = tm;
    for (const [field, key] of Object.entries(FIELD_TO_KEY)) dict[key] = opts[field];
    return sortKeysDeep(dict) as C3AConfigDict;
  }

  /**
   * The exact text PEFT writes: `json.dumps(config_dict, indent=2, sort_keys=True)` (2-space indent,
   * sorted keys, non-ASCII escaped as `\uXXXX`, no trailing newline).
   *
   * @param overrides JSON keys to replace before writing (e.g. `{inference_mode: true}` as PEFT's
   *   `save_pretrained` does)
   */
  toJSONString(overrides: Partial<C3AConfigDict> = {}): string {
    return pythonJsonDumps({ ...this.toJSON(), ...overrides });
  }

  /**
   * Build a config from PEFT's `adapter_config.json` (text or parsed object). Unknown keys (e.g. the
   * stale `exclude_modules`, `fan_in_fan_out` of some PEFT configs) are dropped with a warning naming
   * them, as PEFT does.
   *
   * @param json file text or the parsed dictionary
   * @throws {ValueError} missing `peft_type`, a `peft_type` other than `"C3A"` (the message names it),
   *   or any constructor validation error
   * @throws {SyntaxError} text that is not JSON
   * @throws {TypeError} a value of the wrong type, or a JSON value that is not an object
   */
  static fromJSON(json: string | Record<string, unknown>): C3AConfig {
    const dict = typeof json === "string" ? JSON.parse(json) : json;
    if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
      throw new TypeError(`adapter config must be a JSON object, got ${formatValue(dict, 80)}`);
    }
    if (!("peft_type" in dict)) {
      throw new ValueError(
        'adapter config has no `peft_type` key; PEFT requires it. Expected `"peft_type": "C3A"`.',
      );
    }
    if (dict.peft_type !== "C3A") {
      throw new ValueError(
        `adapter config has peft_type ${formatValue(dict.peft_type)}, but this library only loads ` +
          `C3A adapters (peft_type "C3A"). Load it with Hugging Face PEFT, or pass a C3A adapter.`,
      );
    }
    const options: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const [key, value] of Object.entries(dict)) {
      const field = KEY_TO_FIELD[key];
      if (field === undefined) unknown.push(key);
      else options[field] = value;
    }
    if (unknown.length > 0) {
      warn(
        `Unexpected keyword arguments [${unknown.map((k) => `'${k}'`).join(", ")}] for class C3AConfig, ` +
          "these are ignored. This probably means that you're loading a configuration file that was saved " +
          "with a different version or another PEFT method's fields.",
      );
    }
    return new C3AConfig(options as C3AConfigOptions);
  }
}

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v instanceof Set) return [...v].map(sortKeysDeep);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeysDeep((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * Serialise like Python's `json.dumps(v, indent=2, sort_keys=True)` (ensure_ascii on): sorted keys at
 * every level, `": "` after keys, one item per line, `{}`/`[]` for empty containers, non-ASCII escaped
 * as `\uXXXX`, sets written as lists, no trailing newline. Floats use JavaScript's shortest form
 * (Python writes `1e-05` where JavaScript writes `0.00001`; both parse to the same value).
 *
 * @param v a JSON-compatible value (NaN/Infinity are written as Python does: `NaN`, `Infinity`)
 */
export function pythonJsonDumps(v: unknown): string {
  return dumpValue(sortKeysDeep(v), "");
}

function dumpValue(v: unknown, indent: string): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
    return String(v);
  }
  if (typeof v === "string") {
    return JSON.stringify(v).replace(
      /[\u0080-\uffff]/g,
      (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
    );
  }
  const inner = indent + "  ";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return "[\n" + v.map((e) => inner + dumpValue(e, inner)).join(",\n") + "\n" + indent + "]";
  }
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return "{}";
    return "{\n" + entries.map(([k, e]) =>
      inner + dumpValue(k, inner) + ": " + dumpValue(e, inner)
    ).join(",\n") +
      "\n" + indent + "}";
  }
  throw new TypeError(`cannot serialise ${typeof v} to JSON`);
}
