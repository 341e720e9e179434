/**
 * RoPE frequency schemes of Hugging Face configs (`rope_scaling`, or `rope_parameters` in
 * transformers v5): which inverse frequencies a Llama-family model rotates queries and keys with.
 *
 * Supported `rope_type`s: "default" (`invFreq[i] = theta^(−2i/D)`), "linear" (position interpolation,
 * Chen et al. 2023: every frequency divided by `factor`) and "llama3" (Llama 3.1's smooth scheme:
 * frequencies whose wavelength exceeds `original_max_position_embeddings / low_freq_factor` are divided
 * by `factor`, those shorter than `… / high_freq_factor` kept, and the band between interpolated
 * linearly in `original_max_position_embeddings / wavelength`). Others ("dynamic", "yarn", "longrope",
 * …) are refused by {@link checkRopeScaling}.
 *
 * @module
 */

/** The RoPE types {@link ropeInvFreq} implements. */
export const SUPPORTED_ROPE_TYPES = ["default", "linear", "llama3"] as const;

function num(where: string, p: Record<string, unknown>, key: string, dflt?: number): number {
  const v = p[key] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(
      `LlamaConfig.${where}.${key} must be a positive number, got ${JSON.stringify(p[key])}`,
    );
  }
  return v;
}

/** The `rope_type` of a scaling object (`type` in older configs); "default" when null. */
export function ropeTypeOf(p: Record<string, unknown> | null | undefined, dflt?: string): unknown {
  if (p == null) return "default";
  return p.rope_type ?? p.type ?? dflt;
}

/**
 * Validates one of the config's RoPE objects.
 *
 * @param where "rope_scaling" or "rope_parameters" (for the message)
 * @throws {RangeError} not an object, a type other than {@link SUPPORTED_ROPE_TYPES}, or a missing /
 *   non-positive `factor`, `low_freq_factor`, `high_freq_factor`, `original_max_position_embeddings`
 *   (llama3 needs `high_freq_factor > low_freq_factor`)
 */
export function checkRopeScaling(where: string, p: unknown): void {
  if (p == null) return;
  if (typeof p !== "object" || Array.isArray(p)) {
    throw new RangeError(`LlamaConfig.${where} must be an object or null, got ${JSON.stringify(p)}`);
  }
  const o = p as Record<string, unknown>;
  const t = ropeTypeOf(o, where === "rope_parameters" ? "default" : undefined);
  if (!(SUPPORTED_ROPE_TYPES as readonly unknown[]).includes(t)) {
    throw new RangeError(
      `LlamaConfig.${where} of type ${JSON.stringify(t)} is not supported (${
        SUPPORTED_ROPE_TYPES.join(", ")
      })`,
    );
  }
  if (t === "linear" || t === "llama3") num(where, o, "factor");
  if (t === "llama3") {
    const lo = num(where, o, "low_freq_factor"), hi = num(where, o, "high_freq_factor");
    num(where, o, "original_max_position_embeddings");
    if (!(hi > lo)) {
      throw new RangeError(
        `LlamaConfig.${where}: high_freq_factor (${hi}) must exceed low_freq_factor (${lo})`,
      );
    }
  }
}

/**
 * The inverse frequencies (`[D/2]`, float32 values) for a RoPE scaling object, or undefined for the
 * default scheme (the rotary op then uses `theta` alone). Call {@link checkRopeScaling} first.
 *
 * @param theta `rope_theta`
 * @param headDim D (even)
 * @param scaling `rope_scaling` / `rope_parameters`, or null
 */
export function ropeInvFreq(
  theta: number,
  headDim: number,
  scaling: Record<string, unknown> | null | undefined,
): Float64Array | undefined {
  const t = ropeTypeOf(scaling, "default");
  if (scaling == null || t === "default") return undefined;
  const half = headDim / 2;
  const inv = new Float64Array(half);
  // the base frequencies as Hugging Face computes them (float32)
  for (let i = 0; i < half; i++) {
    inv[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  }
  const factor = scaling.factor as number;
  if (t === "linear") return inv.map((f) => Math.fround(f / factor));
  const lo = scaling.low_freq_factor as number, hi = scaling.high_freq_factor as number;
  const ctx = scaling.original_max_position_embeddings as number;
  const longWavelength = ctx / lo, shortWavelength = ctx / hi;
  return inv.map((f) => {
    const wavelength = 2 * Math.PI / f;
    if (wavelength < shortWavelength) return f; // high frequencies: unchanged
    if (wavelength > longWavelength) return Math.fround(f / factor); // low frequencies: interpolated
    const smooth = (ctx / wavelength - lo) / (hi - lo);
    return Math.fround((1 - smooth) * f / factor + smooth * f);
  });
}
