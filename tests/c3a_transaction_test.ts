// Failed adapter injection / loading leaves the caller's model exactly as it was (structure: the same
// module objects at the same paths; every parameter object, value and requiresGrad flag; training
// flags; C3AModel adapters, active set and configs), and adapting the same base model twice cannot
// silently overwrite the first C3AModel's kernels. The reference is a snapshot taken before the call.
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./deps.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { C3AModel, getPeftModel } from "../src/c3a/model.ts";
import { C3ALinear } from "../src/c3a/layer.ts";
import { BlockSizeError, captureWarnings, setWarningHandler, ValueError } from "../src/c3a/errors.ts";
import { SafetensorsError, saveSafetensors } from "../src/io/safetensors.ts";
import { ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME } from "../src/c3a/save_and_load.ts";
import { Linear } from "../src/nn/linear.ts";
import type { Module } from "../src/nn/module.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { lcgData, Net, netInput, netOutput as out, setData } from "./_c3a_util.ts";

/** A module whose deep copy fails: as modules_to_save it makes the injection fail half-way. */
class Uncopyable extends Linear {
  clone(): this {
    throw new Error("cannot copy Uncopyable");
  }
}

class NetWithUncopyable extends Net {
  extra: Uncopyable;
  constructor() {
    super();
    this.extra = new Uncopyable(4, 4);
  }
}

interface Snapshot {
  modules: Array<[string, Module, boolean]>;
  params: Array<[string, unknown, boolean, number[]]>;
}

/** Everything about a model that a failed call must not change. */
function snapshot(m: Module): Snapshot {
  return {
    modules: m.namedModules().map(([n, mod]) => [n, mod, mod.training]),
    params: m.namedParameters().map(([n, p]) => [n, p, p.requiresGrad, [...p.dataSync()]]),
  };
}

function assertUnchanged(m: Module, before: Snapshot, what: string): void {
  const now = snapshot(m);
  assertEquals(now.modules.map(([n]) => n), before.modules.map(([n]) => n), `${what}: module paths`);
  for (let i = 0; i < before.modules.length; i++) {
    assert(now.modules[i][1] === before.modules[i][1], `${what}: module "${before.modules[i][0]}" replaced`);
    assertEquals(
      now.modules[i][2],
      before.modules[i][2],
      `${what}: training flag of "${before.modules[i][0]}"`,
    );
  }
  assertEquals(now.params.map(([n]) => n), before.params.map(([n]) => n), `${what}: parameter names`);
  for (let i = 0; i < before.params.length; i++) {
    const [n, p, rg, data] = before.params[i];
    assert(now.params[i][1] === p, `${what}: parameter "${n}" replaced`);
    assertEquals(now.params[i][2], rg, `${what}: requiresGrad of "${n}"`);
    assertEquals(now.params[i][3], data, `${what}: values of "${n}"`);
  }
}

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "c3a_transaction_test_" });
}

/** Save (or replace) a trained-looking adapter for Net and return the expected outputs. */
async function saveAdapter(dir: string, cfg: C3AConfig): Promise<Float32Array> {
  const peft = getPeftModel(new Net(), cfg);
  for (const p of peft.parameters().filter((q) => q.requiresGrad)) setData(p, lcgData(p.size, p.size + 3));
  await peft.savePretrained(dir, { overwrite: true });
  return out(peft);
}

