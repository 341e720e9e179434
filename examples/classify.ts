/**
 * Sentiment classification with the shipped byte-level Llama as backbone
 * (examples/checkpoints/sotu-byte-llama, pretrained on State of the Union addresses) and a new
 * `score` head (`LlamaForSequenceClassification`), on real labelled sentences: the UCI Sentiment
 * Labelled Sentences (Amazon, IMDB and Yelp reviews, 1,000 each, labels 0/1) shipped in the test
 * fixtures of npm `sentiment@5.0.2`.
 *
 * Trains on one domain (`--train`, 80 % of it), then reports accuracy on that domain's held-out 20 %
 * and on the two other domains, for three methods with the same data, steps and seed:
 * head only (the backbone frozen), C3A (`taskType: "SEQ_CLS"`: adapters on the attention and MLP
 * projections, the head in `modulesToSave`, as PEFT does) and full fine-tuning. Prints a Markdown
 * table with trainable parameters and wall time.
 *
 * Run: deno run -A examples/classify.ts [--train amazon] [--epochs 4] (about 15 minutes on a loaded 2-core VM)
 *
 * @module
 */

import { C3AConfig, getPeftModel, manualSeed, models, nn, noGrad, optim, tidy } from "../mod.ts";

const { LlamaForSequenceClassification } = models;
type Module = nn.Module;
type Parameter = nn.Parameter;
import { CliError, helpText, type OptionSpec, parseOptions, runMain } from "./lib/cli.ts";
// UCI Sentiment Labelled Sentences (Kotzias et al. 2015, CC BY 4.0) as shipped in sentiment@5.0.2's tests
// (imported here, not in lib/deps.ts, so the other scripts do not fetch the package).
import amazonReviews from "sentiment/test/fixtures/amazon.json" with { type: "json" };
import imdbReviews from "sentiment/test/fixtures/imdb.json" with { type: "json" };
import yelpReviews from "sentiment/test/fixtures/yelp.json" with { type: "json" };
import { Rng } from "./lib/data.ts";
import { machineInfo } from "./lib/output.ts";

const CHECKPOINT = new URL("./checkpoints/sotu-byte-llama/", import.meta.url);
const DOMAINS = { amazon: amazonReviews, imdb: imdbReviews, yelp: yelpReviews } as const;
type Domain = keyof typeof DOMAINS;
const PAD = 0; // the NUL byte never occurs in the reviews

const OPTIONS: OptionSpec[] = [
  {
    name: "train",
    type: "string",
    default: "amazon",
    choices: Object.keys(DOMAINS),
    help: "domain to train on",
  },
  { name: "epochs", type: "int", min: 1, default: 4, help: "passes over the training sentences" },
  { name: "batch-size", type: "int", min: 1, default: 16, help: "sentences per step" },
  { name: "max-len", type: "int", min: 8, max: 128, default: 64, help: "bytes kept per sentence" },
  { name: "methods", type: "string", default: "head,c3a,full", help: "comma-separated: head, c3a, full" },
  {
    name: "eval-size",
    type: "int",
    min: 1,
    default: 400,
    help: "sentences drawn (seeded) from each other domain for evaluation (1000 = all)",
  },
  { name: "lr-head", type: "number", min: 0, default: 5e-3, help: "learning rate of the score head" },
  { name: "lr-c3a", type: "number", min: 0, default: 0.3, help: "learning rate of the C3A kernels" },
  { name: "lr-full", type: "number", min: 0, default: 1e-3, help: "learning rate of the backbone (full)" },
  { name: "seed", type: "int", default: 0, help: "seed of the split, head init, adapters and batches" },
];

interface Example {
  ids: number[];
  label: number;
}

