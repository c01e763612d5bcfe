#include "litestage/model/config.hpp"

#include <fstream>

#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {
namespace {

using nlohmann::json;

// Typed accessors that name the file and key on a type error.
class Reader {
 public:
  Reader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  int64_t integer(const char* key) const {
    require(key);
    const auto& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "expected an integer, got " + std::string(v.type_name()));
    return v.get<int64_t>();
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }

  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_number()) fail(key, "expected a number, got " + std::string(v.type_name()));
    return v.get<double>();
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "expected true or false, got " + std::string(v.type_name()));
    return v.get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_string()) fail(key, "expected a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }

  // int, list of ints, or null/absent.
  std::vector<int64_t> int_list(const char* key) const {
    if (!has(key)) return {};
    const auto& v = j_.at(key);
    if (v.is_number_integer()) return {v.get<int64_t>()};
    if (v.is_array()) {
      std::vector<int64_t> out;
      for (const auto& e : v) {
        if (!e.is_number_integer()) fail(key, "expected an integer or a list of integers");
        out.push_back(e.get<int64_t>());
      }
      return out;
    }
    fail(key, "expected an integer or a list of integers, got " + std::string(v.type_name()));
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw_error(source_, ": field '", key, "': ", what);
  }

 private:
  void require(const char* key) const {
    if (!has(key)) throw_error(source_, ": required field '", key, "' is missing");
  }
  const json& j_;
  std::string source_;
};

// The fields config.json holds as they are, read and written through this one list; their defaults
// are the struct's. The rest follow rules: computed defaults, keys that depend on model_type.
struct IntField {
  const char* key;
  int64_t ModelConfig::*member;
  bool required;
};
const std::vector<IntField>& int_fields() {
  static const std::vector<IntField> fields = {{"vocab_size", &ModelConfig::vocab_size, true},
                                               {"hidden_size", &ModelConfig::hidden_size, true},
                                               {"intermediate_size", &ModelConfig::intermediate_size, true},
                                               {"num_hidden_layers", &ModelConfig::num_hidden_layers, true},
                                               {"num_attention_heads", &ModelConfig::num_attention_heads, true},
                                               {"max_position_embeddings", &ModelConfig::max_position_embeddings, false}};
  return fields;
}
struct NumberField {
  const char* key;
  double ModelConfig::*member;
};
const std::vector<NumberField>& number_fields() {
  static const std::vector<NumberField> fields = {{"rms_norm_eps", &ModelConfig::rms_norm_eps},
                                                  {"initializer_range", &ModelConfig::initializer_range}};
  return fields;
}

RopeConfig parse_rope(const Reader& r, const json& j, const std::string& source) {
  RopeConfig rope;
  rope.theta = r.number("rope_theta", rope.theta);
  if (!j.contains("rope_scaling") || j.at("rope_scaling").is_null()) return rope;
  const json& s = j.at("rope_scaling");
  if (!s.is_object()) r.fail("rope_scaling", "expected an object or null");
  Reader rs(s, source + ": rope_scaling");
  // Newer transformers write "rope_type", older ones "type".
  std::string type = rs.string("rope_type", rs.string("type", "default"));
  if (type == "default") return rope;
  rope.factor = rs.number("factor", rope.factor);
  if (rope.factor <= 0) rs.fail("factor", "must be positive");
  if (type == "linear") {
    rope.scaling = RopeScaling::Linear;
  } else if (type == "llama3") {
    rope.scaling = RopeScaling::Llama3;
    rope.low_freq_factor = rs.number("low_freq_factor", rope.low_freq_factor);
    rope.high_freq_factor = rs.number("high_freq_factor", rope.high_freq_factor);
    rope.original_max_position_embeddings =
        rs.integer("original_max_position_embeddings", rope.original_max_position_embeddings);
    if (rope.high_freq_factor <= rope.low_freq_factor)
      rs.fail("high_freq_factor", "must be larger than low_freq_factor");
  } else {
    throw_error(source, ": field 'rope_scaling.type' = '", type,
                "' is not supported (supported: none, linear, llama3)");
  }
  return rope;
}

}  // namespace

