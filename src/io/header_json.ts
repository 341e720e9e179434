/**
 * The JSON of a safetensors header, parsed as strictly as the reference reader (Rust `serde_json`) reads
 * it, where `JSON.parse` is more lenient or loses information:
 *
 * - a key repeated in one object is an error (`JSON.parse` keeps the last one silently);
 * - integers are exact (`bigint`), so `1.0`, `1e2` and `2^64` are told apart from the integers the
 *   format's `usize` fields need (`JSON.parse` turns all of them into the same float);
 * - `\u` escapes must form well-formed UTF-16 (a lone surrogate is an error, as in serde_json);
 * - nesting deeper than {@link MAX_JSON_DEPTH} is an error (serde_json's recursion limit), so the parser's
 *   own recursion is bounded;
 * - only JSON whitespace (space, tab, CR, LF) may surround values; a byte-order mark or anything after the
 *   value is an error.
 *
 * Objects become `Map`s (key order kept; keys such as `__proto__` are plain data).
 *
 * @module
 */

/** A parsed header value: objects as `Map`s, integer literals as exact `bigint`s, other numbers as `number`. */
export type HeaderValue =
  | null
  | boolean
  | string
  | number
  | bigint
  | HeaderValue[]
  | Map<string, HeaderValue>;

/** Deepest nesting of arrays and objects accepted (serde_json's default recursion limit is 128). */
export const MAX_JSON_DEPTH = 127;

/** Malformed header JSON; the message says what and where (character offset). */
export class HeaderJsonError extends Error {
  /** Always "HeaderJsonError". */
  override name = "HeaderJsonError";
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * Parses `text` (one JSON value, optionally surrounded by JSON whitespace).
 *
 * @throws {HeaderJsonError} for anything that is not strict JSON as described in the module doc.
 */
export function parseHeaderJson(text: string): HeaderValue {
  let i = 0;
  const err = (what: string): never => {
    throw new HeaderJsonError(`${what} at character ${i}`);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const hex4 = (): number => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) err("invalid \\u escape");
    i += 4;
    return parseInt(h, 16);
  };
  const string = (): string => {
    i++; // opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= text.length) err("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) err("control character in string");
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      i++;
      const e = text[i++];
      if (e === '"' || e === "\\" || e === "/") out += e;
      else if (e === "b") out += "\b";
      else if (e === "f") out += "\f";
      else if (e === "n") out += "\n";
      else if (e === "r") out += "\r";
      else if (e === "t") out += "\t";
      else if (e === "u") {
        const u = hex4();
        if (u >= 0xdc00 && u <= 0xdfff) err("lone trailing surrogate in \\u escape");
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text[i] !== "\\" || text[i + 1] !== "u") err("lone leading surrogate in \\u escape");
          i += 2;
          const lo = hex4();
          if (lo < 0xdc00 || lo > 0xdfff) err("lone leading surrogate in \\u escape");
          out += String.fromCharCode(u, lo);
        } else out += String.fromCharCode(u);
      } else err("invalid escape");
      start = i;
    }
  };
  const value = (depth: number): HeaderValue => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_JSON_DEPTH) err(`nesting deeper than ${MAX_JSON_DEPTH}`);
      i++;
      ws();
      if (c === "[") {
        const arr: HeaderValue[] = [];
        if (text[i] === "]") {
          i++;
          return arr;
        }
        for (;;) {
          arr.push(value(depth + 1));
          ws();
          if (text[i] === ",") i++;
          else if (text[i] === "]") {
            i++;
            return arr;
          } else err("expected ',' or ']'");
        }
      }
      const obj = new Map<string, HeaderValue>();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') err("expected a string key");
        const keyAt = i;
        const key = string();
        if (obj.has(key)) {
          i = keyAt;
          err(`duplicate key ${JSON.stringify(key)}`);
        }
        ws();
        if (text[i] !== ":") err("expected ':'");
        i++;
        obj.set(key, value(depth + 1));
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return obj;
        } else err("expected ',' or '}'");
      }
    }
    if (c === '"') return string();
    if (text.startsWith("true", i)) return (i += 4, true);
    if (text.startsWith("false", i)) return (i += 5, false);
    if (text.startsWith("null", i)) return (i += 4, null);
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) err(i >= text.length ? "unexpected end" : "unexpected character");
    i += m![0].length;
    return m![1] === undefined && m![2] === undefined ? BigInt(m![0]) : Number(m![0]);
  };
  const v = value(0);
  ws();
  if (i < text.length) err("unexpected data after the JSON value");
  return v;
}
