/**
 * Which modules a C3A config adapts, and with which block size: PEFT's matching rules
 * (`check_target_module_exists`, `inject_adapter`, `C3AModel._create_and_replace`; spec §3.2–§3.4,
 * §3.6), implemented without reference to any model class so they can be tested on plain names.
 *
 * Patterns in configs are Python regexes; they are translated with {@link pyRegex} (named groups
 * `(?P<n>…)`/`(?P=n)`, `\A`, `\Z`), everything else is passed to JavaScript's RegExp unchanged.
 *
 * @module
 */

import type { C3AConfig } from "./config.ts";
import { formatValue, NoMatchingPeftModuleError, ValueError, warn } from "./errors.ts";

/**
 * Compile a Python regex (as written in a PEFT config) to a JavaScript RegExp with Python's
 * anchoring: `"fullmatch"` = the whole string (`re.fullmatch`), `"match"` = from the start only
 * (`re.match`), `"search"` = anywhere.
 *
 * @param pattern raw Python regex text (inserted unchanged except for the syntax translations above)
 * @param mode anchoring, see above
 * @throws {ValueError} the pattern is not a valid regex; the message names it
 */
export function pyRegex(pattern: string, mode: "fullmatch" | "match" | "search"): RegExp {
  const js = pattern
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, "(?<$1>")
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, "\\k<$1>")
    .replace(/\\A/g, "^")
    .replace(/\\Z/g, "$");
  const src = mode === "fullmatch" ? `^(?:${js})$` : mode === "match" ? `^(?:${js})` : js;
  try {
    return new RegExp(src);
  } catch (e) {
    throw new ValueError(`invalid regular expression ${formatValue(pattern)}: ${(e as Error).message}`);
  }
}

const regexCache = new Map<string, RegExp>();
function cached(pattern: string, mode: "fullmatch" | "match"): RegExp {
  const k = mode + "\u0000" + pattern;
  let r = regexCache.get(k);
  if (r === undefined) {
    r = pyRegex(pattern, mode);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(k, r);
  }
  return r;
}

/**
 * How a module name matches a target list (spec §3.3 step 4): `"exact"` when it equals an entry,
 * `"suffix"` when it ends with `"." + entry` (plain string, dot boundary, no regex), else `null`.
 *
 * @param key full dotted module name, e.g. `"model.layers.0.self_attn.q_proj"`
 * @param entries the target list, e.g. `["q_proj", "v_proj"]`
 */
export function matchTargetList(key: string, entries: readonly string[]): "exact" | "suffix" | null {
  if (entries.includes(key)) return "exact";
  return entries.some((e) => key.endsWith("." + e)) ? "suffix" : null;
}

/**
 * The layer index of a module name (spec §3.4), or `null` when none is found.
 * Without `layersPattern`: first capture of `.*?\.[^.]*\.(\d+)\.` matched from the start
 * (`model.layers.3.self_attn.q_proj` → 3; `layers.3.x` → null, no dot before `layers`).
 * With patterns: for each P in order, `.*?\.P\.(\d+)\.`; first hit wins.
 *
 * @param key full dotted module name
 * @param layersPattern `layers_pattern` of the config (string, list, or null/empty for the default)
 */
export function getLayerIndex(key: string, layersPattern: string | readonly string[] | null): number | null {
  const patterns = layersPattern === null || layersPattern.length === 0
    ? null
    : typeof layersPattern === "string"
    ? [layersPattern]
    : layersPattern;
  if (patterns === null) {
    const m = cached(String.raw`.*?\.[^.]*\.(\d+)\.`, "match").exec(key);
    return m ? parseInt(m[1], 10) : null;
  }
  for (const p of patterns) {
    const m = cached(String.raw`.*?\.` + p + String.raw`\.(\d+)\.`, "match").exec(key);
    if (m) return parseInt(m[m.length - 1], 10);
  }
  return null;
}

