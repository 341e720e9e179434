// Tests of src/models: the PEFT fixtures (MLP and mini_llama built from nn modules, weights loaded from
// model.safetensors, outputs compared with expected.json, which was computed in float64 by PyTorch), a
// float64 Llama reference written here for the parts the fixture lacks (RoPE, tied embeddings, padding
// masks, MHA), the checkpoint-directory loader, and end-to-end gradients vs finite differences.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { manualSeed, noGrad, randn, type Tensor, tensor } from "../src/tensor/index.ts";
import { loadSafetensors, saveSafetensors } from "../src/io/safetensors.ts";
import { MLP } from "../src/models/mlp.ts";
import {
  causalLmLoss,
  type LlamaConfig,
  LlamaForCausalLM,
  LlamaMLP,
  resolveLlamaConfig,
} from "../src/models/llama.ts";
import { silu } from "../src/ops/activation.ts";
import { mul } from "../src/ops/elementwise.ts";
import { ropeInvFreq } from "../src/models/rope.ts";
import { backendNamed } from "../src/backend/backend.ts";
import { refLogits, weights64 } from "./_ref_decoder.ts";

const FIX = new URL("./fixtures/peft/", import.meta.url);

interface Arr {
  shape: number[];
  data: number[];
}

async function readJson<T>(rel: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(new URL(rel, FIX))) as T;
}

/** max |a - ref| <= rtol * max|ref| (the fixtures' suggested float32 tolerance). */
function assertCloseRel(a: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, what: string) {
  assertEquals(a.length, ref.length, `${what}: length`);
  let mref = 0, merr = 0, at = 0;
  for (let i = 0; i < ref.length; i++) {
    mref = Math.max(mref, Math.abs(ref[i]));
    const e = Math.abs(a[i] - ref[i]);
    if (!(e <= merr)) {
      merr = e;
      at = i;
    }
  }
  assert(
    merr <= rtol * mref,
    `${what}: max error ${merr} at ${at} (${a[at]} vs ${ref[at]}) > ${rtol} * ${mref}`,
  );
}

Deno.test("MLP fixture: nn modules + model.safetensors reproduce PEFT's base_output", async () => {
  const spec = await readJson<
    { modules: Record<string, { in_features: number; out_features: number; bias: boolean }> }
  >(
    "mlp/model_spec.json",
  );
  const exp = await readJson<{ input: { x: Arr }; base_output: Arr }>("mlp/expected.json");
  const mlp = new MLP({
    inFeatures: spec.modules.lin0.in_features,
    hiddenFeatures: spec.modules.lin0.out_features,
    outFeatures: spec.modules.lin1.out_features,
  }).eval();
  assertEquals(mlp.namedModules().map(([n]) => n), ["", "lin0", "relu", "drop", "lin1", "sm"]);
  const { tensors } = await loadSafetensors(new URL("mlp/model.safetensors", FIX));
  mlp.loadStateDict(tensors); // strict: the key sets must match exactly
  const y = mlp.forward(tensor(exp.input.x.data, exp.input.x.shape));
  assertEquals(y.shape, exp.base_output.shape);
  assertCloseRel(y.dataSync(), exp.base_output.data, 1e-4, "MLP base_output");
  // training mode turns dropout on, so the output changes
  mlp.train();
  manualSeed(1);
  const yt = mlp.forward(tensor(exp.input.x.data, exp.input.x.shape)).dataSync();
  assert(yt.some((v, i) => Math.abs(v - y.dataSync()[i]) > 1e-6));
});

interface MiniSpec {
  config: LlamaConfig;
}
interface MiniExpected {
  input: { input_ids: Arr };
  base_output: Arr;
  base_hidden_states: Arr[];
}

async function miniLlama(): Promise<{ lm: LlamaForCausalLM; exp: MiniExpected }> {
  const spec = await readJson<MiniSpec>("mini_llama/model_spec.json");
  const exp = await readJson<MiniExpected>("mini_llama/expected.json");
  // The fixture's model has no rotary embedding (model_spec.json "llama-like (no rotary embedding)").
  const lm = new LlamaForCausalLM({ ...spec.config, use_rotary_embeddings: false }).eval();
  const { tensors } = await loadSafetensors(new URL("mini_llama/model.safetensors", FIX));
  lm.loadHfStateDict(tensors);
  return { lm, exp };
}

