/**
 * `C3ALinear`: a `Linear` layer with one or more C3A adapters (PEFT `C3ALayer` + `C3ALinear`,
 * spec §1.2, §1.5, §2, §3.1).
 *
 * Forward: `y = base(x) + (1/in) · Σ_{a active} BCC(x, kernel_a)` where BCC is the block circular
 * convolution (cross-correlation, spec §1.3) and `in` the input width. Two deliberate differences from
 * PEFT (spec §1.4, §5.6-1): gradients through the adapter branch are the true gradients, and several
 * active adapters are summed, each seeing the layer's input (PEFT chains them), so the unmerged forward
 * equals the merged one.
 *
 * @module
 */

import { Module } from "../nn/module.ts";
import { Parameter } from "../nn/parameter.ts";
import { Linear } from "../nn/linear.ts";
import { ModuleDict, ParameterDict } from "../nn/container.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { zeros } from "../tensor/creation.ts";
import { type Generator, normal_, uniform_ } from "../tensor/random.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { addBlockCircularConvolution, circulantLinear, getCirculant } from "../ops/circulant.ts";
import { formatValue, ValueError, warn } from "./errors.ts";
import { checkBlockSize } from "./blockSize.ts";
import type { C3AInitWeights } from "./config.ts";

/** Kernel-initialisation values PEFT accepts (spec §2). */
export const INIT_WEIGHTS_VALUES: readonly (C3AInitWeights)[] = [
  true,
  false,
  "xavier_uniform",
  "kaiming_uniform",
  "gaussian",
];

/**
 * Rows (tokens) from which {@link C3ALinear.forward} folds the adapter into the base product
 * (`circulantLinear`: `x·(W + ΔW)ᵀ` with `W + ΔW` formed while the weight is packed, on executors with
 * the fused `circulantMatmul` kernel) instead of adding FFT convolutions of every row: at this many
 * rows the `O(out·in)` cost of the fold is already below the FFT path's `O(rows·(in + out)·log b)`.
 */
export const MERGED_MIN_ROWS = 64;

/** Longest adapter name accepted by {@link checkAdapterName}. */
export const MAX_ADAPTER_NAME_LENGTH = 128;

const ADAPTER_NAME_RE = /^[A-Za-z0-9_-]+$/;

/**
 * Check an adapter name: 1 to {@link MAX_ADAPTER_NAME_LENGTH} characters from `A-Z a-z 0-9 _ -`,
 * and not the name of a method or property of the module containers (e.g. `"forward"`, `"train"`,
 * `"get"`). Reasons: adapters are stored as properties and appear in state-dict keys, so no `"."`
 * (PEFT's names must be valid `nn.ModuleDict` keys for the same reason); and `savePretrained` writes
 * every adapter but `"default"` to the folder `<dir>/<name>`, so a name must be a single plain folder
 * name: no `/`, `\`, `..`, `:`, spaces or other characters that could leave `<dir>` or differ
 * between file systems.
 *
 * @param name the adapter name
 * @throws {ValueError} naming the adapter, the rule it breaks and the characters allowed
 */
export function checkAdapterName(name: string): void {
  const allowed =
    `Adapter names are 1-${MAX_ADAPTER_NAME_LENGTH} characters from A-Z, a-z, 0-9, "_" and "-" ` +
    "(they become state-dict keys and folder names in savePretrained).";
  if (typeof name !== "string") {
    throw new ValueError(`invalid adapter name ${formatValue(name)}: it must be a string. ${allowed}`);
  }
  if (name === "") throw new ValueError(`invalid adapter name "": it is empty. ${allowed}`);
  if (name.length > MAX_ADAPTER_NAME_LENGTH) {
    throw new ValueError(
      `invalid adapter name ${formatValue(name, 60)}: it has ${name.length} characters. ${allowed}`,
    );
  }
  if (!ADAPTER_NAME_RE.test(name)) {
    const bad = [...new Set([...name].filter((c) => !ADAPTER_NAME_RE.test(c)))];
    throw new ValueError(
      `invalid adapter name ${formatValue(name)}: it contains ${
        bad.map((c) => formatValue(c)).join(", ")
      }. ${allowed}`,
    );
  }
  if (name in ParameterDict.prototype || name in ModuleDict.prototype) {
    throw new ValueError(
      `invalid adapter name ${formatValue(name)}: it is reserved (a method or property of Module); choose ` +
        `another name, e.g. "${name}_adapter"`,
    );
  }
}