/**
 * The layer index PEFT's rule ({@link getLayerIndex}) does not read: that of a layer list at the model's
 * root (`layers.3.self_attn.q_proj`, or `P.3.…` for a `layersPattern` P), where no parent module precedes
 * the container name. PEFT (checked against its `check_target_module_exists` of August 2026 and its test
 * table, e.g. `("blocks.1.weight", …, False)`) finds no index there, so `layersToTransform` selects
 * nothing; this library keeps PEFT's rule (an adapter must match the same modules in both) and uses this
 * function only to say so instead of matching nothing silently.
 *
 * @param key full dotted module name
 * @param layersPattern `layers_pattern` of the config (string, list, or null/empty for the default)
 * @returns the index at the root, or null when PEFT's rule finds one or there is none
 */
export function rootLayerIndex(key: string, layersPattern: string | readonly string[] | null): number | null {
  if (getLayerIndex(key, layersPattern) !== null) return null;
  const patterns = layersPattern === null || layersPattern.length === 0
    ? [String.raw`[^.]*`]
    : typeof layersPattern === "string"
    ? [layersPattern]
    : layersPattern;
  for (const p of patterns) {
    const m = cached(`(?:${p})` + String.raw`\.(\d+)\.`, "match").exec(key);
    if (m) return parseInt(m[m.length - 1], 10);
  }
  return null;
}

/** The subset of {@link C3AConfig} the matching rules read. */
export type MatchingConfig = Pick<
  C3AConfig,
  "targetModules" | "layersToTransform" | "layersPattern" | "blockSize" | "blockSizePattern" | "modulesToSave"
>;

/**
 * PEFT's `check_target_module_exists` for C3A (spec §3.3 steps 3–5, §3.4): does `key` match
 * `targetModules` (which must already be resolved, i.e. not null and not `"all-linear"`)?
 * A string is a regex matched against the whole name; a list matches exactly or as a dot-boundary
 * suffix, and suffix matches are further filtered by `layersToTransform`/`layersPattern`.
 *
 * @param config the config (only the matching fields are read)
 * @param key full dotted module name
 * @throws {ValueError} `targetModules` is null (resolve it first with {@link resolveTargetModules})
 */
export function isTargetModule(config: MatchingConfig, key: string): boolean {
  const tm = config.targetModules;
  if (tm === null) {
    throw new ValueError(
      "targetModules is null: resolve the model-type default first (resolveTargetModules)",
    );
  }
  if (typeof tm === "string") return cached(tm, "fullmatch").test(key);
  const how = matchTargetList(key, tm);
  if (how !== "suffix") return how === "exact";
  const lt = config.layersToTransform;
  const usingIndexes = lt !== null && (Array.isArray(lt) ? lt.length !== 0 : true);
  if (!usingIndexes) return true;
  const idx = getLayerIndex(key, config.layersPattern);
  if (idx === null) return false;
  return typeof lt === "number" ? idx === lt : (lt as number[]).includes(idx);
}

/**
 * Is `key` excluded from C3A because it is (inside) a `modules_to_save` entry M (spec §3.3 step 2):
 * regex `(^|.*\.)M($|\..*)` matched from the start, M inserted raw.
 *
 * @param key full dotted module name
 * @param modulesToSave the config's `modulesToSave` (null = nothing excluded)
 */
export function isExcludedByModulesToSave(key: string, modulesToSave: readonly string[] | null): boolean {
  if (!modulesToSave) return false;
  return modulesToSave.some((m) =>
    cached(String.raw`(^|.*\.)` + m + String.raw`($|\..*)`, "match").test(key)
  );
}

/**
 * Does module `key` get a trainable copy for `modules_to_save` (spec §3.6): its name ends with an
 * entry (plain `endsWith`, no dot boundary, as PEFT's `_set_trainable`).
 *
 * @returns the matching entry, or null
 */
export function modulesToSaveEntry(key: string, modulesToSave: readonly string[] | null): string | null {
  if (!modulesToSave) return null;
  return modulesToSave.find((m) => key.endsWith(m)) ?? null;
}

/**
 * The block size of a targeted module (spec §3.2): the first `blockSizePattern` key K (insertion
 * order) for which `.*\.K$` matches `key` from its start; else an exact-name entry; else
 * `config.blockSize`.
 *
 * @param config the config (reads `blockSize`, `blockSizePattern`)
 * @param key full dotted module name, e.g. `"model.layers.0.mlp.down_proj"`
 * @returns the block size b (not validated here; see `checkBlockSize`)
 */
