/**
 * The `torchDtype` option of `fromPretrained` (transformers' `torch_dtype`): keep the frozen base
 * weights — every Linear weight and every Embedding table (a tied `lm_head` is the same tensor) — in
 * bfloat16 or float16, half the memory of the float32 base. Norm weights and biases stay float32
 * (small, and read by float32-only kernels); layers added for training (adapters, `modules_to_save`
 * copies, a new classification head) are float32.
 *
 * @module
 */

import type { DType } from "../backend/backend.ts";
import { isDType } from "../tensor/tensor.ts";
import type { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Embedding } from "../nn/embedding.ts";

/** Loading options of `fromPretrained`, given beside the config overrides (transformers' kwargs). */
export interface LoadPretrainedOptions {
  /**
   * Element type of the frozen base weights (transformers' `torch_dtype`): "float32" (default),
   * "bfloat16", "float16", or "auto" (config.json's `torch_dtype` when it is one of these, else
   * float32). 16-bit weights are converted to float32 tile by tile inside the matmul and embedding
   * kernels (wasm executor; the WebGPU executor takes float32 only: `module.float()` first); they
   * never require grad.
   */
  torchDtype?: DType | "auto";
}

/**
 * The dtype `torchDtype` asks for, given the checkpoint's config.json.
 *
 * @throws {RangeError} for a value that is not a dtype or "auto" (one line naming it).
 */
export function resolveTorchDtype(torchDtype: unknown, config: Record<string, unknown>): DType {
  if (torchDtype === undefined) return "float32";
  if (torchDtype === "auto") return isDType(config.torch_dtype) ? config.torch_dtype : "float32";
  if (!isDType(torchDtype)) {
    throw new RangeError(
      `fromPretrained: torchDtype ${JSON.stringify(torchDtype)} is not one of "float32", "bfloat16", ` +
        `"float16", "auto"`,
    );
  }
  return torchDtype;
}

/**
 * Converts the weight of every Linear and Embedding under `root` to `dtype` in place (the same
 * Parameter objects, so tied weights stay tied); 16-bit weights stop requiring grad. With
 * `keepValues` false the weights become zeros of `dtype` without reading the old values: what
 * `fromPretrained` does before loading the checkpoint into them (each tensor is then rounded straight
 * into the 16-bit storage, and no float32 copy of the base is ever filled).
 *
 * @returns the number of parameters converted (a tied weight counts once).
 */
export function castBaseWeights(root: Module, dtype: DType, keepValues = true): number {
  const seen = new Set<unknown>();
  for (const m of root.modules()) {
    if (!(m instanceof Linear || m instanceof Embedding) || seen.has(m.weight)) continue;
    seen.add(m.weight);
    m.weight._castTo(dtype, keepValues);
  }
  return seen.size;
}

/** Splits `fromPretrained`'s second argument into config overrides and {@link LoadPretrainedOptions}. */
export function splitLoadOptions<C>(
  options: C & LoadPretrainedOptions,
): { overrides: Omit<C, keyof LoadPretrainedOptions>; load: LoadPretrainedOptions } {
  const { torchDtype, ...overrides } = options;
  return { overrides, load: { torchDtype } };
}
