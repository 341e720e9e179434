// 16-bit frozen base weights (fromPretrained's torchDtype) side by side with float32, in one process:
// the bytes of the parameter storages, a no-grad forward 1 × T and a C3A training step 1 × T (forward,
// cross-entropy, backward, AdamW) of the same random-init checkpoint loaded both ways.
//
//   deno run -A bench/half_bench.ts [--layers 4 --T 128 --reps 3 --dtype bfloat16]
//
// Then the peak RSS (Linux VmHWM) of loading the checkpoint, each dtype in a fresh process
// (`--load DIR --torch-dtype D` is that child's command line).
//
// The shape is SmolLM2-135M's (hidden 576, 9 heads, 3 KV heads, intermediate 1536, vocab 49152, tied)
// with fewer layers (--layers) so that it runs in well under 1 GiB. Medians of --reps after one warm-up;
// the two models alternate so machine load hits both alike. Public API only (mod.ts).

import { parseArgs } from "@std/cli";
import { C3AConfig, getPeftModel, LlamaForCausalLM, manualSeed, nn, noGrad, optim, tidy } from "../mod.ts";

const args = parseArgs(Deno.args, { string: ["layers", "T", "reps", "dtype", "load", "torch-dtype"] });

/** Peak resident set of this process in MiB (Linux VmHWM), or NaN elsewhere. */
function peakMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

if (args.load !== undefined) {
  const td = args["torch-dtype"] as "float32" | "bfloat16" | "float16";
  const before = peakMiB();
  await LlamaForCausalLM.fromPretrained(args.load, { torchDtype: td });
  console.log(JSON.stringify({ torchDtype: td, peakBeforeMiB: before, peakMiB: peakMiB() }));
  Deno.exit(0);
}
const layers = Number(args.layers ?? 4), T = Number(args.T ?? 128), reps = Number(args.reps ?? 3);
const dtype = (args.dtype ?? "bfloat16") as "bfloat16" | "float16";

const config = {
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: layers,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
};

manualSeed(0);
const dir = await Deno.makeTempDir();
try {
  await new LlamaForCausalLM(config).savePretrained(dir, { dtype });
  const models = {
    float32: await LlamaForCausalLM.fromPretrained(dir, { torchDtype: "float32" }),
    [dtype]: await LlamaForCausalLM.fromPretrained(dir, { torchDtype: dtype }),
  };
  const ids = Array.from({ length: T }, (_, i) => (i * 7919) % config.vocab_size);
  const bytes = (m: LlamaForCausalLM) => {
    let n = 0;
    for (const p of m.parameters()) n += p.size * (p.dtype === "float32" ? 4 : 2);
    return n;
  };
  const peft = Object.fromEntries(
    Object.entries(models).map(([k, m]) => {
      const pm = getPeftModel(
        m,
        new C3AConfig({ blockSize: 64, targetModules: ["q_proj", "v_proj", "down_proj"] }),
      );
      pm.train();
      const opt = new optim.AdamW(pm.parameters().filter((p) => p.requiresGrad), { lr: 1e-3 });
      return [k, { pm, opt }];
    }),
  );
  const fwd: Record<string, number[]> = {}, step: Record<string, number[]> = {};
  for (let r = 0; r <= reps; r++) {
    for (const k of Object.keys(models)) {
      const { pm, opt } = peft[k];
      let t0 = performance.now();
      noGrad(() => tidy(() => pm.forward(ids, { shape: [1, T] })));
      const tf = performance.now() - t0;
      t0 = performance.now();
      tidy(() => {
        const logits = pm.forward(ids, { shape: [1, T] });
        const loss = nn.functional.crossEntropy(logits.reshape([T, config.vocab_size]), ids);
        loss.backward();
      });
      opt.step();
      opt.zeroGrad();
      const ts = performance.now() - t0;
      if (r > 0) {
        (fwd[k] ??= []).push(tf);
        (step[k] ??= []).push(ts);
      }
    }
  }
  const med = (a: number[]) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`SmolLM2-135M shape, ${layers} layers, T = ${T}, C3A b = 64 on q/v/down, medians of ${reps}`);
  console.log("| base weights | parameter bytes | forward 1×T | C3A step 1×T |");
  console.log("|---|---|---|---|");
  for (const k of Object.keys(models)) {
    console.log(
      `| ${k} | ${(bytes(models[k]) / 2 ** 20).toFixed(1)} MiB | ${med(fwd[k]).toFixed(0)} ms | ${
        med(step[k]).toFixed(0)
      } ms |`,
    );
  }
  const file = (await Deno.stat(`${dir}/model.safetensors`)).size / 2 ** 20;
  console.log(
    `\nload (fromPretrained, fresh process each; checkpoint ${dtype}, ${file.toFixed(1)} MiB on disk)`,
  );
  console.log("| torchDtype | peak RSS before | peak RSS after load |");
  console.log("|---|---|---|");
  for (const td of ["float32", dtype]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, "--load", dir, "--torch-dtype", td],
      stderr: "inherit",
    }).output();
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    console.log(`| ${td} | ${r.peakBeforeMiB.toFixed(0)} MiB | ${r.peakMiB.toFixed(0)} MiB |`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
