// C3AModel / getPeftModel (spec §3.3–§3.7, §5): injection, trainability, bias modes, modules_to_save,
// several adapters (summed = merged), disableAdapter (restores on throw, async), delete, merge/unload,
// errors. References: float64 naive forward written here, parameter counts from the formula out·in/b.
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./deps.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import { C3ALinear } from "../src/c3a/layer.ts";
import { cloneModule, ModulesToSaveWrapper } from "../src/c3a/modulesToSave.ts";
import {
  BlockSizeError,
  captureWarnings,
  NoMatchingPeftModuleError,
  NotImplementedError,
  ValueError,
} from "../src/c3a/errors.ts";
import { Module } from "../src/nn/module.ts";
import { Linear } from "../src/nn/linear.ts";
import { LayerNorm } from "../src/nn/normalization.ts";
import { LlamaForCausalLM } from "../src/models/llama.ts";
import { Generator } from "../src/tensor/random.ts";
import { fromFloat32Array, tensor } from "../src/tensor/creation.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { mseLoss } from "../src/ops/loss.ts";
import { SGD } from "../src/optim/sgd.ts";
import {
  assertClose,
  bccRef,
  lcgData,
  linearRef,
  maxAbsDiff,
  Net,
  NET_X as X,
  netInput as x,
  netOutput as out,
  setData,
} from "./_c3a_util.ts";

/** float64 reference of Net with optional C3A kernels per layer: [kernel, m, n, b]. */
function netRef(
  net: Net,
  k: Partial<Record<"lin0" | "lin1" | "head", [Float32Array, number, number, number]>>,
) {
  const lay = (name: "lin0" | "lin1" | "head", inp: Float64Array | Float32Array, rows: number) => {
    const l = net[name] as unknown as Linear | C3ALinear;
    const lin = l instanceof C3ALinear ? l.base_layer : l;
    const y = linearRef(
      inp,
      rows,
      lin.weight.dataSync(),
      lin.outFeatures,
      lin.inFeatures,
      lin.bias?.dataSync(),
    );
    const kk = k[name];
    if (kk) {
      const a = bccRef(inp, rows, kk[0], kk[1], kk[2], kk[3]);
      for (let i = 0; i < y.length; i++) y[i] += a[i] / lin.inFeatures;
    }
    return y;
  };
  const h0 = lay("lin0", X, 3).map((v) => Math.max(v, 0));
  return lay("head", lay("lin1", h0, 3), 3);
}

function kernelOf(m: Module, path: string, adapter = "default"): Float32Array {
  return (m.getSubmodule(path) as C3ALinear).c3a_kernel.get(adapter)!.dataSync().slice();
}

Deno.test("getPeftModel wraps the targets in place, freezes the base, PEFT names and counts", () => {
  const net = new Net();
  const before = out(net);
  const peft = getPeftModel(net, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
  assert(net.lin0 instanceof C3ALinear && net.lin1 instanceof C3ALinear && net.head instanceof Linear);
  assertEquals(
    peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n),
    ["lin0.c3a_kernel.default", "lin1.c3a_kernel.default"],
  );
  assertEquals(peft.namedParameters().map(([n]) => n), [
    "lin0.base_layer.weight",
    "lin0.base_layer.bias",
    "lin0.c3a_kernel.default",
    "lin1.base_layer.weight",
    "lin1.base_layer.bias",
    "lin1.c3a_kernel.default",
    "head.weight",
    "head.bias",
  ]);
  assertEquals(peft.namedModules().map(([n]) => n).filter((n) => n.startsWith("lin0")), [
    "lin0",
    "lin0.base_layer",
    "lin0.c3a_kernel",
  ]);
  const trainable = (12 * 8) / 4 + (8 * 12) / 4;
  const all = 8 * 12 + 12 + 12 * 8 + 8 + 8 * 4 + 4 + trainable;
  assertEquals(peft.getNbTrainableParameters(), [trainable, all]);
  const line = captureConsole(() => peft.printTrainableParameters());
  assertEquals(
    line,
    `trainable params: 48 || all params: ${all} || trainable%: ${(100 * trainable / all).toFixed(4)}`,
  );
  // forward = base + adapters (default init is non-zero, spec §2)
  const ref = netRef(net, { lin0: [kernelOf(net, "lin0"), 3, 2, 4], lin1: [kernelOf(net, "lin1"), 2, 3, 4] });
  assertClose(out(peft), ref, 1e-5, "adapted forward");
  assert(maxAbsDiff(out(peft), before) > 1e-4);
  assertThrows(() => getPeftModel(peft, new C3AConfig({ targetModules: ["head"] })), TypeError, "already");
});

