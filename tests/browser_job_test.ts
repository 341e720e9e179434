/**
 * The browser page's job (`examples/browser/job.ts`) is the main job: run in Deno with the same text and
 * settings as `examples/finetune.ts --text`, it gives bit-for-bit the same training losses, held-out bits
 * per byte, block size and samples (same split, batches, adapter initialisation, schedule, clipping and
 * sampler), and its
 * adapter file holds the kernels PEFT's layout names. Its text checks say how much text is needed.
 */

import { assert, assertEquals, assertThrows } from "./deps.ts";
import { decodeSafetensors, setBackend } from "../mod.ts";
import { InputError, prepareText, runFinetune } from "../examples/browser/job.ts";
import { finetune, OPTIONS } from "../examples/finetune.ts";
import { parseOptions } from "../examples/lib/cli.ts";

const CHECKPOINT = new URL("../examples/checkpoints/sotu-byte-llama/", import.meta.url);
const TEXT = new URL("../examples/browser/assets/moby-dick-ch1-5.txt", import.meta.url);

Deno.test("browser job: same losses and held-out bits/byte as examples/finetune.ts --text", async () => {
  setBackend("wasm");
  const out = await Deno.makeTempDir({ prefix: "c3a-job-" });
  try {
    const steps = 4, batch = 2, seqLen = 32, seed = 5;
    const { values } = parseOptions([
      "--text",
      decodeURIComponent(TEXT.pathname),
      ...["--steps", `${steps}`, "--batch-size", `${batch}`, "--seq-len", `${seqLen}`, "--seed", `${seed}`],
      ...["--eval-every", "2", "--eval-windows", "4", "--sample-length", "6", "--out", `${out}/ft`],
    ], OPTIONS);
    const ft = await finetune(values, () => {});
    const log = JSON.parse(await Deno.readTextFile(`${out}/ft/finetune_log.json`));
    const job = await runFinetune(
      {
        config: JSON.parse(await Deno.readTextFile(new URL("config.json", CHECKPOINT))),
        weights: await Deno.readFile(new URL("model.safetensors", CHECKPOINT)),
        name: "sotu-byte-llama",
        tokenizerJson: JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", CHECKPOINT))),
        tokenizerConfig: JSON.parse(await Deno.readTextFile(new URL("tokenizer_config.json", CHECKPOINT))),
      },
      await Deno.readTextFile(TEXT),
      { steps, batchSize: batch, seqLen, seed, evalEvery: 2, evalWindows: 4, sampleLength: 6 },
    );
    assertEquals(job.train, log.curves.train, "training bits/byte per step");
    assertEquals(job.eval, log.curves.eval, "held-out bits/byte");
    assertEquals(job.bpbBefore, ft.bpbBefore);
    assertEquals(job.samples, {
      prompt: log.samples.prompt,
      before: log.samples.before,
      after: log.samples.after,
    });
    assertEquals(job.blockSize, ft.blockSize);
    assertEquals(job.trainableParams, ft.trainableParams);
    assertEquals([...job.layers].sort(), [...ft.targets!].sort());
    const tensors = decodeSafetensors(job.adapter.weights).tensors;
    const file =
      decodeSafetensors(await Deno.readFile(`${out}/ft/adapter/adapter_model.safetensors`)).tensors;
    assertEquals(Object.keys(tensors).sort(), Object.keys(file).sort());
    for (const [k, t] of Object.entries(file)) assertEquals(tensors[k].data, t.data, k);
    const config = JSON.parse(job.adapter.config);
    assertEquals([config.peft_type, config.block_size, config.inference_mode], ["C3A", ft.blockSize, true]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/** Ids = UTF-8 bytes (what the checkpoint's byte-level tokenizer gives). */
const BYTES = { encode: (t: string) => Array.from(new TextEncoder().encode(t)) };

Deno.test("browser job: too-short text says how much is needed", () => {
  const e = assertThrows(() => prepareText("word ".repeat(100), 128, 32, BYTES), InputError);
  assert(e.message.includes("500 bytes; at least 2,048 are needed: add 1,548 more bytes"), e.message);
  // Long enough in total, but the held-out tenth is shorter than a window of 1,025 bytes.
  const e2 = assertThrows(() => prepareText("word ".repeat(600), 1024, 32, BYTES), InputError);
  assert(/at least [\d,]+ are needed/.test(e2.message), e2.message);
  const ok = prepareText("word ".repeat(600), 16, 4, BYTES);
  assertEquals(ok.bytes, 3000);
  assertEquals(ok.offsets.length, 4);
});