export function resolveBlockSize(
  config: Pick<MatchingConfig, "blockSize" | "blockSizePattern">,
  key: string,
): number {
  const patterns = config.blockSizePattern ?? {};
  const keys = Object.keys(patterns);
  const chosen = keys.find((k) => cached(String.raw`.*\.` + k + "$", "match").test(key)) ?? key;
  return Object.prototype.hasOwnProperty.call(patterns, chosen) ? patterns[chosen] : config.blockSize;
}

/**
 * PEFT's `TRANSFORMERS_MODELS_TO_C3A_TARGET_MODULES_MAPPING` (spec §3.3): default `target_modules`
 * by Hugging Face `model_type`. (gpt2/gpt_bigcode point at a `Conv1D`, which C3A rejects, as in PEFT.)
 */
export const C3A_DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[] | string>> = Object.freeze(
  {
    t5: ["q", "v"],
    mt5: ["q", "v"],
    bart: ["q_proj", "v_proj"],
    gpt2: ["mlp.c_proj"],
    gpt_bigcode: ["mlp.c_proj"],
    bloom: ["query_key_value"],
    "blip-2": ["q", "v", "q_proj", "v_proj"],
    opt: ["q_proj", "v_proj"],
    gptj: ["q_proj", "v_proj"],
    gpt_neox: ["query_key_value"],
    gpt_neo: ["q_proj", "v_proj"],
    bert: ["query", "value"],
    roberta: ["query", "value"],
    "xlm-roberta": ["query", "value"],
    electra: ["query", "value"],
    "deberta-v2": ["query_proj", "value_proj"],
    deberta: ["in_proj"],
    layoutlm: ["query", "value"],
    llama: ["q_proj", "v_proj"],
    llama4: ["q_proj", "v_proj"],
    chatglm: ["query_key_value"],
    mpt: ["Wqkv"],
    RefinedWebModel: ["query_key_value"],
    RefinedWeb: ["query_key_value"],
    falcon: ["query_key_value"],
    btlm: ["c_proj", "c_attn"],
    codegen: ["qkv_proj"],
    mistral: ["q_proj", "v_proj"],
    mixtral: ["q_proj", "v_proj"],
    stablelm: ["q_proj", "v_proj"],
    phi: ["q_proj", "v_proj", "fc1", "fc2"],
    gemma: ["q_proj", "v_proj"],
    gemma2: ["q_proj", "v_proj"],
    gemma3_text: ["q_proj", "v_proj"],
    gemma4: String.raw`.*language_model\..*\.(q_proj|v_proj)`,
    qwen2: ["q_proj", "v_proj"],
    qwen3: ["q_proj", "v_proj"],
    nemotron_h: ["q_proj", "k_proj", "v_proj", "o_proj"],
    rwkv: ["key", "value", "receptance", "output"],
    rwkv7: ["r_proj", "k_proj", "v_proj", "o_proj", "key", "value"],
  },
);

/** One module of the model as the matcher sees it. */
export interface TargetCandidate {
  /** Full dotted name from `namedModules()` (no `base_model.model.` prefix). */
  name: string;
  /** Whether the module is a Linear layer (used for `"all-linear"` and in error hints). */
  isLinear: boolean;
  /** True for modules nested inside an existing C3A layer (e.g. its `base_layer`): never targeted. */
  insideTunerLayer?: boolean;
}

/** Model facts the target resolution may need. */
export interface ResolveTargetsOptions {
  /** Hugging Face `model_type` (for the default mapping when `targetModules` is null). */
  modelType?: string | null;
  /**
   * Names of output-embedding / classifier-head modules that `"all-linear"` leaves out
   * (PEFT excludes the model's output embedding, e.g. `lm_head`).
   */
  excludeFromAllLinear?: readonly string[];
}

/**
 * Resolve `targetModules` to a string regex or a list (spec §3.3 steps 3 and 6): null → the default
 * mapping of `modelType`; `"all-linear"` (any case) → the names of all Linear candidates minus
 * `excludeFromAllLinear`.
 *
 * @throws {ValueError} `Please specify \`target_modules\` in \`peft_config\`` when null and the model
 *   type has no default (the message lists the types that have one)
 */
