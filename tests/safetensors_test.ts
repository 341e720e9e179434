import { assert, assertEquals, assertRejects, assertThrows } from "./deps.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  f16BitsToFloat,
  loadSafetensors,
  SafetensorsError,
  SafetensorsReader,
  saveSafetensors,
} from "../src/io/safetensors.ts";

const fixtures = new URL("./fixtures/peft/", import.meta.url);

/** The parts of the fixtures' expected.json and model_spec.json these tests read. */
interface Target {
  block_size: number;
  in_features: number;
  out_features: number;
  kernel_key: string;
  kernel_shape: number[];
}
interface Expected {
  adapters: Record<
    string,
    {
      resolved_targets: Record<string, Target>;
      module_probes: Record<string, { delta_weight: { data: number[] } }>;
    }
  >;
}
interface MlpSpec {
  modules: Record<string, { in_features: number; out_features: number; bias: boolean }>;
}

/** Builds a safetensors file by hand (independent of the encoder): header text + raw data bytes. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0), lenOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return b;
}

function f32le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return b;
}

/** Parses the header with plain DataView/JSON, for checking the encoder's layout independently. */
function readHeader(bytes: Uint8Array): { len: number; text: string } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, text: new TextDecoder().decode(bytes.subarray(8, 8 + len)) };
}

Deno.test("encode/decode round trip: shapes, scalars, empty tensors, metadata, sorted keys", () => {
  const tensors = {
    "z.weight": { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2) },
    "a.bias": { shape: [4], data: new Float32Array([1, -0, Infinity, -1e-40]) },
    "scalar": { shape: [], data: new Float32Array([Math.PI]) },
    "empty": { shape: [0, 5], data: new Float32Array(0) },
    "10": { shape: [1], data: new Float32Array([10]) },
    "2": { shape: [1], data: new Float32Array([2]) },
    // a Tensor-like object (dataSync), as the Tensor class provides
    "m.t": { shape: [2, 1] as const, dataSync: () => new Float32Array([7, 8]) },
  };
  const bytes = encodeSafetensors(tensors, { format: "pt", note: "ünïcode ✓" });
  const { len, text } = readHeader(bytes);
  assertEquals(len % 8, 0, "header padded to a multiple of 8");
  assertEquals(text.trimEnd().length + (len - text.trimEnd().length), len);
  assert(/^\{.*\} *$/.test(text), "header is JSON followed by spaces only");
  // keys in code-point order (so "10" < "2"), metadata first, offsets back to back
  const keys = [...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
  assertEquals(keys, ["10", "2", "a.bias", "empty", "m.t", "scalar", "z.weight"]);
  assert(text.startsWith('{"__metadata__":{"format":"pt","note":"ünïcode ✓"},"10":'), text);
  const parsed = JSON.parse(text);
  let pos = 0;
  for (const k of keys) {
    assertEquals(parsed[k].dtype, "F32");
    assertEquals(parsed[k].data_offsets[0], pos);
    pos = parsed[k].data_offsets[1];
  }
  assertEquals(8 + len + pos, bytes.length);

  const back = decodeSafetensors(bytes);
  assertEquals(back.metadata, { format: "pt", note: "ünïcode ✓" });
  for (const [name, t] of Object.entries(tensors)) {
    const got = back.tensors[name];
    assertEquals(got.dtype, "F32");
    assertEquals(got.shape, [...t.shape]);
    const want = "dataSync" in t ? t.dataSync() : t.data;
    // bit-exact (covers -0 and the float32 subnormal)
    assertEquals(
      Array.from(new Uint32Array(got.data.buffer, got.data.byteOffset, got.data.length)),
      Array.from(new Uint32Array(want.buffer, want.byteOffset, want.length)),
      name,
    );
  }
  // no metadata given -> no __metadata__ entry; decoding gives {}
  const plain = encodeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } });
  assert(!readHeader(plain).text.includes("__metadata__"));
  assertEquals(decodeSafetensors(plain).metadata, {});
  // decoded data is a copy: mutating the input afterwards does not change it
  const t = decodeSafetensors(plain);
  plain.fill(0, plain.length - 4);
  assertEquals(t.tensors.x.data[0], 1);
});

Deno.test("encode works on subarray views and decode on unaligned input", () => {
  const base = new Float32Array([9, 1, 2, 3, 9]);
  const bytes = encodeSafetensors({ v: { shape: [3], data: base.subarray(1, 4) } });
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  const back = decodeSafetensors(shifted.subarray(3));
  assertEquals(Array.from(back.tensors.v.data), [1, 2, 3]);
});

