// generate(): the cache against a greedy loop of full forwards written here, seeded sampling,
// left-padded batches, eos, errors, and generation through a C3AModel vs the merged model.
import { assert, assertEquals, assertNotEquals, assertRejects } from "./deps.ts";
import { manualSeed, noGrad } from "../src/tensor/index.ts";
import { type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { MistralForCausalLM } from "../src/models/mistral.ts";
import { Qwen2ForCausalLM } from "../src/models/qwen2.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";

const cfg: LlamaConfig = {
  vocab_size: 17,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rope_theta: 100,
  initializer_range: 0.5,
  max_position_embeddings: 40,
};

/** Greedy decoding by full forwards over the whole sequence (argmax of the last position). */
function greedyLoop(lm: LlamaForCausalLM, prompt: number[], n: number): number[] {
  const seq = [...prompt];
  noGrad(() => {
    for (let i = 0; i < n; i++) {
      const y = lm.forward([seq]).dataSync();
      const v = lm.config.vocab_size, last = y.subarray((seq.length - 1) * v, seq.length * v);
      let best = 0;
      for (let j = 1; j < v; j++) if (last[j] > last[best]) best = j;
      seq.push(best);
    }
  });
  return seq;
}

Deno.test("generate: greedy with the cache equals a greedy loop of full forwards (Llama, Qwen2, Mistral window)", async () => {
  manualSeed(7);
  const models = [
    new LlamaForCausalLM(cfg),
    new Qwen2ForCausalLM(cfg),
    new MistralForCausalLM({ ...cfg, sliding_window: 4 }),
  ];
  for (const lm of models) {
    lm.eval();
    const prompt = [3, 1, 4, 1, 5];
    const want = greedyLoop(lm, prompt, 12);
    assertEquals(await lm.generate(prompt, { maxNewTokens: 12 }), want, lm.constructor.name);
    assertEquals(await lm.generate(prompt, { maxNewTokens: 12, useCache: false }), want);
    assertEquals(await lm.generate(prompt, { maxNewTokens: 0 }), prompt);
  }
});

Deno.test("generate: with the cache each new token runs one position", async () => {
  manualSeed(8);
  const lm = new LlamaForCausalLM(cfg);
  const lengths: number[] = [];
  const fwd = lm.forward.bind(lm);
  // deno-lint-ignore no-explicit-any
  (lm as any).forward = (ids: any, o: any) => {
    lengths.push(o.shape[1]);
    return fwd(ids, o);
  };
  await lm.generate([1, 2, 3, 4], { maxNewTokens: 5 });
  assertEquals(lengths, [4, 1, 1, 1, 1]);
  lengths.length = 0;
  await lm.generate([1, 2, 3, 4], { maxNewTokens: 3, useCache: false });
  assertEquals(lengths, [4, 5, 6]);
  assert(lm.training, "the previous mode is restored");
});

Deno.test("generate: sampling is reproducible for a seed; topK 1 is greedy; the options change the result", async () => {
  manualSeed(9);
  const lm = new LlamaForCausalLM(cfg).eval();
  const p = [2, 7, 1];
  const o = { maxNewTokens: 20, doSample: true, temperature: 1.5, topP: 0.95, repetitionPenalty: 1.2 };
  const a = await lm.generate(p, { ...o, seed: 1 });
  assertEquals(await lm.generate(p, { ...o, seed: 1 }), a);
  assertNotEquals(await lm.generate(p, { ...o, seed: 2 }), a);
  assertEquals(a.slice(0, 3), p);
  assertEquals(a.length, 23);
  assertEquals(
    await lm.generate(p, { maxNewTokens: 8, doSample: true, topK: 1, seed: 5 }),
    await lm.generate(p, { maxNewTokens: 8 }),
  );
  assertEquals(
    await lm.generate(p, { maxNewTokens: 8, doSample: true, topK: 0, topP: 1e-9, seed: 5 }),
    await lm.generate(p, { maxNewTokens: 8 }),
    "topP keeps at least the most likely token",
  );
  // repetition penalty (transformers' rule: positive logits of seen tokens / p, negative ones * p)
  for (const prompt of [[0, 1, 2, 3, 4, 5, 6, 7], [3, 3, 9]]) {
    const y = noGrad(() => lm.forward([prompt]).dataSync());
    const v = cfg.vocab_size, last = Array.from(y.subarray((prompt.length - 1) * v));
    for (const t of new Set(prompt)) last[t] = last[t] < 0 ? last[t] * 3 : last[t] / 3;
    const want = last.indexOf(Math.max(...last));
    assertEquals((await lm.generate(prompt, { maxNewTokens: 1, repetitionPenalty: 3 })).at(-1), want);
  }
  // onToken sees every new token
  const seen: number[] = [];
  const g = await lm.generate(p, { maxNewTokens: 4, onToken: ([t]) => seen.push(t) });
  assertEquals(seen, g.slice(3));
});

Deno.test("generate: a left-padded batch row equals the unpadded single-row result; eos stops a row", async () => {
  manualSeed(10);
  const lm = new Qwen2ForCausalLM(cfg).eval();
  const short = [5, 9, 2], long = [1, 3, 3, 8, 6];
  const aShort = await lm.generate(short, { maxNewTokens: 8 });
  const aLong = await lm.generate(long, { maxNewTokens: 8 });
  const batch = await lm.generate([[0, 0, ...short], long], {
    maxNewTokens: 8,
    attentionMask: [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]],
  });
  assertEquals(batch[0].slice(2), aShort);
  assertEquals(batch[1], aLong);
  // eos: the row ends with the eos token, then pad tokens while the other row goes on
  const eos = aShort[4]; // the second new token of the short row
  assert(!aShort.slice(3, 4).includes(eos) && !aLong.slice(5).includes(eos), "test setup: eos unique");
  const stopped = await lm.generate([[0, 0, ...short], long], {
    maxNewTokens: 8,
    attentionMask: [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]],
    eosTokenId: eos,
    padTokenId: 16,
  });
  assertEquals(stopped[0], [0, 0, ...aShort.slice(0, 5), 16, 16, 16, 16, 16, 16]);
  assertEquals(stopped[1], aLong);
  assertEquals(await lm.generate(short, { maxNewTokens: 8, eosTokenId: eos }), aShort.slice(0, 5));
});

