/**
 * `C3AModel` and `getPeftModel`: inject C3A adapters into a model and manage them (PEFT `PeftModel`
 * + `C3AModel`, spec §3–§5; the generic `BaseTuner` machinery is in src/c3a/tuner.ts): several named adapters, activation, disabling, merging,
 * unloading, trainability (bias, modules_to_save), and PEFT-format save/load (see src/c3a/save_and_load.ts).
 *
 * Names: `namedModules()`, `namedParameters()` and `stateDict()` of a C3AModel use the base model's
 * paths, with PEFT's structure inside adapted layers: `<path>.base_layer.weight`,
 * `<path>.c3a_kernel.<adapter>`, `<path>.modules_to_save.<adapter>.<sub>`. Adapter files add PEFT's
 * `base_model.model.` prefix and drop the adapter name (spec §4).
 *
 * @module
 */

import { checkOptionKeys, keysOf } from "../util/options.ts";
import { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import type { Parameter } from "../nn/parameter.ts";
import type { Generator } from "../tensor/random.ts";
import { Progress } from "../util/progress.ts";
import type { GenerateOptions } from "../models/generate.ts";
import { C3AConfig, checkBias } from "./config.ts";
import { captureWarnings, formatValue, NoMatchingPeftModuleError, ValueError, warn } from "./errors.ts";
import { C3ALinear, checkAdapterName, INIT_WEIGHTS_VALUES } from "./layer.ts";
import { checkBlockSize } from "./blockSize.ts";
import {
  allLinearExclusions,
  findTargets,
  modulesToSaveEntry,
  type ResolveTargetsOptions,
  type TargetCandidate,
} from "./matching.ts";
import { ModulesToSaveWrapper } from "./modulesToSave.ts";
import { countParameters, EditLog, markOnlyAdaptersAsTrainable } from "./tuner.ts";
import {
  type AdapterFiles,
  decodeAdapterFiles,
  type DecodedAdapterFiles,
  type FromPretrainedOptions,
  readAdapterDir,
  savePretrainedImpl,
  type SavePretrainedOptions,
  setPeftModelStateDict,
} from "./save_and_load.ts";

/** Options of {@link getPeftModel} and the {@link C3AModel} constructor. */
export interface GetPeftModelOptions {
  /** Name of the first adapter (default `"default"`, as PEFT). */
  adapterName?: string;
  /** Random source for the kernel initialisation (default the global generator, see `manualSeed`). */
  generator?: Generator;
}

/** Options of {@link C3AModel.mergeAndUnload}. */
export interface MergeAndUnloadOptions {
  /** Show a progress line while merging (PEFT `progressbar`), default false. */
  progressbar?: boolean;
  /** Refuse non-finite merged weights (PEFT `safe_merge`), default false. */
  safeMerge?: boolean;
  /** Adapters to merge, as an array (default the active adapters). A bare string is a TypeError. */
  adapterNames?: readonly string[] | null;
}

/** Options of {@link C3AModel.mergeAdapter}. */
export interface MergeAdapterOptions {
  /** Adapters to merge, as an array (default the active adapters). */
  adapterNames?: readonly string[] | null;
  /** Refuse non-finite merged weights (PEFT `safe_merge`), default false. */
  safeMerge?: boolean;
}

/** Options of {@link C3AModel.addAdapter}. */
export interface AddAdapterOptions {
  /** Random source for the kernel initialisation. */
  generator?: Generator;
}

/** Options of {@link C3AModel.setAdapter}. */
export interface SetAdapterOptions {
  /** Keep the active adapters frozen (PEFT `inference_mode`), default false. */
  inferenceMode?: boolean;
}

/**
 * Wrap `model` with a C3A adapter (PEFT `get_peft_model(model, C3AConfig(...))`): every module matched
 * by the config (spec §3.2–§3.4) must be a `Linear` and is replaced in place by a {@link C3ALinear};
 * all other parameters are frozen; the adapter's kernels (and, per config, biases and
 * `modulesToSave` copies) are trainable.
 *
 * The model is modified in place (its Linear layers are swapped for wrappers); use the returned
 * {@link C3AModel} from then on, or {@link C3AModel.unload} to get the plain model back.
 *
 * @param model the base model (any `Module`; `model.config.modelType`/`model_type` is used for the
 *   default targets when `config.targetModules` is null)
 * @param config the adapter configuration
 * @param options adapter name (default `"default"`), RNG for the initialisation
 * @returns the wrapped model
 * Every check runs before the model is touched, and a failure during the injection undoes what was
 * already done, so on any error `model` is exactly as before. Adapting a model that already carries
 * C3A layers (e.g. a second `getPeftModel` on the same base) emits PEFT's "modify a model with PEFT
 * for a second time" warning through the warning channel (see `setWarningHandler`); if those layers
 * already hold an adapter of the same name, it is an error rather than a silent overwrite of the
 * other C3AModel's kernels (use `addAdapter` on that model instead).
 *
 * @throws {NoMatchingPeftModuleError} nothing matched, or the model itself is a Linear (the root
 *   module cannot be adapted; the message shows how to wrap it)
 * @throws {BlockSizeError} a block size that does not divide a targeted layer (lists valid sizes)
 * @throws {TypeError} a targeted module that is not a Linear (PEFT: "Target module ... is not supported")
 * @throws {ValueError} unknown `initWeights`, no default targets for the model type, an adapter name
 *   that is not 1-128 characters from `A-Z a-z 0-9 _ -`, or a targeted layer that already holds an
 *   adapter of that name (the base was adapted before)
 * @throws {NotImplementedError} unknown `bias`
 * @throws {TypeError} an unknown key in `options` (e.g. `adapter_name`), named with the camelCase key meant
 *
 * @example
 * ```ts
 * import { MLP } from "../models/mlp.ts";
 * import { C3AConfig } from "./config.ts";
 * import { AdamW } from "../optim/mod.ts";
 * import { randn } from "../tensor/index.ts";
 *
 * // lin0: 10 -> 20, lin1: 20 -> 2; C3A with b = 2 trains 10·20/2 + 20·2/2 = 120 kernel values
 * const model = getPeftModel(new MLP(), new C3AConfig({ blockSize: 2, targetModules: ["lin0", "lin1"] }));
 * model.printTrainableParameters(); // trainable params: 120 || all params: 382 || trainable%: 31.4136
 * const opt = new AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 0.1, weightDecay: 1e-5 });
 * const loss = model.forward(randn([4, 10])).mean();
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export function getPeftModel<M extends Module>(
  model: M,
  config: C3AConfig,
  options: GetPeftModelOptions = {},
): C3AModel<M> {
  return new C3AModel(model, config, options);
}

function describeModule(m: unknown): string {
  return (m as { constructor?: { name?: string } })?.constructor?.name ?? typeof m;
}

/**
 * The error for a module that already holds adapter `name` although this C3AModel does not know it:
 * the base model was adapted by another C3AModel (a second getPeftModel / fromPretrained on the same
 * base). Re-creating the adapter would overwrite the other model's kernel behind its back.
 */
function adapterExistsOnModel(name: string, path: string): ValueError {
  return new ValueError(
    `Module "${path}" already has a C3A adapter named '${name}': this base model was already adapted ` +
      "(e.g. by an earlier getPeftModel or C3AModel.fromPretrained call on the same model object), and " +
      "re-creating the adapter would overwrite that adapter's kernel, silently corrupting the C3AModel " +
      "that owns it. Use addAdapter(name, config) / loadAdapter(dir, name) on the existing C3AModel, " +
      "pass another adapterName, or call unload() on the existing C3AModel first.",
  );
}

/** PEFT's warning when a model that already carries tuner layers is adapted again. */
export const SECOND_MODIFICATION_WARNING =
  "You are trying to modify a model with PEFT for a second time. If you want to reload the model with a " +
  "different config, make sure to call `.unload()` before.";

/**
 * Receives the undo function of the first injection while {@link C3AModel.fromPretrained} constructs
 * its model (set and cleared synchronously around `new C3AModel`, so no other code sees it).
 */
let undoSink: ((undo: () => void) => void) | null = null;

/**
 * A model with C3A adapters (PEFT's `PeftModel` around `C3AModel`). Create it with
 * {@link getPeftModel} or {@link C3AModel.fromPretrained}.
 *
 * It is a `Module` whose listing methods (`namedModules`, `namedParameters`, `parameters`,
 * `stateDict`, `loadStateDict`) are those of the wrapped base model, so names are the base model's
 * paths (e.g. `model.layers.0.self_attn.q_proj.c3a_kernel.default`). `forward(...)` calls the base
 * model's forward.
 */
export class C3AModel<M extends Module = Module> extends Module {
  /** The wrapped model (adapted in place; typed as the base model). */
  model: M;
  /** Config per adapter name (PEFT `peft_config`). */
  readonly peftConfig: Record<string, C3AConfig> = {};
  #active: string[];
  #unloaded = false;

  /**
   * Inject the first adapter; see {@link getPeftModel} for the behaviour and errors.
   *
   * @param model the base model
   * @param config the adapter configuration
   * @param options adapter name (default `"default"`), RNG
   */
  constructor(model: M, config: C3AConfig, options: GetPeftModelOptions = {}) {
    super();
    if (!(model instanceof Module)) {
      throw new TypeError(`getPeftModel: model must be a Module, got ${describeModule(model)}`);
    }
    if (!(config instanceof C3AConfig)) {
      throw new TypeError(`getPeftModel: config must be a C3AConfig, got ${describeModule(config)}`);
    }
    if (model instanceof C3AModel) {
      throw new TypeError(
        "getPeftModel: the model is already a C3AModel; use addAdapter() for another adapter",
      );
    }
    if (model instanceof Linear || model instanceof C3ALinear) {
      throw new NoMatchingPeftModuleError(
        `getPeftModel: the model itself is a ${model.constructor.name} (${model.inFeatures} -> ` +
          `${model.outFeatures}); C3A adapts Linear layers inside a model, never the root module (as in ` +
          "PEFT). Wrap it in a Module and target it by name, e.g. `class Net extends Module { proj = new " +
          `Linear(${model.inFeatures}, ${model.outFeatures}); forward(x) { return this.proj.forward(x); } }` +
          '` with targetModules: ["proj"].',
      );
    }
    checkOptionKeys(
      "getPeftModel",
      options,
      keysOf<GetPeftModelOptions>({ adapterName: true, generator: true }),
    );
    const name = options.adapterName ?? "default";
    checkAdapterName(name);
    if (
      model.namedModules().some(([, m]) => m instanceof C3ALinear || m instanceof ModulesToSaveWrapper)
    ) warn(SECOND_MODIFICATION_WARNING);
    this.model = model;
    this.#active = [name];
    const undo = this.#addAdapter(name, config, options.generator);
    undoSink?.(undo);
  }

  // ------------------------------------------------------------------ delegation to the base model

  /** Calls the base model's `forward` with the same arguments. */
  override forward(...args: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    this.#checkUsable();
    return this.model.forward(...args);
  }

  /**
   * Generates with the base model's `generate` (a causal LM such as `LlamaForCausalLM`) while the
   * active adapters stay in the layers (unmerged adapters are applied to every step); see
   * `generate` in src/models/generate.ts for the options and the result.
   *
   * @throws {TypeError} when the base model has no `generate` method.
   */
  generate(inputIds: readonly number[], options?: GenerateOptions): Promise<number[]>;
  /** Batch form (rows of equal length, left-padded with `attentionMask`). */
  generate(inputIds: readonly (readonly number[])[], options?: GenerateOptions): Promise<number[][]>;
  generate(
    inputIds: readonly number[] | readonly (readonly number[])[],
    options: GenerateOptions = {},
  ): Promise<number[] | number[][]> {
    this.#checkUsable();
    const g = (this.model as unknown as { generate?: unknown }).generate;
    if (typeof g !== "function") {
      throw new TypeError(
        `generate: the base model (${
          describeModule(this.model)
        }) has no generate(); use a causal LM such as LlamaForCausalLM`,
      );
    }
    return g.call(this.model, inputIds, options);
  }

  /** The base model's modules (wrappers in place), names relative to the base model. */
  override namedModules(prefix = ""): Array<[string, Module]> {
    return this.model.namedModules(prefix);
  }

  /** The base model's parameters, e.g. `lin0.c3a_kernel.default`, `lin0.base_layer.weight`. */
  override namedParameters(prefix = "", recurse = true): Array<[string, Parameter]> {
    return this.model.namedParameters(prefix, recurse);
  }

  /** All parameters of the base model (frozen ones included; filter on `requiresGrad` for an optimizer). */
  override parameters(recurse = true): Parameter[] {
    return this.model.parameters(recurse);
  }

  /** The base model's state dict (adapter kernels included). */
  override stateDict(prefix = ""): ReturnType<Module["stateDict"]> {
    return this.model.stateDict(prefix);
  }

  /** Loads into the base model (keys as {@link C3AModel.stateDict}). */
  override loadStateDict(...args: Parameters<Module["loadStateDict"]>): ReturnType<Module["loadStateDict"]> {
    return this.model.loadStateDict(...args);
  }

  /** Whether the base model is in training mode. */
  override get training(): boolean {
    return this.model.training;
  }

  /** Sets training mode on the base model; returns this. */
  override train(mode = true): this {
    this.model.train(mode);
    return this;
  }

  // ------------------------------------------------------------------ adapters

  /** The active adapter names (PEFT `active_adapters`). */
  get activeAdapters(): string[] {
    return [...this.#active];
  }

  /** The first active adapter name (PEFT `active_adapter`), or null. */
  get activeAdapter(): string | null {
    return this.#active[0] ?? null;
  }

  /** Every C3A layer of the model as `[path, layer]`. */
  c3aLayers(): Array<[string, C3ALinear]> {
    return this.model.namedModules().filter((e): e is [string, C3ALinear] => e[1] instanceof C3ALinear);
  }

  /** Every modules_to_save wrapper as `[path, wrapper]`. */
  modulesToSaveWrappers(): Array<[string, ModulesToSaveWrapper]> {
    return this.model.namedModules().filter((e): e is [string, ModulesToSaveWrapper] =>
      e[1] instanceof ModulesToSaveWrapper
    );
  }

  #checkUsable(): void {
    if (this.#unloaded) {
      throw new Error(
        "this C3AModel was unloaded (mergeAndUnload/unload returned the base model); use the returned model",
      );
    }
  }

  #modelType(): string | null {
    const m = this.model as unknown as {
      config?: { modelType?: unknown; model_type?: unknown };
      modelType?: unknown;
    };
    const t = m.config?.modelType ?? m.config?.model_type ?? m.modelType ?? null;
    return typeof t === "string" ? t : null;
  }

  /**
   * Add adapter `adapterName` with `config` (PEFT `add_adapter`): matching layers get a new kernel
   * (already wrapped layers an extra one, possibly with another block size); the new adapter is
   * neither activated nor trainable until {@link C3AModel.setAdapter}. On failure the model is left
   * as it was.
   *
   * @throws {ValueError} `Adapter with name '{name}' already exists.`, an invalid name, two adapters
   *   with a bias setting other than "none", and every error of {@link getPeftModel}
   */
  addAdapter(adapterName: string, config: C3AConfig, options: AddAdapterOptions = {}): void {
    this.#checkUsable();
    if (!(config instanceof C3AConfig)) {
      throw new TypeError(`addAdapter: config must be a C3AConfig, got ${describeModule(config)}`);
    }
    checkOptionKeys("addAdapter", options, keysOf<AddAdapterOptions>({ generator: true }));
    this.#addAdapter(adapterName, config, options.generator);
  }

  /**
   * Validate, then inject adapter `name` (the work of the constructor, addAdapter, fromPretrained and
   * loadAdapter). Everything that can be checked is checked before the model is touched; if the
   * injection itself fails, it is undone before the error propagates.
   *
   * @returns a function that undoes this injection exactly (wrapped layers unwrapped, added kernels
   *   and modules_to_save copies removed, active sets, `requiresGrad` flags, the config's
   *   `modulesToSave` and `peftConfig` restored); valid until the model is changed otherwise
   */
  #addAdapter(name: string, config: C3AConfig, generator?: Generator): () => void {
    checkAdapterName(name);
    if (Object.hasOwn(this.peftConfig, name)) {
      throw new ValueError(`Adapter with name '${name}' already exists.`);
    }
    if ("c3a_".includes(name)) warn(`Adapter name ${name} should not be contained in the prefix c3a_.`);
    checkBias(config.bias);
    if (config.bias !== "none" && Object.values(this.peftConfig).some((c) => c.bias !== "none")) {
      throw new ValueError(
        "C3AModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all " +
          "adapters.",
      );
    }
    if (!INIT_WEIGHTS_VALUES.includes(config.initWeights as never)) {
      throw new ValueError(
        `Unknown init_weights: ${formatValue(config.initWeights)}. Use true (zeros), false or ` +
          `"xavier_uniform", "kaiming_uniform" or "gaussian".`,
      );
    }
    // PEFT's PeftModelForSequenceClassification adds the usual head names to modules_to_save (in the
    // user's config, as PEFT does; restored if the injection fails).
    const savedModulesToSave = config.modulesToSave;
    if (config.taskType === "SEQ_CLS") {
      const mts = [...(config.modulesToSave ?? [])];
      for (const head of ["classifier", "score"]) if (!mts.includes(head)) mts.push(head);
      config.modulesToSave = mts;
    }
    try {
      return this.#inject(name, config, generator, savedModulesToSave);
    } catch (e) {
      config.modulesToSave = savedModulesToSave;
      throw e;
    }
  }

  #inject(
    name: string,
    config: C3AConfig,
    generator: Generator | undefined,
    savedModulesToSave: string[] | null,
  ): () => void {
    // ---- plan (no mutation until everything is validated)
    const modules = this.model.namedModules();
    const tunerPrefixes = modules
      .filter(([n, m]) => n !== "" && (m instanceof C3ALinear || m instanceof ModulesToSaveWrapper))
      .map(([n]) => n + ".");
    const inside = (n: string) => tunerPrefixes.some((p) => n.startsWith(p));
    const candidates: TargetCandidate[] = modules.map(([n, m]) => ({
      name: n,
      isLinear: m instanceof Linear || m instanceof C3ALinear,
      insideTunerLayer: inside(n),
    }));
    const resolveOpts: ResolveTargetsOptions = {
      modelType: this.#modelType(),
      excludeFromAllLinear: allLinearExclusions(modules.map(([n]) => n), config.taskType),
    };
    const { targets, targetModules } = findTargets(config, candidates, resolveOpts);
    const byName = new Map(modules);
    for (const t of targets) {
      const m = byName.get(t.name);
      if (m instanceof ModulesToSaveWrapper) {
        throw new ValueError(
          `Module "${t.name}" is both a C3A target and in modules_to_save of another adapter; choose one.`,
        );
      }
      if (!(m instanceof Linear) && !(m instanceof C3ALinear)) {
        throw new TypeError(
          `Target module "${t.name}" (${describeModule(m)}) is not supported. Currently, only ` +
            "`torch.nn.Linear` (Linear) is supported. Narrow targetModules to Linear layers" +
            (typeof config.targetModules === "string"
              ? " (the regex must match the whole module name)."
              : "."),
        );
      }
      checkBlockSize(t.blockSize, m.inFeatures, m.outFeatures, t.name);
      if (m instanceof C3ALinear && m.c3a_kernel.has(name)) throw adapterExistsOnModel(name, t.name);
    }
    const mtsTargets: string[] = [];
    if (config.modulesToSave) {
      for (const [n, m] of modules) {
        if (n === "" || inside(n) || m instanceof C3ALinear) continue;
        if (mtsTargets.some((t) => n.startsWith(t + "."))) continue; // inside a module already selected
        if (modulesToSaveEntry(n, config.modulesToSave) !== null) mtsTargets.push(n);
      }
    }
    for (const n of mtsTargets) {
      const m = byName.get(n);
      if (m instanceof ModulesToSaveWrapper && m.modules_to_save.has(name)) {
        throw adapterExistsOnModel(name, n);
      }
    }

    // ---- mutate, logging how to undo each step
    const log = new EditLog(this.model, () => {
      delete this.peftConfig[name];
      config.modulesToSave = savedModulesToSave;
    });
    const undo = () => log.undo();
    // PEFT stores the resolved targets in the config (so they are saved): the model-type default for
    // null, the list of Linear module names for "all-linear".
    const expanded = config.targetModules === null ||
      (typeof config.targetModules === "string" && config.targetModules.toLowerCase() === "all-linear");
    const resolvedConfig = expanded ? config.with({ targetModules }) : config;
    this.peftConfig[name] = resolvedConfig;
    try {
      const isActive = this.#active.includes(name);
      for (const t of targets) {
        const m = this.model.getSubmodule(t.name);
        const opts = { inferenceMode: config.inferenceMode, generator, layerName: t.name };
        if (m instanceof C3ALinear) {
          const active = m.activeAdapters;
          m.updateLayer(name, t.blockSize, config.initWeights, opts);
          log.push(() => {
            captureWarnings(() => m.deleteAdapter(name));
            m.setAdapter(active);
          });
        } else {
          const layer = new C3ALinear(m as Linear, name, t.blockSize, config.initWeights, opts);
          // A new layer follows the model's active adapters (PEFT leaves the new adapter active on
          // freshly wrapped layers, which makes such layers run an adapter the model did not activate).
          layer.setAdapter(this.#active, config.inferenceMode);
          layer.train(m.training);
          this.model.setSubmodule(t.name, layer);
          log.push(() => this.model.setSubmodule(t.name, m));
        }
      }
      for (const n of mtsTargets) {
        const m = this.model.getSubmodule(n);
        if (m instanceof ModulesToSaveWrapper) {
          const active = m.activeAdapter;
          m.update(name);
          log.push(() => {
            m.deleteAdapter(name);
            m.setAdapter(active === null ? [] : [active]);
          });
          if (isActive) m.setAdapter([name], config.inferenceMode);
        } else {
          const w = new ModulesToSaveWrapper(m, name);
          w.setAdapter(isActive ? [name] : this.#active.slice(0, 1), config.inferenceMode);
          this.model.setSubmodule(n, w);
          log.push(() => this.model.setSubmodule(n, m));
        }
      }
      this.#markTrainable();
    } catch (e) {
      undo();
      throw e;
    }
    return undo;
  }

  /**
   * Trainability as PEFT sets it (`_mark_only_adapters_as_trainable` + `set_adapter`): every parameter
   * frozen except active kernels (unless that adapter's config is in inference mode), the active
   * adapter's modules_to_save copy, and biases per the active adapters' `bias` ("all": every bias
   * outside modules_to_save wrappers; "c3a_only": biases of C3A-wrapped layers).
   */
  #markTrainable(): void {
    const layers = this.c3aLayers();
    const wrappers = this.modulesToSaveWrappers();
    const adapterParams = new Set<Parameter>();
    for (const [, l] of layers) for (const k of l.c3a_kernel.keys()) adapterParams.add(l.c3a_kernel.get(k)!);
    for (const [, w] of wrappers) {
      for (const [, c] of w.modules_to_save.entries()) for (const p of c.parameters()) adapterParams.add(p);
    }
    markOnlyAdaptersAsTrainable(this.model, adapterParams);
    for (const active of this.#active) {
      const bias = this.peftConfig[active]?.bias ?? "none";
      if (bias === "none") continue;
      if (bias === "all") {
        const wrapperPrefixes = wrappers.map(([w]) => w + ".");
        for (const [n, p] of this.model.namedParameters()) {
          if (!(n === "bias" || n.endsWith(".bias")) || wrapperPrefixes.some((w) => n.startsWith(w))) {
            continue;
          }
          p.requiresGrad = true;
        }
      } else {
        for (const [, l] of layers) if (l.base_layer.bias) l.base_layer.bias.requiresGrad = true;
      }
    }
  }

  /**
   * Activate one adapter or several (PEFT `set_adapter`; a list as `base_model.set_adapter`): their
   * kernels become trainable (unless `inferenceMode`), the others are frozen. Merged layers are
   * unmerged first, with PEFT's warning. Several active adapters are summed in forward.
   *
   * @throws {ValueError} `Adapter {name} not found.`; several names when the model has
   *   modules_to_save (one copy can be active at a time)
   */
  setAdapter(names: string | readonly string[], options: SetAdapterOptions = {}): void {
    checkOptionKeys("setAdapter", options, keysOf<SetAdapterOptions>({ inferenceMode: true }));
    this.#checkUsable();
    const list = typeof names === "string" ? [names] : [...names];
    for (const n of list) {
      if (!Object.hasOwn(this.peftConfig, n)) {
        throw new ValueError(
          `Adapter ${n} not found. Available adapters: ${Object.keys(this.peftConfig).join(", ")}.`,
        );
      }
    }
    const wrappers = this.modulesToSaveWrappers();
    if (wrappers.length > 0 && list.length > 1) {
      throw new ValueError(
        `Attempted to set multiple (${
          list.join(", ")
        }) adapters at once for modules_to_save, which is not allowed.`,
      );
    }
    let warned = false;
    for (const [, l] of this.c3aLayers()) {
      if (l.merged) {
        if (!warned) warn("Adapter cannot be set when the model is merged. Unmerging the model first.");
        warned = true;
        l.unmerge();
      }
      l.setAdapter(list, options.inferenceMode ?? false);
    }
    for (const [, w] of wrappers) w.setAdapter(list, options.inferenceMode ?? false);
    this.#active = list;
    this.#markTrainable();
  }

  /**
   * Run `fn` with every adapter disabled (PEFT's `with model.disable_adapter():`): C3A layers return
   * the base output (merged layers are unmerged first, as PEFT does), modules_to_save use the
   * originals, and no kernel is trainable. Afterwards adapters are re-enabled and every kernel's
   * `requiresGrad` is restored to what it was — also when `fn` throws. An async `fn` is awaited
   * before restoring (the returned promise settles after the restore).
   *
   * @param fn the code to run
   * @returns what `fn` returns
   */
  disableAdapter<T>(fn: () => T): T {
    this.#checkUsable();
    for (const a of this.#active) {
      const bias = this.peftConfig[a]?.bias ?? "none";
      if (bias !== "none") {
        warn(
          `Careful, disabling adapter layers with bias configured to be '${bias}' does not produce the same ` +
            "output as the base model would without adaption.",
        );
      }
    }
    const layers = this.c3aLayers();
    const wrappers = this.modulesToSaveWrappers();
    const saved: Array<[Parameter, boolean]> = [];
    for (const [, l] of layers) {
      for (const k of l.c3a_kernel.keys()) {
        const p = l.c3a_kernel.get(k)!;
        saved.push([p, p.requiresGrad]);
      }
    }
    for (const [, l] of layers) l.enableAdapters(false);
    for (const [, w] of wrappers) w.enableAdapters(false);
    const restore = () => {
      for (const [, l] of layers) l.enableAdapters(true);
      for (const [, w] of wrappers) w.enableAdapters(true);
      for (const [p, rg] of saved) p.requiresGrad = rg;
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      restore();
      throw e;
    }
    if (result !== null && typeof (result as { then?: unknown })?.then === "function") {
      return (result as unknown as Promise<unknown>).finally(restore) as unknown as T;
    }
    restore();
    return result;
  }

  /**
   * Delete adapter `adapterName` (PEFT `delete_adapter`): kernels, block sizes, modules_to_save copies
   * and config. If it was active, the other active adapters stay active; if none remain, the first
   * remaining adapter (sorted) is activated with a warning.
   *
   * @throws {ValueError} unknown adapter, or an adapter that is merged in some layer
   *   (`Cannot delete adapter(s) [...] while they are merged. Please unmerge them first.`)
   */
  deleteAdapter(adapterName: string): void {
    this.#checkUsable();
    if (!Object.hasOwn(this.peftConfig, adapterName)) {
      throw new ValueError(
        `Adapter ${adapterName} does not exist. Available adapters: ${
          Object.keys(this.peftConfig).join(", ")
        }.`,
      );
    }
    const layers = this.c3aLayers();
    if (layers.some(([, l]) => l.mergedAdapters.includes(adapterName))) {
      throw new ValueError(
        `Cannot delete adapter(s) ['${adapterName}'] while they are merged. Please unmerge them first.`,
      );
    }
    delete this.peftConfig[adapterName];
    // the layers' own "was active" warnings are replaced by one model-level warning below
    captureWarnings(() => {
      for (const [, l] of layers) l.deleteAdapter(adapterName);
    });
    for (const [, w] of this.modulesToSaveWrappers()) w.deleteAdapter(adapterName);
    let next = this.#active.filter((a) => a !== adapterName);
    if (next.length === 0 && this.#active.includes(adapterName)) {
      const remaining = Object.keys(this.peftConfig).sort();
      if (remaining.length > 0) {
        next = [remaining[0]];
        warn(
          `Adapter ${adapterName} was active which is now deleted. Setting active adapter to ${
            remaining[0]
          }.`,
        );
      }
    }
    this.#active = next;
    for (const [, l] of this.c3aLayers()) l.setAdapter(next);
    for (const [, w] of this.modulesToSaveWrappers()) w.setAdapter(next.slice(0, 1));
    this.#markTrainable();
  }

  /**
   * Merge adapters into the base weights in place, keeping the wrappers (PEFT `merge_adapter`);
   * forward then runs the base layers only. Undo with {@link C3AModel.unmergeAdapter}.
   *
   * @throws {ValueError} with `safeMerge`, a non-finite merged weight (names the adapter; that layer's
   *   weight is left untouched)
   * @throws {TypeError} `adapterNames` as a bare string
   */
  mergeAdapter(options: MergeAdapterOptions = {}): void {
    this.#checkUsable();
    checkOptionKeys(
      "mergeAdapter",
      options,
      keysOf<MergeAdapterOptions>({ adapterNames: true, safeMerge: true }),
    );
    const names = checkAdapterNamesList(options.adapterNames ?? null);
    for (const [, l] of this.c3aLayers()) l.merge({ safeMerge: options.safeMerge, adapterNames: names });
  }

  /** Subtract merged adapters again in every layer (PEFT `unmerge_adapter`). */
  unmergeAdapter(): void {
    this.#checkUsable();
    for (const [, l] of this.c3aLayers()) if (l.merged) l.unmerge();
  }

  /**
   * Merge the adapters into the base weights and return the plain base model (PEFT
   * `merge_and_unload`): each C3A layer becomes its (merged) `Linear` again, each modules_to_save
   * wrapper its active copy. The base model is modified in place and returned; this C3AModel must not
   * be used afterwards.
   *
   * @returns the base model
   * @throws {TypeError} `adapterNames` as a bare string (PEFT raises too)
   * @throws {ValueError} with `safeMerge`, a non-finite merged weight
   */
  mergeAndUnload(options: MergeAndUnloadOptions = {}): M {
    this.#checkUsable();
    checkOptionKeys(
      "mergeAndUnload",
      options,
      keysOf<MergeAndUnloadOptions>({ progressbar: true, safeMerge: true, adapterNames: true }),
    );
    const names = checkAdapterNamesList(options.adapterNames ?? null);
    return this.#unloadAndOptionallyMerge(
      true,
      options.progressbar ?? false,
      options.safeMerge ?? false,
      names,
    );
  }

  /**
   * Return the plain base model without merging (PEFT `unload`): wrappers are replaced by their base
   * `Linear` (original module for modules_to_save). Deltas merged earlier with
   * {@link C3AModel.mergeAdapter} stay in the weights (as in PEFT). This C3AModel must not be used
   * afterwards.
   */
  unload(): M {
    this.#checkUsable();
    return this.#unloadAndOptionallyMerge(false, false, false, null);
  }

  #unloadAndOptionallyMerge(
    merge: boolean,
    progressbar: boolean,
    safeMerge: boolean,
    adapterNames: string[] | null,
  ): M {
    const layers = this.c3aLayers();
    const wrappers = this.modulesToSaveWrappers();
    const bar = progressbar
      ? new Progress({
        total: layers.length + wrappers.length,
        label: `Unloading ${merge ? "and merging " : ""}model`,
      })
      : null;
    if (merge) {
      // merge every layer first so a safe-merge failure leaves the model structure intact
      for (const [, l] of layers) {
        l.merge({ safeMerge, adapterNames });
        bar?.tick(1);
      }
    }
    for (const [path, l] of layers) {
      this.#replace(path, l.base_layer);
      if (!merge) bar?.tick(1);
    }
    for (const [path, w] of wrappers) {
      this.#replace(path, merge ? w.activeModule : w.original_module);
      bar?.tick(1);
    }
    bar?.finish();
    for (const k of Object.keys(this.peftConfig)) delete this.peftConfig[k];
    this.#unloaded = true;
    return this.model;
  }

  #replace(path: string, m: Module): void {
    if (path === "") this.model = m as M; // the root was a target: its base layer is the model again
    else this.model.setSubmodule(path, m);
  }

  // ------------------------------------------------------------------ counting

  /**
   * `[trainable, all]` parameter element counts of the model (PEFT `get_nb_trainable_parameters`);
   * tied parameters count once.
   */
  getNbTrainableParameters(): [number, number] {
    return countParameters(this.model);
  }

  /**
   * Print (and return) PEFT's line: `trainable params: 1,234 || all params: 5,678 || trainable%: 21.7309`.
   */
  printTrainableParameters(): string {
    const [trainable, all] = this.getNbTrainableParameters();
    const fmt = (n: number) => n.toLocaleString("en-US");
    const pct = all === 0 ? 0 : (100 * trainable) / all;
    const line = `trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${
      pct.toFixed(4)
    }`;
    console.log(line);
    return line;
  }

  // ------------------------------------------------------------------ files

  /**
   * Write the adapters in PEFT's format (see src/c3a/save_and_load.ts): `adapter_config.json` (sorted keys,
   * `inference_mode: true`) and `adapter_model.safetensors` (F32 `base_model.model.<path>.c3a_kernel`
   * tensors, metadata `{"format": "pt"}`), the adapter `"default"` at the root of `dir` and any other
   * adapter in `dir/<name>/`. Files are written atomically (temporary file + rename).
   *
   * @param dir target directory (created if missing)
   * @param options `selectedAdapters` (default: all)
   * @throws {ValueError} an unknown adapter in `selectedAdapters`, or an adapter name that is not a
   *   plain folder name (`A-Z a-z 0-9 _ -` only); nothing is written then
   *
   * @example
   * ```ts
   * import { MLP } from "../models/mlp.ts";
   * import { C3AConfig } from "./config.ts";
   *
   * const model = getPeftModel(new MLP(), new C3AConfig({ blockSize: 2, targetModules: ["lin0"] }));
   * const dir = await Deno.makeTempDir();
   * await model.savePretrained(dir);
   * // dir/adapter_config.json, dir/adapter_model.safetensors
   * ```
   */
  async savePretrained(dir: string | URL, options: SavePretrainedOptions = {}): Promise<void> {
    this.#checkUsable();
    await savePretrainedImpl(this, dir, options);
  }

  /**
   * Load an adapter saved by PEFT or {@link C3AModel.savePretrained} onto `model` (PEFT
   * `PeftModel.from_pretrained`): read `adapter_config.json`, inject the adapter, copy the kernels
   * (and biases / modules_to_save tensors) from `adapter_model.safetensors`. With `isTrainable` false
   * (default) the kernels are frozen and the model is put in eval mode.
   *
   * @param model the base model (modified in place)
   * @param dir the adapter directory (for a non-default adapter saved by savePretrained, its sub-folder)
   * @param options `adapterName` (default `"default"`), `isTrainable` (default false)
   * Transactional: both files are read and decoded and the config validated before `model` is
   * touched; if anything fails after the adapter was injected (e.g. kernels whose block size does not
   * match the config), the injection is undone, so on any error `model` is exactly as before and can
   * be passed to `fromPretrained` again.
   *
   * @returns the wrapped model
   * @throws {Error} a missing file (names the path)
   * @throws {SafetensorsError} a truncated or corrupt `adapter_model.safetensors`
   * @throws {ValueError} a non-C3A `peft_type`, an invalid adapter name (checked before any file is
   *   read), and every error of {@link getPeftModel}
   * @throws {RangeError} a tensor whose shape does not fit (names the key and both shapes)
   *
   * @example
   * ```ts
   * import { MLP } from "../models/mlp.ts";
   * import { C3AConfig } from "./config.ts";
   * import { randn } from "../tensor/index.ts";
   *
   * const dir = await Deno.makeTempDir();
   * await getPeftModel(new MLP(), new C3AConfig({ blockSize: 2, targetModules: ["lin0"] })).savePretrained(dir);
   * // Later: the same base model (e.g. `base.loadStateDict((await loadSafetensors(path)).tensors)`), then
   * const model = await C3AModel.fromPretrained(new MLP(), dir);
   * const y = model.forward(randn([3, 10])); // [3, 2]
   * ```
   */
  static async fromPretrained<M extends Module>(
    model: M,
    dir: string | URL,
    options: FromPretrainedOptions = {},
  ): Promise<C3AModel<M>> {
    checkAdapterName(options.adapterName ?? "default");
    // read and decode both files before touching the model
    return C3AModel.#fromDecoded(model, await readAdapterDir(dir), options);
  }

  /**
   * {@link C3AModel.fromPretrained} from the two files' contents instead of a directory: no file
   * system, so it works in browsers with the `File`s of a file input (or `Blob`s, `Uint8Array`s,
   * the config as a string), and with what {@link adapterToFiles} returns. Same validation, same
   * errors and the same rollback: on any error `model` is exactly as before.
   *
   * @param model the base model (modified in place)
   * @param files `{ "adapter_config.json": text | bytes | Blob, "adapter_model.safetensors": bytes | Blob }`
   * @param options `adapterName` (default `"default"`), `isTrainable` (default false)
   * @returns the wrapped model
   * @throws {TypeError} a file missing from `files`
   * @throws see {@link C3AModel.fromPretrained}
   *
   * @example
   * ```ts
   * import { MLP } from "../models/mlp.ts";
   * import { C3AConfig } from "./config.ts";
   * import { adapterToFiles } from "./save_and_load.ts";
   *
   * const files = adapterToFiles(getPeftModel(new MLP(), new C3AConfig({ blockSize: 2, targetModules: ["lin0"] })));
   * const model = await C3AModel.fromFiles(new MLP(), files); // in a browser: the picked File objects
   * model.peftConfig.default.blockSize; // 2
   * ```
   */
  static async fromFiles<M extends Module>(
    model: M,
    files: AdapterFiles<string | Uint8Array | ArrayBuffer | Blob, Uint8Array | ArrayBuffer | Blob>,
    options: FromPretrainedOptions = {},
  ): Promise<C3AModel<M>> {
    checkAdapterName(options.adapterName ?? "default");
    return C3AModel.#fromDecoded(model, await decodeAdapterFiles(files), options);
  }

  /** Inject the decoded adapter, copy its tensors, undo the injection if copying fails. */
  static #fromDecoded<M extends Module>(
    model: M,
    decoded: DecodedAdapterFiles,
    options: FromPretrainedOptions,
  ): C3AModel<M> {
    const isTrainable = options.isTrainable ?? false;
    const adapterName = options.adapterName ?? "default";
    const config = decoded.config.with({ inferenceMode: !isTrainable });
    let undo: (() => void) | null = null;
    undoSink = (u) => (undo = u);
    let peft: C3AModel<M>;
    try {
      peft = new C3AModel(model, config, { adapterName });
    } finally {
      undoSink = null;
    }
    try {
      setPeftModelStateDict(peft, decoded.tensors, adapterName);
    } catch (e) {
      (undo as (() => void) | null)?.();
      throw e;
    }
    if (!isTrainable) peft.eval();
    return peft;
  }

  /**
   * Load another adapter from `dir` under `adapterName` (PEFT `load_adapter`). It is added but not
   * activated (call {@link C3AModel.setAdapter}); frozen unless `isTrainable`. Both files are read
   * and decoded before the model is touched; if loading fails after the adapter was injected, the
   * injection is undone, so a failed load leaves the model exactly as it was.
   *
   * @throws see {@link C3AModel.fromPretrained}; also `Adapter with name '...' already exists.` and an
   *   invalid adapter name (checked before any file is read)
   */
  async loadAdapter(
    dir: string,
    adapterName: string,
    options: { isTrainable?: boolean } = {},
  ): Promise<void> {
    this.#checkCanLoad(adapterName);
    this.#loadDecoded(await readAdapterDir(dir), adapterName, options);
  }

  /**
   * {@link C3AModel.loadAdapter} from the two files' contents (see {@link C3AModel.fromFiles}): no file
   * system; same validation, errors and rollback.
   *
   * @param files `{ "adapter_config.json": text | bytes | Blob, "adapter_model.safetensors": bytes | Blob }`
   * @param adapterName name to load the adapter under (must be new)
   * @param options `isTrainable` (default false)
   * @throws see {@link C3AModel.loadAdapter}; a {@link TypeError} for a file missing from `files`
   */
  async loadAdapterFromFiles(
    files: AdapterFiles<string | Uint8Array | ArrayBuffer | Blob, Uint8Array | ArrayBuffer | Blob>,
    adapterName: string,
    options: { isTrainable?: boolean } = {},
  ): Promise<void> {
    this.#checkCanLoad(adapterName);
    this.#loadDecoded(await decodeAdapterFiles(files), adapterName, options);
  }

  #checkCanLoad(adapterName: string): void {
    this.#checkUsable();
    checkAdapterName(adapterName);
    if (Object.hasOwn(this.peftConfig, adapterName)) {
      throw new ValueError(`Adapter with name '${adapterName}' already exists.`);
    }
  }

  #loadDecoded(decoded: DecodedAdapterFiles, adapterName: string, options: { isTrainable?: boolean }): void {
    this.#checkUsable(); // the model may have been unloaded while the files were read
    if (Object.hasOwn(this.peftConfig, adapterName)) {
      throw new ValueError(`Adapter with name '${adapterName}' already exists.`);
    }
    const isTrainable = options.isTrainable ?? false;
    const config = decoded.config.with({ inferenceMode: !isTrainable });
    const undo = this.#addAdapter(adapterName, config);
    try {
      setPeftModelStateDict(this, decoded.tensors, adapterName);
    } catch (e) {
      undo();
      throw e;
    }
    if (!isTrainable) this.eval();
  }
}

function checkAdapterNamesList(names: readonly string[] | null): string[] | null {
  if (names === null) return null;
  if (typeof names === "string") {
    throw new TypeError(
      `adapterNames should be a list of strings, got ${formatValue(names)}; use [${formatValue(names)}].`,
    );
  }
  return [...names];
}
