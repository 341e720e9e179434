import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertThrows } from "./deps.ts";
import {
  arange,
  calculateFanInAndFanOut,
  eye,
  fromFloat32Array,
  full,
  Generator,
  getBackend,
  kaimingUniform_,
  manualSeed,
  normal_,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  tensor,
  uniform_,
  xavierUniform_,
  zeros,
  zerosLike,
} from "../src/tensor/index.ts";

Deno.test("tensor(): flat, nested, Float32Array (copied), scalar, explicit shape", () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(a.shape, [2, 3]);
  assertEquals(a.ndim, 2);
  assertEquals(a.size, 6);
  assertEquals(a.dtype, "float32");
  assertEquals(a.toList(), [[1, 2, 3], [4, 5, 6]]);
  const src = new Float32Array([1, 2, 3, 4]);
  const b = tensor(src, [2, 2]);
  src[0] = 99;
  assertEquals(b.dataSync()[0], 1, "tensor() copies its input");
  const c = tensor(7);
  assertEquals(c.shape, []);
  assertEquals(c.item(), 7);
  assertEquals(tensor([1, 2, 3]).shape, [3]);
  assertEquals(tensor([[[1], [2]]]).shape, [1, 2, 1]);
  assertThrows(() => tensor([[1, 2], [3]]), RangeError, "ragged");
  assertThrows(() => tensor([1, 2, 3], [2, 2]), RangeError, "[2, 2] needs 4 elements, data has 3");
  assertThrows(() => tensor([1, 2], [2, -1]), RangeError, "integer >= 0");
});

Deno.test("fromFloat32Array shares memory; dataSync is the storage on wasm", async () => {
  const d = new Float32Array([1, 2, 3]);
  const t = fromFloat32Array(d);
  d[1] = 5;
  assertEquals(t.dataSync()[1], 5);
  t.dataSync()[2] = 8;
  assertEquals((await t.data())[2], 8);
  assertEquals(getBackend().name, "wasm");
});

Deno.test("zeros/ones/full/arange/eye/*Like", () => {
  assertEquals(zeros([2, 2]).toList(), [[0, 0], [0, 0]]);
  assertEquals(ones([3]).toList(), [1, 1, 1]);
  assertEquals(full([2], 2.5).toList(), [2.5, 2.5]);
  assertEquals(arange(4).toList(), [0, 1, 2, 3]);
  assertEquals(arange(1, 2, 0.25).toList(), [1, 1.25, 1.5, 1.75]);
  assertEquals(arange(5, 0, -2).toList(), [5, 3, 1]);
  assertEquals(eye(2, 3).toList(), [[1, 0, 0], [0, 1, 0]]);
  const x = randn([2, 3]);
  assertEquals(zerosLike(x).shape, [2, 3]);
  assertEquals(onesLike(x).sum().item(), 6);
  assert(zeros([2], { requiresGrad: true }).requiresGrad);
  assertThrows(() => arange(0, 1, 0), RangeError, "step nonzero");
  assertThrows(() => zeros([2.5]), RangeError);
});

Deno.test("item / toString", () => {
  assertThrows(() => randn([2]).item(), RangeError, "shape [2]");
  const s = tensor([1, 2]).toString();
  assert(s.includes("shape=[2]") && s.includes("1, 2"), s);
  const y = randn([2], { requiresGrad: true }).mul(2);
  assert(y.toString().includes("gradFn=mul"));
});

Deno.test("manualSeed makes rand/randn/randint deterministic; different seeds differ", () => {
  manualSeed(123);
  const a = randn([100]).dataSync().slice();
  const u = rand([10]).dataSync().slice();
  const i = randint(0, 10, 20);
  manualSeed(123);
  assertEquals(randn([100]).dataSync(), a);
  assertEquals(rand([10]).dataSync(), u);
  assertEquals(randint(0, 10, 20), i);
  manualSeed(124);
  assertNotEquals(randn([100]).dataSync(), a);
  // an explicit generator does not disturb the global stream
  manualSeed(5);
  const g1 = randn([4]).dataSync().slice();
  manualSeed(5);
  randn([3], { generator: new Generator(99) });
  assertEquals(randn([4]).dataSync(), g1);
});

