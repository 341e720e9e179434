// generate() tokens/s on the shipped checkpoint (examples/checkpoints/sotu-byte-llama: byte-level
// Llama, 4 layers, C = 192) with the key/value cache and without it (every new token re-runs the
// whole sequence), side by side in the same process. 256 new tokens, greedy, one row.
// Run: deno run -A bench/generate_bench.ts        (prints tokens/s of both and the ratio)
//  or: deno bench -A bench/generate_bench.ts      (the same two as a bench group, cache = baseline)

import { AutoModelForCausalLM } from "../mod.ts";

const CKPT = new URL("../examples/checkpoints/sotu-byte-llama/", import.meta.url);
const NEW = 256;
const model = await AutoModelForCausalLM.fromPretrained(CKPT);
const prompt = Array.from(new TextEncoder().encode("Mr. Speaker, Mr. Vice President, Members of Congress, "));

async function run(useCache: boolean): Promise<{ seconds: number; tokens: number[] }> {
  const t0 = performance.now();
  const tokens = await model.generate(prompt, { maxNewTokens: NEW, useCache });
  return { seconds: (performance.now() - t0) / 1000, tokens };
}

if (import.meta.main) {
  await run(true); // warm-up (kernels, tables)
  const rows: string[] = [];
  const rates: number[] = [];
  let reference: number[] | null = null;
  for (const useCache of [true, false, true]) {
    const { seconds, tokens } = await run(useCache);
    reference ??= tokens;
    const same = tokens.every((t, i) => t === reference![i]);
    const rate = NEW / seconds;
    rates.push(rate);
    rows.push(
      `| ${useCache ? "with cache   " : "without cache"} | ${seconds.toFixed(2)} s | ${
        rate.toFixed(1)
      } tok/s | ${same ? "same tokens" : "DIFFERENT tokens"} |`,
    );
  }
  console.log(`generate(): ${NEW} new tokens after a ${prompt.length}-token prompt, greedy, batch 1`);
  console.log(
    `${navigator.hardwareConcurrency} cores, ${Deno.build.os}/${Deno.build.arch}, deno ${Deno.version.deno}`,
  );
  console.log("| mode | time | tokens/s | check |\n|---|---|---|---|\n" + rows.join("\n"));
  const best = (c: boolean) => (c ? Math.max(rates[0], rates[2]) : rates[1]);
  console.log(
    `cache speed-up (best cached run vs the uncached one): ${(best(true) / best(false)).toFixed(1)}x`,
  );
} else {
  Deno.bench(
    { name: "generate 256, KV cache", group: "generate", baseline: true, n: 3, warmup: 1 },
    async () => {
      await run(true);
    },
  );
  Deno.bench({ name: "generate 256, no cache", group: "generate", n: 2, warmup: 0 }, async () => {
    await run(false);
  });
}
