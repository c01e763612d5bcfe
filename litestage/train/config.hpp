#pragma once
// TrainConfig: every setting of a supervised fine-tuning run, declared once with its default
// (docs/training.md lists them with their YAML key paths). Parsing is strict: an unknown key, a
// wrong type or an out-of-range value is an error naming the key path ("training.batch_size: must
// be >= 1, got 0"), never a silent default.

#include <cstdint>
#include <string>
#include <vector>

#include "litestage/data/stage_records.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

// How an example longer than data.max_seq_len is handled. Targets are never cut.
enum class Truncation {
  Error,  // refuse the run, naming the record
  Left,   // drop prompt tokens from the left (after BOS, which is kept)
};

enum class LrScheduleKind { Cosine, Constant };

// "auto": bf16 autocast on CUDA when the device supports it, f32 elsewhere.
enum class Precision { Auto, F32, Bf16 };

struct TrainModelConfig {
  std::string path;        // model.path: Hugging Face checkpoint directory (weights loaded)
  std::string config;      // model.config: config.json (or a directory holding one): random init
  std::string config_json; // model.config given inline as a mapping (config.json's keys), as JSON
  int64_t init_seed = -1;  // model.init_seed: seed of the random init; -1 = the run's seed
};

struct TrainRuntimeConfig {
  std::string device = RuntimeRequest{}.device;
  Precision precision = Precision::Auto;
  int threads = RuntimeRequest{}.threads;  // CPU intra-op threads; 0 = one per core
};

struct TrainDataConfig {
  std::vector<std::string> train;       // stage-record files (JSON Lines or JSON arrays)
  std::vector<std::string> validation;  // may be empty: no validation loss, no best/ checkpoint
  std::vector<StageKind> stages{kStages.begin(), kStages.end()};
  int64_t max_seq_len = 0;  // prompt + target + EOS; 0 = the model's max_position_embeddings
  Truncation truncation = Truncation::Error;
  bool add_bos = true;                // as the generator's default (GenerationConfig::add_bos)
  int64_t eos_id = -1;                // -1: config.json's first eos_token_id, else the tokenizer's
  int64_t max_train_records = 0;      // 0 = all; else the first N (after the stage filter)
  int64_t max_validation_records = 0;
  bool skip_malformed = false;        // skip (and count) malformed records instead of failing
  // Batch examples of similar length (less padding): see group_by_length() in trainer.hpp.
  bool group_by_length = false;
};

struct TrainOptimizerConfig {
  double lr = 2e-5;       // peak learning rate
  double min_lr = 0.0;    // end of the cosine
  LrScheduleKind schedule = LrScheduleKind::Cosine;
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;  // applied to matrices (dim >= 2) only, never norms or biases
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double grad_clip = 1.0;  // max global L2 norm; 0 = no clipping
};

struct TrainLoopConfig {
  int64_t epochs = 1;
  int64_t max_steps = 0;  // > 0: run exactly this many optimizer steps (epochs is then ignored)
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  int64_t log_every = 10;
  int64_t eval_every = 0;       // 0: evaluate once, at the end
  int64_t save_every = 0;       // 0: save last/ at each evaluation and at the end
  int64_t eval_batch_size = 0;  // 0 = batch_size
};

struct TrainConfig {
  std::string output_dir;  // required
  uint64_t seed = 0;       // data order (and the random init unless model.init_seed)
  bool resume = false;     // continue from output_dir/last
  bool overwrite = false;  // allow a fresh run over an output_dir that holds last/
  std::string tokenizer;   // tokenizer directory; default model.path
  TrainModelConfig model;
  TrainRuntimeConfig runtime;
  TrainDataConfig data;
  TrainOptimizerConfig optimizer;
  TrainLoopConfig training;
  // Optional: accuracy of the full three-stage pipeline on a dataset split at every evaluation;
  // when set, the best checkpoint is kept by it (docs/training.md).
  struct PipelineEval {
    bool enabled = false;
    std::string dataset;
    std::string root;           // data root (or the synthetic settings file)
    std::string split = "valid";
    int limit = 100;
    int max_new_tokens = 64;
  } pipeline_eval;
  // The effective YAML (after --set overrides), written to output_dir/train_config.yaml.
  std::string effective_yaml;

  uint64_t init_seed() const { return model.init_seed >= 0 ? static_cast<uint64_t>(model.init_seed) : seed; }
  int64_t eval_batch_size() const { return training.eval_batch_size > 0 ? training.eval_batch_size : training.batch_size; }
};

// Every key of a training YAML, declared once (util/yaml_schema.hpp): reading, the listing
// (`litestage train --list-options`) and docs/training.md's key table follow it.
const std::vector<Option<TrainConfig>>& train_options();
// Parses the whole tree strictly (see the header comment). Only checks that need no file access.
TrainConfig parse_train_config(const YamlNode& root);
// Loads a YAML file, applies "key.path=value" overrides (--set), parses.
TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Same, from YAML text (tests, embedded configs).
TrainConfig train_config_from_string(const std::string& yaml, const std::vector<std::string>& overrides = {});

}  // namespace litestage
