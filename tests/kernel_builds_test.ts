// The two kernel builds (wasm/kernels.wasm: SIMD; wasm/kernels_relaxed.wasm: relaxed SIMD with fused
// multiply-adds): which one the library picks, that both export the same kernels, and that both compute
// sgemm to float32 accuracy against a float64 reference (NN, NT, TN; edge tiles and k > one block).
import { assert, assertEquals } from "./deps.ts";
import { sgemm } from "../src/backend/wasm/gemm.ts";
import { kernelBuild, relaxedSimdSupported, sharedMemory, wasm } from "../src/backend/wasm/memory.ts";
import { uniformData } from "./_random.ts";

const plain = await import("../wasm/kernels.wasm");
const relaxed = await import("../wasm/kernels_relaxed.wasm");

Deno.test("kernel builds: the probe agrees with the engine on the relaxed build; the library picks by it", async () => {
  const bytes = await Deno.readFile(new URL("../wasm/kernels_relaxed.wasm", import.meta.url));
  assertEquals(relaxedSimdSupported(), WebAssembly.validate(bytes));
  const forced = Deno.env.get("C3A_WASM_BUILD") === "simd";
  assertEquals(kernelBuild, forced || !relaxedSimdSupported() ? "simd" : "relaxed");
  // unshared memory: memory.ts runs the imported module itself; shared: its own instance of the same build
  if (!sharedMemory) {
    assert(wasm === (kernelBuild === "simd" ? plain : relaxed), "memory.ts runs the build it names");
  } else assert(wasm !== plain && wasm !== relaxed);
});

Deno.test("kernel builds: both export the same functions", () => {
  const names = (m: object) => Object.keys(m).sort();
  assertEquals(names(relaxed), names(plain));
});

/** float64 C = op(A)·op(B) and Σ|a·b| per entry. */
function ref(a: Float32Array, b: Float32Array, m: number, n: number, k: number, tA: boolean, tB: boolean) {
  const c = new Float64Array(m * n), abs = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, t = 0;
      for (let p = 0; p < k; p++) {
        const x = (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j]);
        s += x;
        t += Math.abs(x);
      }
      c[i * n + j] = s;
      abs[i * n + j] = t;
    }
  }
  return { c, abs };
}

/** sgemm on a build instance that memory.ts does not use: operands laid out from its heap base. */
function rawSgemm(
  kern: typeof plain,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  tA: boolean,
  tB: boolean,
): Float32Array {
  const mem = kern.memory as unknown as WebAssembly.Memory;
  const sizes = [a.length * 4, b.length * 4, m * n * 4, Number(kern.sgemmWorkspaceBytes(m, n, k))];
  let at = Math.ceil(Number(kern.heapBase()) / 64) * 64;
  const [pa, pb, pc, pw] = sizes.map((x) => (at += Math.ceil(x / 64) * 64) - Math.ceil(x / 64) * 64);
  if (at > mem.buffer.byteLength) mem.grow(Math.ceil((at - mem.buffer.byteLength) / 65536));
  new Float32Array(mem.buffer, pa, a.length).set(a);
  new Float32Array(mem.buffer, pb, b.length).set(b);
  kern.sgemm(
    tA ? 1 : 0,
    tB ? 1 : 0,
    m,
    n,
    k,
    pa,
    tA ? m : k,
    0,
    pb,
    tB ? k : n,
    0,
    pc,
    n,
    0,
    1,
    0,
    pw,
    0,
    1,
    0,
    0,
  );
  return new Float32Array(mem.buffer, pc, m * n).slice();
}

Deno.test("kernel builds: sgemm of both builds within float32 accuracy of a float64 reference", () => {
  // the raw instances memory.ts does not allocate in (both, when it runs a shared build)
  const others = [plain, relaxed].filter((k) => k !== wasm);
  for (const [m, n, k] of [[13, 21, 5], [37, 45, 700], [64, 40, 385]]) {
    for (const [tA, tB] of [[false, false], [false, true], [true, false]]) {
      const a = uniformData(m * k, m * 7 + k), b = uniformData(k * n, n * 11 + k);
      const want = ref(a, b, m, n, k, tA, tB);
      const results = [
        sgemm(a, b, m, n, k, { transA: tA, transB: tB }),
        ...others.map((kern) => rawSgemm(kern, a, b, m, n, k, tA, tB)),
      ];
      for (const got of results) {
        for (let i = 0; i < m * n; i++) {
          const err = Math.abs(got[i] - want.c[i]);
          // each product and partial sum rounds once or twice in float32
          assert(
            err <= 2 * k * 2 ** -24 * want.abs[i] + 1e-30,
            `${m}x${n}x${k} tA=${tA} tB=${tB} [${i}] err ${err}`,
          );
        }
      }
    }
  }
});
