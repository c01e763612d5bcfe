#include <catch2/catch.hpp>

#include <fstream>

#include "litestage/model/config.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

// ModelConfig against the config.json files real checkpoints ship, and every refusal naming its
// field. The JSON below is the checkpoints' own text (hub files, transformers 4.35-4.45 era).

using namespace litestage;
using nlohmann::json;

namespace {

// TinyLlama/TinyLlama-1.1B-Chat-v1.0 config.json.
const char* kTinyLlama = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 5632,
  "max_position_embeddings": 2048,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 22,
  "num_key_value_heads": 4,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 10000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.35.0",
  "use_cache": true,
  "vocab_size": 32000
})";

// Qwen/Qwen2.5-0.5B-Instruct config.json.
const char* kQwen25 = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// meta-llama/Llama-3.2-1B-Instruct config.json.
const char* kLlama32 = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})";

ModelConfig parse(const char* text) { return ModelConfig::from_json(json::parse(text), "config.json"); }

// Every field of the struct, so a field added later without a comparison here is noticed by
// whoever adds it to the struct (keep in step with config.hpp).
void check_equal(const ModelConfig& a, const ModelConfig& b) {
  CHECK(a.model_type == b.model_type);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.num_hidden_layers == b.num_hidden_layers);
  CHECK(a.num_attention_heads == b.num_attention_heads);
  CHECK(a.num_key_value_heads == b.num_key_value_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.max_position_embeddings == b.max_position_embeddings);
  CHECK(a.rms_norm_eps == b.rms_norm_eps);
  CHECK(a.rope.theta == b.rope.theta);
  CHECK(a.rope.scaling == b.rope.scaling);
  CHECK(a.rope.factor == b.rope.factor);
  CHECK(a.rope.low_freq_factor == b.rope.low_freq_factor);
  CHECK(a.rope.high_freq_factor == b.rope.high_freq_factor);
  CHECK(a.rope.original_max_position_embeddings == b.rope.original_max_position_embeddings);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.qkv_bias == b.qkv_bias);
  CHECK(a.o_bias == b.o_bias);
  CHECK(a.bos_token_id == b.bos_token_id);
  CHECK(a.eos_token_ids == b.eos_token_ids);
  CHECK(a.pad_token_id == b.pad_token_id);
  CHECK(a.initializer_range == b.initializer_range);
  CHECK(a.torch_dtype == b.torch_dtype);
}

// The TinyLlama config with one key changed (or removed, for a null value).
json tinyllama_with(const std::string& key, const json& value) {
  json j = json::parse(kTinyLlama);
  if (value.is_null()) {
    j.erase(key);
  } else {
    j[key] = value;
  }
  return j;
}

