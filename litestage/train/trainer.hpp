#pragma once
// Trainer: supervised fine-tuning of a CausalLM on TinyThinker stage records (docs/training.md).
//
//   data     stage records -> SftExample (prompt ids, target ids + EOS; sft_data.hpp), mixed
//            recall/analyze/summarize, shuffled per epoch by a permutation that is a function of
//            (seed, epoch) only
//   step     grad_accum micro-batches of batch_size examples, right-padded; loss = summed
//            target-token NLL / target tokens of the whole step (so accumulation equals one big
//            batch); clip; AdamW with the lr of learning_rate(step)
//   eval     every training.eval_every steps and at the end: validation loss (overall and per
//            stage) and, when set, an accuracy callback; the best model goes to OUT/best
//   save     OUT/last: model + tokenizer files + trainer_state.pt (optimiser, step, epoch,
//            position, best), from which `resume` continues bit-for-bit on CPU in float32
//
// Master weights are float32. With bf16 precision (CUDA only) forwards run under autocast.
// There is no dropout and no other randomness, so a run is a function of its config and data.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/optim/adamw.h>

#include "litestage/model/causal_lm.hpp"
#include "litestage/train/config.hpp"
#include "litestage/train/optim.hpp"
#include "litestage/train/sft_data.hpp"

namespace litestage {

class Tokenizer;

// Scores the model on a task (higher is better), e.g. three-stage accuracy on a dev split.
using AccuracyFn = std::function<double(CausalLM&, std::shared_ptr<Tokenizer>)>;

// Order of the training examples in `epoch`: seeded_permutation(n, epoch_seed(seed, epoch)).
uint64_t epoch_seed(uint64_t seed, int64_t epoch);
std::vector<size_t> epoch_order(size_t n, uint64_t seed, int64_t epoch);

// data.group_by_length: the epoch order cut into chunks of `chunk` examples (a multiple of
// batch_size); each chunk sorted by length (longest first, ties in order), cut into batches of
// batch_size, and the batches of the chunk put in a seeded random order. Batches then hold
// examples of similar length (little padding) and stay random across the epoch. Deterministic in
// (order, lengths, sizes, seed).
std::vector<size_t> group_by_length(const std::vector<size_t>& order, const std::vector<int64_t>& lengths,
                                    size_t batch_size, size_t chunk, uint64_t seed);

struct StepStats {
  int64_t step = 0;   // optimizer steps done, this one included
  int64_t epoch = 0;  // epoch the step's examples came from (0-based)
  double loss = 0;    // mean target-token NLL of the step
  double lr = 0;
  double grad_norm = 0;  // global L2 norm before clipping
  int64_t examples = 0;
  int64_t tokens = 0;         // real input tokens
  int64_t padded_tokens = 0;  // including padding
  int64_t target_tokens = 0;
  double seconds = 0;
};

struct TrainLogRecord {
  int64_t step = 0;
  int64_t total_steps = 0;
  double epoch = 0;  // fractional: epochs completed + position / examples
  double loss = 0;   // token-weighted mean over the steps since the last record
  double lr = 0;     // of the last step
  double grad_norm = 0;
  double tokens_per_second = 0;  // real input tokens (prompt + target) per second of the window
  double target_tokens_per_second = 0;
  double padding = 0;  // share of the window's padded input positions that were padding
  int64_t tokens = 0;  // cumulative real input tokens of this process
  double elapsed_seconds = 0;
};

struct EvalRecord {
  int64_t step = 0;
  std::optional<double> val_loss;               // mean target-token NLL over the validation set
  std::map<std::string, double> val_loss_by_stage;
  std::optional<double> metric;                 // the accuracy callback's value
  std::string metric_name;
  bool is_best = false;  // saved to OUT/best
  double seconds = 0;
};

struct TrainSummary {
  int64_t start_step = 0;
  int64_t end_step = 0;
  int64_t total_steps = 0;
  double seconds = 0;
  int64_t tokens = 0;  // real input tokens processed by this process
  double tokens_per_second = 0;
  double last_loss = 0;  // mean loss of the last log window
  std::optional<EvalRecord> last_eval;
  std::optional<double> best_value;  // metric (higher better) or val loss (lower better)
  std::string best_criterion;        // "val_loss" or the metric's name
  int64_t best_step = -1;
  std::filesystem::path output_dir;
};

struct TrainerHooks {
  std::function<void(const StepStats&)> on_step;
  std::function<void(const TrainLogRecord&)> on_log;  // unset: format_log_line to stdout
  std::function<void(const EvalRecord&)> on_eval;     // unset: format_eval_line to stdout
  std::function<void(const std::string&)> on_message; // notices (data summary, saves); unset: stdout
};

std::string format_log_line(const TrainLogRecord& r);
std::string format_eval_line(const EvalRecord& r);

class Trainer {
 public:
  // Everything from the config: model (checkpoint or random init), tokenizer, stage records.
  // With config.resume the state of output_dir/last is restored before this returns.
  explicit Trainer(const TrainConfig& config);