Deno.test("mini_llama fixture: logits and hidden states match expected.json; HF module names", async () => {
  const { lm, exp } = await miniLlama();
  const names = lm.namedModules().map(([n]) => n);
  for (
    const n of [
      "model.embed_tokens",
      "model.layers.1.self_attn.q_proj",
      "model.layers.0.self_attn.v_proj",
      "model.layers.1.mlp.down_proj",
      "model.layers.0.post_attention_layernorm",
      "model.norm",
      "lm_head",
    ]
  ) assert(names.includes(n), n);
  const ids = exp.input.input_ids;
  const out = lm.forward(tensor(ids.data, ids.shape), { outputHiddenStates: true });
  assertEquals(out.logits.shape, exp.base_output.shape);
  assertCloseRel(out.logits.dataSync(), exp.base_output.data, 1e-4, "mini_llama base_output");
  assertEquals(out.hiddenStates!.length, exp.base_hidden_states.length);
  exp.base_hidden_states.forEach((h, i) => {
    assertEquals(out.hiddenStates![i].shape, h.shape);
    assertCloseRel(out.hiddenStates![i].dataSync(), h.data, 1e-4, `hidden_states[${i}]`);
  });
  // nested-array and flat ids give the same logits
  const rows = [ids.data.slice(0, 5), ids.data.slice(5)];
  assertEquals(Array.from(lm.forward(rows).dataSync()), Array.from(out.logits.dataSync()));
  assertEquals(
    Array.from(lm.forward(ids.data, { shape: [2, 5] }).dataSync()),
    Array.from(out.logits.dataSync()),
  );
});

Deno.test("Llama loadHfStateDict: strict errors name missing / unexpected keys and shapes", async () => {
  const { lm } = await miniLlama();
  const sd = { ...lm.stateDict() } as Record<string, Tensor>;
  delete sd["model.layers.1.mlp.up_proj.weight"];
  sd["model.layers.0.self_attn.rotary_emb.inv_freq"] = tensor([1, 2]); // legacy buffer: ignored
  sd["model.layers.0.self_attn.q_proj.bias"] = tensor([1]);
  const err = assertThrows(() => lm.loadHfStateDict(sd), Error);
  assertStringIncludes(err.message, `Missing key(s) in state_dict: "model.layers.1.mlp.up_proj.weight"`);
  assertStringIncludes(
    err.message,
    `Unexpected key(s) in state_dict: "model.layers.0.self_attn.q_proj.bias"`,
  );
  assert(!err.message.includes("inv_freq"));
});

const ropeCfg: LlamaConfig = {
  vocab_size: 11,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 100,
  tie_word_embeddings: true,
  initializer_range: 0.3,
};

Deno.test("Llama with RoPE, GQA and tied embeddings vs a float64 reference; padding mask", () => {
  manualSeed(42);
  const lm = new LlamaForCausalLM(ropeCfg).eval();
  assert(lm.lm_head.weight === lm.model.embed_tokens.weight);
  assert(!lm.namedParameters().some(([n]) => n === "lm_head.weight"));
  const ids = [1, 5, 9, 2, 0, 7, 3, 3, 10, 4, 6, 8];
  const y = lm.forward(ids, { shape: [2, 6] });
  const ref = refLogits(weights64(lm), lm.config, ids, 2, 6);
  assertCloseRel(y.dataSync(), ref, 1e-4, "RoPE llama logits");
  // right padding: the last two tokens of row 1 are padding; real positions are unaffected by them
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
  const ym = lm.forward(ids, { shape: [2, 6], attentionMask: mask });
  const refm = refLogits(weights64(lm), lm.config, ids, 2, 6, { mask });
  const V = 11;
  // compare the rows of real tokens (padded query rows attend to real keys only in both)
  assertCloseRel(ym.dataSync().subarray(0, 10 * V), refm.subarray(0, 10 * V), 1e-4, "masked logits");
  assertCloseRel(
    ym.dataSync().subarray(6 * V, 10 * V),
    y.dataSync().subarray(6 * V, 10 * V),
    1e-5,
    "causal padding",
  );
  assertThrows(() => lm.forward(ids, { shape: [2, 5] }), RangeError, "does not hold");
  assertThrows(() => lm.forward([[1, 2, 11]]), RangeError, "out of range");
});

