/**
 * Integer-index kernels of the WebGPU executor: gatherLast / scatterLast (one element per row, for
 * NLL / cross-entropy), indexSelectRows (embedding lookup) and indexAddRows (its gradient). Indices
 * arrive as `Int32Array`s on the host, are uploaded into temporary buffers, and are trusted (the ops
 * validated them).
 *
 * indexAddRows is deterministic without float atomics: the host inverts the index list into a
 * compressed row list (for each destination row, its source rows in increasing order) and one
 * invocation per destination element sums its sources in that order — the same order, hence the same
 * float32 result, as the wasm backend's sequential loop.
 *
 * @module
 */

import { type GpuExecutor, type Kernel, PARAMS_DECL, WG, WGSL_COMMON } from "./executor.ts";

const HEAD =
  `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = gidx(wid, nwg, lid, ${WG}u);
  if (e >= P[0]) { return; }`;

function k(key: string, layout: string, decls: string, body: string): Kernel {
  return {
    key,
    layout,
    code: () => `${PARAMS_DECL}\n${decls}\n${WGSL_COMMON}\n${HEAD}\n${body}\n}`,
  };
}

// gather: params 0 rows, 1 cols, 2 outBase, 3 xBase, 4 row0 (index offset)
const GATHER = k(
  "gatherLast",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> I: array<i32>;`,
  `  let t = I[P[4] + e];
  var v = 0.0;
  if (t >= 0) { v = X[P[3] + e * P[1] + u32(t)]; }
  O[P[2] + e] = v;`,
);

// scatter: params 0 count (rows·cols), 1 cols, 2 outBase, 3 gBase, 4 row0
const SCATTER = k(
  "scatterLast",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> I: array<i32>;`,
  `  let r = e / P[1]; let c = e % P[1];
  let t = I[P[4] + r];
  O[P[2] + e] = select(0.0, G[P[3] + r], t >= 0 && u32(t) == c);`,
);

// scatter-add in place, one invocation per row: params 0 rows, 1 cols, 2 outBase, 3 gBase, 4 row0
const SCATTER_ADD = k(
  "scatterLastAdd",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> I: array<i32>;`,
  `  let t = I[P[4] + e];
  if (t >= 0) { O[P[2] + e * P[1] + u32(t)] += G[P[3] + e]; }`,
);

// select rows: params 0 count, 1 rowSize, 2 outBase, 3 xBase, 4 i0, 5 xRow0, 6 xRow1
const SELECT = k(
  "indexSelectRows",
  "wrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> I: array<i32>;`,
  `  let i = e / P[1]; let j = e % P[1];
  let src = u32(I[P[4] + i]);
  if (src >= P[5] && src < P[6]) { O[P[2] + e] = X[P[3] + (src - P[5]) * P[1] + j]; }`,
);

// add rows (CSR): params 0 count, 1 rowSize, 2 outBase, 3 gBase, 4 d0, 5 i0, 6 i1 (source rows in
// the g window), 7 accumulate
const ADD = k(
  "indexAddRows",
  "wrrr",
  `@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> Off: array<u32>;
@group(0) @binding(4) var<storage, read> Src: array<u32>;`,
  `  let d = e / P[1] + P[4]; let j = e % P[1];
  var acc = 0.0;
  for (var q = Off[d]; q < Off[d + 1u]; q++) {
    let i = Src[q];
    if (i >= P[5] && i < P[6]) { acc += G[P[3] + (i - P[5]) * P[1] + j]; }
  }
  if (P[7] != 0u) { acc += O[P[2] + e]; }
  O[P[2] + e] = acc;`,
);

/** `out[r] = x[r, index[r]]` (0 where index < 0). */
export function gatherLast(
  ex: GpuExecutor,
  x: number,
  rows: number,
  cols: number,
  index: Int32Array,
  out: number,
): void {
  if (rows === 0) return;
  const ib = ex.tempUpload(index);
  const iw = ex.wholeBuffer(ib, rows);
  for (const [r0, r1] of ex.chunks(rows, Math.max(cols, 1))) {
    const ow = ex.window(out, r0, r1), xw = ex.window(x, r0 * cols, r1 * cols);
    ex.dispatch(
      GATHER,
      [ow.binding, xw.binding, iw],
      [r1 - r0, cols, ow.base, xw.base, r0],
      ex.grid(r1 - r0),
    );
  }
}