function captureConsole(fn: () => string): string {
  const orig = console.log;
  const lines: string[] = [];
  console.log = (s: string) => lines.push(s);
  try {
    const r = fn();
    assertEquals(lines, [r]);
    return r;
  } finally {
    console.log = orig;
  }
}

Deno.test("initWeights true is an exact no-op start; training steps reduce the loss and touch only kernels", () => {
  const net = new Net();
  const base = out(net);
  const headW = net.head.weight.dataSync().slice();
  const peft = getPeftModel(
    net,
    new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"], initWeights: true }),
  );
  assertEquals([...out(peft)], [...base]);
  const target = fromFloat32Array(lcgData(12, 5), [3, 4]);
  const params = peft.parameters().filter((p) => p.requiresGrad);
  const opt = new SGD(params, { lr: 0.5 });
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const loss = mseLoss(peft.forward(x()), target);
    losses.push(loss.item());
    opt.zeroGrad();
    loss.backward();
    opt.step();
  }
  assert(losses[4] < losses[0], `loss ${losses}`);
  assertEquals([...net.head.weight.dataSync()], [...headW]);
  assert(net.head.weight.grad === null && (net.lin0 as unknown as C3ALinear).base_layer.weight.grad === null);
});

Deno.test("default targets by model type (llama -> q_proj, v_proj) and an unknown type", () => {
  const lm = new LlamaForCausalLM({
    model_type: "llama",
    vocab_size: 16,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
  } as never);
  const peft = getPeftModel(lm, new C3AConfig({ blockSize: 8 }));
  assertEquals(peft.c3aLayers().map(([n]) => n), [
    "model.layers.0.self_attn.q_proj",
    "model.layers.0.self_attn.v_proj",
    "model.layers.1.self_attn.q_proj",
    "model.layers.1.self_attn.v_proj",
  ]);
  assertEquals(peft.peftConfig.default.targetModules, ["q_proj", "v_proj"]);
  assertThrows(
    () => getPeftModel(new Net(), new C3AConfig({ blockSize: 4 })),
    ValueError,
    "Please specify `target_modules`",
  );
  // all-linear leaves lm_head out
  const lm2 = new LlamaForCausalLM({
    vocab_size: 16,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  });
  const p2 = getPeftModel(lm2, new C3AConfig({ blockSize: 8, targetModules: "all-linear" }));
  assertEquals(p2.c3aLayers().length, 7);
  assert(!p2.c3aLayers().some(([n]) => n === "lm_head"));
  // as in PEFT, the config keeps the expanded list (so it is what savePretrained writes)
  assertEquals(p2.peftConfig.default.targetModules, p2.c3aLayers().map(([n]) => n));
});

