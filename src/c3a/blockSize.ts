/**
 * Block sizes, in one place (spec §1.1: b must divide both widths of a layer):
 * {@link validBlockSizes} computes which fit a layer, {@link checkBlockSize} checks one with PEFT's
 * messages, and {@link suggestBlockSize} ranks the sizes that fit a set of layers by PEFT's guidance
 * ("choose a gcd(d1, d2) near √(d1·d2)/r", r = the LoRA rank you would otherwise use; spec §6.1).
 * The layer, the tuner and the C3A op all call these.
 *
 * @module
 */

import { C3AConfig } from "./config.ts";
import { BlockSizeError, formatValue } from "./errors.ts";
import { allLinearExclusions, findTargets, type TargetCandidate } from "./matching.ts";

/**
 * The common divisors of `inFeatures` and `outFeatures`: the block sizes a layer accepts.
 *
 * @param inFeatures input width (positive integer)
 * @param outFeatures output width (positive integer)
 * @returns ascending list
 */
export function validBlockSizes(inFeatures: number, outFeatures: number): number[] {
  const out: number[] = [];
  const lim = Math.min(inFeatures, outFeatures);
  for (let b = 1; b <= lim; b++) if (inFeatures % b === 0 && outFeatures % b === 0) out.push(b);
  return out;
}

/**
 * Check a block size for a layer exactly as PEFT's `C3ALayer.update_layer` (spec §3.1), with the
 * valid block sizes appended to the message.
 *
 * @param blockSize the block size b
 * @param inFeatures layer input width
 * @param outFeatures layer output width
 * @param layerName module name for the message (optional)
 * @throws {BlockSizeError} (a RangeError) `` `block_size` should be a positive integer value but the
 *   value passed is {b} ``, `The block size should be a factor of the input size. However, the input
 *   size is {in} and the block size is {b}`, or the same for the output size
 */
export function checkBlockSize(
  blockSize: number,
  inFeatures: number,
  outFeatures: number,
  layerName?: string,
): void {
  const where = layerName ? ` (layer "${layerName}", ${inFeatures} -> ${outFeatures})` : "";
  const valid = () =>
    ` Valid block sizes for this layer (common divisors of ${inFeatures} and ${outFeatures}): ${
      validBlockSizes(inFeatures, outFeatures).join(", ")
    }. Set blockSize, or a blockSizePattern entry for this module, to one of them.`;
  if (!Number.isInteger(blockSize) || blockSize <= 0) {
    throw new BlockSizeError(
      `\`block_size\` should be a positive integer value but the value passed is ${
        formatValue(blockSize)
      }${where}.` +
        valid(),
    );
  }
  if (inFeatures % blockSize !== 0) {
    throw new BlockSizeError(
      `The block size should be a factor of the input size. However, the input size is ${inFeatures} and the ` +
        `block size is ${formatValue(blockSize)}${where}.` + valid(),
    );
  }
  if (outFeatures % blockSize !== 0) {
    throw new BlockSizeError(
      `The block size should be a factor of the output size. However, the output size is ${outFeatures} and ` +
        `the block size is ${formatValue(blockSize)}${where}.` + valid(),
    );
  }
}

/** One candidate block size. */
export interface BlockSizeSuggestion {
  /** The block size b; divides every layer's input and output width. */
  blockSize: number;
  /** Trainable kernel parameters it gives: Σ over layers of in·out/b. */
  paramCount: number;
  /** b divided by the target √(in·out)/r (geometric mean over layers); 1 = on target. */
  ratio: number;
}

/** Options of {@link suggestBlockSize}. */
export interface SuggestBlockSizeOptions {
  /** The LoRA rank r you would otherwise use (default 8, PEFT LoRA's default). Positive. */
  rank?: number;
  /** When a model is given: which modules (default: every Linear). Same forms as `C3AConfig.targetModules`. */
  targetModules?: string | readonly string[];
  /** When a model is given: a full config to take the targets (and layer filters) from. */
  config?: C3AConfig;
}

/** A model as {@link suggestBlockSize} reads it: modules by dotted name; Linear layers expose their widths. */
export interface ModuleTree {
  /** `[name, module]` pairs, the root first with name `""` (the nn `Module.namedModules()` contract). */
  namedModules(): Iterable<readonly [string, unknown]>;
}

