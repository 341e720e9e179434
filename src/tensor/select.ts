/**
 * The one way to choose a backend: `await setBackend("wasm" | "webgpu" | "auto")`, and
 * {@link describeBackend} to ask which one is active and why.
 *
 * Policy of "auto" (the default, or the environment variable `C3A_BACKEND`): an accelerator (WebGPU)
 * is used only when its adapter is a real one (not a software/fallback adapter such as llvmpipe or
 * SwiftShader, which run slower than the wasm backend on the same CPU), its device starts, and it
 * passes a known-answer check; otherwise wasm, with the reason. An explicit `setBackend("webgpu")`
 * uses a fallback adapter too, but fails (with the numbers) when the known-answer check fails.
 *
 * The known-answer check runs a matmul and a C3A forward (`blockCircularConvolution`) on the
 * candidate and on wasm and compares them: max |gpu − wasm| must be at most 1e-4 · max |wasm|
 * (float32 with different summation orders stays far below; a wrong GPU does not). Some released
 * GPU runtimes returned wrong numbers without an error; this catches that before training on them.
 *
 * Tensors made before a switch stay where they are; move them with `tensor.to(name)` /
 * `module.to(name)` (src/tensor/placement.ts).
 *
 * @module
 */

import {
  type Backend,
  backendNamed,
  backendProvider,
  getBackend,
  registeredBackends,
  setCurrentBackend,
} from "../backend/backend.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { warn } from "../c3a/errors.ts";
import { blockCircularConvolution } from "../ops/circulant.ts";
import { matmul } from "../ops/matmul.ts";
import { Tensor } from "./tensor.ts";

/** What {@link setBackend} chose, and why. */
export interface BackendChoice {
  /** The backend now current: "wasm" or "webgpu". */
  name: string;
  /** What runs it: "WebAssembly SIMD, CPU", or the GPU adapter's name. */
  device: string;
  /** Why this backend, in one line (e.g. why "auto" did not use WebGPU). */
  reason: string;
}

/** Options of {@link setBackend}. */
export interface SetBackendOptions {
  /**
   * Adapter probe for WebGPU (default `navigator.gpu.requestAdapter()`); resolving to null means no
   * adapter. For pages that pick an adapter themselves, and for tests.
   */
  requestAdapter?: () => Promise<GPUAdapter | null>;
}

/** Relative tolerance of the known-answer check (times max |reference|). */
export const KNOWN_ANSWER_TOLERANCE = 1e-4;

/** Result of {@link knownAnswerCheck}. */
export interface KnownAnswerResult {
  /** True when every output is within the tolerance. */
  ok: boolean;
  /** The op with the largest error relative to its tolerance ("matmul" or "blockCircularConvolution"). */
  op: string;
  /** max |candidate − wasm| of that op. */
  maxAbsError: number;
  /** Its allowed error: {@link KNOWN_ANSWER_TOLERANCE} · max |wasm|. */
  tolerance: number;
}

let choice: { backend: Backend; choice: BackendChoice } | null = null;

/** Deterministic values in [-1, 1) (a 32-bit LCG), so the check needs no RNG state. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Runs the known-answer check on backend `b` against wasm: `[32, 64] · [64, 48]` matmul and a C3A
 * forward `x [8, 128]`, kernel `[2, 4, 32]` (b = 32), fixed inputs. Reads results with
 * `await tensor.data()`, so it works on every backend and device mode.
 *
 * @example
 * ```ts
 * import { backendNamed } from "../backend/backend.ts";
 * const r = await knownAnswerCheck(backendNamed("wasm")); // wasm against itself: error 0
 * r.ok; // true
 * ```
 */
export async function knownAnswerCheck(b: Backend): Promise<KnownAnswerResult> {
  const wasm = backendNamed("wasm");
  const cases: Array<[string, (on: Backend) => Tensor]> = [
    ["matmul", (on) => matmul(on2(on, values(32 * 64, 1), [32, 64]), on2(on, values(64 * 48, 2), [64, 48]))],
    [
      "blockCircularConvolution",
      (on) =>
        blockCircularConvolution(on2(on, values(8 * 128, 3), [8, 128]), on2(on, values(256, 4), [2, 4, 32])),
    ],
  ];
  let worst: KnownAnswerResult = { ok: true, op: "", maxAbsError: 0, tolerance: 0 };
  for (const [op, run] of cases) {
    const ref = noGrad(() => run(wasm));
    const got = noGrad(() => run(b));
    const r = await ref.data(), g = await got.data();
    let maxRef = 0, err = 0;
    for (let i = 0; i < r.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(r[i]));
      const e = Math.abs(g[i] - r[i]);
      err = Number.isNaN(e) ? Infinity : Math.max(err, e);
    }
    ref.dispose();
    got.dispose();
    const tol = KNOWN_ANSWER_TOLERANCE * maxRef;
    const res = { ok: err <= tol, op, maxAbsError: err, tolerance: tol };
    if (worst.op === "" || err / tol > worst.maxAbsError / worst.tolerance) worst = res;
  }
  return worst;
}

function on2(b: Backend, data: Float32Array, shape: number[]): Tensor {
  return Tensor.fromStorage(b.fromArray(data, true), shape);
}