Deno.test("injection errors: non-Linear target, bad block size (lists divisors), nothing matched, bias", () => {
  class WithNorm extends Module {
    lin = new Linear(8, 8);
    norm = new LayerNorm(8);
    override forward(x: Tensor) {
      return this.norm.forward(this.lin.forward(x));
    }
  }
  const net = new WithNorm();
  const e = assertThrows(
    () => getPeftModel(net, new C3AConfig({ blockSize: 4, targetModules: ["norm"] })),
    TypeError,
  );
  assertStringIncludes(e.message, 'Target module "norm" (LayerNorm) is not supported');
  assert(net.lin instanceof Linear && !(net.norm instanceof C3ALinear)); // nothing was changed
  const bad = () =>
    new C3AConfig({ blockSize: 4, targetModules: ["lin0", "head"], blockSizePattern: { head: 3 } });
  const be = assertThrows(
    () => getPeftModel(new Net(), bad()),
    BlockSizeError,
    "However, the input size is 8 and the block size is 3",
  );
  assertStringIncludes(be.message, '"head"');
  assertStringIncludes(be.message, "1, 2, 4");
  const n = new Net();
  assertThrows(() => getPeftModel(n, bad()), BlockSizeError);
  assert(
    n.lin0 instanceof Linear,
    "validation happens before any layer is wrapped (lin0 comes first and is valid)",
  );
  assertThrows(
    () => getPeftModel(new Net(), new C3AConfig({ targetModules: ["q_proj"] })),
    NoMatchingPeftModuleError,
    "lin0, lin1, head",
  );
  assertThrows(
    () => getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"], bias: "some" })),
    NotImplementedError,
    "Requested bias: some, is not implemented.",
  );
  assertThrows(
    () =>
      getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"], initWeights: "zeros" })),
    ValueError,
    "Unknown init_weights",
  );
  const p = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"], bias: "all" }));
  assertThrows(
    () => p.addAdapter("b", new C3AConfig({ blockSize: 4, targetModules: ["lin0"], bias: "c3a_only" })),
    ValueError,
    "C3AModel supports only 1 adapter with bias",
  );
  assertThrows(
    () => p.addAdapter("default", new C3AConfig({ blockSize: 4, targetModules: ["lin0"] })),
    ValueError,
    "Adapter with name 'default' already exists.",
  );
  const w = captureWarnings(() =>
    p.addAdapter("c3a", new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }))
  );
  assertEquals(w.warnings, ["Adapter name c3a should not be contained in the prefix c3a_."]);
});

Deno.test("bias modes: none / all / c3a_only decide which biases train (spec §3.5)", () => {
  const trainable = (bias: string) => {
    const p = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"], bias }));
    return p.namedParameters().filter(([, q]) => q.requiresGrad).map(([n]) => n);
  };
  assertEquals(trainable("none"), ["lin0.c3a_kernel.default"]);
  assertEquals(trainable("all"), [
    "lin0.base_layer.bias",
    "lin0.c3a_kernel.default",
    "lin1.bias",
    "head.bias",
  ]);
  assertEquals(trainable("c3a_only"), ["lin0.base_layer.bias", "lin0.c3a_kernel.default"]);
  assertEquals(trainable("lora_only"), ["lin0.base_layer.bias", "lin0.c3a_kernel.default"]); // any "*_only"
  const p = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"], bias: "all" }));
  const r = captureWarnings(() => p.disableAdapter(() => 1));
  assertStringIncludes(r.warnings[0], "disabling adapter layers with bias configured to be 'all'");
});

