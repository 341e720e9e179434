import { assert, assertEquals, assertFalse, assertThrows } from "./deps.ts";
import { gradcheck } from "./gradcheck.ts";
import {
  add,
  enableGrad,
  isGradEnabled,
  mul,
  noGrad,
  randn,
  recordOp,
  sum,
  Tensor,
  tensor,
  tidy,
  zeros,
} from "../src/tensor/index.ts";

Deno.test("gradients accumulate across backward calls until zeroed", () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  mul(x, x).sum().backward();
  assertEquals(Array.from(x.grad!.dataSync()), [2, 4, 6]);
  mul(x, 3).sum().backward();
  assertEquals(Array.from(x.grad!.dataSync()), [5, 7, 9]);
  noGrad(() => x.grad!.zero_());
  x.sum().backward();
  assertEquals(Array.from(x.grad!.dataSync()), [1, 1, 1]);
  x.grad = null;
  x.sum().backward();
  assertEquals(Array.from(x.grad!.dataSync()), [1, 1, 1]);
});

Deno.test("a tensor used several times (diamond) gets the summed gradient", () => {
  const x = tensor([2, -1], undefined, { requiresGrad: true });
  const y = mul(x, x); // x²
  const z = add(mul(y, x), y).add(x); // x³ + x² + x
  z.sum().backward();
  // 3x² + 2x + 1
  assertEquals(Array.from(x.grad!.dataSync()), [17, 2]);
});

Deno.test("add(x, x): each operand's gradient lands once per use and grads do not alias", () => {
  const a = tensor([1, 2], undefined, { requiresGrad: true });
  const b = tensor([3, 4], undefined, { requiresGrad: true });
  add(a, b).sum().backward();
  a.grad!.dataSync()[0] = 100;
  assertEquals(b.grad!.dataSync()[0], 1);
  const c = tensor([1, 1], undefined, { requiresGrad: true });
  add(c, c).sum().backward();
  assertEquals(Array.from(c.grad!.dataSync()), [2, 2]);
});

