// Adapter files in memory (no file system): adapterToFiles / C3AModel.fromFiles / loadAdapterFromFiles.
// References: PEFT's own mini_llama adapter files (tests/fixtures/peft, written by Python PEFT), and the
// model the files came from (its outputs before saving).
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./deps.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { C3AModel, getPeftModel } from "../src/c3a/model.ts";
import { C3ALinear } from "../src/c3a/layer.ts";
import { ValueError } from "../src/c3a/errors.ts";
import { adapterToFiles } from "../src/c3a/save_and_load.ts";
import { decodeSafetensors, encodeSafetensors, loadSafetensors } from "../src/io/safetensors.ts";
import { LlamaForCausalLM } from "../src/models/llama.ts";
import { randn } from "../src/tensor/random.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { FIXTURES, lcgData, Net, netOutput as out, setData } from "./_c3a_util.ts";

function trainedNet(blockSize = 4): C3AModel {
  const peft = getPeftModel(new Net(), new C3AConfig({ blockSize, targetModules: ["lin0", "lin1"] }));
  for (const [, l] of peft.c3aLayers()) {
    const k = l.c3a_kernel.get("default")!;
    setData(k, lcgData(k.size, k.size + 7));
  }
  return peft;
}

Deno.test("adapterToFiles: the same two files savePretrained writes, byte for byte", async () => {
  const peft = trainedNet();
  const files = adapterToFiles(peft);
  const dir = await Deno.makeTempDir({ prefix: "c3a_files_test_" });
  try {
    await peft.savePretrained(dir);
    assertEquals(files["adapter_config.json"], await Deno.readTextFile(`${dir}/adapter_config.json`));
    assertEquals(files["adapter_model.safetensors"], await Deno.readFile(`${dir}/adapter_model.safetensors`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const decoded = decodeSafetensors(files["adapter_model.safetensors"]);
  assertEquals(decoded.metadata, { format: "pt" });
  assertEquals(Object.keys(decoded.tensors).sort(), [
    "base_model.model.lin0.c3a_kernel",
    "base_model.model.lin1.c3a_kernel",
  ]);
});

Deno.test("fromFiles reproduces the saved model's outputs exactly, from bytes and from Blobs", async () => {
  const peft = trainedNet();
  const y = out(peft);
  const files = adapterToFiles(peft);
  const fromBytes = await C3AModel.fromFiles(new Net(), files);
  assertEquals(out(fromBytes), y);
  assert(!fromBytes.training, "frozen and in eval mode by default, like fromPretrained");
  const fromBlobs = await C3AModel.fromFiles(new Net(), {
    "adapter_config.json": new Blob([files["adapter_config.json"]]),
    "adapter_model.safetensors": new Blob([files["adapter_model.safetensors"].slice()]),
  }, { isTrainable: true });
  assertEquals(out(fromBlobs), y);
  assert(fromBlobs.parameters().some((p) => p.requiresGrad), "isTrainable keeps the kernels trainable");
});

Deno.test("fromFiles reads PEFT's own mini_llama adapter files like fromPretrained does", async () => {
  const spec = JSON.parse(await Deno.readTextFile(new URL("mini_llama/model_spec.json", FIXTURES)));
  const { tensors: base } = await loadSafetensors(new URL("mini_llama/model.safetensors", FIXTURES));
  const src = new URL("mini_llama/c3a_qvdown/", FIXTURES);
  const lm = () => {
    const m = new LlamaForCausalLM({ ...spec.config, use_rotary_embeddings: false });
    m.loadHfStateDict(base);
    return m;
  };
  const peft = await C3AModel.fromFiles(lm(), {
    "adapter_config.json": await Deno.readFile(new URL("adapter_config.json", src)),
    "adapter_model.safetensors": await Deno.readFile(new URL("adapter_model.safetensors", src)),
  });
  const theirs = (await loadSafetensors(new URL("adapter_model.safetensors", src))).tensors;
  const mine = decodeSafetensors(adapterToFiles(peft)["adapter_model.safetensors"]).tensors;
  assertEquals(Object.keys(mine).sort(), Object.keys(theirs).sort());
  for (const [k, t] of Object.entries(theirs)) assertEquals([...mine[k].data], [...t.data], k);
  assertEquals(
    adapterToFiles(peft)["adapter_config.json"],
    await Deno.readTextFile(new URL("adapter_config.json", src)),
  );
});

Deno.test("fromFiles: a kernel of the wrong block size throws and leaves the base model as it was", async () => {
  const files = adapterToFiles(trainedNet(4));
  const other = adapterToFiles(trainedNet(2));
  const base = new Net();
  const before = base.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`);
  const err = await assertRejects(
    () =>
      C3AModel.fromFiles(base, {
        "adapter_config.json": files["adapter_config.json"],
        "adapter_model.safetensors": other["adapter_model.safetensors"],
      }),
    RangeError,
  );
  assertStringIncludes(err.message, "size mismatch for base_model.model.lin0.c3a_kernel");
  assertEquals(base.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`), before);
  assert(!base.namedModules().some(([, m]) => m instanceof C3ALinear));
  // the same base model can be adapted afterwards
  assertEquals((await C3AModel.fromFiles(base, files)).peftConfig.default.blockSize, 4);
});

Deno.test("fromFiles: missing or corrupt files are one-line errors naming the file", async () => {
  const files = adapterToFiles(trainedNet());
  await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => C3AModel.fromFiles(new Net(), { "adapter_config.json": files["adapter_config.json"] } as any),
    TypeError,
    "adapter_model.safetensors",
  );
  await assertRejects(
    () =>
      C3AModel.fromFiles(new Net(), {
        "adapter_config.json": "{ not json",
        "adapter_model.safetensors": files["adapter_model.safetensors"],
      }),
    SyntaxError,
    "adapter_config.json is not valid JSON",
  );
  await assertRejects(
    () =>
      C3AModel.fromFiles(new Net(), {
        "adapter_config.json": files["adapter_config.json"],
        "adapter_model.safetensors": files["adapter_model.safetensors"].slice(0, 20),
      }),
    Error,
    "(file adapter_model.safetensors)",
  );
});

