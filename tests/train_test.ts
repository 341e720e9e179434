// train(): an interrupted + resumed run equals the uninterrupted one bit for bit (losses, kernels, optimizer
// moments), with gradient accumulation, clipping, a schedule, a data stream with its own generator and a
// loss that draws from the global generator; resume refusals (another run, another model, not a checkpoint)
// change nothing; gradient accumulation equals one step on the concatenated batch (manual SGD reference);
// checkpoints are whole folders; logs and SVG are written.
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./deps.ts";
import { crossEntropy, Generator, manualSeed, randn, type Tensor } from "../src/tensor/index.ts";
import { type LlamaConfig, LlamaForCausalLM } from "../src/models/llama.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { C3AModel, getPeftModel } from "../src/c3a/model.ts";
import { Linear, type Module } from "../src/nn/mod.ts";
import { AdamW, getLinearScheduleWithWarmup, SGD } from "../src/optim/mod.ts";
import { train, type TrainOptions } from "../src/train/mod.ts";

const cfg: LlamaConfig = {
  vocab_size: 19,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  rope_theta: 100,
  initializer_range: 0.3,
  max_position_embeddings: 16,
};

interface Batch {
  ids: Int32Array;
  targets: Int32Array;
}

const B = 2, T = 8;

/** Endless stream of random windows of a fixed token sequence, drawn with its own generator. */
function stream(seed: number): () => Iterator<Batch> {
  const tokens = Int32Array.from({ length: 200 }, (_, i) => (i * 7 + (i >> 3)) % cfg.vocab_size);
  return function* () {
    const g = new Generator(seed);
    while (true) {
      const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        const o = g.nextUint32() % (tokens.length - T - 1);
        for (let t = 0; t < T; t++) {
          ids[b * T + t] = tokens[o + t];
          targets[b * T + t] = tokens[o + t + 1];
        }
      }
      yield { ids, targets };
    }
  };
}

/** Cross-entropy of the logits plus a little noise from the global generator (so its state matters). */
function lossFn(m: Module, batch: Batch): Tensor {
  const logits = (m as C3AModel).forward(batch.ids, { shape: [B, T] }) as Tensor;
  const noisy = logits.add(randn(logits.shape).mul(0.01));
  return crossEntropy(noisy.reshape([B * T, cfg.vocab_size]), batch.targets);
}

function build(targets = ["q_proj", "v_proj"], hidden = cfg.hidden_size) {
  manualSeed(3);
  const base = new LlamaForCausalLM({ ...cfg, hidden_size: hidden });
  const model = getPeftModel(base, new C3AConfig({ blockSize: 4, targetModules: targets }));
  const optimizer = new AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 0.05 });
  const scheduler = getLinearScheduleWithWarmup(optimizer, 2, 6);
  return { model, optimizer, scheduler };
}

function options(dir: string, parts: ReturnType<typeof build>): TrainOptions<Batch> {
  return {
    ...parts,
    data: stream(11),
    loss: lossFn,
    maxSteps: 6,
    gradientAccumulationSteps: 2,
    maxGradNorm: 0.5,
    evaluate: (m) => ({ "sum of kernels": m.parameters().filter((p) => p.requiresGrad)[0].sum().item() }),
    evalEvery: 3,
    outputDir: dir,
    saveEvery: 2,
    runConfig: { lr: 0.05 },
    progress: false,
  };
}

function trainable(m: Module): Float32Array[] {
  return m.parameters().filter((p) => p.requiresGrad).map((p) => p.dataSync().slice());
}

function bits(xs: number[]): string[] {
  const f = new Float64Array(1), u = new BigUint64Array(f.buffer);
  return xs.map((x) => (f[0] = x, u[0].toString(16)));
}

