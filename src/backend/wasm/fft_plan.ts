/**
 * Uploads FFT plans of the shared planner (src/fft/plan.ts, with the wasm kernels' capabilities
 * {@link WASM_FFT_CAPABILITIES}: radix 8 included) into wasm memory in the descriptor layout the
 * kernels of `wasm/fft.ts` read, once per length n (persistent, never freed), and owns the shared FFT
 * workspace. {@link privateFftPlanPtr} uploads the same plans into the memory of the calling thread's
 * unshared kernel instance (./private_kernels.ts).
 *
 * Descriptor layout (32-bit words, byte offsets):
 * - real plan: 0 n, 4 m (complex length), 8 even (1/0), 12 split twiddles ptr (w^k/2, k = 0..m, f32
 *   pairs), 16 complex plan ptr, 20 scale 1/n (f32);
 * - Stockham plan: 0 kind = 0, 4 length, 8 pass count, then per pass (16 bytes from 12): radix, l,
 *   s, twiddle ptr; passes in the plan's order (radix 8 first for powers of two >= 64);
 * - Bluestein plan: 0 kind = 1, 4 length, 8 M, 12 chirp ptr, 16 filter ptr, 20 Stockham plan ptr.
 *
 * @module
 */

import { allocPersistent, free, malloc, memory } from "./memory.ts";
import {
  type ComplexPlan,
  type FftCapabilities,
  type FftPlan,
  getFftPlan,
  type StockhamPlan,
} from "../../fft/plan.ts";
import type { PrivateKernels } from "./private_kernels.ts";

/** Radices of the wasm FFT kernels (wasm/fft.ts): 2, 3, 4, 5 and 8. */
export const WASM_FFT_CAPABILITIES: FftCapabilities = { radices: [2, 3, 4, 5, 8] };

/** A real FFT plan resident in wasm memory. */
export interface WasmFftPlan {
  /** The plan it was made from. */
  readonly plan: FftPlan;
  /** Byte offset of the real plan descriptor. */
  readonly ptr: number;
  /** Elements (32 bytes each: 4 lanes of a complex value) of each of the two work buffers. */
  readonly bufElems: number;
  /** Workspace bytes the kernels need for this plan. */
  readonly workBytes: number;
}

/** Where plans are uploaded: a memory and its never-freeing allocation function. */
interface Arena {
  readonly memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  /** Complex plan descriptors by length (shared by the real plans of this arena). */
  readonly complex: Map<number, number>;
}

const mainArena: Arena = { memory, alloc: allocPersistent, complex: new Map() };

function upload(a: Arena, data: Float32Array): number {
  const p = a.alloc(Math.max(4, data.byteLength));
  new Float32Array(a.memory.buffer, p, data.length).set(data);
  return p;
}

function writeWords(a: Arena, words: number[]): number {
  const p = a.alloc(words.length * 4);
  new Int32Array(a.memory.buffer, p, words.length).set(words);
  return p;
}

function uploadStockham(a: Arena, sp: StockhamPlan): number {
  const words = [0, sp.length, sp.passes.length];
  for (const pass of sp.passes) words.push(pass.radix, pass.l, pass.s, upload(a, pass.twiddles));
  return writeWords(a, words);
}

function uploadComplex(a: Arena, cp: ComplexPlan): number {
  let p = a.complex.get(cp.length);
  if (p !== undefined) return p;
  if (cp.kind === "stockham") {
    p = uploadStockham(a, cp);
  } else {
    const chirp = upload(a, cp.chirp);
    const filter = upload(a, cp.filter);
    const sub = uploadStockham(a, cp.sub);
    p = writeWords(a, [1, cp.length, cp.m, chirp, filter, sub]);
  }
  a.complex.set(cp.length, p);
  return p;
}

/** Uploads the real plan descriptor of `plan` (and what it points to) into `a`; returns its offset. */
function uploadReal(a: Arena, plan: FftPlan): number {
  const half = new Float32Array(plan.splitTwiddles.length);
  for (let i = 0; i < half.length; i++) half[i] = plan.splitTwiddles[i] * 0.5;
  const tw = upload(a, half);
  const cp = uploadComplex(a, plan.complex);
  const ptr = a.alloc(24);
  new Int32Array(a.memory.buffer, ptr, 6).set([plan.n, plan.complexLength, plan.even ? 1 : 0, tw, cp, 0]);
  new Float32Array(a.memory.buffer, ptr + 20, 1)[0] = 1 / plan.n;
  return ptr;
}

const cache = new Map<number, WasmFftPlan>();

/**
 * Returns the wasm-resident plan of the real FFT of length n (cached per n; uploaded once).
 *
 * @throws {RangeError} if n is not an integer in [1, 2^27]
 */
export function getWasmFftPlan(n: number): WasmFftPlan {
  let w = cache.get(n);
  if (w) return w;
  const plan = getFftPlan(n, WASM_FFT_CAPABILITIES);
  const ptr = uploadReal(mainArena, plan);
  const m = plan.complex.kind === "bluestein" ? plan.complex.m : 0;
  const bufElems = Math.max(plan.complexLength + 2, m);
  // two lane buffers, then a dummy row and a zero row of (n+7) & ~3 floats each (wasm/fft.ts)
  const workBytes = 2 * bufElems * 32 + 8 * ((n + 7) & ~3);
  w = { plan, ptr, bufElems, workBytes };
  cache.set(n, w);
  return w;
}

let privateArena: Arena | undefined;
const privateCache = new Map<number, number>();

/**
 * Byte offset of the real plan descriptor of length n in the memory of `privateKernels`
 * (./private_kernels.ts), uploaded there once per n (same plan as {@link getWasmFftPlan}).
 */
export function privateFftPlanPtr(n: number, priv: PrivateKernels): number {
  let p = privateCache.get(n);
  if (p !== undefined) return p;
  privateArena ??= { memory: priv.memory, alloc: priv.alloc, complex: new Map() };
  p = uploadReal(privateArena, getWasmFftPlan(n).plan);
  privateCache.set(n, p);
  return p;
}

let workPtr = -1;
let workSize = 0;

/**
 * Byte offset of the shared FFT workspace, grown (freed and reallocated) to at least `bytes`.
 * Valid until the next call with a larger size; FFT calls are synchronous, so one workspace serves
 * them all.
 */
export function fftWorkspace(bytes: number): number {
  if (bytes > workSize) {
    if (workPtr >= 0) free(workPtr);
    workSize = Math.max(bytes, 2 * workSize);
    workPtr = malloc(workSize);
  }
  return workPtr;
}
