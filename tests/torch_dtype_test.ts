// 16-bit frozen base weights (fromPretrained's torchDtype, Tensor.to(dtype)): a model loaded with
// bfloat16 / float16 weights against (1) the float64 reference decoder of tests/_ref_decoder.ts fed
// the same 16-bit values (decoded exactly, independently of src/) and (2) the float32 path on the
// same rounded weights; gradients through the 16-bit operand; half the memory of the base; saving
// keeps BF16/F16; the one-line errors of every other use.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { manualSeed, noGrad, randn, Tensor, tensor } from "../src/tensor/index.ts";
import { type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { LlamaForSequenceClassification } from "../src/models/sequence_classification.ts";
import { AutoModelForCausalLM } from "../src/models/auto.ts";
import { linear, matmul } from "../src/ops/matmul.ts";
import { circulantLinear } from "../src/ops/circulant.ts";
import { embedding } from "../src/ops/nn.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";
import type { C3ALinear } from "../src/c3a/layer.ts";
import { Linear } from "../src/nn/linear.ts";
import { WasmBackend, type WasmStorage } from "../src/backend/wasm/backend.ts";
import { setResidentCap } from "../src/backend/wasm/memory.ts";
import { maxRelErr, refLogits, type W } from "./_ref_decoder.ts";

// ---- independent helpers (plain arithmetic, not src/) ----

/** bfloat16 bits -> value (the upper half of a float32). */
function bf16(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
}
/** float16 bits -> value. */
function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
/** Values of raw 16-bit patterns, float64. */
function decode(bits: Uint16Array, dtype: "bfloat16" | "float16"): Float64Array {
  return Float64Array.from(bits, dtype === "bfloat16" ? bf16 : f16);
}
/** Reads a safetensors file's header (JSON), independently of src/io. */
async function header(path: string): Promise<Record<string, { dtype: string; shape: number[] }>> {
  const bytes = await Deno.readFile(path);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}
/** The raw 16-bit data of one tensor of a safetensors file (little-endian), independently of src/io. */
async function fileBits(path: string, name: string): Promise<Uint16Array> {
  const bytes = await Deno.readFile(path);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const e = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)))[name];
  const [b0, b1] = e.data_offsets as number[];
  const dv = new DataView(bytes.buffer, 8 + n + b0, b1 - b0);
  return Uint16Array.from({ length: (b1 - b0) / 2 }, (_, i) => dv.getUint16(2 * i, true));
}
/** Float64 weights of a model whose parameters may be 16-bit (the bits decoded here, not by src/). */
function weights64(m: { stateDict(): Record<string, Tensor> }): W {
  const out: W = {};
  for (const [k, v] of Object.entries(m.stateDict())) {
    out[k] = v.dtype === "float32" ? Float64Array.from(v.dataSync()) : decode(v.bitsSync(), v.dtype);
  }
  return out;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const cfg: LlamaConfig = {
  vocab_size: 40,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 100,
  initializer_range: 0.2,
  tie_word_embeddings: true,
};
const B = 2, T = 6;
const ids = [1, 5, 9, 2, 0, 7, 3, 3, 10, 4, 39, 8];

async function withCheckpoint(
  dtype: "bfloat16" | "float16",
  fn: (dir: string) => Promise<void>,
  overrides: Partial<LlamaConfig> = {},
) {
  manualSeed(7);
  const dir = await Deno.makeTempDir();
  try {
    await new LlamaForCausalLM({ ...cfg, ...overrides }).savePretrained(dir, { dtype });
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const dtype of ["bfloat16", "float16"] as const) {
  Deno.test(`torchDtype ${dtype}: forward = float64 reference on the 16-bit values; = float32 path on them`, async () => {
    await withCheckpoint(dtype, async (dir) => {
      const lm16 = await LlamaForCausalLM.fromPretrained(dir, { torchDtype: dtype });
      const lm32 = await LlamaForCausalLM.fromPretrained(dir); // the same values, held in float32
      // Linear and Embedding weights are 16-bit (tied lm_head: the same tensor), norms float32
      for (const [n, p] of lm16.namedParameters()) {
        assertEquals(p.dtype, n.endsWith("norm.weight") ? "float32" : dtype, n);
        if (p.dtype !== "float32") assert(!p.requiresGrad, n);
      }
      assert(lm16.lm_head.weight === lm16.model.embed_tokens.weight);
      const y16 = lm16.forward(ids, { shape: [B, T] }).dataSync();
      const ref = refLogits(weights64(lm16), lm16.config, ids, B, T);
      const err = maxRelErr(y16, ref);
      assert(err <= 1e-5, `relative error ${err} vs the float64 reference`);
      const y32 = lm32.forward(ids, { shape: [B, T] }).dataSync();
      assert(maxAbsDiff(y16, y32) <= 1e-5 * Math.max(...y32.map(Math.abs)), "16-bit vs float32 path");
      // the reference can fail: other weights give other logits
      const other = weights64(lm16);
      other["model.layers.0.mlp.up_proj.weight"] = other["model.layers.0.mlp.up_proj.weight"].map((v) =>
        v * 1.01
      );
      assert(maxRelErr(y16, refLogits(other, lm16.config, ids, B, T)) > 1e-4);
    });
  });
}

Deno.test("torchDtype bfloat16: C3A gradients through the 16-bit base equal the float32 path's", async () => {
  await withCheckpoint("bfloat16", async (dir) => {
    const grads: Float32Array[][] = [];
    const losses: number[] = [];
    for (const torchDtype of ["bfloat16", "float32"] as const) {
      manualSeed(3);
      const lm = await LlamaForCausalLM.fromPretrained(dir, { torchDtype });
      const peft = getPeftModel(
        lm,
        new C3AConfig({
          blockSize: 8,
          targetModules: ["q_proj", "v_proj", "down_proj"],
          initWeights: "xavier_uniform",
        }),
      );
      peft.train();
      const logits = peft.forward(ids, { shape: [B, T] }) as Tensor;
      const loss = logits.logSoftmax(-1).mean().neg();
      loss.backward();
      losses.push(loss.item());
      grads.push(
        peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([, p]) => p.grad!.dataSync().slice()),
      );
    }
    assert(Math.abs(losses[0] - losses[1]) <= 1e-6 * Math.abs(losses[1]), `${losses}`);
    assertEquals(grads[0].length, 6);
    for (let i = 0; i < grads[0].length; i++) {
      const scale = Math.max(...grads[1][i].map(Math.abs));
      assert(scale > 0);
      const d = maxAbsDiff(grads[0][i], grads[1][i]);
      assert(d <= 1e-5 * scale, `kernel ${i}: ${d} vs scale ${scale}`);
    }
  });
});

Deno.test("torchDtype: the base takes half the bytes (storages counted); auto reads config.json; bad value", async () => {
  await withCheckpoint("bfloat16", async (dir) => {
    const bytes = (m: LlamaForCausalLM) => {
      const seen = new Set<ArrayBufferLike>();
      let n = 0;
      for (const p of m.parameters()) {
        const d = (p.storage as WasmStorage).data!;
        if (seen.has(d.buffer)) continue;
        seen.add(d.buffer);
        n += d.buffer.byteLength;
      }
      return n;
    };
    const lm16 = await AutoModelForCausalLM.fromPretrained(dir, { torchDtype: "auto" }); // config: bfloat16
    const lm32 = await AutoModelForCausalLM.fromPretrained(dir);
    assertEquals(lm16.lm_head.weight.dtype, "bfloat16");
    // the loaded bits are the file's bits
    for (const name of ["model.embed_tokens.weight", "model.layers.1.mlp.gate_proj.weight"]) {
      assertEquals(lm16.stateDict()[name].bitsSync(), await fileBits(`${dir}/model.safetensors`, name), name);
    }
    const norms = lm32.namedParameters().filter(([n]) => n.endsWith("norm.weight"))
      .reduce((s, [, p]) => s + 4 * p.size, 0);
    const b16 = bytes(lm16), b32 = bytes(lm32);
    assertEquals(b16 - norms, (b32 - norms) / 2, `${b16} vs ${b32}`);
    let err: unknown = null;
    try {
      await LlamaForCausalLM.fromPretrained(dir, { torchDtype: "int8" as "float16" });
    } catch (e) {
      err = e;
    }
    assert(err instanceof RangeError);
    assertStringIncludes(err.message, 'torchDtype "int8" is not one of');
  });
});

Deno.test("torchDtype: savePretrained keeps BF16 (norms F32) and round-trips the bits; dtype option converts", async () => {
  await withCheckpoint("bfloat16", async (dir) => {
    const lm16 = await LlamaForCausalLM.fromPretrained(dir, { torchDtype: "bfloat16" });
    const out = await Deno.makeTempDir();
    try {
      await lm16.savePretrained(out);
      const h = await header(`${out}/model.safetensors`);
      assertEquals(h["model.embed_tokens.weight"].dtype, "BF16");
      assertEquals(h["model.layers.1.self_attn.o_proj.weight"].dtype, "BF16");
      assertEquals(h["model.norm.weight"].dtype, "F32");
      assert(!("lm_head.weight" in h), "tied: not stored");
      assertEquals(JSON.parse(await Deno.readTextFile(`${out}/config.json`)).torch_dtype, "bfloat16");
      const back = await LlamaForCausalLM.fromPretrained(out, { torchDtype: "bfloat16" });
      const a = lm16.stateDict(), b = back.stateDict();
      for (const k of Object.keys(a)) {
        if (a[k].dtype === "float32") assertEquals(b[k].dataSync(), a[k].dataSync(), k);
        else assertEquals(b[k].bitsSync(), a[k].bitsSync(), k);
      }
      // an explicit dtype converts every tensor
      const out32 = `${out}/f32`;
      await lm16.savePretrained(out32, { dtype: "float32" });
      const h32 = await header(`${out32}/model.safetensors`);
      assert(Object.entries(h32).every(([k, e]) => k === "__metadata__" || e.dtype === "F32"));
      const l32 = await LlamaForCausalLM.fromPretrained(out32);
      assertEquals(
        Array.from(l32.model.embed_tokens.weight.dataSync()),
        Array.from(decode(lm16.model.embed_tokens.weight.bitsSync(), "bfloat16")),
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
});

Deno.test("torchDtype: mergeAndUnload keeps the 16-bit weight = round(W + ΔW); modules_to_save copies are float32", async () => {
  await withCheckpoint("bfloat16", async (dir) => {
    const lm = await LlamaForCausalLM.fromPretrained(dir, { torchDtype: "bfloat16" });
    const peft = getPeftModel(
      lm,
      new C3AConfig({ blockSize: 8, targetModules: ["o_proj"], initWeights: "xavier_uniform" }),
    );
    const layer = lm.model.layers.at(0).self_attn.o_proj as unknown as C3ALinear;
    const w0 = decode(layer.base_layer.weight.bitsSync(), "bfloat16");
    const delta = noGrad(() => layer.getDeltaWeight("default")).dataSync().slice();
    const before = (peft.forward(ids, { shape: [B, T] }) as Tensor).dataSync().slice();
    const merged = peft.mergeAndUnload();
    const w = merged.model.layers.at(0).self_attn.o_proj as Linear;
    assertEquals(w.weight.dtype, "bfloat16");
    const got = w.weight.bitsSync();
    // round(W + ΔW) to bfloat16, nearest even, computed here
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (let i = 0; i < got.length; i++) {
      f[0] = w0[i] + delta[i];
      const b = u[0];
      assertEquals(got[i], (b + 0x7fff + ((b >>> 16) & 1)) >>> 16, `element ${i}`);
    }
    const after = merged.forward(ids, { shape: [B, T] }).dataSync();
    assert(maxRelErr(after, before) < 2e-2, "merged ≈ unmerged (bfloat16 rounding)");
  });
  // modules_to_save of a 16-bit head: a float32, trainable copy
  await withCheckpoint("bfloat16", async (dir) => {
    const lm2 = await LlamaForCausalLM.fromPretrained(dir, { torchDtype: "bfloat16" });
    const head = lm2.lm_head.weight;
    assertEquals(head.dtype, "bfloat16");
    const peft2 = getPeftModel(
      lm2,
      new C3AConfig({ blockSize: 8, targetModules: ["q_proj"], modulesToSave: ["lm_head"] }),
    );
    const trained = peft2.namedParameters().filter(([n]) => n.includes("modules_to_save"));
    assertEquals(trained.map(([, p]) => [p.dtype, p.requiresGrad]), [["float32", true]]);
    assertEquals(Array.from(trained[0][1].dataSync()), Array.from(decode(head.bitsSync(), "bfloat16")));
  }, { tie_word_embeddings: false });
});

Deno.test("Tensor.to(dtype) / float(): rounding to nearest even, exact back; torch's semantics", () => {
  const x = tensor([1, 1.00390625, 1.01171875, -2.5, 65520, 1e-8]);
  const b = x.to("bfloat16");
  assertEquals(b.dtype, "bfloat16");
  assertEquals(Array.from(b.bitsSync()), [0x3f80, 0x3f80, 0x3f82, 0xc020, 0x4780, 0x322c]);
  const h = x.to("float16");
  assertEquals(Array.from(h.bitsSync()), [0x3c00, 0x3c04, 0x3c0c, 0xc100, 0x7c00, 0x0000]);
  assertEquals(Array.from(b.float().dataSync()), Array.from(decode(b.bitsSync(), "bfloat16")));
  assert(x.to("float32") === x && b.to("bfloat16") === b);
  // bfloat16 -> float16 goes through the exact float32 value (1.015625 after bfloat16's rounding)
  assertEquals(Array.from(b.to("float16").bitsSync().subarray(0, 4)), [0x3c00, 0x3c00, 0x3c10, 0xc100]);
  assertEquals(b.reshape([2, 3]).dtype, "bfloat16");
  assertEquals(b.clone().bitsSync(), b.bitsSync());
  assert(b.toString().includes("dtype=bfloat16"));
});

Deno.test("16-bit weight operand: tiled linear/matmul (forward, input gradient, bias, batch) = float32 path", () => {
  manualSeed(11);
  // k = 4096 makes a converted tile 64 columns wide: several tiles and a partial one
  const w = randn([200, 4096]).to("bfloat16"), w32 = w.float();
  const bias = randn([200]);
  const x = randn([3, 5, 4096]).requiresGrad_();
  const y = linear(x, w, bias), y32 = linear(x, w32, bias);
  const close = (a: Float32Array, b: Float32Array, what: string) => {
    const scale = Math.max(...b.map(Math.abs));
    assert(maxAbsDiff(a, b) <= 1e-6 * scale, `${what}: ${maxAbsDiff(a, b)} vs scale ${scale}`);
  };
  close(y.dataSync(), y32.dataSync(), "forward");
  const g = randn([3, 5, 200]);
  y.backward(g);
  const gx = x.grad!.dataSync().slice();
  x.grad = null;
  y32.backward(g);
  close(gx, x.grad!.dataSync(), "input gradient");
  // matmul with the 16-bit operand on the right ([k, n], not transposed), batched over x
  const v = randn([4096, 70]).to("float16");
  close(matmul(x.detach(), v).dataSync(), matmul(x.detach(), v.float()).dataSync(), "matmul");
  // a per-batch 16-bit B ([2, k, n]): one product per batch item
  const vb = randn([2, 4096, 9]).to("bfloat16");
  const xb = randn([2, 3, 4096]);
  close(matmul(xb, vb).dataSync(), matmul(xb, vb.float()).dataSync(), "batched B");
  // the kernel's transA forms (not used by the ops, part of its contract): A stored [k, m]
  const at = randn([4096, 6]);
  for (const transB of [false, true]) {
    const bw = transB ? randn([9, 4096]).to("bfloat16") : randn([4096, 9]).to("bfloat16");
    const run = (b: Tensor) =>
      Tensor.fromStorage(
        at.backend.matmul(at.storage, b.storage, { m: 6, n: 9, k: 4096, transA: true, transB }),
        [
          6,
          9,
        ],
      ).dataSync();
    close(run(bw), run(bw.float()), `transA, transB ${transB}`);
  }
  // embedding rows
  const e = embedding(tensor([5, 0, 199], [3]), w);
  assertEquals(e.dataSync(), embedding(tensor([5, 0, 199], [3]), w32).dataSync());
});

Deno.test("16-bit weight operand: C3A folded into the product (circulantLinear) = float32 path on the same values, over several tiles", () => {
  manualSeed(13);
  // in = 4096: a converted tile of W is 64 rows (forward: column blocks of C; input gradient: k-ranges)
  const w = randn([200, 4096]).to("bfloat16"), w32 = w.float();
  const bias = randn([200]), kernel = randn([25, 512, 8]).mul(0.01);
  const close = (a: Float32Array, b: Float32Array, what: string) => {
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert(maxAbsDiff(a, b) <= 1e-6 * scale, `${what}: ${maxAbsDiff(a, b)} vs scale ${scale}`);
  };
  const xd = randn([3, 25, 4096]), g = randn([3, 25, 200]);
  const run = (weight: Tensor) => {
    const x = xd.clone().requiresGrad_(), k = kernel.clone().requiresGrad_();
    const y = circulantLinear(x, weight, bias, k);
    y.backward(g);
    return [y.dataSync().slice(), x.grad!.dataSync().slice(), k.grad!.dataSync().slice()];
  };
  const half = run(w), full = run(w32);
  close(half[0], full[0], "forward");
  close(half[1], full[1], "input gradient");
  close(half[2], full[2], "kernel gradient");
});

Deno.test("16-bit weight operand: rows of A and C go through in blocks past the operand cap", () => {
  manualSeed(12);
  const w = randn([50, 300]).to("bfloat16"), w32 = w.float();
  const x = randn([40, 300]), g = randn([40, 50]);
  const want = linear(x, w32).dataSync(), wantGx = matmul(g, w32).dataSync();
  setResidentCap(4096); // 16-row blocks: 16 + 16 + 8
  try {
    const y = linear(x, w).dataSync(), gx = matmul(g, w).dataSync();
    assert(maxAbsDiff(y, want) <= 1e-6 * Math.max(...want.map(Math.abs)), "forward");
    assert(maxAbsDiff(gx, wantGx) <= 1e-6 * Math.max(...wantGx.map(Math.abs)), "input gradient");
  } finally {
    setResidentCap(undefined);
  }
});

Deno.test("16-bit tensors: one-line errors for other ops, requiresGrad, reads and backends without 16 bits", () => {
  const w = randn([4, 3]).to("bfloat16");
  assertThrows(() => w.add(1), TypeError, 'binaryScalar "add": input "x" is a bfloat16 tensor');
  assertThrows(() => w.exp(), TypeError, "convert it with .float() first");
  assertThrows(() => matmul(w, randn([3, 2])), TypeError, 'matmul: input "a" is a bfloat16 tensor');
  assertThrows(() => w.t(), TypeError, "copyStrided");
  assertThrows(() => (w.requiresGrad = true), TypeError, "cannot require grad");
  assertThrows(() => w.dataSync(), TypeError, "dataSync(): the tensor is bfloat16");
  assertThrows(() => randn([2]).requiresGrad_().to("float16"), TypeError, "requires grad");
  assertThrows(() => randn([2]).bitsSync(), TypeError, "not bfloat16");
  // an executor without 16-bit storage (WebGPU's case): moving refuses with the fix
  const noHalf = new WasmBackend();
  Object.defineProperty(noHalf, "fromBits", { value: undefined });
  assertThrows(() => w.to(noHalf), TypeError, "holds float32 only; convert with .float()");
  const lin = new Linear(3, 4, { bias: false });
  lin.weight._castTo("bfloat16");
  assertThrows(() => lin.to(noHalf), TypeError, "module.float()");
  lin.float();
  assertEquals(lin.weight.dtype, "float32");
  lin.to(noHalf);
  assert(lin.weight.backend === noHalf);
});

Deno.test("torchDtype: generate (KV cache) gives the float32 path's greedy tokens", async () => {
  await withCheckpoint("bfloat16", async (dir) => {
    const out: number[][] = [];
    for (const torchDtype of ["bfloat16", "float32"] as const) {
      const lm = await LlamaForCausalLM.fromPretrained(dir, { torchDtype });
      out.push(await lm.generate([1, 5, 9], { maxNewTokens: 6 }));
    }
    assertEquals(out[0], out[1]);
    assertEquals(out[0].length, 9);
  });
});

Deno.test("torchDtype for sequence classification: backbone 16-bit, score head float32", async () => {
  await withCheckpoint("bfloat16", async (dir) => {
    const m = await LlamaForSequenceClassification.fromPretrained(dir, {
      torchDtype: "bfloat16",
      num_labels: 3,
      pad_token_id: 39,
    });
    assertEquals(m.model.embed_tokens.weight.dtype, "bfloat16");
    assertEquals(m.score.weight.dtype, "float32");
    assertEquals(m.forward(ids, { shape: [B, T] }).shape, [B, 3]);
  });
});
