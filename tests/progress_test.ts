import { assert, assertEquals, assertStringIncludes, assertThrows } from "./deps.ts";
import { formatDuration, formatRate, Progress } from "../src/util/progress.ts";

function sink(tty: boolean) {
  const chunks: string[] = [];
  const dec = new TextDecoder();
  return {
    chunks,
    writer: {
      writeSync(p: Uint8Array) {
        chunks.push(dec.decode(p));
        return p.length;
      },
      isTerminal: () => tty,
    },
  };
}

Deno.test("progress: TTY mode rewrites one line with step, loss, tokens/s and ETA", () => {
  let t = 0;
  const { chunks, writer } = sink(true);
  const bar = new Progress({ total: 10, label: "train", writer, now: () => t, minIntervalMs: 0 });
  t = 10_000; // 10 s for 5 steps of 200 tokens each → 100 tok/s, ETA 10 s
  bar.tick(5, { loss: 1.5, tokens: 1000 });
  const line = chunks.at(-1)!;
  assert(line.startsWith("\r"), "in-place update starts with carriage return");
  assert(!line.includes("\n"));
  assertStringIncludes(line, "train  5/10  50%");
  assertStringIncludes(line, "loss 1.5000");
  assertStringIncludes(line, "100.0 tok/s");
  assertStringIncludes(line, "0:10 elapsed, ETA 0:10");
  t = 20_000;
  bar.tick(5, { loss: 1.25, tokens: 1000 });
  bar.finish();
  const last = chunks.at(-1)!;
  assert(last.startsWith("\r") && last.endsWith("\n"), "finish ends the line");
  assertStringIncludes(last, "10/10 100%");
  assertStringIncludes(last, "0:20 elapsed, ETA 0:00");
});

Deno.test("progress: non-TTY prints plain lines, throttled, and always the last one", () => {
  let t = 0;
  const { chunks, writer } = sink(false);
  const bar = new Progress({ total: 100, writer, now: () => t, plainIntervalMs: 1000 });
  for (let i = 0; i < 100; i++) {
    t += 50; // 20 updates per plain interval
    bar.tick(1, { loss: 1 });
  }
  bar.finish();
  assert(chunks.every((c) => !c.includes("\r")), "no carriage returns in plain mode");
  assert(chunks.every((c) => c.endsWith("\n")));
  // One line at the first tick, then one per second of fake time (5 s total), plus the final 100/100.
  assert(chunks.length >= 5 && chunks.length <= 8, `got ${chunks.length} lines`);
  assertStringIncludes(chunks.at(-1)!, "100/100 100%");
  assertEquals(chunks.filter((c) => c.includes("100/100")).length, 1, "final line printed once");
});

Deno.test("progress: finish with a message, clamping, bad total", () => {
  const { chunks, writer } = sink(false);
  const bar = new Progress({ total: 2, writer, now: () => 0 });
  bar.update(7);
  assertEquals(bar.step, 2);
  bar.finish("done");
  bar.finish("again");
  assertStringIncludes(chunks.at(-1)!, "| done");
  assert(!chunks.join("").includes("again"), "finish is idempotent");
  assertThrows(() => new Progress({ total: -1 }), RangeError, "total");
  assertThrows(() => new Progress({ total: 1.5 }), RangeError, "total");
});

Deno.test("progress: duration and rate formatting", () => {
  assertEquals(formatDuration(0), "0:00");
  assertEquals(formatDuration(61), "1:01");
  assertEquals(formatDuration(3725), "1:02:05");
  assertEquals(formatDuration(NaN), "?");
  assertEquals(formatRate(12.34), "12.3");
  assertEquals(formatRate(1234), "1.23k");
  assertEquals(formatRate(2.5e6), "2.50M");
});
