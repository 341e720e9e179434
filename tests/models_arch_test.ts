// Architectures (Llama with attention_bias, Qwen2, Mistral) against the float64 reference of
// tests/_ref_decoder.ts (Hugging Face semantics written there, independently of src/), and
// AutoModelForCausalLM's dispatch and errors.
import { assert, assertEquals, assertInstanceOf, assertStringIncludes } from "./deps.ts";
import { manualSeed, noGrad, normal_ } from "../src/tensor/index.ts";
import { type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { Qwen2ForCausalLM } from "../src/models/qwen2.ts";
import { MistralForCausalLM } from "../src/models/mistral.ts";
import { AutoModelForCausalLM } from "../src/models/auto.ts";
import { saveSafetensors } from "../src/io/safetensors.ts";
import { maxRelErr, refLogits, type RefOptions, weights64 } from "./_ref_decoder.ts";

const base: LlamaConfig = {
  vocab_size: 13,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 50,
  initializer_range: 0.3,
};
const B = 2, T = 7;
const ids = [1, 5, 9, 2, 0, 7, 3, 3, 10, 4, 6, 8, 12, 11];

/** Random non-zero biases (HF initialises them to 0, which would hide a missing bias). */
function randomBiases(lm: LlamaForCausalLM) {
  noGrad(() => {
    for (const [n, p] of lm.namedParameters()) if (n.endsWith(".bias")) normal_(p, 0, 0.5);
  });
}

function check(lm: LlamaForCausalLM, o: RefOptions, what: string) {
  const y = lm.forward(ids, { shape: [B, T] }).dataSync();
  const ref = refLogits(weights64(lm), lm.config, ids, B, T, o);
  const err = maxRelErr(y, ref);
  assert(err <= 1e-5, `${what}: relative error ${err} > 1e-5`);
}

Deno.test("Qwen2ForCausalLM: q/k/v biases, no o bias, tied embeddings, rope_theta vs float64 reference", () => {
  manualSeed(1);
  const lm = new Qwen2ForCausalLM({ ...base, tie_word_embeddings: true, attention_bias: false }).eval();
  const attn = lm.model.layers.at(0).self_attn;
  assert(attn.q_proj.bias && attn.k_proj.bias && attn.v_proj.bias && attn.o_proj.bias === null);
  assert(lm.lm_head.weight === lm.model.embed_tokens.weight);
  assertEquals([lm.config.model_type, lm.config.max_position_embeddings], ["qwen2", 32768]);
  randomBiases(lm);
  check(lm, { qkvBias: true, oBias: false }, "qwen2");
  // the reference without the biases disagrees: the check can fail
  const y = lm.forward(ids, { shape: [B, T] }).dataSync();
  assert(maxRelErr(y, refLogits(weights64(lm), lm.config, ids, B, T)) > 1e-3);
});

Deno.test("Qwen2 use_sliding_window: layers >= max_window_layers use the window", () => {
  manualSeed(2);
  const lm = new Qwen2ForCausalLM({
    ...base,
    use_sliding_window: true,
    sliding_window: 3,
    max_window_layers: 1,
  })
    .eval();
  assertEquals(lm.model.layers.at(0).self_attn.slidingWindow, null);
  assertEquals(lm.model.layers.at(1).self_attn.slidingWindow, 3);
  randomBiases(lm);
  check(lm, { qkvBias: true, window: (l) => (l >= 1 ? 3 : null) }, "qwen2 sliding");
});

Deno.test("MistralForCausalLM: sliding_window attention vs float64 reference", () => {
  manualSeed(3);
  const lm = new MistralForCausalLM({ ...base, sliding_window: 3 }).eval();
  assert(lm.namedParameters().every(([n]) => !n.endsWith(".bias")));
  check(lm, { window: () => 3 }, "mistral window 3");
  const y = lm.forward(ids, { shape: [B, T] }).dataSync();
  assert(maxRelErr(y, refLogits(weights64(lm), lm.config, ids, B, T)) > 1e-4, "the window matters");
  // window >= T and null: plain causal attention
  const full = new MistralForCausalLM({ ...base, sliding_window: null }).eval();
  assertEquals(full.model.layers.at(0).self_attn.slidingWindow, null);
  check(full, {}, "mistral full");
  assertEquals(new MistralForCausalLM(base).config.sliding_window, 4096);
});

Deno.test("Llama attention_bias: biases on q/k/v/o vs float64 reference; padding mask", () => {
  manualSeed(4);
  const lm = new LlamaForCausalLM({ ...base, attention_bias: true }).eval();
  assert(lm.model.layers.at(1).self_attn.o_proj.bias !== null);
  randomBiases(lm);
  check(lm, { qkvBias: true, oBias: true }, "llama bias");
  // left padding: row 1's first two tokens are padding; real tokens of both rows match the reference
  const mask = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1];
  const y = lm.forward(ids, { shape: [B, T], attentionMask: mask }).dataSync();
  const ref = refLogits(weights64(lm), lm.config, ids, B, T, { qkvBias: true, oBias: true, mask });
  const V = base.vocab_size;
  assert(y.every(Number.isFinite), "padding rows stay finite");
  const real = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => mask[Math.floor(i / V)] === 1);
  assert(maxRelErr(real(y), real(ref)) <= 1e-5);
});

