// The Deno side of bench/device/peft_roundtrip.py (which drives it; see that file and README's "Device
// check"): loads the Hugging Face Llama the Python side saved, and
//   train  trains a C3A adapter a few AdamW steps on the given ids and saves it (PEFT's two files);
//   load   loads an adapter PEFT saved (C3AModel.fromPretrained);
//   base   uses the base model alone;
// then writes the logits of the eval ids (eval mode) and, for train/load, of mergeAndUnload() — float32
// safetensors files ("logits") that the Python side compares with PEFT's.
//   selftest  the Deno half alone (where PEFT is not installed): builds the same small Llama here
//          (seeded), saves it with savePretrained, runs train, then load of its own adapter into a fresh
//          copy of the base, and checks the loaded adapter's logits and merged logits against the
//          trained model's (1e-4 relative); prints the same kind of table.
//
//   deno run -A bench/device/peft_roundtrip.ts train|load|base --base DIR --ids IDS.json
//     [--adapter DIR] [--logits FILE] [--merged-logits FILE] [--steps N] [--backend wasm|webgpu|auto]
//   deno run -A bench/device/peft_roundtrip.ts selftest --work DIR
import {
  C3AConfig,
  C3AModel,
  describeBackend,
  getPeftModel,
  LlamaForCausalLM,
  manualSeed,
  models,
  type nn,
  noGrad,
  optim,
  randint,
  saveSafetensors,
  setBackend,
  type Tensor,
  tidy,
} from "../../mod.ts";
import { destroyWebGPU } from "../../backend.ts";

/** The adapter the Deno side trains: b = 16 everywhere, 32 on down_proj, xavier init (PEFT's default). */
export const DENO_ADAPTER = {
  blockSize: 16,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  blockSizePattern: { down_proj: 32 },
};

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
function need(name: string): string {
  const v = arg(name);
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

async function writeLogits(path: string | undefined, model: nn.Module, ids: number[][]): Promise<void> {
  if (!path) return;
  model.eval();
  const logits = noGrad(() => model.forward(ids) as Tensor);
  await saveSafetensors(path, { logits: { shape: logits.shape, data: (await logits.data()).slice() } });
  logits.dispose();
}

const mode = Deno.args[0];
if (mode !== "train" && mode !== "load" && mode !== "base" && mode !== "selftest") {
  throw new Error(`first argument must be train, load, base or selftest, got ${JSON.stringify(mode)}`);
}
await setBackend((arg("backend") ?? "wasm") as "wasm");
console.log(`deno side: ${mode} on ${describeBackend()}`);
if (mode === "selftest") {
  await selftest(need("work"));
  destroyWebGPU();
  Deno.exit(0);
}
const { train, eval: evalIds } = JSON.parse(await Deno.readTextFile(need("ids"))) as {
  train: number[][];
  eval: number[][];
};
const base = await LlamaForCausalLM.fromPretrained(need("base"));

if (mode === "base") {
  await writeLogits(arg("logits"), base, evalIds);
} else {
  let model: C3AModel;
  if (mode === "train") {
    model = getPeftModel(base, new C3AConfig(DENO_ADAPTER));
    const params = model.parameters().filter((p) => p.requiresGrad);
    const opt = new optim.AdamW(params, { lr: 0.05 });
    const steps = Number(arg("steps") ?? 3);
    for (let s = 0; s < steps; s++) {
      const loss = tidy(() => {
        const l = models.causalLmLoss(model.forward(train) as Tensor, train);
        l.backward();
        opt.step();
        opt.zeroGrad();
        return l.item();
      });
      console.log(`  step ${s + 1}/${steps}: loss ${loss.toFixed(6)} (nats/token)`);
    }
    await model.savePretrained(need("adapter"));
  } else {
    model = await C3AModel.fromPretrained(base, need("adapter"));
  }
  await writeLogits(arg("logits"), model, evalIds);
  await writeLogits(arg("merged-logits"), model.mergeAndUnload(), evalIds);
}
destroyWebGPU();

/** max |a − b| / max |ref|. */
function relErr(a: Float32Array, ref: Float32Array): number {
  let e = 0, m = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return a.length === ref.length ? e / Math.max(m, 1e-30) : Infinity;
}

async function selftest(work: string): Promise<void> {
  await Deno.mkdir(work, { recursive: true });
  manualSeed(0);
  const config = {
    vocab_size: 128,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  };
  await new LlamaForCausalLM(config).savePretrained(`${work}/base`);
  const ids = (b: number, t: number) => Array.from({ length: b }, () => Array.from(randint(0, 128, t)));
  await Deno.writeTextFile(`${work}/ids.json`, JSON.stringify({ train: ids(4, 32), eval: ids(2, 24) }));
  const self = new URL(import.meta.url).pathname;
  const run = async (...a: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...(Deno.env.get("DENO_FLAGS") ?? "").split(/\s+/).filter((f) => f), // run.sh: carried cache, config
        "--no-check",
        self,
        ...a,
        "--base",
        `${work}/base`,
        "--ids",
        `${work}/ids.json`,
      ],
    }).spawn().status;
    if (!r.success) throw new Error(`selftest: ${a[0]} exited with ${r.code}`);
  };
  await run(
    "train",
    "--adapter",
    `${work}/a`,
    "--logits",
    `${work}/a.st`,
    "--merged-logits",
    `${work}/am.st`,
  );
  await run("load", "--adapter", `${work}/a`, "--logits", `${work}/b.st`, "--merged-logits", `${work}/bm.st`);
  const { loadSafetensors } = await import("../../mod.ts");
  const read = async (f: string) => (await loadSafetensors(`${work}/${f}`)).tensors.logits.data;
  const rows: Array<[string, number]> = [
    [
      "adapter saved then loaded by Deno: logits == trained model's",
      relErr(await read("b.st"), await read("a.st")),
    ],
    [
      "loaded adapter: mergeAndUnload == trained model's merge",
      relErr(await read("bm.st"), await read("am.st")),
    ],
    ["mergeAndUnload == unmerged forward (same adapter)", relErr(await read("am.st"), await read("a.st"))],
  ];
  console.log(
    "\n| check (Deno half only: PEFT not installed) | result | max rel. error (tol 1e-4) |\n|---|---|---:|",
  );
  let ok = true;
  for (const [name, err] of rows) {
    ok &&= err <= 1e-4;
    console.log(`| ${name} | ${err <= 1e-4 ? "PASS" : "FAIL"} | ${err.toExponential(2)} |`);
  }
  console.log(`Deno half: ${ok ? "PASS" : "FAIL"}`);
  if (!ok) Deno.exit(1);
}
