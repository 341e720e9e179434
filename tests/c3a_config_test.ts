// C3AConfig: PEFT defaults, adapter_config.json round trip against files written by Python PEFT,
// config-time validation errors (spec §3.1).
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { C3AConfig, DEFAULT_PEFT_VERSION, pythonJsonDumps } from "../src/c3a/config.ts";
import { BlockSizeError, captureWarnings, formatValue, ValueError } from "../src/c3a/errors.ts";
import { checkBlockSize } from "../src/c3a/blockSize.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import { findTargets } from "../src/c3a/matching.ts";
import { Module } from "../src/nn/module.ts";
import { Linear } from "../src/nn/linear.ts";
import { FIXTURES, PEFT_KEYS } from "./_c3a_util.ts";

const FIXTURE_CONFIGS = [
  "mlp/c3a_adapter/adapter_config.json",
  "mini_llama/c3a_qvdown/adapter_config.json",
  "mini_llama/c3a_regex_l1/adapter_config.json",
];

Deno.test("C3AConfig defaults are PEFT's (spec §3.1)", () => {
  const c = new C3AConfig();
  assertEquals(c.blockSize, 256);
  assertEquals(c.targetModules, null);
  assertEquals(c.bias, "none");
  assertEquals(c.modulesToSave, null);
  assertEquals(c.layersToTransform, null);
  assertEquals(c.layersPattern, null);
  assertEquals(c.blockSizePattern, {});
  assertEquals(c.initWeights, "xavier_uniform");
  assertEquals(c.taskType, null);
  assertEquals(c.peftType, "C3A");
  assertEquals(c.autoMapping, null);
  assertEquals(c.peftVersion, DEFAULT_PEFT_VERSION);
  assertEquals(c.baseModelNameOrPath, null);
  assertEquals(c.revision, null);
  assertEquals(c.inferenceMode, false);
  const d = c.toJSON() as unknown as Record<string, unknown>;
  assertEquals(Object.keys(d), PEFT_KEYS); // exactly PEFT's keys, in sorted order
  assertEquals(d.block_size, 256);
  assertEquals(d.init_weights, "xavier_uniform");
  assertEquals(d.block_size_pattern, {});
});

for (const rel of FIXTURE_CONFIGS) {
  Deno.test(`C3AConfig re-writes ${rel} byte for byte (json.dumps indent=2 sort_keys)`, async () => {
    const text = await Deno.readTextFile(new URL(rel, FIXTURES));
    const config = C3AConfig.fromJSON(text);
    assertEquals(config.toJSONString(), text);
    // and the parsed values are what the file says
    const raw = JSON.parse(text);
    assertEquals(config.blockSize, raw.block_size);
    assertEquals(config.blockSizePattern, raw.block_size_pattern);
    assertEquals(config.initWeights, raw.init_weights);
    assertEquals(config.taskType, raw.task_type);
    assertEquals(config.inferenceMode, raw.inference_mode);
    assertEquals(config.peftVersion, raw.peft_version);
  });
}

Deno.test("C3AConfig.fromJSON keeps fixture values: list targets, regex target, auto_mapping", async () => {
  const mlp = C3AConfig.fromJSON(await Deno.readTextFile(new URL(FIXTURE_CONFIGS[0], FIXTURES)));
  assertEquals(mlp.targetModules, ["lin0", "lin1"]);
  assertEquals(mlp.autoMapping, { base_model_class: "MLP", parent_library: "__main__" });
  const rx = C3AConfig.fromJSON(await Deno.readTextFile(new URL(FIXTURE_CONFIGS[2], FIXTURES)));
  assertEquals(rx.targetModules, String.raw`.*\.layers\.1\.self_attn\.(k_proj|o_proj)`);
  assertEquals(rx.initWeights, "gaussian");
});

Deno.test("target_modules list acts as a set: de-duplicated, written sorted", () => {
  const c = new C3AConfig({ targetModules: ["v_proj", "q_proj", "v_proj"] });
  assertEquals(c.targetModules, ["v_proj", "q_proj"]);
  assertEquals(c.toJSON().target_modules, ["q_proj", "v_proj"]);
  const fromSet = new C3AConfig({ targetModules: new Set(["b", "a"]) });
  assertEquals(fromSet.toJSON().target_modules, ["a", "b"]);
});

