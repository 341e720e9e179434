// Differentiable C3A ops (src/ops/circulant.ts) against independent references: every golden case of
// tests/fixtures/golden (PEFT scaling: the op output divided by in_features; true gradients), central
// finite differences of a float64 dense forward written here (tests/gradcheck.ts), and the spec's
// worked example.
import { assert, assertEquals, assertThrows } from "./deps.ts";
import { gradcheck } from "./gradcheck.ts";
import { blockCircularConvolution, circulantLinear, getCirculant } from "../src/ops/circulant.ts";
import { fromFloat32Array, manualSeed, noGrad, randn, tensor, zeros } from "../src/tensor/index.ts";
import { assertClose, f32, goldenIndex, loadGoldenCase } from "./_golden.ts";

/** float64 forward of the unscaled op from the index formula: y[r][i·b+s] = Σ_j Σ_t w[i][j][(t−s) mod b]·x[r][j·b+t]. */
function refForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  m: number,
  n: number,
  b: number,
): Float64Array {
  const inF = n * b, outF = m * b, rows = x.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < m; i++) {
      for (let s = 0; s < b; s++) {
        let acc = 0;
        for (let j = 0; j < n; j++) {
          for (let t = 0; t < b; t++) {
            acc += w[(i * n + j) * b + (((t - s) % b) + b) % b] * x[r * inF + j * b + t];
          }
        }
        y[r * outF + i * b + s] = acc;
      }
    }
  }
  return y;
}

// ---------------------------------------------------------------- golden vectors (scaled, as PEFT)

for (const entry of goldenIndex()) {
  Deno.test(`golden ${entry.name}: y_scaled, grad_x_scaled, grad_kernel_scaled, delta_weight`, () => {
    const c = loadGoldenCase(entry.file);
    const { b, in_features: inF, out_features: outF, m, n, x_shape: xShape } = c.meta;
    const t = c.tensors;
    const x = fromFloat32Array(f32(t.x), t.x.shape).requiresGrad_();
    const w = fromFloat32Array(f32(t.kernel), t.kernel.shape).requiresGrad_();
    assertEquals(x.shape, xShape);
    assertEquals(w.shape, [m, n, b]);
    const y = blockCircularConvolution(x, w).div(inF); // PEFT: result += BCC(x, w) / in_features
    assertEquals(y.shape, [...xShape.slice(0, -1), outF]);
    const tol = 1e-5;
    assertClose(y.dataSync(), f32(t.y_scaled), tol, `${c.name} y_scaled`);
    y.backward(fromFloat32Array(f32(t.grad_out), t.grad_out.shape));
    assertEquals(x.grad!.shape, x.shape);
    assertEquals(w.grad!.shape, w.shape);
    assertClose(x.grad!.dataSync(), f32(t.grad_x_scaled), tol, `${c.name} grad_x_scaled`);
    assertClose(w.grad!.dataSync(), f32(t.grad_kernel_scaled), tol, `${c.name} grad_kernel_scaled`);
    const dw = noGrad(() => getCirculant(w).div(inF));
    assertEquals(dw.shape, [outF, inF]);
    assertClose(dw.dataSync(), f32(t.delta_weight), tol, `${c.name} delta_weight`);
  });
}

for (const entry of goldenIndex()) {
  Deno.test(`golden ${entry.name} through circulantLinear (W = 0): y_scaled, grad_x_scaled, grad_kernel_scaled`, () => {
    const c = loadGoldenCase(entry.file);
    const { in_features: inF, out_features: outF } = c.meta;
    const t = c.tensors;
    const x = fromFloat32Array(f32(t.x), t.x.shape).requiresGrad_();
    const w = fromFloat32Array(f32(t.kernel), t.kernel.shape).requiresGrad_();
    const y = circulantLinear(x, zeros([outF, inF]), null, w.div(inF));
    const tol = 1e-5;
    assertClose(y.dataSync(), f32(t.y_scaled), tol, `${c.name} y_scaled`);
    y.backward(fromFloat32Array(f32(t.grad_out), t.grad_out.shape));
    assertClose(x.grad!.dataSync(), f32(t.grad_x_scaled), tol, `${c.name} grad_x_scaled`);
    assertClose(w.grad!.dataSync(), f32(t.grad_kernel_scaled), tol, `${c.name} grad_kernel_scaled`);
  });
}

