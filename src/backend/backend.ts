/**
 * What a backend must execute. Ops (src/ops/) compute shapes, check arguments and record autograd;
 * a backend only owns storage and runs kernels on it. Every kernel takes opaque {@link Storage}
 * handles plus plain-number metadata (sizes, strides, axes), and returns new storage (or writes into
 * an `out` storage it was given), so a WebGPU executor can implement each one as a shader over
 * GPU-resident buffers without any op changing.
 *
 * Conventions for every kernel:
 * - Storage holds float32 elements, row-major; a tensor's data is the whole storage (no offsets).
 *   Storage made by {@link Backend.fromBits} holds bfloat16/float16 instead; only the kernel inputs
 *   declared `half` accept it ({@link Backend.run} throws for any other).
 * - A kernel never mutates its inputs unless the argument is named `out`/`dst`.
 * - Sizes are element counts, never bytes.
 * - Integer index data (class targets, token ids) travels as `Int32Array`s owned by the caller.
 *
 * The wasm backend (src/backend/wasm/backend.ts) is the reference executor; it is selected by default.
 *
 * @module
 */

import type {
  AdamStepParams,
  BinaryOp,
  KernelAttrs,
  KernelInputs,
  KernelName,
  KernelOutputArgs,
  KernelOutputs,
  MatmulCausal,
  ReduceOp,
  RotaryParams,
  UnaryOp,
} from "./kernels.ts";

/**
 * Element types of tensors (PyTorch's `torch.float32`, `torch.bfloat16`, `torch.float16`). Every
 * kernel computes in float32; 16-bit storage exists for frozen weights (half the memory) and is read
 * only by the kernels that declare it (`KernelDecl.half`: the B operand of `matmul`, the table of
 * `indexSelectRows`), converted to float32 tile by tile inside them.
 */
export type DType = "float32" | "bfloat16" | "float16";
/** The 16-bit element types of {@link DType}. */
export type HalfDType = "bfloat16" | "float16";

/**
 * A backend-owned buffer of elements. Opaque to ops: only the backend that created it reads or
 * writes it. `size` is the element count; `dtype` the element type (absent: float32).
 */
export interface Storage {
  /** Number of elements. */
  readonly size: number;
  /** The backend that owns this storage. */
  readonly backend: Backend;
  /** Element type; absent or "float32" for float32 storage (16-bit only from {@link Backend.fromBits}). */
  readonly dtype?: DType;
}

export type {
  AdamStepParams,
  BinaryOp,
  MatmulAttrs,
  MatmulCausal,
  ReduceOp,
  RotaryParams,
  UnaryOp,
} from "./kernels.ts";

/**
 * Parameters of one (batched) matrix product `C[b] = op(A[b]) · op(B[b]) (+ bias)`, row-major.
 * `A[b]` is `[m, k]` (or `[k, m]` stored, when `transA`), `B[b]` is `[k, n]` (or `[n, k]` when
 * `transB`). Batch strides are element offsets between consecutive matrices (0 = the same matrix for
 * every batch entry). The result is contiguous `[batch, m, n]`. (The `matmul` kernel's attributes,
 * {@link MatmulAttrs}, are these with the defaults filled in.)
 */
export interface MatmulParams {
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Inner (contracted) size. */
  k: number;
  /** Number of matrices (default 1). */
  batch?: number;
  /** A is stored `[k, m]` and used transposed. */
  transA?: boolean;
  /** B is stored `[n, k]` and used transposed. */
  transB?: boolean;
  /** Elements between consecutive A matrices (default m*k; 0 broadcasts). */
  strideA?: number;
  /** Elements between consecutive B matrices (default k*n; 0 broadcasts). */
  strideB?: number;
  /** Causal structure of an attention product: a hint, see {@link MatmulCausal}. */
  causal?: MatmulCausal;
  /** Optional `[n]` vector added to every row of every C matrix (fused Linear bias). */
  bias?: Storage;
}

