// Tokenizers: a small byte-level BPE tokenizer.json written here (merges, special tokens, a post-processor
// adding BOS/EOS) with ids worked out by hand; round trips, padding sides and masks, truncation, special
// tokens, chat templates, AutoTokenizer's files and errors; the shipped byte-level checkpoint's tokenizer
// against TextEncoder/TextDecoder for every byte.
import { assert, assertEquals, assertRejects, assertThrows } from "./deps.ts";
import { AutoTokenizer, PreTrainedTokenizer } from "../src/text/mod.ts";

// GPT-2's byte → character table, written out independently of src/text/byte_level.ts: printable
// Latin-1 bytes stand for themselves; the other 68 bytes take U+0100.. in byte order.
function gpt2Table(): string[] {
  const t: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    t.push(String.fromCodePoint(printable ? b : next++));
  }
  return t;
}

const BOS = 259, EOS = 260, PAD = 261;

function smallBpe(): Record<string, unknown> {
  const table = gpt2Table();
  const vocab: Record<string, number> = {};
  table.forEach((c, b) => vocab[c] = b);
  vocab["he"] = 256;
  vocab["\u0120t"] = 257; // "Ġt"
  vocab["\u0120the"] = 258;
  const added = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const special = (s: string, id: number) => ({ id: s, ids: [id], tokens: [s] });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [added(BOS, "<s>"), added(EOS, "</s>"), added(PAD, "<pad>")],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      special_tokens: { "<s>": special("<s>", BOS), "</s>": special("</s>", EOS) },
    },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: ["h e", "\u0120 t", "\u0120t he"],
    },
  };
}

const CONFIG = {
  bos_token: "<s>",
  eos_token: "</s>",
  pad_token: "<pad>",
  clean_up_tokenization_spaces: false,
  chat_template: "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}" +
    "{% if add_generation_prompt %}<|assistant|>{% endif %}",
};

Deno.test("tokenizer: BPE merges, special tokens and decode, ids worked out by hand", () => {
  const tok = new PreTrainedTokenizer(smallBpe(), CONFIG);
  // "the" -> t + (h e) ; " the" -> Ġ t h e -> Ġ t he -> Ġt he -> Ġthe
  assertEquals(tok.encode("the the", { addSpecialTokens: false }), [116, 256, 258]);
  assertEquals(tok.encode("the the"), [BOS, 116, 256, 258, EOS]);
  assertEquals(tok.tokenize("the the"), ["t", "he", "\u0120the"]);
  assertEquals(tok.decode([BOS, 116, 256, 258, EOS]), "<s>the the</s>");
  assertEquals(tok.decode([BOS, 116, 256, 258, EOS], { skipSpecialTokens: true }), "the the");
  assertEquals([tok.bosTokenId, tok.eosTokenId, tok.padTokenId, tok.unkTokenId], [BOS, EOS, PAD, null]);
  assertEquals([tok.bosToken, tok.eosToken, tok.padToken], ["<s>", "</s>", "<pad>"]);
  assertEquals(tok.allSpecialIds, [BOS, EOS, PAD]);
  assertEquals(tok.vocabSize, 262);
  assertEquals(tok.convertTokensToIds(["he", "nope"]), [256, undefined]);
  assertEquals(tok.convertIdsToTokens([258]), ["\u0120the"]);
  const text = "Whales, é → 🐋\n\tthe end";
  assertEquals(tok.decode(tok.encode(text), { skipSpecialTokens: true }), text);
  assertThrows(() => tok.decode([262]), RangeError, "token id 262 at position 0");
  assertThrows(() => tok.decode([1.5]), RangeError, "1.5");
});