Deno.test("resolveLlamaConfig: HF defaults and clear errors", () => {
  const c = resolveLlamaConfig({
    vocab_size: 4,
    hidden_size: 8,
    intermediate_size: 4,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  });
  assertEquals(
    [c.model_type, c.num_key_value_heads, c.head_dim, c.rms_norm_eps, c.rope_theta, c.tie_word_embeddings],
    ["llama", 2, 4, 1e-6, 10000, false],
  );
  const base = { vocab_size: 4, hidden_size: 8, intermediate_size: 4, num_hidden_layers: 1 };
  assertThrows(() => resolveLlamaConfig({ ...base, num_attention_heads: 3 }), RangeError, "head_dim");
  assertThrows(
    () => resolveLlamaConfig({ ...base, num_attention_heads: 4, num_key_value_heads: 3 }),
    RangeError,
    "multiple",
  );
  assertThrows(
    () => resolveLlamaConfig({ ...base, num_attention_heads: 2, hidden_act: "tanh" }),
    RangeError,
    "hidden_act",
  );
  assertThrows(
    () => resolveLlamaConfig({ ...base, num_attention_heads: 2, rope_scaling: { rope_type: "llama3" } }),
    RangeError,
    "rope_scaling",
  );
  assertThrows(() => resolveLlamaConfig({ ...base, num_attention_heads: 0 }), RangeError, "positive integer");
});

/**
 * Llama 3.1's RoPE frequencies written out band by band in float64 (the test's own reading of the
 * scheme, independent of src/models/rope.ts): wavelength λ = 2π/f; λ < ctx/high: f; λ > ctx/low: f/factor;
 * between: a linear blend, weight s = (ctx/λ − low)/(high − low) on f and 1 − s on f/factor.
 */
function llama3Freqs(theta: number, d: number, factor: number, low: number, high: number, ctx: number) {
  const out: number[] = [];
  for (let i = 0; i < d / 2; i++) {
    const f = Math.pow(theta, -(2 * i) / d), lambda = (2 * Math.PI) / f;
    if (lambda < ctx / high) out.push(f);
    else if (lambda > ctx / low) out.push(f / factor);
    else {
      const s = (ctx / lambda - low) / (high - low);
      out.push(s * f + (1 - s) * (f / factor));
    }
  }
  return out;
}

Deno.test("rope_scaling linear and llama3: frequencies and logits vs a float64 reference", () => {
  // Llama-3.2-1B's numbers (theta 5e5, D 64, factor 32, low 1, high 4, original context 8192)
  const l3 = {
    rope_type: "llama3",
    factor: 32,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  };
  const got = ropeInvFreq(500000, 64, l3)!;
  const want = llama3Freqs(500000, 64, 32, 1, 4, 8192);
  assertCloseRel(got, Float64Array.from(want), 1e-6, "llama3 inv_freq");
  assertEquals(got[0], 1, "the highest frequency is unchanged");
  assert(
    Math.abs(got[31] * 32 / Math.pow(500000, -62 / 64) - 1) < 1e-6,
    "the lowest is divided by the factor",
  );
  // some frequency falls in the blended band (2048 ≤ λ ≤ 8192) here, so the blend is exercised
  assert(want.some((f) => 2 * Math.PI / f > 2048 && 2 * Math.PI / f < 8192));
  const lin = ropeInvFreq(100, 4, { rope_type: "linear", factor: 4 })!;
  assertCloseRel(lin, Float64Array.from([1 / 4, 1 / 40]), 1e-6, "linear inv_freq");

  // a model with llama3 scaling follows the reference at those frequencies (positions up to 40)
  const l3small = { ...l3, factor: 4, original_max_position_embeddings: 16 };
  const cfg = { ...ropeCfg, rope_theta: 50, rope_scaling: l3small, max_position_embeddings: 64 };
  manualSeed(6);
  const lm = new LlamaForCausalLM(cfg).eval();
  const ids = [1, 5, 9, 2, 0, 7, 3, 3];
  const positions = [0, 3, 7, 12, 20, 27, 33, 40];
  const y = lm.forward(ids, { shape: [1, 8], positionIds: positions }).dataSync();
  const freqs = llama3Freqs(50, ropeCfg.hidden_size / ropeCfg.num_attention_heads, 4, 1, 4, 16);
  const ref = refLogits(weights64(lm), { ...lm.config, ref_inv_freq: freqs }, ids, 1, 8, { positions });
  assertCloseRel(y, ref, 1e-4, "llama3 logits");
  const plain = refLogits(weights64(lm), lm.config, ids, 1, 8, { positions });
  assert(y.some((v, i) => Math.abs(v - plain[i]) > 1e-3), "the scaling matters in this test");
  assertThrows(
    () => resolveLlamaConfig({ ...ropeCfg, rope_scaling: { ...l3, high_freq_factor: 0.5 } }),
    RangeError,
    "high_freq_factor",
  );
  assertThrows(
    () => resolveLlamaConfig({ ...ropeCfg, rope_scaling: { rope_type: "dynamic", factor: 2 } }),
    RangeError,
    'rope_scaling of type "dynamic" is not supported (default, linear, llama3)',
  );
});

