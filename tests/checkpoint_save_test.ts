// savePretrained of the Hugging Face architectures (src/io/checkpoint.ts): save -> load round trips
// for float32/float16/bfloat16, sharding with model.safetensors.index.json, refusing to overwrite,
// and mergeAndUnload() -> savePretrained -> fromPretrained with the adapted model's outputs.
import { assert, assertEquals, assertRejects } from "./deps.ts";
import { manualSeed, noGrad } from "../src/tensor/index.ts";
import { type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { Qwen2ForCausalLM } from "../src/models/qwen2.ts";
import { AutoModelForCausalLM } from "../src/models/auto.ts";
import { parseShardSize } from "../src/io/checkpoint.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import { maxRelErr } from "./_ref_decoder.ts";

const cfg: LlamaConfig = {
  vocab_size: 19,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  initializer_range: 0.2,
};
const ids = [[3, 1, 4, 1, 5, 9, 2, 6]];

/** float16 / bfloat16 of a float32 (references: the engine's f16round; bf16 by exact rounding). */
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function bf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const lo = b & 0xffff, hi = b >>> 16;
  u32[0] = (lo > 0x8000 || (lo === 0x8000 && (hi & 1) === 1) ? hi + 1 : hi) << 16;
  return f32[0];
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("savePretrained -> fromPretrained round trip in float32, float16 and bfloat16", async () => {
  await withDir(async (dir) => {
    manualSeed(1);
    const lm = new Qwen2ForCausalLM({ ...cfg, tie_word_embeddings: true }).eval();
    const y = lm.forward(ids).dataSync();
    const sd = lm.stateDict();
    const tol = { float32: 0, float16: 2e-3, bfloat16: 2e-2 };
    for (const dtype of ["float32", "float16", "bfloat16"] as const) {
      await lm.savePretrained(`${dir}/${dtype}`, { dtype });
      const conf = JSON.parse(await Deno.readTextFile(`${dir}/${dtype}/config.json`));
      assertEquals([conf.torch_dtype, conf.model_type, conf.architectures[0]], [
        dtype,
        "qwen2",
        "Qwen2ForCausalLM",
      ]);
      const back = await AutoModelForCausalLM.fromPretrained(`${dir}/${dtype}`);
      assert(back instanceof Qwen2ForCausalLM && back.lm_head.weight === back.model.embed_tokens.weight);
      // every weight is the float32 value rounded to the dtype
      for (const [k, v] of Object.entries(back.stateDict())) {
        const orig = sd[k].dataSync(), got = v.dataSync();
        const round = dtype === "float32" ? (x: number) => x : dtype === "float16" ? Math.f16round : bf16;
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== Math.fround(round(orig[i]))) throw new Error(`${dtype} ${k}[${i}]`);
        }
      }
      const err = maxRelErr(back.forward(ids).dataSync(), y);
      assert(err <= tol[dtype], `${dtype}: logits relative error ${err}`);
      const names = [...Deno.readDirSync(`${dir}/${dtype}`)].map((e) => e.name).sort();
      assertEquals(names, ["config.json", "model.safetensors"], "no temporary files left");
    }
  });
});

