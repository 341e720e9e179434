// Matching rules of spec §3.2–§3.4/§3.6 (table-driven, expectations derived by hand from PEFT's regexes),
// the fixtures' resolved targets (written by Python PEFT), and suggestBlockSize (spec §6.1).
import { assert, assertEquals, assertGreaterOrEqual, assertStringIncludes, assertThrows } from "./deps.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { captureWarnings, NoMatchingPeftModuleError, ValueError } from "../src/c3a/errors.ts";
import {
  allLinearExclusions,
  C3A_DEFAULT_TARGET_MODULES,
  findTargets,
  getLayerIndex,
  isExcludedByModulesToSave,
  isTargetModule,
  matchTargetList,
  modulesToSaveEntry,
  pyRegex,
  resolveBlockSize,
  resolveTargetModules,
  rootLayerIndex,
  type TargetCandidate,
} from "../src/c3a/matching.ts";
import { suggestBlockSize } from "../src/c3a/blockSize.ts";

const FIXTURES = new URL("./fixtures/peft/", import.meta.url);

Deno.test("target list: exact or dot-boundary suffix, no regex (spec §3.3 step 4)", () => {
  const cases: [string, string[], "exact" | "suffix" | null][] = [
    ["model.layers.0.self_attn.q_proj", ["q_proj"], "suffix"],
    ["q_proj", ["q_proj"], "exact"],
    ["model.layers.0.self_attn.xq_proj", ["q_proj"], null],
    ["model.q_proj.inner", ["q_proj"], null],
    ["transformer.h.0.mlp.c_proj", ["mlp.c_proj"], "suffix"],
    ["transformer.h.0.attn.c_proj", ["mlp.c_proj"], null],
    ["model.layers.0.self_attn.q_proj", ["q.proj"], null], // entries are not regexes
    ["unet.to_out.0", ["to_out.0"], "suffix"],
  ];
  for (const [key, entries, want] of cases) {
    assertEquals(matchTargetList(key, entries), want, `${key} vs ${entries}`);
  }
});

Deno.test("string target_modules: Python re.fullmatch semantics", () => {
  const cases: [string, string, boolean][] = [
    [String.raw`.*\.layers\.1\.self_attn\.(k_proj|o_proj)`, "model.layers.1.self_attn.k_proj", true],
    [String.raw`.*\.layers\.1\.self_attn\.(k_proj|o_proj)`, "model.layers.1.self_attn.o_proj", true],
    [
      String.raw`.*\.layers\.1\.self_attn\.(k_proj|o_proj)`,
      "model.layers.1.self_attn.k_proj.base_layer",
      false,
    ],
    [String.raw`.*\.layers\.1\.self_attn\.(k_proj|o_proj)`, "model.layers.11.self_attn.k_proj", false],
    [String.raw`.*\.layers\.1\.self_attn\.(k_proj|o_proj)`, "model.layers.1.self_attn.q_proj", false],
    ["q_proj", "model.q_proj", false], // whole name must match
    ["q_proj", "q_proj", true],
    ["q_proj|.*v_proj", "model.v_proj", true], // alternation anchored as a whole
    ["q_proj|.*v_proj", "q_projx", false],
    [String.raw`(?P<p>.*)\.lin(?P=p)?0`, "a.lin0", true], // Python named-group syntax
    [String.raw`\Alin0\Z`, "lin0", true],
  ];
  for (const [pattern, key, want] of cases) {
    assertEquals(
      isTargetModule(new C3AConfig({ targetModules: pattern }), key),
      want,
      `${pattern} on ${key}`,
    );
  }
  assertThrows(() => pyRegex("(unclosed", "fullmatch"), ValueError, '"(unclosed"');
});

