#include "litestage/train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/torch.h>

#include "litestage/data/shuffle.hpp"
#include "litestage/io/checkpoint.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/train/autocast.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

namespace fs = std::filesystem;

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return splitmix64(seed ^ splitmix64(static_cast<uint64_t>(epoch) + 1));
}

std::vector<size_t> epoch_order(size_t n, uint64_t seed, int64_t epoch) {
  return seeded_permutation(n, epoch_seed(seed, epoch));
}

std::vector<size_t> group_by_length(const std::vector<size_t>& order, const std::vector<int64_t>& lengths,
                                    size_t batch_size, size_t chunk, uint64_t seed) {
  LITESTAGE_CHECK(batch_size > 0 && chunk > 0 && chunk % batch_size == 0,
                  "group_by_length: chunk must be a positive multiple of batch_size");
  std::vector<size_t> out;
  out.reserve(order.size());
  for (size_t start = 0, c = 0; start < order.size(); start += chunk, ++c) {
    std::vector<size_t> part(order.begin() + static_cast<std::ptrdiff_t>(start),
                             order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + chunk)));
    std::stable_sort(part.begin(), part.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
    const size_t batches = (part.size() + batch_size - 1) / batch_size;
    for (size_t b : seeded_permutation(batches, splitmix64(seed ^ splitmix64(c + 1))))
      for (size_t i = b * batch_size; i < std::min(part.size(), (b + 1) * batch_size); ++i) out.push_back(part[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Construction

namespace {

// A checkpoint is written to <dir>.partial and swapped in through <dir>.old (write_checkpoint). A
// run killed between the two renames leaves only <dir>.old: the previous checkpoint, whole, which
// is put back. A leftover .partial is an unfinished write and goes.
void recover_checkpoint(const fs::path& dir) {
  fs::path old = dir, partial = dir;
  old += ".old";
  partial += ".partial";
  if (!fs::exists(dir) && fs::exists(old)) fs::rename(old, dir);
  fs::remove_all(old);
  fs::remove_all(partial);
}

// The log of a resumed run keeps the records up to the resumed step: the steps after it run again
// and log again, so every step appears once. A torn last line is dropped.
void keep_log_until(const fs::path& log, int64_t step) {
  std::string kept;
  read_jsonl(log.string(), [&](const nlohmann::json& j) {
    if (j.value("step", int64_t{0}) <= step) kept += j.dump() + "\n";
  }, "training log record");
  write_file_atomic(log.string(), kept);
}

// Checked before anything is loaded: a mistake here should not cost a model load.
void check_output_dir(const TrainConfig& c) {
  for (const char* name : {"last", "best"}) recover_checkpoint(fs::path(c.output_dir) / name);
  const fs::path state = fs::path(c.output_dir) / "last" / "trainer_state.pt";
  if (c.resume)
    LITESTAGE_CHECK(fs::exists(state), "resume: ", state.string(), " not found (nothing to resume; run without resume to start)");
  else
    LITESTAGE_CHECK(c.overwrite || !fs::exists(state), c.output_dir,
                    " already holds a run (last/trainer_state.pt): set resume: true to continue it, overwrite: "
                    "true to start over, or choose another output_dir");
}
}  // namespace

Trainer::Trainer(const TrainConfig& config) : config_(config) {
  check_output_dir(config_);
  set_threads(config_.runtime.threads);
  const Runtime runtime{parse_device(config_.runtime.device), c10::kFloat};
  out_ = config_.output_dir;
  const fs::path last = out_ / "last";

  if (config_.resume) {
    // Weights come from last/ (resume_from_last fills them); only the shape is needed now.
    model_ = CausalLM(ModelConfig::from_dir(last), runtime);
  } else if (!config_.model.path.empty()) {
    model_ = load_causal_lm(config_.model.path, runtime);
  } else {
    const ModelConfig mc = config_.model.config_json.empty()
                               ? ModelConfig::from_dir(config_.model.config)
                               : ModelConfig::from_json(nlohmann::json::parse(config_.model.config_json), "model.config");
    model_ = CausalLM(mc, runtime);
    model_->init_weights(config_.init_seed());
  }
  if (!config_.model.path.empty()) model_dir_ = config_.model.path;
  tokenizer_dir_ = config_.tokenizer;
  tokenizer_ = std::shared_ptr<Tokenizer>(load_tokenizer(tokenizer_dir_));

  const ModelConfig& mc = model_->config();
  int64_t eos = config_.data.eos_id;
  if (eos < 0 && !mc.eos_token_ids.empty()) eos = mc.eos_token_ids.front();
  if (eos < 0 && !tokenizer_->eos_ids().empty()) eos = tokenizer_->eos_ids().front();
  LITESTAGE_CHECK(eos >= 0, "data.eos_id: the model config and the tokenizer name no EOS token; set data.eos_id");
  LITESTAGE_CHECK(eos < mc.vocab_size, "data.eos_id: ", eos, " is outside the model's vocabulary of ", mc.vocab_size);

  int64_t max_len = config_.data.max_seq_len > 0 ? config_.data.max_seq_len : mc.max_position_embeddings;
  LITESTAGE_CHECK(max_len <= mc.max_position_embeddings, "data.max_seq_len: ", max_len,
                  " exceeds the model's max_position_embeddings (", mc.max_position_embeddings, ")");
  SftTokenizeOptions opt;
  opt.add_bos = config_.data.add_bos;
  opt.eos_id = static_cast<int32_t>(eos);
  opt.max_seq_len = max_len;
  opt.truncation = config_.data.truncation;
  const bool leading = tokenizer_adds_leading_space(*tokenizer_);

  auto load = [&](const char* key, const std::vector<std::string>& files, int64_t limit, SftDataset& out) {
    ReadOptions ro;
    ro.skip_malformed = config_.data.skip_malformed;
    for (const auto& file : files) {
      StageRecordSet set;
      try {
        set = read_stage_records(file, ro);
      } catch (const Error& e) {
        throw_error(key, ": ", e.what());
      }
      if (set.report.skipped > 0)
        std::cerr << "warning: " << file << ": skipped " << set.report.skipped << " malformed records"
                  << (set.report.problems.empty() ? "" : " (first: " + set.report.problems.front() + ")") << "\n";
      for (size_t i = 0; i < set.records.size(); ++i) {
        if (limit > 0 && static_cast<int64_t>(out.examples.size()) >= limit) return;
        const auto& r = set.records[i];
        const auto& stages = config_.data.stages;
        if (std::find(stages.begin(), stages.end(), r.kind) == stages.end()) continue;
        append_record(out, *tokenizer_, r, opt, leading, file + " record " + std::to_string(i + 1));
      }
    }
  };
  load("data.train", config_.data.train, config_.data.max_train_records, train_stats_);
  load("data.validation", config_.data.validation, config_.data.max_validation_records, validation_stats_);
  train_ = std::move(train_stats_.examples);
  validation_ = std::move(validation_stats_.examples);
  train_stats_.examples.clear();
  validation_stats_.examples.clear();
  LITESTAGE_CHECK(!train_.empty(), "data.train: no records of the selected stages in ", join(config_.data.train, ", "));
  setup();
}

Trainer::Trainer(const TrainConfig& config, CausalLM model, std::vector<SftExample> train,
                 std::vector<SftExample> validation, std::shared_ptr<Tokenizer> tokenizer)
    : config_((check_output_dir(config), config)),
      out_(config.output_dir),
      model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      train_(std::move(train)),
      validation_(std::move(validation)) {
  LITESTAGE_CHECK(!train_.empty(), "Trainer: no training examples");
  setup();
}

void Trainer::setup() {
  LITESTAGE_CHECK(model_->runtime().dtype == c10::kFloat, "training keeps float32 master weights; the model is ",
                  dtype_name(model_->runtime().dtype), " (load it with dtype f32)");
  device_ = model_->runtime().device;
  switch (config_.runtime.precision) {
    case Precision::F32: autocast_ = false; break;
    case Precision::Bf16:
      // CPU autocast runs linear/matmul in bf16 (oneDNN): fast where the CPU has AVX512-BF16/AMX,
      // emulated (slow) elsewhere; the master weights, the loss and the optimiser stay f32.
      LITESTAGE_CHECK(device_.is_cuda() || device_.is_cpu(), "runtime.precision: bf16 autocast needs a CUDA or CPU device, got ",
                      device_.str());
      autocast_ = true;
      break;
    case Precision::Auto: autocast_ = device_.is_cuda() && dtype_supported(c10::kBFloat16, device_); break;
  }

  const ModelConfig& mc = model_->config();
  auto check = [&](const std::vector<SftExample>& set, const char* what) {
    for (size_t i = 0; i < set.size(); ++i) {
      const SftExample& ex = set[i];
      LITESTAGE_CHECK(!ex.prompt.empty() && !ex.target.empty(), what, " example ", i + 1, ": empty prompt or target");
      LITESTAGE_CHECK(ex.length() - 1 <= mc.max_position_embeddings, what, " example ", i + 1, ": ", ex.length(),
                      " tokens exceed the model's max_position_embeddings (", mc.max_position_embeddings, ")");
      for (const auto* ids : {&ex.prompt, &ex.target})
        for (int32_t id : *ids)
          LITESTAGE_CHECK(id >= 0 && id < mc.vocab_size, what, " example ", i + 1, ": token id ", id,
                          " outside the model's vocabulary of ", mc.vocab_size);
    }
  };
  check(train_, "training");
  check(validation_, "validation");

  params_ = model_->parameters();
  optimizer_ = make_adamw(*model_, config_.optimizer);
  const int64_t per_step = config_.training.batch_size * config_.training.grad_accum;
  steps_per_epoch_ = (static_cast<int64_t>(train_.size()) + per_step - 1) / per_step;
  total_steps_ = config_.training.max_steps > 0 ? config_.training.max_steps : config_.training.epochs * steps_per_epoch_;
  train_digest_ = examples_digest(train_);

  fs::create_directories(out_);
  if (config_.resume) resume_from_last();
  if (resumed_) keep_log_until(out_ / "train_log.jsonl", global_step_);
  log_.open(out_ / "train_log.jsonl", resumed_ ? std::ios::app : std::ios::trunc);
  LITESTAGE_CHECK(log_.good(), "cannot write ", (out_ / "train_log.jsonl").string());
  if (!config_.effective_yaml.empty())
    write_file_atomic((out_ / "train_config.yaml").string(), config_.effective_yaml);
}

void Trainer::set_accuracy_metric(AccuracyFn fn, std::string name) {
  metric_ = std::move(fn);
  metric_name_ = std::move(name);
}

// ---------------------------------------------------------------------------------------------
// Training

const std::vector<size_t>& Trainer::order() {
  if (order_epoch_ != epoch_) {
    order_ = epoch_order(train_.size(), config_.seed, epoch_);
    if (config_.data.group_by_length) {
      std::vector<int64_t> lengths;
      lengths.reserve(train_.size());
      for (const auto& ex : train_) lengths.push_back(ex.length());
      const auto bs = static_cast<size_t>(config_.training.batch_size);
      // Chunks of 64 batches: long enough to find similar lengths, short enough to stay random.
      order_ = group_by_length(order_, lengths, bs, bs * 64, epoch_seed(config_.seed, epoch_) ^ 0x5DEECE66DULL);
    }
    order_epoch_ = epoch_;
  }
  return order_;
}

StepStats Trainer::step() {
  Timer timer;
  const size_t n = train_.size();
  if (position_ >= n) {
    ++epoch_;
    position_ = 0;
  }
  const auto& ord = order();
  StepStats s;
  s.epoch = epoch_;
  // A step never crosses an epoch boundary: the last step of an epoch may be smaller.
  std::vector<std::vector<const SftExample*>> micro;
  int64_t targets = 0;
  for (int64_t a = 0; a < config_.training.grad_accum && position_ < n; ++a) {
    std::vector<const SftExample*> batch;
    for (int64_t b = 0; b < config_.training.batch_size && position_ < n; ++b) {
      const SftExample* ex = &train_[ord[position_++]];
      targets += static_cast<int64_t>(ex->target.size());
      batch.push_back(ex);
    }
    micro.push_back(std::move(batch));
  }

  s.lr = learning_rate(config_.optimizer, global_step_, total_steps_);
  set_learning_rate(*optimizer_, s.lr);
  optimizer_->zero_grad();
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  for (const auto& examples : micro) {
    SftBatch batch = collate(examples, pad_id_, device_);
    torch::Tensor scaled;
    {
      AutocastScope autocast(autocast_, device_);
      SftLoss loss = sft_loss(*model_, batch);
      // Dividing by the step's target tokens (not the micro-batch's) makes the accumulated
      // gradient that of one batch of all the step's examples.
      scaled = loss.sum / static_cast<double>(targets);
      loss_sum += loss.sum.detach();
    }
    scaled.backward();
    s.examples += batch.rows;
    s.tokens += batch.tokens;
    s.padded_tokens += batch.padded_tokens;
  }
  s.target_tokens = targets;
  s.loss = loss_sum.item<double>() / static_cast<double>(targets);
  const double clip = config_.optimizer.grad_clip > 0 ? config_.optimizer.grad_clip : std::numeric_limits<double>::infinity();
  s.grad_norm = torch::nn::utils::clip_grad_norm_(params_, clip);
  if (!std::isfinite(s.loss) || !std::isfinite(s.grad_norm))
    throw_error("step ", global_step_ + 1, ": non-finite loss (", s.loss, ") or gradient norm (", s.grad_norm,
                "); lower optimizer.lr or check the data");
  optimizer_->step();
  ++global_step_;
  s.step = global_step_;
  synchronize(device_);
  s.seconds = timer.seconds();
  return s;
}

double Trainer::mean_loss(const std::vector<SftExample>& examples, std::map<std::string, double>* by_stage) {
  if (examples.empty()) return std::numeric_limits<double>::quiet_NaN();
  torch::NoGradGuard no_grad;
  // Similar lengths together: less padding; the sum does not depend on the order.
  std::vector<size_t> idx(examples.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return examples[a].length() < examples[b].length(); });
  std::map<StageKind, std::pair<double, int64_t>> per_kind;
  double total = 0;
  int64_t count = 0;
  const size_t bs = static_cast<size_t>(config_.eval_batch_size());
  for (size_t start = 0; start < idx.size(); start += bs) {
    std::vector<const SftExample*> batch_examples;
    for (size_t i = start; i < std::min(idx.size(), start + bs); ++i) batch_examples.push_back(&examples[idx[i]]);
    SftBatch batch = collate(batch_examples, pad_id_, device_);
    torch::Tensor rows;
    {
      AutocastScope autocast(autocast_, device_);
      rows = sft_loss(*model_, batch).row_sums.to(torch::kCPU, torch::kDouble);
    }
    auto acc = rows.accessor<double, 1>();
    for (size_t r = 0; r < batch_examples.size(); ++r) {
      const auto n = static_cast<int64_t>(batch_examples[r]->target.size());
      auto& slot = per_kind[batch_examples[r]->kind];
      slot.first += acc[static_cast<int64_t>(r)];
      slot.second += n;
      total += acc[static_cast<int64_t>(r)];
      count += n;
    }
  }
  if (by_stage) {
    by_stage->clear();
    for (const auto& [kind, sc] : per_kind) (*by_stage)[std::string(to_string(kind))] = sc.first / static_cast<double>(sc.second);
  }
  return total / static_cast<double>(count);
}

EvalRecord Trainer::validate() {
  Timer timer;
  EvalRecord r;
  r.step = global_step_;
  if (!validation_.empty()) r.val_loss = mean_loss(validation_, &r.val_loss_by_stage);
  if (metric_) {
    r.metric = metric_(model_, tokenizer_);
    r.metric_name = metric_name_;
  }
  std::optional<double> value;
  std::string criterion;
  bool higher_is_better = false;
  if (metric_) {
    value = r.metric;
    criterion = metric_name_;
    higher_is_better = true;
  } else if (r.val_loss) {
    value = r.val_loss;
    criterion = "val_loss";
  }
  if (value) {
    if (best_criterion_ != criterion) {  // e.g. a metric added on resume: earlier bests are not comparable
      best_value_.reset();
      best_step_ = -1;
      best_criterion_ = criterion;
    }
    const bool better = !best_value_ || (higher_is_better ? *value > *best_value_ : *value < *best_value_);
    if (better) {
      best_value_ = value;
      best_step_ = global_step_;
      r.is_best = true;
    }
  }
  if (r.is_best) write_checkpoint(out_ / "best", /*with_state=*/false);
  r.seconds = timer.seconds();

  nlohmann::json j{{"event", "eval"}, {"step", r.step}, {"best", r.is_best}, {"seconds", r.seconds}};
  if (r.val_loss) j["val_loss"] = *r.val_loss;
  for (const auto& [stage, loss] : r.val_loss_by_stage) j["val_loss_" + stage] = loss;
  if (r.metric) j[r.metric_name] = *r.metric;
  log_json(j.dump());
  if (hooks_.on_eval)
    hooks_.on_eval(r);
  else
    std::cout << format_eval_line(r) << std::endl;
  return r;
}

namespace {

// Steps accumulated between two log records.
struct LogWindow {
  double seconds = 0, loss = 0, grad = 0;  // loss weighted by target tokens
  int64_t targets = 0, tokens = 0, padded = 0, steps = 0;

  void add(const StepStats& s) {
    seconds += s.seconds;
    loss += s.loss * static_cast<double>(s.target_tokens);
    targets += s.target_tokens;
    tokens += s.tokens;
    padded += s.padded_tokens;
    grad += s.grad_norm;
    ++steps;
  }
  void fill(TrainLogRecord& r) const {
    r.loss = loss / static_cast<double>(targets);
    r.grad_norm = grad / static_cast<double>(steps);
    r.tokens_per_second = static_cast<double>(tokens) / std::max(seconds, 1e-9);
    r.target_tokens_per_second = static_cast<double>(targets) / std::max(seconds, 1e-9);
    r.padding = 1.0 - static_cast<double>(tokens) / static_cast<double>(std::max<int64_t>(padded, 1));
  }
};

}  // namespace

TrainSummary Trainer::train() {
  TrainSummary sum;
  sum.start_step = global_step_;
  sum.total_steps = total_steps_;
  sum.output_dir = out_;
  sum.best_value = best_value_;
  sum.best_criterion = best_criterion_;
  sum.best_step = best_step_;
  announce_start();
  if (global_step_ >= total_steps_) {
    message("nothing to do: step " + std::to_string(global_step_) + " of " + std::to_string(total_steps_));
    sum.end_step = global_step_;
    return sum;
  }

  Timer wall;
  double train_seconds = 0;
  LogWindow window;
  int64_t last_eval_step = -1;
  const auto& t = config_.training;
  while (global_step_ < total_steps_) {
    StepStats s = step();
    train_seconds += s.seconds;
    sum.tokens += s.tokens;
    window.add(s);
    if (hooks_.on_step) hooks_.on_step(s);

    const bool at_end = global_step_ == total_steps_;
    if (global_step_ % t.log_every == 0 || at_end) {
      TrainLogRecord r;
      r.step = global_step_;
      r.total_steps = total_steps_;
      r.epoch = static_cast<double>(epoch_) + static_cast<double>(position_) / static_cast<double>(train_.size());
      r.lr = s.lr;
      window.fill(r);
      r.tokens = sum.tokens;
      r.elapsed_seconds = wall.seconds();
      sum.last_loss = r.loss;
      log_train(r);
      window = LogWindow{};
    }
    if (at_end) break;
    const bool do_eval = t.eval_every > 0 && global_step_ % t.eval_every == 0;
    const bool do_save = t.save_every > 0 ? global_step_ % t.save_every == 0 : do_eval;
    if (do_eval) {
      sum.last_eval = validate();
      last_eval_step = global_step_;
    }
    if (do_save) save_last();
  }
  if (last_eval_step != global_step_) sum.last_eval = validate();
  save_last();
  sum.end_step = global_step_;
  sum.best_value = best_value_;
  sum.best_criterion = best_criterion_;
  sum.best_step = best_step_;
  sum.seconds = wall.seconds();
  sum.tokens_per_second = static_cast<double>(sum.tokens) / std::max(train_seconds, 1e-9);
  log_json(nlohmann::json{{"event", "end"}, {"step", global_step_}, {"seconds", sum.seconds},
                          {"tokens_per_s", sum.tokens_per_second}}
               .dump());
  return sum;
}

}  // namespace litestage