function envBackend(): string | undefined {
  try {
    const D = (globalThis as unknown as {
      Deno?: {
        env: { get(k: string): string | undefined };
        permissions?: { querySync?(d: { name: "env"; variable: string }): { state: string } };
      };
    }).Deno;
    if (!D) return undefined;
    const st = D.permissions?.querySync?.({ name: "env", variable: "C3A_BACKEND" });
    if (st && st.state !== "granted") return undefined;
    const v = D.env.get("C3A_BACKEND");
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

function deviceOf(b: Backend): string {
  const p = backendProvider(b.name);
  return p.device ? p.device(b) : b.name;
}

function commit(b: Backend, reason: string): BackendChoice {
  setCurrentBackend(b);
  const c = { name: b.name, device: deviceOf(b), reason };
  choice = { backend: b, choice: c };
  return c;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(3) : String(x);
}

function mismatch(name: string, r: KnownAnswerResult): string {
  return `${name} failed the known-answer check: ${r.op} differs from wasm by max abs error ${
    fmt(r.maxAbsError)
  } > tolerance ${fmt(r.tolerance)} (${KNOWN_ANSWER_TOLERANCE} · max |wasm|)`;
}

/**
 * Chooses the backend new tensors are created on and returns what it chose and why. The one entry
 * point for backend selection (tensors already made stay where they are: `tensor.to(name)` /
 * `module.to(name)` move them).
 *
 * - `"wasm"`: the WebAssembly SIMD CPU backend (also what is used when `setBackend` is never called).
 * - `"webgpu"`: starts WebGPU and runs the known-answer check; uses a software adapter too.
 * - `"auto"`: WebGPU when a real (not fallback/software) adapter starts and passes the known-answer
 *   check, else wasm; a failed check also emits one warning (through `setWarningHandler`'s handler).
 * - no argument: the environment variable `C3A_BACKEND` (when readable) or else `"auto"`.
 *
 * @param name "wasm", "webgpu", "auto" (or another registered backend's name)
 * @returns the chosen backend's name, its device and the reason (also {@link describeBackend})
 * @throws {RangeError} for an unknown name (the message lists the allowed ones)
 * @throws {Error} for an explicit "webgpu" that cannot start, or whose known-answer check fails (the
 *   message holds the max abs error and the tolerance)
 * @example
 * ```ts
 * const chosen = await setBackend("wasm");
 * chosen.name; // "wasm"
 * describeBackend(); // "wasm (WebAssembly SIMD, CPU): asked for"
 * ```
 */
export async function setBackend(
  name?: "wasm" | "webgpu" | "auto" | (string & Record<never, never>),
  options: SetBackendOptions = {},
): Promise<BackendChoice> {
  const fromEnv = name === undefined ? envBackend() : undefined;
  const want = name ?? fromEnv ?? "auto";
  const via = fromEnv !== undefined ? ` (C3A_BACKEND=${fromEnv})` : "";
  const names = registeredBackends();
  if (want !== "auto" && !names.includes(want)) {
    throw new RangeError(
      `setBackend: unknown backend ${JSON.stringify(want)}${via}; allowed: ${
        [...names, "auto"].map((n) => `"${n}"`).join(", ")
      }`,
    );
  }
  const opts = options as Record<string, unknown>;
  if (want !== "auto") {
    const p = backendProvider(want);
    let b: Backend;
    try {
      const probe = p.probe ? await p.probe(opts) : null;
      if (probe !== null && !probe.available) throw new Error(`${want} is unavailable: ${probe.reason}`);
      b = p.start ? await p.start(opts) : backendNamed(want);
    } catch (e) {
      throw new Error(`setBackend("${want}")${via}: ${e instanceof Error ? e.message : e}`);
    }
    if (want === "wasm") return commit(b, `asked for${via}`);
    const r = await knownAnswerCheck(b);
    if (!r.ok) throw new Error(`setBackend("${want}")${via}: ${mismatch(want, r)}`);
    return commit(b, `asked for${via}; passed the known-answer check`);
  }
  // auto: the first accelerator that is real, starts and computes right; else wasm
  const why: string[] = [];
  for (const n of names) {
    const p = backendProvider(n);
    if (n === "wasm" || !p.probe) continue;
    const probe = await p.probe(opts);
    if (!probe.available) {
      why.push(`${n}: ${probe.reason}`);
      continue;
    }
    if (probe.fallback) {
      why.push(
        `${n} adapter "${probe.device}" is a software/fallback adapter, slower than wasm (setBackend("${n}") uses it anyway)`,
      );
      continue;
    }
    let b: Backend;
    try {
      b = p.start ? await p.start(opts) : backendNamed(n);
    } catch (e) {
      why.push(`${n} did not start: ${e instanceof Error ? e.message : e}`);
      continue;
    }
    const r = await knownAnswerCheck(b);
    if (!r.ok) {
      const msg = `${mismatch(`${n} (${probe.device})`, r)}; using wasm`;
      warn(msg);
      why.push(msg);
      continue;
    }
    return commit(b, `auto${via}: ${probe.device} passed the known-answer check`);
  }
  return commit(
    backendNamed("wasm"),
    `auto${via}: ${why.length ? why.join("; ") : "no accelerator registered"}`,
  );
}

/**
 * One line naming the current backend, its device and why it was chosen, for logs and training
 * headers: e.g. `"wasm (WebAssembly SIMD, CPU): auto: webgpu adapter "llvmpipe (LLVM 15.0.6, 256
 * bits)" is a software/fallback adapter, slower than wasm (setBackend("webgpu") uses it anyway)"`.
 *
 * @example
 * ```ts
 * describeBackend(); // e.g. "wasm (WebAssembly SIMD, CPU): the default (setBackend was not called)"
 * ```
 */
export function describeBackend(): string {
  const b = getBackend();
  const c = choice !== null && choice.backend === b
    ? choice.choice
    : { name: b.name, device: deviceOf(b), reason: "the default (setBackend was not called)" };
  return `${c.name} (${c.device}): ${c.reason}`;
}
