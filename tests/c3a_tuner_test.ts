// The generic tuner machinery (src/c3a/tuner.ts): the edit log undoes last first and restores the
// requiresGrad flags; only the given adapter parameters stay trainable; counts see tied weights once.
import { assertEquals } from "./deps.ts";
import { countParameters, EditLog, markOnlyAdaptersAsTrainable } from "../src/c3a/tuner.ts";
import { Linear, Module } from "../src/nn/mod.ts";

class Two extends Module {
  a = new Linear(3, 2); // 6 + 2 elements
  b = new Linear(2, 4, { bias: false }); // 8 elements
}

Deno.test("EditLog: undoes edits last first, once, then onUndo, then restores requiresGrad", () => {
  const m = new Two();
  const order: string[] = [];
  const log = new EditLog(m, () => order.push("onUndo"));
  log.push(() => order.push("first"));
  log.push(() => order.push("second"));
  m.a.weight.requiresGrad = false;
  log.undo();
  assertEquals(order, ["second", "first", "onUndo"]);
  assertEquals(m.a.weight.requiresGrad, true);
  log.undo();
  assertEquals(order, ["second", "first", "onUndo", "onUndo"]);
});

Deno.test("markOnlyAdaptersAsTrainable and countParameters", () => {
  const m = new Two();
  assertEquals(countParameters(m), [16, 16]);
  markOnlyAdaptersAsTrainable(m, new Set([m.b.weight]));
  assertEquals([m.a.weight.requiresGrad, m.a.bias!.requiresGrad, m.b.weight.requiresGrad], [
    false,
    false,
    true,
  ]);
  assertEquals(countParameters(m), [8, 16]);
  m.b.weight = m.a.weight; // tied (shapes differ, but only identity matters for counting)
  assertEquals(countParameters(m), [0, 8]);
});