Deno.test("PEFT fixtures: shapes and dtypes match expected.json / model_spec.json; re-encoding is byte-identical", async () => {
  const files = [
    "mlp/model.safetensors",
    "mlp/merged_c3a_adapter.safetensors",
    "mlp/c3a_adapter/adapter_model.safetensors",
    "mini_llama/model.safetensors",
    "mini_llama/c3a_qvdown/adapter_model.safetensors",
    "mini_llama/c3a_regex_l1/adapter_model.safetensors",
  ];
  for (const f of files) {
    const bytes = await Deno.readFile(new URL(f, fixtures));
    const { tensors, metadata } = await loadSafetensors(new URL(f, fixtures));
    assertEquals(metadata, { format: "pt" }, f);
    for (const t of Object.values(tensors)) {
      assertEquals(t.dtype, "F32", f);
      assertEquals(t.data.length, t.shape.reduce((x, y) => x * y, 1), f);
    }
    // the files were written by the Python/Rust implementation: our encoder reproduces them exactly
    const again = encodeSafetensors(tensors, metadata);
    assertEquals(again.length, bytes.length, f);
    assert(
      again.every((b, i) => b === bytes[i]),
      `${f}: re-encoded bytes differ from the reference writer's`,
    );
  }

  // adapter kernels: keys and shapes from expected.json
  for (const model of ["mlp", "mini_llama"]) {
    const expected = JSON.parse(await Deno.readTextFile(new URL(`${model}/expected.json`, fixtures)));
    for (const [adapter, info] of Object.entries((expected as Expected).adapters)) {
      const { tensors } = await loadSafetensors(
        new URL(`${model}/${adapter}/adapter_model.safetensors`, fixtures),
      );
      const targets = Object.values(info.resolved_targets);
      assertEquals(
        Object.keys(tensors).sort(),
        targets.map((t) => t.kernel_key).sort(),
        `${model}/${adapter}`,
      );
      for (const t of targets) {
        assertEquals(tensors[t.kernel_key].shape, t.kernel_shape, t.kernel_key);
        assertEquals(t.kernel_shape, [
          t.out_features / t.block_size,
          t.in_features / t.block_size,
          t.block_size,
        ]);
      }
    }
  }

  // base MLP weights: shapes from model_spec.json
  const spec = JSON.parse(await Deno.readTextFile(new URL("mlp/model_spec.json", fixtures)));
  const mlp = await loadSafetensors(new URL("mlp/model.safetensors", fixtures));
  const wantShapes: Record<string, number[]> = {};
  for (const [name, mod] of Object.entries((spec as MlpSpec).modules)) {
    wantShapes[`${name}.weight`] = [mod.out_features, mod.in_features];
    if (mod.bias) wantShapes[`${name}.bias`] = [mod.out_features];
  }
  assertEquals(Object.fromEntries(Object.entries(mlp.tensors).map(([k, t]) => [k, t.shape])), wantShapes);

  // values: merged weight = base weight + delta_weight (from expected.json, computed in float64)
  const expected = JSON.parse(await Deno.readTextFile(new URL("mlp/expected.json", fixtures)));
  const merged = await loadSafetensors(new URL("mlp/merged_c3a_adapter.safetensors", fixtures));
  const delta: number[] = expected.adapters.c3a_adapter.module_probes.lin0.delta_weight.data;
  const w = mlp.tensors["lin0.weight"].data, wm = merged.tensors["lin0.weight"].data;
  for (let i = 0; i < w.length; i++) {
    assert(Math.abs(wm[i] - (w[i] + delta[i])) <= 1e-6 * (1 + Math.abs(wm[i])), `lin0.weight[${i}]`);
  }
});

Deno.test("mini_llama base weights have the shapes its config implies", async () => {
  const spec = JSON.parse(await Deno.readTextFile(new URL("mini_llama/model_spec.json", fixtures)));
  const c = spec.config;
  const kv = c.num_key_value_heads * c.head_dim, q = c.num_attention_heads * c.head_dim;
  const { tensors } = await loadSafetensors(new URL("mini_llama/model.safetensors", fixtures));
  const want: Record<string, number[]> = {
    "model.embed_tokens.weight": [c.vocab_size, c.hidden_size],
    "lm_head.weight": [c.vocab_size, c.hidden_size],
    "model.norm.weight": [c.hidden_size],
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    want[p + "input_layernorm.weight"] = [c.hidden_size];
    want[p + "post_attention_layernorm.weight"] = [c.hidden_size];
    want[p + "self_attn.q_proj.weight"] = [q, c.hidden_size];
    want[p + "self_attn.k_proj.weight"] = [kv, c.hidden_size];
    want[p + "self_attn.v_proj.weight"] = [kv, c.hidden_size];
    want[p + "self_attn.o_proj.weight"] = [c.hidden_size, q];
    want[p + "mlp.gate_proj.weight"] = [c.intermediate_size, c.hidden_size];
    want[p + "mlp.up_proj.weight"] = [c.intermediate_size, c.hidden_size];
    want[p + "mlp.down_proj.weight"] = [c.hidden_size, c.intermediate_size];
  }
  assertEquals(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape])), want);
});

