// Tests for the fine-tuning example: its data helpers (examples/lib/data.ts) and, on real data, the
// example's promises (held-out loss drops, the saved adapter reloads, merged == unmerged, bad input fails).
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./deps.ts";
import {
  type Batch,
  bitsPerByte,
  evalOffsets,
  heldOutWarning,
  loadByteTokenizer,
  loadCorpus,
  loadTextFile,
  Rng,
  sampleBatch,
  splitDocs,
  textToDocs,
  tokenize,
} from "../examples/lib/data.ts";
import { CliError, MAX_TOKENS_PER_STEP, type OptionValues, parseOptions } from "../examples/lib/cli.ts";
import { Staging } from "../examples/lib/output.ts";
import { evaluateBpb, type HeldOut } from "../examples/lib/lm.ts";
import { DEFAULT_CHECKPOINT, finetune, OPTIONS } from "../examples/finetune.ts";
import { LlamaForCausalLM } from "../src/models/llama.ts";
import type { Linear } from "../src/nn/mod.ts";
import { C3AModel } from "../src/c3a/model.ts";
import { suggestBlockSize } from "../src/c3a/blockSize.ts";

Deno.test("data: the checkpoint's tokenizer (AutoTokenizer) gives UTF-8 bytes; a non-byte-level one is refused", async () => {
  const tok = await loadByteTokenizer(DEFAULT_CHECKPOINT);
  // "Aé→" = 0x41, 0xC3 0xA9, 0xE2 0x86 0x92 (UTF-8 by hand)
  assertEquals(tokenize([{ id: "x", text: "Aé→" }], tok), Uint8Array.of(0x41, 0xc3, 0xa9, 0xe2, 0x86, 0x92));
  assertEquals(tok.decode([0x41, 0xc3, 0xa9, 0xe2, 0x86, 0x92]), "Aé→");
  assertEquals(tok.decode([0x41, 0xc3]), "A\ufffd", "a cut character decodes to U+FFFD");
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadByteTokenizer(dir), CliError, "tokenizer.json not found");
    const json = JSON.parse(await Deno.readTextFile(`${DEFAULT_CHECKPOINT}/tokenizer.json`));
    json.model.vocab["extra"] = 256;
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
    await assertRejects(() => loadByteTokenizer(dir), CliError, "not byte-level (vocabulary 257");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: both corpora load; the document split is deterministic, disjoint and complete", async () => {
  const sotu = await loadCorpus("sotu");
  const moby = await loadCorpus("moby-dick");
  assertEquals(sotu.length, 233);
  assertEquals(moby.length, 139);
  assert(sotu[0].id.startsWith("1790"), sotu[0].id);
  for (const docs of [sotu, moby]) {
    const a = splitDocs(docs);
    const b = splitDocs(docs);
    assertEquals(a.heldOut.map((d) => d.id), b.heldOut.map((d) => d.id));
    assertEquals(a.train.length + a.heldOut.length, docs.length);
    const held = new Set(a.heldOut);
    assert(a.train.every((d) => !held.has(d)));
    // every 10th document, from the whole corpus
    assertEquals(a.heldOut.length, Math.floor((docs.length - 3 - 1) / 10) + 1);
    assertEquals(a.heldOut[0], docs[3]);
    assertEquals(a.heldOut.at(-1), docs[3 + 10 * (a.heldOut.length - 1)]);
  }
  assertThrows(() => splitDocs(sotu.slice(0, 2)), RangeError, "empty");
  assertThrows(() => splitDocs(sotu, 1), RangeError, "every");
});

Deno.test("data: a user's text is cut at paragraph breaks into chunks of about the requested size", () => {
  const para = "word ".repeat(40).trim() + "\n\n"; // 201 bytes
  const text = para.repeat(50);
  const docs = textToDocs(text, 1000);
  assertEquals(docs.map((d) => d.text).join(""), text, "nothing lost or reordered");
  assert(docs.every((d) => new TextEncoder().encode(d.text).length <= 1000));
  assert(docs.slice(0, -1).every((d) => d.text.endsWith("\n\n")), "cuts fall on paragraph breaks");
  const noBreaks = "x".repeat(2500);
  assertEquals(textToDocs(noBreaks, 1000).map((d) => d.text.length), [1000, 1000, 500]);
  assertThrows(() => textToDocs("", 10), RangeError);
});