Deno.test("rope_parameters (transformers v5 configs): its rope_theta is used; other rope types and conflicts throw", () => {
  const { rope_theta: _, ...noTheta } = ropeCfg;
  const v5 = { ...noTheta, rope_parameters: { rope_type: "default", rope_theta: 7 } };
  assertEquals(resolveLlamaConfig(v5).rope_theta, 7);
  // the logits follow the float64 reference at theta 7 (and differ from the default 10000)
  manualSeed(5);
  const lm = new LlamaForCausalLM(v5).eval();
  const ids = [1, 5, 9, 2, 0, 7, 3, 3];
  const y = lm.forward(ids, { shape: [1, 8] }).dataSync();
  assertCloseRel(y, refLogits(weights64(lm), { ...lm.config, rope_theta: 7 }, ids, 1, 8), 1e-4, "theta 7");
  const other = refLogits(weights64(lm), { ...lm.config, rope_theta: 10000 }, ids, 1, 8);
  assert(y.some((v, i) => Math.abs(v - other[i]) > 1e-3), "theta matters in this test");
  assertThrows(
    () => resolveLlamaConfig({ ...v5, rope_parameters: { rope_type: "yarn", rope_theta: 7, factor: 4 } }),
    RangeError,
    'rope_parameters of type "yarn" is not supported',
  );
  assertThrows(() => resolveLlamaConfig({ ...v5, rope_theta: 8 }), RangeError, "disagree");
  assertEquals(resolveLlamaConfig({ ...v5, rope_theta: 7 }).rope_theta, 7);
});