Deno.test("F16 and BF16 decode to the values of hand-computed bit patterns", () => {
  // [bits, value] pairs; values worked out from the IEEE 754 binary16 / bfloat16 definitions
  const f16: Array<[number, number]> = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125], // 1.0101010101b * 2^-2 = 1365/4096
    [0x7bff, 65504], // largest finite
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x0000, 0],
    [0x8000, -0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x7e00, NaN],
    [0xfe01, NaN],
  ];
  const bf16: Array<[number, number]> = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x4049, 3.140625], // 0x40490000 as float32
    [0x7f7f, 3.3895313892515355e38], // largest finite: (2 - 2^-7) * 2^127
    [0x0080, 2 ** -126], // smallest normal
    [0x0001, 2 ** -133], // smallest subnormal: 2^-149 * 2^16
    [0x8000, -0],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
    [0x7fc0, NaN],
  ];
  const n1 = f16.length, n2 = bf16.length;
  const header = JSON.stringify({
    h: { dtype: "F16", shape: [n1], data_offsets: [0, 2 * n1] },
    b: { dtype: "BF16", shape: [n2], data_offsets: [2 * n1, 2 * n1 + 2 * n2] },
  });
  const data = new Uint8Array(2 * (n1 + n2));
  data.set(u16le(f16.map((p) => p[0])), 0);
  data.set(u16le(bf16.map((p) => p[0])), 2 * n1);
  const { tensors } = decodeSafetensors(rawFile(header, data));
  assertEquals(tensors.h.dtype, "F16");
  assertEquals(tensors.b.dtype, "BF16");
  const check = (got: Float32Array, want: Array<[number, number]>, label: string) => {
    want.forEach(([bits, v], i) => {
      assert(Object.is(got[i], Math.fround(v)), `${label} 0x${bits.toString(16)}: got ${got[i]}, want ${v}`);
    });
  };
  check(tensors.h.data, f16, "F16");
  check(tensors.b.data, bf16, "BF16");
  for (const [bits, v] of f16) {
    assert(Object.is(f16BitsToFloat(bits), v), `f16BitsToFloat 0x${bits.toString(16)}`);
  }
});

function expectCorrupt(bytes: Uint8Array, msgIncludes: string): void {
  assertThrows(() => decodeSafetensors(bytes), SafetensorsError, msgIncludes);
}