Deno.test("fromPretrained: a truncated or corrupt weight file leaves the base model untouched", async () => {
  const dir = await tmp();
  try {
    const y = await saveAdapter(dir, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
    const path = `${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`;
    const good = await Deno.readFile(path);
    const base = new Net();
    base.lin1.train(false); // mixed training flags must survive too
    const before = snapshot(base);
    for (const bad of [good.slice(0, good.length - 10), good.slice(0, 20), new Uint8Array(3)]) {
      await Deno.writeFile(path, bad);
      await assertRejects(() => C3AModel.fromPretrained(base, dir), SafetensorsError);
      assertUnchanged(base, before, `truncated to ${bad.length} bytes`);
    }
    // a second attempt on the same base, with the good file, works and gives the saved outputs
    await Deno.writeFile(path, good);
    const peft = await C3AModel.fromPretrained(base, dir);
    assertEquals([...out(peft)], [...y]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fromPretrained: block-size / shape mismatch is rolled back; a second try re-injects cleanly", async () => {
  const dir = await tmp();
  try {
    const y = await saveAdapter(dir, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
    const goodConfig = await Deno.readTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`);
    // the config now claims block size 2: the kernels in the file ([3, 2, 4], [2, 3, 4]) do not fit
    const wrong = JSON.parse(goodConfig);
    wrong.block_size = 2;
    await Deno.writeTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`, JSON.stringify(wrong));
    const base = new Net();
    const before = snapshot(base);
    const e = await assertRejects(() => C3AModel.fromPretrained(base, dir), RangeError, "size mismatch");
    assertStringIncludes(e.message, "block size");
    assertUnchanged(base, before, "block size mismatch");
    assert(!(base.lin0 as unknown instanceof C3ALinear));

    // same with isTrainable (kernels would be trainable) and another adapter name
    await assertRejects(
      () => C3AModel.fromPretrained(base, dir, { isTrainable: true, adapterName: "mine" }),
      RangeError,
    );
    assertUnchanged(base, before, "block size mismatch, isTrainable");

    // a kernel for a layer whose block size is fine, but a bias tensor of the wrong shape (bias "all")
    const biasCfg = JSON.parse(goodConfig);
    biasCfg.bias = "all";
    await Deno.writeTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`, JSON.stringify(biasCfg));
    const kernels = {
      "base_model.model.lin0.c3a_kernel": { shape: [3, 2, 4], data: new Float32Array(24).fill(1) },
      "base_model.model.lin1.c3a_kernel": { shape: [2, 3, 4], data: new Float32Array(24).fill(1) },
    };
    await saveSafetensors(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`, {
      ...kernels,
      "base_model.model.head.bias": { shape: [5], data: new Float32Array(5).fill(9) },
      "base_model.model.lin0.base_layer.bias": { shape: [12], data: new Float32Array(12).fill(9) },
    }, { format: "pt" });
    await assertRejects(() => C3AModel.fromPretrained(base, dir), RangeError, "base_model.model.head.bias");
    assertUnchanged(base, before, "bias shape mismatch (no bias value copied)");

    // correct files again: loads onto the same base object and reproduces the saved model
    await Deno.writeTextFile(`${dir}/${ADAPTER_CONFIG_NAME}`, goodConfig);
    await saveAdapter(dir, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
    const peft = await C3AModel.fromPretrained(base, dir);
    assertEquals([...out(peft)], [...y]);
    assertEquals(peft.c3aLayers().map(([n, l]) => [n, l.adapterNames]), [["lin0", ["default"]], [
      "lin1",
      ["default"],
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fromPretrained: a bad config fails before the model is touched", async () => {
  const dir = await tmp();
  try {
    await saveAdapter(dir, new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }));
    const base = new Net();
    const before = snapshot(base);
    const cases: Array<[Record<string, unknown> | string, new (message: string) => Error, string]> = [
      ["{not json", SyntaxError, "not valid JSON"],
      [{ peft_type: "C3A", block_size: "4", target_modules: ["lin0"] }, TypeError, "blockSize"],
      [{ peft_type: "C3A", block_size: 5, target_modules: ["lin0"] }, BlockSizeError, "factor"],
      [{ peft_type: "C3A", block_size: 4, target_modules: ["nope"] }, ValueError, "nope"],
      [{ peft_type: "C3A", block_size: 4, target_modules: ["lin0"], init_weights: "bad" }, ValueError, "bad"],
      [{ peft_type: "C3A", block_size: 4, target_modules: ["lin0"], bias: "some" }, Error, "Requested bias"],
    ];
    for (const [cfg, cls, msg] of cases) {
      await Deno.writeTextFile(
        `${dir}/${ADAPTER_CONFIG_NAME}`,
        typeof cfg === "string" ? cfg : JSON.stringify(cfg),
      );
      await assertRejects(() => C3AModel.fromPretrained(base, dir), cls, msg);
      assertUnchanged(base, before, `config ${JSON.stringify(cfg)}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("getPeftModel: a failure half-way through the injection unwraps what was already wrapped", () => {
  const base = new NetWithUncopyable();
  base.head.weight.requiresGrad = true;
  base.lin1.weight.requiresGrad = false; // unusual flags must come back as they were
  const before = snapshot(base);
  const cfg = new C3AConfig({
    blockSize: 4,
    targetModules: ["lin0", "lin1"],
    modulesToSave: ["extra"],
    taskType: "SEQ_CLS",
  });
  const mts = cfg.modulesToSave;
  assertThrows(() => getPeftModel(base, cfg), Error, "cannot copy Uncopyable");
  assertUnchanged(base, before, "modules_to_save copy failed");
  // the config is restored too (SEQ_CLS adds classifier/score to modules_to_save only on success)
  assertEquals(cfg.modulesToSave, ["extra"]);
  assert(cfg.modulesToSave === mts);
  // the base can be adapted afterwards
  const peft = getPeftModel(base, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
  assertEquals(peft.c3aLayers().length, 2);
});

Deno.test("loadAdapter / addAdapter: a failed load leaves no half-added adapter", async () => {
  const dir = await tmp();
  try {
    // adapter "other" adapts lin0 (already wrapped) and head (not wrapped yet)
    const otherCfg = new C3AConfig({ blockSize: 4, targetModules: ["lin0", "head"] });
    const peftSrc = getPeftModel(new Net(), otherCfg);
    for (const p of peftSrc.parameters().filter((q) => q.requiresGrad)) setData(p, lcgData(p.size, 5));
    await peftSrc.savePretrained(dir);

    const peft = getPeftModel(new Net(), new C3AConfig({ blockSize: 2, targetModules: ["lin0", "lin1"] }));
    const before = snapshot(peft.model);
    const kernels = await Deno.readFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`);
    // kernels of the wrong block size for head: the config says 4, the file has b = 2
    await saveSafetensors(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`, {
      "base_model.model.lin0.c3a_kernel": { shape: [3, 2, 4], data: new Float32Array(24) },
      "base_model.model.head.c3a_kernel": { shape: [2, 4, 2], data: new Float32Array(16) },
    }, { format: "pt" });
    await assertRejects(() => peft.loadAdapter(dir, "other", { isTrainable: true }), RangeError, "head");
    assertUnchanged(peft.model, before, "loadAdapter shape mismatch");
    assertEquals(Object.keys(peft.peftConfig), ["default"]);
    assertEquals(peft.activeAdapters, ["default"]);
    assertEquals((peft.model.getSubmodule("lin0") as C3ALinear).adapterNames, ["default"]);
    assertEquals((peft.model.getSubmodule("lin0") as C3ALinear).activeAdapters, ["default"]);
    assert(peft.model.getSubmodule("head").constructor === Linear, "head must be a plain Linear again");

    // truncated file: fails before anything is injected
    await Deno.writeFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`, kernels.slice(0, 30));
    await assertRejects(() => peft.loadAdapter(dir, "other"), SafetensorsError);
    assertUnchanged(peft.model, before, "loadAdapter truncated file");

    // the good file loads under the same name afterwards
    await Deno.writeFile(`${dir}/${ADAPTER_SAFE_WEIGHTS_NAME}`, kernels);
    await peft.loadAdapter(dir, "other");
    peft.setAdapter("other");
    const ref = noGrad(() => peftSrc.model.forward(netInput()));
    // lin1 of `peft` has only "default", which is inactive now: same as peftSrc (lin1 unadapted)
    assertEquals([...out(peft)], [...ref.dataSync()]);

    // addAdapter failing half-way (modules_to_save copy) is undone as well
    const peft2 = getPeftModel(
      new NetWithUncopyable(),
      new C3AConfig({ blockSize: 2, targetModules: ["lin0"] }),
    );
    const before2 = snapshot(peft2.model);
    assertThrows(
      () =>
        peft2.addAdapter(
          "two",
          new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"], modulesToSave: ["extra"] }),
        ),
      Error,
      "cannot copy",
    );
    assertUnchanged(peft2.model, before2, "addAdapter failed half-way");
    assertEquals(Object.keys(peft2.peftConfig), ["default"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("getPeftModel twice on one base: PEFT's warning, and no silent overwrite of the first adapter", async () => {
  const base = new Net();
  const first = getPeftModel(base, new C3AConfig({ blockSize: 2, targetModules: ["lin0"] }));
  const k = (first.model.getSubmodule("lin0") as C3ALinear).c3a_kernel.get("default")!;
  setData(k, lcgData(k.size, 11));
  const y = out(first);
  const before = snapshot(base);

  const { warnings } = captureWarnings(() =>
    assertThrows(
      () => getPeftModel(base, new C3AConfig({ blockSize: 4, targetModules: ["lin0"] })),
      ValueError,
      "addAdapter",
    )
  );
  assertEquals(warnings.length, 1);
  assertStringIncludes(warnings[0], "modify a model with PEFT for a second time");
  assertUnchanged(base, before, "second getPeftModel refused");
  const lin0 = first.model.getSubmodule("lin0") as C3ALinear;
  assertEquals(lin0.c3aBlockSize, { default: 2 });
  assertEquals([...out(first)], [...y]);

  // fromPretrained onto the adapted base under the same name is refused the same way
  const dir = await tmp();
  try {
    await first.savePretrained(dir);
    const prev = setWarningHandler(() => {});
    try {
      await assertRejects(() => C3AModel.fromPretrained(base, dir), ValueError, "already has a C3A adapter");
    } finally {
      setWarningHandler(prev);
    }
    assertUnchanged(base, before, "fromPretrained onto an adapted base refused");
    // the first model's files still reload to the same outputs
    const again = await C3AModel.fromPretrained(new Net(), dir);
    assertEquals([...out(again)], [...y]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  // another adapter name is allowed (with the warning) and leaves the first kernel alone
  const second = captureWarnings(() =>
    getPeftModel(base, new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }), { adapterName: "second" })
  );
  assertEquals(second.warnings.length, 1);
  assertEquals(lin0.c3aBlockSize, { default: 2, second: 4 });
  assertEquals(first.peftConfig.default.blockSize, 2);
  assertEquals(lin0.c3a_kernel.get("default")!.shape, [6, 4, 2]);
});
