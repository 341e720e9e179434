// Placement without a GPU (src/tensor/placement.ts, Tensor.to, Module.to, setBackend("wasm")): a
// second CPU backend ("cpu2", a WasmBackend registered under another name, so its storages are not
// the wasm backend's) stands in for another device. Expected values are the inputs themselves or
// hand-computed (copies must equal their source; the gradient of sum(2·x.to(...)) is 2 everywhere).
import { assert, assertEquals, assertStrictEquals, assertThrows } from "./deps.ts";
import { blockCircularConvolution } from "../src/ops/circulant.ts";
import { backendNamed, getBackend, registerBackend } from "../src/backend/backend.ts";
import { WasmBackend } from "../src/backend/wasm/backend.ts";
import {
  add,
  describeBackend,
  linear,
  matmul,
  setBackend,
  type Tensor,
  tensor,
  tidy,
} from "../src/tensor/index.ts";
import { Linear, Module, Parameter } from "../src/nn/mod.ts";
import { SGD } from "../src/optim/mod.ts";
import { C3AConfig } from "../src/c3a/config.ts";
import { getPeftModel } from "../src/c3a/model.ts";

class Cpu2Backend extends WasmBackend {
  override readonly name = "cpu2" as "wasm";
}
registerBackend("cpu2", () => new Cpu2Backend());
const cpu2 = backendNamed("cpu2");
const wasm = backendNamed("wasm");

const arr = (t: Tensor) => Array.from(t.dataSync());

Deno.test("Tensor.to: itself when already there; a copy with the same values elsewhere", () => {
  const x = tensor([1, 2, 3, 4], [2, 2]);
  assertStrictEquals(x.to("wasm"), x);
  assertStrictEquals(x.to(wasm), x);
  const y = x.to("cpu2");
  assert(y !== x);
  assertStrictEquals(y.backend, cpu2);
  assertEquals(y.shape, [2, 2]);
  assertEquals(arr(y), [1, 2, 3, 4]);
  x.dataSync()[0] = 9; // storage is independent
  assertEquals(arr(y), [1, 2, 3, 4]);
  assertEquals(arr(y.to("wasm")), [1, 2, 3, 4]);
});

Deno.test("Tensor.to: unknown names and wrong types are one-line errors", () => {
  const x = tensor([1]);
  assertThrows(() => x.to("cuda"), RangeError, 'to("cuda"): unknown backend "cuda"; available: wasm');
  assertThrows(() => x.to(3 as unknown as "wasm"), TypeError, 'expected a backend name ("wasm", "webgpu")');
});

Deno.test("Tensor.to is differentiable: the gradient comes back to the source backend", () => {
  const x = tensor([1, -2, 3]).requiresGrad_();
  const y = x.to("cpu2").mul(2).sum();
  assertStrictEquals(y.backend, cpu2);
  y.backward();
  assertStrictEquals(x.grad!.backend, wasm);
  assertEquals(arr(x.grad!), [2, 2, 2]);
});

Deno.test("ops on two backends: the error names each tensor's backend and the call that moves it", () => {
  const a = tensor([1, 2, 3, 4], [2, 2]);
  const b = tensor([1, 0, 0, 1], [2, 2]).to("cpu2");
  assertThrows(
    () => add(a, b),
    Error,
    'add: a is on "wasm" but b is on "cpu2"; move one of them: b.to("wasm") or a.to("cpu2") ' +
      "(a model's weights: model.to(name))",
  );
  assertThrows(
    () => matmul(b, a),
    Error,
    'matmul: a is on "cpu2" but b is on "wasm"; move one of them: b.to("cpu2") or a.to("wasm")',
  );
  assertThrows(
    () => linear(a, b),
    Error,
    'linear: input is on "wasm" but weight is on "cpu2"; move one of them: weight.to("wasm") or input.to("cpu2")',
  );
  const k = tensor([1, 2], [1, 1, 2]).to("cpu2");
  assertThrows(
    () => blockCircularConvolution(a, k),
    Error,
    'blockCircularConvolution: x is on "wasm" but kernel is on "cpu2"',
  );
  // a module on one backend, its input on the other
  const lin = new Linear(2, 2).to("cpu2");
  assertThrows(() => lin.forward(a), Error, 'input.to("cpu2")');
});

Deno.test("copy_ copies across backends (as torch's copy_ across devices)", () => {
  const dst = tensor([0, 0, 0]);
  dst.copy_(tensor([4, 5, 6]).to("cpu2"));
  assertEquals(arr(dst), [4, 5, 6]);
  assertStrictEquals(dst.backend, wasm);
});