Deno.test("data: seeded batches are reproducible windows with targets shifted by one", () => {
  const tokens = new Uint8Array(1000).map((_, i) => (i * 7) % 251);
  const a = sampleBatch(tokens, 4, 16, new Rng(42));
  const b = sampleBatch(tokens, 4, 16, new Rng(42));
  const c = sampleBatch(tokens, 4, 16, new Rng(43));
  assertEquals(a.input, b.input);
  assertNotEquals(a.input, c.input);
  for (let r = 0; r < 4; r++) {
    // find the window in the stream and check input/target against it
    const start = [...Array(tokens.length - 16).keys()].find((o) =>
      [...Array(17).keys()].every((t) =>
        t < 16 ? tokens[o + t] === a.input[r * 16 + t] : tokens[o + 16] === a.target[r * 16 + 15]
      )
    );
    assert(start !== undefined, `row ${r} is a window of the stream`);
    for (let t = 0; t < 16; t++) assertEquals(a.target[r * 16 + t], tokens[start + t + 1]);
  }
  assertThrows(() => sampleBatch(tokens.subarray(0, 10), 1, 16, new Rng(1)), RangeError, "seqLen");
});

Deno.test("data: Rng is uniform enough and stays in range", () => {
  const rng = new Rng(7);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) counts[rng.int(10)]++;
  for (const c of counts) assert(Math.abs(c - 2000) < 200, `bucket count ${c}`);
  assertThrows(() => rng.int(0), RangeError);
});

Deno.test("data: evaluation windows cover the stream without overlap; bits per byte of a uniform model is 8", async () => {
  const tokens = tokenize(
    (await loadCorpus("moby-dick")).slice(0, 5),
    await loadByteTokenizer(DEFAULT_CHECKPOINT),
  );
  const seqLen = 64;
  const offs = evalOffsets(tokens, seqLen, 20);
  assertEquals(offs.length, 20);
  for (let i = 1; i < offs.length; i++) assert(offs[i] >= offs[i - 1] + seqLen + 1, "non-overlapping");
  assert(offs.at(-1)! + seqLen + 1 <= tokens.length);
  assert(offs.at(-1)! > tokens.length / 2, "windows spread over the whole stream");
  assertEquals(evalOffsets(tokens.subarray(0, 200), seqLen, 20).length, 3, "only what fits");
  // A model that predicts every byte with probability 1/256 scores ln(256) nats = 8 bits per byte.
  assertAlmostEquals(bitsPerByte(() => Math.log(256), tokens, offs, seqLen, 3), 8, 1e-12);
  // Batching must not change the mean (weights by rows): per-window losses 0..19 → mean 9.5 nats.
  const lossOf = (bt: Batch) => {
    let s = 0;
    for (let r = 0; r < bt.batchSize; r++) s += offs.indexOf(findOffset(tokens, bt.input, r, seqLen));
    return s / bt.batchSize;
  };
  assertAlmostEquals(bitsPerByte(lossOf, tokens, offs, seqLen, 7), 9.5 / Math.LN2, 1e-9);
});