Deno.test("layer index regexes of spec §3.4", () => {
  const cases: [string, string | string[] | null, number | null][] = [
    ["model.layers.3.self_attn.q_proj", null, 3],
    ["layers.3.self_attn.q_proj", null, null], // no dot before the container name
    ["model.layers.0.experts.3.w1", null, 0], // lazy: the first `.name.digits.` segment
    ["model.layers.0.experts.3.w1", "experts", 3],
    ["transformer.h.2.attn.c_attn", ["layers", "h"], 2],
    ["transformer.h.2.attn.c_attn", "layers", null],
    ["model.layers.12.mlp.up_proj", "", 12], // empty pattern = default regex
    ["model.layers.12", null, null], // needs a dot after the digits
    ["encoder.block.7.layer.0.SelfAttention.q", "block", 7],
    ["model.decoder.layers.5.fc1", "layer[s]?", 5], // patterns are raw regexes
  ];
  for (const [key, pattern, want] of cases) {
    assertEquals(getLayerIndex(key, pattern), want, `${key} / ${pattern}`);
  }
});

Deno.test("layer index at any depth: a table of module names (PEFT's rule of 2026: first `.name.digits.`)", () => {
  // [module name, layersPattern, index PEFT reads, index of a root-level layer list PEFT does not read]
  const table: [string, string | string[] | null, number | null, number | null][] = [
    // one parent module, the usual transformers layout
    ["model.layers.7.self_attn.q_proj", null, 7, null],
    ["model.layers.7.self_attn.q_proj", "layers", 7, null],
    ["model.layers.7.self_attn.q_proj", ["h", "layers"], 7, null],
    // deeper: the index is found at any depth below the root
    ["base.encoder.stack.layers.2.attn.q", null, 2, null],
    ["base.encoder.stack.layers.2.attn.q", "layers", 2, null],
    ["a.b.c.d.e.blocks.11.mlp.fc1", "blocks", 11, null],
    ["vision.model.encoder.layers.31.mlp.fc2", null, 31, null],
    // the first numbered segment wins (MoE: layer 1, expert 0), unless the pattern names the inner list
    ["model.layers.1.mlp.experts.0.up_proj", null, 1, null],
    ["model.layers.1.mlp.experts.0.up_proj", "layers", 1, null],
    ["model.layers.1.mlp.experts.0.up_proj", "experts", 0, null],
    ["model.layers.1.mlp.experts.0.up_proj", ["experts", "layers"], 0, null], // patterns in order
    ["model.layers.1.mlp.experts.0.up_proj", ["layers", "experts"], 1, null],
    // leading zeros, several digits
    ["net.blocks.001.proj", "blocks", 1, null],
    ["net.blocks.120.proj", null, 120, null],
    // a layer list at the model's root: PEFT reads no index (no parent module before the name)
    ["layers.3.self_attn.q_proj", null, null, 3],
    ["layers.3.self_attn.q_proj", "layers", null, 3],
    ["blocks.0.mlp.fc1", ["layers", "blocks"], null, 0],
    ["h.12.attn.c_attn", "h", null, 12],
    ["0.q_proj", null, null, null], // a bare Sequential index has no container name
    // no index at all, or not followed by a dot
    ["model.embed_tokens", null, null, null],
    ["model.layers.4", null, null, null],
    ["lm_head", "layers", null, null],
    // a pattern that is a regex, and one that does not occur
    ["model.decoder.layers.5.fc1", "layer[s]?", 5, null],
    ["transformer.h.2.attn.c_attn", "layers", null, null],
    ["layers.2.x", "h", null, null],
  ];
  for (const [key, pattern, peft, root] of table) {
    assertEquals(getLayerIndex(key, pattern), peft, `getLayerIndex(${key}, ${JSON.stringify(pattern)})`);
    assertEquals(rootLayerIndex(key, pattern), root, `rootLayerIndex(${key}, ${JSON.stringify(pattern)})`);
  }
});

