/**
 * `text`: tokenizers (`AutoTokenizer` over npm `@huggingface/tokenizers`) and chat templates (npm
 * `@huggingface/jinja`).
 *
 * @module
 */

export { AutoTokenizer, SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from "./auto.ts";
export {
  type ApplyChatTemplateOptions,
  type BatchEncoding,
  type DecodeOptions,
  type EncodeBatchOptions,
  type EncodeOptions,
  type PaddingStrategy,
  PreTrainedTokenizer,
  type Side,
  type TokenizerConfig,
} from "./tokenizer.ts";
export { type ChatMessage, renderChatTemplate } from "./chat_template.ts";
export { byteLevelTokenizerFiles, bytesToUnicode, type TokenizerFiles } from "./byte_level.ts";