/**
 * `out [rows, cols]` zeros with `out[r, index[r]] = g[r]`; with `accumulate`, only
 * `out[r, index[r]] += g[r]` (every other element of the caller's `out` kept).
 */
export function scatterLast(
  ex: GpuExecutor,
  g: number,
  rows: number,
  cols: number,
  index: Int32Array,
  out: number,
  accumulate = false,
): void {
  if (rows * cols === 0) return;
  const ib = ex.tempUpload(index);
  const iw = ex.wholeBuffer(ib, rows);
  for (const [r0, r1] of ex.chunks(rows, cols)) {
    const ow = ex.window(out, r0 * cols, r1 * cols), gw = ex.window(g, r0, r1);
    if (accumulate) {
      const n = r1 - r0;
      ex.dispatch(SCATTER_ADD, [ow.binding, gw.binding, iw], [n, cols, ow.base, gw.base, r0], ex.grid(n));
      continue;
    }
    const n = (r1 - r0) * cols;
    ex.dispatch(SCATTER, [ow.binding, gw.binding, iw], [n, cols, ow.base, gw.base, r0], ex.grid(n));
  }
}

/** `out[i, :] = x[index[i], :]` for x `[numRows, rowSize]`. */
export function indexSelectRows(
  ex: GpuExecutor,
  x: number,
  rowSize: number,
  index: Int32Array,
  out: number,
): void {
  const count = index.length;
  if (count * rowSize === 0) return;
  const numRows = Math.floor(ex.elems(x) / rowSize);
  const ib = ex.tempUpload(index);
  const iw = ex.wholeBuffer(ib, count);
  for (const [x0, x1] of ex.chunks(numRows, rowSize)) {
    const xw = ex.window(x, x0 * rowSize, x1 * rowSize);
    for (const [i0, i1] of ex.chunks(count, rowSize)) {
      const ow = ex.window(out, i0 * rowSize, i1 * rowSize);
      const n = (i1 - i0) * rowSize;
      ex.dispatch(
        SELECT,
        [ow.binding, xw.binding, iw],
        [n, rowSize, ow.base, xw.base, i0, x0, x1],
        ex.grid(n),
      );
    }
  }
}

/** `out [numRows, rowSize]` = zeros, then `out[index[i], :] += g[i, :]` in increasing i. */
export function indexAddRows(
  ex: GpuExecutor,
  g: number,
  numRows: number,
  rowSize: number,
  index: Int32Array,
  out: number,
): void {
  if (numRows * rowSize === 0) return;
  const off = new Uint32Array(numRows + 1);
  for (let i = 0; i < index.length; i++) off[index[i] + 1]++;
  for (let d = 0; d < numRows; d++) off[d + 1] += off[d];
  const src = new Uint32Array(Math.max(1, index.length));
  const fillPos = off.slice(0, numRows);
  for (let i = 0; i < index.length; i++) src[fillPos[index[i]]++] = i;
  const offB = ex.tempUpload(off), srcB = ex.tempUpload(src);
  const offW = ex.wholeBuffer(offB, numRows + 1), srcW = ex.wholeBuffer(srcB, src.length);
  const srcChunks = index.length ? ex.chunks(index.length, rowSize) : [[0, 0] as [number, number]];
  for (const [d0, d1] of ex.chunks(numRows, rowSize)) {
    const ow = ex.window(out, d0 * rowSize, d1 * rowSize);
    const n = (d1 - d0) * rowSize;
    srcChunks.forEach(([i0, i1], c) => {
      const gw = ex.window(g, i0 * rowSize, Math.max(i1 * rowSize, i0 * rowSize + 1));
      ex.dispatch(ADD, [ow.binding, gw.binding, offW, srcW], [
        n,
        rowSize,
        ow.base,
        gw.base,
        d0,
        i0,
        i1,
        c > 0 ? 1 : 0,
      ], ex.grid(n));
    });
  }
}
