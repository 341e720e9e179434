// Test dependencies in one place. deno-std@1.4.0 ships no types: see ./_types/std_assert.d.ts.
// @ts-types="./_types/std_assert.d.ts"
export * from "@std/assert";