Deno.test("modules_to_save: a trainable copy per adapter, original frozen; unload/merge pick the right module", () => {
  const net = new Net();
  const headW = net.head.weight.dataSync().slice();
  const peft = getPeftModel(
    net,
    new C3AConfig({ blockSize: 4, targetModules: ["lin0"], modulesToSave: ["head"] }),
  );
  assert(net.head instanceof ModulesToSaveWrapper);
  const wrapper = net.head as unknown as ModulesToSaveWrapper;
  assertEquals(peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n), [
    "lin0.c3a_kernel.default",
    "head.modules_to_save.default.weight",
    "head.modules_to_save.default.bias",
  ]);
  // change the copy: output follows the copy; disabled adapters use the original
  const copy = wrapper.modules_to_save.get("default") as Linear;
  setData(copy.weight, lcgData(32, 3));
  const y = out(peft);
  const yDisabled = peft.disableAdapter(() => out(peft));
  const baseNet = new Net(); // same seed -> same original weights
  assertEquals([...baseNet.head.weight.dataSync()], [...headW]);
  assertClose(yDisabled, out(baseNet), 1e-6, "disabled = base model");
  assert(maxAbsDiff(y, yDisabled) > 1e-3);
  // a second adapter gets its own copy, frozen while inactive
  peft.addAdapter("two", new C3AConfig({ blockSize: 2, targetModules: ["lin0"], modulesToSave: ["head"] }));
  assertEquals(wrapper.modules_to_save.keys(), ["default", "two"]);
  assertEquals(wrapper.modules_to_save.get("two")!.parameters().map((p) => p.requiresGrad), [false, false]);
  assertThrows(() => peft.setAdapter(["default", "two"]), ValueError, "modules_to_save");
  peft.setAdapter("two");
  assertEquals(wrapper.activeAdapter, "two");
  assertEquals(wrapper.modules_to_save.get("two")!.parameters().map((p) => p.requiresGrad), [true, true]);
  assertEquals(copy.parameters().map((p) => p.requiresGrad), [false, false]);
  peft.setAdapter("default");
  const merged = peft.mergeAndUnload();
  assert((merged as Net).head === copy, "merge keeps the active adapter's copy");
  const net2 = new Net();
  const p2 = getPeftModel(
    net2,
    new C3AConfig({ blockSize: 4, targetModules: ["lin0"], modulesToSave: ["head"] }),
  );
  const original = (net2.head as unknown as ModulesToSaveWrapper).original_module;
  assert((p2.unload() as Net).head === original, "unload restores the original module");
});

Deno.test("several adapters: addAdapter is inactive and frozen, setAdapter switches, a list sums = merged", () => {
  const net = new Net();
  const peft = getPeftModel(net, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }), {
    generator: new Generator(1),
  });
  const yA = out(peft);
  peft.addAdapter("b", new C3AConfig({ blockSize: 2, targetModules: ["lin0"], initWeights: "gaussian" }), {
    generator: new Generator(2),
  });
  assertEquals(peft.activeAdapters, ["default"]);
  assertEquals([...out(peft)], [...yA], "adding an adapter does not change the output");
  const l0 = net.lin0 as unknown as C3ALinear;
  assertEquals(l0.c3a_kernel.get("b")!.requiresGrad, false);
  assertEquals(l0.c3aBlockSize, { default: 4, b: 2 });
  peft.setAdapter("b");
  assertEquals(l0.c3a_kernel.get("b")!.requiresGrad, true);
  assertEquals(l0.c3a_kernel.get("default")!.requiresGrad, false);
  const refB = netRef(net, { lin0: [kernelOf(net, "lin0", "b"), 6, 4, 2] });
  assertClose(out(peft), refB, 1e-5, "only b");
  // both active: summed on lin0, default alone on lin1
  peft.setAdapter(["default", "b"]);
  const kd0 = kernelOf(net, "lin0"), kb0 = kernelOf(net, "lin0", "b"), kd1 = kernelOf(net, "lin1");
  const refSum = (() => {
    // lin0 gets two kernels: emulate with a summed float64 reference
    const lin0 = l0.base_layer;
    const y0 = linearRef(X, 3, lin0.weight.dataSync(), 12, 8, lin0.bias!.dataSync());
    const a = bccRef(X, 3, kd0, 3, 2, 4), b = bccRef(X, 3, kb0, 6, 4, 2);
    const h0 = y0.map((v, i) => Math.max(v + (a[i] + b[i]) / 8, 0));
    const lin1 = (net.lin1 as unknown as C3ALinear).base_layer;
    const y1 = linearRef(h0, 3, lin1.weight.dataSync(), 8, 12, lin1.bias!.dataSync());
    const c = bccRef(h0, 3, kd1, 2, 3, 4);
    return linearRef(
      y1.map((v, i) => v + c[i] / 12),
      3,
      net.head.weight.dataSync(),
      4,
      8,
      net.head.bias!.dataSync(),
    );
  })();
  const ySum = out(peft);
  assertClose(ySum, refSum, 1e-5, "sum of active adapters");
  peft.mergeAdapter();
  assertClose(out(peft), ySum, 1e-5, "merged = unmerged sum");
  const r = captureWarnings(() => peft.setAdapter("default"));
  assertEquals(r.warnings, ["Adapter cannot be set when the model is merged. Unmerging the model first."]);
  assert(!l0.merged);
  assertClose(out(peft), yA, 1e-5, "back to default after unmerge");
  assertThrows(() => peft.setAdapter("nope"), ValueError, "Adapter nope not found.");
});

