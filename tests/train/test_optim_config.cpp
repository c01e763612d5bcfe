#include <catch2/catch.hpp>

#include "litestage/train/config.hpp"
#include "litestage/train/optim.hpp"
#include "litestage/util/error.hpp"
#include "model/model_fixtures.hpp"
#include "option_docs.hpp"
#include "train_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;

TEST_CASE("warmup + cosine schedule values", "[train][schedule]") {
  TrainOptimizerConfig c;
  c.lr = 1e-3;
  c.min_lr = 1e-4;
  c.warmup_steps = 4;
  const int64_t total = 20;
  CHECK(learning_rate(c, 0, total) == Approx(2.5e-4));
  CHECK(learning_rate(c, 1, total) == Approx(5e-4));
  CHECK(learning_rate(c, 3, total) == Approx(1e-3));  // last warmup step reaches the peak
  CHECK(learning_rate(c, 4, total) == Approx(1e-3));  // cosine starts at the peak
  CHECK(learning_rate(c, 12, total) == Approx(1e-4 + 9e-4 * 0.5));  // halfway
  CHECK(learning_rate(c, 8, total) == Approx(1e-4 + 9e-4 * 0.5 * (1 + std::cos(M_PI * 0.25))));
  CHECK(learning_rate(c, 20, total) == Approx(1e-4));
  CHECK(learning_rate(c, 25, total) == Approx(1e-4));
  for (int64_t s = 5; s < total; ++s) CHECK(learning_rate(c, s, total) < learning_rate(c, s - 1, total));

  c.schedule = LrScheduleKind::Constant;
  CHECK(learning_rate(c, 1, total) == Approx(5e-4));
  CHECK(learning_rate(c, 10, total) == Approx(1e-3));
  c.warmup_steps = 0;
  c.schedule = LrScheduleKind::Cosine;
  CHECK(learning_rate(c, 0, total) == Approx(1e-3));
}

TEST_CASE("weight decay applies to matrices, never to norms or biases", "[train][optim]") {
  CausalLM m = random_model(tiny_qwen2_config(), 3);  // has q/k/v biases and tied embeddings
  auto groups = decay_groups(*m);
  for (const auto& name : groups.no_decay) {
    INFO(name);
    CHECK((name.find("norm") != std::string::npos || name.find("bias") != std::string::npos));
  }
  for (const auto& name : groups.decay) {
    INFO(name);
    CHECK(name.find("norm") == std::string::npos);
    CHECK(name.find("bias") == std::string::npos);
  }
  CHECK(groups.decay.size() + groups.no_decay.size() == m->parameters().size());
  CHECK(std::count(groups.decay.begin(), groups.decay.end(), "model.embed_tokens.weight") == 1);

  // With zero gradients AdamW's only effect is the decoupled decay p *= 1 - lr * wd.
  TrainOptimizerConfig c;
  c.lr = 0.1;
  c.weight_decay = 0.5;
  auto opt = make_adamw(*m, c);
  REQUIRE(opt->param_groups().size() == 2);
  std::map<std::string, torch::Tensor> before;
  for (const auto& item : m->named_parameters()) {
    before[item.key()] = item.value().detach().clone();
    item.value().mutable_grad() = torch::zeros_like(item.value());
  }
  opt->step();
  auto params = m->named_parameters();
  for (const auto& name : groups.no_decay) CHECK(torch::equal(params[name], before[name]));
  for (const auto& name : groups.decay) CHECK(torch::allclose(params[name], before[name] * (1 - 0.1 * 0.5)));
}

