// One training step (forward + backward + AdamW step) with C3A adapters vs full fine-tuning of the
// same model, for (1) a Llama decoder of the PEFT fixture's size (tests/fixtures/peft/mini_llama) and
// (2) a stack of two 4096 x 4096 Linear layers. Baseline of each group: full fine-tuning.
// Run: deno bench -A bench/c3a_train_bench.ts
// At load time it prints, per setup, the memory held for parameters, gradients and AdamW state,
// computed from tensor sizes (float32: 4 bytes per element; AdamW keeps 2 moments per trainable
// element), and the trainable parameter counts.
// (3) The DESIGN target on the examples' model (examples/checkpoints/sotu-byte-llama, batch 8 x 128,
// C3A b = 32 on q/v/o/gate/up/down as examples/finetune.ts uses): (a) base forward+backward (every
// weight requires grad, no optimizer), (b) C3A step (forward+backward+AdamW on the adapters), (c) full
// fine-tuning step (forward+backward+AdamW). Target: (b) <= 1.1x (a).
// `deno run -A bench/c3a_train_bench.ts [rounds]` prints the memory table and the medians of (a), (b),
// (c) over interleaved rounds (order rotated each round; default 15) with (b)/(a); it steps no 4096 stack.

import { manualSeed, randint, randn, type Tensor, tidy } from "../src/tensor/index.ts";
import { causalLmLoss, type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { AdamW } from "../src/optim/mod.ts";
import { Module } from "../src/nn/module.ts";
import { Linear } from "../src/nn/linear.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";

// ------------------------------------------------------------------ setups

/** The config of tests/fixtures/peft/mini_llama (rotary on: a real decoder). */
const MINI: LlamaConfig = {
  vocab_size: 16,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
};
const MINI_B = 8, MINI_T = 32;
/** The fixture adapter c3a_qvdown: q/v with b = 8, down_proj with b = 16. */
const MINI_C3A = () =>
  new C3AConfig({
    blockSize: 8,
    targetModules: ["q_proj", "v_proj", "down_proj"],
    blockSizePattern: { down_proj: 16 },
  });

const WIDTH = 4096, DEPTH = 2, ROWS = 128, STACK_B = 128; // b = 4096/32, as the paper's LLaMA runs

/** DEPTH Linear(WIDTH, WIDTH) layers with SiLU in between. */
class Stack extends Module {
  layers: Linear[];
  constructor() {
    super();
    this.layers = Array.from({ length: DEPTH }, () => new Linear(WIDTH, WIDTH, { bias: false }));
  }
  override forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((l, i) => {
      h = l.forward(h);
      if (i < this.layers.length - 1) h = h.silu();
    });
    return h;
  }
}

interface Setup {
  name: string;
  model: Module;
  opt: AdamW;
  loss: () => Tensor;
}

function trainable(m: Module): Tensor[] {
  return m.parameters().filter((p) => p.requiresGrad);
}

manualSeed(0);
const ids = randint(0, MINI.vocab_size, MINI_B * MINI_T);
const miniLoss = (m: Module) => () =>
  causalLmLoss(m.forward(ids, { shape: [MINI_B, MINI_T] }) as Tensor, ids);

const miniFull = new LlamaForCausalLM(MINI);
const miniC3ABase = new LlamaForCausalLM(MINI);
const miniC3A = getPeftModel(miniC3ABase, MINI_C3A());

const x = randn([ROWS, WIDTH]);
const stackLoss = (m: Module) => () => m.forward(x).square().mean();
const stackFull = new Stack();
const stackC3A = getPeftModel(
  new Stack(),
  new C3AConfig({ blockSize: STACK_B, targetModules: "all-linear" }),
);

// the examples' model, loaded three times: (a) base, (b) C3A, (c) full fine-tuning
const SOTU_DIR = new URL("../examples/checkpoints/sotu-byte-llama", import.meta.url).pathname;
const SOTU_B = 8, SOTU_T = 128, SOTU_BLOCK = 32;
const SOTU_TARGETS = ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
const sotuIds = randint(0, 256, SOTU_B * SOTU_T);
const sotuLoss = (m: Module) => () =>
  causalLmLoss(m.forward(sotuIds, { shape: [SOTU_B, SOTU_T] }) as Tensor, sotuIds);
const loadSotu = async () => (await LlamaForCausalLM.fromPretrained(SOTU_DIR)).train();
const sotuBase = (await loadSotu()).requiresGrad_(true);
const sotuFull = (await loadSotu()).requiresGrad_(true);
const sotuC3A = getPeftModel(
  await loadSotu(),
  new C3AConfig({ blockSize: SOTU_BLOCK, targetModules: SOTU_TARGETS }),
);
/** (a): forward + backward of the base model with every weight trainable, no optimizer. */
const sotuBaseLoss = sotuLoss(sotuBase);
function baseFwdBwd(): void {
  tidy(() => {
    sotuBaseLoss().backward();
    sotuBase.zeroGrad();
  });
}

