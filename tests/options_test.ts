// Option bags are strict: an unknown key (a typo, PEFT's / PyTorch's snake_case spelling) is a TypeError
// naming the key and the camelCase key meant — never silently dropped (src/util/options.ts).
import { assert, assertEquals, assertRejects, assertThrows } from "./deps.ts";
import { checkOptionKeys, suggestKey } from "../src/util/options.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { C3AModel, getPeftModel } from "../src/c3a/model.ts";
import { C3ALinear } from "../src/c3a/layer.ts";
import { MLP } from "../src/models/mlp.ts";
import { Adam, AdamW, clipGradNorm, SGD } from "../src/optim/mod.ts";
import { Linear } from "../src/nn/linear.ts";
import { randn, type Tensor } from "../src/tensor/index.ts";
import type { Module } from "../src/nn/module.ts";
import { train } from "../src/train/mod.ts";

Deno.test("suggestKey: snake_case, case and separators, small typos; nothing for unrelated keys", () => {
  const allowed = ["blockSize", "targetModules", "layersToTransform", "layersPattern", "initWeights", "bias"];
  const table: [string, string | null][] = [
    ["block_size", "blockSize"], // PEFT's spelling
    ["target_modules", "targetModules"],
    ["layers_to_transform", "layersToTransform"],
    ["blocksize", "blockSize"], // case
    ["BlockSize", "blockSize"],
    ["block-size", "blockSize"], // the CLI's spelling
    ["targetModule", "targetModules"], // one letter off
    ["layersPatern", "layersPattern"],
    ["init_weight", "initWeights"],
    ["biass", "bias"],
    ["learningRate", null], // unrelated: no guess
    ["r", null],
  ];
  for (const [key, want] of table) assertEquals(suggestKey(key, allowed), want, key);
});

Deno.test("checkOptionKeys: names the first unknown key, the key meant and the allowed ones", () => {
  checkOptionKeys("f", { a: 1 }, ["a", "b"]);
  checkOptionKeys("f", undefined, ["a"]);
  checkOptionKeys("f", null, ["a"]);
  assertThrows(
    () => checkOptionKeys("f", { a: 1, b_c: 2 }, ["a", "bC"]),
    TypeError,
    'f: unknown option "b_c" (did you mean "bC"?); allowed: a, bC',
  );
  assertThrows(
    () => checkOptionKeys("f", { zzz: undefined }, ["a"]),
    TypeError,
    'unknown option "zzz"; allowed: a',
  );
  assertThrows(
    () => checkOptionKeys("f", 5, ["a"]),
    TypeError,
    "f: options must be an object {a}, got number",
  );
  assertThrows(() => checkOptionKeys("f", [1], ["a"]), TypeError, "options must be an object");
});

Deno.test("C3AConfig: PEFT's snake_case keys are an error naming the camelCase key, never dropped", () => {
  const err = assertThrows(
    () => new C3AConfig({ block_size: 32, target_modules: ["lin0"] } as never),
    TypeError,
    'C3AConfig: unknown option "block_size" (did you mean "blockSize"?)',
  );
  assert(err.message.includes("C3AConfig.fromJSON"), err.message);
  assert(!err.message.includes("\n"), "one line");
  assertThrows(
    () => new C3AConfig({ blockSize: 2, targetModule: ["lin0"] } as never),
    TypeError,
    '"targetModules"',
  );
  assertThrows(
    () => new C3AConfig({ blockSize: 2, targetModules: ["lin0"] }).with({ init_weights: false } as never),
    TypeError,
    'unknown option "init_weights" (did you mean "initWeights"?)',
  );
  // every real field still passes, including a config's own fields (a copy) and toOptions()
  const c = new C3AConfig({
    blockSize: 2,
    targetModules: ["lin0"],
    layersToTransform: null,
    blockSizePattern: { lin0: 5 },
    taskType: "CAUSAL_LM",
    inferenceMode: true,
  });
  assertEquals(new C3AConfig(c).toJSON(), c.toJSON());
  assertEquals(new C3AConfig(c.toOptions()).toJSON(), c.toJSON());
  // the file format keeps PEFT's keys and PEFT's leniency (unknown file keys warn; spec)
  assertEquals(C3AConfig.fromJSON(c.toJSONString()).blockSize, 2);
});