Deno.test("toJSONString matches Python json.dumps formatting (nested sort, empty containers, ASCII escapes)", () => {
  const c = new C3AConfig({
    blockSizePattern: { "z": 4, "a.b": 8 },
    baseModelNameOrPath: "modèle/ü",
    layersToTransform: [0, 2],
    modulesToSave: [],
  });
  const s = c.toJSONString();
  // Expected text written out by hand from Python's rules.
  const expected = [
    "{",
    '  "auto_mapping": null,',
    '  "base_model_name_or_path": "mod\\u00e8le/\\u00fc",',
    '  "bias": "none",',
    '  "block_size": 256,',
    '  "block_size_pattern": {',
    '    "a.b": 8,',
    '    "z": 4',
    "  },",
    '  "inference_mode": false,',
    '  "init_weights": "xavier_uniform",',
    '  "layers_pattern": null,',
    '  "layers_to_transform": [',
    "    0,",
    "    2",
    "  ],",
    '  "modules_to_save": [],',
    '  "peft_type": "C3A",',
    `  "peft_version": "${DEFAULT_PEFT_VERSION}",`,
    '  "revision": null,',
    '  "target_modules": null,',
    '  "task_type": null',
    "}",
  ].join("\n");
  assertEquals(s, expected);
  assertEquals(
    pythonJsonDumps({ b: [{ y: 1, x: true }], a: {} }),
    '{\n  "a": {},\n  "b": [\n    {\n      "x": true,\n      "y": 1\n    }\n  ]\n}',
  );
  assertEquals(pythonJsonDumps("\u007f\u0080"), '"\u007f\\u0080"'); // DEL is ASCII: not escaped
});

Deno.test("toJSONString overrides (save_pretrained writes inference_mode true)", () => {
  const c = new C3AConfig({ targetModules: ["q"] });
  const d = JSON.parse(c.toJSONString({ inference_mode: true }));
  assertEquals(d.inference_mode, true);
  assertEquals(c.inferenceMode, false);
});

Deno.test("fromJSON drops unknown keys with a warning naming them", () => {
  const dict = {
    ...new C3AConfig({ targetModules: ["q_proj"] }).toJSON(),
    exclude_modules: null,
    fan_in_fan_out: false,
  };
  const { value, warnings } = captureWarnings(() =>
    C3AConfig.fromJSON(dict as unknown as Record<string, unknown>)
  );
  assertEquals(warnings.length, 1);
  assertStringIncludes(warnings[0], "'exclude_modules'");
  assertStringIncludes(warnings[0], "'fan_in_fan_out'");
  assertStringIncludes(warnings[0], "C3AConfig");
  assert(!("exclude_modules" in (value.toJSON() as unknown as Record<string, unknown>)));
  assertEquals(value.targetModules, ["q_proj"]);
});

Deno.test("fromJSON rejects non-C3A peft_type and missing peft_type", () => {
  const lora = { peft_type: "LORA", r: 8, target_modules: ["q_proj"] };
  const e = assertThrows(() => C3AConfig.fromJSON(lora), ValueError);
  assertStringIncludes(e.message, '"LORA"');
  assertStringIncludes(e.message, "C3A");
  assertThrows(() => C3AConfig.fromJSON({ block_size: 4 }), ValueError, "peft_type");
  assertThrows(() => C3AConfig.fromJSON("[1,2]"), TypeError);
  assertThrows(() => C3AConfig.fromJSON("{not json"), SyntaxError);
  assertThrows(() => new C3AConfig({ peftType: "LORA" }), ValueError, "LORA");
});

Deno.test("config-time validation errors of spec §3.1", () => {
  assertThrows(
    () => new C3AConfig({ targetModules: ".*q_proj", layersToTransform: [0] }),
    ValueError,
    "`layers_to_transform` cannot be used when `target_modules` is a str.",
  );
  assertThrows(
    () => new C3AConfig({ targetModules: ".*q_proj", layersToTransform: 0 }),
    ValueError,
    "`layers_to_transform` cannot be used when `target_modules` is a str.",
  );
  assertThrows(
    () => new C3AConfig({ targetModules: ".*q_proj", layersPattern: "layers" }),
    ValueError,
    "`layers_pattern` cannot be used when `target_modules` is a str.",
  );
  assertThrows(() => new C3AConfig({ taskType: "CAUSAL" }), ValueError, "Invalid task type: 'CAUSAL'");
  // list targets may use both
  const ok = new C3AConfig({
    targetModules: ["q_proj"],
    layersToTransform: 1,
    layersPattern: ["layers", "h"],
  });
  assertEquals(ok.layersToTransform, 1);
  for (
    const t of ["SEQ_CLS", "SEQ_2_SEQ_LM", "CAUSAL_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"]
  ) {
    assertEquals(new C3AConfig({ taskType: t }).taskType, t);
  }
});

Deno.test("PEFT defers block size / init / bias checks to layer creation: config accepts them", () => {
  // PEFT raises these when the model is adapted, not in C3AConfig (spec §2, §3.1, §3.5).
  const c = new C3AConfig({ blockSize: 0, initWeights: "orthogonal", bias: "lora_only" });
  assertEquals([c.blockSize, c.initWeights, c.bias], [0, "orthogonal", "lora_only"]);
});

Deno.test("wrong JavaScript types are TypeErrors naming the field", () => {
  // deno-lint-ignore no-explicit-any
  const bad = (o: any) => () => new C3AConfig(o);
  assertThrows(bad({ blockSize: "64" }), TypeError, "blockSize");
  assertThrows(bad({ targetModules: 5 }), TypeError, "targetModules");
  assertThrows(bad({ targetModules: ["a", 1] }), TypeError, "targetModules");
  assertThrows(bad({ layersToTransform: 1.5 }), TypeError, "layersToTransform");
  assertThrows(bad({ blockSizePattern: { a: "x" } }), TypeError, 'blockSizePattern["a"]');
  assertThrows(bad({ initWeights: 3 }), TypeError, "initWeights");
  assertThrows(bad({ inferenceMode: "yes" }), TypeError, "inferenceMode");
  assertThrows(() => C3AConfig.fromJSON({ peft_type: "C3A", block_size: "8" }), TypeError, "blockSize");
});

