// The golden vectors of tests/fixtures/golden (float64 references computed with PEFT's math, see
// golden/index.json "conventions"): loading, float32 rounding and the closeness check the tests use on them.
import { assert, assertEquals } from "./deps.ts";

/** A `{shape, data}` tensor record of a golden file (data as float64 numbers, row-major). */
export interface GoldenTensor {
  shape: number[];
  data: number[];
}

/** One golden case file: sizes (`m = out/b`, `n = in/b`, `x_shape` with `in_features` last) and tensors. */
export interface GoldenCase {
  name: string;
  meta: { b: number; in_features: number; out_features: number; m: number; n: number; x_shape: number[] };
  tensors: Record<string, GoldenTensor>;
}

/** One row of golden/index.json. */
export interface GoldenIndexEntry {
  file: string;
  name: string;
  b: number;
  in_features: number;
  out_features: number;
  x_shape: number[];
  has_base_layer: boolean;
}

/** The golden directory (copied into the repository; tests/fixtures/README.md says where it came from). */
export const GOLDEN_DIR: URL = new URL("./fixtures/golden/", import.meta.url);

/** The cases listed in golden/index.json. */
export function goldenIndex(): GoldenIndexEntry[] {
  const index = JSON.parse(Deno.readTextFileSync(new URL("index.json", GOLDEN_DIR))) as {
    cases: GoldenIndexEntry[];
  };
  return index.cases;
}

/** Reads one golden case file (a `file` of the index). */
export function loadGoldenCase(file: string): GoldenCase {
  return JSON.parse(Deno.readTextFileSync(new URL(file, GOLDEN_DIR))) as GoldenCase;
}

/** A golden tensor's data rounded to float32. */
export function f32(t: GoldenTensor): Float32Array {
  return Float32Array.from(t.data, (v) => Math.fround(v));
}

/**
 * Asserts max|actual − ref| <= tol · max|ref| (tol relative to the reference's largest magnitude; an
 * all-zero reference allows tol · 1e-30). A NaN anywhere in `actual` fails. Lengths must match.
 */
export function assertClose(
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assertEquals(actual.length, ref.length, `${what}: length`);
  let maxRef = 0, maxErr = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    const e = Math.abs(actual[i] - ref[i]);
    if (!(e <= maxErr)) {
      maxErr = e;
      at = i;
    }
  }
  const bound = tol * Math.max(maxRef, 1e-30);
  assert(
    maxErr <= bound,
    `${what}: max error ${maxErr} at ${at} (got ${actual[at]}, want ${
      ref[at]
    }) > ${bound} (tol ${tol} · max|ref| ${maxRef})`,
  );
}