/** Options of {@link C3ALinear.updateLayer}. */
export interface UpdateLayerOptions {
  /** Freeze the new kernel (PEFT `inference_mode`), default false. */
  inferenceMode?: boolean;
  /** Random source for the kernel initialisation (default the global generator, see `manualSeed`). */
  generator?: Generator;
  /** Module name, used in error messages only. */
  layerName?: string;
}

/** Options of {@link C3ALinear.merge}. */
export interface MergeOptions {
  /** Compute on a copy and refuse non-finite results, leaving the weight untouched (PEFT `safe_merge`). */
  safeMerge?: boolean;
  /** Adapters to merge (an array; default the active adapters). */
  adapterNames?: readonly string[] | null;
}

/**
 * A `Linear` layer wrapped with C3A adapters (PEFT `C3ALinear`).
 *
 * Structure (names as in PEFT, so state dicts interchange): `base_layer` is the original `Linear`
 * (also reachable as {@link C3ALinear.baseLayer}), `c3a_kernel.<adapter>` is one trainable float32
 * kernel per adapter, shape `[out/b, in/b, b]`. Block sizes per adapter are in `c3aBlockSize`.
 *
 * Input `x`: `[..., inFeatures]`; output `[..., outFeatures]`.
 *
 * @throws {TypeError} when the wrapped module is not a `Linear` (PEFT's "Target module ... is not
 *   supported. Currently, only `torch.nn.Linear` is supported.")
 * @throws {BlockSizeError} / {@link ValueError} from {@link C3ALinear.updateLayer}
 */
export class C3ALinear extends Module {
  /** The wrapped layer (PEFT `base_layer`). Its weight is frozen by the tuner, not by this class. */
  base_layer: Linear;
  /** Kernels by adapter name, each `[out/b, in/b, b]` float32 (PEFT `c3a_kernel`). */
  c3a_kernel: ParameterDict;
  /** Block size by adapter name (PEFT `c3a_block_size`). */
  readonly c3aBlockSize: Record<string, number> = {};
  /** Input width of the base layer. */
  readonly inFeatures: number;
  /** Output width of the base layer. */
  readonly outFeatures: number;
  #active: string[];
  #merged: string[] = [];
  #disabled = false;

  /**
   * Wrap `baseLayer` and add the first adapter (PEFT `C3ALinear.__init__` → `update_layer`).
   *
   * @param baseLayer the Linear to adapt (weight `[out, in]`)
   * @param adapterName name of the first adapter (becomes the active one)
   * @param blockSize its block size b (must divide in and out)
   * @param initWeights kernel initialisation (spec §2)
   * @param options inference mode, generator, layer name for messages
   */
  constructor(
    baseLayer: Linear,
    adapterName: string,
    blockSize: number,
    initWeights: C3AInitWeights | string = "xavier_uniform",
    options: UpdateLayerOptions = {},
  ) {
    super();
    if (!(baseLayer instanceof Linear)) {
      const desc = (baseLayer as unknown as { constructor?: { name?: string } })?.constructor?.name ??
        typeof baseLayer;
      throw new TypeError(
        `Target module ${options.layerName ? `"${options.layerName}" ` : ""}(${desc}) is not supported. ` +
          "Currently, only `torch.nn.Linear` (Linear) is supported.",
      );
    }
    this.base_layer = baseLayer;
    this.c3a_kernel = new ParameterDict();
    this.inFeatures = baseLayer.inFeatures;
    this.outFeatures = baseLayer.outFeatures;
    this.#active = [adapterName];
    this.updateLayer(adapterName, blockSize, initWeights, options);
  }

  /** The wrapped Linear (same object as `base_layer`). */
  get baseLayer(): Linear {
    return this.base_layer;
  }