/**
 * What ops see of an executor: storage management plus {@link Backend.run}, which runs any kernel of
 * the kernel table (src/backend/kernels.ts) by name. The per-kernel methods below (`unary`,
 * `matmul`, …) are typed shorthands over `run`, implemented once for every executor by
 * {@link ExecutorBase} (src/backend/executor.ts); a new kernel needs no method here. Executors:
 * `WasmBackend` (src/backend/wasm/), `WebGPUBackend` (src/backend/webgpu/; `readSync` may block or
 * throw there, `read` is the portable way to get data back).
 */
export interface Backend {
  /** Short name the backend is registered under ("wasm", "webgpu"). */
  readonly name: string;

  // ---- kernels ----
  /**
   * Runs kernel `name` on `inputs` with `attrs`. Outputs not given in `outputs` are allocated with the
   * declared sizes; returns every output (optional ones null when not produced). Arguments are
   * trusted: ops validate them.
   */
  run<K extends KernelName>(
    name: K,
    inputs: KernelInputs<K>,
    attrs: KernelAttrs<K>,
    outputs?: KernelOutputArgs<K>,
  ): KernelOutputs<K>;
  /** True when this executor implements kernel `name` (always true for non-fused kernels). */
  supports(name: KernelName): boolean;

  // ---- storage ----
  /** New storage of `size` elements, all equal to `value` (0 by default). */
  full(size: number, value?: number): Storage;
  /**
   * Storage holding `data`. When `adopt` is true the backend may keep `data` itself as the storage
   * (the caller gives up ownership); otherwise it copies.
   */
  fromArray(data: Float32Array, adopt?: boolean): Storage;
  /**
   * The storage's contents, synchronously. The wasm backend returns the storage array itself (writes
   * through it change the tensor); a GPU backend may throw (use {@link Backend.read}).
   */
  readSync(s: Storage): Float32Array;
  /** A copy (or, on wasm, the storage array itself) of the contents, on every backend. */
  read(s: Storage): Promise<Float32Array>;
  /**
   * 16-bit storage holding the bit patterns `bits` (bfloat16 or float16, one element each); taken over
   * when `adopt`, else copied. Optional: an executor without it has no 16-bit storage (the wasm
   * executor has it; the WebGPU executor does not).
   */
  fromBits?(bits: Uint16Array, dtype: HalfDType, adopt?: boolean): Storage;
  /** The bit patterns of a 16-bit storage (on wasm the storage itself). Present with `fromBits`. */
  readBits?(s: Storage): Uint16Array;
  /** Releases the storage; using it afterwards throws. Idempotent. */
  dispose(s: Storage): void;
  /**
   * Drops the memory the executor keeps for reuse (the wasm executor's array pool); storages in use
   * stay. Optional: an executor without a cache of its own leaves it out.
   */
  emptyCache?(): void;
  /** True when {@link Backend.dispose} was called on `s`. */
  isDisposed(s: Storage): boolean;
  /** Sets every element of `s` to `value` in place. */
  fill(s: Storage, value: number): void;
  /** Copies all of `src` into `dst` (same size). */
  copy(src: Storage, dst: Storage): void;

