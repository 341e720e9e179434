/**
 * {@link HalfArray}: how the wasm executor holds 16-bit (bfloat16 / float16) storage.
 *
 * @module
 */

import type { HalfDType } from "../backend.ts";

/**
 * The contents of a 16-bit storage of the wasm backend: the bit patterns `bits` (one per element),
 * seen as a Float32Array over the same bytes (two patterns per slot, `ceil(size / 2)` slots) so that
 * it travels through the kernel table's Float32Array handles. Only the kernel inputs declared `half`
 * receive one (ExecutorBase.run refuses the others); they test `instanceof HalfArray`.
 */
export class HalfArray extends Float32Array {
  /** Element type of `bits`. */
  readonly dtype: HalfDType;
  /** The bit patterns, one per element. */
  readonly bits: Uint16Array;
  /** Views `bits` (taken over when 4-byte aligned with room for the last slot, else copied). */
  constructor(bits: Uint16Array, dtype: HalfDType) {
    const slots = Math.ceil(bits.length / 2);
    let b = bits;
    if (b.byteOffset % 4 !== 0 || b.byteOffset + slots * 4 > b.buffer.byteLength) {
      b = new Uint16Array(new ArrayBuffer(slots * 4), 0, bits.length);
      b.set(bits);
    }
    super(b.buffer as ArrayBuffer, b.byteOffset, slots);
    this.bits = b;
    this.dtype = dtype;
  }
  /** Derived arrays (subarray, map, …) are plain Float32Arrays. */
  static get [Symbol.species](): Float32ArrayConstructor {
    return Float32Array;
  }
}