Deno.test("layers_to_transform on a root-level layer list: an error (or warning) that says why, not silence", () => {
  // a model whose decoder layers are a ModuleList at the root: layers.0.q_proj, layers.1.q_proj
  const names = ["", "layers", "layers.0", "layers.0.q_proj", "layers.1", "layers.1.q_proj", "head"];
  const candidates = cand(names, (n) => n.endsWith("q_proj") || n === "head");
  const config = new C3AConfig({ targetModules: ["q_proj"], layersToTransform: [1], blockSize: 1 });
  const err = assertThrows(() => findTargets(config, candidates), NoMatchingPeftModuleError);
  assertStringIncludes(err.message, 'Target modules ["q_proj"] not found in the base model'); // PEFT's
  assertStringIncludes(
    err.message,
    "2 module(s) matching targetModules sit in a layer list at the model's root",
  );
  assertStringIncludes(err.message, "Put the layer list inside a parent module");
  // the same list one level down is indexed, as in PEFT
  const nested = cand(names.map((n) => (n === "" ? "" : `model.${n}`)), (n) => n.endsWith("q_proj"));
  assertEquals(findTargets(config, nested).targets.map((t) => t.name), ["model.layers.1.q_proj"]);
  // some targets matched elsewhere: the root-level ones are named in a warning
  const mixed = cand(
    [...names, "model", "model.layers", "model.layers.1", "model.layers.1.q_proj"],
    (n) => n.endsWith("q_proj"),
  );
  const { warnings } = captureWarnings(() => {
    assertEquals(findTargets(config, mixed).targets.map((t) => t.name), ["model.layers.1.q_proj"]);
  });
  assertEquals(warnings.length, 1);
  assertStringIncludes(warnings[0], '(e.g. "layers.0.q_proj")');
});

Deno.test("layers_to_transform filters suffix matches only (spec §3.3 step 5, §3.4)", () => {
  const c = (o: ConstructorParameters<typeof C3AConfig>[0]) => new C3AConfig(o);
  const cases: [C3AConfig, string, boolean][] = [
    [c({ targetModules: ["q_proj"], layersToTransform: 1 }), "model.layers.1.self_attn.q_proj", true],
    [c({ targetModules: ["q_proj"], layersToTransform: 1 }), "model.layers.0.self_attn.q_proj", false],
    [c({ targetModules: ["q_proj"], layersToTransform: 0 }), "model.layers.0.self_attn.q_proj", true],
    [c({ targetModules: ["q_proj"], layersToTransform: [0, 2] }), "model.layers.2.self_attn.q_proj", true],
    [c({ targetModules: ["q_proj"], layersToTransform: [0, 2] }), "model.layers.1.self_attn.q_proj", false],
    [c({ targetModules: ["q_proj"], layersToTransform: [] }), "model.layers.1.self_attn.q_proj", true],
    [c({ targetModules: ["q_proj"], layersToTransform: [0] }), "layers.0.q_proj", false], // no index found
    [c({ targetModules: ["lm_head", "q_proj"], layersToTransform: [0] }), "lm_head", true], // exact: unfiltered
    [
      c({ targetModules: ["q_proj"], layersToTransform: 1, layersPattern: "h" }),
      "model.layers.1.self_attn.q_proj",
      false,
    ],
    [
      c({ targetModules: ["c_attn"], layersToTransform: 1, layersPattern: "h" }),
      "transformer.h.1.attn.c_attn",
      true,
    ],
  ];
  for (const [config, key, want] of cases) {
    assertEquals(isTargetModule(config, key), want, `${JSON.stringify(config.toJSON())} on ${key}`);
  }
  assertThrows(() => isTargetModule(new C3AConfig(), "x"), ValueError, "resolve");
});