json qwen_with(const std::string& key, const json& value) {
  json j = json::parse(kQwen25);
  j[key] = value;
  return j;
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("config: TinyLlama-1.1B", "[model][config]") {
  auto c = parse(kTinyLlama);
  CHECK(c.model_type == "llama");
  CHECK(c.vocab_size == 32000);
  CHECK(c.hidden_size == 2048);
  CHECK(c.intermediate_size == 5632);
  CHECK(c.num_hidden_layers == 22);
  CHECK(c.num_attention_heads == 32);
  CHECK(c.num_key_value_heads == 4);
  CHECK(c.kv_groups() == 8);
  CHECK(c.head_dim == 64);  // hidden / heads: TinyLlama's config has no head_dim
  CHECK(c.max_position_embeddings == 2048);
  CHECK(c.rms_norm_eps == 1e-5);
  CHECK(c.rope.theta == 10000.0);
  CHECK(c.rope.scaling == RopeScaling::None);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK_FALSE(c.qkv_bias);
  CHECK_FALSE(c.o_bias);
  REQUIRE(c.bos_token_id);
  CHECK(*c.bos_token_id == 1);
  CHECK(c.eos_token_ids == std::vector<int64_t>{2});
  CHECK_FALSE(c.pad_token_id);
  CHECK(c.torch_dtype == "bfloat16");
  // embed 32000*2048 + lm_head 32000*2048 + 22 * (attn 2048*(2048+256+256) + 2048*2048
  // + mlp 3*2048*5632 + norms 2*2048) + final norm 2048: the "1.1B" of the name.
  CHECK(c.num_parameters() == 1100048384);
}

TEST_CASE("config: Qwen2.5-0.5B (tied, q/k/v bias, sliding window off)", "[model][config]") {
  auto c = parse(kQwen25);
  CHECK(c.model_type == "qwen2");
  CHECK(c.vocab_size == 151936);
  CHECK(c.hidden_size == 896);
  CHECK(c.intermediate_size == 4864);
  CHECK(c.num_hidden_layers == 24);
  CHECK(c.num_attention_heads == 14);
  CHECK(c.num_key_value_heads == 2);
  CHECK(c.head_dim == 64);
  CHECK(c.max_position_embeddings == 32768);
  CHECK(c.rms_norm_eps == 1e-6);
  CHECK(c.rope.theta == 1000000.0);
  CHECK(c.rope.scaling == RopeScaling::None);
  CHECK(c.tie_word_embeddings);
  CHECK(c.qkv_bias);    // Qwen2 always has q/k/v biases ...
  CHECK_FALSE(c.o_bias);  // ... and none on o_proj
  REQUIRE(c.bos_token_id);
  CHECK(*c.bos_token_id == 151643);
  CHECK(c.eos_token_ids == std::vector<int64_t>{151645});
  // Hugging Face reports 494,032,768 parameters for Qwen2.5-0.5B (tied: embeddings counted once).
  CHECK(c.num_parameters() == 494032768);
}

TEST_CASE("config: Llama-3.2-1B (llama3 rope scaling, eos list, head_dim)", "[model][config]") {
  auto c = parse(kLlama32);
  CHECK(c.model_type == "llama");
  CHECK(c.vocab_size == 128256);
  CHECK(c.hidden_size == 2048);
  CHECK(c.num_hidden_layers == 16);
  CHECK(c.num_attention_heads == 32);
  CHECK(c.num_key_value_heads == 8);
  CHECK(c.head_dim == 64);
  CHECK(c.max_position_embeddings == 131072);
  CHECK(c.rope.theta == 500000.0);
  CHECK(c.rope.scaling == RopeScaling::Llama3);
  CHECK(c.rope.factor == 32.0);
  CHECK(c.rope.low_freq_factor == 1.0);
  CHECK(c.rope.high_freq_factor == 4.0);
  CHECK(c.rope.original_max_position_embeddings == 8192);
  CHECK(c.tie_word_embeddings);
  REQUIRE(c.bos_token_id);
  CHECK(*c.bos_token_id == 128000);
  CHECK(c.eos_token_ids == std::vector<int64_t>{128001, 128008, 128009});
  CHECK(c.num_parameters() == 1235814400);  // Hugging Face's count for Llama-3.2-1B

  SECTION("an explicit head_dim wins over hidden / heads") {
    auto j = json::parse(kLlama32);
    j["head_dim"] = 128;  // as Qwen3 / Gemma configs do: q is (heads*128, hidden)
    auto d = ModelConfig::from_json(j);
    CHECK(d.head_dim == 128);
    CHECK(d.num_parameters() > c.num_parameters());
  }
  SECTION("older 'type' spelling of rope_scaling") {
    auto j = json::parse(kLlama32);
    j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
    auto d = ModelConfig::from_json(j);
    CHECK(d.rope.scaling == RopeScaling::Linear);
    CHECK(d.rope.factor == 2.0);
    j["rope_scaling"] = {{"rope_type", "default"}};
    CHECK(ModelConfig::from_json(j).rope.scaling == RopeScaling::None);
  }
}

TEST_CASE("config: to_json -> from_json round trips every field", "[model][config]") {
  for (const char* text : {kTinyLlama, kQwen25, kLlama32}) {
    auto a = parse(text);
    INFO(a.model_type << " " << a.hidden_size);
    auto j = a.to_json();
    CHECK(j.at("architectures")[0] == (a.model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
    auto b = ModelConfig::from_json(j, "round trip");
    check_equal(a, b);
    // And through text, as save_causal_lm writes it.
    check_equal(a, ModelConfig::from_json(json::parse(j.dump(2))));
  }
  SECTION("linear scaling, attention_bias, pad id and no eos") {
    auto j = json::parse(kTinyLlama);
    j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
    j["attention_bias"] = true;
    j["pad_token_id"] = 0;
    j["eos_token_id"] = nullptr;
    auto a = ModelConfig::from_json(j);
    CHECK(a.qkv_bias);
    CHECK(a.o_bias);
    CHECK(a.eos_token_ids.empty());
    check_equal(a, ModelConfig::from_json(a.to_json()));
  }
}

TEST_CASE("config: refusals name the field", "[model][config][errors]") {
  auto refuses = [](const json& j, const std::string& needle) {
    INFO("expecting an error containing: " << needle);
    CHECK_THROWS_AS(ModelConfig::from_json(j, "cfg.json"), Error);
    CHECK_THROWS_WITH(ModelConfig::from_json(j, "cfg.json"), Catch::Contains(needle) && Catch::Contains("cfg.json"));
  };
  SECTION("architecture and semantics the forward pass lacks") {
    refuses(tinyllama_with("model_type", "mistral"), "field 'model_type': 'mistral' is not supported");
    refuses(tinyllama_with("model_type", nullptr), "required field 'model_type' is missing");
    refuses(tinyllama_with("rope_scaling", {{"type", "yarn"}, {"factor", 4.0}}), "'rope_scaling.type' = 'yarn'");
    refuses(tinyllama_with("rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2.0}}),
            "'rope_scaling.type' = 'dynamic'");
    refuses(tinyllama_with("rope_scaling", "linear"), "field 'rope_scaling': expected an object");
    refuses(tinyllama_with("rope_scaling", {{"type", "linear"}, {"factor", 0.0}}), "'factor': must be positive");
    refuses(qwen_with("use_sliding_window", true), "field 'use_sliding_window'");
    refuses(tinyllama_with("hidden_act", "gelu"), "field 'hidden_act': 'gelu' is not supported");
    refuses(tinyllama_with("mlp_bias", true), "field 'mlp_bias'");
  }
  SECTION("inconsistent sizes") {
    refuses(tinyllama_with("num_key_value_heads", 5), "field 'num_key_value_heads' (5) must divide num_attention_heads (32)");
    refuses(tinyllama_with("num_attention_heads", 3), "field 'hidden_size': not divisible by num_attention_heads");
    refuses(tinyllama_with("head_dim", 63), "field 'head_dim' must be even");
    refuses(tinyllama_with("hidden_size", 0), "field 'hidden_size' must be positive");
    refuses(tinyllama_with("rms_norm_eps", -1.0), "field 'rms_norm_eps' must be positive");
    refuses(tinyllama_with("eos_token_id", 32000), "field 'eos_token_id' 32000 is outside the vocabulary");
    refuses(tinyllama_with("bos_token_id", json::array({1, 2})), "field 'bos_token_id': expected a single id");
  }
  SECTION("missing and mistyped fields") {
    refuses(tinyllama_with("hidden_size", nullptr), "required field 'hidden_size' is missing");
    refuses(tinyllama_with("vocab_size", nullptr), "required field 'vocab_size' is missing");
    refuses(tinyllama_with("num_hidden_layers", nullptr), "required field 'num_hidden_layers' is missing");
    refuses(tinyllama_with("hidden_size", "2048"), "field 'hidden_size': expected an integer, got string");
    refuses(tinyllama_with("num_hidden_layers", 22.5), "field 'num_hidden_layers': expected an integer, got number");
    refuses(tinyllama_with("rms_norm_eps", "1e-5"), "field 'rms_norm_eps': expected a number, got string");
    refuses(tinyllama_with("tie_word_embeddings", "false"), "field 'tie_word_embeddings': expected true or false");
    refuses(tinyllama_with("eos_token_id", "</s>"), "field 'eos_token_id': expected an integer or a list");
    refuses(tinyllama_with("eos_token_id", json::array({2, "x"})), "field 'eos_token_id'");
    refuses(json::array({1, 2}), "expected a JSON object");
  }
}

TEST_CASE("config: files and directories", "[model][config][errors]") {
  auto dir = test::temp_dir("config-files");
  SECTION("from_dir reads DIR/config.json, or the file itself") {
    write(dir / "config.json", kQwen25);
    check_equal(ModelConfig::from_dir(dir), parse(kQwen25));
    check_equal(ModelConfig::from_dir(dir / "config.json"), parse(kQwen25));
    check_equal(ModelConfig::from_file(dir / "config.json"), parse(kQwen25));
  }
  SECTION("errors from a file carry its path") {
    write(dir / "config.json", kTinyLlama);
    auto j = json::parse(kTinyLlama);
    j["hidden_act"] = "gelu";
    write(dir / "bad.json", j.dump());
    CHECK_THROWS_WITH(ModelConfig::from_file(dir / "bad.json"),
                      Catch::Contains((dir / "bad.json").string()) && Catch::Contains("hidden_act"));
  }
  SECTION("malformed JSON names the file") {
    write(dir / "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 2048,");
    CHECK_THROWS_AS(ModelConfig::from_file(dir / "config.json"), Error);
    CHECK_THROWS_WITH(ModelConfig::from_dir(dir),
                      Catch::Contains((dir / "config.json").string()) && Catch::Contains("malformed JSON"));
  }
  SECTION("a directory without config.json") {
    CHECK_THROWS_AS(ModelConfig::from_dir(dir), Error);
    CHECK_THROWS_WITH(ModelConfig::from_dir(dir), Catch::Contains(dir.string()) && Catch::Contains("no config.json"));
    CHECK_THROWS_WITH(ModelConfig::from_dir(dir / "nope"), Catch::Contains("no config.json"));
  }
  std::filesystem::remove_all(dir);
}