Deno.test("xoshiro128** known answers from state [1, 2, 3, 4], worked by hand from the published algorithm", () => {
  // out = rotl(s1·5, 7)·9: 11520; then state [7, 0, 1026, 12288] -> 0; then [12295, 1029, 1029, 25165824]
  // -> rotl(5145, 7)·9 = 5927040
  const g = new Generator().setState([1, 2, 3, 4]);
  assertEquals([g.nextUint32(), g.nextUint32(), g.nextUint32()], [11520, 0, 5927040]);
  const saved = new Generator(3).getState();
  const a = new Generator().setState(saved), b = new Generator(3);
  assertEquals(a.nextNormal(), b.nextNormal());
  assertThrows(() => new Generator().setState([0, 0, 0, 0]), RangeError, "all-zero");
});

Deno.test("raw outputs: every bit set about half the time", () => {
  // 2^16 draws, each of the 32 bits set about half the time (binomial sd = 128)
  const g = new Generator(42);
  const counts = new Array(32).fill(0);
  const n = 1 << 16;
  for (let k = 0; k < n; k++) {
    const v = g.nextUint32();
    assert(v >= 0 && v < 2 ** 32 && Number.isInteger(v));
    for (let b = 0; b < 32; b++) if ((v >>> b) & 1) counts[b]++;
  }
  for (const c of counts) assert(Math.abs(c - n / 2) < 6 * 128, `bit frequency ${c} of ${n}`);
});

Deno.test("distribution sanity: uniform mean/var, normal mean/var/tails", () => {
  manualSeed(7);
  const n = 200_000;
  const u = rand([n]).dataSync();
  let m = 0, v = 0, lo = 1, hi = 0;
  for (const x of u) {
    m += x;
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  m /= n;
  for (const x of u) v += (x - m) ** 2;
  v /= n;
  // standard errors: mean sqrt(1/12/n) = 6.5e-4, var ~ 1.9e-4; allow 5 sigma
  assertAlmostEquals(m, 0.5, 5 * 6.5e-4);
  assertAlmostEquals(v, 1 / 12, 5 * 1.9e-4);
  assert(lo >= 0 && hi < 1);
  const z = randn([n]).dataSync();
  let zm = 0, zv = 0, tail = 0;
  for (const x of z) zm += x;
  zm /= n;
  for (const x of z) {
    zv += (x - zm) ** 2;
    if (Math.abs(x) > 1.959964) tail++;
  }
  zv /= n;
  assertAlmostEquals(zm, 0, 5 * Math.sqrt(1 / n));
  assertAlmostEquals(zv, 1, 5 * Math.sqrt(2 / n));
  // P(|Z| > 1.96) = 0.05, sd sqrt(0.05·0.95/n) = 4.9e-4
  assertAlmostEquals(tail / n, 0.05, 5 * 4.9e-4);
});

Deno.test("init helpers: bounds and spread follow PyTorch formulas", () => {
  manualSeed(8);
  const w = zeros([64, 100]);
  kaimingUniform_(w, { a: Math.sqrt(5) }); // nn.Linear default: U(-1/sqrt(in), 1/sqrt(in))
  const bound = 1 / Math.sqrt(100);
  let mx = 0, sq = 0;
  for (const x of w.dataSync()) {
    mx = Math.max(mx, Math.abs(x));
    sq += x * x;
  }
  assert(mx <= bound && mx > 0.95 * bound, `max ${mx} vs bound ${bound}`);
  assertAlmostEquals(sq / w.size, bound * bound / 3, 0.05 * bound * bound / 3);
  const k = zeros([50, 200]);
  kaimingUniform_(k); // a = 0: gain sqrt(2), bound sqrt(6/fanIn)
  const kb = Math.sqrt(6 / 200);
  assert(Math.max(...Array.from(k.dataSync(), Math.abs)) <= kb);
  const xv = zeros([30, 70]);
  xavierUniform_(xv);
  const xb = Math.sqrt(6 / 100);
  let xs = 0;
  for (const x of xv.dataSync()) {
    assert(Math.abs(x) <= xb);
    xs += x * x;
  }
  assertAlmostEquals(xs / xv.size, xb * xb / 3, 0.1 * xb * xb / 3);
  const nrm = normal_(zeros([10000]), 3, 0.5).dataSync();
  const nm = nrm.reduce((s, x) => s + x, 0) / nrm.length;
  assertAlmostEquals(nm, 3, 5 * 0.5 / 100);
  const un = uniform_(zeros([1000]), -2, -1).dataSync();
  assert(un.every((x) => x >= -2 && x < -1));
  assertEquals(calculateFanInAndFanOut([8, 4, 3, 3]), [36, 72]);
  assertThrows(() => xavierUniform_(zeros([5])), RangeError, "fewer than 2 dimensions");
  assertThrows(() => uniform_(zeros([2]), 1, 0), RangeError);
});