Deno.test("train: an interrupted run resumed from its last checkpoint equals the uninterrupted run bit for bit", async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = build();
    const full = await train(options(`${root}/a`, a));
    assertEquals(full.globalStep, 6);
    assertEquals(full.checkpoints.map((p) => p.split("/").pop()), [
      "checkpoint-2",
      "checkpoint-4",
      "checkpoint-6",
    ]);

    // the same run, killed after step 5 (its checkpoint-4 is the last save: step 5 is lost)
    const b = build();
    await assertRejects(
      () =>
        train({
          ...options(`${root}/b`, b),
          onStep: (e) => {
            if (e.step === 5) throw new Error("interrupted");
          },
        }),
      Error,
      "interrupted",
    );
    assertEquals(
      [...Deno.readDirSync(`${root}/b`)].map((e) => e.name).filter((n) => n.startsWith("check")).sort(),
      [
        "checkpoint-2",
        "checkpoint-4",
      ],
    );
    // a new process: everything rebuilt, the global generator elsewhere; resume from the run's folder
    const c = build();
    manualSeed(12345);
    const resumed = await train({ ...options(`${root}/b`, c), resumeFrom: `${root}/b` });
    assertEquals(resumed.resumedFrom, `${root}/b/checkpoint-4`);
    assertEquals(resumed.log.train.length, 6);
    assertEquals(bits(resumed.log.train.map((e) => e.loss)), bits(full.log.train.map((e) => e.loss)));
    assertEquals(
      bits(resumed.log.train.map((e) => e.gradNorm!)),
      bits(full.log.train.map((e) => e.gradNorm!)),
    );
    assertEquals(resumed.log.train.map((e) => e.lr), full.log.train.map((e) => e.lr));
    assertEquals(resumed.log.eval, full.log.eval);
    const ka = trainable(a.model), kc = trainable(c.model);
    assertEquals(kc.length, ka.length);
    for (let i = 0; i < ka.length; i++) assertEquals(kc[i], ka[i], `kernel ${i}`);
    const oa = a.optimizer.stateDict(), oc = c.optimizer.stateDict();
    assertEquals(oc, oa);
    assertEquals(c.scheduler.lastEpoch, a.scheduler.lastEpoch);
    // the schedule: warm-up 2 steps then linear decay to 0 at step 6 (transformers' formula by hand)
    [0, 0.025, 0.05, 0.0375, 0.025, 0.0125].forEach((lr, i) =>
      assertAlmostEquals(full.log.train[i].lr, lr, 1e-15)
    );
    // the losses did change over the run (the comparison above is not between constants)
    assert(new Set(full.log.train.map((e) => e.loss)).size === 6);
    // the checkpoint folders are usable adapters (PEFT files) and nothing half-written is left
    const names = [...Deno.readDirSync(`${root}/a/checkpoint-6`)].map((e) => e.name).sort();
    assertEquals(names, [
      "adapter_config.json",
      "adapter_model.safetensors",
      "optimizer.safetensors",
      "trainable_parameters.safetensors",
      "trainer_state.json",
    ]);
    assert([...Deno.readDirSync(`${root}/a`)].every((e) => !e.name.endsWith(".tmp")));
    const reloaded = await C3AModel.fromPretrained(build().model.unload(), `${root}/a/checkpoint-6`);
    const kernelsOf = (m: Module) =>
      m.namedParameters().filter(([n]) => n.includes("c3a_kernel")).map(([, p]) => p.dataSync().slice());
    assertEquals(kernelsOf(reloaded), kernelsOf(a.model));
    const logFile = JSON.parse(await Deno.readTextFile(`${root}/a/trainer_log.json`));
    assertEquals(logFile.globalStep, 6);
    assertEquals(logFile.log.train.length, 6);
    assert((await Deno.readTextFile(`${root}/a/loss.svg`)).startsWith("<svg"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: resumeFrom another run, another model or a non-checkpoint is a one-line error; nothing changes", async () => {
  const root = await Deno.makeTempDir();
  try {
    await train({ ...options(`${root}/run`, build()), maxSteps: 2 } as TrainOptions<Batch>).catch(() => {});
    // maxSteps is one of the run's settings: a run of 2 steps resumed as one of 6 is another run
    const listing = () => [...Deno.readDirSync(`${root}/run`)].map((e) => e.name).sort().join(",");
    const before = listing();
    const cases: [() => ReturnType<typeof build>, Partial<TrainOptions<Batch>>, string][] = [
      [() => build(), {}, "maxSteps is 2 there, 6 in this run"],
      [() => build(), { maxSteps: 2, runConfig: { lr: 0.1 } }, "runConfig.lr is 0.05 there, 0.1 in this run"],
      [() => build(["q_proj"]), { maxSteps: 2 }, "another model: trainable parameter"],
      [() => build(["q_proj", "v_proj"], 8), { maxSteps: 2 }, "another model"],
    ];
    for (const [make, extra, msg] of cases) {
      const parts = make();
      const kernels = trainable(parts.model);
      const e = await assertRejects(
        () => train({ ...options(`${root}/other`, parts), ...extra, resumeFrom: `${root}/run` }),
        Error,
        msg,
      );
      assert(e.message.includes("trainer_state.json"), e.message);
      assert(!e.message.includes("\n"), e.message);
      assertEquals(trainable(parts.model), kernels, "the model was not touched");
      assertEquals(listing(), before);
      assertEquals([...Deno.readDirSync(root)].map((x) => x.name), ["run"], "no output folder was created");
    }
    await assertRejects(
      () => train({ ...options(`${root}/x`, build()), resumeFrom: `${root}/nope` }),
      Error,
      `resumeFrom "${root}/nope": no such folder`,
    );
    await Deno.mkdir(`${root}/empty`);
    await assertRejects(
      () => train({ ...options(`${root}/x`, build()), resumeFrom: `${root}/empty` }),
      Error,
      "neither trainer_state.json nor a checkpoint-<step> folder",
    );
    // a fresh run refuses an outputDir holding another run's checkpoints, unless told to start over
    await assertRejects(
      () => train({ ...options(`${root}/run`, build()), maxSteps: 2 }),
      Error,
      "already holds checkpoint-2",
    );
    const again = await train({ ...options(`${root}/run`, build()), maxSteps: 2, overwriteOutputDir: true });
    assertEquals(again.globalStep, 2);
    // an outputDir that is a file is a one-line error up front; the file is left alone
    await Deno.writeTextFile(`${root}/file`, "mine");
    const e = await assertRejects(
      () => train({ ...options(`${root}/file`, build()), maxSteps: 2 }),
      Error,
      `outputDir "${root}/file" is a file, not a directory`,
    );
    assert(!e.message.includes("\n"), e.message);
    assertEquals(await Deno.readTextFile(`${root}/file`), "mine");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: gradient accumulation over two batches = one SGD step on both (manual reference)", async () => {
  const x1 = randn([4, 3]), x2 = randn([4, 3]);
  const y1 = [0, 1, 1, 0], y2 = [1, 0, 0, 1];
  manualSeed(5);
  const m = new Linear(3, 2);
  const ref = new Linear(3, 2);
  ref.loadStateDict(m.stateDict());
  const batches = [{ x: x1, y: y1 }, { x: x2, y: y2 }];
  const result = await train({
    model: m,
    optimizer: new SGD(m.parameters(), { lr: 0.5 }),
    data: batches,
    loss: (mod: Module, b: { x: Tensor; y: number[] }) => crossEntropy((mod as Linear).forward(b.x), b.y),
    maxSteps: 1,
    gradientAccumulationSteps: 2,
    progress: false,
  });
  // reference: the mean loss over the 8 rows, one backward, w ← w − lr·g by hand
  const loss = crossEntropy(ref.forward(x1), y1).add(crossEntropy(ref.forward(x2), y2)).mul(0.5);
  loss.backward();
  const ps = m.parameters(), rs = ref.parameters();
  for (let i = 0; i < ps.length; i++) {
    const w = rs[i].dataSync(), g = rs[i].grad!.dataSync(), got = ps[i].dataSync();
    for (let j = 0; j < w.length; j++) assertAlmostEquals(got[j], w[j] - 0.5 * g[j], 1e-6);
  }
  assertAlmostEquals(result.log.train[0].loss, loss.item(), 1e-6);
});

Deno.test("train: bad counts are RangeErrors naming the option", async () => {
  const m = new Linear(2, 2);
  const base = {
    model: m,
    optimizer: new SGD(m.parameters(), { lr: 0.1 }),
    data: [1],
    loss: (mod: Module) => (mod as Linear).weight.sum(),
    progress: false as const,
  };
  await assertRejects(() => train({ ...base, maxSteps: 0 }), RangeError, "maxSteps is 0");
  await assertRejects(
    () => train({ ...base, maxSteps: 1, gradientAccumulationSteps: 1.5 }),
    RangeError,
    "gradientAccumulationSteps",
  );
  await assertRejects(
    () => train({ ...base, maxSteps: 1, saveEvery: 2 }),
    RangeError,
    "saveEvery needs outputDir",
  );
  await assertRejects(
    () => train({ ...base, maxSteps: 2, loss: (mod: Module) => (mod as Linear).weight.sum().mul(Infinity) }),
    Error,
    "training loss became",
  );
});

Deno.test("train: SGD momentum state and a plain (non-PEFT) model resume bit for bit too", async () => {
  const root = await Deno.makeTempDir();
  try {
    const x = randn([8, 3]);
    const y = [0, 1, 1, 0, 1, 0, 0, 1];
    const make = () => {
      manualSeed(9);
      const model = new Linear(3, 2);
      return { model, optimizer: new SGD(model.parameters(), { lr: 0.3, momentum: 0.9, nesterov: true }) };
    };
    const opts = (dir: string, p: ReturnType<typeof make>) => ({
      ...p,
      data: [{ x, y }],
      loss: (m: Module, b: { x: Tensor; y: number[] }) => crossEntropy((m as Linear).forward(b.x), b.y),
      maxSteps: 4,
      outputDir: dir,
      saveEvery: 2,
      progress: false as const,
      writeLogFiles: false,
    });
    const a = make();
    const full = await train(opts(`${root}/a`, a));
    const b = make();
    await assertRejects(
      () =>
        train({
          ...opts(`${root}/b`, b),
          onStep: (e) => {
            if (e.step === 3) throw new Error("stop");
          },
        }),
      Error,
      "stop",
    );
    const c = make();
    const resumed = await train({ ...opts(`${root}/b`, c), resumeFrom: `${root}/b/checkpoint-2` });
    assertEquals(bits(resumed.log.train.map((e) => e.loss)), bits(full.log.train.map((e) => e.loss)));
    assertEquals(c.model.stateDict().weight.dataSync(), a.model.stateDict().weight.dataSync());
    assertEquals(c.optimizer.stateDict(), a.optimizer.stateDict());
    assertEquals(
      [...Deno.readDirSync(`${root}/a/checkpoint-4`)].map((e) => e.name).sort(),
      ["optimizer.safetensors", "trainable_parameters.safetensors", "trainer_state.json"],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