Deno.test("block_size_pattern: `.*\\.K$` first match in insertion order, exact-name fallback (spec §3.2)", () => {
  const cases: [Record<string, number>, string, number][] = [
    [{ down_proj: 16 }, "model.layers.0.mlp.down_proj", 16],
    [{ down_proj: 16 }, "model.layers.0.mlp.up_proj", 8],
    [{ down_proj: 16 }, "down_proj", 16], // top-level: exact fallback
    [{ lin0: 5 }, "lin0", 5],
    [{ lin0: 5 }, "xlin0", 8],
    [{ proj: 4, q_proj: 2 }, "a.q_proj", 2], // a dot must precede K
    [{ "._proj": 4, q_proj: 2 }, "a.q_proj", 4], // raw regex, first in insertion order wins
    [{ q_proj: 2, "._proj": 4 }, "a.q_proj", 2],
    [{ [String.raw`layers\.0\..*`]: 1 }, "model.layers.0.mlp.up_proj", 1],
    [{ [String.raw`layers\.0\..*`]: 1 }, "model.layers.1.mlp.up_proj", 8],
    // Python re.match of `.*\.q_proj|v_proj$`: the left alternative is unanchored at the end
    [{ "q_proj|v_proj": 2 }, "model.q_proj_extra", 2],
    [{ "q_proj|v_proj": 2 }, "model.v_proj", 8],
    [{ "q_proj|v_proj": 2 }, "q_proj|v_proj", 2], // exact-name fallback uses the key as a plain string
  ];
  for (const [pattern, key, want] of cases) {
    assertEquals(
      resolveBlockSize({ blockSize: 8, blockSizePattern: pattern }, key),
      want,
      `${key} ${JSON.stringify(pattern)}`,
    );
  }
});

Deno.test("modules_to_save: exclusion regex (spec §3.3 step 2) and plain endsWith wrapping (§3.6)", () => {
  const excl: [string, boolean][] = [
    ["classifier", true],
    ["classifier.dense", true],
    ["model.classifier", true],
    ["model.classifier.out_proj", true],
    ["model.classifier_x", false],
    ["xclassifier", false],
  ];
  for (const [key, want] of excl) assertEquals(isExcludedByModulesToSave(key, ["classifier"]), want, key);
  assertEquals(isExcludedByModulesToSave("classifier", null), false);
  assertEquals(modulesToSaveEntry("model.xclassifier", ["classifier"]), "classifier");
  assertEquals(modulesToSaveEntry("model.classifier.dense", ["classifier"]), null);
  assertEquals(modulesToSaveEntry("score", ["classifier", "score"]), "score");
});

function cand(names: string[], linear: (n: string) => boolean): TargetCandidate[] {
  return names.map((name) => ({ name, isLinear: linear(name) }));
}

// Module names of transformers' LlamaForCausalLM for the 2-layer fixture (fixtures/peft/mini_llama/model_spec.json).
function miniLlamaCandidates(): TargetCandidate[] {
  const names = ["", "model", "model.embed_tokens", "model.layers"];
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}`;
    names.push(
      p,
      `${p}.self_attn`,
      `${p}.self_attn.q_proj`,
      `${p}.self_attn.k_proj`,
      `${p}.self_attn.v_proj`,
      `${p}.self_attn.o_proj`,
      `${p}.mlp`,
      `${p}.mlp.gate_proj`,
      `${p}.mlp.up_proj`,
      `${p}.mlp.down_proj`,
      `${p}.input_layernorm`,
      `${p}.post_attention_layernorm`,
    );
  }
  names.push("model.norm", "lm_head");
  return cand(names, (n) => /_proj$|lm_head$/.test(n));
}

async function fixtureCase(model: string, adapter: string) {
  const expected = JSON.parse(await Deno.readTextFile(new URL(`${model}/expected.json`, FIXTURES)));
  const config = C3AConfig.fromJSON(
    await Deno.readTextFile(new URL(`${model}/${adapter}/adapter_config.json`, FIXTURES)),
  );
  const resolved = expected.adapters[adapter].resolved_targets as Record<string, { block_size: number }>;
  return { config, resolved };
}

for (const adapter of ["c3a_qvdown", "c3a_regex_l1"]) {
  Deno.test(`findTargets reproduces PEFT's resolved targets of mini_llama/${adapter}`, async () => {
    const { config, resolved } = await fixtureCase("mini_llama", adapter);
    const { targets, excluded } = findTargets(config, miniLlamaCandidates(), { modelType: "llama" });
    assertEquals(excluded, []);
    assertEquals(
      Object.fromEntries(targets.map((t) => [t.name, t.blockSize])),
      Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, v.block_size])),
    );
  });
}