Deno.test("tokenizer: batches pad on either side with matching attention masks", () => {
  const tok = new PreTrainedTokenizer(smallBpe(), CONFIG);
  const right = tok.encodeBatch(["the", "the the"]);
  assertEquals(right.inputIds, [[BOS, 116, 256, EOS, PAD], [BOS, 116, 256, 258, EOS]]);
  assertEquals(right.attentionMask, [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]);
  assertEquals(right.shape, [2, 5]);
  const left = tok.encodeBatch(["the", "the the"], { paddingSide: "left" });
  assertEquals(left.inputIds, [[PAD, BOS, 116, 256, EOS], [BOS, 116, 256, 258, EOS]]);
  assertEquals(left.attentionMask, [[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]]);
  tok.paddingSide = "left"; // the tokenizer's default side is used when the call does not say
  assertEquals(tok.encodeBatch(["the", "the the"]).inputIds[0], [PAD, BOS, 116, 256, EOS]);
  const fixed = tok.encodeBatch(["the"], { padding: "max_length", maxLength: 6, paddingSide: "right" });
  assertEquals(fixed.inputIds, [[BOS, 116, 256, EOS, PAD, PAD]]);
  assertEquals(fixed.attentionMask, [[1, 1, 1, 1, 0, 0]]);
  const ragged = tok.encodeBatch(["the", "the the"], { padding: false });
  assertEquals(ragged.shape, null);
  assertEquals(ragged.inputIds[0], [BOS, 116, 256, EOS]);
  assertThrows(
    () => tok.encodeBatch(["the the the"], { padding: "max_length", maxLength: 4 }),
    RangeError,
    "truncation",
  );
  assertThrows(() => tok.encodeBatch(["the"], { padding: "most" as never }), RangeError, '"most"');
  assertThrows(() => tok.encodeBatch(["the"], { paddingSide: "top" as never }), RangeError, '"top"');
  const noPad = new PreTrainedTokenizer(smallBpe(), { ...CONFIG, pad_token: undefined });
  assertEquals(noPad.padTokenId, null);
  assertThrows(() => noPad.encodeBatch(["the", "the the"]), RangeError, "no pad token");
  noPad.padToken = "</s>";
  assertEquals(noPad.encodeBatch(["the", "the the"]).inputIds[0], [BOS, 116, 256, EOS, EOS]);
});

Deno.test("tokenizer: truncation keeps the special tokens and cuts the chosen side", () => {
  const tok = new PreTrainedTokenizer(smallBpe(), CONFIG);
  // "the the the" -> t he Ġthe Ġthe
  assertEquals(tok.encode("the the the", { addSpecialTokens: false }), [116, 256, 258, 258]);
  assertEquals(tok.encode("the the the", { truncation: true, maxLength: 4 }), [BOS, 116, 256, EOS]);
  assertEquals(
    tok.encode("the the the", { truncation: true, maxLength: 4, truncationSide: "left" }),
    [BOS, 258, 258, EOS],
  );
  assertEquals(tok.encode("the", { truncation: true, maxLength: 10 }), [BOS, 116, 256, EOS]);
  const batch = tok.encodeBatch(["the the the", "the"], { truncation: true, maxLength: 4 });
  assertEquals(batch.inputIds, [[BOS, 116, 256, EOS], [BOS, 116, 256, EOS]]);
  assertThrows(() => tok.encode("the", { truncation: true, maxLength: 1 }), RangeError, "special tokens");
  assertThrows(() => tok.encode("the", { truncation: true, maxLength: 0 }), RangeError, "maxLength is 0");
});

Deno.test("tokenizer: chat template renders with the special tokens and encodes without adding more", () => {
  const tok = new PreTrainedTokenizer(smallBpe(), CONFIG);
  const messages = [{ role: "user", content: "the" }, { role: "assistant", content: "the the" }];
  assertEquals(
    tok.applyChatTemplate(messages, { tokenize: false, addGenerationPrompt: true }),
    "<|user|>the</s><|assistant|>the the</s><|assistant|>",
  );
  const ids = tok.applyChatTemplate([{ role: "user", content: "the" }]);
  // "<|user|>the</s>": "</s>" is a special token; the rest is byte-level text without BOS/EOS added
  assertEquals(ids.at(-1), EOS);
  assertEquals(ids.filter((i) => i === BOS).length, 0);
  assertEquals(tok.decode(ids), "<|user|>the</s>");
  assertEquals(
    tok.applyChatTemplate(messages, { tokenize: false, chatTemplate: "{{ messages | length }}" }),
    "2",
  );
  const none = new PreTrainedTokenizer(smallBpe(), { ...CONFIG, chat_template: undefined });
  assertThrows(() => none.applyChatTemplate(messages), Error, "chat_template");
  assertThrows(() => tok.applyChatTemplate([{ role: "user" } as never]), TypeError, "messages[0]");
  const named = new PreTrainedTokenizer(smallBpe(), {
    ...CONFIG,
    chat_template: [{ name: "default", template: "D" }, { name: "tool_use", template: "T" }],
  });
  assertEquals(named.applyChatTemplate(messages, { tokenize: false }), "D");
  assertEquals(named.applyChatTemplate(messages, { tokenize: false, chatTemplate: "tool_use" }), "T");
});

