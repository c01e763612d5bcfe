#pragma once
// ModelConfig: the hyper-parameters of a Llama or Qwen2 decoder, parsed from a Hugging Face
// config.json. Everything the forward pass does not implement is refused at parse time with an
// error naming the field, so a checkpoint never runs with silently different semantics.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace litestage {

enum class RopeScaling { None, Linear, Llama3 };

struct RopeConfig {
  double theta = 10000.0;
  RopeScaling scaling = RopeScaling::None;
  double factor = 1.0;
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type = "llama";  // "llama" | "qwen2"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2: always; Llama: attention_bias
  bool o_bias = false;    // Llama attention_bias only; Qwen2's o_proj has none
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
  double initializer_range = 0.02;
  std::string torch_dtype;  // as recorded in the file, informational

  int64_t kv_groups() const { return num_attention_heads / num_key_value_heads; }

  // Parses and validates; `source` names the file in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source = "config.json");
  static ModelConfig from_file(const std::filesystem::path& path);
  // config.json inside a checkpoint directory, or the file itself.
  static ModelConfig from_dir(const std::filesystem::path& dir);

  // A config.json Hugging Face transformers can load (LlamaForCausalLM / Qwen2ForCausalLM).
  nlohmann::json to_json() const;
  void validate(const std::string& source = "config") const;

  // Parameter count (embeddings and lm_head counted once when tied).
  int64_t num_parameters() const;
};

}  // namespace litestage