  /** Names of the adapters that run in forward (PEFT `active_adapters`). */
  get activeAdapters(): string[] {
    return [...this.#active];
  }

  /** Names of the adapters merged into the base weight, in merge order (PEFT `merged_adapters`). */
  get mergedAdapters(): string[] {
    return [...this.#merged];
  }

  /** Whether any adapter is merged into the base weight (PEFT `merged`). */
  get merged(): boolean {
    return this.#merged.length > 0;
  }

  /** Whether the adapters are disabled (forward = base layer only; PEFT `disable_adapters`). */
  get disableAdapters(): boolean {
    return this.#disabled;
  }

  /** Adapter names this layer holds, in insertion order. */
  get adapterNames(): string[] {
    return this.c3a_kernel.keys();
  }

  /**
   * Add (or re-create) adapter `adapterName` with block size `blockSize` (PEFT `update_layer`): checks
   * the block size (spec §3.1) and the init mode (spec §2), creates a float32 kernel
   * `[out/b, in/b, b]` and initialises it; the new kernel is trainable only if `adapterName` is
   * active and not `inferenceMode`.
   *
   * @throws {BlockSizeError} the block size is not a positive integer or does not divide in/out
   *   (message lists the valid ones)
   * @throws {ValueError} `Unknown init_weights: {value}`, or an invalid adapter name
   *   (see {@link checkAdapterName})
   */
  updateLayer(
    adapterName: string,
    blockSize: number,
    initWeights: C3AInitWeights | string = "xavier_uniform",
    options: UpdateLayerOptions = {},
  ): void {
    checkAdapterName(adapterName);
    checkBlockSize(blockSize, this.inFeatures, this.outFeatures, options.layerName);
    if (!INIT_WEIGHTS_VALUES.includes(initWeights as C3AInitWeights)) {
      throw new ValueError(
        `Unknown init_weights: ${formatValue(initWeights)}. Use true (zeros), false or "xavier_uniform", ` +
          `"kaiming_uniform" or "gaussian".`,
      );
    }
    const b = blockSize;
    const kernel = new Parameter(zeros([this.outFeatures / b, this.inFeatures / b, b]));
    // on the base layer's backend (PEFT moves new adapter weights to the base layer's device)
    kernel._moveTo(this.base_layer.weight.backend);
    this.c3aBlockSize[adapterName] = b;
    this.c3a_kernel.set(adapterName, kernel);
    this.resetC3AParameters(adapterName, initWeights, options.generator);
    // PEFT re-applies set_adapter to every kernel here; only the new kernel's flag is set, so adding
    // a frozen (inference-mode) adapter does not freeze an adapter that is being trained.
    kernel.requiresGrad = this.#active.includes(adapterName) && !(options.inferenceMode ?? false);
  }

  /**
   * Re-initialise the kernel of `adapterName` (PEFT `reset_c3a_parameters`, spec §2): `true` → zeros;
   * `false`/`"xavier_uniform"` → U(−a, a), a = √(6/(in+out)); `"kaiming_uniform"` → U(−1/√in, 1/√in);
   * `"gaussian"` → N(0, 1). Bounds use the layer's full in/out widths.
   *
   * @throws {ValueError} unknown adapter or init mode
   */
  resetC3AParameters(adapterName: string, initWeights: C3AInitWeights | string, generator?: Generator): void {
    const k = this.#kernel(adapterName);
    const inF = this.inFeatures;
    const outF = this.outFeatures;
    if (initWeights === true) noGrad(() => k.zero_());
    else if (initWeights === false || initWeights === "xavier_uniform") {
      const a = Math.sqrt(6 / (inF + outF));
      uniform_(k, -a, a, { generator });
    } else if (initWeights === "kaiming_uniform") {
      const a = 1 / Math.sqrt(inF);
      uniform_(k, -a, a, { generator });
    } else if (initWeights === "gaussian") normal_(k, 0, 1, { generator });
    else throw new ValueError(`Unknown init_weights: ${formatValue(initWeights)}`);
  }

  #kernel(name: string): Parameter {
    const k = this.c3a_kernel.get(name);
    if (!k) {
      throw new ValueError(
        `Adapter ${formatValue(name)} not found in this layer; it has ${formatValue(this.adapterNames)}.`,
      );
    }
    return k;
  }

  /**
   * Choose the active adapters (PEFT `BaseTunerLayer.set_adapter`): their kernels become trainable
   * (unless `inferenceMode`), every other kernel is frozen. Names this layer lacks are kept in the
   * active list but ignored by forward (as in PEFT).
   *
   * @param names one name or a list
   * @param inferenceMode keep even the active kernels frozen
   */
  setAdapter(names: string | readonly string[], inferenceMode = false): void {
    const list = typeof names === "string" ? [names] : [...names];
    for (const key of this.c3a_kernel.keys()) {
      this.c3a_kernel.get(key)!.requiresGrad = list.includes(key) && !inferenceMode;
    }
    this.#active = list;
  }

  /**
   * Enable or disable the adapters (PEFT `enable_adapters`): disabling freezes every kernel and makes
   * forward return the base output; enabling re-applies the active set (active kernels trainable).
   */
  enableAdapters(enabled: boolean): void {
    if (enabled) {
      this.setAdapter(this.#active);
      this.#disabled = false;
    } else {
      for (const key of this.c3a_kernel.keys()) this.c3a_kernel.get(key)!.requiresGrad = false;
      this.#disabled = true;
    }
  }

  /**
   * Remove adapter `name` from this layer (PEFT `BaseTunerLayer.delete_adapter`). If it was active,
   * the remaining active adapters stay active; if none remain, the first remaining adapter (sorted) is
   * activated with a warning.
   *
   * @returns whether the layer had the adapter
   */
  deleteAdapter(name: string): boolean {
    if (!this.c3a_kernel.has(name)) return false;
    this.c3a_kernel.delete(name);
    delete this.c3aBlockSize[name];
    if (this.#active.includes(name)) {
      const rest = this.#active.filter((a) => a !== name);
      if (rest.length > 0) this.setAdapter(rest);
      else {
        const remaining = this.c3a_kernel.keys().sort();
        if (remaining.length === 0) this.setAdapter([]);
        else {
          warn(`Adapter ${name} was active which is now deleted. Setting active adapter to ${remaining[0]}.`);
          this.setAdapter(remaining[0]);
        }
      }
    }
    return true;
  }

  /**
   * The dense weight delta of one adapter, `ΔW = C(kernel) / in` (PEFT `get_delta_weight`, spec §1.5),
   * shape `[outFeatures, inFeatures]` like the base weight. Differentiable w.r.t. the kernel.
   *
   * @throws {ValueError} unknown adapter
   */
  getDeltaWeight(adapterName: string): Tensor {
    return getCirculant(this.#kernel(adapterName)).div(this.inFeatures);
  }

  /**
   * Add the deltas of `adapterNames` (default: the active adapters) to the base weight in place
   * (PEFT `C3ALinear.merge`); a bfloat16 / float16 base weight (`torchDtype`) gets `W + ΔW` computed
   * in float32 and rounded to its dtype (as PEFT adds in the weight's dtype), and stays 16-bit.
   * Names already merged are skipped with PEFT's warning; names this layer lacks are skipped silently. The base bias is never changed.
   *
   * @throws {ValueError} with `safeMerge`, `NaNs detected in the merged weights. The adapter {name}
   *   seems to be broken` when the result has a non-finite entry (the weight is left untouched)
   * @throws {TypeError} `adapterNames` given as a bare string
   */
  merge(options: MergeOptions = {}): void {
    const names = this.#adaptersToMerge(options.adapterNames ?? null);
    if (names.length === 0) return;
    const weight = this.base_layer.weight;
    for (const name of names) {
      if (!this.c3a_kernel.has(name)) continue;
      noGrad(() => {
        const delta = this.getDeltaWeight(name);
        if (options.safeMerge || weight.dtype !== "float32") {
          // a 16-bit base weight: W + ΔW in float32, rounded back to the weight's dtype by copy_
          const merged = weight.float().add(delta);
          const d = merged.dataSync();
          for (let i = 0; i < d.length; i++) {
            if (!Number.isFinite(d[i])) {
              throw new ValueError(
                `NaNs detected in the merged weights. The adapter ${name} seems to be broken`,
              );
            }
          }
          weight.copy_(merged);
        } else weight.add_(delta);
      });
      this.#merged.push(name);
    }
  }

  #adaptersToMerge(adapterNames: readonly string[] | null): string[] {
    if (typeof adapterNames === "string") {
      throw new TypeError(`adapterNames should be a list of strings, got ${formatValue(adapterNames)}.`);
    }
    let names = adapterNames === null ? this.activeAdapters : [...adapterNames];
    if (this.merged) {
      const merged = new Set(this.#merged);
      names = names.filter((n) => !merged.has(n));
      if (names.length > 0) {
        warn(
          `Already following adapters were merged ${
            this.#merged.join(",")
          }. You are now additionally merging ${names.join(",")}.`,
        );
      } else warn("All adapters are already merged, nothing to do.");
    }
    return names;
  }

  /**
   * Subtract the merged deltas again, last merged first (PEFT `C3ALinear.unmerge`). ΔW is recomputed
   * from the current kernel, so a kernel changed while merged does not restore the weight exactly
   * (nor does a 16-bit weight: each merge and unmerge rounds it to its dtype).
   * Warns `Already unmerged. Nothing to do.` when nothing is merged.
   */
  unmerge(): void {
    if (!this.merged) {
      warn("Already unmerged. Nothing to do.");
      return;
    }
    const weight = this.base_layer.weight;
    while (this.#merged.length > 0) {
      const name = this.#merged.pop()!;
      if (!this.c3a_kernel.has(name)) continue;
      noGrad(() => {
        if (weight.dtype === "float32") weight.sub_(this.getDeltaWeight(name));
        else weight.copy_(weight.float().sub(this.getDeltaWeight(name))); // rounded to the weight's dtype
      });
    }
  }

  /**
   * `base_layer(x) + Σ_{active a} BCC(x, kernel_a) / in` (spec §1.2). Adapters disabled → base only
   * (a merged layer is unmerged first, as PEFT does); merged → base only (the deltas are in W).
   * Active adapters with the same block size share one convolution on the sum of their kernels (BCC is
   * linear in the kernel), which equals the sum of separate convolutions. With at least
   * {@link MERGED_MIN_ROWS} rows, one block size, a plain `Linear` base and an executor
   * with the fused `circulantMatmul` kernel (wasm), the adapter is folded into the base product instead
   * (`circulantLinear`: `x·(W + ΔW)ᵀ + bias`, `W + ΔW` formed only inside the product): the same values up
   * to float32 rounding.
   *
   * @param x `[..., inFeatures]` float32
   * @returns `[..., outFeatures]`
   * @throws {RangeError} when the last dimension of x is not `inFeatures`
   */
  override forward(x: Tensor): Tensor {
    if (this.#disabled) {
      if (this.merged) this.unmerge();
      return this.base_layer.forward(x);
    }
    if (this.merged) return this.base_layer.forward(x);
    const byBlock = new Map<number, Tensor>();
    for (const name of this.#active) {
      const k = this.c3a_kernel.get(name);
      if (!k) continue;
      const b = this.c3aBlockSize[name];
      const prev = byBlock.get(b);
      byBlock.set(b, prev === undefined ? k : prev.add(k));
    }
    if (byBlock.size === 0) return this.base_layer.forward(x);
    const inF = x.shape[x.shape.length - 1];
    const weight = this.base_layer.weight;
    if (
      byBlock.size === 1 && inF === this.inFeatures &&
      x.size / inF >= MERGED_MIN_ROWS && x.backend.supports("circulantMatmul") &&
      this.base_layer.forward === Linear.prototype.forward
    ) {
      // Many rows: ΔW folded into the base product, formed while the weight is packed (never stored),
      // costs less than FFTs of every row (circulantLinear). Only for a plain Linear whose forward is
      // Linear's own (a subclass or a wrapped forward is called as it is, on the FFT path); a wrong input
      // width goes to the base layer, which names it as for any Linear.
      const [kernel] = byBlock.values();
      return circulantLinear(x, weight, this.base_layer.bias, kernel.div(inF));
    }
    const result = this.base_layer.forward(x);
    // result + BCC(x, w) / in_features (PEFT). Scaling the small kernel [m, n, b] instead of the output
    // (BCC is linear in the kernel; a few float32 ulps of rounding apart) and adding into the
    // convolution's own output saves three activation-sized arrays per layer and step: the raw
    // convolution, its scaled copy and that copy's gradient.
    let out = result;
    for (const kernel of byBlock.values()) out = addBlockCircularConvolution(out, x, kernel.div(inF));
    return out;
  }

  /** `in_features=…, out_features=…, block_size={adapter: b}` for `toString()`. */
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, block_size=${
      JSON.stringify(this.c3aBlockSize)
    }`;
  }
}