Deno.test("LlamaForCausalLM.fromPretrained: single file and sharded checkpoint directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    manualSeed(3);
    const src = new LlamaForCausalLM({ ...ropeCfg, tie_word_embeddings: false });
    const sd = src.stateDict();
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...ropeCfg, tie_word_embeddings: false, model_type: "llama" }),
    );
    await saveSafetensors(`${dir}/model.safetensors`, sd, { format: "pt" });
    const lm = await LlamaForCausalLM.fromPretrained(dir);
    assert(!lm.training);
    const ids = [[1, 2, 3, 4]];
    assertEquals(Array.from(lm.forward(ids).dataSync()), Array.from(src.eval().forward(ids).dataSync()));

    // sharded: two files + index; a tied config without lm_head.weight in the files
    const sdir = `${dir}/sharded`;
    await Deno.mkdir(sdir);
    const keys = Object.keys(sd).filter((k) => k !== "lm_head.weight");
    const half = Math.floor(keys.length / 2);
    const shards = [keys.slice(0, half), keys.slice(half)];
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < 2; i++) {
      const f = `model-0000${i + 1}-of-00002.safetensors`;
      await saveSafetensors(`${sdir}/${f}`, Object.fromEntries(shards[i].map((k) => [k, sd[k]])));
      for (const k of shards[i]) weightMap[k] = f;
    }
    await Deno.writeTextFile(
      `${sdir}/model.safetensors.index.json`,
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    await Deno.writeTextFile(
      `${sdir}/config.json`,
      JSON.stringify({ ...ropeCfg, tie_word_embeddings: true }),
    );
    const tied = await LlamaForCausalLM.fromPretrained(sdir);
    assert(tied.lm_head.weight === tied.model.embed_tokens.weight);
    assertEquals(
      Array.from(tied.model.layers.at(1).mlp.up_proj.weight.dataSync()),
      Array.from(sd["model.layers.1.mlp.up_proj.weight"].dataSync()),
    );
    await assertRejectsMsg(() => LlamaForCausalLM.fromPretrained(`${dir}/nope`), "config.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function assertRejectsMsg(fn: () => Promise<unknown>, part: string) {
  try {
    await fn();
  } catch (e) {
    assertStringIncludes(String(e), part);
    return;
  }
  throw new Error("expected a rejection");
}

Deno.test("Llama end to end: causal-LM loss gradients vs central finite differences (RoPE, GQA)", () => {
  manualSeed(9);
  const lm = new LlamaForCausalLM({ ...ropeCfg, tie_word_embeddings: false, initializer_range: 0.5 });
  const ids = [[1, 5, 9, 2, 0], [7, 3, 3, 10, 4]];
  const loss = causalLmLoss(lm.forward(ids), ids);
  loss.backward();
  const lossAt = () => noGrad(() => causalLmLoss(lm.forward(ids), ids).item());
  const checks: Array<[string, number[]]> = [
    ["model.layers.0.self_attn.q_proj.weight", [0, 17, 63]],
    ["model.layers.1.self_attn.k_proj.weight", [3, 40]],
    ["model.layers.0.mlp.gate_proj.weight", [5, 100]],
    ["model.embed_tokens.weight", [16 * 5 + 3, 16 * 9 + 1]],
    ["model.norm.weight", [2]],
  ];
  for (const [name, idxs] of checks) {
    const p = lm.getParameter(name);
    const g = p.grad!.dataSync();
    for (const i of idxs) {
      const d = p.dataSync();
      const orig = d[i], h = 1e-2;
      d[i] = orig + h;
      const lp = lossAt();
      d[i] = orig - h;
      const lmn = lossAt();
      d[i] = orig;
      const num = (lp - lmn) / (2 * h);
      assert(
        Math.abs(num - g[i]) <= 2e-3 + 2e-2 * Math.abs(num),
        `${name}[${i}]: autograd ${g[i]} vs numeric ${num}`,
      );
    }
  }
  // the loss is the mean next-token cross-entropy: ln(V) for uniform logits
  const zero = new LlamaForCausalLM({ ...ropeCfg, tie_word_embeddings: false });
  noGrad(() => zero.lm_head.weight.zero_());
  assert(Math.abs(causalLmLoss(zero.forward(ids), ids).item() - Math.log(11)) < 1e-5);
});

/**
 * Counts the wasm backend's storages made and disposed while `fn` runs; returns the most that were alive
 * (made, not yet disposed) at once, counted from the start of `fn`.
 */
function peakLiveStorages(fn: () => void): number {
  const b = backendNamed("wasm") as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ["output", "full", "fromArray"] as const;
  const saved = [...names, "dispose"].map((n) => [n, Object.hasOwn(b, n), b[n]] as const);
  let live = 0, peak = 0;
  const disposed = new WeakSet<object>();
  for (const n of names) {
    const orig = b[n];
    b[n] = function (this: unknown, ...a: unknown[]) {
      live++;
      peak = Math.max(peak, live);
      return orig.apply(this, a);
    };
  }
  const origDispose = b.dispose;
  b.dispose = function (this: unknown, s: unknown) {
    if (!disposed.has(s as object)) {
      disposed.add(s as object);
      live--;
    }
    return origDispose.call(this, s);
  };
  try {
    fn();
  } finally {
    for (const [n, own, f] of saved) {
      if (own) b[n] = f;
      else delete b[n];
    }
  }
  return peak;
}

Deno.test("a forward without a graph releases each layer's temporaries when the layer returns", () => {
  const peaks = [2, 8].map((layers) => {
    manualSeed(9);
    const lm = new LlamaForCausalLM({ ...ropeCfg, num_hidden_layers: layers }).eval();
    const ids = [1, 5, 9, 2, 0, 7, 3, 3];
    lm.forward(ids, { shape: [2, 4], attentionMask: [1, 1, 1, 1, 0, 1, 1, 1] }); // warm caches (rope tables)
    let y: Float32Array | undefined;
    const peak = peakLiveStorages(() => {
      y = noGrad(() => lm.forward(ids, { shape: [2, 4], attentionMask: [1, 1, 1, 1, 0, 1, 1, 1] }))
        .dataSync();
    });
    // the same logits as the forward that records a graph
    const withGraph = lm.forward(ids, { shape: [2, 4], attentionMask: [1, 1, 1, 1, 0, 1, 1, 1] }).dataSync();
    assertEquals([...y!], [...withGraph]);
    return peak;
  });
  // six more layers hold nothing more at the peak (before: every layer's temporaries until the GC)
  assert(peaks[1] <= peaks[0] + 1, `peak live storages: ${peaks[0]} with 2 layers, ${peaks[1]} with 8`);
});

Deno.test("LlamaMLP (silu) runs the fused SwiGLU op and equals the composed silu·up form bit for bit, gradients included", () => {
  // the main job's sizes: 1024 rows × 512 hidden units, large enough for the wasm kernels on both paths
  const cfg = resolveLlamaConfig({
    vocab_size: 8,
    hidden_size: 192,
    intermediate_size: 512,
    num_hidden_layers: 1,
    num_attention_heads: 4,
  });
  manualSeed(11);
  const mlp = new LlamaMLP(cfg);
  const x0 = randn([8, 128, 192]);
  const g0 = randn([8, 128, 192]);
  const run = (fused: boolean) => {
    const x = x0.clone().requiresGrad_();
    for (const p of mlp.parameters()) p.grad = null;
    const y = fused
      ? mlp.forward(x)
      : mlp.down_proj.forward(mul(silu(mlp.gate_proj.forward(x)), mlp.up_proj.forward(x)));
    if (fused) assertEquals(y.gradFn?.inputs[0].gradFn?.name, "swiglu");
    y.backward(g0);
    return [y, x.grad!, ...mlp.parameters().map((p) => p.grad!)].map((t) => t.dataSync().slice());
  };
  const fused = run(true), composed = run(false);
  const names = ["output", "x.grad", ...mlp.namedParameters().map(([n]) => `${n}.grad`)];
  for (let i = 0; i < fused.length; i++) {
    assertEquals(fused[i].length, composed[i].length, names[i]);
    for (let j = 0; j < fused[i].length; j++) {
      if (!Object.is(fused[i][j], composed[i][j])) {
        throw new Error(`${names[i]}[${j}]: fused ${fused[i][j]} vs composed ${composed[i][j]}`);
      }
    }
  }
});

Deno.test("causalLmLoss = HF's shifted cross-entropy (float64), ignoreIndex, gradient 0 on each sequence's last position", () => {
  const b = 2, t = 4, v = 5;
  const ld = Float32Array.from({ length: b * t * v }, (_, i) => Math.sin(i * 1.7) * 3);
  const labels = [[4, 1, -100, 2], [0, 3, 3, 1]];
  const logits = tensor(Array.from(ld), [b, t, v]).requiresGrad_();
  const loss = causalLmLoss(logits, labels);
  loss.backward();
  // HF: CE(logits[:, :-1], labels[:, 1:]), mean over labels != -100
  let total = 0, count = 0;
  const want = new Float64Array(b * t * v);
  const rows: Array<[number, number, number]> = [];
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t - 1; j++) if (labels[i][j + 1] !== -100) rows.push([i, j, labels[i][j + 1]]);
  }
  for (const [i, j, y] of rows) {
    const o = (i * t + j) * v;
    let mx = -Infinity, se = 0;
    for (let c = 0; c < v; c++) mx = Math.max(mx, ld[o + c]);
    for (let c = 0; c < v; c++) se += Math.exp(ld[o + c] - mx);
    const lse = mx + Math.log(se);
    total += lse - ld[o + y];
    count++;
    for (let c = 0; c < v; c++) want[o + c] = Math.exp(ld[o + c] - lse) - (c === y ? 1 : 0);
  }
  assertEquals(count, 5);
  assert(Math.abs(loss.item() - total / count) < 1e-6, `loss ${loss.item()} vs ${total / count}`);
  const g = logits.grad!.dataSync();
  for (let e = 0; e < want.length; e++) {
    assert(Math.abs(g[e] - want[e] / count) < 1e-6, `grad[${e}] ${g[e]} vs ${want[e] / count}`);
  }
});
