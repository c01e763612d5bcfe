#pragma once
// Named chat templates rendered in C++ (no Jinja engine). The template is detected from a
// tokenizer_config.json's "chat_template" when recognisable, else chosen by setting.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "litestage/util/yaml_schema.hpp"

namespace litestage {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatTemplateKind { None, ChatML, Zephyr, Llama3 };

// "none" | "chatml" | "zephyr" | "llama3"; throws litestage::Error naming the valid values.
const EnumNames<ChatTemplateKind>& chat_template_names();  // "none", "chatml", "zephyr", "llama3"
ChatTemplateKind parse_chat_template(std::string_view name);
std::string chat_template_name(ChatTemplateKind kind);

// Renders a conversation. With add_generation_prompt the assistant header is appended so the
// model continues as the assistant. ChatML inserts Qwen2.5-Instruct's default system prompt
// when the conversation has none. Roles must be system, user or assistant (else
// litestage::Error). Exact output, per message:
//   chatml  "<|im_start|>{role}\n{content}<|im_end|>\n"; a leading system message renders first,
//           otherwise "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a
//           helpful assistant.<|im_end|>\n" does; generation prompt "<|im_start|>assistant\n".
//   zephyr  "<|{role}|>\n{content}</s>\n"; generation prompt "<|assistant|>\n".
//   llama3  "<|begin_of_text|>" before the first message, then
//           "<|start_header_id|>{role}<|end_header_id|>\n\n{content with surrounding whitespace
//           stripped}<|eot_id|>"; generation prompt
//           "<|start_header_id|>assistant<|end_header_id|>\n\n".
//   none    the contents joined with "\n" (roles ignored, nothing added before, between or
//           after; the generation prompt adds nothing): plain completion prompts.
//
// Encoding a rendered string: the llama3 text already holds BOS (<|begin_of_text|>), so encode
// it with EncodeOptions::add_bos = false (and parse_special = true so the tags become their
// ids). chatml (Qwen2: no BOS) and zephyr (TinyLlama: BOS not in the text) keep the tokenizer's
// own add_bos convention.
std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt);

// Reads tokenizer_config.json in dir (if any) and recognises its chat_template; None when absent
// or unrecognised. Throws litestage::Error when the file is malformed.
ChatTemplateKind detect_chat_template(const std::filesystem::path& dir);

// Recognises a Jinja chat template by the tags it writes: <|start_header_id|> -> Llama3,
// <|im_start|> -> ChatML, <|user|> and <|assistant|> -> Zephyr, else None.
ChatTemplateKind detect_chat_template_text(std::string_view jinja);

}  // namespace litestage