Deno.test("findTargets reproduces PEFT's resolved targets of mlp/c3a_adapter", async () => {
  const { config, resolved } = await fixtureCase("mlp", "c3a_adapter");
  const { targets } = findTargets(
    config,
    cand(["", "lin0", "relu", "drop", "lin1", "sm"], (n) => n.startsWith("lin")),
  );
  assertEquals(
    Object.fromEntries(targets.map((t) => [t.name, t.blockSize])),
    Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, v.block_size])),
  );
});

Deno.test("default target mapping by model type (spec §3.3 step 6)", () => {
  assertEquals(resolveTargetModules(null, [], { modelType: "llama" }), ["q_proj", "v_proj"]);
  assertEquals(resolveTargetModules(null, [], { modelType: "t5" }), ["q", "v"]);
  assertEquals(resolveTargetModules(null, [], { modelType: "gpt2" }), ["mlp.c_proj"]);
  assertEquals(resolveTargetModules(null, [], { modelType: "roberta" }), ["query", "value"]);
  assertEquals(resolveTargetModules(null, [], { modelType: "phi" }), ["q_proj", "v_proj", "fc1", "fc2"]);
  assertEquals(typeof resolveTargetModules(null, [], { modelType: "gemma4" }), "string");
  for (
    const t of ["mistral", "qwen2", "qwen3", "gemma", "gemma2", "opt", "bart", "falcon", "bloom", "bert"]
  ) {
    assert(t in C3A_DEFAULT_TARGET_MODULES, t);
  }
  const e = assertThrows(
    () => resolveTargetModules(null, miniLlamaCandidates(), { modelType: "mystery" }),
    ValueError,
    "Please specify `target_modules` in `peft_config`",
  );
  assertStringIncludes(e.message, '"mystery"');
  assertStringIncludes(e.message, "q_proj"); // names the model's Linear modules as the fix
  assertThrows(() => resolveTargetModules(null, [], {}), ValueError, "Please specify `target_modules`");
  // with the default, llama's q/v projections in every layer are found
  const { targets } = findTargets(new C3AConfig({ blockSize: 8 }), miniLlamaCandidates(), {
    modelType: "llama",
  });
  assertEquals(targets.map((t) => t.name), [
    "model.layers.0.self_attn.q_proj",
    "model.layers.0.self_attn.v_proj",
    "model.layers.1.self_attn.q_proj",
    "model.layers.1.self_attn.v_proj",
  ]);
});

Deno.test("all-linear: every Linear except the output embedding (case-insensitive)", () => {
  const cands = miniLlamaCandidates();
  const excl = allLinearExclusions(cands.map((c) => c.name));
  assertEquals(excl, ["lm_head"]);
  const resolved = resolveTargetModules("ALL-LINEAR", cands, { excludeFromAllLinear: excl }) as string[];
  assertEquals(resolved.length, 14);
  assert(!resolved.includes("lm_head"));
  assert(!resolved.includes("model.embed_tokens"));
  const { targets } = findTargets(new C3AConfig({ targetModules: "all-linear" }), cands, {
    excludeFromAllLinear: excl,
  });
  assertEquals(targets.length, 14);
  assertEquals(allLinearExclusions(["", "enc", "classifier"], "SEQ_CLS"), ["classifier"]);
  assertEquals(allLinearExclusions(["", "enc", "classifier"], null), []);
  // modules inside an existing tuner layer are never targeted
  const wrapped = [...cands, {
    name: "model.layers.0.self_attn.q_proj.base_layer",
    isLinear: true,
    insideTunerLayer: true,
  }];
  assertEquals(findTargets(new C3AConfig({ targetModules: ".*q_proj.*" }), wrapped).targets.length, 2);
});