  // ---- elementwise ----
  /** `out[i] = op(x[i])` for `size` elements; writes into `out` when given (may alias `x`). */
  unary(op: UnaryOp, x: Storage, out?: Storage): Storage;
  /**
   * Gradient of a unary op: `gx[i] = g[i] * op'(x[i])`, given the input `x`, the forward output `y`
   * (either may be used) and the upstream gradient `g`, all of the same size.
   */
  unaryGrad(op: UnaryOp, x: Storage, y: Storage, g: Storage): Storage;
  /**
   * Broadcasting binary op. `outShape` is the broadcast shape; `aStrides`/`bStrides` are element
   * strides that read each operand in `outShape` (0 along broadcast dimensions, as from
   * `broadcastStrides`). Writes into `out` when given (which may alias `a` when `a` has `outShape`).
   */
  binary(
    op: BinaryOp,
    a: Storage,
    b: Storage,
    outShape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
    out?: Storage,
  ): Storage;
  /**
   * Broadcasting select: `out = cond ≠ 0 ? a : b`, each operand read with its strides in `outShape`.
   */
  where(
    cond: Storage,
    a: Storage,
    b: Storage,
    outShape: readonly number[],
    condStrides: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): Storage;
  /**
   * `out[i] = op(x[i], s)` (or `op(s, x[i])` when `reverse`), writing into `out` when given (may alias
   * `x`).
   */
  binaryScalar(op: BinaryOp, x: Storage, s: number, reverse?: boolean, out?: Storage): Storage;
  /**
   * `out[i] = x[i] * alpha + y[i] * beta` for equal-size storages (optimizer updates, gradient
   * accumulation); writes into `out` when given (may alias `x` or `y`).
   */
  axpby(x: Storage, alpha: number, y: Storage, beta: number, out?: Storage): Storage;

  // ---- layout ----
  /**
   * Strided copy: for every index `i` of `shape`, `dst[dstOffset + i·dstStrides] =
   * src[srcOffset + i·srcStrides]`. Mutates `dst`. Implements transpose, permute, slice, expand,
   * concat and their gradients.
   */
  copyStrided(
    src: Storage,
    srcOffset: number,
    srcStrides: readonly number[],
    dst: Storage,
    dstOffset: number,
    dstStrides: readonly number[],
    shape: readonly number[],
  ): void;

  // ---- reductions ----
  /**
   * Reduces `x` (shape `shape`) over `axes` (sorted, distinct, non-empty allowed to be all axes).
   * The result has the kept-dims shape (reduced axes of size 1) in row-major order. `sum` accumulates
   * in float64. `max`/`min` propagate NaN; an empty reduction gives 0 for sum, -/+Infinity for max/min.
   */
  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage;

  // ---- linear algebra ----
  /** Batched matrix product, see {@link MatmulParams}. Result `[batch, m, n]`. */
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage;

  // ---- softmax ----
  /**
   * Softmax (or log-softmax when `log`) over the middle axis of `x` viewed as `[outer, dim, inner]`,
   * numerically stable (max subtracted).
   */
  softmax(x: Storage, outer: number, dim: number, inner: number, log: boolean): Storage;
  /**
   * Gradient of {@link Backend.softmax} given its output `y` and upstream `g` (same layout):
   * softmax: `y·(g − Σ g·y)`; log-softmax: `g − exp(y)·Σ g`.
   */
  softmaxGrad(y: Storage, g: Storage, outer: number, dim: number, inner: number, log: boolean): Storage;

  // ---- indexing ----
  /**
   * `out[r] = x[r, index[r]]` for `x` viewed as `[rows, cols]`; rows with `index[r] < 0` give 0.
   * Indices are trusted (ops validate them).
   */
  gatherLast(x: Storage, rows: number, cols: number, index: Int32Array): Storage;
  /**
   * Inverse of {@link Backend.gatherLast}: `[rows, cols]` zeros with `out[r, index[r]] = g[r]` (skip < 0).
   * With `into` (`[rows, cols]`), adds in place instead: `into[r, index[r]] += g[r]`, every other
   * element unchanged; returns `into`.
   */
  scatterLast(g: Storage, rows: number, cols: number, index: Int32Array, into?: Storage): Storage;
  /** Row gather: `out[i, :] = x[index[i], :]` for `x` viewed as `[numRows, rowSize]`. */
  indexSelectRows(x: Storage, rowSize: number, index: Int32Array): Storage;
  /** Row scatter-add: `[numRows, rowSize]` zeros, then `out[index[i], :] += g[i, :]`. */
  indexAddRows(g: Storage, numRows: number, rowSize: number, index: Int32Array): Storage;

