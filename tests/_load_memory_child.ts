// Child process of tests/load_memory_test.ts (also runnable by hand):
//   deno run -A tests/_load_memory_child.ts make DIR   writes a random-init Llama checkpoint (~135 MB float32)
//   deno run -A tests/_load_memory_child.ts load DIR   loads it with AutoModelForCausalLM.fromPretrained and
//                                                      prints one JSON line of memory figures (bytes)
// A fresh process per measurement: the peak resident set (VmHWM of /proc/self/status) then belongs to
// this load alone. Before loading, the peak is reset to the current RSS (writing 5 to
// /proc/self/clear_refs, Linux >= 4.0); where that is refused, VmHWM still covers the start-up, whose
// peak is at most the RSS measured just before loading (nothing else runs in between).
import { AutoModelForCausalLM, LlamaForCausalLM } from "../mod.ts";

/** The shape of the test model: 33.7 M parameters, 135 MB as float32 (tied embeddings). */
const CONFIG = {
  model_type: "llama",
  vocab_size: 8192,
  hidden_size: 512,
  intermediate_size: 1408,
  num_hidden_layers: 10,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  tie_word_embeddings: true,
};

function status(field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(Deno.readTextFileSync("/proc/self/status"));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) * 1024;
}

const [mode, dir] = Deno.args;
if (mode === "make") {
  await new LlamaForCausalLM(CONFIG).savePretrained(dir);
} else if (mode === "load") {
  const rssBefore = status("VmRSS");
  let reset = true;
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch {
    reset = false;
  }
  const t0 = performance.now();
  const lm = await AutoModelForCausalLM.fromPretrained(dir);
  const ms = performance.now() - t0;
  const peak = status("VmHWM");
  const seen = new Set<unknown>();
  let modelBytes = 0;
  for (const p of lm.parameters()) {
    if (!seen.has(p)) modelBytes += p.size * 4;
    seen.add(p);
  }
  console.log(JSON.stringify({ rssBefore, peak, modelBytes, peakResetWorked: reset, ms }));
} else {
  throw new Error(`usage: _load_memory_child.ts make|load DIR, got ${JSON.stringify(mode)}`);
}
