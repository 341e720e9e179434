// Tests of src/nn: Module discovery and naming, state dicts (strict errors), submodule paths, modes,
// and the layers' initialisation and forward against float64 references written here.
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { manualSeed, randn, sum, type Tensor, tensor, zeros } from "../src/tensor/index.ts";
import {
  Dropout,
  Embedding,
  LayerNorm,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  Parameter,
  ParameterDict,
  ReLU,
  RMSNorm,
  Sequential,
  SiLU,
} from "../src/nn/mod.ts";

class Attn extends Module {
  q_proj = new Linear(4, 4, { bias: false });
  k_proj = new Linear(4, 2, { bias: false });
}
class Block extends Module {
  self_attn = new Attn();
  input_layernorm = new RMSNorm(4);
}
class Inner extends Module {
  embed_tokens = new Embedding(8, 4);
  layers = new ModuleList([new Block(), new Block()]);
  norm = new RMSNorm(4);
}
class Tiny extends Module {
  model = new Inner();
  lm_head = new Linear(4, 8, { bias: false });
  hiddenSize = 4; // plain values are ignored
  scratch = zeros([3]); // unregistered plain tensors are ignored (PyTorch semantics)
}

Deno.test("Module: PyTorch dotted names for modules and parameters, in definition order", () => {
  const m = new Tiny();
  assertEquals(m.namedModules().map(([n]) => n), [
    "",
    "model",
    "model.embed_tokens",
    "model.layers",
    "model.layers.0",
    "model.layers.0.self_attn",
    "model.layers.0.self_attn.q_proj",
    "model.layers.0.self_attn.k_proj",
    "model.layers.0.input_layernorm",
    "model.layers.1",
    "model.layers.1.self_attn",
    "model.layers.1.self_attn.q_proj",
    "model.layers.1.self_attn.k_proj",
    "model.layers.1.input_layernorm",
    "model.norm",
    "lm_head",
  ]);
  assertEquals(m.namedParameters().map(([n]) => n), [
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.weight",
    "model.layers.0.input_layernorm.weight",
    "model.layers.1.self_attn.q_proj.weight",
    "model.layers.1.self_attn.k_proj.weight",
    "model.layers.1.input_layernorm.weight",
    "model.norm.weight",
    "lm_head.weight",
  ]);
  assertEquals(m.parameters().length, 9);
  assertEquals(m.numParameters(), 32 + 2 * (16 + 8 + 4) + 4 + 32);
  assertEquals(m.namedChildren().map(([n]) => n), ["model", "lm_head"]);
  assertEquals(m.model.namedParameters("p", false), []);
  assertEquals(m.model.norm.namedParameters("model.norm").map(([n]) => n), ["model.norm.weight"]);
});

Deno.test("Module: plain arrays of modules/parameters are discovered and indexed", () => {
  class M extends Module {
    blocks = [new Linear(2, 2), new Linear(2, 3, { bias: false })];
    scales = [new Parameter(zeros([2])), new Parameter(zeros([1]))];
    other = [1, 2, 3];
  }
  const m = new M();
  assertEquals(m.namedParameters().map(([n]) => n), [
    "scales.0",
    "scales.1",
    "blocks.0.weight",
    "blocks.0.bias",
    "blocks.1.weight",
  ]);
  assertEquals(m.namedModules().map(([n]) => n), ["", "blocks.0", "blocks.1"]);
  assert(m.getSubmodule("blocks.1") === m.blocks[1]);
  const repl = new Linear(2, 3);
  m.setSubmodule("blocks.1", repl);
  assert(m.blocks[1] === repl);
  assertThrows(() => m.getSubmodule("blocks.2"), Error, "no index");
});

Deno.test("Module: tied parameters are listed once but appear under every state-dict key", () => {
  const m = new Tiny();
  m.lm_head.weight = m.model.embed_tokens.weight; // tie_word_embeddings
  const names = m.namedParameters().map(([n]) => n);
  assert(!names.includes("lm_head.weight"));
  const sd = m.stateDict();
  assert("lm_head.weight" in sd && "model.embed_tokens.weight" in sd);
  assertEquals(Object.keys(sd).length, 9);
  // state-dict tensors share storage with the parameters
  sd["model.norm.weight"].dataSync()[0] = 7;
  assertEquals(m.model.norm.weight!.dataSync()[0], 7);
  assert(!sd["model.norm.weight"].requiresGrad);
});

