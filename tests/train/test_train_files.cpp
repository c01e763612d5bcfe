// The Trainer built from a YAML config: stage-record files, a real checkpoint and tokenizer
// (../shared/models/stories260K), checkpoints a Hugging Face loader reads, resume through the config.

#include <catch2/catch.hpp>

#include "litestage/io/checkpoint.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/strings.hpp"
#include "toy_example.hpp"
#include "train_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;
namespace fs = std::filesystem;

TEST_CASE("Trainer from YAML: stage-record files, HF checkpoint, tokenizer files, resume", "[train][files][shared][deepbind]") {
  REQUIRE_SHARED(model_dir, "models/stories260K");
  const fs::path dir = temp_dir("files");
  write_stage_records((dir / "train.jsonl").string(), toy_story_records());
  write_stage_records((dir / "valid.jsonl").string(), toy_story_records());
  const std::string yaml = "output_dir: " + (dir / "run").string() + "\nseed: 1\nmodel:\n  path: " + model_dir.string() +
                           "\nruntime: {precision: f32}\n"
                           "data:\n  train: " + (dir / "train.jsonl").string() +
                           "\n  validation: [" + (dir / "valid.jsonl").string() + "]\n"
                           "  stages: [recall, summarize]\n"
                           "optimizer: {lr: 1.0e-3, warmup_steps: 1}\n"
                           "training: {batch_size: 2, max_steps: 2, log_every: 1}\n";
  TrainConfig cfg = train_config_from_string(yaml);
  Trainer trainer(cfg);
  trainer.set_hooks(quiet_hooks());
  CHECK(trainer.train_examples().size() == 2);  // the analyze records are filtered out
  CHECK(trainer.train_stats().per_stage.at(StageKind::Summarize) == 1);
  CHECK(trainer.train_stats().boundary_mismatches == 0);
  auto tok = trainer.tokenizer();
  const SftExample& recall = trainer.train_examples()[0];
  CHECK(recall.prompt.front() == *tok->bos_id());
  CHECK(recall.target.back() == 2);  // config.json's eos_token_id
  TrainSummary s = trainer.train();
  CHECK(s.end_step == 2);
  CHECK(s.last_eval->val_loss_by_stage.size() == 2);

  const fs::path last = dir / "run" / "last";
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "trainer_state.pt", "trainer_state.json"})
    CHECK(fs::exists(last / f));
  CHECK(fs::exists(dir / "run" / "train_config.yaml"));
  auto config = nlohmann::json::parse(read_file((last / "config.json").string()));
  CHECK(config["architectures"][0] == "LlamaForCausalLM");
  CHECK(config["torch_dtype"] == "float32");
  auto ckpt = io::Checkpoint::open(last);
  CHECK(ckpt.files().front().metadata().at("format") == "pt");
  CHECK(load_tokenizer(last)->encode("Lily") == tok->encode("Lily"));
  CausalLM reloaded = load_causal_lm(last);
  CHECK(same_parameters(reloaded, trainer.model()));

  // Continue the same run for one more step through the config.
  TrainConfig more = train_config_from_string(yaml, {"resume=true", "training.max_steps=3"});
  Trainer resumed(more);
  resumed.set_hooks(quiet_hooks());
  CHECK(resumed.global_step() == 2);
  CHECK(resumed.train().end_step == 3);
}

TEST_CASE("model.config may be given inline for a random init", "[train][config]") {
  TrainConfig c = train_config_from_string(R"(
output_dir: runs/x
tokenizer: tok
model:
  init_seed: 4
  config:
    model_type: llama
    vocab_size: 64
    hidden_size: 32
    intermediate_size: 64
    num_hidden_layers: 2
    num_attention_heads: 4
    num_key_value_heads: 2
    rms_norm_eps: 1.0e-5
    tie_word_embeddings: true
    eos_token_id: 2
data: {train: a.jsonl}
)");
  auto j = nlohmann::json::parse(c.model.config_json);
  CHECK(j["hidden_size"] == 32);
  CHECK(j["tie_word_embeddings"] == true);
  CHECK(ModelConfig::from_json(j).num_hidden_layers == 2);
  CHECK(c.init_seed() == 4);
  CHECK_THROWS_WITH(train_config_from_string("output_dir: x\ntokenizer: t\nmodel: {config: {model_type: gpt9}}\ndata: {train: a}\n"),
                    Catch::Contains("model.config"));
}

TEST_CASE("the committed training configs that build a model from scratch fit the synthetic tokenizer", "[train][config]") {
  // Their tokenizer is `litestage synth`'s, which data/demo-model carries (the same settings).
  const fs::path root = LITESTAGE_SOURCE_DIR;
  const auto pieces = load_tokenizer((root / "data" / "demo-model").string())->vocab_size();
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(root / "experiments")) {
    const std::string name = entry.path().filename().string();
    if (!starts_with(name, "train-") || entry.path().extension() != ".yaml") continue;
    const TrainConfig c = load_train_config(entry.path().string());
    if (c.model.config_json.empty() || c.tokenizer.find("synthetic") == std::string::npos) continue;
    INFO(name);
    CHECK(ModelConfig::from_json(nlohmann::json::parse(c.model.config_json)).vocab_size >= pieces);
    ++checked;
  }
  CHECK(checked >= 2);  // train-synthetic-cpu and train-demo-reading
}