Deno.test("NoMatchingPeftModuleError messages (spec §3.3 step 7)", () => {
  const cands = miniLlamaCandidates();
  let e = assertThrows(
    () => findTargets(new C3AConfig({ targetModules: ["query", "value"] }), cands),
    NoMatchingPeftModuleError,
    'Target modules ["query", "value"] not found in the base model. Please check the target modules and try again.',
  );
  assertStringIncludes(e.message, "q_proj, k_proj, v_proj, o_proj"); // the fix: names that exist
  assert(e instanceof ValueError);
  e = assertThrows(
    () => findTargets(new C3AConfig({ targetModules: ["q_proj"], layersToTransform: [7] }), cands),
    NoMatchingPeftModuleError,
    "'layers_to_transform': [7]",
  );
  e = assertThrows(
    () =>
      findTargets(
        new C3AConfig({ targetModules: ["q_proj"], layersToTransform: 7, layersPattern: "blocks" }),
        cands,
      ),
    NoMatchingPeftModuleError,
    `'layers_pattern': "blocks"`,
  );
  assertThrows(
    () =>
      findTargets(
        new C3AConfig({ targetModules: ["lin0"], modulesToSave: ["lin0"] }),
        cand(["", "lin0"], () => true),
      ),
    NoMatchingPeftModuleError,
    "All modules were excluded",
  );
  assertThrows(
    () =>
      findTargets(
        new C3AConfig({ targetModules: ["lin0"], modulesToSave: ["lin0"] }),
        cand(["", "lin0", "lin1"], () => true),
      ),
    NoMatchingPeftModuleError,
    "No modules were targeted for adaptation",
  );
  assertThrows(
    () => findTargets(new C3AConfig({ targetModules: ["x"] }), cand(["", "emb"], () => false)),
    NoMatchingPeftModuleError,
    "no Linear modules",
  );
});

Deno.test("findTargets: modules_to_save modules are excluded from C3A", () => {
  const cands = cand(["", "lin0", "classifier", "classifier.lin0"], (n) => n !== "" && n !== "classifier");
  const r = findTargets(new C3AConfig({ targetModules: ["lin0"], modulesToSave: ["classifier"] }), cands);
  assertEquals(r.targets.map((t) => t.name), ["lin0"]);
  assertEquals(r.excluded, ["classifier", "classifier.lin0"]);
});

function divisorsBrute(sizes: [number, number][]): number[] {
  const out: number[] = [];
  const max = Math.min(...sizes.flat());
  for (let b = 1; b <= max; b++) if (sizes.every(([i, o]) => i % b === 0 && o % b === 0)) out.push(b);
  return out;
}

Deno.test("suggestBlockSize: all common divisors, param counts, ranked by closeness to √(d1·d2)/r", () => {
  const table: [[number, number][], number][] = [
    [[[4096, 4096], [4096, 1024]], 16],
    [[[768, 768]], 8],
    [[[3072, 3072], [3072, 1024]], 32],
    [[[10, 20], [20, 2]], 1],
    [[[96, 36]], 4],
  ];
  for (const [sizes, rank] of table) {
    const s = suggestBlockSize(sizes, { rank });
    assertEquals(s.map((x) => x.blockSize).sort((a, b) => a - b), divisorsBrute(sizes));
    const target = Math.exp(
      sizes.reduce((a, [i, o]) => a + Math.log(Math.sqrt(i * o) / rank), 0) / sizes.length,
    );
    for (let k = 0; k < s.length; k++) {
      assertEquals(s[k].paramCount, sizes.reduce((a, [i, o]) => a + (i * o) / s[k].blockSize, 0));
      assert(Math.abs(s[k].ratio - s[k].blockSize / target) < 1e-9);
      if (k > 0) {
        assertGreaterOrEqual(Math.abs(Math.log(s[k].ratio)) + 1e-9, Math.abs(Math.log(s[k - 1].ratio)));
      }
    }
  }
  // square 768 layer, r = 8 -> target 96 exactly
  assertEquals(suggestBlockSize([[768, 768]], { rank: 8 })[0].blockSize, 96);
  // the documented example: 4096² + 4096x1024 at r = 16 -> 128 and 256 tie, the larger wins
  const ex = suggestBlockSize([[4096, 4096], [4096, 1024]], { rank: 16 });
  assertEquals(ex[0].blockSize, 256);
  assertEquals(ex[0].paramCount, 81920);
  assertEquals(ex[1].blockSize, 128);
  // Llama-3.2-3B q/v at b = 64 (spec §1.1: 147456 + 49152 per layer)
  const llama = suggestBlockSize([[3072, 3072], [3072, 1024]]).find((x) => x.blockSize === 64)!;
  assertEquals(llama.paramCount, 147456 + 49152);
});