Deno.test("loadStateDict: copies Tensors and {shape, data} records in place; round trip", () => {
  manualSeed(11);
  const a = new Tiny(), b = new Tiny();
  const pa = a.parameters();
  const sd: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(b.stateDict())) {
    sd[k] = { shape: v.shape.slice(), data: v.dataSync().slice() };
  }
  const res = a.loadStateDict(sd);
  assertEquals(res, { missingKeys: [], unexpectedKeys: [] });
  for (const [k, v] of Object.entries(a.stateDict())) {
    assertEquals(Array.from(v.dataSync()), Array.from(sd[k].data), k);
  }
  // same Parameter objects (optimizers keep working)
  a.parameters().forEach((p, i) => assert(p === pa[i]));
  // from Tensors
  const c = new Tiny();
  c.loadStateDict(a.stateDict());
  assertEquals(Array.from(c.lm_head.weight.dataSync()), Array.from(b.lm_head.weight.dataSync()));
});

Deno.test("loadStateDict strict: one error listing missing keys, unexpected keys and shape mismatches", () => {
  const m = new Tiny();
  const before = Array.from(m.model.norm.weight!.dataSync());
  const sd: Record<string, Tensor> = { ...m.stateDict() };
  delete sd["lm_head.weight"];
  delete sd["model.layers.1.input_layernorm.weight"];
  sd["model.extra.weight"] = zeros([2]);
  sd["model.layers.0.self_attn.k_proj.weight"] = zeros([3, 4]);
  sd["model.norm.weight"] = tensor([9, 9, 9, 9]);
  const err = assertThrows(() => m.loadStateDict(sd), Error);
  assertStringIncludes(
    err.message,
    `Missing key(s) in state_dict: "model.layers.1.input_layernorm.weight", "lm_head.weight".`,
  );
  assertStringIncludes(err.message, `Unexpected key(s) in state_dict: "model.extra.weight".`);
  assertStringIncludes(
    err.message,
    "size mismatch for model.layers.0.self_attn.k_proj.weight: copying a param with shape [3, 4] from checkpoint, " +
      "the shape in current model is [2, 4].",
  );
  assertEquals(Array.from(m.model.norm.weight!.dataSync()), before, "nothing copied on error");

  // non-strict: missing/unexpected are reported, shape mismatches still throw
  const err2 = assertThrows(() => m.loadStateDict(sd, { strict: false }), Error);
  assertStringIncludes(err2.message, "size mismatch");
  delete sd["model.layers.0.self_attn.k_proj.weight"];
  const res = m.loadStateDict(sd, { strict: false });
  assertEquals(res.unexpectedKeys, ["model.extra.weight"]);
  assertEquals(res.missingKeys, [
    "model.layers.0.self_attn.k_proj.weight",
    "model.layers.1.input_layernorm.weight",
    "lm_head.weight",
  ]);
  assertEquals(Array.from(m.model.norm.weight!.dataSync()), [9, 9, 9, 9]);
  assertThrows(
    () =>
      m.loadStateDict({ ...sd, "model.norm.weight": { shape: [4], data: new Float32Array(3) } }, {
        strict: false,
      }),
    RangeError,
    "3 data elements",
  );
});

Deno.test("Module: buffers (persistent in the state dict, non-persistent not)", () => {
  class B extends Module {
    lin = new Linear(2, 2);
    constructor() {
      super();
      this.registerBuffer("runningMean", zeros([2]));
      this.registerBuffer("cache", zeros([5]), false);
    }
  }
  const m = new B();
  assertEquals(m.namedBuffers().map(([n]) => n), ["runningMean", "cache"]);
  // PyTorch order: own parameters and buffers first, then children
  assertEquals(Object.keys(m.stateDict()), ["runningMean", "lin.weight", "lin.bias"]);
  assertEquals(m.parameters().length, 2);
  m.loadStateDict({ ...m.stateDict(), runningMean: tensor([3, 4]) });
  assertEquals(Array.from((m as unknown as { runningMean: Tensor }).runningMean.dataSync()), [3, 4]);
  assertThrows(() => m.registerBuffer("lin", zeros([1])), TypeError, "submodule");
  assertThrows(() => m.registerBuffer("a.b", zeros([1])), TypeError);
});

