// Markdown tables (for README) from the JSON lines of bench/scale_all.sh: per shape, the four sides (torch
// PEFT-style and real-FFT C3A on 2 threads, c3a on 1 and 2 threads), the ratios, and issue 11's targets
// checked against this run's numbers; then the forward-only runs.
//
//   deno run -A bench/scale_table.ts [/tmp/c3a_scale/results.jsonl]

interface Row {
  run: string;
  variant?: string;
  side?: string;
  mode?: string;
  threads: number;
  B: number;
  T: number;
  load_ms: number;
  fwd_ms: number | number[];
  step_ms?: number;
  steps_ms?: number[];
  tokens_per_s: number;
  peak_rss_bytes: number;
  losses?: number[];
}

const file = Deno.args[0] ?? "/tmp/c3a_scale/results.jsonl";
const rows: Row[] = Deno.readTextFileSync(file).split("\n").filter((l) => l.startsWith("{")).map((l) =>
  JSON.parse(l)
);
const byRun = new Map(rows.map((r) => [r.run, r]));

const s = (ms: number) => ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`;
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const x = (v: number) => `${v.toFixed(2)}×`;
const fwdOf = (r: Row) => Array.isArray(r.fwd_ms) ? r.fwd_ms[0] : r.fwd_ms;
const ok = (b: boolean) => b ? "**met**" : "**missed**";

const sides: [string, string][] = [
  ["torch peft 2t", "torch PEFT-style C3A"],
  ["torch rfft 2t", "torch real-FFT C3A"],
  ["c3a 1t", "c3a (this library)"],
  ["c3a 2t", "c3a (this library)"],
  ["c3a 2t bf16", "c3a, frozen base in bfloat16"],
];
const names: Record<string, string> = { smol135m: "SmolLM2-135M shape", qwen05b: "Qwen2.5-0.5B shape" };

const out: string[] = [];
for (const shape of Object.keys(names)) {
  const got = sides.map(([k]) => byRun.get(`${shape} ${k}`));
  if (got.every((r) => r === undefined)) continue;
  out.push(
    `| ${
      names[shape]
    } | threads | load | fwd 1×256 | C3A step 4×256 | tokens/s | peak RSS | losses by step |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  sides.forEach(([, label], i) => {
    const r = got[i];
    if (!r) return i < 4 && out.push(`| ${label} | | (not run) | | | | | |`);
    const l = r.losses ?? [];
    out.push(
      `| ${label} | ${r.threads} | ${s(r.load_ms)} | ${s(fwdOf(r))} | ${
        s(r.step_ms!)
      } | ${r.tokens_per_s} | ` +
        `${gib(r.peak_rss_bytes)} | ${l.map((v) => v.toFixed(3)).join(" → ")} |`,
    );
  });
  out.push("");
  const [peft, rfft, c1, c2, cb] = got;
  for (const c of [c1, c2, cb]) {
    if (!c) continue;
    const parts = [peft, rfft].filter((t): t is Row => !!t).map((t) =>
      `vs torch ${t.variant === "peft" ? "PEFT-style" : "real-FFT"}: step ${
        x(t.step_ms! / c.step_ms!)
      } torch's ` +
      `speed, forward ${x(fwdOf(c) / fwdOf(t))} torch's time, load ${
        x(c.load_ms / t.load_ms)
      } torch's time, ` +
      `peak RSS ${x(c.peak_rss_bytes / t.peak_rss_bytes)} torch's`
    );
    const what = `c3a on ${c.threads} thread${c.threads > 1 ? "s" : ""}${c === cb ? ", bfloat16 base" : ""}`;
    out.push(`- ${what}: ${parts.join("; ")}.`);
  }
  const c = [c1, c2].filter((r): r is Row => !!r).sort((a, b) => a.step_ms! - b.step_ms!)[0];
  if (c && peft) {
    const torchFwd = Math.min(...[peft, rfft].filter((t): t is Row => !!t).map(fwdOf));
    const torchRss = Math.min(...[peft, rfft].filter((t): t is Row => !!t).map((t) => t.peak_rss_bytes));
    const cRss = Math.min(...[c1, c2].filter((r): r is Row => !!r).map((r) => r.peak_rss_bytes));
    const t = [`step faster than torch PEFT-style: ${ok(c.step_ms! < peft.step_ms!)}`];
    if (shape === "smol135m" && rfft) {
      t.push(`step within 1.2× of torch real-FFT: ${ok(c.step_ms! <= 1.2 * rfft.step_ms!)}`);
      t.push(
        `forward within 1.5× of torch: ${ok(Math.min(fwdOf(c1 ?? c), fwdOf(c2 ?? c)) <= 1.5 * torchFwd)}`,
      );
    }
    t.push(`peak RSS ≤ torch's: ${ok(cRss <= torchRss)}`);
    if (shape === "qwen05b") {
      const cLoad = Math.min(...[c1, c2].filter((r): r is Row => !!r).map((r) => r.load_ms));
      const tLoad = Math.min(...[peft, rfft].filter((t): t is Row => !!t).map((t) => t.load_ms));
      t.push(`load ≤ 2× torch's: ${ok(cLoad <= 2 * tLoad)}`);
    }
    out.push(`- Targets (float32 c3a, its best thread count, against torch's best run): ${t.join("; ")}.`);
    if (cb) {
      out.push(
        `- With the frozen base in bfloat16: peak RSS ≤ torch's: ${ok(cb.peak_rss_bytes <= torchRss)}; ` +
          `step faster than torch PEFT-style: ${ok(cb.step_ms! < peft.step_ms!)}.`,
      );
    }
  }
  out.push("");
}

const fwdOnly = rows.filter((r) => r.mode === "fwd-only");
if (fwdOnly.length) {
  out.push(
    "| forward only, no grad | threads | tokens per call | load | forward | tokens/s | peak RSS |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const r of fwdOnly) {
    out.push(
      `| ${r.run} | ${r.threads} | ${r.B} × ${r.T} = ${r.B * r.T} | ${s(r.load_ms)} | ${s(fwdOf(r))} | ` +
        `${r.tokens_per_s} | ${gib(r.peak_rss_bytes)} |`,
    );
  }
}
console.log(out.join("\n"));