export function resolveTargetModules(
  targetModules: string | readonly string[] | null,
  candidates: readonly TargetCandidate[],
  options: ResolveTargetsOptions = {},
): string | string[] {
  if (targetModules === null) {
    const mt = options.modelType ?? null;
    const def = mt === null ? undefined : C3A_DEFAULT_TARGET_MODULES[mt];
    if (def === undefined) {
      throw new ValueError(
        "Please specify `target_modules` in `peft_config`: " +
          (mt === null
            ? "the model has no model type to look up a default for."
            : `model type ${formatValue(mt)} has no default C3A targets.`) +
          ` Defaults exist for: ${Object.keys(C3A_DEFAULT_TARGET_MODULES).join(", ")}.` +
          linearHint(candidates),
      );
    }
    return typeof def === "string" ? def : [...def];
  }
  if (typeof targetModules === "string") {
    if (targetModules.toLowerCase() !== "all-linear") return targetModules;
    const exclude = new Set(options.excludeFromAllLinear ?? []);
    // the root module ("") is never adapted (PEFT skips it), so it is not a target either
    return candidates.filter((c) =>
      c.name !== "" && c.isLinear && !c.insideTunerLayer && !exclude.has(c.name)
    )
      .map((c) => c.name);
  }
  return [...targetModules];
}

/**
 * The modules `"all-linear"` leaves out (PEFT removes the output embedding of transformers models,
 * and for `SEQ_CLS` the classifier head): a top-level `lm_head`, and for `taskType === "SEQ_CLS"`
 * a top-level `classifier` or `score` module.
 *
 * @param names every module name of the model
 * @param taskType the config's task type
 */
export function allLinearExclusions(names: Iterable<string>, taskType: string | null = null): string[] {
  const set = new Set(names);
  if (set.has("lm_head")) return ["lm_head"];
  if (taskType === "SEQ_CLS") {
    for (const head of ["classifier", "score"]) if (set.has(head)) return [head];
  }
  return [];
}

/** The outcome of {@link findTargets}. */
export interface FindTargetsResult {
  /** Matched module names with their block sizes, in `namedModules()` order. */
  targets: { name: string; blockSize: number }[];
  /** Names excluded because of `modulesToSave`. */
  excluded: string[];
  /** The resolved `targetModules` (after the default mapping / `"all-linear"`). */
  targetModules: string | string[];
}

/**
 * PEFT's injection scan (spec §3.3): skip the root and anything inside an existing tuner layer,
 * exclude `modulesToSave` modules, match the rest against the resolved `targetModules` and
 * `layersToTransform`, and give each hit its block size (§3.2). Hits are not type-checked here
 * (PEFT raises its TypeError for non-Linear hits when it creates the layer).
 *
 * @param config the adapter config
 * @param candidates every module of the model, in `namedModules()` order
 * @param options model type and `"all-linear"` exclusions
 * @throws {NoMatchingPeftModuleError} nothing matched; the message is PEFT's, plus the Linear modules
 *   the model does have
 * @throws {ValueError} see {@link resolveTargetModules}
 */
