#include "litestage/tokenizer/chat_template.hpp"

#include "litestage/tokenizer/hf_config.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

namespace {

constexpr const char* kQwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// Python's str.isspace() set, which Jinja's |trim uses.
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string python_strip(std::string_view s) {
  // Code-point boundaries of s, so the ends can be trimmed from both sides.
  size_t begin = 0, end = s.size();
  while (begin < end) {
    size_t i = begin;
    if (!utf8::sequence_length(s, i) || !is_python_space(utf8::next(s, i))) break;
    begin = i;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!utf8::sequence_length(s, i) || !is_python_space(utf8::next(s, i)) || i != end) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

void check_role(const ChatMessage& m, ChatTemplateKind kind) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    throw_error("chat template ", chat_template_name(kind), ": unsupported role \"", m.role,
                "\" (expected system, user or assistant)");
  }
}

// Qwen2.5-Instruct's template without tools: the first message, when it is a system message,
// becomes the system block; otherwise the default system prompt is inserted.
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    first = 1;
  } else {
    out += std::string("<|im_start|>system\n") + kQwenDefaultSystem + "<|im_end|>\n";
  }
  for (size_t i = first; i < messages.size(); ++i) {
    out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// TinyLlama-1.1B-Chat-v1.0 (Zephyr format); eos_token is </s>.
std::string render_zephyr(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

// Llama-3-Instruct: BOS text opens the first message; contents are |trim'med.
std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out += "<|begin_of_text|>";
    out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" + python_strip(messages[i].content) +
           "<|eot_id|>";
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_none(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i) out += '\n';
    out += messages[i].content;
  }
  return out;
}

}  // namespace

const EnumNames<ChatTemplateKind>& chat_template_names() {
  static const EnumNames<ChatTemplateKind> names = {{"none", ChatTemplateKind::None},
                                                    {"chatml", ChatTemplateKind::ChatML},
                                                    {"zephyr", ChatTemplateKind::Zephyr},
                                                    {"llama3", ChatTemplateKind::Llama3}};
  return names;
}

ChatTemplateKind parse_chat_template(std::string_view name) {
  return enum_from_name(chat_template_names(), std::string(name), "chat template");
}

std::string chat_template_name(ChatTemplateKind kind) { return enum_name(chat_template_names(), kind); }

std::string render_chat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  for (const auto& m : messages) check_role(m, kind);
  switch (kind) {
    case ChatTemplateKind::None:
      return render_none(messages);
    case ChatTemplateKind::ChatML:
      return render_chatml(messages, add_generation_prompt);
    case ChatTemplateKind::Zephyr:
      return render_zephyr(messages, add_generation_prompt);
    case ChatTemplateKind::Llama3:
      return render_llama3(messages, add_generation_prompt);
  }
  return render_none(messages);
}

ChatTemplateKind detect_chat_template_text(std::string_view jinja) {
  // Markers are the literal tags each format writes; checked most specific first.
  if (jinja.find("<|start_header_id|>") != std::string_view::npos) return ChatTemplateKind::Llama3;
  if (jinja.find("<|im_start|>") != std::string_view::npos) return ChatTemplateKind::ChatML;
  if (jinja.find("<|user|>") != std::string_view::npos && jinja.find("<|assistant|>") != std::string_view::npos) {
    return ChatTemplateKind::Zephyr;
  }
  return ChatTemplateKind::None;
}

ChatTemplateKind detect_chat_template(const std::filesystem::path& dir) {
  HfConventions conv = read_hf_conventions(dir);
  if (!conv.chat_template) return ChatTemplateKind::None;
  return detect_chat_template_text(*conv.chat_template);
}

}  // namespace litestage
