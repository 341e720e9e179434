// Peak memory of training steps, C3A against full fine-tuning of the same model (issue 11: "a C3A step
// must not hold more than a full fine-tuning step"). Each side runs in a fresh process: the model is
// built, the peak resident set (VmHWM, Linux) is reset to the current RSS (writing 5 to
// /proc/self/clear_refs), then two steps run (the first creates the optimizer state and grows wasm
// memory to its working size); the table shows the RSS with the model built, the peak over the two steps
// and what the steps added to the model's RSS.
//
//   deno run -A bench/memory_bench.ts [--layers 6 --B 4 --T 256 --block 64]   both sides, one table
//   deno run -A bench/memory_bench.ts --side c3a|full ...                      one side, one JSON line
//
// The model is the SmolLM2-135M shape (hidden 576, 9 heads, 3 KV heads, intermediate 1536, vocab 49152,
// tied) with --layers layers (30 is the real model: needs several GiB), random init. C3A: b = --block on
// q/k/v/o/gate/up/down, AdamW; full: every parameter trained, AdamW. Public API only (mod.ts).

import { parseArgs } from "@std/cli";
import { C3AConfig, getPeftModel, LlamaForCausalLM, manualSeed, nn, optim, tidy } from "../mod.ts";

const args = parseArgs(Deno.args, {
  string: ["side"],
  default: { layers: 6, B: 4, T: 256, block: 64 },
});
const L = Number(args.layers), B = Number(args.B), T = Number(args.T);
const MiB = 2 ** 20;

function status(field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) * 1024 : NaN;
}

if (args.side === undefined) {
  const rows: Record<string, number | string>[] = [];
  for (const side of ["full", "c3a"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--side", side, ...Deno.args],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error(`memory_bench --side ${side} failed`);
    rows.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!));
  }
  console.log(`SmolLM2-135M shape, ${L} layers, batch ${B} x ${T}, AdamW (MiB)`);
  console.log(
    "| side | trainable params | RSS, model built | peak RSS, 2 steps | peak − model | RSS after |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.side} | ${r.trainable_mib} | ${r.model_mib} | ${r.peak_mib} | ${r.step_mib} | ${r.after_mib} |`,
    );
  }
  const [full, c3a] = rows;
  console.log(
    `C3A peak / full fine-tuning peak: ${((c3a.peak_mib as number) / (full.peak_mib as number)).toFixed(2)}`,
  );
} else {
  manualSeed(1);
  const V = 49152;
  const base = new LlamaForCausalLM({
    model_type: "llama",
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: L,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    head_dim: 64,
    vocab_size: V,
    tie_word_embeddings: true,
    rope_theta: 100000,
  });
  const model = args.side === "c3a"
    ? getPeftModel(
      base,
      new C3AConfig({
        blockSize: Number(args.block),
        targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      }),
    )
    : base.train();
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new optim.AdamW(params, { lr: 1e-4 });
  const input = new Int32Array(B * T).map((_, i) => (i * 7919 + 11) % V);
  const target = new Int32Array(B * T).map((_, i) => (i * 104729 + 3) % V);
  const step = () =>
    tidy(() => {
      const logits = model.forward(input, { shape: [B, T] });
      const loss = nn.functional.crossEntropy(logits.reshape([B * T, V]), target);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      return loss.item();
    });
  const before = status("VmRSS");
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  step(); // creates the optimizer state, grows wasm memory to its working size
  step();
  const peak = status("VmHWM");
  console.log(JSON.stringify({
    side: args.side,
    layers: L,
    B,
    T,
    trainable_mib: Math.round(params.reduce((a, p) => a + p.size * 4, 0) / MiB),
    model_mib: Math.round(before / MiB),
    step_mib: Math.round((peak - before) / MiB),
    peak_mib: Math.round(peak / MiB),
    after_mib: Math.round(status("VmRSS") / MiB),
  }));
}
