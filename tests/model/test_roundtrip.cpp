#include <catch2/catch.hpp>

#include <set>

#include "litestage/io/safetensors.hpp"
#include "litestage/util/strings.hpp"
#include "model_fixtures.hpp"
#include "support.hpp"

// save_causal_lm -> load_causal_lm: a checkpoint directory written by LiteStage loads back to the
// very same model (bit-identical logits), in Hugging Face's layout.

using namespace litestage;
using namespace litestage::test;

namespace {

const std::vector<int64_t> kIds = {1, 5, 17, 42, 8, 63, 29, 3, 77, 11, 0, 96};

torch::Tensor logits_of(CausalLM& m) {
  torch::NoGradGuard ng;
  return m->forward(torch::tensor(kIds).view({1, -1})).squeeze(0);
}

std::set<std::string> keys_of(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  std::set<std::string> out;
  for (const auto& item : dict) out.insert(item.key());
  return out;
}

std::set<std::string> file_tensor_names(const std::filesystem::path& file) {
  io::SafeTensorsFile f(file);
  std::set<std::string> out;
  for (const auto& t : f.tensors()) out.insert(t.name);
  return out;
}

struct Case {
  const char* name;
  ModelConfig config;
};

}  // namespace

TEST_CASE("save_causal_lm -> load_causal_lm gives identical logits", "[model][roundtrip]") {
  for (const auto& c : {Case{"llama (untied, GQA)", tiny_llama_config()},
                        Case{"qwen2 (tied, q/k/v bias, MQA)", tiny_qwen2_config()}}) {
    INFO(c.name);
    auto m = random_model(c.config, 21);
    auto dir = temp_dir(std::string("roundtrip-") + c.config.model_type);
    save_causal_lm(m, dir);
    REQUIRE(std::filesystem::is_regular_file(dir / "config.json"));
    REQUIRE(std::filesystem::is_regular_file(dir / "model.safetensors"));

    auto loaded = load_causal_lm(dir);
    CHECK(loaded->runtime().dtype == torch::kFloat);
    CHECK(keys_of(loaded->named_parameters()) == keys_of(m->named_parameters()));
    CHECK(keys_of(loaded->named_buffers()) == keys_of(m->named_buffers()));
    // Every tensor bit for bit, and so the logits.
    auto src = m->named_parameters();
    for (const auto& p : loaded->named_parameters()) {
      INFO(p.key());
      CHECK(torch::equal(p.value(), src[p.key()]));
    }
    CHECK(torch::equal(logits_of(loaded), logits_of(m)));
    CHECK_FALSE(loaded->is_training());

    // The file holds exactly the state dict; a tied model omits lm_head, as save_pretrained does.
    auto names = file_tensor_names(dir / "model.safetensors");
    CHECK(names == keys_of(m->named_parameters()));
    CHECK(names.count("lm_head.weight") == (c.config.tie_word_embeddings ? 0u : 1u));
    CHECK(names.count("model.layers.0.self_attn.q_proj.bias") == (c.config.qkv_bias ? 1u : 0u));
    CHECK(names.count("model.layers.0.self_attn.o_proj.bias") == 0u);

    // config.json parses back to the model's config (torch_dtype records what was saved).
    auto saved = ModelConfig::from_dir(dir);
    CHECK(saved.torch_dtype == "float32");
    saved.torch_dtype = c.config.torch_dtype;
    CHECK(saved.to_json() == c.config.to_json());
    CHECK(loaded->config().to_json() == ModelConfig::from_dir(dir).to_json());
    CHECK(saved.tie_word_embeddings == c.config.tie_word_embeddings);
    CHECK(saved.qkv_bias == c.config.qkv_bias);
    CHECK(saved.eos_token_ids == c.config.eos_token_ids);
    CHECK(saved.bos_token_id == c.config.bos_token_id);
    CHECK(saved.rope.theta == c.config.rope.theta);
    CHECK(saved.rms_norm_eps == c.config.rms_norm_eps);
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("a tied checkpoint loads with output_weight = embed_tokens", "[model][roundtrip]") {
  auto m = random_model(tiny_qwen2_config(), 22);
  auto dir = temp_dir("roundtrip-tied");
  save_causal_lm(m, dir);
  auto loaded = load_causal_lm(dir);
  CHECK(loaded->output_weight().data_ptr() == loaded->model->embed_tokens->weight.data_ptr());
  // Overwriting the embedding changes the logits: the output projection really is shared.
  torch::NoGradGuard ng;
  auto before = logits_of(loaded);
  loaded->model->embed_tokens->weight.mul_(2.0);
  CHECK_FALSE(torch::allclose(logits_of(loaded), before));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a checkpoint saved in f32 loads in bf16 close to f32", "[model][roundtrip][dtype]") {
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config()}) {
    INFO(cfg.model_type);
    auto m = random_model(cfg, 23);
    auto dir = temp_dir("roundtrip-bf16-" + cfg.model_type);
    save_causal_lm(m, dir);
    auto bf = load_causal_lm(dir, Runtime{torch::kCPU, torch::kBFloat16});
    for (const auto& p : bf->parameters()) CHECK(p.scalar_type() == torch::kBFloat16);
    auto out = logits_of(bf);
    CHECK(out.scalar_type() == torch::kFloat);
    auto ref = logits_of(m);
    CHECK_FALSE(torch::equal(out, ref));  // it really ran in bf16
    CHECK(max_rel_error(out, ref) < 5e-2);

    // A bf16 model saves as bf16 and says so; reloading it is exact.
    auto dir2 = temp_dir("roundtrip-bf16-resave-" + cfg.model_type);
    save_causal_lm(bf, dir2);
    CHECK(ModelConfig::from_dir(dir2).torch_dtype == "bfloat16");
    io::SafeTensorsFile f(dir2 / "model.safetensors");
    for (const auto& t : f.tensors()) CHECK(t.dtype == io::DType::BF16);
    auto bf2 = load_causal_lm(dir2, Runtime{torch::kCPU, torch::kBFloat16});
    CHECK(torch::equal(logits_of(bf2), out));
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(dir2);
  }
}