ModelConfig ModelConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw_error(source, ": expected a JSON object");
  Reader r(j, source);
  ModelConfig c;
  c.model_type = r.string("model_type", "");
  if (c.model_type.empty()) throw_error(source, ": required field 'model_type' is missing");
  if (c.model_type != "llama" && c.model_type != "qwen2")
    r.fail("model_type", "'" + c.model_type + "' is not supported (supported: llama, qwen2)");

  for (const auto& f : int_fields()) c.*f.member = f.required ? r.integer(f.key) : r.integer(f.key, c.*f.member);
  for (const auto& f : number_fields()) c.*f.member = r.number(f.key, c.*f.member);
  c.num_key_value_heads = r.integer("num_key_value_heads", c.num_attention_heads);
  if (c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads != 0 && !r.has("head_dim"))
    r.fail("hidden_size", "not divisible by num_attention_heads and no head_dim given");
  c.head_dim = r.integer("head_dim", c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0);
  c.rope = parse_rope(r, j, source);
  c.torch_dtype = r.string("torch_dtype", "");

  std::string act = r.string("hidden_act", "silu");
  if (act != "silu") r.fail("hidden_act", "'" + act + "' is not supported (only silu / SwiGLU)");
  if (r.boolean("mlp_bias", false)) r.fail("mlp_bias", "true is not supported");

  if (c.model_type == "qwen2") {
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
    c.qkv_bias = true;
    c.o_bias = false;
    if (r.boolean("use_sliding_window", false))
      r.fail("use_sliding_window", "true is not supported (sliding-window attention is not implemented)");
  } else {
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
    bool bias = r.boolean("attention_bias", false);
    c.qkv_bias = bias;
    c.o_bias = bias;
  }

  auto bos = r.int_list("bos_token_id");
  if (bos.size() > 1) r.fail("bos_token_id", "expected a single id");
  if (!bos.empty()) c.bos_token_id = bos.front();
  c.eos_token_ids = r.int_list("eos_token_id");
  auto pad = r.int_list("pad_token_id");
  if (!pad.empty()) c.pad_token_id = pad.front();

  c.validate(source);
  return c;
}

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) throw_error(source, ": field '", key, "' must be positive, got ", v);
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(num_key_value_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  positive(max_position_embeddings, "max_position_embeddings");
  if (num_attention_heads % num_key_value_heads != 0)
    throw_error(source, ": field 'num_key_value_heads' (", num_key_value_heads,
                ") must divide num_attention_heads (", num_attention_heads, ")");
  if (head_dim % 2 != 0) throw_error(source, ": field 'head_dim' must be even for rotary embeddings");
  if (rms_norm_eps <= 0) throw_error(source, ": field 'rms_norm_eps' must be positive");
  for (auto id : eos_token_ids)
    if (id < 0 || id >= vocab_size) throw_error(source, ": field 'eos_token_id' ", id, " is outside the vocabulary");
  if (bos_token_id && (*bos_token_id < 0 || *bos_token_id >= vocab_size))
    throw_error(source, ": field 'bos_token_id' ", *bos_token_id, " is outside the vocabulary");
}

ModelConfig ModelConfig::from_file(const std::filesystem::path& path) {
  return from_json(read_json_file(path.string()), path.string());
}

ModelConfig ModelConfig::from_dir(const std::filesystem::path& dir) {
  if (std::filesystem::is_regular_file(dir)) return from_file(dir);
  auto path = dir / "config.json";
  if (!std::filesystem::exists(path))
    throw_error("model directory '", dir.string(), "' has no config.json");
  return from_file(path);
}

json ModelConfig::to_json() const {
  json j;
  bool qwen = model_type == "qwen2";
  j["architectures"] = json::array({qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"});
  j["model_type"] = model_type;
  for (const auto& f : int_fields()) j[f.key] = this->*f.member;
  for (const auto& f : number_fields()) j[f.key] = this->*f.member;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["rope_theta"] = rope.theta;
  switch (rope.scaling) {
    case RopeScaling::None: j["rope_scaling"] = nullptr; break;
    case RopeScaling::Linear: j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope.factor}}; break;
    case RopeScaling::Llama3:
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", rope.factor},
                           {"low_freq_factor", rope.low_freq_factor},
                           {"high_freq_factor", rope.high_freq_factor},
                           {"original_max_position_embeddings", rope.original_max_position_embeddings}};
      break;
  }
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (qwen) {
    j["use_sliding_window"] = false;
  } else {
    j["attention_bias"] = qkv_bias;
  }
  j["mlp_bias"] = false;
  j["hidden_act"] = "silu";
  j["bos_token_id"] = bos_token_id ? json(*bos_token_id) : json(nullptr);
  if (eos_token_ids.size() == 1) {
    j["eos_token_id"] = eos_token_ids.front();
  } else if (eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else {
    j["eos_token_id"] = eos_token_ids;
  }
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  if (!torch_dtype.empty()) j["torch_dtype"] = torch_dtype;
  return j;
}

int64_t ModelConfig::num_parameters() const {
  int64_t d = hidden_size, q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  int64_t attn = d * q + 2 * d * kv + q * d + (qkv_bias ? q + 2 * kv : 0) + (o_bias ? d : 0);
  int64_t mlp = 3 * d * intermediate_size;
  int64_t per_layer = attn + mlp + 2 * d;
  int64_t embed = vocab_size * d;
  return embed * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + d;
}

}  // namespace litestage
