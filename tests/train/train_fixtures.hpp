#pragma once
// A tiny random Llama and fixed pre-tokenised SFT data, so trainer tests need no tokenizer files
// and run in seconds on two cores.

#include <random>

#include <torch/torch.h>

#include "litestage/data/shuffle.hpp"
#include "litestage/model/causal_lm.hpp"
#include "litestage/train/trainer.hpp"
#include "support.hpp"

namespace litestage::test {

constexpr int32_t kBos = 1;
constexpr int32_t kEos = 2;

inline ModelConfig tiny_train_config(bool tied = false) {
  return ModelConfig::from_json(nlohmann::json{{"model_type", "llama"},
                                               {"vocab_size", 64},
                                               {"hidden_size", 32},
                                               {"intermediate_size", 64},
                                               {"num_hidden_layers", 2},
                                               {"num_attention_heads", 4},
                                               {"num_key_value_heads", 2},
                                               {"max_position_embeddings", 64},
                                               {"rms_norm_eps", 1e-5},
                                               {"tie_word_embeddings", tied},
                                               {"bos_token_id", kBos},
                                               {"eos_token_id", kEos}});
}

inline CausalLM tiny_model(uint64_t seed = 1, bool tied = false) {
  CausalLM m(tiny_train_config(tied));
  m->init_weights(seed);
  return m;
}

// n examples: BOS + 4..9 prompt tokens, 2..5 target tokens + EOS, ids in [3, 64), kinds cycling.
inline std::vector<SftExample> tiny_examples(size_t n, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  auto draw = [&](uint64_t lo, uint64_t hi) { return static_cast<int32_t>(lo + uniform_below(rng, hi - lo)); };
  std::vector<SftExample> out;
  for (size_t i = 0; i < n; ++i) {
    SftExample ex;
    ex.kind = static_cast<StageKind>(i % 3);
    ex.prompt.push_back(kBos);
    for (int k = 0, len = draw(4, 10); k < len; ++k) ex.prompt.push_back(draw(3, 64));
    for (int k = 0, len = draw(2, 6); k < len; ++k) ex.target.push_back(draw(3, 64));
    ex.target.push_back(kEos);
    out.push_back(std::move(ex));
  }
  return out;
}

// Small-model settings: no warmup, a high lr, no periodic eval, nothing printed.
inline TrainConfig tiny_train_settings(const std::string& name) {
  TrainConfig c;
  c.output_dir = temp_dir(name).string();
  c.seed = 3;
  c.runtime.precision = Precision::F32;
  c.optimizer.lr = 1e-2;
  c.optimizer.min_lr = 1e-3;
  c.optimizer.weight_decay = 0.01;
  c.training.batch_size = 4;
  c.training.max_steps = 40;
  c.training.log_every = 1000;
  return c;
}

inline TrainerHooks quiet_hooks() {
  TrainerHooks h;
  h.on_log = [](const TrainLogRecord&) {};
  h.on_eval = [](const EvalRecord&) {};
  h.on_message = [](const std::string&) {};
  return h;
}

inline bool same_parameters(CausalLM& a, CausalLM& b) {
  auto pa = a->named_parameters();
  auto pb = b->named_parameters();
  if (pa.size() != pb.size()) return false;
  for (const auto& item : pa) {
    if (!pb.contains(item.key())) return false;
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  }
  return true;
}

}  // namespace litestage::test