  // ---- optional fused kernels ----
  // Ops and optimizers feature-detect these (`if (b.supports("rmsNorm")) ...`) and fall back to
  // composing the kernels above when a backend lacks them; results agree with the composed path to
  // float32 rounding. Calling one that is not supported throws.

  /**
   * One Adam / AdamW update in place: with `g' = maximize ? −g : g`, decoupled decay
   * `p ← p·(1 − lr·λ)` (else `g' ← g' + λ·p`), `m ← β1·m + (1−β1)·g'`, `v ← β2·v + (1−β2)·g'²`,
   * AMSGrad `vmax ← max(vmax, v)` (used in place of v when `vmax` is given),
   * `p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + eps)`. `p`, `m`, `v`, `vmax` are mutated; all have
   * the size of `g`. `params`: learning rate `lr`, `beta1`, `beta2`, `eps`, `weightDecay` λ (0 for
   * none), `step` t of this update (1 for the first), `decoupled` (AdamW; false = Adam's L2 term),
   * `maximize` (PyTorch's single-tensor `torch.optim.Adam` / `AdamW` algorithm).
   */
  adamStep(
    p: Storage,
    g: Storage,
    m: Storage,
    v: Storage,
    vmax: Storage | null,
    params: AdamStepParams,
  ): void;
  /**
   * RMSNorm over the last axis of x viewed as `[rows, d]`: `rstd = 1/√(mean(x², -1) + eps)` `[rows]`
   * and `y = x·rstd·weight` `[rows, d]` (no scale when `weight` is null).
   */
  rmsNorm(
    x: Storage,
    weight: Storage | null,
    rows: number,
    d: number,
    eps: number,
  ): { y: Storage; rstd: Storage };
  /**
   * Gradient of {@link Backend.rmsNorm} given upstream `g` `[rows, d]`, the input `x` and the saved
   * `rstd`: with `n = x·rstd`, `gn = g·weight`: `gx = rstd·(gn − n·mean(gn·n, -1))`; `gw = Σ_rows g·n`
   * `[d]` when `weight` is given and `needWeightGrad` (else null).
   */
  rmsNormGrad(
    g: Storage,
    x: Storage,
    weight: Storage | null,
    rstd: Storage,
    rows: number,
    d: number,
    needWeightGrad: boolean,
  ): { gx: Storage; gw: Storage | null };
  /** SwiGLU `y = silu(gate)·up` elementwise (equal sizes). */
  swiglu(gate: Storage, up: Storage): Storage;
  /** Gradient of {@link Backend.swiglu}: `gGate = g·up·silu'(gate)`, `gUp = g·silu(gate)`. */
  swigluGrad(gate: Storage, up: Storage, g: Storage): { gGate: Storage; gUp: Storage };
  /**
   * Rotary embedding with cos / signed-sin tables (the sine table's first half holds −sin so that
   * `rotate_half(x)·sin == swapHalves(x)·sinSigned`): forward `y = x·cos + swapHalves(x)·sin`; with
   * `inverse` the transposed rotation `g·cos + swapHalves(g·sin)` (the gradient). Layout `p`: x is
   * `[batch, heads, seq, dim]` ("BHTD") or `[batch, seq, heads, dim]` ("BTHD"), dim even; the tables
   * are `[seq, dim]`, or `[batch, seq, dim]` when `perBatch`.
   */
  rotaryEmb(
    x: Storage,
    cos: Storage,
    sin: Storage,
    p: RotaryParams,
    inverse: boolean,
  ): Storage;
}

/** What a GPU-style backend reports about its device before it is started ({@link BackendProvider.probe}). */
export interface DeviceProbe {
  /** False when there is no device (`reason` says why). */
  available: boolean;
  /** The device's one-line description (adapter name), or "" when unavailable. */
  device: string;
  /** True for a software/fallback adapter (llvmpipe, SwiftShader, WARP): slower than the CPU backend. */
  fallback: boolean;
  /** Why it is unavailable, or "" when available. */
  reason: string;
}

