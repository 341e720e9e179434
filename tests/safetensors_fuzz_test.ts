// Hostile safetensors files: thousands of seeded mutations of valid files (truncations, appended junk, bit
// flips, edited header lengths, JSON edits, renamed / duplicated / re-typed / re-shaped entries, moved
// offsets) are each either refused by the reader with a SafetensorsError or decoded exactly as the
// independent strict reader of tests/_safetensors_oracle.ts decodes them — and the two agree on which
// files are refused. No other exception type, no hang. The writer never emits a file its reader (or the
// oracle) refuses, for random names, shapes, dtypes and metadata.
import { assert, assertEquals, assertThrows } from "./deps.ts";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../src/io/safetensors.ts";
import type { SafetensorsDtype } from "../src/io/safetensors.ts";
import { type OracleFile, oracleRead } from "./_safetensors_oracle.ts";
import { mulberry32 } from "./_random.ts";

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rng, n: number) => Math.floor(r() * n);

/** Float32 values equal bit for bit, or both NaN. */
function sameFloats(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  }
  return true;
}

/** Runs the reader and the oracle on `bytes`; throws with a description when they disagree. */
function check(bytes: Uint8Array, what: string): "refused" | "accepted" {
  const want = oracleRead(bytes);
  let got: ReturnType<typeof decodeSafetensors> | null = null;
  try {
    got = decodeSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) {
      throw new Error(`${what}: reader threw ${e} (not a SafetensorsError)`);
    }
    if (want !== null) throw new Error(`${what}: reader refused (${e.message}) a file the oracle accepts`);
    return "refused";
  }
  if (want === null) throw new Error(`${what}: reader accepted a file the oracle refuses`);
  assertSame(got, want, what);
  return "accepted";
}

function assertSame(got: ReturnType<typeof decodeSafetensors>, want: OracleFile, what: string): void {
  // (as a JavaScript object, the result lists integer-like names first, so order is not compared)
  assertEquals(Object.keys(got.tensors).sort(), want.tensors.map((t) => t.name).sort(), `${what}: names`);
  for (const t of want.tensors) {
    const g = got.tensors[t.name];
    assertEquals([g.dtype, g.shape], [t.dtype, t.shape], `${what}: "${t.name}"`);
    assert(sameFloats(g.data, t.data), `${what}: "${t.name}" data`);
  }
  assertEquals(Object.entries(got.metadata), want.metadata, `${what}: metadata`);
}

// ---- valid seed files: from the writer, and hand-built ones with what the writer never produces ----

/** Assembles a file from header text and data bytes (header length = the text's UTF-8 size). */
function assemble(header: string, data: Uint8Array, pad = true): Uint8Array {
  let h = new TextEncoder().encode(header);
  if (pad && h.length % 8) h = new TextEncoder().encode(header + " ".repeat(8 - (h.length % 8)));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

interface Spec {
  name: string;
  dtype: string;
  shape: number[];
  offsets: [number, number];
}

/** Random tensors laid out in a random order (offsets contiguous), as header entries + data bytes. */
function randomLayout(r: Rng): { specs: Spec[]; data: Uint8Array } {
  const count = 1 + int(r, 4);
  const specs: Spec[] = [];
  const names = new Set<string>();
  while (names.size < count) {
    names.add(pick(r, ["w", "b", "a.weight", "layers.0.q", "é", "10", "2", "x y"]) + int(r, 3));
  }
  const dtypes = ["F32", "F16", "BF16"];
  const order = [...names].sort(() => r() - 0.5);
  let pos = 0;
  for (const name of order) {
    const dtype = pick(r, dtypes);
    const shape = Array.from({ length: int(r, 3) }, () => int(r, 4)); // includes [] and zero dims
    const n = shape.reduce((a, b) => a * b, 1) * (dtype === "F32" ? 4 : 2);
    specs.push({ name, dtype, shape, offsets: [pos, pos + n] });
    pos += n;
  }
  const data = new Uint8Array(pos).map(() => int(r, 256));
  return { specs: specs.sort(() => r() - 0.5), data }; // header order differs from offset order
}

function headerText(specs: Spec[], meta: string, extra = ""): string {
  const entries = specs.map((s) =>
    `${JSON.stringify(s.name)}: {"dtype": ${JSON.stringify(s.dtype)}, "shape": [${s.shape.join(", ")}], ` +
    `"data_offsets": [${s.offsets.join(", ")}]${extra}}`
  );
  return `{${[meta, ...entries].filter((x) => x).join(", ")}}`;
}

function seedFiles(r: Rng): Uint8Array[] {
  const files: Uint8Array[] = [];
  for (let k = 0; k < 12; k++) {
    const { specs, data } = randomLayout(r);
    const meta = pick(r, [
      '"__metadata__": {"format": "pt"}',
      '"__metadata__": null',
      "",
      '"__metadata__": {}',
    ]);
    files.push(assemble(headerText(specs, meta), data, r() < 0.7));
  }
  for (let k = 0; k < 6; k++) {
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let t = 0; t < 1 + int(r, 3); t++) {
      const shape = [1 + int(r, 3), int(r, 3)];
      tensors[`t${t}`] = { shape, data: new Float32Array(shape[0] * shape[1]).map(() => r() * 4 - 2) };
    }
    files.push(
      encodeSafetensors(tensors, { format: "pt" }, { dtype: pick(r, ["F32", "F16", "BF16"] as const) }),
    );
  }
  return files;
}