async function rejects(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a rejection");
}

Deno.test("AutoModelForCausalLM: picks the class by model_type / architectures; one-line errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    manualSeed(5);
    for (
      const [cls, type] of [[LlamaForCausalLM, "llama"], [Qwen2ForCausalLM, "qwen2"], [
        MistralForCausalLM,
        "mistral",
      ]] as const
    ) {
      const src = new cls({ ...base, sliding_window: 4 }).eval();
      randomBiases(src);
      await src.savePretrained(`${dir}/${type}`);
      const cfg = JSON.parse(await Deno.readTextFile(`${dir}/${type}/config.json`));
      assertEquals([cfg.model_type, cfg.architectures, cfg.torch_dtype], [type, [cls.name], "float32"]);
      const lm = await AutoModelForCausalLM.fromPretrained(`${dir}/${type}`);
      assertInstanceOf(lm, cls);
      assertEquals(lm.constructor, cls);
      assertEquals(
        Array.from(lm.forward(ids, { shape: [B, T] }).dataSync()),
        Array.from(src.forward(ids, { shape: [B, T] }).dataSync()),
      );
    }
    // no model_type: architectures[0] decides
    const cfg = JSON.parse(await Deno.readTextFile(`${dir}/qwen2/config.json`));
    delete cfg.model_type;
    await Deno.writeTextFile(`${dir}/qwen2/config.json`, JSON.stringify(cfg));
    assertInstanceOf(await AutoModelForCausalLM.fromPretrained(`${dir}/qwen2`), Qwen2ForCausalLM);
    // unknown model_type
    await Deno.mkdir(`${dir}/gpt2`);
    await Deno.writeTextFile(`${dir}/gpt2/config.json`, JSON.stringify({ ...base, model_type: "gpt2" }));
    const msg = await rejects(() => AutoModelForCausalLM.fromPretrained(`${dir}/gpt2`));
    assertStringIncludes(msg, `model_type "gpt2"`);
    assertStringIncludes(msg, "llama, mistral, qwen2");
    assert(!msg.includes("\n"));
    // a shape that disagrees with the config: one line naming the tensor and both shapes
    const llamaCfg = JSON.parse(await Deno.readTextFile(`${dir}/llama/config.json`));
    await Deno.writeTextFile(
      `${dir}/llama/config.json`,
      JSON.stringify({ ...llamaCfg, intermediate_size: 20 }),
    );
    const shape = await rejects(() => AutoModelForCausalLM.fromPretrained(`${dir}/llama`));
    assertStringIncludes(shape, `"model.layers.0.mlp.down_proj.weight" has shape [16, 24]`);
    assertStringIncludes(shape, "expects [16, 20]");
    assert(!shape.includes("\n"));
    // a missing file is named
    assertStringIncludes(
      await rejects(() => AutoModelForCausalLM.fromPretrained(`${dir}/none`)),
      "config.json",
    );
    await Deno.writeTextFile(`${dir}/gpt2/config.json`, JSON.stringify({ ...base, model_type: "llama" }));
    assertStringIncludes(
      await rejects(() => AutoModelForCausalLM.fromPretrained(`${dir}/gpt2`)),
      "model.safetensors",
    );
    // a Qwen2 checkpoint into LlamaForCausalLM: Qwen2's biases are unexpected
    await saveSafetensors(`${dir}/gpt2/model.safetensors`, new Qwen2ForCausalLM(base).stateDict());
    assertStringIncludes(
      await rejects(() => LlamaForCausalLM.fromPretrained(`${dir}/gpt2`)),
      "self_attn.k_proj.bias",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