Deno.test("getSubmodule / setSubmodule by dotted path (the C3A tuner's injection point)", () => {
  const m = new Tiny();
  const q = m.getSubmodule("model.layers.1.self_attn.q_proj");
  assert(q === m.model.layers.at(1).self_attn.q_proj);
  assert(m.getSubmodule("") === m);
  class Wrapper extends Module {
    constructor(public base_layer: Linear) {
      super();
    }
    override forward(x: Tensor): Tensor {
      return this.base_layer.forward(x).mul(2);
    }
  }
  const w = new Wrapper(q as Linear);
  m.setSubmodule("model.layers.1.self_attn.q_proj", w);
  assert(m.model.layers.at(1).self_attn.q_proj === (w as unknown as Linear));
  assert(m.namedParameters().some(([n]) => n === "model.layers.1.self_attn.q_proj.base_layer.weight"));
  m.setSubmodule("model.layers.0", new Block());
  assertThrows(() => m.getSubmodule("model.layers.5"), Error, 'no attribute "5"');
  assertThrows(() => m.getSubmodule("model.nope.x"), Error, 'no attribute "nope"');
  assertThrows(() => m.getSubmodule("model.norm.weight"), Error, "not a Module");
  assertThrows(() => m.setSubmodule("model.hiddenSize", new ReLU()), Error);
  assertThrows(() => m.setSubmodule("model.newthing", new ReLU()), Error, "no attribute");
  m.setSubmodule("model.newthing", new ReLU(), false);
  assert(m.getSubmodule("model.newthing") instanceof ReLU);
  assert(m.getParameter("lm_head.weight") === m.lm_head.weight);
  assertThrows(() => m.getParameter("lm_head"), Error, "not a Parameter");
});

Deno.test("train/eval propagate; apply visits children first; zeroGrad; requiresGrad_", () => {
  const m = new Sequential(new Linear(3, 3), new Dropout(0.5), new ReLU());
  assert(m.training);
  m.eval();
  assert(m.modules().every((x) => !x.training));
  const x = randn([2, 3]);
  // eval: dropout is the identity, so the Sequential equals relu(lin(x))
  const lin = m.at(0) as Linear;
  assertEquals(Array.from(m.forward(x).dataSync()), Array.from(lin.forward(x).relu().dataSync()));
  m.train();
  assert(m.at(1).training);
  const order: string[] = [];
  m.apply((mod) => order.push(mod.constructor.name));
  assertEquals(order, ["Linear", "Dropout", "ReLU", "Sequential"]);
  sum(m.forward(x)).backward();
  assert(lin.weight.grad !== null);
  m.zeroGrad(false);
  assertEquals(Math.max(...lin.weight.grad!.dataSync().map(Math.abs)), 0);
  m.zeroGrad();
  assertEquals(lin.weight.grad, null);
  m.requiresGrad_(false);
  assert(m.parameters().every((p) => !p.requiresGrad));
  assertEquals(m.numParameters(true), 0);
});