Deno.test("savePretrained sharding: index.json, shard names, total_size; round trip; overwrite rules", async () => {
  await withDir(async (dir) => {
    manualSeed(2);
    const lm = new LlamaForCausalLM(cfg).eval();
    const y = Array.from(lm.forward(ids).dataSync());
    await lm.savePretrained(dir, { maxShardSize: "4KB", dtype: "float32" });
    const index = JSON.parse(await Deno.readTextFile(`${dir}/model.safetensors.index.json`));
    const files = [...new Set(Object.values(index.weight_map as Record<string, string>))].sort();
    assert(files.length > 2, `${files.length} shards`);
    files.forEach((f, i) =>
      assertEquals(
        f,
        `model-${String(i + 1).padStart(5, "0")}-of-${String(files.length).padStart(5, "0")}.safetensors`,
      )
    );
    const sd = lm.stateDict();
    const total = Object.values(sd).reduce((a, t) => a + t.size * 4, 0);
    assertEquals(index.metadata.total_size, total);
    assertEquals(Object.keys(index.weight_map).sort(), Object.keys(sd).sort());
    for (const f of files) {
      const st = await Deno.stat(`${dir}/${f}`);
      // one shard may exceed the limit only when a single tensor does (the embeddings: 19·16·4 bytes)
      assert(st.size < 4000 + 2000, `${f}: ${st.size} bytes`);
    }
    assertEquals(Array.from((await LlamaForCausalLM.fromPretrained(dir)).forward(ids).dataSync()), y);
    // refusing to overwrite: nothing changes
    const before = await Deno.readFile(`${dir}/${files[0]}`);
    const e = await assertRejects(() => lm.savePretrained(dir), Error);
    assert(
      e.message.includes("exists") && e.message.includes("overwrite") && !e.message.includes("\n"),
      e.message,
    );
    assertEquals(await Deno.readFile(`${dir}/${files[0]}`), before);
    // overwrite with one file: the stale shards and index go
    await lm.savePretrained(dir, { overwrite: true });
    assertEquals([...Deno.readDirSync(dir)].map((x) => x.name).sort(), ["config.json", "model.safetensors"]);
    assertEquals(Array.from((await LlamaForCausalLM.fromPretrained(dir)).forward(ids).dataSync()), y);
    await assertRejects(
      () => lm.savePretrained(`${dir}/x`, { dtype: "float64" as never }),
      RangeError,
      "float64",
    );
    await assertRejects(
      () => lm.savePretrained(`${dir}/y`, { maxShardSize: "lots" }),
      RangeError,
      "maxShardSize",
    );
    // a config.json that is not JSON: both loaders name the file
    await Deno.mkdir(`${dir}/bad`);
    await Deno.writeTextFile(`${dir}/bad/config.json`, "{not json");
    for (
      const load of [
        () => AutoModelForCausalLM.fromPretrained(`${dir}/bad`),
        () => LlamaForCausalLM.fromPretrained(`${dir}/bad`),
      ]
    ) {
      await assertRejects(load, Error, `${dir}/bad/config.json is not JSON`);
    }
  });
  assertEquals([parseShardSize("5GB"), parseShardSize("2GiB"), parseShardSize("500MB"), parseShardSize(10)], [
    5e9,
    2 ** 31,
    5e8,
    10,
  ]);
});

Deno.test("mergeAndUnload then savePretrained: fromPretrained reproduces the adapted model per dtype", async () => {
  await withDir(async (dir) => {
    manualSeed(3);
    const lm = new LlamaForCausalLM(cfg).eval();
    const base = Array.from(lm.forward(ids).dataSync());
    const peft = getPeftModel(
      lm,
      new C3AConfig({
        blockSize: 4,
        targetModules: ["q_proj", "v_proj", "up_proj"],
        initWeights: "gaussian",
      }),
    );
    noGrad(() => {
      for (const [, l] of peft.c3aLayers()) l.c3a_kernel.get("default")!.mul_(10);
    });
    const adapted = peft.forward(ids).dataSync().slice();
    assert(maxRelErr(adapted, base) > 1e-2, "the adapter changes the outputs");
    const merged = peft.mergeAndUnload() as LlamaForCausalLM;
    for (const [dtype, tol] of [["float32", 1e-5], ["float16", 4e-3], ["bfloat16", 4e-2]] as const) {
      await merged.savePretrained(`${dir}/${dtype}`, { dtype });
      const back = await AutoModelForCausalLM.fromPretrained(`${dir}/${dtype}`);
      const err = maxRelErr(back.forward(ids).dataSync(), adapted);
      assert(err <= tol, `${dtype}: ${err} > ${tol}`);
    }
  });
});
