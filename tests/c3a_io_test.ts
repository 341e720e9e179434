// Adapter files (spec §4): savePretrained → fromPretrained round trip (exact), PEFT's JSON keys and
// safetensors keys/dtypes/shapes/metadata (read back with the project's reader), re-saving a PEFT fixture
// reproduces PEFT's files, sub-folders for non-default adapters, biases and modules_to_save, errors.
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./deps.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { C3AModel, getPeftModel } from "../src/c3a/model.ts";
import type { C3ALinear } from "../src/c3a/layer.ts";
import { setWarningHandler, ValueError } from "../src/c3a/errors.ts";
import { decodeSafetensors, loadSafetensors, saveSafetensors } from "../src/io/safetensors.ts";
import { ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME } from "../src/c3a/save_and_load.ts";
import { LlamaForCausalLM } from "../src/models/llama.ts";
import { FIXTURES, lcgData, Net, netOutput as out, PEFT_KEYS, setData } from "./_c3a_util.ts";

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "c3a_io_test_" });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function ls(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.isDirectory ? e.name + "/" : e.name);
  return names.sort();
}

Deno.test("savePretrained writes PEFT's files; fromPretrained reproduces the outputs exactly", async () => {
  const dir = await tmp();
  try {
    const cfg = new C3AConfig({
      blockSize: 4,
      targetModules: ["lin0", "lin1"],
      blockSizePattern: { lin1: 2 },
      taskType: "FEATURE_EXTRACTION",
    });
    const peft = getPeftModel(new Net(), cfg);
    // train-like change of the kernels so that we do not test only the initialisation
    for (const [, l] of peft.c3aLayers()) {
      const k = l.c3a_kernel.get("default")!;
      setData(k, lcgData(k.size, k.size));
    }
    const y = out(peft);
    await peft.savePretrained(dir);
    assertEquals(await ls(dir), [ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME]); // no temp files left
    // saving again over existing files is refused (nothing written) unless overwrite is passed
    const firstBytes = await Deno.readFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`);
    const k0 = peft.c3aLayers()[0][1].c3a_kernel.get("default")!;
    const k0Before = new Float32Array(k0.dataSync());
    setData(k0, new Float32Array(k0.size).fill(0.5));
    await assertRejects(() => peft.savePretrained(dir), Error, `${dir}/${ADAPTER_CONFIG_NAME} exists`);
    assertEquals(await Deno.readFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`), firstBytes);
    await peft.savePretrained(dir, { overwrite: true });
    assert(!equalBytes(await Deno.readFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`), firstBytes), "replaced");
    setData(k0, k0Before);
    await peft.savePretrained(dir, { overwrite: true });
    assertEquals(await Deno.readFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`), firstBytes);
    assertEquals(cfg.inferenceMode, false, "in-memory config untouched");

    const text = await Deno.readTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`);
    const json = JSON.parse(text);
    assertEquals(Object.keys(json), PEFT_KEYS);
    assertEquals(json.peft_type, "C3A");
    assertEquals(json.inference_mode, true);
    assertEquals(json.block_size, 4);
    assertEquals(json.block_size_pattern, { lin1: 2 });
    assertEquals(json.target_modules, ["lin0", "lin1"]);
    assertEquals(json.auto_mapping, null);
    assert(text.startsWith('{\n  "auto_mapping": null,\n  "base_model_name_or_path"'), "indent=2, sorted");

    const bytes = await Deno.readFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`);
    const { tensors, metadata } = decodeSafetensors(bytes);
    assertEquals(metadata, { format: "pt" });
    assertEquals(Object.keys(tensors).sort(), [
      "base_model.model.lin0.c3a_kernel",
      "base_model.model.lin1.c3a_kernel",
    ]);
    assertEquals(tensors["base_model.model.lin0.c3a_kernel"].dtype, "F32");
    assertEquals(tensors["base_model.model.lin0.c3a_kernel"].shape, [3, 2, 4]);
    assertEquals(tensors["base_model.model.lin1.c3a_kernel"].shape, [4, 6, 2]);
    // header dtype read from the raw JSON header too
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assertEquals(header["base_model.model.lin1.c3a_kernel"].dtype, "F32");

    const again = await C3AModel.fromPretrained(new Net(), dir);
    assertEquals([...out(again)], [...y]);
    assertEquals(again.getNbTrainableParameters()[0], 0);
    const trainable = await C3AModel.fromPretrained(new Net(), dir, {
      isTrainable: true,
      adapterName: "mine",
    });
    assertEquals(trainable.getNbTrainableParameters()[0], 24 + 48);
    assertEquals(trainable.activeAdapters, ["mine"]);
    assertEquals([...out(trainable)], [...y]);
    assert(trainable.training);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("re-saving PEFT's mini_llama adapters reproduces adapter_config.json byte for byte and the tensors", async () => {
  const spec = JSON.parse(await Deno.readTextFile(new URL("mini_llama/model_spec.json", FIXTURES)));
  const { tensors: base } = await loadSafetensors(new URL("mini_llama/model.safetensors", FIXTURES));
  for (const adapter of ["c3a_qvdown", "c3a_regex_l1"]) {
    const dir = await tmp();
    try {
      const lm = new LlamaForCausalLM({ ...spec.config, use_rotary_embeddings: false });
      lm.loadHfStateDict(base);
      const src = new URL(`mini_llama/${adapter}/`, FIXTURES);
      const peft = await C3AModel.fromPretrained(lm, src.pathname);
      await peft.savePretrained(dir);
      assertEquals(
        await Deno.readTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`),
        await Deno.readTextFile(new URL(ADAPTER_CONFIG_NAME, src)),
      );
      const mine = await loadSafetensors(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`);
      const theirs = await loadSafetensors(new URL(ADAPTER_SAFE_WEIGHTS_NAME, src));
      assertEquals(mine.metadata, theirs.metadata);
      assertEquals(Object.keys(mine.tensors).sort(), Object.keys(theirs.tensors).sort());
      for (const [k, t] of Object.entries(theirs.tensors)) {
        assertEquals(mine.tensors[k].shape, t.shape);
        assertEquals(mine.tensors[k].dtype, t.dtype);
        assertEquals([...mine.tensors[k].data], [...t.data], k);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("non-default adapters go to sub-folders; selectedAdapters; loadAdapter adds an inactive adapter", async () => {
  const dir = await tmp();
  try {
    const peft = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }));
    peft.addAdapter(
      "other",
      new C3AConfig({ blockSize: 2, targetModules: ["lin1"], initWeights: "gaussian" }),
    );
    await peft.savePretrained(dir);
    assertEquals(await ls(dir), [ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME, "other/"]);
    assertEquals(await ls(`${dir}/other`), [ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME]);
    const other = (await loadSafetensors(`${dir}/other/${ADAPTER_SAFE_WEIGHTS_NAME}`)).tensors;
    assertEquals(Object.keys(other), ["base_model.model.lin1.c3a_kernel"]);
    assertEquals(other["base_model.model.lin1.c3a_kernel"].shape, [4, 6, 2]);

    peft.setAdapter("other");
    const yOther = out(peft);
    const sel = await tmp();
    await peft.savePretrained(sel, { selectedAdapters: ["other"] });
    assertEquals(await ls(sel), ["other/"]);
    await Deno.remove(sel, { recursive: true });
    await assertRejects(() => peft.savePretrained(dir, { selectedAdapters: ["nope"] }), ValueError, '"nope"');

    const loaded = await C3AModel.fromPretrained(new Net(), dir);
    await loaded.loadAdapter(`${dir}/other`, "other");
    assertEquals(loaded.activeAdapters, ["default"]);
    assertEquals(
      (loaded.model.getSubmodule("lin1") as C3ALinear).c3a_kernel.get("other")!.requiresGrad,
      false,
    );
    loaded.setAdapter("other");
    assertEquals([...out(loaded)], [...yOther]);
    await assertRejects(() => loaded.loadAdapter(`${dir}/other`, "other"), ValueError, "already exists");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bias and modules_to_save tensors are saved under PEFT's keys and load back", async () => {
  for (const bias of ["c3a_only", "all"]) {
    const dir = await tmp();
    try {
      const peft = getPeftModel(
        new Net(),
        new C3AConfig({ blockSize: 4, targetModules: ["lin0"], bias, modulesToSave: ["head"] }),
      );
      for (const p of peft.parameters().filter((q) => q.requiresGrad)) {
        setData(p, lcgData(p.size, p.size + 1));
      }
      const y = out(peft);
      await peft.savePretrained(dir);
      const keys = Object.keys((await loadSafetensors(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`)).tensors).sort();
      const expected = bias === "c3a_only"
        ? [
          "base_model.model.head.bias",
          "base_model.model.head.weight",
          "base_model.model.lin0.base_layer.bias",
          "base_model.model.lin0.c3a_kernel",
        ]
        : [
          "base_model.model.head.bias",
          "base_model.model.head.weight",
          "base_model.model.lin0.base_layer.bias",
          "base_model.model.lin0.c3a_kernel",
          "base_model.model.lin1.bias",
        ];
      assertEquals(keys, expected);
      const again = await C3AModel.fromPretrained(new Net(), dir);
      assertEquals([...out(again)], [...y], bias);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("load errors: missing files, non-C3A peft_type, shape mismatch names key and shapes, missing keys warn", async () => {
  const dir = await tmp();
  try {
    await assertRejects(
      () => C3AModel.fromPretrained(new Net(), `${dir}/nowhere`),
      Error,
      "Can't find 'adapter_config.json'",
    );
    const cfg = new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] });
    await Deno.writeTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`, cfg.toJSONString());
    const e = await assertRejects(() => C3AModel.fromPretrained(new Net(), dir), Error, "Can't find weights");
    assertStringIncludes(e.message, ADAPTER_SAFE_WEIGHTS_NAME);
    await Deno.writeFile(`${dir}/adapter_model.bin`, new Uint8Array(4));
    await assertRejects(() => C3AModel.fromPretrained(new Net(), dir), Error, "PyTorch pickle");
    await Deno.remove(`${dir}/adapter_model.bin`);

    await Deno.writeTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`, JSON.stringify({ peft_type: "LORA", r: 8 }));
    await assertRejects(() => C3AModel.fromPretrained(new Net(), dir), ValueError, '"LORA"');

    // kernels saved with block size 2 but the config says 4
    await Deno.writeTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`, cfg.toJSONString());
    await saveSafetensors(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`, {
      "base_model.model.lin0.c3a_kernel": { shape: [6, 4, 2], data: new Float32Array(48) },
      "base_model.model.lin1.c3a_kernel": { shape: [2, 3, 4], data: new Float32Array(24) },
    }, { format: "pt" });
    const net = new Net();
    const se = await assertRejects(
      () => C3AModel.fromPretrained(net, dir),
      RangeError,
      "base_model.model.lin0.c3a_kernel",
    );
    assertStringIncludes(se.message, "[6, 4, 2]");
    assertStringIncludes(se.message, "[3, 2, 4]");
    assertStringIncludes(se.message, "block size");

    // one kernel missing, one unknown key (without the base_model.model. prefix): warnings
    await saveSafetensors(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`, {
      "lin1.c3a_kernel": { shape: [2, 3, 4], data: new Float32Array(24).fill(0.5) },
      "base_model.model.zzz.c3a_kernel": { shape: [1], data: new Float32Array(1) },
    }, { format: "pt" });
    const warnings: string[] = [];
    const prev = setWarningHandler((m) => warnings.push(m));
    let peft: C3AModel;
    try {
      peft = await C3AModel.fromPretrained(new Net(), dir);
    } finally {
      setWarningHandler(prev);
    }
    assertEquals(warnings.length, 2, warnings.join("\n"));
    assertEquals(
      warnings[0],
      "Found missing adapter keys while loading the checkpoint: ['base_model.model.lin0.c3a_kernel']",
    );
    assertStringIncludes(warnings[1], "'base_model.model.zzz.c3a_kernel'");
    assert(
      (peft!.model.getSubmodule("lin1") as C3ALinear).c3a_kernel.get("default")!.dataSync().every((v) =>
        v === 0.5
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("adapter names must be plain folder names: rejected at getPeftModel/addAdapter/save/load", async () => {
  const bad = ["a/b", "..", "", ".", "../evil", "a\\b", "/abs", "x y", "a:b", "a.b", "ü", "x".repeat(129)];
  const dir = await tmp();
  try {
    const cfg = () => new C3AConfig({ blockSize: 4, targetModules: ["lin0"] });
    const peft = getPeftModel(new Net(), cfg());
    for (const n of bad) {
      const e = assertThrows(() => getPeftModel(new Net(), cfg(), { adapterName: n }), ValueError);
      assertStringIncludes(e.message, 'A-Z, a-z, 0-9, "_" and "-"');
      assertThrows(() => peft.addAdapter(n, cfg()), ValueError, "invalid adapter name");
      // checked before any file is read: the directory does not even exist
      await assertRejects(
        () => C3AModel.fromPretrained(new Net(), `${dir}/nowhere`, { adapterName: n }),
        ValueError,
        "invalid adapter name",
      );
      await assertRejects(() => peft.loadAdapter(`${dir}/nowhere`, n), ValueError, "invalid adapter name");
      await assertRejects(
        () => peft.savePretrained(`${dir}/out`, { selectedAdapters: [n] }),
        ValueError,
        "invalid adapter name",
      );
    }
    assertEquals(Object.keys(peft.peftConfig), ["default"]);
    // a name smuggled into peftConfig directly is refused when saving, and nothing is written
    peft.peftConfig["../evil"] = cfg();
    await assertRejects(() => peft.savePretrained(`${dir}/out`), ValueError, '"../evil"');
    delete peft.peftConfig["../evil"];
    assertEquals(await ls(dir), []);
    // allowed characters work and give one folder directly under dir
    peft.addAdapter("My-adapter_2", cfg());
    await peft.savePretrained(`${dir}/out`);
    assertEquals(await ls(`${dir}/out`), ["My-adapter_2/", ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME]);
    assertEquals(await ls(dir), ["out/"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