// ---- mutations ----

function headerOf(bytes: Uint8Array): { n: number; text: string } | null {
  if (bytes.length < 8) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (8 + n > bytes.length) return null;
  return { n, text: new TextDecoder().decode(bytes.subarray(8, 8 + n)) };
}

/** Replaces the header text (re-writing the length field, or keeping the old one). */
function withHeader(bytes: Uint8Array, text: string, keepLength: boolean): Uint8Array {
  const old = headerOf(bytes)!;
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + bytes.length - 8 - old.n);
  out.set(bytes.subarray(0, 8));
  if (!keepLength) new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(bytes.subarray(8 + old.n), 8 + h.length);
  return out;
}

const SNIPPETS = [
  '"',
  ",",
  "{",
  "}",
  "[",
  "]",
  ":",
  "0",
  "1",
  "-",
  "-1",
  ".5",
  "e1",
  "E+2",
  " ",
  "\t",
  "\\u0000",
  "\\ud800",
  "\\udc00",
  "\\ud83d\\ude00",
  "\\x",
  "\ufeff",
  "null",
  "true",
  "4.0",
  "1e2",
  "18446744073709551616",
  "18446744073709551615",
  "9007199254740993",
  '"a"',
  "\u0001",
  "é",
  "\\\\",
  "//",
];

