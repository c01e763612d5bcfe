// Chat templates. Expected strings were produced while writing the tests by rendering the
// original Jinja templates with jinja2 (trim_blocks, lstrip_blocks, as transformers does):
// Qwen2.5's from ../shared/tokenizers/qwen2/tokenizer_config.json, TinyLlama-1.1B-Chat-v1.0's
// (eos_token "</s>") and Meta-Llama-3-Instruct's (bos_token "<|begin_of_text|>").

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "litestage/tokenizer/chat_template.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

using namespace litestage;

namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."},
    {"user", "What is 2+2?"},
    {"assistant", "4"},
    {"user", "  And 3+3?\n"},  // surrounding whitespace: kept by chatml/zephyr, trimmed by llama3
};

std::vector<ChatMessage> without_system() { return {kConversation.begin() + 1, kConversation.end()}; }

}  // namespace

TEST_CASE("chatml renders Qwen2.5's template", "[tokenizer][chat]") {
  CHECK(render_chat(ChatTemplateKind::ChatML, kConversation, true) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n"
        "<|im_start|>user\n  And 3+3?\n<|im_end|>\n"
        "<|im_start|>assistant\n");
  // No system message: Qwen2.5's default system prompt.
  CHECK(render_chat(ChatTemplateKind::ChatML, without_system(), true) ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n"
        "<|im_start|>user\n  And 3+3?\n<|im_end|>\n"
        "<|im_start|>assistant\n");
  CHECK(render_chat(ChatTemplateKind::ChatML, {{"user", "Hi"}}, false) ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n");
}

TEST_CASE("zephyr renders TinyLlama-Chat's template", "[tokenizer][chat]") {
  CHECK(render_chat(ChatTemplateKind::Zephyr, kConversation, true) ==
        "<|system|>\nBe brief.</s>\n"
        "<|user|>\nWhat is 2+2?</s>\n"
        "<|assistant|>\n4</s>\n"
        "<|user|>\n  And 3+3?\n</s>\n"
        "<|assistant|>\n");
  CHECK(render_chat(ChatTemplateKind::Zephyr, without_system(), false) ==
        "<|user|>\nWhat is 2+2?</s>\n"
        "<|assistant|>\n4</s>\n"
        "<|user|>\n  And 3+3?\n</s>\n");
}

TEST_CASE("llama3 renders Llama-3-Instruct's template", "[tokenizer][chat]") {
  CHECK(render_chat(ChatTemplateKind::Llama3, kConversation, true) ==
        "<|begin_of_text|>"
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // |trim is Python's str.strip(): Unicode whitespace too (U+3000, U+00A0).
  CHECK(render_chat(ChatTemplateKind::Llama3, {{"user", "\u3000 hi\u00A0\t"}}, false) ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
  CHECK(render_chat(ChatTemplateKind::Llama3, {}, true) == "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST_CASE("none joins contents with newlines", "[tokenizer][chat]") {
  CHECK(render_chat(ChatTemplateKind::None, kConversation, true) == "Be brief.\nWhat is 2+2?\n4\n  And 3+3?\n");
  CHECK(render_chat(ChatTemplateKind::None, {{"user", "Q: x\nRecall:"}}, true) == "Q: x\nRecall:");
  CHECK(render_chat(ChatTemplateKind::None, {}, true).empty());
}

TEST_CASE("chat template names and roles", "[tokenizer][chat]") {
  for (auto kind : {ChatTemplateKind::None, ChatTemplateKind::ChatML, ChatTemplateKind::Zephyr, ChatTemplateKind::Llama3}) {
    CHECK(parse_chat_template(chat_template_name(kind)) == kind);
  }
  CHECK_THROWS_WITH(parse_chat_template("jinja"), Catch::Contains("unknown 'jinja' (known: none, chatml, zephyr, llama3)"));
  CHECK_THROWS_WITH(render_chat(ChatTemplateKind::ChatML, {{"tool", "x"}}, false), Catch::Contains("role \"tool\""));
}

TEST_CASE("detect_chat_template recognises the formats by their tags", "[tokenizer][chat]") {
  auto dir = test::temp_dir("chat-detect");
  CHECK(detect_chat_template(dir) == ChatTemplateKind::None);  // no tokenizer_config.json
  auto write = [&](const nlohmann::json& config) { test::write_text(dir / "tokenizer_config.json", config.dump()); };
  write({{"chat_template", "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n'}}{% endfor %}"}});
  CHECK(detect_chat_template(dir) == ChatTemplateKind::ChatML);
  write({{"chat_template", "{% if m['role'] == 'user' %}{{ '<|user|>\\n' }}{% endif %}{{ '<|assistant|>' }}"}});
  CHECK(detect_chat_template(dir) == ChatTemplateKind::Zephyr);
  write({{"chat_template", "{{ bos_token }}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' }}"}});
  CHECK(detect_chat_template(dir) == ChatTemplateKind::Llama3);
  write({{"chat_template", nlohmann::json::array({{{"name", "tool_use"}, {"template", "<|im_start|>"}},
                                                  {{"name", "default"}, {"template", "<|user|><|assistant|>"}}})}});
  CHECK(detect_chat_template(dir) == ChatTemplateKind::Zephyr);
  write({{"chat_template", "{{ messages[0]['content'] }}"}});
  CHECK(detect_chat_template(dir) == ChatTemplateKind::None);
  write({{"bos_token", "<s>"}});
  CHECK(detect_chat_template(dir) == ChatTemplateKind::None);
  test::write_text(dir / "tokenizer_config.json", "{ not json");
  CHECK_THROWS_WITH(detect_chat_template(dir), Catch::Contains("malformed JSON"));
}

TEST_CASE("detect_chat_template on Qwen2.5's tokenizer_config.json", "[tokenizer][chat]") {
  REQUIRE_SHARED(config, "tokenizers/qwen2/tokenizer_config.json");
  CHECK(detect_chat_template(config.parent_path()) == ChatTemplateKind::ChatML);
}