// ---------------------------------------------------------------- finite-difference gradchecks

for (const b of [1, 2, 3, 5]) {
  for (const [label, lead] of [["2-D x", [4]], ["3-D x", [2, 3]]] as Array<[string, number[]]>) {
    Deno.test(`gradcheck blockCircularConvolution b = ${b}, ${label} (float64 reference)`, () => {
      const m = 2, n = 3;
      manualSeed(100 + b);
      const x = randn([...lead, n * b]);
      const w = randn([m, n, b]);
      const report = gradcheck(blockCircularConvolution, [x, w], {
        ref: ([x64, w64]) => refForward(x64, w64, m, n, b),
      });
      assertEquals(report.inputs.length, 2);
      assert(report.inputs.every((r) => r.maxAbsGrad > 0), "gradients are not all zero");
    });
  }
}

Deno.test("gradcheck blockCircularConvolution, 1-D x and a kernel-only gradient", () => {
  manualSeed(7);
  const m = 3, n = 2, b = 4;
  const x = randn([n * b]), w = randn([m, n, b]);
  gradcheck(blockCircularConvolution, [x, w], { ref: ([x64, w64]) => refForward(x64, w64, m, n, b) });
  gradcheck(blockCircularConvolution, [x, w], {
    ref: ([x64, w64]) => refForward(x64, w64, m, n, b),
    wrt: [1],
  });
  gradcheck(blockCircularConvolution, [x, w], {
    ref: ([x64, w64]) => refForward(x64, w64, m, n, b),
    wrt: [0],
  });
});

/** float64 `x·(W + A)ᵀ + bias` with A from the index formula (bias may be empty: none). */
function refCirculantLinear(
  x: ArrayLike<number>,
  wt: ArrayLike<number>,
  bias: ArrayLike<number>,
  k: ArrayLike<number>,
  m: number,
  n: number,
  b: number,
): Float64Array {
  const inF = n * b, outF = m * b, rows = x.length / inF;
  const y = refForward(x, k, m, n, b);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = bias.length > 0 ? bias[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * wt[o * inF + i];
      y[r * outF + o] += acc;
    }
  }
  return y;
}

for (
  const [m, n, b, lead] of [[2, 3, 4, [5]], [3, 2, 3, [2, 4]], [1, 2, 5, [3]]] as [
    number,
    number,
    number,
    number[],
  ][]
) {
  Deno.test(`gradcheck circulantLinear m=${m} n=${n} b=${b} x ${JSON.stringify(lead)} with and without bias (float64 reference)`, () => {
    manualSeed(40 + b);
    const x = randn([...lead, n * b]),
      wt = randn([m * b, n * b]),
      bias = randn([m * b]),
      k = randn([m, n, b]);
    const report = gradcheck((x, wt, bias, k) => circulantLinear(x, wt, bias, k), [x, wt, bias, k], {
      ref: ([x64, w64, b64, k64]) => refCirculantLinear(x64, w64, b64, k64, m, n, b),
    });
    assertEquals(report.inputs.length, 4);
    assert(report.inputs.every((r) => r.maxAbsGrad > 0), "gradients are not all zero");
    gradcheck((x, wt, k) => circulantLinear(x, wt, null, k), [x, wt, k], {
      ref: ([x64, w64, k64]) => refCirculantLinear(x64, w64, [], k64, m, n, b),
    });
    // the kernel alone (the frozen-base training case) and the input alone
    gradcheck((x, wt, k) => circulantLinear(x, wt, null, k), [x, wt, k], {
      ref: ([x64, w64, k64]) => refCirculantLinear(x64, w64, [], k64, m, n, b),
      wrt: [2],
    });
    gradcheck((x, wt, k) => circulantLinear(x, wt, null, k), [x, wt, k], {
      ref: ([x64, w64, k64]) => refCirculantLinear(x64, w64, [], k64, m, n, b),
      wrt: [0],
    });
  });
}

