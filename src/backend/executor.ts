/**
 * The base of every executor: implements {@link Backend.run} once (output allocation from the kernel
 * table's declared sizes, then one call of the executor's implementation) and every per-kernel
 * shorthand of {@link Backend} over it.
 *
 * Adding an executor: subclass {@link ExecutorBase} with a storage handle type `H` (what its kernel
 * implementations read and write: a wasm-side array, a GPU buffer id, …), implement the storage
 * methods (`full`, `fromArray`, `readSync`, `read`, `dispose`, `isDisposed`, `fill`, `copy`),
 * {@link ExecutorBase.handle} (storage → handle, rejecting foreign or disposed storage),
 * {@link ExecutorBase.output} (a fresh storage) and {@link ExecutorBase.execute} (usually a lookup
 * in a {@link KernelTable} of implementations), register it in the composition root with
 * `registerBackend(name, provider)` (src/backend/executors.ts), and add it to the conformance suite's executor list
 * (tests/conformance/executors.ts). Nothing above src/backend/ changes.
 *
 * @module
 */

import type { Backend, MatmulParams, Storage } from "./backend.ts";
import {
  type AdamStepParams,
  type BinaryOp,
  type FusedKernel,
  type KernelAttrs,
  type KernelDecl,
  type KernelImpl,
  type KernelInputs,
  type KernelName,
  type KernelOutputArgs,
  type KernelOutputs,
  KERNELS,
  type KernelSig,
  type KernelTable,
  type ReduceOp,
  type RotaryParams,
  type UnaryOp,
} from "./kernels.ts";

type AnyRecord = Record<string, unknown>;

/** The one-line error for a 16-bit storage in a kernel input that reads float32 only. */
function halfOperandError(name: string, input: string, dtype: string, attrs: unknown): TypeError {
  const op = (attrs as AnyRecord | null)?.op;
  const what = typeof op === "string" ? `${name} "${op}"` : name;
  return new TypeError(
    `${what}: input "${input}" is a ${dtype} tensor, and only matmul/linear (the weight operand) and ` +
      `embedding read 16-bit tensors; convert it with .float() first`,
  );
}

/** See the module doc. `H` is the executor's storage handle type. */
export abstract class ExecutorBase<H> implements Backend {
  /** The executor's name ("wasm", "webgpu", …). */
  abstract readonly name: string;

  // ---- what a subclass provides ----
  /** The handle of storage `s` (throws for storage of another executor or disposed storage). */
  protected abstract handle(s: Storage): H;
  /** A fresh storage of `size` elements (zero-filled when `zero`, otherwise contents unspecified). */
  protected abstract output(size: number, zero: boolean): Storage;
  /** Runs the implementation of `name` on handles (inputs and outputs by declared name). */
  protected abstract execute<K extends KernelName>(
    name: K,
    inputs: Record<string, H | null>,
    outputs: Record<string, H | null>,
    attrs: KernelAttrs<K>,
  ): void;
  /** True when this executor implements kernel `name` (always for non-fused kernels). */
  abstract supports(name: KernelName): boolean;
  /** New storage of `size` elements, all equal to `value` (0 by default). */
  abstract full(size: number, value?: number): Storage;
  /** Storage holding `data` (taken over when `adopt`, else copied). */
  abstract fromArray(data: Float32Array, adopt?: boolean): Storage;
  /** The storage's contents, synchronously (see {@link Backend.readSync}). */
  abstract readSync(s: Storage): Float32Array;
  /** The storage's contents. */
  abstract read(s: Storage): Promise<Float32Array>;
  /** Releases the storage (idempotent). */
  abstract dispose(s: Storage): void;
  /** True after {@link ExecutorBase.dispose}. */
  abstract isDisposed(s: Storage): boolean;
  /** Sets every element to `value`. */
  abstract fill(s: Storage, value: number): void;
  /** Copies all of `src` into `dst` (same size). */
  abstract copy(src: Storage, dst: Storage): void;