Deno.test("corrupt files give SafetensorsErrors naming the problem", () => {
  const one = f32le([1]);
  const ok = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, ...extra });
  // sanity: the base file is valid
  assertEquals(decodeSafetensors(rawFile(ok(), one)).tensors.a.data[0], 1);

  expectCorrupt(new Uint8Array(5), "file is 5 bytes, shorter than the 8-byte header length");
  expectCorrupt(rawFile(ok(), one, 1000n), "header length 1000 runs past the end of the file");
  expectCorrupt(rawFile(ok(), one, 2n ** 63n), "exceeds the limit");
  expectCorrupt(rawFile('{"a": {"dtype": "F32",', one), "header is not valid JSON");
  {
    const bad = rawFile(ok(), one);
    bad[9] = 0xff; // invalid UTF-8 byte inside the header
    expectCorrupt(bad, "not valid UTF-8");
  }
  expectCorrupt(rawFile("[1, 2]"), "header must be a JSON object");
  expectCorrupt(rawFile("42"), "header must be a JSON object");
  expectCorrupt(rawFile(ok({ b: 5 }), one), 'header entry "b" must be an object, got 5');
  expectCorrupt(rawFile(ok({ b: [1] }), one), 'header entry "b" must be an object');
  expectCorrupt(rawFile(ok({ __metadata__: [] }), one), "__metadata__ must be an object of strings");
  expectCorrupt(rawFile(ok({ __metadata__: { n: 1 } }), one), '__metadata__["n"] must be a string, got 1');
  const entry = (dtype: unknown, shape: unknown, offs: unknown) =>
    JSON.stringify({ a: { dtype, shape, data_offsets: offs } });
  expectCorrupt(
    rawFile(entry("I64", [1], [0, 8]), new Uint8Array(8)),
    "dtype I64 is not supported (supported: F32, F16, BF16)",
  );
  expectCorrupt(rawFile(entry("F64", [1], [0, 8]), new Uint8Array(8)), "dtype F64 is not supported");
  expectCorrupt(rawFile(entry("Q4_K", [1], [0, 1]), new Uint8Array(1)), 'unknown dtype "Q4_K"');
  expectCorrupt(rawFile(entry(7, [1], [0, 4]), one), "dtype must be a string, got 7");
  expectCorrupt(
    rawFile(entry("F32", [-1], [0, 4]), one),
    "shape must be an array of integers >= 0, got [-1]",
  );
  expectCorrupt(rawFile(entry("F32", [1.5], [0, 4]), one), "shape must be an array");
  expectCorrupt(rawFile(entry("F32", "1", [0, 4]), one), "shape must be an array");
  expectCorrupt(rawFile(entry("F32", [1], [0]), one), "data_offsets must be [begin, end] integers >= 0");
  expectCorrupt(rawFile(entry("F32", [1], [4, 0]), one), "begin > end");
  expectCorrupt(
    rawFile(entry("F32", [1], [0, 8]), one),
    "data_offsets [0, 8] run past the data buffer (4 bytes)",
  );
  expectCorrupt(
    rawFile(entry("F32", [2], [0, 4]), one),
    "shape [2] of F32 needs 8 bytes but data_offsets [0, 4] span 4",
  );
  expectCorrupt(rawFile(entry("F16", [3], [0, 4]), one), "shape [3] of F16 needs 6 bytes");
  // overlapping, gap, buffer not covered
  const two = (o1: number[], o2: number[]) =>
    JSON.stringify({
      a: { dtype: "F32", shape: [1], data_offsets: o1 },
      b: { dtype: "F32", shape: [1], data_offsets: o2 },
    });
  expectCorrupt(rawFile(two([0, 4], [0, 4]), f32le([1, 2])), 'tensor "b" data_offsets [0, 4] overlap');
  expectCorrupt(rawFile(two([0, 4], [8, 12]), f32le([1, 2, 3])), "gap in the data buffer: bytes [4, 8)");
  expectCorrupt(rawFile(two([4, 8], [8, 12]), f32le([1, 2, 3])), "gap in the data buffer: bytes [0, 4)");
  expectCorrupt(
    rawFile(ok(), f32le([1, 2])),
    "tensors cover 4 bytes of data but the buffer after the header has 8",
  );
  assertThrows(() => decodeSafetensors([1, 2, 3] as unknown as Uint8Array), TypeError);
});

Deno.test("a truncated real file is rejected, never partially loaded", async () => {
  const bytes = await Deno.readFile(new URL("mlp/model.safetensors", fixtures));
  for (const cut of [1, 4, 100, bytes.length - 20]) {
    assertThrows(() => decodeSafetensors(bytes.subarray(0, bytes.length - cut)), SafetensorsError);
  }
  assertThrows(() => decodeSafetensors(bytes.subarray(0, 7)), SafetensorsError, "shorter than");
});

