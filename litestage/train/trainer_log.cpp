// The trainer's messages and records: its log lines, the start notice, train_log.jsonl.
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "litestage/train/trainer.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string sci(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  return buf;
}

}  // namespace

std::string format_log_line(const TrainLogRecord& r) {
  std::ostringstream out;
  out << "step " << r.step << "/" << r.total_steps << " | epoch " << fixed(r.epoch, 2) << " | loss "
      << fixed(r.loss, 4) << " | lr " << sci(r.lr) << " | grad_norm " << fixed(r.grad_norm, 3) << " | "
      << fixed(r.tokens_per_second, 0) << " tok/s | " << format_duration(r.elapsed_seconds);
  return out.str();
}

std::string format_eval_line(const EvalRecord& r) {
  std::ostringstream out;
  out << "eval @ step " << r.step << ":";
  if (r.val_loss) {
    out << " val_loss " << fixed(*r.val_loss, 4);
    if (!r.val_loss_by_stage.empty()) {
      out << " (";
      bool first = true;
      for (const auto& [stage, loss] : r.val_loss_by_stage) {
        out << (first ? "" : ", ") << stage << " " << fixed(loss, 4);
        first = false;
      }
      out << ")";
    }
  }
  if (r.metric) out << " " << r.metric_name << " " << fixed(*r.metric, 4);
  if (!r.val_loss && !r.metric) out << " (no validation data, no metric)";
  if (r.is_best) out << " | new best, saved";
  out << " | " << format_duration(r.seconds);
  return out.str();
}

void Trainer::announce_start() {
  std::ostringstream m;
  m << (resumed_ ? "resuming at step " + std::to_string(global_step_) + " of " : "training for ") << total_steps_
    << " steps (" << steps_per_epoch_ << " per epoch) on " << train_.size() << " examples";
  if (!train_stats_.per_stage.empty()) {
    m << " (";
    bool first = true;
    for (const auto& [k, n] : train_stats_.per_stage) {
      m << (first ? "" : ", ") << to_string(k) << " " << n;
      first = false;
    }
    m << "; " << train_stats_.prompt_tokens << " prompt + " << train_stats_.target_tokens << " target tokens";
    if (train_stats_.truncated) m << "; " << train_stats_.truncated << " prompts cut from the left";
    if (train_stats_.boundary_mismatches)
      m << "; " << train_stats_.boundary_mismatches << " records tokenise differently when prompt and target are joined";
    m << ")";
  }
  m << ", " << validation_.size() << " validation examples; batch " << config_.training.batch_size << " x "
    << config_.training.grad_accum << " accumulation on " << device_.str() << (autocast_ ? " (bf16 autocast)" : " (f32)");
  message(m.str());
  nlohmann::json j{{"event", resumed_ ? "resume" : "start"}, {"step", global_step_}, {"total_steps", total_steps_},
                   {"examples", train_.size()}, {"validation_examples", validation_.size()},
                   {"prompt_tokens", train_stats_.prompt_tokens}, {"target_tokens", train_stats_.target_tokens},
                   {"truncated", train_stats_.truncated}, {"boundary_mismatches", train_stats_.boundary_mismatches},
                   {"data_digest", train_digest_}};
  log_json(j.dump());
}

void Trainer::log_train(const TrainLogRecord& r) {
  log_json(nlohmann::json{{"event", "train"},
                          {"step", r.step},
                          {"epoch", r.epoch},
                          {"loss", r.loss},
                          {"lr", r.lr},
                          {"grad_norm", r.grad_norm},
                          {"tokens_per_s", r.tokens_per_second},
                          {"target_tokens_per_s", r.target_tokens_per_second},
                          {"padding", r.padding},
                          {"tokens", r.tokens},
                          {"elapsed_s", r.elapsed_seconds}}
               .dump());
  if (hooks_.on_log)
    hooks_.on_log(r);
  else
    std::cout << format_log_line(r) << std::endl;
}

void Trainer::log_json(const std::string& line) {
  log_ << line << '\n';
  log_.flush();
}

void Trainer::message(const std::string& text) const {
  if (hooks_.on_message)
    hooks_.on_message(text);
  else
    std::cout << text << std::endl;
}

}  // namespace litestage