Deno.test("generate: one-line errors for bad options and too-long prompts", async () => {
  const lm = new LlamaForCausalLM(cfg);
  const bad = async (o: object, part: string, prompt: number[] = [1]) => {
    const e = await assertRejects(() => lm.generate(prompt, o), RangeError);
    assert(e.message.includes(part) && !e.message.includes("\n"), e.message);
  };
  await bad({ maxNewTokens: -1 }, "maxNewTokens -1");
  await bad({ maxNewTokens: 1.5 }, "maxNewTokens");
  await bad({}, "max_position_embeddings 40", new Array(41).fill(1));
  await bad({ doSample: true, temperature: 0 }, "temperature");
  await bad({ topP: 0 }, "topP");
  await bad({ topK: -2 }, "topK");
  await bad({ repetitionPenalty: 0 }, "repetitionPenalty");
  await bad({}, "empty", []);
  await bad({ attentionMask: [1, 1] }, "attentionMask");
  // an unknown key (transformers' snake_case) is an error naming the key meant, not silently dropped
  const e = await assertRejects(() => lm.generate([1], { max_new_tokens: 2 } as object), TypeError);
  assert(e.message.includes('unknown option "max_new_tokens" (did you mean "maxNewTokens"?)'), e.message);
  // beyond max_position_embeddings while generating is allowed (as transformers: positions go on)
  assertEquals((await lm.generate(new Array(38).fill(1), { maxNewTokens: 5 })).length, 43);
});

Deno.test("generate through a C3AModel (unmerged adapters active) equals the merged model's", async () => {
  manualSeed(11);
  const lm = new LlamaForCausalLM(cfg).eval();
  const plain = await lm.generate([4, 2], { maxNewTokens: 10 });
  const peft = getPeftModel(
    lm,
    new C3AConfig({
      blockSize: 4,
      targetModules: ["q_proj", "v_proj", "down_proj"],
      initWeights: "gaussian",
    }),
  );
  noGrad(() => {
    for (const [, l] of peft.c3aLayers()) l.c3a_kernel.get("default")!.mul_(200);
  });
  const adapted = await peft.generate([4, 2], { maxNewTokens: 10 });
  assertNotEquals(adapted, plain, "the adapter changes the tokens");
  const sampled = await peft.generate([4, 2], { maxNewTokens: 10, doSample: true, seed: 3 });
  const merged = peft.mergeAndUnload() as LlamaForCausalLM;
  assertEquals(await merged.generate([4, 2], { maxNewTokens: 10 }), adapted);
  assertEquals(await merged.generate([4, 2], { maxNewTokens: 10, doSample: true, seed: 3 }), sampled);
});