Deno.test("noGrad / enableGrad / isGradEnabled", () => {
  const x = randn([3], { requiresGrad: true });
  assert(isGradEnabled());
  const y = noGrad(() => {
    assertFalse(isGradEnabled());
    const inner = enableGrad(() => {
      assert(isGradEnabled());
      return x.mul(2);
    });
    assert(inner.requiresGrad);
    return x.mul(2);
  });
  assert(isGradEnabled());
  assertFalse(y.requiresGrad);
  assertEquals(y.gradFn, null);
  assertThrows(
    () =>
      noGrad(() => {
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assert(isGradEnabled(), "mode restored after an exception");
});

Deno.test("detach shares storage and stops gradients", () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const d = x.mul(2).detach();
  assertFalse(d.requiresGrad);
  const y = mul(x, d).sum(); // d treated as a constant
  y.backward();
  assertEquals(Array.from(x.grad!.dataSync()), [2, 4, 6]);
  const e = x.detach();
  e.dataSync()[0] = 9;
  assertEquals(x.dataSync()[0], 9);
});

Deno.test("backward errors: non-scalar without gradient, wrong gradient shape, no grad, freed graph", () => {
  const x = randn([2, 3], { requiresGrad: true });
  const y = x.mul(2);
  assertThrows(() => y.backward(), Error, "shape [2, 3]");
  assertThrows(
    () => y.backward(randn([3, 2])),
    RangeError,
    "gradient has shape [3, 2] but the tensor has shape [2, 3]",
  );
  y.backward(tensor([1, 2, 3, 4, 5, 6], [2, 3]));
  assertEquals(Array.from(x.grad!.dataSync()), [2, 4, 6, 8, 10, 12]);
  assertThrows(() => y.backward(randn([2, 3])), Error, "second time");
  assertThrows(() => randn([1]).backward(), Error, "does not require grad");
});

Deno.test("retainGraph allows a second backward; the default frees saved tensors", () => {
  const x = randn([4], { requiresGrad: true });
  const loss = x.mul(x).sum();
  loss.backward(undefined, { retainGraph: true });
  const g1 = Array.from(x.grad!.dataSync());
  loss.backward();
  const g2 = Array.from(x.grad!.dataSync());
  g1.forEach((v, i) => assertEquals(g2[i], 2 * v));
  // freed: the node no longer references its inputs
  assertEquals(loss.gradFn!.inputs.length, 0);
  assertEquals(loss.gradFn!.backwardFn, null);
});

Deno.test("retainGrad keeps a non-leaf gradient; requiresGrad=false refused on non-leaves", () => {
  const x = randn([3], { requiresGrad: true });
  const h = x.mul(3).retainGrad();
  h.sum().backward();
  assertEquals(Array.from(h.grad!.dataSync()), [1, 1, 1]);
  assertThrows(() => (h.requiresGrad = false), Error, "leaf");
});

Deno.test("in-place ops on tensors requiring grad are refused while recording", () => {
  const p = randn([3], { requiresGrad: true });
  assertThrows(() => p.add_(1), Error, "noGrad");
  noGrad(() => p.sub_(tensor([1, 1, 1]), 0.5));
});

Deno.test("recordOp: custom op pattern; gradcheck catches a wrong backward", () => {
  const cube = (x: Tensor) =>
    recordOp("cube", Tensor.fromStorage(x.backend.binaryScalar("pow", x.storage, 3), x.shape), [x], (g) => [
      g.mul(x.mul(x).mul(3)),
    ]);
  gradcheck(cube, [randn([5])], { ref: ([a]) => a.map((v) => v ** 3) });
  const wrongCube = (x: Tensor) =>
    recordOp(
      "wrongCube",
      Tensor.fromStorage(x.backend.binaryScalar("pow", x.storage, 3), x.shape),
      [x],
      (g) => [
        g.mul(x.mul(x).mul(2)),
      ],
    );
  assertThrows(
    () => gradcheck(wrongCube, [randn([5])], { ref: ([a]) => a.map((v) => v ** 3) }),
    Error,
    "analytic",
  );
  // and a wrong-shaped gradient is reported by the engine
  const bad = (x: Tensor) => recordOp("bad", x.mul(1), [x], (g) => [g.sum()]);
  assertThrows(
    () => bad(randn([3], { requiresGrad: true })).sum().backward(),
    RangeError,
    'backward of "bad"',
  );
});

Deno.test("recordOp attaches nothing when no input requires grad", () => {
  const y = randn([3]).mul(2);
  assertEquals(y.gradFn, null);
  assertFalse(y.requiresGrad);
});

Deno.test("tidy disposes intermediates, keeps results and leaf gradients", () => {
  const w = randn([4], { requiresGrad: true });
  let inter: Tensor | null = null;
  const out = tidy(() => {
    inter = w.mul(2);
    const loss = sum(inter.mul(w));
    loss.backward();
    return { value: loss.item(), kept: inter.add(1) };
  });
  assert(inter!.isDisposed);
  assertFalse(out.kept.isDisposed);
  assertFalse(w.grad!.isDisposed);
  assertThrows(() => inter!.dataSync(), Error, "disposed");
  // a reshape view keeps the shared storage alive when only the original is disposed
  const z = zeros([2, 2]);
  const v = z.reshape([4]);
  z.dispose();
  assertFalse(v.isDisposed);
  v.dispose();
  assert(z.isDisposed);
});

Deno.test("a long loop keeps no graph from earlier steps (graph hangs off the loss)", () => {
  const w = randn([16, 16], { requiresGrad: true });
  const x = randn([8, 16]);
  let first: Tensor | null = null;
  for (let step = 0; step < 20; step++) {
    const loss = x.matmul(w).tanh().square().mean();
    loss.backward();
    if (step === 0) first = loss;
    noGrad(() => {
      w.sub_(w.grad!, 0.1);
      w.grad = null;
    });
  }
  // the first step's graph was released by its backward: nothing from it is reachable
  assertEquals(first!.gradFn!.inputs.length, 0);
});

Deno.test("infinite gradients stay infinite (no 0·inf NaN in accumulation); fill_ overwrites NaN", () => {
  const x = tensor([0, 1], undefined, { requiresGrad: true });
  x.log().sum().backward();
  assertEquals(Array.from(x.grad!.dataSync()), [Infinity, 1]);
  const y = tensor([NaN, Infinity]);
  y.fill_(2);
  assertEquals(Array.from(y.dataSync()), [2, 2]);
  const p = tensor([1, 2, 3]);
  p.add_(tensor([1, 1, 1]), -2);
  p.sub_(tensor([[1, 1, 1]]).reshape([3]), 1);
  p.add_(tensor([10]));
  assertEquals(Array.from(p.dataSync()), [8, 9, 10]);
});

Deno.test("backward frees as it goes: each node's closure temporaries, consumed gradients and the node itself", () => {
  // A chain x -> f1 -> f2 -> ... -> f6 -> sum; each f doubles its input. Each closure records what it saw
  // and checks what the engine has already let go of by the time the next (earlier) node runs.
  const seen: { g: Tensor; tmp: Tensor; node: Tensor["gradFn"] }[] = [];
  const checks: string[] = [];
  const f = (x: Tensor): Tensor => {
    const out = recordOp("double", x.mul(2), [x], (g) => {
      const prev = seen.at(-1);
      if (prev) {
        if (!prev.tmp.isDisposed) checks.push("a temporary of the previous closure is still alive");
        if (!prev.g.isDisposed) checks.push("the previous node's consumed gradient is still alive");
        if (prev.node!.backwardFn !== null) checks.push("the previous node was not released");
      }
      const tmp = g.mul(4); // a temporary of this closure: not returned
      const gi = tmp.mul(0.5);
      seen.push({ g, tmp, node: out.gradFn });
      return [gi];
    });
    return out;
  };
  const x = tensor([1, -2, 3]).requiresGrad_();
  tidy(() => {
    let h = x;
    for (let i = 0; i < 6; i++) h = f(h);
    h.sum().backward();
  });
  assertEquals(checks, []);
  assertEquals(seen.length, 6);
  // the gradient itself is right: d/dx sum(64 x) = 64
  assertEquals(Array.from(x.grad!.dataSync()), [64, 64, 64]);
  // with retainGraph nothing of the graph is released and a second pass gives the same gradient
  x.grad = null;
  seen.length = 0;
  const y = tidy(() => {
    let h = x;
    for (let i = 0; i < 3; i++) h = h.mul(2);
    const s = h.sum();
    s.backward(undefined, { retainGraph: true });
    s.backward();
    return x.grad!.dataSync().slice();
  });
  assertEquals(Array.from(y), [16, 16, 16]);
});