Deno.test("deleteAdapter: merged adapters refuse, active fallback with warning, unknown name", () => {
  const peft = getPeftModel(new Net(), new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }), {
    adapterName: "z",
  });
  peft.addAdapter("a", new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
  peft.mergeAdapter();
  assertThrows(
    () => peft.deleteAdapter("z"),
    ValueError,
    "Cannot delete adapter(s) ['z'] while they are merged. Please unmerge them first.",
  );
  peft.unmergeAdapter();
  const r = captureWarnings(() => peft.deleteAdapter("z"));
  assertEquals(r.warnings, ["Adapter z was active which is now deleted. Setting active adapter to a."]);
  assertEquals(peft.activeAdapters, ["a"]);
  assertEquals(Object.keys(peft.peftConfig), ["a"]);
  assertEquals((peft.model.getSubmodule("lin0") as C3ALinear).adapterNames, ["a"]);
  assertEquals((peft.model.getSubmodule("lin1") as C3ALinear).activeAdapters, ["a"]);
  assertEquals(peft.getNbTrainableParameters()[0], (12 * 8) / 4 + (8 * 12) / 4);
  assertThrows(() => peft.deleteAdapter("z"), ValueError, "Adapter z does not exist");
});

Deno.test("disableAdapter: base output inside, state restored after return, throw and async", async () => {
  const net = new Net();
  const base = out(net);
  const peft = getPeftModel(net, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
  const adapted = out(peft);
  const flags = () => peft.parameters().map((p) => p.requiresGrad);
  const before = flags();
  const inside = peft.disableAdapter(() => {
    assert(peft.parameters().every((p) => !p.requiresGrad));
    return out(peft);
  });
  assertEquals([...inside], [...base]);
  assertEquals(flags(), before);
  assertEquals([...out(peft)], [...adapted]);
  assertThrows(
    () =>
      peft.disableAdapter(() => {
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assertEquals(flags(), before);
  assertEquals([...out(peft)], [...adapted]);
  const v = await peft.disableAdapter(async () => {
    await new Promise((r) => setTimeout(r, 1));
    return out(peft);
  });
  assertEquals([...v], [...base]);
  assertEquals([...out(peft)], [...adapted]);
  await assertRejects(
    () =>
      peft.disableAdapter(async () => {
        await Promise.resolve();
        throw new Error("late");
      }),
    Error,
    "late",
  );
  assertEquals(flags(), before);
  assertEquals([...out(peft)], [...adapted]);
});

Deno.test("mergeAndUnload / unload: plain Linear layers, same outputs, errors", () => {
  const net = new Net();
  const peft = getPeftModel(net, new C3AConfig({ blockSize: 4, targetModules: ["lin0", "lin1"] }));
  const adapted = out(peft);
  assertThrows(
    () => peft.mergeAndUnload({ adapterNames: "default" as unknown as string[] }),
    TypeError,
    "list of strings",
  );
  const k = (net.lin1 as unknown as C3ALinear).c3a_kernel.get("default")!;
  const saved = k.dataSync().slice();
  const bad = saved.slice();
  bad[0] = Infinity;
  setData(k, bad);
  assertThrows(
    () => peft.mergeAndUnload({ safeMerge: true }),
    ValueError,
    "The adapter default seems to be broken",
  );
  setData(k, saved);
  assert(net.lin1 instanceof C3ALinear, "structure intact after a failed safe merge");
  peft.unmergeAdapter(); // lin0 was merged before lin1 failed
  assertClose(out(peft), adapted, 1e-5, "after failed merge");
  const merged = peft.mergeAndUnload({ safeMerge: true }) as Net;
  assert(merged === net && net.lin0 instanceof Linear && net.lin1 instanceof Linear);
  assertClose(out(merged), adapted, 1e-5, "merged");
  assertThrows(() => peft.forward(x()), Error, "unloaded");
  // unload keeps deltas merged earlier with mergeAdapter (PEFT behaviour)
  const net2 = new Net();
  const base2 = out(net2);
  const p2 = getPeftModel(net2, new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }));
  const a2 = out(p2);
  p2.mergeAdapter();
  assertClose(out(p2.unload() as Net), a2, 1e-5, "unload after merge");
  const net3 = new Net();
  const p3 = getPeftModel(net3, new C3AConfig({ blockSize: 4, targetModules: ["lin0"] }));
  assertEquals([...out(p3.unload() as Net)], [...base2]);
});

Deno.test("inferenceMode freezes the new adapter's kernels; eval/train delegate to the base model", () => {
  const peft = getPeftModel(
    new Net(),
    new C3AConfig({ blockSize: 4, targetModules: ["lin0"], inferenceMode: true }),
  );
  assertEquals(peft.getNbTrainableParameters()[0], 0);
  peft.eval();
  assert(!peft.training && !peft.model.training && !peft.model.getSubmodule("lin0").training);
  peft.train();
  assert(peft.training && peft.model.getSubmodule("lin0.base_layer").training);
  assertEquals(tensor([1]).size, 1);
});

Deno.test("cloneModule: deep copy with buffers, nested modules, arrays and tied parameters", () => {
  class Inner extends Module {
    lin = new Linear(3, 3);
    constructor() {
      super();
      this.registerBuffer("stats", tensor([1, 2, 3]));
      this.registerBuffer("scratch", tensor([0]), false);
    }
  }
  class Outer extends Module {
    blocks = [new Inner(), new Inner()];
    tied: Linear;
    constructor() {
      super();
      this.tied = new Linear(3, 3);
      this.tied.weight = this.blocks[0].lin.weight; // tie
      this.tied.weight.requiresGrad = false;
    }
  }
  const o = new Outer().eval();
  const c = cloneModule(o);
  assert(c instanceof Outer && c !== o);
  assertEquals(Object.keys(c.stateDict()), Object.keys(o.stateDict()));
  assertEquals(c.namedBuffers().map(([n]) => n), o.namedBuffers().map(([n]) => n));
  for (const [k, t] of Object.entries(o.stateDict())) {
    assertEquals([...c.stateDict()[k].dataSync()], [...t.dataSync()], k);
  }
  assert(c.tied.weight === c.blocks[0].lin.weight, "tie preserved in the copy");
  assert(c.tied.weight !== o.tied.weight);
  assertEquals(c.tied.weight.requiresGrad, false);
  assert(!c.training && !c.blocks[1].training);
  setData(c.blocks[1].lin.bias!, [9, 9, 9]);
  assert(o.blocks[1].lin.bias!.dataSync()[0] !== 9, "independent storage");
});

Deno.test("getPeftModel on a bare Linear says the root cannot be adapted and how to wrap it", () => {
  for (const tm of [".*", "all-linear", ["weight"], null]) {
    const e = assertThrows(
      () => getPeftModel(new Linear(4, 6), new C3AConfig({ targetModules: tm, blockSize: 2 })),
      NoMatchingPeftModuleError,
      "the model itself is a Linear (4 -> 6)",
    );
    assertStringIncludes(e.message, "Wrap it in a Module");
    assertStringIncludes(e.message, "new Linear(4, 6)");
    assert(!e.message.includes('(e.g. "")'), e.message);
    assert(!/component: +\(/.test(e.message), e.message);
  }
  // the suggested wrapping works
  class Net extends Module {
    proj = new Linear(4, 6);
    override forward(x: Tensor): Tensor {
      return this.proj.forward(x);
    }
  }
  const peft = getPeftModel(new Net(), new C3AConfig({ targetModules: ["proj"], blockSize: 2 }));
  assertEquals(peft.c3aLayers().map(([n]) => n), ["proj"]);
});