class Net extends Module {
  lin = new Linear(3, 2);
  frozen = new Parameter(tensor([1, 2]), false);
  constructor() {
    super();
    this.registerBuffer("scale", tensor([0.5, 2]));
  }
  declare scale: Tensor;
  override forward(x: Tensor): Tensor {
    return this.lin.forward(x).mul(this.scale).add(this.frozen);
  }
}

Deno.test("Module.to: returns this, moves parameters in place (identity, requiresGrad, grad) and buffers", () => {
  const net = new Net();
  const x = tensor([1, 2, 3, -1, 0, 1], [2, 3]);
  const before = arr(net.forward(x));
  const params = net.parameters();
  const values = params.map(arr);
  net.lin.weight.grad = tensor([1, 1, 1, 2, 2, 2], [2, 3]);
  const out = net.to("cpu2");
  assertStrictEquals(out, net);
  assertEquals(net.parameters(), params); // the same Parameter objects
  for (const [i, p] of params.entries()) {
    assertStrictEquals(p.backend, cpu2, `parameter ${i}`);
    assertEquals(arr(p), values[i]);
  }
  assertEquals(net.lin.weight.requiresGrad, true);
  assertEquals(net.frozen.requiresGrad, false);
  assertStrictEquals(net.lin.weight.grad!.backend, cpu2);
  assertEquals(arr(net.lin.weight.grad!), [1, 1, 1, 2, 2, 2]);
  assertStrictEquals(net.scale.backend, cpu2);
  assertEquals(arr(net.scale), [0.5, 2]);
  // the moved model computes what it computed before, on its new backend
  const y = net.forward(x.to("cpu2"));
  assertStrictEquals(y.backend, cpu2);
  assertEquals(arr(y), before);
  // an optimizer made after the move trains it there
  net.zeroGrad();
  const opt = new SGD(net.parameters().filter((p) => p.requiresGrad), { lr: 0.1 });
  net.forward(x.to("cpu2")).sum().backward();
  opt.step();
  assertStrictEquals(net.lin.weight.backend, cpu2);
  assert(arr(net.lin.weight).some((v, i) => v !== values[0][i]), "the step changed the weight");
  net.to("wasm");
  assertStrictEquals(net.lin.weight.backend, wasm);
});

Deno.test("Module.to: a tied parameter moves once; buffers survive an enclosing tidy", () => {
  class Tied extends Module {
    a = new Linear(2, 2, { bias: false });
    b = new Linear(2, 2, { bias: false });
    constructor() {
      super();
      this.b.weight = this.a.weight;
      this.registerBuffer("buf", tensor([7]));
    }
    declare buf: Tensor;
  }
  const m = new Tied();
  const w = arr(m.a.weight);
  tidy(() => {
    m.to("cpu2");
  });
  assertStrictEquals(m.a.weight, m.b.weight);
  assertStrictEquals(m.a.weight.backend, cpu2);
  assertEquals(arr(m.a.weight), w);
  assert(!m.buf.isDisposed, "the moved buffer outlives the tidy scope");
  assertEquals(arr(m.buf), [7]);
});

Deno.test("getPeftModel on a moved model puts the C3A kernels on the base layer's backend", () => {
  const base = new Net().to("cpu2");
  const model = getPeftModel(base, new C3AConfig({ blockSize: 1, targetModules: ["lin"] }));
  const names = model.namedParameters().map(([n, p]) => {
    assertStrictEquals(p.backend, cpu2, n);
    return n;
  });
  assert(names.some((n) => n.includes("c3a_kernel")), names.join(", "));
});

Deno.test("setBackend: wasm, unknown names, describeBackend", async () => {
  const c = await setBackend("wasm");
  assertEquals(c, { name: "wasm", device: "WebAssembly SIMD, CPU", reason: "asked for" });
  assertStrictEquals(getBackend(), wasm);
  assertEquals(describeBackend(), "wasm (WebAssembly SIMD, CPU): asked for");
  let err: unknown;
  try {
    await setBackend("cuda");
  } catch (e) {
    err = e;
  }
  assert(err instanceof RangeError);
  assertEquals(
    err.message,
    'setBackend: unknown backend "cuda"; allowed: "wasm", "webgpu", "cpu2", "auto"',
  );
  assertStrictEquals(getBackend(), wasm);
});