Deno.test("with() derives a validated copy without touching the original", () => {
  const a = new C3AConfig({ targetModules: ["q"], blockSizePattern: { k: 2 } });
  const b = a.with({ blockSize: 16 });
  b.blockSizePattern.k = 4;
  assertEquals(a.blockSize, 256);
  assertEquals(a.blockSizePattern, { k: 2 });
  assertEquals(b.blockSize, 16);
  assertThrows(() => a.with({ targetModules: "q", layersToTransform: 0 }), ValueError);
});

Deno.test("error messages show NaN, Infinity, -Infinity and -0 as they are (not JSON's null / 0)", () => {
  // deno-lint-ignore no-explicit-any
  const bad = (o: any) => () => new C3AConfig(o);
  let e = assertThrows(bad({ blockSize: NaN }), TypeError, "blockSize must be a number, got NaN");
  assert(!e.message.includes("null"), e.message);
  e = assertThrows(bad({ blockSizePattern: { lin0: NaN } }), TypeError, 'blockSizePattern["lin0"]');
  assertStringIncludes(e.message, "got NaN");
  assertThrows(bad({ layersToTransform: [1, NaN] }), TypeError, "got [1, NaN]");
  assertThrows(bad({ layersToTransform: Infinity }), TypeError, "got Infinity");
  assertThrows(bad({ layersToTransform: [-Infinity] }), TypeError, "got [-Infinity]");
  assertThrows(bad({ targetModules: [NaN] }), TypeError, "got [NaN]");
  assertThrows(bad({ inferenceMode: -0 }), TypeError, "got -0");
  assertThrows(bad({ autoMapping: NaN }), TypeError, "got NaN");
  assertThrows(bad({ bias: undefined, initWeights: 0 / 0 }), TypeError, "got NaN");
  assertThrows(() => C3AConfig.fromJSON("NaN" as string), SyntaxError); // not JSON at all
  assertThrows(() => C3AConfig.fromJSON([NaN] as unknown as Record<string, unknown>), TypeError, "got [NaN]");

  // block sizes reach the layer check unchanged: -0, NaN, ±Infinity are named as such
  assertThrows(() => checkBlockSize(-0, 8, 12), BlockSizeError, "the value passed is -0");
  assertThrows(() => checkBlockSize(NaN, 8, 12), BlockSizeError, "the value passed is NaN");
  assertThrows(() => checkBlockSize(Infinity, 8, 12), BlockSizeError, "the value passed is Infinity");
  class Net extends Module {
    lin0 = new Linear(8, 12);
  }
  for (const [b, shown] of [[-0, "-0"], [Infinity, "Infinity"], [-Infinity, "-Infinity"]] as const) {
    assertThrows(
      () => getPeftModel(new Net(), new C3AConfig({ blockSize: b, targetModules: ["lin0"] })),
      BlockSizeError,
      `the value passed is ${shown} (layer "lin0"`,
    );
  }
  // matching messages
  assertThrows(
    () =>
      findTargets(new C3AConfig({ targetModules: ["q"], layersToTransform: [0] }), [
        { name: "", isLinear: false },
        { name: "a.b.1.q", isLinear: true },
      ]),
    ValueError,
    "'layers_to_transform': [0]",
  );
});

Deno.test("formatValue: numbers as JavaScript writes them (incl. -0), quoted strings, nested, cycles, cut", () => {
  assertEquals(formatValue(NaN), "NaN");
  assertEquals(formatValue(Infinity), "Infinity");
  assertEquals(formatValue(-Infinity), "-Infinity");
  assertEquals(formatValue(-0), "-0");
  assertEquals(formatValue(0), "0");
  assertEquals(formatValue(1.5e-7), "1.5e-7");
  assertEquals(formatValue("64"), '"64"');
  assertEquals(formatValue(undefined), "undefined");
  assertEquals(formatValue(null), "null");
  assertEquals(formatValue(5n), "5n");
  assertEquals(formatValue([1, [NaN, -0], "a"]), '[1, [NaN, -0], "a"]');
  assertEquals(formatValue({ a: NaN, "b c": [Infinity] }), '{"a": NaN, "b c": [Infinity]}');
  assertEquals(formatValue(new Set(["x"])), 'Set(["x"])');
  assertEquals(formatValue(new Linear(2, 2)), "[Linear]");
  assertEquals(formatValue(function foo() {}), "[Function foo]");
  const cyc: Record<string, unknown> = { a: 1 };
  cyc.self = cyc;
  assertEquals(formatValue(cyc), '{"a": 1, "self": [Circular]}');
  const shared = [1];
  assertEquals(formatValue([shared, shared]), "[[1], [1]]"); // repeated, not circular
  const long = formatValue("x".repeat(500), 50);
  assertEquals(long.length, 50);
  assert(long.endsWith("…"));
});