Deno.test("getPeftModel and C3AModel methods: unknown option keys are errors; the model is untouched", () => {
  const base = new MLP({ dropout: 0 });
  const config = new C3AConfig({ blockSize: 2, targetModules: ["lin0", "lin1"] });
  assertThrows(
    () => getPeftModel(base, config, { adapter_name: "x" } as never),
    TypeError,
    'getPeftModel: unknown option "adapter_name" (did you mean "adapterName"?)',
  );
  assert(base.namedModules().every(([, m]) => !(m instanceof C3ALinear)), "nothing injected");
  const model = getPeftModel(base, config, { adapterName: "first" });
  assert(model instanceof C3AModel);
  assertThrows(
    () => model.addAdapter("b", config, { seed: 1 } as never),
    TypeError,
    'addAdapter: unknown option "seed"',
  );
  assertThrows(
    () => model.setAdapter("first", { inference_mode: true } as never),
    TypeError,
    '"inferenceMode"',
  );
  assertThrows(() => model.mergeAdapter({ safe_merge: true } as never), TypeError, '"safeMerge"');
  assertThrows(
    () => model.mergeAndUnload({ progressBar: true } as never),
    TypeError,
    'mergeAndUnload: unknown option "progressBar" (did you mean "progressbar"?)',
  );
  assert(base.namedModules().some(([, m]) => m instanceof C3ALinear), "still adapted after the refusals");
});

Deno.test("optimizers and clipGradNorm: unknown option and parameter-group keys are errors", () => {
  const lin = new Linear(3, 2);
  const params = lin.parameters();
  for (const Opt of [AdamW, Adam]) {
    assertThrows(
      () => new Opt(params, { lr: 0.1, weight_decay: 0.01 } as never),
      TypeError,
      `${Opt.name}: unknown option "weight_decay" (did you mean "weightDecay"?)`,
    );
  }
  assertThrows(() => new SGD(params, { momentun: 0.9 } as never), TypeError, '"momentum"');
  assertThrows(
    () => new AdamW([{ params: [params[0]], weight_decay: 0 }, { params: [params[1]] }] as never),
    TypeError,
    'AdamW parameter group: unknown option "weight_decay" (did you mean "weightDecay"?)',
  );
  // groups take params, any hyper-parameter and initialLr (when resuming a schedule)
  const groups = [{ params: [params[0]], weightDecay: 0, initialLr: 0.1 }, { params: [params[1]] }];
  const opt = new AdamW(groups as never, { lr: 0.1 });
  assertEquals(opt.paramGroups.map((g) => g.weightDecay), [0, 0.01]);
  lin.forward(randn([4, 3])).sum().backward();
  assertThrows(() => clipGradNorm(params, 1, { norm_type: 2 } as never), TypeError, '"normType"');
  clipGradNorm(params, 1, { normType: 2 }).dispose();
});

Deno.test("train: transformers' snake_case keys are an error naming the camelCase key, before any step", async () => {
  const model = new Linear(2, 1);
  const optimizer = new SGD(model.parameters(), { lr: 0.1 });
  let steps = 0;
  await assertRejects(
    () =>
      train({
        model,
        optimizer,
        data: [randn([1, 2])],
        loss: (m: Module, x: Tensor) => {
          steps++;
          return (m as Linear).forward(x).sum();
        },
        maxSteps: 1,
        max_steps: 3,
      } as never),
    TypeError,
    'train: unknown option "max_steps" (did you mean "maxSteps"?)',
  );
  assertEquals(steps, 0);
});