function load(domain: Domain, maxLen: number): Example[] {
  const enc = new TextEncoder();
  return (DOMAINS[domain] as { text: string; class: number | null }[])
    .filter((r) => r.class === 0 || r.class === 1) // the last item of each file has no label
    .map((r) => ({ ids: Array.from(enc.encode(r.text.trim()).slice(0, maxLen)), label: r.class as number }))
    .filter((e) => e.ids.length > 0);
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Right-padded `[B, T]` ids (pad byte 0) and the attention mask. */
function batchOf(xs: Example[]): { ids: number[][]; mask: number[]; labels: number[] } {
  const t = Math.max(...xs.map((x) => x.ids.length));
  const ids = xs.map((x) => [...x.ids, ...new Array(t - x.ids.length).fill(PAD)]);
  return { ids, mask: ids.flat().map((v) => (v === PAD ? 0 : 1)), labels: xs.map((x) => x.label) };
}

type Classifier = Module & {
  forward(
    ids: number[][],
    opts: { attentionMask: number[] },
  ): ReturnType<models.LlamaForSequenceClassification["forward"]>;
};

function accuracy(model: Classifier, data: Example[], batchSize = 32): number {
  model.eval();
  let right = 0;
  noGrad(() => {
    for (let i = 0; i < data.length; i += batchSize) {
      const b = batchOf(data.slice(i, i + batchSize));
      const logits = tidy(() => model.forward(b.ids, { attentionMask: b.mask }).dataSync().slice());
      b.labels.forEach((y, r) => (right += Number((logits[2 * r + 1] > logits[2 * r]) === (y === 1))));
    }
  });
  return right / data.length;
}

interface Result {
  method: string;
  trainable: number;
  seconds: number;
  accuracy: Record<string, number>;
}

async function runMethod(
  method: string,
  train: Example[],
  evals: Record<string, Example[]>,
  o: { epochs: number; batchSize: number; seed: number; lrHead: number; lrC3a: number; lrFull: number },
): Promise<Result> {
  manualSeed(o.seed);
  const base = await LlamaForSequenceClassification.fromPretrained(CHECKPOINT, {
    num_labels: 2,
    pad_token_id: PAD,
  });
  let model: Classifier = base;
  let lr = 0; // learning rate of the backbone's trainable tensors (the head has lrHead)
  if (method === "head") {
    for (const [n, p] of base.namedParameters()) p.requiresGrad = n.startsWith("score.");
  } else if (method === "c3a") {
    model = getPeftModel(
      base,
      new C3AConfig({
        taskType: "SEQ_CLS",
        blockSize: 32,
        targetModules: ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      }),
    ) as unknown as Classifier;
    lr = o.lrC3a;
  } else if (method === "full") {
    lr = o.lrFull;
  } else throw new CliError(`--methods: unknown method "${method}"; use head, c3a, full`);
  const named = model.namedParameters().filter(([, p]) => p.requiresGrad);
  const params: Parameter[] = named.map(([, p]) => p);
  const head = named.filter(([n]) => n.startsWith("score.")).map(([, p]) => p);
  const body = named.filter(([n]) => !n.startsWith("score.")).map(([, p]) => p);
  const trainable = params.reduce((a, p) => a + p.size, 0);
  const opt = new optim.AdamW([
    { params: head, lr: o.lrHead },
    ...(body.length ? [{ params: body, lr }] : []),
  ], {
    lr: o.lrHead,
    weightDecay: 0,
  });
  const rng = new Rng(o.seed + 1);
  const t0 = performance.now();
  const steps = o.epochs * Math.ceil(train.length / o.batchSize);
  let step = 0, lossSum = 0;
  for (let e = 0; e < o.epochs; e++) {
    model.train();
    const order = shuffle(train, rng);
    for (let i = 0; i < order.length; i += o.batchSize) {
      const b = batchOf(order.slice(i, i + o.batchSize));
      lossSum += tidy(() => {
        const loss = nn.functional.crossEntropy(model.forward(b.ids, { attentionMask: b.mask }), b.labels);
        loss.backward();
        return loss.item();
      });
      nn.utils.clipGradNorm(params, 1.0);
      opt.step();
      opt.zeroGrad();
      step++;
      if (step % 25 === 0 || step === steps) {
        Deno.stdout.writeSync(
          new TextEncoder().encode(
            `\r${method}: step ${step}/${steps}, mean loss ${(lossSum / 25).toFixed(3)}   `,
          ),
        );
        lossSum = 0;
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log();
  const acc: Record<string, number> = {};
  for (const [name, data] of Object.entries(evals)) acc[name] = accuracy(model, data);
  return { method, trainable, seconds, accuracy: acc };
}

async function main() {
  const { values: v, help } = parseOptions(Deno.args, OPTIONS);
  if (help) {
    console.log(
      helpText(
        "deno run -A examples/classify.ts [options]",
        "Sentiment classification: head / C3A / full.",
        OPTIONS,
      ),
    );
    return;
  }
  const trainDomain = v.train as Domain, seed = v.seed as number, maxLen = v["max-len"] as number;
  const data = shuffle(load(trainDomain, maxLen), new Rng(seed));
  const cut = Math.floor(data.length * 0.8);
  const train = data.slice(0, cut);
  const evals: Record<string, Example[]> = { [`${trainDomain} (held-out)`]: data.slice(cut) };
  for (const d of Object.keys(DOMAINS) as Domain[]) {
    if (d !== trainDomain) {
      evals[d] = shuffle(load(d, maxLen), new Rng(seed + 2)).slice(0, v["eval-size"] as number);
    }
  }
  console.log(
    `train: ${train.length} ${trainDomain} sentences; evaluate: ${
      Object.entries(evals).map(([k, x]) => `${k} ${x.length}`).join(", ")
    }; bytes per sentence <= ${maxLen}`,
  );
  const results: Result[] = [];
  for (const m of (v.methods as string).split(",").map((s) => s.trim()).filter(Boolean)) {
    results.push(
      await runMethod(m, train, evals, {
        epochs: v.epochs as number,
        batchSize: v["batch-size"] as number,
        seed,
        lrHead: v["lr-head"] as number,
        lrC3a: v["lr-c3a"] as number,
        lrFull: v["lr-full"] as number,
      }),
    );
  }
  const names = Object.keys(evals);
  const info = machineInfo();
  console.log(
    `\n${info.cpus} cores, ${info.os}/${info.arch}, deno ${info.deno}; ${v.epochs} epochs, batch ${
      v["batch-size"]
    }, seed ${seed}\n`,
  );
  console.log(
    `| method | trainable parameters | train time | ${names.map((n) => `accuracy ${n}`).join(" | ")} |`,
  );
  console.log(`|---|---|---|${names.map(() => "---").join("|")}|`);
  const label: Record<string, string> = {
    head: "head only",
    c3a: "C3A (b = 32) + head",
    full: "full fine-tuning",
  };
  for (const r of results) {
    console.log(
      `| ${label[r.method]} | ${r.trainable.toLocaleString("en-US")} | ${r.seconds.toFixed(0)} s | ${
        names.map((n) => `${(100 * r.accuracy[n]).toFixed(1)} %`).join(" | ")
      } |`,
    );
  }
}

if (import.meta.main) await runMain(main);