TEST_CASE("TrainConfig: defaults, overrides and strict errors with key paths", "[train][config]") {
  const std::string base = R"(
output_dir: runs/x
model:
  config: tiny/config.json
tokenizer: tok
data:
  train: [a.jsonl, b.jsonl]
)";
  TrainConfig c = train_config_from_string(base);
  CHECK(c.output_dir == "runs/x");
  CHECK(c.model.config == "tiny/config.json");
  CHECK(c.data.train == std::vector<std::string>{"a.jsonl", "b.jsonl"});
  CHECK(c.data.stages.size() == 3);
  CHECK(c.optimizer.lr == 2e-5);
  CHECK(c.training.batch_size == 8);
  CHECK(c.runtime.precision == Precision::Auto);
  CHECK(c.init_seed() == 0);

  c = train_config_from_string(base, {"training.batch_size=2", "optimizer.lr=0.001", "data.stages=[summarize]",
                                      "data.truncation=left", "optimizer.betas=[0.9, 0.95]", "seed=5"});
  CHECK(c.training.batch_size == 2);
  CHECK(c.optimizer.lr == 0.001);
  CHECK((c.data.stages == std::vector<StageKind>{StageKind::Summarize}));
  CHECK(c.data.truncation == Truncation::Left);
  CHECK(c.optimizer.beta2 == 0.95);
  CHECK(c.init_seed() == 5);
  CHECK(c.effective_yaml.find("batch_size: 2") != std::string::npos);

  auto fails = [&](const std::vector<std::string>& set, const std::string& fragment) {
    INFO(set.front());
    CHECK_THROWS_WITH(train_config_from_string(base, set), Catch::Contains(fragment));
  };
  fails({"optimizer.learning_rate=0.1"}, "optimizer.learning_rate: unknown key");
  fails({"training.batch_size=eight"}, "training.batch_size: expected an integer, got 'eight'");
  fails({"training.batch_size=0"}, "training.batch_size: must be >= 1");
  fails({"optimizer.lr=fast"}, "optimizer.lr: expected a number");
  fails({"data.stages=[recall, thinking]"}, "data.stages");
  fails({"data.truncation=right"}, "data.truncation");
  fails({"runtime.precision=fp8"}, "runtime.precision");
  fails({"model.path=ckpt"}, "exactly one of model.path");
  fails({"optimizer.min_lr=1"}, "optimizer.min_lr");
  fails({"optimizer.betas=[0.9]"}, "optimizer.betas");
  fails({"resume=true", "overwrite=true"}, "overwrite");
  fails({"trainig.epochs=2"}, "trainig: unknown key");
  CHECK_THROWS_WITH(train_config_from_string("model: {path: x}\ndata: {train: a}\n"),
                    Catch::Contains("output_dir: required key is missing"));
}

TEST_CASE("training keys: declared once, documented, and the effective YAML reads back to itself", "[train][config]") {
  test::check_option_docs(option_infos(train_options()), std::string(LITESTAGE_SOURCE_DIR) + "/docs/training.md", 7);
  for (const auto& info : option_infos(train_options())) {
    INFO(info.key);
    CHECK(!info.help.empty());
  }
  const auto c = train_config_from_string(
      "output_dir: out\nmodel: {config: {model_type: llama, vocab_size: 97, hidden_size: 32, intermediate_size: 48, "
      "num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2}}\ntokenizer: tok\n"
      "data: {train: [a.jsonl, b.jsonl], stages: [analyze, recall]}\noptimizer: {betas: [0.8, 0.95], lr: 0.001}\n"
      "pipeline_eval: {dataset: synthetic, limit: 7}\n");
  CHECK(c.pipeline_eval.enabled);
  CHECK((c.data.stages == std::vector<StageKind>{StageKind::Analyze, StageKind::Recall}));
  CHECK(c.optimizer.beta1 == 0.8);
  CHECK(c.model.config == "(inline)");
  // Every key with its value, defaults filled in: reading it gives the same configuration.
  CHECK_THAT(c.effective_yaml, Catch::Contains("batch_size: 8") && Catch::Contains("limit: 7") &&
                                   Catch::Contains("- 0.95") && Catch::Contains("- analyze"));
  const auto again = train_config_from_string(c.effective_yaml);
  CHECK(again.effective_yaml == c.effective_yaml);
  CHECK(again.optimizer.beta2 == 0.95);
  CHECK((again.data.stages == c.data.stages));
  CHECK(again.model.config_json == c.model.config_json);
  // Without the section, pipeline_eval stays off and out of the effective YAML.
  const auto plain = train_config_from_string("output_dir: out\nmodel: {path: m}\ndata: {train: a}\n");
  CHECK_FALSE(plain.pipeline_eval.enabled);
  CHECK(plain.tokenizer == "m");  // the default: model.path
  CHECK(plain.effective_yaml.find("pipeline_eval") == std::string::npos);
  CHECK(train_config_from_string(plain.effective_yaml).effective_yaml == plain.effective_yaml);
  CHECK_THROWS_WITH(train_config_from_string("output_dir: out\nmodel: {path: m}\ndata: {train: a}\npipeline_eval: {limit: 3}\n"),
                    Catch::Contains("pipeline_eval.dataset"));
  CHECK_THROWS_WITH(train_config_from_string("output_dir: out\nmodel: {path: m}\ndata: {train: a, stages: [recall, recall]}\n"),
                    Catch::Contains("data.stages") && Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(train_config_from_string("output_dir: out\nmodel: {path: m}\ndata: {train: a}\noptimizer: {lr: 0}\n"),
                    Catch::Contains("optimizer.lr: must be in (0, 1]"));
}