const TEXT_EDITS: ((t: string, r: Rng) => string)[] = [
  (t, r) => { // delete one character
    const i = int(r, t.length);
    return t.slice(0, i) + t.slice(i + 1);
  },
  (t, r) => { // insert a snippet
    const i = int(r, t.length + 1);
    return t.slice(0, i) + pick(r, SNIPPETS) + t.slice(i);
  },
  (t, r) => { // change one digit (offsets, shapes)
    const digits = [...t.matchAll(/[0-9]/g)].map((m) => m.index!);
    if (digits.length === 0) return t;
    const i = pick(r, digits);
    return t.slice(0, i) + int(r, 10) + t.slice(i + 1);
  },
  (t, r) => { // replace a number by another literal form
    const nums = [...t.matchAll(/-?[0-9]+/g)];
    if (nums.length === 0) return t;
    const m = pick(r, nums);
    const v = Number(m[0]);
    const repl = pick(r, [
      `${v}.0`,
      `${v}e0`,
      `0${v}`,
      `-${v}`,
      `${v + 1}`,
      `${Math.max(0, v - 1)}`,
      `${v * 2}`,
      "-0",
      "18446744073709551616",
      `${2 ** 53 + 2}`,
    ]);
    return t.slice(0, m.index!) + repl + t.slice(m.index! + m[0].length);
  },
  (t, r) =>
    t.replace(
      pick(r, ['"F32"', '"F16"', '"BF16"']),
      pick(r, ['"F16"', '"BF16"', '"F32"', '"I64"', '"f32"', '"F64"', "32"]),
    ),
  (t, r) => { // duplicate the first entry (same key twice)
    const m = /"[^"]*": \{[^{}]*\}|"[^"]*":\{[^{}]*\}/.exec(t);
    return m ? t.replace(m[0], `${m[0]}, ${m[0]}`) : t + pick(r, ["", " "]);
  },
  (t, r) => { // rename an entry to another entry's name
    const names = [...t.matchAll(/"([^"\\]*)": ?\{"dtype"/g)].map((m) => m[1]);
    if (names.length < 2) return t;
    const [a, b] = [pick(r, names), pick(r, names)];
    return t.replace(`"${a}":`, `"${b}":`);
  },
  (t, r) => { // swap the offsets of two entries
    const offs = [...t.matchAll(/"data_offsets": ?\[([0-9]+), ?([0-9]+)\]/g)];
    if (offs.length < 2) return t;
    const [a, b] = [pick(r, offs), pick(r, offs)];
    return t.replace(a[0], "@A@").replace(b[0], a[0]).replace("@A@", b[0]);
  },
  (t, r) =>
    t.replace(
      '"__metadata__": {"format": "pt"}',
      pick(r, [
        '"__metadata__": 3',
        '"__metadata__": {"n": 1}',
        '"__metadata__": []',
        '"__metadata__": {"a": "b", "a": "c"}',
        '"__metadata__": {"x": null}',
        '"__metadata__": null',
      ]),
    ),
  (t, r) => { // an extra field in an entry: ignored, unless too deep
    const depth = pick(r, [1, 5, 124, 125, 126, 127, 200]);
    return t.replace('"dtype"', `"extra": ${"[".repeat(depth)}${"]".repeat(depth)}, "dtype"`);
  },
  (t) => "\ufeff" + t, // byte-order mark
  (t, r) => t + pick(r, ["\u0000", "x", "{}", " ", "\n", "\r\n"]), // trailing junk / whitespace
  (t, r) => pick(r, [" ", "\n", "\t"]) + t, // leading whitespace (allowed)
  (t) => t.replace(/"shape": ?\[/, '"shape": [1, '),
  (t) => t.replace(/"shape": ?\[/, '"shape": [0, '),
  (t) => t.replace(/"shape": ?\[/, '"shape": [4294967296, 4294967296, 0, '), // 2^64 overflow before the 0
  (t) => t.replace(/"shape": ?\[/, '"shape": [0, 9007199254740993, '), // a dimension above 2^53
];

function mutate(file: Uint8Array, r: Rng): Uint8Array {
  const kind = int(r, 8);
  const bytes = file.slice();
  if (kind === 0) return bytes.subarray(0, int(r, bytes.length)); // truncation
  if (kind === 1) { // appended junk
    const junk = new Uint8Array(1 + int(r, 9)).map(() => int(r, 256));
    const out = new Uint8Array(bytes.length + junk.length);
    out.set(bytes);
    out.set(junk, bytes.length);
    return out;
  }
  if (kind === 2) { // bit flips anywhere
    for (let k = 0; k < 1 + int(r, 3); k++) {
      const i = int(r, bytes.length);
      bytes[i] ^= 1 << int(r, 8);
    }
    return bytes;
  }
  if (kind === 3) { // bit flip inside the header text
    const h = headerOf(bytes)!;
    const i = 8 + int(r, h.n);
    bytes[i] ^= 1 << int(r, 8);
    return bytes;
  }
  if (kind === 4) { // edited header length
    const h = headerOf(bytes)!;
    const v = pick(r, [h.n + 1, h.n - 1, h.n + 8, h.n - 8, 0, bytes.length, 100_000_001, 2 ** 53, -1]);
    new DataView(bytes.buffer).setBigUint64(0, v < 0 ? (1n << 64n) - 1n : BigInt(v), true);
    return bytes;
  }
  // JSON edits, the length field rewritten (kinds 5-6) or left as it was (7)
  const h = headerOf(bytes)!;
  let text = h.text;
  for (let k = 0; k < 1 + int(r, 2); k++) text = pick(r, TEXT_EDITS)(text, r);
  return withHeader(bytes, text, kind === 7);
}

Deno.test("safetensors fuzz: 6,000 mutants of valid files are refused with SafetensorsError or decoded as the oracle decodes them", () => {
  const r = mulberry32(20261206);
  const seeds = seedFiles(r);
  for (const [i, s] of seeds.entries()) assertEquals(check(s, `seed ${i}`), "accepted");
  const counts = { refused: 0, accepted: 0 };
  for (let m = 0; m < 6000; m++) {
    const seed = pick(r, seeds);
    const mutant = mutate(seed, r);
    counts[check(mutant, `mutant ${m}`)]++;
  }
  // both outcomes are exercised (the mutations are not all trivially fatal or all harmless)
  assert(counts.refused > 1000 && counts.accepted > 300, JSON.stringify(counts));
});

Deno.test("safetensors: rules JSON.parse does not enforce, each refused by reader and oracle alike", () => {
  const one = new Uint8Array(4);
  const entry = (offs = "[0, 4]", shape = "[1]", dtype = '"F32"') =>
    `"a": {"dtype": ${dtype}, "shape": ${shape}, "data_offsets": ${offs}}`;
  const cases: [string, Uint8Array, string][] = [
    [`{${entry()}, ${entry()}}`, one, "duplicate key"],
    [`{"__metadata__": {"k": "1", "k": "2"}, ${entry()}}`, one, "duplicate key"],
    [`{${entry("[0, 4.0]")}}`, one, "data_offsets must be [begin, end] integers"],
    [`{${entry("[0, 4e0]")}}`, one, "data_offsets must be"],
    [`{${entry("[0, 4]", "[1.0]")}}`, one, "shape must be an array of integers"],
    [`{${entry("[0, 4]", "[1e0]")}}`, one, "shape must be an array"],
    [`{${entry("[0, 4, 8]")}}`, one, "data_offsets must be"],
    [`{${entry("[0, 4]", "[18446744073709551616]")}}`, one, "shape must be an array of integers"],
    [`{${entry("[0, 0]", "[4294967296, 4294967296, 0]")}}`, new Uint8Array(0), "more than 2^64 elements"],
    [`\ufeff{${entry()}}`, one, "not valid JSON"],
    [`{${entry()}}\u0000`, one, "not valid JSON"],
    [`{${entry()}} x`, one, "not valid JSON"],
    [`{"a\\ud800": ${entry().slice(5)}}`, one, "lone leading surrogate"],
    [`{"__metadata__": {"k": 1}, ${entry()}}`, one, '__metadata__["k"] must be a string'],
    [`{"__metadata__": "pt", ${entry()}}`, one, "__metadata__ must be an object"],
    [
      `{${entry().replace('"dtype"', `"x": ${"[".repeat(126)}${"]".repeat(126)}, "dtype"`)}}`,
      one,
      "nesting deeper",
    ],
    [`{${entry("[0, 4]", "[1]", '"I32"')}}`, one, "dtype I32 is not supported"],
  ];
  for (const [header, data, msg] of cases) {
    const file = assemble(header, data, false);
    assertEquals(oracleRead(file), null, header);
    assertThrows(() => decodeSafetensors(file), SafetensorsError, msg);
  }
  // and what the reference reader accepts is accepted: null metadata, extra fields, any entry order,
  // zero-size tensors sharing an offset, whitespace around the JSON, 127 nested containers (serde_json's
  // limit; 128 above: root object + entry object + 126 arrays)
  const ok = [
    `{"__metadata__": null, ${entry()}}`,
    `{${entry().replace('"dtype"', '"extra": {"x": [1, 2.5, "s"]}, "dtype"')}}`,
    ` \n{"z": {"dtype": "F16", "shape": [0], "data_offsets": [0, 0]}, ${entry()}}\t`,
    `{${entry().replace('"dtype"', `"x": ${"[".repeat(125)}${"]".repeat(125)}, "dtype"`)}}`,
  ];
  for (const header of ok) {
    const file = assemble(header, one, false);
    assertEquals(check(file, header), "accepted");
  }
});

Deno.test("safetensors: header fields that would size an allocation are checked against the file first", () => {
  const header = (h: string, len: bigint) => {
    const t = new TextEncoder().encode(h);
    const out = new Uint8Array(8 + t.length);
    new DataView(out.buffer).setBigUint64(0, len, true);
    out.set(t, 8);
    return out;
  };
  const h =
    '{"a": {"dtype": "F32", "shape": [1073741824, 1073741824], "data_offsets": [0, 4611686018427387904]}}';
  for (const len of [BigInt(h.length), 2n ** 63n, 99_999_999n, 0n]) {
    const f = header(h, len);
    assertThrows(() => decodeSafetensors(f), SafetensorsError);
    assertEquals(oracleRead(f), null);
  }
});

Deno.test("safetensors writer: never emits a file its reader or the oracle refuses", () => {
  const r = mulberry32(7);
  const names = [
    "w",
    "",
    "__metadata__",
    "__proto__",
    "10",
    "2",
    "é",
    "\ud800",
    "a\udc00b",
    "\ud83d\ude00",
    '"q"',
    "\\",
    "\u0000",
  ];
  let written = 0;
  for (let k = 0; k < 400; k++) {
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let t = 0; t < 1 + int(r, 3); t++) {
      const shape = pick(r, [[2], [], [0], [1, 3], [2 ** 52, 0], [2 ** 40, 2 ** 40, 0], [0, 2 ** 60], [1.5], [
        -1,
      ]]);
      const count = shape.reduce((a, b) => a * b, 1);
      const len = Number.isSafeInteger(count) && count >= 0 ? count : 0;
      Object.defineProperty(tensors, pick(r, names) + (r() < 0.5 ? "" : String(t)), {
        value: { shape, data: new Float32Array(len).map(() => r() * 2 - 1) },
        enumerable: true,
        configurable: true,
      });
    }
    const meta = r() < 0.5 ? undefined : { [pick(r, names)]: pick(r, ["pt", "\udfff", ""]) };
    const dtype = pick(r, ["F32", "F16", "BF16"] as SafetensorsDtype[]);
    let bytes: Uint8Array;
    try {
      bytes = encodeSafetensors(tensors, meta, { dtype });
    } catch (e) {
      assert(e instanceof RangeError || e instanceof TypeError, String(e));
      continue;
    }
    written++;
    assertEquals(check(bytes, `written file ${k}`), "accepted");
    const back = decodeSafetensors(bytes);
    assertEquals(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
    if (dtype === "F32") {
      for (const [n, t] of Object.entries(tensors)) assert(sameFloats(back.tensors[n].data, t.data), n);
    }
  }
  assert(written > 50, `only ${written} files were written`);
});