TEST_CASE("load_causal_lm names what is wrong with a directory", "[model][roundtrip][errors]") {
  auto m = random_model(tiny_llama_config(), 24);
  auto dir = temp_dir("roundtrip-errors");
  CHECK_THROWS_WITH(load_causal_lm(dir), Catch::Contains("no config.json"));
  save_causal_lm(m, dir);
  SECTION("weights for a different shape") {
    auto j = tiny_llama_config().to_json();
    j["intermediate_size"] = 40;
    write_file_atomic((dir / "config.json").string(), j.dump());
    CHECK_THROWS_WITH(load_causal_lm(dir), Catch::Contains("model.layers.0.mlp.gate_proj.weight") &&
                                               Catch::Contains("[48, 32]") && Catch::Contains("[40, 32]"));
  }
  SECTION("a config that declares tied embeddings still loads an untied export, ignoring lm_head") {
    auto j = tiny_llama_config().to_json();
    j["tie_word_embeddings"] = true;
    write_file_atomic((dir / "config.json").string(), j.dump());
    auto loaded = load_causal_lm(dir);
    CHECK_FALSE(loaded->named_parameters().contains("lm_head.weight"));
  }
  SECTION("no weights") {
    std::filesystem::remove(dir / "model.safetensors");
    CHECK_THROWS_WITH(load_causal_lm(dir), Catch::Contains("model.safetensors"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("grow_layers adds identity layers: the grown model computes what the small one did", "[model]") {
  for (const ModelConfig& config : {tiny_llama_config(), tiny_qwen2_config()}) {
    INFO(config.model_type);
    CausalLM small(config);
    small->init_weights(7);
    CausalLM grown = grow_layers(small, config.num_hidden_layers + 3, 11);
    REQUIRE(grown->num_layers() == small->num_layers() + 3);
    CHECK(torch::allclose(logits_of(grown), logits_of(small), 1e-5, 1e-5));
    // Copied where the names match; the added layers are trainable, with zero output projections.
    auto params = grown->named_parameters();
    for (const auto& item : small->named_parameters()) CHECK(torch::equal(*params.find(item.key()), item.value()));
    const std::string added = "model.layers." + std::to_string(config.num_hidden_layers) + ".";
    CHECK(params.find(added + "self_attn.o_proj.weight")->abs().max().item<float>() == 0.0f);
    CHECK(params.find(added + "mlp.down_proj.weight")->abs().max().item<float>() == 0.0f);
    CHECK(params.find(added + "self_attn.q_proj.weight")->abs().max().item<float>() > 0.0f);
    CHECK_THROWS_WITH(grow_layers(small, config.num_hidden_layers - 1, 0), Catch::Contains("cannot shrink"));
  }
}