/** The widths of a Linear-like module, or null when it is not one (numeric `inFeatures`/`outFeatures`). */
export function linearSizes(m: unknown): [number, number] | null {
  if (m === null || typeof m !== "object") return null;
  const o = m as { inFeatures?: unknown; outFeatures?: unknown; baseLayer?: unknown };
  if (typeof o.inFeatures === "number" && typeof o.outFeatures === "number") {
    return [o.inFeatures, o.outFeatures];
  }
  return null;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Rank the block sizes that fit all given layers.
 *
 * The candidates are the divisors of the gcd of every input and output width (a C3A block size must
 * divide both widths of every adapted layer, spec §1.1). They are ranked by |ln(b / target)| with
 * target = geometric mean over layers of √(in·out)/r; ties go to the larger b (fewer parameters).
 *
 * @param modelOrSizes either a list of `[inFeatures, outFeatures]` pairs, or a model (anything with
 *   `namedModules()`) whose targeted Linear layers are used (targets from `options.config` or
 *   `options.targetModules`, default every Linear module except a top-level `lm_head`)
 * @param options `rank` (default 8) and, for a model, the targets
 * @returns all fitting block sizes, best first, each with the parameter count it gives
 * @throws {RangeError} an empty layer list, a width that is not a positive integer, or a rank that is
 *   not a positive number
 * @throws {NoMatchingPeftModuleError} a model whose targets match nothing
 *
 * @example
 * ```ts
 * suggestBlockSize([[4096, 4096], [4096, 1024]], { rank: 16 })[0];
 * // { blockSize: 256, paramCount: 81920, ratio: ... }
 * ```
 */
export function suggestBlockSize(
  modelOrSizes: readonly (readonly [number, number])[] | ModuleTree,
  options: SuggestBlockSizeOptions = {},
): BlockSizeSuggestion[] {
  const rank = options.rank ?? 8;
  if (typeof rank !== "number" || !(rank > 0) || !Number.isFinite(rank)) {
    throw new RangeError(`rank must be a positive number, got ${formatValue(rank)}`);
  }
  const sizes = Array.isArray(modelOrSizes)
    ? (modelOrSizes as readonly (readonly [number, number])[])
    : sizesFromModel(modelOrSizes as ModuleTree, options);
  if (sizes.length === 0) {
    throw new RangeError("suggestBlockSize needs at least one [inFeatures, outFeatures] pair");
  }
  let g = 0;
  let logTarget = 0;
  for (const pair of sizes) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new RangeError(
        `each layer must be an [inFeatures, outFeatures] pair, got ${formatValue(pair)}`,
      );
    }
    for (const d of pair) {
      if (!Number.isInteger(d) || d <= 0) {
        throw new RangeError(`layer widths must be positive integers, got ${formatValue(pair)}`);
      }
    }
    g = gcd(gcd(g, pair[0]), pair[1]);
    logTarget += Math.log(Math.sqrt(pair[0] * pair[1]) / rank);
  }
  const target = Math.exp(logTarget / sizes.length);
  const totalInOut = sizes.reduce((s, [i, o]) => s + i * o, 0);
  const out: BlockSizeSuggestion[] = [];
  for (const b of validBlockSizes(g, g)) {
    out.push({ blockSize: b, paramCount: totalInOut / b, ratio: b / target });
  }
  // Distances within 1e-9 are ties (e.g. b = target/√2 and target·√2), broken towards the larger b.
  out.sort((x, y) => {
    const d = Math.abs(Math.log(x.ratio)) - Math.abs(Math.log(y.ratio));
    return Math.abs(d) > 1e-9 ? d : y.blockSize - x.blockSize;
  });
  return out;
}

function sizesFromModel(model: ModuleTree, options: SuggestBlockSizeOptions): [number, number][] {
  if (typeof (model as ModuleTree)?.namedModules !== "function") {
    throw new TypeError("suggestBlockSize expects a list of [in, out] pairs or a model with namedModules()");
  }
  const modules = new Map<string, unknown>();
  const candidates: TargetCandidate[] = [];
  for (const [name, m] of model.namedModules()) {
    modules.set(name, m);
    candidates.push({ name, isLinear: linearSizes(m) !== null });
  }
  const config = options.config ??
    new C3AConfig({ targetModules: options.targetModules ?? "all-linear" });
  const { targets } = findTargets(config, candidates, {
    excludeFromAllLinear: allLinearExclusions(modules.keys(), config.taskType),
  });
  const sizes: [number, number][] = [];
  for (const t of targets) {
    const s = linearSizes(modules.get(t.name));
    if (s) sizes.push(s);
  }
  return sizes;
}
