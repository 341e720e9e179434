/**
 * Chat templates: the Jinja templates Hugging Face tokenizers carry in `tokenizer_config.json`
 * (`chat_template`), rendered with npm `@huggingface/jinja` (the implementation transformers.js uses).
 *
 * @module
 */

import { Template } from "@huggingface/jinja";

/** One message of a conversation: a role (`"system"`, `"user"`, `"assistant"`, ...) and its text. */
export interface ChatMessage {
  /** Who speaks. */
  role: string;
  /** What they say. */
  content: string;
  /** Other fields a template may read (e.g. `tool_calls`). */
  [key: string]: unknown;
}

/**
 * Renders `template` with `messages` and the other variables in `context`.
 *
 * @throws {TypeError} when a message lacks a string `role` or `content` (names its index)
 * @throws {Error} when the template does not parse or fails while rendering (`chat template: <reason>`)
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  context: Record<string, unknown> = {},
): string {
  if (!Array.isArray(messages)) throw new TypeError("messages must be an array of {role, content}");
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== "string" || typeof m.content !== "string") {
      throw new TypeError(`messages[${i}] must be {role: string, content: string}, got ${JSON.stringify(m)}`);
    }
  });
  let t: Template;
  try {
    t = new Template(template);
  } catch (e) {
    throw new Error(`chat template does not parse: ${(e as Error).message}`, { cause: e });
  }
  try {
    return t.render({ ...context, messages });
  } catch (e) {
    throw new Error(`chat template failed to render: ${(e as Error).message}`, { cause: e });
  }
}
