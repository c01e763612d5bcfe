#pragma once
// Named chat templates rendered in C++ (no Jinja engine). The template is detected from a
// tokenizer_config.json's "chat_template" when recognisable, else chosen by setting.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace litestage {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatTemplateKind { None, ChatML, Zephyr, Llama3 };

// "none" | "chatml" | "zephyr" | "llama3"; throws litestage::Error naming the valid values.
ChatTemplateKind parse_chat_template(std::string_view name);
std::string chat_template_name(ChatTemplateKind kind);

// Renders a conversation. With add_generation_prompt the assistant header is appended so the
// model continues as the assistant. ChatML inserts Qwen2.5-Instruct's default system prompt
// when the conversation has none.
std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt);

// Reads tokenizer_config.json in dir (if any) and recognises its chat_template; None when absent
// or unrecognised.
ChatTemplateKind detect_chat_template(const std::filesystem::path& dir);

}  // namespace litestage