const setups: Setup[] = [
  {
    name: "mini_llama full fine-tuning",
    model: miniFull,
    opt: new AdamW(trainable(miniFull), { lr: 1e-3 }),
    loss: miniLoss(miniFull),
  },
  {
    name: "mini_llama C3A (q/v b=8, down b=16)",
    model: miniC3A,
    opt: new AdamW(trainable(miniC3A), { lr: 1e-1, weightDecay: 1e-5 }),
    loss: miniLoss(miniC3A),
  },
  {
    name: `${DEPTH}x Linear ${WIDTH} full fine-tuning`,
    model: stackFull,
    opt: new AdamW(trainable(stackFull), { lr: 1e-4 }),
    loss: stackLoss(stackFull),
  },
  {
    name: `${DEPTH}x Linear ${WIDTH} C3A (b=${STACK_B})`,
    model: stackC3A,
    opt: new AdamW(trainable(stackC3A), { lr: 1e-1, weightDecay: 1e-5 }),
    loss: stackLoss(stackC3A),
  },
  {
    name: `sotu-byte-llama C3A (b=${SOTU_BLOCK}, q/v/o/gate/up/down)`,
    model: sotuC3A,
    opt: new AdamW(trainable(sotuC3A), { lr: 0.3, weightDecay: 1e-5 }),
    loss: sotuLoss(sotuC3A),
  },
  {
    name: "sotu-byte-llama full fine-tuning",
    model: sotuFull,
    opt: new AdamW(trainable(sotuFull), { lr: 5e-4, weightDecay: 0.01 }),
    loss: sotuLoss(sotuFull),
  },
];

function step(s: Setup): void {
  tidy(() => {
    const l = s.loss();
    l.backward();
    s.opt.step();
    s.opt.zeroGrad();
  });
}

// ------------------------------------------------------------------ memory table (from tensor sizes)

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

const rows = setups.map((s) => {
  const all = s.model.parameters().reduce((a, p) => a + p.size, 0);
  const tr = trainable(s.model).reduce((a, p) => a + p.size, 0);
  const params = 4 * all, grads = 4 * tr, optState = 2 * 4 * tr;
  return { name: s.name, all, tr, params, grads, optState, total: params + grads + optState };
});
console.log("\nMemory held for training (float32 tensors; AdamW: 2 moments per trainable element)\n");
console.log("| setup | trainable / all params | parameters | gradients | AdamW state | total |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.tr.toLocaleString("en-US")} / ${r.all.toLocaleString("en-US")} | ${mib(r.params)} | ` +
      `${mib(r.grads)} | ${mib(r.optState)} | ${mib(r.total)} |`,
  );
}
console.log("");

// warm up once (allocations, wasm compilation, kernel plans)
if (!import.meta.main) { for (const s of setups) step(s); }

// ------------------------------------------------------------------ benches

Deno.bench({
  name: setups[0].name,
  group: "mini_llama train step",
  baseline: true,
  fn: () => step(setups[0]),
});
Deno.bench({ name: setups[1].name, group: "mini_llama train step", fn: () => step(setups[1]) });
Deno.bench({
  name: setups[2].name,
  group: `${WIDTH}-wide stack train step`,
  baseline: true,
  n: 5,
  warmup: 1,
  fn: () => step(setups[2]),
});
Deno.bench({
  name: setups[3].name,
  group: `${WIDTH}-wide stack train step`,
  n: 5,
  warmup: 1,
  fn: () => step(setups[3]),
});
const SOTU_GROUP = `sotu-byte-llama step, batch ${SOTU_B} x ${SOTU_T}`;
Deno.bench({ name: "(a) base forward+backward", group: SOTU_GROUP, baseline: true, fn: baseFwdBwd });
Deno.bench({ name: `(b) ${setups[4].name} step`, group: SOTU_GROUP, fn: () => step(setups[4]) });
Deno.bench({ name: `(c) ${setups[5].name} step`, group: SOTU_GROUP, fn: () => step(setups[5]) });

// ------------------------------------------------------------------ DESIGN target table (deno run)

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 15);
  const runs: Array<[string, () => void]> = [
    ["(a) base forward+backward (all weights trainable, no optimizer)", baseFwdBwd],
    [`(b) C3A step, fwd+bwd+AdamW (b=${SOTU_BLOCK}, q/v/o/gate/up/down)`, () => step(setups[4])],
    ["(c) full fine-tuning step, fwd+bwd+AdamW", () => step(setups[5])],
  ];
  for (const [, fn] of runs) for (let i = 0; i < 3; i++) fn(); // warm-up
  const times = runs.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < runs.length; k++) {
      const i = (r + k) % runs.length; // rotate the order each round
      const t0 = performance.now();
      runs[i][1]();
      times[i].push(performance.now() - t0);
    }
  }
  const median = (a: number[]) => {
    const s = a.slice().sort((p, q) => p - q), h = s.length >> 1;
    return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
  };
  const med = times.map(median);
  console.log(`${SOTU_GROUP}, ${rounds} interleaved rounds (median / min ms per step)\n`);
  console.log("| step | median ms | min ms | x (a) |");
  console.log("|---|---|---|---|");
  runs.forEach(([name], i) => {
    console.log(
      `| ${name} | ${med[i].toFixed(1)} | ${Math.min(...times[i]).toFixed(1)} | ` +
        `${(med[i] / med[0]).toFixed(2)}x |`,
    );
  });
  const perRound = times[1].map((t, r) => t / times[0][r]);
  console.log(
    `\n(b)/(a) = ${(med[1] / med[0]).toFixed(3)} (ratio of medians; median of per-round ratios ` +
      `${median(perRound).toFixed(3)}); DESIGN target <= 1.1`,
  );
}