export function findTargets(
  config: MatchingConfig,
  candidates: readonly TargetCandidate[],
  options: ResolveTargetsOptions = {},
): FindTargetsResult {
  const targetModules = resolveTargetModules(config.targetModules, candidates, options);
  const resolved: MatchingConfig = { ...config, targetModules };
  const targets: { name: string; blockSize: number }[] = [];
  const excluded: string[] = [];
  let unmatched = 0;
  for (const c of candidates) {
    if (c.name === "" || c.insideTunerLayer) continue;
    if (isExcludedByModulesToSave(c.name, config.modulesToSave)) {
      excluded.push(c.name);
      continue;
    }
    if (isTargetModule(resolved, c.name)) {
      targets.push({ name: c.name, blockSize: resolveBlockSize(config, c.name) });
    } else unmatched++;
  }
  // list targets that only a root-level layer list kept from layersToTransform (PEFT reads no index there)
  const lt = config.layersToTransform;
  const rootLevel = Array.isArray(targetModules) && lt !== null && (!Array.isArray(lt) || lt.length > 0)
    ? candidates.filter((c) =>
      c.name !== "" && !c.insideTunerLayer && matchTargetList(c.name, targetModules) === "suffix" &&
      rootLayerIndex(c.name, config.layersPattern) !== null
    ).map((c) => c.name)
    : [];
  const rootNote = rootLevel.length === 0
    ? ""
    : ` ${rootLevel.length} module(s) matching targetModules sit in a ` +
      `layer list at the model's root (e.g. ${
        formatValue(rootLevel[0])
      }): PEFT reads a layer index only below ` +
      "a parent module (`<parent>.<layers>.<i>.`), so layersToTransform selects none of them, in PEFT as here. " +
      "Put the layer list inside a parent module (e.g. `model.layers`), or select layers with a regex " +
      String.raw`targetModules such as "layers\.(0|1)\..*q_proj" instead of layersToTransform.`;
  if (targets.length > 0 && rootLevel.length > 0) warn(rootNote.trim());
  if (targets.length === 0) {
    let msg: string;
    if (excluded.length > 0 && unmatched === 0) {
      msg = "All modules were excluded. This is likely unintended. Check your `target_modules` and " +
        "`modules_to_save` configuration.";
    } else if (excluded.length === 0 && Array.isArray(targetModules) && targetModules.length === 0) {
      msg = typeof config.targetModules === "string"
        ? `targetModules ${
          formatTargets(config.targetModules)
        } selected no module: the model has no Linear ` +
          "module besides the root (and any excluded output head)."
        : "targetModules is an empty list, so no module can match. Name the Linear modules to adapt.";
    } else if (excluded.length === 0) {
      msg = `Target modules ${formatTargets(targetModules)} not found in the base model. ` +
        "Please check the target modules and try again.";
    } else {
      msg = "No modules were targeted for adaptation. This might be caused by a combination of mismatched " +
        "target modules and excluded modules. Please check your `target_modules` configuration. You may also " +
        `have only targeted modules that are marked to be saved (\`modules_to_save\`: ${
          formatTargets(config.modulesToSave ?? [])
        }).`;
    }
    if (config.layersToTransform !== null) {
      msg += ` Note: You specified 'layers_to_transform': ${formatValue(config.layersToTransform)}.`;
    }
    if (config.layersPattern !== null) {
      msg += ` You also specified 'layers_pattern': ${formatValue(config.layersPattern)}.`;
    }
    throw new NoMatchingPeftModuleError(msg + rootNote + linearHint(candidates));
  }
  return { targets, excluded, targetModules };
}

function formatTargets(t: string | readonly string[]): string {
  return typeof t === "string" ? formatValue(t) : `[${t.map((s) => formatValue(s)).join(", ")}]`;
}

/**
 * The hint appended to "nothing matched" errors: the Linear modules that could be targeted (by last
 * name component, plus one full name), or why there are none. The root module is never a candidate
 * (it cannot be adapted); a root Linear is called out explicitly. Never prints an empty list.
 */
function linearHint(candidates: readonly TargetCandidate[]): string {
  const rootIsLinear = candidates.some((c) => c.name === "" && c.isLinear);
  const linear = candidates.filter((c) => c.name !== "" && c.isLinear && !c.insideTunerLayer);
  if (linear.length === 0) {
    if (rootIsLinear) {
      return " The model itself is a Linear (the root module), and the root module cannot be adapted " +
        "(only modules inside the model can be replaced). Wrap it in a Module, e.g. `class Net extends " +
        "Module { proj = new Linear(inFeatures, outFeatures); forward(x) { return this.proj.forward(x); } }`, " +
        'and target it by name (targetModules: ["proj"]).';
    }
    return " The model has no Linear modules (C3A adapts Linear layers only).";
  }
  const short = [...new Set(linear.map((c) => c.name.slice(c.name.lastIndexOf(".") + 1)))];
  return ` Linear modules of this model, by last name component: ${short.join(", ")} (e.g. ${
    formatValue(linear[0].name)
  }); pass some of these as targetModules.` +
    (rootIsLinear ? " (The model itself is a Linear too; the root module cannot be adapted.)" : "");
}
