// PEFT parity on tests/fixtures/peft (adapters written by Python PEFT, outputs from an independent float64
// reference): base model + adapter loaded with C3AModel.fromPretrained reproduce `output`,
// `hidden_states`, every `module_probes` entry and `resolved_targets`; mergeAndUnload reproduces
// `merged_*.safetensors` and the adapted output.
import { assert, assertEquals } from "./deps.ts";
import { C3AModel } from "../src/c3a/model.ts";
import { C3ALinear } from "../src/c3a/layer.ts";
import { MLP } from "../src/models/mlp.ts";
import { LlamaForCausalLM } from "../src/models/llama.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { Linear } from "../src/nn/linear.ts";
import type { Module } from "../src/nn/module.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { assertClose, FIXTURES, readJson, rec, toTensor } from "./_c3a_util.ts";

type Arr = { shape: number[]; data: number[] };
interface Probe {
  x: Arr;
  y: Arr;
  delta_weight: Arr;
}
interface AdapterExpect {
  resolved_targets: Record<
    string,
    {
      block_size: number;
      in_features: number;
      out_features: number;
      kernel_key: string;
      kernel_shape: number[];
    }
  >;
  output: Arr;
  hidden_states?: Arr[];
  merged_weights_file: string;
  module_probes: Record<string, Probe>;
}

async function baseModel(name: "mlp" | "mini_llama"): Promise<Module> {
  const spec = await readJson(new URL(`${name}/model_spec.json`, FIXTURES)) as Record<string, never>;
  const { tensors } = await loadSafetensors(new URL(`${name}/model.safetensors`, FIXTURES));
  if (name === "mlp") {
    const mods = spec.modules as Record<string, { in_features: number; out_features: number }>;
    const m = new MLP({
      inFeatures: mods.lin0.in_features,
      hiddenFeatures: mods.lin0.out_features,
      outFeatures: mods.lin1.out_features,
    });
    m.loadStateDict(tensors);
    return m.eval();
  }
  const lm = new LlamaForCausalLM({ ...(spec.config as object), use_rotary_embeddings: false } as never);
  lm.loadHfStateDict(tensors);
  return lm.eval();
}

function runModel(name: string, model: { forward(...a: unknown[]): unknown }, input: Record<string, Arr>) {
  return noGrad(() => {
    if (name === "mlp") return { output: model.forward(toTensor(rec(input.x))) as Tensor, hidden: null };
    const ids = input.input_ids;
    const r = model.forward(toTensor(rec(ids)), { outputHiddenStates: true }) as {
      logits: Tensor;
      hiddenStates: Tensor[];
    };
    return { output: r.logits, hidden: r.hiddenStates };
  });
}

const CASES: ["mlp" | "mini_llama", string][] = [
  ["mlp", "c3a_adapter"],
  ["mini_llama", "c3a_qvdown"],
  ["mini_llama", "c3a_regex_l1"],
];

for (const [modelName, adapter] of CASES) {
  Deno.test(`fixture ${modelName}/${adapter}: fromPretrained reproduces output, hidden states, module probes`, async () => {
    const expected = await readJson(new URL(`${modelName}/expected.json`, FIXTURES)) as {
      input: Record<string, Arr>;
      adapters: Record<string, AdapterExpect>;
    };
    const exp = expected.adapters[adapter];
    const peft = await C3AModel.fromPretrained(
      await baseModel(modelName),
      new URL(`${modelName}/${adapter}`, FIXTURES).pathname,
    );

    // resolved targets: same modules, block sizes, kernel shapes
    const layers = Object.fromEntries(peft.c3aLayers());
    assertEquals(Object.keys(layers).sort(), Object.keys(exp.resolved_targets).sort());
    for (const [name, t] of Object.entries(exp.resolved_targets)) {
      assertEquals(layers[name].c3aBlockSize.default, t.block_size, name);
      assertEquals([...layers[name].c3a_kernel.get("default")!.shape], t.kernel_shape, name);
      assertEquals([layers[name].inFeatures, layers[name].outFeatures], [t.in_features, t.out_features]);
      assertEquals(layers[name].c3a_kernel.get("default")!.requiresGrad, false); // isTrainable false
    }
    assert(!peft.training, "fromPretrained without isTrainable puts the model in eval mode");

    const { output, hidden } = runModel(modelName, peft, expected.input);
    assertEquals([...output.shape], exp.output.shape);
    assertClose(output.dataSync(), exp.output.data, 1e-4, "output");
    if (exp.hidden_states) {
      assertEquals(hidden!.length, exp.hidden_states.length);
      exp.hidden_states.forEach((h, i) =>
        assertClose(hidden![i].dataSync(), h.data, 1e-4, `hidden_states[${i}]`)
      );
    }
    for (const [name, probe] of Object.entries(exp.module_probes)) {
      const layer = peft.model.getSubmodule(name);
      assert(layer instanceof C3ALinear, name);
      const y = noGrad(() => layer.forward(toTensor(rec(probe.x))));
      assertClose(y.dataSync(), probe.y.data, 1e-5, `${name}.y`);
      assertClose(
        layer.getDeltaWeight("default").dataSync(),
        probe.delta_weight.data,
        1e-5,
        `${name}.delta_weight`,
      );
    }
  });

  Deno.test(`fixture ${modelName}/${adapter}: mergeAndUnload reproduces ${modelName}/merged_${adapter}.safetensors`, async () => {
    const expected = await readJson(new URL(`${modelName}/expected.json`, FIXTURES)) as {
      input: Record<string, Arr>;
      adapters: Record<string, AdapterExpect>;
    };
    const exp = expected.adapters[adapter];
    const base = await baseModel(modelName);
    const baseKeys = Object.keys(base.stateDict()).sort();
    const peft = await C3AModel.fromPretrained(base, new URL(`${modelName}/${adapter}`, FIXTURES).pathname);
    const merged = peft.mergeAndUnload({ safeMerge: true });
    assert(merged === base);
    assertEquals(Object.keys(merged.stateDict()).sort(), baseKeys); // wrappers gone, PEFT-free names
    for (const name of Object.keys(exp.resolved_targets)) assert(merged.getSubmodule(name) instanceof Linear);
    const { tensors } = await loadSafetensors(
      new URL(exp.merged_weights_file, new URL(`${modelName}/`, FIXTURES)),
    );
    const sd = merged.stateDict();
    assertEquals(Object.keys(tensors).sort(), baseKeys);
    for (const [k, t] of Object.entries(tensors)) {
      assertEquals([...sd[k].shape], t.shape, k);
      assertClose(sd[k].dataSync(), t.data, 1e-6, `merged ${k}`, 1e-7);
    }
    const { output } = runModel(modelName, merged, expected.input);
    assertClose(output.dataSync(), exp.output.data, 1e-4, "merged output");
  });
}
