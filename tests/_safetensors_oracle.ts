// A strict safetensors reader written for the tests, independently of src/io: its own UTF-8 decoder, its own
// JSON tokenizer (one sticky regular expression) and parser, its own float16/bfloat16 decoding. It encodes
// the format's rules as stated by the reference implementation (huggingface/safetensors, Rust:
// `SafeTensors::read_metadata` + `Metadata::validate`, serde_json's JSON), plus the rules this project adds
// on purpose (a repeated JSON key, dtypes other than F32/F16/BF16, a dimension above 2^53: refused).
// Returns null for a file it refuses.

/** A decoded file: tensors in header order, metadata entries in header order. */
export interface OracleFile {
  tensors: { name: string; dtype: string; shape: number[]; data: Float32Array }[];
  metadata: [string, string][];
}

const U64_MAX = (1n << 64n) - 1n;
const MAX_HEADER = 100_000_000n;
const SIZES: Record<string, bigint> = { F32: 4n, F16: 2n, BF16: 2n };

/** Strict UTF-8 → string; null on overlongs, surrogates, code points above U+10FFFF or truncation. */
function utf8(bytes: Uint8Array): string | null {
  const cps: number[] = [];
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let need: number, cp: number, min: number;
    if (b < 0x80) [need, cp, min] = [0, b, 0];
    else if (b >= 0xc2 && b <= 0xdf) [need, cp, min] = [1, b & 0x1f, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, cp, min] = [2, b & 0x0f, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, cp, min] = [3, b & 0x07, 0x10000];
    else return null;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return null;
      cp = cp * 64 + (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    cps.push(cp);
    i += need + 1;
  }
  let s = "";
  for (let i = 0; i < cps.length; i += 4096) s += String.fromCodePoint(...cps.slice(i, i + 4096));
  return s;
}

type J = null | boolean | string | bigint | { float: number } | J[] | { entries: [string, J][] };

const TOKEN =
  // deno-lint-ignore no-control-regex -- JSON strings exclude U+0000..U+001F: the range is intended
  /([ \t\n\r]+)|([{}[\]:,])|("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(true|false|null)/y;

/** JSON as serde_json reads it (plus: a repeated key is refused); null when refused. */
function json(text: string): J | undefined {
  const toks: string[] = [];
  let at = 0;
  while (at < text.length) {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) return undefined;
    at += m[0].length;
    if (m[1] === undefined) toks.push(m[0]);
  }
  let p = 0;
  const bad = Symbol();
  const val = (depth: number): J | typeof bad => {
    const t = toks[p++];
    if (t === undefined) return bad;
    if (t === "{" || t === "[") {
      if (depth + 1 > 127) return bad; // at most 127 nested containers
      if (t === "[") {
        const arr: J[] = [];
        if (toks[p] === "]") return (p++, arr);
        for (;;) {
          const v = val(depth + 1);
          if (v === bad) return bad;
          arr.push(v);
          const sep = toks[p++];
          if (sep === "]") return arr;
          if (sep !== ",") return bad;
        }
      }
      const entries: [string, J][] = [];
      if (toks[p] === "}") return (p++, { entries });
      for (;;) {
        const k = toks[p++];
        if (k === undefined || k[0] !== '"') return bad;
        const key = str(k);
        if (key === null || entries.some(([e]) => e === key)) return bad;
        if (toks[p++] !== ":") return bad;
        const v = val(depth + 1);
        if (v === bad) return bad;
        entries.push([key, v]);
        const sep = toks[p++];
        if (sep === "}") return { entries };
        if (sep !== ",") return bad;
      }
    }
    if (t[0] === '"') return str(t) ?? bad;
    if (t === "true") return true;
    if (t === "false") return false;
    if (t === "null") return null;
    if (/^-?[0-9]/.test(t)) return /[.eE]/.test(t) ? { float: Number(t) } : BigInt(t);
    return bad;
  };
  const v = val(0);
  if (v === bad || p !== toks.length) return undefined;
  return v;
}