  // Pre-tokenised data and a ready model (float32); config's model/tokenizer/data-file settings
  // are ignored (its training, optimizer, seed, output and resume settings apply). `tokenizer`
  // may be null: the checkpoints then carry no tokenizer files and the accuracy callback gets null.
  Trainer(const TrainConfig& config, CausalLM model, std::vector<SftExample> train,
          std::vector<SftExample> validation = {}, std::shared_ptr<Tokenizer> tokenizer = nullptr);

  // Best checkpoint by this metric (higher is better) instead of validation loss.
  void set_accuracy_metric(AccuracyFn fn, std::string name = "accuracy");
  void set_hooks(TrainerHooks hooks) { hooks_ = std::move(hooks); }

  // Runs steps until total_steps(), validating and saving on schedule, then validates and saves
  // last/ (and best/) once more.
  TrainSummary train();
  // One optimizer step (exposed for tests and custom loops; does no logging or saving).
  StepStats step();
  // Validation loss (+ metric), and OUT/best when it improves.
  EvalRecord validate();
  // Mean target-token NLL over `examples` without gradients; per-stage means in by_stage.
  double mean_loss(const std::vector<SftExample>& examples, std::map<std::string, double>* by_stage = nullptr);
  // OUT/last with trainer_state.pt.
  void save_last();
  // A Hugging Face directory: config.json, model.safetensors, tokenizer files (no trainer state).
  void save_model(const std::filesystem::path& dir);

  CausalLM& model() { return model_; }
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  std::shared_ptr<Tokenizer> tokenizer() const { return tokenizer_; }
  const TrainConfig& config() const { return config_; }
  int64_t global_step() const { return global_step_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t epoch() const { return epoch_; }
  size_t position() const { return position_; }
  bool resumed() const { return resumed_; }
  bool autocast() const { return autocast_; }
  const std::vector<SftExample>& train_examples() const { return train_; }
  // Token statistics of the tokenised training data (examples cleared); empty for pre-tokenised data.
  const SftDataset& train_stats() const { return train_stats_; }

 private:
  void setup();  // shared tail of both constructors
  void resume_from_last();
  void write_checkpoint(const std::filesystem::path& dir, bool with_state);
  void write_state(const std::filesystem::path& dir) const;
  void log_json(const std::string& line);
  void announce_start();                      // the start/resume message and log record
  void log_train(const TrainLogRecord& r);    // one "train" log record, and the hook or stdout line
  void message(const std::string& text) const;
  const std::vector<size_t>& order();

  TrainConfig config_;
  std::filesystem::path out_;
  CausalLM model_{nullptr};
  std::shared_ptr<Tokenizer> tokenizer_;
  std::filesystem::path tokenizer_dir_;  // files copied into checkpoints; empty: none
  std::filesystem::path model_dir_;      // generation_config.json source; empty: none
  std::vector<SftExample> train_, validation_;
  SftDataset train_stats_, validation_stats_;
  std::string train_digest_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<torch::Tensor> params_;
  c10::Device device_{c10::kCPU};
  bool autocast_ = false;
  int32_t pad_id_ = 0;

  int64_t total_steps_ = 0;
  int64_t steps_per_epoch_ = 0;
  int64_t global_step_ = 0;
  int64_t epoch_ = 0;
  size_t position_ = 0;  // examples of epoch_ already consumed
  bool resumed_ = false;
  std::vector<size_t> order_;
  int64_t order_epoch_ = -1;

  AccuracyFn metric_;
  std::string metric_name_;
  std::optional<double> best_value_;
  std::string best_criterion_;
  int64_t best_step_ = -1;

  TrainerHooks hooks_;
  std::ofstream log_;
};

}  // namespace litestage