/**
 * How a backend is created, started and described; registered with {@link registerBackend}. Only
 * `create` is required (the CPU backend); an accelerator also says how to look for its device
 * without starting it (`probe`, used by `setBackend("auto")`), how to start it asynchronously
 * (`start`, needed where threads cannot block, i.e. browsers), and what its device is (`device`).
 */
export interface BackendProvider {
  /** The backend, created on first use; may block while a device starts; throws when it cannot start. */
  create(): Backend;
  /** Starts the backend (if needed) and resolves to it; rejects with the reason when it cannot start. */
  start?(options?: Record<string, unknown>): Promise<Backend>;
  /** Looks for a device without starting the backend. */
  probe?(options?: Record<string, unknown>): Promise<DeviceProbe>;
  /** One line naming the device that runs `b`, e.g. "WebAssembly SIMD, CPU" or the adapter's name. */
  device?(b: Backend): string;
}

const registry = new Map<string, BackendProvider>();
const instances = new Map<string, Backend>();
let current: Backend | null = null;

/**
 * Makes a backend available under `name` (to `setBackend`, `tensor.to(name)`, `module.to(name)`).
 * `provider` is a factory run on first use, or a {@link BackendProvider}. Registering a name again
 * replaces the provider (an instance already created stays).
 */
export function registerBackend(name: string, provider: (() => Backend) | BackendProvider): void {
  registry.set(name, typeof provider === "function" ? { create: provider } : provider);
}

/** Names of the registered backends, in registration order. */
export function registeredBackends(): string[] {
  return [...registry.keys()];
}

/**
 * The provider registered under `name`.
 *
 * @throws {RangeError} naming the available backends when `name` is unknown.
 */
export function backendProvider(name: string): BackendProvider {
  const f = registry.get(name);
  if (!f) {
    throw new RangeError(
      `unknown backend ${JSON.stringify(name)}; available: ${[...registry.keys()].join(", ")}`,
    );
  }
  return f;
}

/**
 * The backend registered under `name`, created (synchronously) on first use. Does not change the
 * current backend.
 *
 * @throws {RangeError} naming the available backends when `name` is unknown; whatever the
 *   provider's `create` throws when the backend cannot start.
 */
export function backendNamed(name: string): Backend {
  let b = instances.get(name);
  if (!b) {
    b = backendProvider(name).create();
    instances.set(name, b);
  }
  return b;
}

/**
 * Makes `b` the backend new tensors are created on (existing tensors stay where they are). The
 * public entry point is `await setBackend(name)` (src/tensor/select.ts), which also probes and checks
 * devices; this is the switch it ends with.
 */
export function setCurrentBackend(b: Backend): Backend {
  instances.set(b.name, b);
  current = b;
  return b;
}

/**
 * Releases the memory that the started backends keep for reuse, like PyTorch's
 * `torch.cuda.empty_cache()`: the wasm backend's array pool of disposed storages (arrays of a
 * training step kept so the next step does not pay page faults on fresh memory; see
 * `wasmStoragePool` in src/backend/wasm/backend.ts). Tensors in use are untouched; the dropped arrays
 * are returned to the system by the next garbage collection. Call it after training, before a phase
 * that needs the memory for something else. Safe at any time; the next allocations are fresh again.
 *
 * @example Free the pool after a tidy scope
 * ```ts
 * import { randn, tidy, utils } from "@c3a/c3a";
 * tidy(() => randn([512, 512]).matmul(randn([512, 512])));
 * utils.emptyCache();
 * ```
 */
export function emptyCache(): void {
  for (const b of instances.values()) b.emptyCache?.();
}

/** The backend new tensors are created on (the wasm backend unless `setBackend` chose another). */
export function getBackend(): Backend {
  if (current) return current;
  return setCurrentBackend(backendNamed("wasm"));
}