Deno.test("encode rejects invalid tensors with clear errors", () => {
  assertThrows(
    () => encodeSafetensors({ w: { shape: [2, 3], data: new Float32Array(5) } }),
    RangeError,
    '"w" has shape [2, 3] (6 elements) but 5 values',
  );
  assertThrows(
    () => encodeSafetensors({ w: { shape: [-1], data: new Float32Array(0) } }),
    RangeError,
    "dims must be integers >= 0",
  );
  assertThrows(
    () => encodeSafetensors({ w: { shape: [2], data: [1, 2] as unknown as Float32Array } }),
    TypeError,
    "Float32Array",
  );
  assertThrows(
    () => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }),
    RangeError,
    "not allowed",
  );
  assertThrows(
    () => encodeSafetensors({}, { n: 3 as unknown as string }),
    TypeError,
    'metadata["n"] must be a string, got 3',
  );
});

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("saveSafetensors writes atomically and cleans up on failure; loadSafetensors reads paths and bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "c3a_st_" });
  try {
    const path = `${dir}/w.safetensors`;
    const t = { w: { shape: [2], data: new Float32Array([1.5, -2]) } };
    await saveSafetensors(path, t, { format: "pt" });
    assertEquals(await listDir(dir), ["w.safetensors"], "only the final file remains");
    const back = await loadSafetensors(path);
    assertEquals(Array.from(back.tensors.w.data), [1.5, -2]);
    assertEquals(back.metadata, { format: "pt" });
    assertEquals((await loadSafetensors(await Deno.readFile(path))).tensors.w.shape, [2]);
    // overwrite via a file: URL
    await saveSafetensors(new URL(`file://${path}`), { w: { shape: [1], data: new Float32Array([3]) } });
    assertEquals(Array.from((await loadSafetensors(path)).tensors.w.data), [3]);

    // invalid tensors: nothing written, the existing file is untouched
    const before = await Deno.readFile(path);
    await assertRejects(
      () => saveSafetensors(path, { w: { shape: [5], data: new Float32Array(1) } }),
      RangeError,
    );
    assertEquals(await Deno.readFile(path), before);
    assertEquals(await listDir(dir), ["w.safetensors"]);

    // the rename fails (target is a non-empty directory): the temp file is removed
    await Deno.mkdir(`${dir}/blocked.safetensors`);
    await Deno.writeTextFile(`${dir}/blocked.safetensors/keep`, "x");
    await assertRejects(
      () => saveSafetensors(`${dir}/blocked.safetensors`, t),
      Error,
      "saveSafetensors: writing",
    );
    assertEquals(
      await listDir(dir),
      ["blocked.safetensors", "w.safetensors"],
      "no temporary file left behind",
    );
    // a missing directory fails cleanly too
    await assertRejects(
      () => saveSafetensors(`${dir}/nope/x.safetensors`, t),
      Error,
      "saveSafetensors: writing",
    );

    // a corrupt file on disk: the error names the file
    await Deno.writeFile(`${dir}/bad.safetensors`, new Uint8Array(3));
    await assertRejects(() => loadSafetensors(`${dir}/bad.safetensors`), SafetensorsError, "bad.safetensors");
    await assertRejects(() => loadSafetensors(`${dir}/missing.safetensors`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SafetensorsReader: tensors read on demand from a file equal the oracle's decoding (F32, F16, BF16, chunked)", async () => {
  const { oracleRead } = await import("./_safetensors_oracle.ts");
  const dir = await Deno.makeTempDir();
  try {
    // 2^20 + 3 elements: more than one 2 MiB conversion chunk for the 16-bit types
    const n = (1 << 20) + 3;
    const big = new Float32Array(n);
    for (let i = 0; i < n; i++) big[i] = Math.sin(i * 0.37) * 1000 + i * 1e-3;
    const small = new Float32Array([1.5, -2.25, 65504, 1e-7, -0, Infinity, NaN]);
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const path = `${dir}/${dtype}.safetensors`;
      await saveSafetensors(path, { big: { shape: [n], data: big }, "s.w": { shape: [7], data: small } }, {
        format: "pt",
      }, { dtype });
      const want = oracleRead(await Deno.readFile(path))!;
      assert(want !== null);
      using r = SafetensorsReader.open(path);
      assertEquals(r.metadata, { format: "pt" });
      assertEquals(Object.keys(r.tensors), want.tensors.map((t) => t.name));
      for (const t of want.tensors) {
        const e = r.tensors[t.name];
        assertEquals([e.dtype, [...e.shape]], [t.dtype, t.shape]);
        const got = new Float32Array(t.data.length);
        e.readInto(got);
        assertEquals(new Uint32Array(got.buffer), new Uint32Array(t.data.buffer), `${dtype} ${t.name}`);
        // the same from bytes in memory
        const fromBytes = new Float32Array(t.data.length);
        SafetensorsReader.fromBytes(await Deno.readFile(path)).tensors[t.name].readInto(fromBytes);
        assertEquals(new Uint32Array(fromBytes.buffer), new Uint32Array(t.data.buffer));
      }
      assertThrows(() => r.tensors["s.w"].readInto(new Float32Array(6)), RangeError, "has 7 elements");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SafetensorsReader: header errors name the file; a file cut after opening fails on read; closed reader throws", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/m.safetensors`;
    await saveSafetensors(path, { a: { shape: [1000], data: new Float32Array(1000).fill(2) } });
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, bytes.length - 4));
    const e = assertThrows(() => SafetensorsReader.open(`${dir}/cut.safetensors`), SafetensorsError);
    assert(e.message.includes("cut.safetensors"), e.message);
    assertThrows(() => SafetensorsReader.open(`${dir}/none.safetensors`), Deno.errors.NotFound);
    const r = SafetensorsReader.open(path);
    await Deno.truncate(path, bytes.length - 400); // changed on disk after the header was validated
    assertThrows(() => r.tensors.a.readInto(new Float32Array(1000)), SafetensorsError, "changed on disk?");
    r.close();
    assertThrows(() => r.tensors.a.readInto(new Float32Array(1000)), Error, "closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