function findOffset(tokens: Uint8Array, input: Int32Array, row: number, seqLen: number): number {
  for (let o = 0; o + seqLen < tokens.length; o++) {
    let ok = true;
    for (let t = 0; t < seqLen && ok; t++) ok = tokens[o + t] === input[row * seqLen + t];
    if (ok) return o;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// The fine-tuning job on real data (the shipped checkpoint and Moby-Dick), with a tiny budget.

const CHECKPOINT = DEFAULT_CHECKPOINT;
const quiet = () => {};

function opts(extra: string[]): OptionValues {
  return parseOptions(
    [
      "--checkpoint",
      CHECKPOINT,
      "--seq-len",
      "64",
      "--batch-size",
      "4",
      "--eval-windows",
      "8",
      "--eval-every",
      "0",
      "--sample-length",
      "0",
      ...extra,
    ],
    OPTIONS,
  ).values;
}

/** The held-out windows finetune() uses for these options (same split, same deterministic windows). */
async function heldOutFor(seqLen: number, windows: number): Promise<HeldOut> {
  const tokens = tokenize(
    splitDocs(await loadCorpus("moby-dick")).heldOut,
    await loadByteTokenizer(DEFAULT_CHECKPOINT),
  );
  return { tokens, offsets: evalOffsets(tokens, seqLen, windows), seqLen };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("finetune: C3A lowers held-out loss; the adapter reloads and the merged model match it", async () => {
  const out = await Deno.makeTempDir({ prefix: "c3a-finetune-" });
  try {
    const r = await finetune(opts(["--steps", "30", "--lr", "0.2", "--merge", "--out", out]), quiet);
    assert(r.bpbAfter < r.bpbBefore - 0.01, `held-out bpb ${r.bpbBefore} -> ${r.bpbAfter} should drop`);
    assertEquals(await listFiles(out), ["adapter", "finetune_log.json", "loss.svg", "merged"]);
    assertEquals(await listFiles(`${out}/adapter`), ["adapter_config.json", "adapter_model.safetensors"]);
    const cfg = JSON.parse(await Deno.readTextFile(`${out}/adapter/adapter_config.json`));
    assertEquals(cfg.peft_type, "C3A");
    assertEquals(cfg.block_size, r.blockSize);
    // trainable parameters = Σ in·out/b over the adapted layers (spec §1.1), counted from the model here
    const base = await LlamaForCausalLM.fromPretrained(CHECKPOINT);
    let expected = 0;
    for (const name of r.targets!) {
      const m = base.getSubmodule(name) as Linear;
      expected += (m.inFeatures * m.outFeatures) / r.blockSize!;
    }
    assertEquals(r.trainableParams, expected);

    const held = await heldOutFor(64, 8);
    assertAlmostEquals(evaluateBpb(base, held), r.bpbBefore, 1e-6, "same windows as the run");
    // the saved adapter, loaded onto a fresh copy of the base model, gives the same held-out loss
    const reloaded = await C3AModel.fromPretrained(base, `${out}/adapter`);
    assertAlmostEquals(evaluateBpb(reloaded as unknown as LlamaForCausalLM, held), r.bpbAfter, 1e-5);
    // merging inside the run and the merged checkpoint on disk both match the unmerged model
    assertAlmostEquals(r.bpbMerged!, r.bpbAfter, 1e-5);
    const merged = await LlamaForCausalLM.fromPretrained(`${out}/merged`);
    assertAlmostEquals(evaluateBpb(merged, held), r.bpbAfter, 1e-5);
    assertEquals(merged.parameters().filter((p) => p.ndim === 3).length, 0, "no adapter kernels left");

    // Reusing the folder: a run without --merge would delete the earlier merged/: refused before training
    // without --overwrite (nothing changes), said up front and done with it. A rerun of the same kind says
    // what it replaces. Files the scripts never write stay.
    await Deno.writeTextFile(`${out}/notes.txt`, "mine");
    const before = await Deno.readFile(`${out}/merged/model.safetensors`);
    const err = await assertRejects(
      () => finetune(opts(["--steps", "1", "--out", out]), quiet),
      CliError,
      `--out ${out} holds merged/ of an earlier run, which this run does not write and would delete; ` +
        "pass --overwrite",
    );
    assert(!err.message.includes("\n"), err.message);
    assertEquals(await listFiles(out), ["adapter", "finetune_log.json", "loss.svg", "merged", "notes.txt"]);
    assertEquals(await Deno.readFile(`${out}/merged/model.safetensors`), before, "merged/ untouched");
    const lines: string[] = [];
    await finetune(opts(["--steps", "1", "--out", out, "--overwrite"]), (l) => lines.push(l));
    assertEquals(await listFiles(out), ["adapter", "finetune_log.json", "loss.svg", "notes.txt"]);
    assertEquals(
      lines.find((l) => l.startsWith("note: --out")),
      `note: --out ${out} holds an earlier run's outputs; this run replaces adapter/, finetune_log.json, ` +
        "loss.svg and deletes merged/ (--overwrite) when it finishes",
    );
    lines.length = 0;
    await finetune(opts(["--steps", "1", "--out", out]), (l) => lines.push(l));
    assert(
      lines.some((l) => l.includes("this run replaces adapter/, finetune_log.json, loss.svg when")),
      lines[0],
    );
    await assertRejects(
      () => finetune(opts(["--method", "full", "--steps", "1", "--out", out]), quiet),
      CliError,
      "holds adapter/ of an earlier run",
    );
    await finetune(opts(["--method", "full", "--steps", "1", "--out", out, "--overwrite"]), quiet);
    assertEquals(await listFiles(out), ["finetune_log.json", "loss.svg", "model", "notes.txt"]);
    const log = JSON.parse(await Deno.readTextFile(`${out}/finetune_log.json`));
    assertEquals(log.method, "full");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("finetune: full fine-tuning baseline trains every parameter and writes an HF checkpoint", async () => {
  const out = await Deno.makeTempDir({ prefix: "c3a-finetune-full-" });
  try {
    const r = await finetune(opts(["--method", "full", "--steps", "8", "--out", out]), quiet);
    assertEquals(r.trainableParams, r.totalParams);
    assert(r.bpbAfter < r.bpbBefore, `held-out bpb ${r.bpbBefore} -> ${r.bpbAfter} should drop`);
    assertEquals(await listFiles(`${out}/model`), ["config.json", "model.safetensors"]);
    const m = await LlamaForCausalLM.fromPretrained(`${out}/model`);
    assertAlmostEquals(evaluateBpb(m, await heldOutFor(64, 8)), r.bpbAfter, 1e-5);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("finetune: bad input fails before training with a one-line error and writes nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "c3a-finetune-bad-" });
  try {
    const out = `${tmp}/out`;
    const bad = async (args: string[], includes: string) => {
      const err = await assertRejects(
        () => finetune(opts([...args, "--steps", "1"]), quiet),
        CliError,
        includes,
      );
      assert(!err.message.includes("\n"), `one line: ${err.message}`);
      const leftovers = await listFiles(out).catch(() => []);
      assertEquals(leftovers, [], `nothing written for ${args.join(" ")}`);
    };
    await bad(["--checkpoint", `${tmp}/nope`, "--out", out], "does not exist");
    // a corrupt checkpoint: valid config, truncated weights
    await Deno.mkdir(`${tmp}/corrupt`);
    await Deno.copyFile(`${CHECKPOINT}/config.json`, `${tmp}/corrupt/config.json`);
    const bytes = await Deno.readFile(`${CHECKPOINT}/model.safetensors`);
    await Deno.writeFile(`${tmp}/corrupt/model.safetensors`, bytes.subarray(0, 1000));
    await bad(["--checkpoint", `${tmp}/corrupt`, "--out", out], "could not be loaded");
    await Deno.writeTextFile(`${tmp}/corrupt/config.json`, "{ not json");
    await bad(["--checkpoint", `${tmp}/corrupt`, "--out", out], "config.json is not valid JSON");
    await bad(["--block-size", "7", "--out", out], "--block-size 7 does not divide");
    await bad(["--targets", "q_proj,foo_proj", "--out", out], '"foo_proj" matches no Linear module');
    await bad(["--text", `${tmp}/missing.txt`, "--out", out], "cannot read --text file");
    // a binary file: invalid UTF-8, or valid UTF-8 with NUL bytes (both 4 KB, past the size check)
    const binary = new Uint8Array(4096).map((_, i) => (i * 97 + 13) & 0xff);
    await Deno.writeFile(`${tmp}/a.bin`, binary);
    await bad(["--text", `${tmp}/a.bin`, "--out", out], `--text file "${tmp}/a.bin" is not UTF-8 text`);
    await Deno.writeFile(`${tmp}/nul.txt`, new Uint8Array(4096).fill(0x61).fill(0, 100, 101));
    await bad(["--text", `${tmp}/nul.txt`, "--out", out], "a NUL byte at offset 100");
    // C3A-only flags with --method full
    await bad(["--method", "full", "--block-size", "32", "--out", out], "--block-size applies to C3A only");
    await bad(
      ["--method", "full", "--targets", "q_proj", "--merge", "--init-weights", "zeros", "--out", out],
      "--targets, --init-weights, --merge apply to C3A only",
    );
    await bad(["--seq-len", "100000", "--out", out], "max_position_embeddings");
    // --resume naming a folder without checkpoints (another run's adapter/ folder) fails up front
    await Deno.mkdir(`${tmp}/adapter`);
    await bad(["--resume", `${tmp}/adapter`, "--out", out], `--resume ${tmp}/adapter: no checkpoint there`);
    // an output path below a regular file cannot be created (even as root)
    await Deno.writeTextFile(`${tmp}/file`, "x");
    await assertRejects(
      () => finetune(opts(["--out", `${tmp}/file/sub`, "--steps", "1"]), quiet),
      CliError,
      "is not writable",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("data: a UTF-8 text file loads (BOM or not); held-out windows below --eval-windows get a warning", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "c3a-text-" });
  try {
    const text = "Call me Ishmael. Some years ago — never mind how long precisely — I went to sea.\n\n"
      .repeat(40);
    await Deno.writeTextFile(`${tmp}/t.txt`, "\ufeff" + text);
    const docs = await loadTextFile(`${tmp}/t.txt`);
    assertEquals(docs.map((d) => d.text).join(""), text, "BOM dropped, nothing else changed");
    await Deno.writeTextFile(`${tmp}/short.txt`, "x".repeat(2047));
    await assertRejects(() => loadTextFile(`${tmp}/short.txt`), Error, "has 2047 bytes, fewer than 2048");
    // the script says so for a 2.5 KB text, before training
    await Deno.writeTextFile(`${tmp}/short.txt`, text.slice(0, 2560));
    const lines: string[] = [];
    await finetune(
      opts(["--text", `${tmp}/short.txt`, "--steps", "1", "--out", `${tmp}/out`]),
      (l) => lines.push(l),
    );
    const warning = lines.findIndex((l) => l.startsWith("warning: held-out bits per byte are scored on"));
    assert(
      warning >= 0 &&
        warning < lines.findIndex((l) => l.startsWith("held-out bits per byte of the base model")),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  // 2.5 KB of text: the held-out tenth (~250 bytes) holds one 128-byte window of the 32 asked for
  const w = heldOutWarning(250, 1, 32, 128)!;
  assertStringIncludes(w, "scored on 1 window of 128 bytes (250 held-out bytes; --eval-windows 32");
  assertStringIncludes(w, "give at least 41 KB of text"); // 10 × 32 × 129 = 41,280 bytes
  assertEquals(heldOutWarning(5000, 32, 32, 128), null);
});

Deno.test("pretrain: writes out/pretrain by default and refuses to replace a checkpoint without --overwrite", async () => {
  const script = new URL("../examples/pretrain.ts", import.meta.url).pathname;
  const run = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr).trim() };
  };
  const help = await run(["--help"]);
  assertEquals(help.code, 0);
  assert(/--out DIR\s+checkpoint directory \(default out\/pretrain\)/.test(help.stdout), help.stdout);
  assert(!help.stdout.includes("checkpoints/sotu-byte-llama"), "the shipped checkpoint is not the default");
  const shipped = `${CHECKPOINT}/model.safetensors`;
  const bytes = await Deno.readFile(shipped);
  const r = await run(["--steps", "1", "--out", CHECKPOINT]);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(
    r.stderr,
    `error: --out ${CHECKPOINT} already holds a checkpoint (config.json, model.safetensors, ` +
      "tokenizer.json, tokenizer_config.json, training_log.json, loss.svg); pass --overwrite to replace it, " +
      "or another --out",
  );
  assertEquals(await Deno.readFile(shipped), bytes, "the shipped checkpoint is untouched");
});

Deno.test("output: committing a staging directory removes the script's stale outputs and nothing else", async () => {
  const out = await Deno.makeTempDir({ prefix: "c3a-staging-" });
  try {
    await Deno.mkdir(`${out}/merged/sub`, { recursive: true });
    await Deno.writeTextFile(`${out}/merged/sub/w.bin`, "old");
    await Deno.mkdir(`${out}/adapter`);
    await Deno.writeTextFile(`${out}/adapter/old.json`, "old");
    await Deno.writeTextFile(`${out}/loss.svg`, "old");
    await Deno.writeTextFile(`${out}/user.txt`, "keep");
    await Deno.mkdir(`${out}/user-dir`);
    const st = await Staging.create(out);
    await Deno.mkdir(st.path("adapter"));
    await st.writeText("adapter/new.json", "new");
    await st.writeText("finetune_log.json", "{}");
    const files = await st.commit(["adapter", "merged", "model", "finetune_log.json", "loss.svg"]);
    assertEquals(files, [`${out}/adapter`, `${out}/finetune_log.json`]);
    assertEquals(await listFiles(out), ["adapter", "finetune_log.json", "user-dir", "user.txt"]);
    assertEquals(await listFiles(`${out}/adapter`), ["new.json"], "replaced, not merged with the old one");
    assertEquals(await Deno.readTextFile(`${out}/user.txt`), "keep");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: a negative number after a number option is its value, so the range check reports it", () => {
  for (
    const [args, msg] of [
      [["--steps", "-5"], "--steps must be >= 1, got -5"],
      [["--steps=-5"], "--steps must be >= 1, got -5"],
      [["--lr", "-1"], "--lr must be >= 0, got -1"],
      [["--warmup", "-1e3"], "--warmup must be >= 0, got -1000"],
    ] as const
  ) {
    assertThrows(() => parseOptions([...args], OPTIONS), CliError, msg);
  }
  const v = parseOptions(["--seed", "-1", "--lr", "-0", "--merge"], OPTIONS).values;
  assertEquals([v.seed, v.lr, v.merge], [-1, 0, true]);
  // a flag after a number option is still a flag (so the number option has no value)
  assertThrows(() => parseOptions(["--steps", "--merge"], OPTIONS), CliError, "--steps");
  assertThrows(() => parseOptions(["--steps", "-x"], OPTIONS), CliError, "unknown option -x");
});

Deno.test("finetune: batch-size × seq-len above the documented bound fails up front", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "c3a-finetune-big-" });
  try {
    const seqLen = 64;
    const fits = MAX_TOKENS_PER_STEP / seqLen;
    for (const bs of [fits + 1, 1e9]) {
      const err = await assertRejects(
        () => finetune(opts(["--batch-size", String(bs), "--out", `${tmp}/o`]), quiet),
        CliError,
        "tokens per step",
      );
      assertStringIncludes(err.message, String(MAX_TOKENS_PER_STEP));
    }
    assertEquals(await listFiles(tmp), [], "nothing written");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("finetune: the script exits with code 2 and one 'error:' line on bad input", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../examples/finetune.ts", import.meta.url).pathname,
      "--block-size",
      "7",
      "--out",
      "out/never",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr).trim();
  assertEquals(code, 2);
  assertEquals(err.split("\n").length, 1, err);
  assert(err.startsWith("error: --block-size 7 does not divide"), err);
  assertEquals(new TextDecoder().decode(stdout), "");
  for (
    const [args, msg] of [
      [["--steps", "-5"], "error: --steps must be >= 1, got -5"],
      [["--batch-size", "1e9"], "error: --batch-size 1000000000 × --seq-len 128"],
    ] as [string[], string][]
  ) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../examples/finetune.ts", import.meta.url).pathname,
        ...args,
        "--out",
        "out/never",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const e = new TextDecoder().decode(r.stderr).trim();
    assertEquals([r.code, e.split("\n").length], [2, 1], e);
    assert(e.startsWith(msg), e);
  }
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../examples/finetune.ts", import.meta.url).pathname, "--help"],
    stdout: "piped",
  }).output();
  assertEquals(help.code, 0);
  for (
    const flag of ["--checkpoint", "--text", "--method", "--merge", "--block-size", "--targets", "--backend"]
  ) {
    assertStringIncludes(new TextDecoder().decode(help.stdout), flag);
  }
  assertStringIncludes(new TextDecoder().decode(help.stdout), "at most 2^20 tokens");
});

Deno.test("pretrain: a smoke run writes an HF checkpoint that finetune accepts as --checkpoint", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "c3a-pretrain-" });
  try {
    const ckpt = `${tmp}/ckpt`;
    const text = `${tmp}/corpus.txt`;
    // a user's own text file (four chapters of Moby-Dick), cut into chunks by the script
    await Deno.writeTextFile(
      text,
      (await loadCorpus("moby-dick")).slice(5, 9).map((d) => d.text).join("\n\n"),
    );
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../examples/pretrain.ts", import.meta.url).pathname,
        ...["--steps", "2", "--batch-size", "2", "--seq-len", "32", "--hidden-size", "32"],
        ...["--intermediate-size", "64", "--layers", "1", "--eval-windows", "2", "--sample-length", "4"],
        ...["--text", text, "--out", ckpt],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
    assertEquals(await listFiles(ckpt), [
      "checkpoints",
      "config.json",
      "loss.svg",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "training_log.json",
    ]);
    // the last step's checkpoint (every 100 steps and after the last), and the tokenizer finetune reads
    assertEquals(await listFiles(`${ckpt}/checkpoints`), ["checkpoint-2"]);
    const cfg = JSON.parse(await Deno.readTextFile(`${ckpt}/config.json`));
    assertEquals(cfg.architectures, ["LlamaForCausalLM"]);
    assertEquals(cfg.model_type, "llama");
    assertEquals([cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers], [256, 32, 1]);
    const lm = await LlamaForCausalLM.fromPretrained(ckpt);
    assertEquals(
      lm.numParameters(),
      JSON.parse(await Deno.readTextFile(`${ckpt}/training_log.json`)).parameters,
    );
    assertStringIncludes(await Deno.readTextFile(`${ckpt}/loss.svg`), "<svg");
    // the sample's prompt comes from the user's text (48 characters of a held-out document), not the speeches
    const { prompt } = JSON.parse(await Deno.readTextFile(`${ckpt}/training_log.json`)).sample;
    assertEquals(prompt.length, 48);
    assertStringIncludes(await Deno.readTextFile(text), prompt);
    const out = `${tmp}/ft`;
    const r = await finetune(
      parseOptions(
        [
          "--checkpoint",
          ckpt,
          "--text",
          text,
          "--seq-len",
          "32",
          "--steps",
          "2",
          "--sample-length",
          "0",
          "--out",
          out,
        ],
        OPTIONS,
      ).values,
      quiet,
    );
    assert(Number.isFinite(r.bpbAfter));
    assertEquals(
      r.blockSize,
      suggestBlockSize(r.targets!.map((n) => {
        const m = lm.getSubmodule(n) as Linear;
        return [m.inFeatures, m.outFeatures] as [number, number];
      }))[0].blockSize,
    );
    assertEquals(await listFiles(out), ["adapter", "finetune_log.json", "loss.svg"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("finetune: --save-every/--resume continue a run to the same result; a resume with other options is refused", async () => {
  const out = await Deno.makeTempDir({ prefix: "c3a-resume-" });
  try {
    const base = ["--steps", "4", "--batch-size", "2", "--seq-len", "16", "--eval-windows", "2"];
    const opts = (...more: string[]) =>
      parseOptions([...base, "--sample-length", "0", ...more], OPTIONS).values;
    const full = await finetune(opts("--out", `${out}/full`), quiet);
    // the same run "interrupted" after step 2: its checkpoint-2 is where the resumed run starts
    await finetune(opts("--steps", "2", "--save-every", "2", "--out", `${out}/cut`), quiet).catch(() => {});
    // (a 2-step run is another run: --steps is one of the checked settings)
    await assertRejects(
      () => finetune(opts("--out", `${out}/cut`, "--resume", `${out}/cut/checkpoints`), quiet),
      CliError,
      "trainer_state.json was written by another run: maxSteps is 2 there, 4 in this run",
    );
    const parts = await finetune(opts("--save-every", "2", "--out", `${out}/a`), quiet);
    assertEquals(parts.bpbAfter, full.bpbAfter, "saving checkpoints changes nothing");
    await Deno.remove(`${out}/a/checkpoints/checkpoint-4`, { recursive: true }); // as if killed after step 3
    const resumed = await finetune(
      opts("--save-every", "2", "--out", `${out}/a`, "--resume", `${out}/a/checkpoints`),
      quiet,
    );
    assertEquals(resumed.bpbAfter, full.bpbAfter);
    const log = JSON.parse(await Deno.readTextFile(`${out}/a/finetune_log.json`));
    assert(log.resumedFrom.endsWith("checkpoint-2"), log.resumedFrom);
    await assertRejects(
      () => finetune(opts("--lr", "0.1", "--out", `${out}/a`, "--resume", `${out}/a/checkpoints`), quiet),
      CliError,
      "runConfig.lr is 0.3 there, 0.1 in this run",
    );
    await assertRejects(
      () => finetune(opts("--save-every", "2", "--out", `${out}/a`), quiet),
      CliError,
      "holds checkpoints of an earlier run",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