  // ---- the one generic entry ----
  /** Runs kernel `name` (see {@link Backend.run}): allocates the outputs not given, then executes. */
  run<K extends KernelName>(
    name: K,
    inputs: KernelInputs<K>,
    attrs: KernelAttrs<K>,
    outputs?: KernelOutputArgs<K>,
  ): KernelOutputs<K> {
    const d = KERNELS[name] as KernelDecl<KernelSig<string, string, KernelAttrs<K>, string, boolean>>;
    const ins = inputs as AnyRecord, given = (outputs ?? {}) as AnyRecord;
    if (d.fused && !this.supports(name)) {
      throw new Error(`kernel "${name}" is not implemented by the ${this.name} executor`);
    }
    const hin: Record<string, H | null> = {};
    const sizesIn: Record<string, number> = {};
    for (const k of d.inputs) {
      const s = ins[k] as Storage | null | undefined;
      if (s != null && s.dtype !== undefined && s.dtype !== "float32" && !d.half?.includes(k)) {
        throw halfOperandError(name, k, s.dtype, attrs);
      }
      hin[k] = s == null ? null : this.handle(s);
      sizesIn[k] = s == null ? 0 : s.size;
    }
    let sizes: Record<string, number | null> | null = null;
    const outs: Record<string, Storage | null> = {};
    const hout: Record<string, H | null> = {};
    for (const k of d.outputs) {
      let s = given[k] as Storage | null | undefined;
      if (s === undefined) {
        if (d.sizes === undefined) throw new TypeError(`kernel "${name}": output "${k}" must be passed`);
        sizes ??= d.sizes(attrs, sizesIn);
        const n = sizes[k];
        s = n === null ? null : this.output(n, d.zeroed !== undefined && d.zeroed.includes(k));
      }
      outs[k] = s ?? null;
      hout[k] = s == null ? null : this.handle(s);
    }
    this.execute(name, hin, hout, attrs);
    return outs as KernelOutputs<K>;
  }

  // ---- typed shorthands over run() (see Backend) ----
  /** Kernel `unary` (see {@link Backend}). */
  unary(op: UnaryOp, x: Storage, out?: Storage): Storage {
    return this.run("unary", { x }, { op }, out ? { y: out } : undefined).y;
  }
  /** Kernel `unaryGrad` (see {@link Backend}). */
  unaryGrad(op: UnaryOp, x: Storage, y: Storage, g: Storage): Storage {
    return this.run("unaryGrad", { x, y, g }, { op }).gx;
  }
  /** Kernel `binary` (see {@link Backend}). */
  binary(
    op: BinaryOp,
    a: Storage,
    b: Storage,
    shape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
    out?: Storage,
  ): Storage {
    return this.run("binary", { a, b }, { op, shape, aStrides, bStrides }, out ? { y: out } : undefined).y;
  }
  /** Kernel `where` (see {@link Backend}). */
  where(
    cond: Storage,
    a: Storage,
    b: Storage,
    shape: readonly number[],
    condStrides: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): Storage {
    return this.run("where", { cond, a, b }, { shape, condStrides, aStrides, bStrides }).y;
  }
  /** Kernel `binaryScalar` (see {@link Backend}). */
  binaryScalar(op: BinaryOp, x: Storage, s: number, reverse = false, out?: Storage): Storage {
    return this.run("binaryScalar", { x }, { op, s, reverse }, out ? { y: out } : undefined).y;
  }
  /** Kernel `axpby` (see {@link Backend}). */
  axpby(x: Storage, alpha: number, y: Storage, beta: number, out?: Storage): Storage {
    return this.run("axpby", { x, z: y }, { alpha, beta }, out ? { y: out } : undefined).y;
  }
  /** Kernel `copyStrided` (see {@link Backend}). */
  copyStrided(
    src: Storage,
    srcOffset: number,
    srcStrides: readonly number[],
    dst: Storage,
    dstOffset: number,
    dstStrides: readonly number[],
    shape: readonly number[],
  ): void {
    this.run("copyStrided", { src }, { srcOffset, srcStrides, dstOffset, dstStrides, shape }, { dst });
  }
  /** Kernel `reduce` (see {@link Backend}). */
  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    return this.run("reduce", { x }, { op, shape, axes }).y;
  }
  /** Kernel `matmul` (see {@link Backend}). */
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    const { m, n, k } = p;
    return this.run("matmul", { a, b, bias: p.bias ?? null }, {
      m,
      n,
      k,
      batch: p.batch ?? 1,
      transA: !!p.transA,
      transB: !!p.transB,
      strideA: p.strideA ?? m * k,
      strideB: p.strideB ?? k * n,
      causal: p.causal ?? null,
    }).c;
  }
  /** Kernel `softmax` (see {@link Backend}). */
  softmax(x: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    return this.run("softmax", { x }, { outer, dim, inner, log }).y;
  }
  /** Kernel `softmaxGrad` (see {@link Backend}). */
  softmaxGrad(y: Storage, g: Storage, outer: number, dim: number, inner: number, log: boolean): Storage {
    return this.run("softmaxGrad", { y, g }, { outer, dim, inner, log }).gx;
  }
  /** Kernel `gatherLast` (see {@link Backend}). */
  gatherLast(x: Storage, rows: number, cols: number, index: Int32Array): Storage {
    return this.run("gatherLast", { x }, { rows, cols, index }).y;
  }
  /** Kernel `scatterLast` (see {@link Backend}). */
  scatterLast(g: Storage, rows: number, cols: number, index: Int32Array, into?: Storage): Storage {
    if (into === undefined) return this.run("scatterLast", { g }, { rows, cols, index }).y;
    return this.run("scatterLast", { g }, { rows, cols, index, accumulate: true }, { y: into }).y;
  }
  /** Kernel `indexSelectRows` (see {@link Backend}). */
  indexSelectRows(x: Storage, rowSize: number, index: Int32Array): Storage {
    return this.run("indexSelectRows", { x }, { rowSize, index }).y;
  }
  /** Kernel `indexAddRows` (see {@link Backend}). */
  indexAddRows(g: Storage, numRows: number, rowSize: number, index: Int32Array): Storage {
    return this.run("indexAddRows", { g }, { numRows, rowSize, index }).y;
  }
  /** Kernel `adamStep` (see {@link Backend}). */
  adamStep(
    p: Storage,
    g: Storage,
    m: Storage,
    v: Storage,
    vmax: Storage | null,
    params: AdamStepParams,
  ): void {
    this.run("adamStep", { g }, params, { p, m, v, vmax });
  }
  /** Kernel `rmsNorm` (see {@link Backend}). */
  rmsNorm(
    x: Storage,
    weight: Storage | null,
    rows: number,
    d: number,
    eps: number,
  ): { y: Storage; rstd: Storage } {
    return this.run("rmsNorm", { x, weight }, { rows, d, eps });
  }
  /** Kernel `rmsNormGrad` (see {@link Backend}). */
  rmsNormGrad(
    g: Storage,
    x: Storage,
    weight: Storage | null,
    rstd: Storage,
    rows: number,
    d: number,
    needWeightGrad: boolean,
  ): { gx: Storage; gw: Storage | null } {
    return this.run("rmsNormGrad", { g, x, weight, rstd }, {
      rows,
      d,
      needWeightGrad: !!weight && needWeightGrad,
    });
  }
  /** Kernel `swiglu` (see {@link Backend}). */
  swiglu(gate: Storage, up: Storage): Storage {
    return this.run("swiglu", { gate, up }, {}).y;
  }
  /** Kernel `swigluGrad` (see {@link Backend}). */
  swigluGrad(gate: Storage, up: Storage, g: Storage): { gGate: Storage; gUp: Storage } {
    return this.run("swigluGrad", { gate, up, g }, {});
  }
  /** Kernel `rotaryEmb` (see {@link Backend}). */
  rotaryEmb(x: Storage, cos: Storage, sin: Storage, p: RotaryParams, inverse: boolean): Storage {
    return this.run("rotaryEmb", { x, cos, sin }, { ...p, inverse }).y;
  }
}