Deno.test("suggestBlockSize accepts a model + targets", () => {
  const modules: [string, unknown][] = [
    ["", {}],
    ["a", { inFeatures: 64, outFeatures: 32 }],
    ["b", { inFeatures: 48, outFeatures: 48 }],
    ["lm_head", { inFeatures: 48, outFeatures: 7 }],
    ["norm", { weight: 1 }],
  ];
  const model = { namedModules: () => modules };
  // all-linear default leaves out lm_head: gcd(64, 32, 48) = 16
  assertEquals(suggestBlockSize(model).map((s) => s.blockSize).sort((x, y) => x - y), [1, 2, 4, 8, 16]);
  assertEquals(suggestBlockSize(model, { targetModules: ["a"] }).length, 6); // divisors of 32
  const cfg = new C3AConfig({ targetModules: ["b"] });
  assertEquals(suggestBlockSize(model, { config: cfg }).length, 10); // divisors of 48
  assertThrows(() => suggestBlockSize(model, { targetModules: ["zzz"] }), NoMatchingPeftModuleError);
});

Deno.test("suggestBlockSize errors", () => {
  assertThrows(() => suggestBlockSize([]), RangeError, "at least one");
  assertThrows(() => suggestBlockSize([[0, 4]]), RangeError, "positive integers");
  assertThrows(() => suggestBlockSize([[4.5, 4]]), RangeError, "[4.5, 4]");
  assertThrows(() => suggestBlockSize([[4, 4]], { rank: 0 }), RangeError, "rank");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => suggestBlockSize([[4]] as any), RangeError, "pair");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => suggestBlockSize({} as any), TypeError, "namedModules");
});

Deno.test("a root Linear is called out and never listed as an empty name; empty target lists explained", () => {
  // the model itself is a Linear: nothing inside to adapt
  const root = [{ name: "", isLinear: true }];
  const e = assertThrows(
    () => findTargets(new C3AConfig({ targetModules: ".*" }), root),
    NoMatchingPeftModuleError,
    "The model itself is a Linear",
  );
  assertStringIncludes(e.message, "root module cannot be adapted");
  assertStringIncludes(e.message, "Wrap it in a Module");
  assert(!e.message.includes('""'), e.message);
  assert(!/component: +\(/.test(e.message), e.message);
  // all-linear never resolves to the root
  assertEquals(resolveTargetModules("all-linear", [...root, { name: "proj", isLinear: true }]), ["proj"]);
  const e2 = assertThrows(
    () => findTargets(new C3AConfig({ targetModules: "all-linear" }), root),
    NoMatchingPeftModuleError,
    "selected no module",
  );
  assertStringIncludes(e2.message, "The model itself is a Linear");
  // a root Linear with Linear children: the hint lists the children and mentions the root
  const e3 = assertThrows(
    () => findTargets(new C3AConfig({ targetModules: ["zzz"] }), [...root, { name: "proj", isLinear: true }]),
    NoMatchingPeftModuleError,
    'by last name component: proj (e.g. "proj")',
  );
  assertStringIncludes(e3.message, "the root module cannot be adapted");
  // an empty list is named as such
  const e4 = assertThrows(
    () => findTargets(new C3AConfig({ targetModules: [] }), cand(["", "lin0"], () => true)),
    NoMatchingPeftModuleError,
    "targetModules is an empty list",
  );
  assertStringIncludes(e4.message, "by last name component: lin0");
});