/** A JSON string token's value; null when its escapes leave a lone surrogate. */
function str(tok: string): string | null {
  const s = JSON.parse(tok) as string;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return null;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return null;
  }
  return s;
}

function usize(v: J | undefined): v is bigint {
  return typeof v === "bigint" && v >= 0n && v <= U64_MAX;
}

function get(o: { entries: [string, J][] }, k: string): J | undefined {
  return o.entries.find(([e]) => e === k)?.[1];
}

function isObj(v: J | undefined): v is { entries: [string, J][] } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "entries" in v;
}

function half(bits: number): number {
  const s = bits >> 15 ? -1 : 1;
  const e = (bits >> 10) & 31;
  const f = bits & 1023;
  if (e === 31) return f ? NaN : s * Infinity;
  return e === 0 ? s * Math.pow(2, -14) * (f / 1024) : s * Math.pow(2, e - 15) * (1 + f / 1024);
}

/** Reads `bytes` by the rules above; null when the file is refused. */
export function oracleRead(bytes: Uint8Array): OracleFile | null {
  if (bytes.length < 8) return null;
  let n = 0n;
  for (let k = 7; k >= 0; k--) n = n * 256n + BigInt(bytes[k]);
  if (n > MAX_HEADER || 8n + n > BigInt(bytes.length)) return null;
  const text = utf8(bytes.subarray(8, 8 + Number(n)));
  if (text === null) return null;
  const root = json(text);
  if (!isObj(root)) return null;
  const dataLen = BigInt(bytes.length) - 8n - n;
  const metadata: [string, string][] = [];
  const infos: { name: string; dtype: string; shape: bigint[]; b: bigint; e: bigint; nbytes: bigint }[] = [];
  for (const [name, v] of root.entries) {
    if (name === "__metadata__") {
      if (v === null) continue;
      if (!isObj(v)) return null;
      for (const [k, s] of v.entries) {
        if (typeof s !== "string") return null;
        metadata.push([k, s]);
      }
      continue;
    }
    if (!isObj(v)) return null;
    const dtype = get(v, "dtype"), shape = get(v, "shape"), offs = get(v, "data_offsets");
    if (typeof dtype !== "string" || !Object.hasOwn(SIZES, dtype)) return null;
    if (!Array.isArray(shape) || !shape.every(usize)) return null;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(usize)) return null;
    let count = 1n;
    for (const d of shape as bigint[]) {
      count *= d;
      if (count > U64_MAX) return null;
    }
    const nbytes = count * SIZES[dtype];
    if (nbytes > U64_MAX) return null;
    if ((shape as bigint[]).some((d) => d > 2n ** 53n - 1n)) return null;
    infos.push({ name, dtype, shape: shape as bigint[], b: offs[0] as bigint, e: offs[1] as bigint, nbytes });
  }
  const order = [...infos].sort((
    x,
    y,
  ) => (x.b === y.b ? (x.e < y.e ? -1 : x.e > y.e ? 1 : 0) : x.b < y.b ? -1 : 1));
  let start = 0n;
  for (const t of order) {
    if (t.b !== start || t.e < t.b) return null;
    if (t.e - t.b !== t.nbytes) return null;
    start = t.e;
  }
  if (start !== dataLen) return null;
  const base = 8 + Number(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = infos.map((t) => {
    const size = Number(SIZES[t.dtype]);
    const count = Number(t.nbytes) / size;
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const at = base + Number(t.b) + i * size;
      if (t.dtype === "F32") data[i] = dv.getFloat32(at, true);
      else if (t.dtype === "F16") data[i] = half(dv.getUint16(at, true));
      else {
        const tmp = new DataView(new ArrayBuffer(4));
        tmp.setUint32(0, dv.getUint16(at, true) * 65536);
        data[i] = tmp.getFloat32(0);
      }
    }
    return { name: t.name, dtype: t.dtype, shape: t.shape.map(Number), data };
  });
  return { tensors, metadata };
}