Deno.test("Linear: PyTorch default init bounds and distribution; forward vs float64 reference", () => {
  manualSeed(123);
  const lin = new Linear(64, 300);
  const bound = 1 / 8;
  const w = lin.weight.dataSync();
  let mean = 0, sq = 0, mx = 0;
  for (const v of w) {
    mean += v;
    sq += v * v;
    mx = Math.max(mx, Math.abs(v));
  }
  mean /= w.length;
  sq /= w.length;
  assert(mx <= bound, `max |w| ${mx} > ${bound}`);
  assert(mx > 0.95 * bound, "uniform samples should approach the bound");
  assertAlmostEquals(mean, 0, 3e-3);
  assertAlmostEquals(sq, bound * bound / 3, 2e-4); // variance of U(-b, b)
  assert(Math.max(...lin.bias!.dataSync().map(Math.abs)) <= bound);
  assertEquals(lin.weight.shape, [300, 64]);
  assertEquals(new Linear(3, 2, { bias: false }).bias, null);
  assertEquals(String(new Linear(3, 2)), "Linear(in_features=3, out_features=2, bias=true)");

  const l2 = new Linear(5, 3);
  const x = randn([2, 4, 5]);
  const y = l2.forward(x).dataSync();
  const xd = x.dataSync(), wd = l2.weight.dataSync(), bd = l2.bias!.dataSync();
  for (let r = 0; r < 8; r++) {
    for (let o = 0; o < 3; o++) {
      let s = bd[o];
      for (let i = 0; i < 5; i++) s += xd[r * 5 + i] * wd[o * 5 + i];
      assertAlmostEquals(y[r * 3 + o], s, 1e-5);
    }
  }
  assertThrows(() => l2.forward(randn([2, 4])), RangeError);
  assertThrows(() => new Linear(-1, 2), RangeError, "inFeatures");
});

Deno.test("Embedding, RMSNorm, LayerNorm, SiLU modules: parameter names, init and forward", () => {
  manualSeed(5);
  const e = new Embedding(10, 4, { paddingIdx: 0 });
  assertEquals(Array.from(e.weight.dataSync().subarray(0, 4)), [0, 0, 0, 0]);
  const h = e.forward([3, 0, 3], [1, 3]);
  assertEquals(h.shape, [1, 3, 4]);
  assertEquals(Array.from(h.dataSync().subarray(0, 4)), Array.from(e.weight.dataSync().subarray(12, 16)));
  const rn = new RMSNorm(4, { eps: 1e-6 });
  assertEquals(Object.keys(rn.stateDict()), ["weight"]);
  const x = randn([3, 4]);
  const y = rn.forward(x).dataSync(), xd = x.dataSync();
  for (let r = 0; r < 3; r++) {
    let ms = 0;
    for (let j = 0; j < 4; j++) ms += xd[r * 4 + j] ** 2;
    for (let j = 0; j < 4; j++) {
      assertAlmostEquals(y[r * 4 + j], xd[r * 4 + j] / Math.sqrt(ms / 4 + 1e-6), 1e-5);
    }
  }
  const ln = new LayerNorm(4);
  assertEquals(Object.keys(ln.stateDict()), ["weight", "bias"]);
  const z = ln.forward(x).dataSync();
  let m0 = 0;
  for (let j = 0; j < 4; j++) m0 += z[j];
  assertAlmostEquals(m0, 0, 1e-5);
  const s = new SiLU().forward(tensor([1])).item();
  assertAlmostEquals(s, 1 / (1 + Math.exp(-1)), 1e-6);
});

Deno.test("ModuleDict / ParameterDict: PEFT-style per-adapter keys", () => {
  class Layer extends Module {
    base_layer = new Linear(4, 4, { bias: false });
    c3a_kernel = new ParameterDict();
  }
  const l = new Layer();
  l.c3a_kernel.set("default", new Parameter(zeros([1, 1, 4])));
  l.c3a_kernel.set("other", new Parameter(zeros([2, 2, 2])));
  assertEquals(Object.keys(l.stateDict()), ["base_layer.weight", "c3a_kernel.default", "c3a_kernel.other"]);
  assertEquals(l.c3a_kernel.keys(), ["default", "other"]);
  assert(l.c3a_kernel.delete("other"));
  assertEquals(l.c3a_kernel.size, 1);
  assertThrows(() => l.c3a_kernel.set("a.b", new Parameter(zeros([1]))), TypeError);
  const md = new ModuleDict({ a: new ReLU(), b: new Linear(1, 1) });
  assertEquals(md.keys(), ["a", "b"]);
  assertEquals(Object.keys(md.stateDict()), ["b.weight", "b.bias"]);
  assert(md.get("a") instanceof ReLU);
  assertStringIncludes(String(new Sequential(new Linear(1, 2), new ReLU())), "(0): Linear(in_features=1");
});