Deno.test("tokenizer: AutoTokenizer reads the three files; a missing tokenizer.json is a one-line error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(smallBpe()));
    // special_tokens_map.json fills what tokenizer_config.json does not set
    await Deno.writeTextFile(
      `${dir}/tokenizer_config.json`,
      JSON.stringify({
        bos_token: { content: "<s>" },
        padding_side: "left",
        clean_up_tokenization_spaces: false,
      }),
    );
    await Deno.writeTextFile(
      `${dir}/special_tokens_map.json`,
      JSON.stringify({ eos_token: "</s>", bos_token: "x" }),
    );
    const tok = await AutoTokenizer.fromPretrained(dir);
    assertEquals([tok.bosTokenId, tok.eosTokenId, tok.padTokenId], [BOS, EOS, null]);
    assertEquals(tok.paddingSide, "left");
    const out = `${dir}/saved`;
    tok.padToken = "<pad>";
    await tok.savePretrained(out);
    const again = await AutoTokenizer.fromPretrained(out);
    assertEquals(again.padTokenId, PAD);
    assertEquals(again.encode("the the"), tok.encode("the the"));
    assertEquals([...Deno.readDirSync(out)].map((e) => e.name).sort(), [
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    // an existing tokenizer is not replaced unless asked; nothing is written on refusal
    const savedBefore = await Deno.readTextFile(`${out}/tokenizer_config.json`);
    tok.padToken = null;
    await assertRejects(() => tok.savePretrained(out), Error, `${out}/tokenizer.json exists`);
    assertEquals(await Deno.readTextFile(`${out}/tokenizer_config.json`), savedBefore);
    await tok.savePretrained(out, { overwrite: true });
    assertEquals((await AutoTokenizer.fromPretrained(out)).padTokenId, null);
    tok.padToken = "<pad>";

    await Deno.remove(`${dir}/tokenizer.json`);
    const e = await assertRejects(
      () => AutoTokenizer.fromPretrained(dir),
      Error,
      `${dir}/tokenizer.json not found`,
    );
    assert(!e.message.includes("\n"), e.message);
    await assertRejects(() => AutoTokenizer.fromPretrained(`${dir}/nope`), Error, "does not exist");
    await Deno.writeTextFile(`${dir}/tokenizer.json`, "{ not json");
    await assertRejects(
      () => AutoTokenizer.fromPretrained(dir),
      SyntaxError,
      "tokenizer.json is not valid JSON",
    );
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(smallBpe()));
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ pad_token: "<nope>" }));
    await assertRejects(
      () => AutoTokenizer.fromPretrained(dir),
      RangeError,
      '"<nope>" is not in the vocabulary',
    );
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ padding_side: "middle" }));
    await assertRejects(() => AutoTokenizer.fromPretrained(dir), RangeError, "padding_side");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokenizer: the shipped byte-level checkpoint's tokenizer maps every byte to its own id", async () => {
  const dir = new URL("../examples/checkpoints/sotu-byte-llama", import.meta.url);
  const tok = await AutoTokenizer.fromPretrained(dir);
  const config = JSON.parse(await Deno.readTextFile(new URL(`${dir.pathname}/config.json`, "file:")));
  assertEquals(tok.vocabSize, config.vocab_size);
  assertEquals(tok.vocabSize, 256);
  assertEquals(tok.allSpecialIds, []);
  // id b is the token for byte b in GPT-2's table
  assertEquals(tok.convertIdsToTokens(Array.from({ length: 256 }, (_, b) => b)), gpt2Table());
  // every byte that can occur in UTF-8: all code points U+0000..U+07FF, plus 3- and 4-byte characters
  let text = "";
  for (let c = 0; c < 0x800; c++) text += String.fromCodePoint(c);
  text += "→€\uffff\u{10000}\u{1f40b}\u{10ffff}";
  const bytes = new TextEncoder().encode(text);
  const ids = tok.encode(text);
  assertEquals(ids, [...bytes]);
  assertEquals(tok.decode(ids), text);
  // decoding any bytes (all 256 values, invalid UTF-8 included) equals TextDecoder's replacement decoding
  let s = 12345;
  const rand = Array.from(
    { length: 4096 },
    (_, i) => i < 256 ? i : (s = (s * 1103515245 + 12345) >>> 0) >>> 24,
  );
  assertEquals(tok.decode(rand), new TextDecoder().decode(Uint8Array.from(rand)));
  for (let b = 0; b < 256; b++) {
    assertEquals(tok.decode([b]), new TextDecoder().decode(Uint8Array.of(b)), `byte ${b}`);
  }
  assertEquals(tok.encode(text, { truncation: true }).length, config.max_position_embeddings);
});
