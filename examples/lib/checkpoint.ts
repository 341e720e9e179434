/**
 * Writing Hugging Face layout checkpoints from the example scripts: `model.safetensors` (float32, PyTorch
 * metadata `format: "pt"`) and `config.json` with sorted keys, into a {@linkcode Staging} directory.
 *
 * @module
 */

import { saveSafetensors, type Tensor } from "../../mod.ts";
import type { Staging } from "./output.ts";

/** A copy of `o` with its top-level keys in sorted order (stable JSON files). */
export function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/**
 * Writes `model.safetensors` (the model's state dict) and `config.json` (`config`, keys sorted) into the
 * staging directory, or into its sub-directory `sub` (created here) when given.
 */
export async function writeHfCheckpoint(
  staging: Staging,
  model: { stateDict(): Record<string, Tensor> },
  config: Record<string, unknown>,
  sub?: string,
): Promise<void> {
  const prefix = sub === undefined ? "" : `${sub}/`;
  if (sub !== undefined) await Deno.mkdir(staging.path(sub));
  await saveSafetensors(staging.path(`${prefix}model.safetensors`), model.stateDict(), { format: "pt" });
  await staging.writeJson(`${prefix}config.json`, sortKeys(config));
}
