// Sequence classification (HF LlamaForSequenceClassification / Qwen2ForSequenceClassification) vs
// the float64 reference of tests/_ref_decoder.ts (pooling at the last non-padding token written
// here), loading a causal-LM checkpoint as the backbone, and the head travelling through C3A
// adapter files with taskType "SEQ_CLS".
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { crossEntropy, manualSeed, noGrad, normal_ } from "../src/tensor/index.ts";
import { type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { LlamaForSequenceClassification } from "../src/models/sequence_classification.ts";
import { Qwen2ForSequenceClassification } from "../src/models/qwen2.ts";
import { AutoModelForSequenceClassification } from "../src/models/auto.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { C3AModel, getPeftModel } from "../src/c3a/model.ts";
import { ModulesToSaveWrapper } from "../src/c3a/modulesToSave.ts";
import { loadSafetensors } from "../src/io/safetensors.ts";
import { AdamW } from "../src/optim/mod.ts";
import { maxRelErr, refHidden, weights64 } from "./_ref_decoder.ts";

const cfg: LlamaConfig = {
  vocab_size: 15,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  initializer_range: 0.3,
  num_labels: 3,
  pad_token_id: 0,
};
// right-padded rows (pad id 0): the last real tokens are at 5, 3 and 1
const ids = [4, 7, 1, 9, 2, 3, 5, 6, 8, 11, 0, 0, 12, 13, 0, 0, 0, 0];
const mask = ids.map((t) => (t === 0 ? 0 : 1));
const B = 3, T = 6;

function refClassify(m: LlamaForSequenceClassification, qkvBias: boolean) {
  const w = weights64(m);
  const h = refHidden(w, m.config, ids, B, T, { mask, qkvBias });
  const C = cfg.hidden_size, L = 3;
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let last = 0;
    for (let j = 0; j < T; j++) if (ids[b * T + j] !== 0) last = j;
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += h[(b * T + last) * C + c] * w["score.weight"][l * C + c];
      out.push(s);
    }
  }
  return out;
}

Deno.test("LlamaForSequenceClassification / Qwen2's: logits at the last non-padding token vs float64 reference", () => {
  manualSeed(1);
  for (
    const [cls, bias] of [[LlamaForSequenceClassification, false], [
      Qwen2ForSequenceClassification,
      true,
    ]] as const
  ) {
    const m = new cls(cfg).eval();
    assert(m.score.bias === null);
    assertEquals(m.score.weight.shape, [3, 16]);
    noGrad(() => {
      for (const [n, p] of m.namedParameters()) if (n.endsWith(".bias")) normal_(p, 0, 0.5);
    });
    const y = m.forward(ids, { shape: [B, T], attentionMask: mask });
    assertEquals(y.shape, [B, 3]);
    const err = maxRelErr(y.dataSync(), refClassify(m, bias));
    assert(err <= 1e-5, `${cls.name}: ${err}`);
  }
  const noPad = new LlamaForSequenceClassification({ ...cfg, pad_token_id: null });
  const e = assertThrows(() => noPad.forward(ids, { shape: [B, T] }), RangeError);
  assertStringIncludes(e.message, "pad_token_id");
  assertEquals(noPad.forward([[1, 2, 3]]).shape, [1, 3]);
  assertEquals(
    new LlamaForSequenceClassification({ ...cfg, num_labels: undefined, id2label: { 0: "neg", 1: "pos" } })
      .config.num_labels,
    2,
  );
});

Deno.test("sequence classification from a causal-LM checkpoint; savePretrained keeps labels", async () => {
  const dir = await Deno.makeTempDir();
  try {
    manualSeed(2);
    const lm = new LlamaForCausalLM({ ...cfg, num_labels: undefined });
    await lm.savePretrained(dir);
    const clf = await AutoModelForSequenceClassification.fromPretrained(dir, {
      num_labels: 2,
      pad_token_id: 0,
    });
    assert(clf instanceof LlamaForSequenceClassification);
    assertEquals(
      Array.from(clf.model.layers.at(1).mlp.up_proj.weight.dataSync()),
      Array.from(lm.model.layers.at(1).mlp.up_proj.weight.dataSync()),
    );
    assert(clf.score.weight.dataSync().some((v) => v !== 0), "the new head is initialised");
    await clf.savePretrained(`${dir}/clf`);
    const conf = JSON.parse(await Deno.readTextFile(`${dir}/clf/config.json`));
    assertEquals([conf.architectures[0], conf.num_labels, conf.id2label, conf.label2id], [
      "LlamaForSequenceClassification",
      2,
      { 0: "LABEL_0", 1: "LABEL_1" },
      { LABEL_0: 0, LABEL_1: 1 },
    ]);
    const back = await LlamaForSequenceClassification.fromPretrained(`${dir}/clf`);
    assertEquals(
      Array.from(back.forward(ids, { shape: [B, T] }).dataSync()),
      Array.from(clf.forward(ids, { shape: [B, T] }).dataSync()),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("C3A taskType SEQ_CLS: the score head is in modulesToSave, trains, and is saved and restored through adapter files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    manualSeed(3);
    const base = new LlamaForSequenceClassification(cfg);
    const baseWeights = base.stateDict();
    const snapshot = Object.fromEntries(
      Object.entries(baseWeights).map(([k, v]) => [k, { shape: v.shape, data: v.dataSync().slice() }]),
    );
    const config = new C3AConfig({ blockSize: 4, targetModules: ["q_proj", "v_proj"], taskType: "SEQ_CLS" });
    const peft = getPeftModel(base, config);
    assert(peft.peftConfig.default.modulesToSave!.includes("score"));
    assert(peft.model.getSubmodule("score") instanceof ModulesToSaveWrapper);
    const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
    assert(trainable.includes("score.modules_to_save.default.weight"), trainable.join(", "));
    const opt = new AdamW(peft.parameters().filter((p) => p.requiresGrad), { lr: 0.05 });
    for (let i = 0; i < 3; i++) {
      crossEntropy(peft.forward(ids, { shape: [B, T] }), [0, 2, 1]).backward();
      opt.step();
      opt.zeroGrad();
    }
    peft.eval();
    const y: number[] = Array.from(peft.forward(ids, { shape: [B, T] }).dataSync() as Float32Array);
    await peft.savePretrained(dir);
    const { tensors } = await loadSafetensors(`${dir}/adapter_model.safetensors`);
    const headKeys = Object.keys(tensors).filter((k) => k.includes("score"));
    assertEquals(headKeys.length, 1, Object.keys(tensors).join(", "));
    // a fresh base with the original weights + the adapter files = the trained model
    const fresh = new LlamaForSequenceClassification(cfg);
    fresh.loadStateDict(snapshot);
    const restored = await C3AModel.fromPretrained(fresh, dir);
    assertEquals(Array.from(restored.forward(ids, { shape: [B, T] }).dataSync()), y);
    // without the head in the files the outputs differ (the test can fail)
    const plain = new LlamaForSequenceClassification(cfg);
    plain.loadStateDict(snapshot);
    assert(maxRelErr(plain.eval().forward(ids, { shape: [B, T] }).dataSync(), y) > 1e-3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