Deno.test("circulantLinear: wrong weight shape, input width or bias throw one-line errors", () => {
  const k = randn([2, 3, 4]), x = randn([5, 12]);
  assertThrows(() => circulantLinear(x, randn([8, 13]), null, k), RangeError, "weight must be [8, 12]");
  assertThrows(() => circulantLinear(x, randn([8, 12]), randn([7]), k), RangeError, "bias must be [8]");
  assertThrows(
    () => circulantLinear(randn([5, 11]), randn([8, 12]), null, k),
    RangeError,
    "must end in in_features 12",
  );
});

Deno.test("gradcheck getCirculant (float64 reference from the index formula)", () => {
  manualSeed(11);
  for (const [m, n, b] of [[2, 3, 4], [1, 1, 5], [3, 2, 1]]) {
    const w = randn([m, n, b]);
    gradcheck(getCirculant, [w], {
      ref: ([w64]) => {
        const inF = n * b, a = new Float64Array(m * b * inF);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            for (let s = 0; s < b; s++) {
              for (let t = 0; t < b; t++) {
                a[(i * b + s) * inF + j * b + t] = w64[(i * n + j) * b + (t - s + b) % b];
              }
            }
          }
        }
        return a;
      },
    });
  }
});

// ---------------------------------------------------------------- worked example, PEFT's quirk

Deno.test("spec worked example through the op: y, true x_grad, w_grad", () => {
  const w = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]).requiresGrad_();
  const x = tensor([1, 2, 3, 4, 5, 6], [1, 6]).requiresGrad_();
  const y = blockCircularConvolution(x, w);
  assertClose(y.dataSync(), [91, 85, 85], 1e-6, "A·x");
  y.div(6).backward(tensor([1, 0, -1], [1, 3]));
  // spec §1.4: correct x_grad = [−1, −1, 2, −1, −1, 2]/6 (PEFT's buggy backward gives [−2, 1, 1, −2, 1, 1]/6)
  assertClose(x.grad!.dataSync(), [-1, -1, 2, -1, -1, 2].map((v) => v / 6), 1e-6, "x_grad");
  assertClose(w.grad!.dataSync(), [-2, 1, 1, -2, 1, 1].map((v) => v / 6), 1e-6, "w_grad");
  assertEquals(Array.from(getCirculant(w).dataSync()), [
    1,
    2,
    3,
    4,
    5,
    6,
    3,
    1,
    2,
    6,
    4,
    5,
    2,
    3,
    1,
    5,
    6,
    4,
  ]);
});

Deno.test("no graph without requiresGrad; gradients only for inputs that need them", () => {
  manualSeed(3);
  const x = randn([2, 8]), w = randn([2, 2, 4]);
  const y = blockCircularConvolution(x, w);
  assertEquals(y.requiresGrad, false);
  assertEquals(y.gradFn, null);
  w.requiresGrad_();
  const y2 = blockCircularConvolution(x, w);
  assertEquals(y2.gradFn?.name, "blockCircularConvolution");
  y2.sum().backward();
  assertEquals(x.grad, null);
  assertEquals(w.grad!.shape, [2, 2, 4]);
  const yn = noGrad(() => blockCircularConvolution(x, w));
  assertEquals(yn.gradFn, null);
});

// ---------------------------------------------------------------- validation

Deno.test("bad shapes throw RangeError naming the values", () => {
  const w = randn([2, 3, 4]);
  assertThrows(
    () => blockCircularConvolution(randn([5, 10]), w),
    RangeError,
    "block size b = 4 does not divide in_features = 10 (block sizes dividing 10: 1, 2, 5, 10)",
  );
  assertThrows(
    () => blockCircularConvolution(randn([5, 8]), w),
    RangeError,
    "in_features = 8 but the kernel expects n·b = 3·4 = 12",
  );
  assertThrows(
    () => blockCircularConvolution(randn([5, 12]), randn([6, 4])),
    RangeError,
    "kernel must have shape [m, n, b]",
  );
  assertThrows(() => blockCircularConvolution(tensor(1), w), RangeError, "at least 1 dimension");
  assertThrows(() => getCirculant(randn([12])), RangeError, "got [12]");
  assertThrows(() => getCirculant(randn([2, 0, 3])), RangeError, "must be >= 1");
});