Deno.test("loadAdapterFromFiles adds an inactive adapter; a taken name or a bad file changes nothing", async () => {
  const peft = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }));
  const y = out(peft);
  const donor = trainedNet(2);
  const files = adapterToFiles(donor);
  await assertRejects(() => peft.loadAdapterFromFiles(files, "default"), ValueError, "already exists");
  const bad = {
    "adapter_config.json": files["adapter_config.json"],
    "adapter_model.safetensors": encodeSafetensors({
      "base_model.model.lin0.c3a_kernel": { shape: [1, 1, 3], data: new Float32Array(3) },
    }),
  };
  await assertRejects(() => peft.loadAdapterFromFiles(bad, "other"), RangeError, "size mismatch");
  assertEquals(Object.keys(peft.peftConfig), ["default"]);
  await peft.loadAdapterFromFiles(files, "other");
  assertEquals(Object.keys(peft.peftConfig), ["default", "other"]);
  assertEquals(out(peft), y, "the loaded adapter is not active");
  peft.setAdapter("other");
  assertEquals(out(peft), out(donor));
});

Deno.test("C3AModel<M> keeps the base model's types: forward's signature, model, mergeAndUnload/unload", async () => {
  // Checked by `deno check`: each @ts-expect-error fails the type check if the line becomes valid.
  const peft = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }));
  const net: Net = peft.model;
  assert(net instanceof Net);
  const y: Tensor = peft.forward(randn([2, 8]));
  assertEquals(y.shape, [2, 4]);
  // @ts-expect-error Net.forward takes a Tensor, not a string
  assertThrowsAny(() => peft.forward("x"));
  const loaded = await C3AModel.fromFiles(new Net(), adapterToFiles(peft));
  const merged: Net = loaded.mergeAndUnload();
  assert(merged instanceof Net);
  const plain: Net = getPeftModel(new Net(), new C3AConfig({ blockSize: 2, targetModules: ["lin1"] }))
    .unload();
  assert(plain instanceof Net);
});

function assertThrowsAny(f: () => unknown): void {
  let threw = false;
  try {
    f();
  } catch {
    threw = true;
  }
  assert(threw, "expected an error");
}