/**
 * An executor whose kernels are a {@link KernelTable} of implementations (the usual case: the wasm
 * executor; a variant is a copy of a table with entries replaced or removed).
 */
export abstract class TableExecutor<H> extends ExecutorBase<H> {
  /** The implementations (required kernels, any subset of the fused ones). */
  protected readonly table: KernelTable<H>;
  /** Uses `table`; `without` drops fused kernels (tests run the composed fallbacks this way). */
  constructor(table: KernelTable<H>, without: readonly FusedKernel[] = []) {
    super();
    const t = { ...table } as Record<string, unknown>;
    for (const k of without) delete t[k];
    this.table = t as unknown as KernelTable<H>;
  }
  /** True when the table has an implementation of `name`. */
  supports(name: KernelName): boolean {
    return (this.table as Record<string, unknown>)[name] !== undefined;
  }
  /**
   * @internal Test hook: hides fused kernels of this instance (its ops then take the composed
   * path) until the returned function is called.
   */
  _hideKernels(names: readonly FusedKernel[]): () => void {
    const t = this.table as Record<string, unknown>;
    const saved = names.map((k) => [k, t[k]] as const);
    for (const k of names) delete t[k];
    return () => {
      for (const [k, f] of saved) t[k] = f;
    };
  }
  /** Calls the table's implementation of `name`. */
  protected execute<K extends KernelName>(
    name: K,
    inputs: Record<string, H | null>,
    outputs: Record<string, H | null>,
    attrs: KernelAttrs<K>,
  ): void {
    const f = (this.table as Record<string, unknown>)[name] as KernelImpl<K, H>;
    // deno-lint-ignore no-explicit-any
    (f as any)(inputs, outputs, attrs);
  }
}
