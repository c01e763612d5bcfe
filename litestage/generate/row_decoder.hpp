#pragma once
// One sequence's stop rules during decoding (Generator's plain, batched and speculative loops).

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "litestage/generate/early_exit.hpp"
#include "litestage/generate/generation.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/phase_clock.hpp"

namespace litestage {

// One sequence's decoding: the per-token stop rules, the same for single and batched generation.
// Order: EOS (not recorded), then the token is recorded, then stop strings, the callback, early
// exit, max_new_tokens, and a full cache.
class RowDecoder {
 public:
  RowDecoder(const Tokenizer& tokenizer, const GenerationConfig& config, const std::vector<int32_t>& stops,
             GenerationResult& result)
      : config_(config), stops_(stops), result_(result), stream_(tokenizer), early_(config.early_exit) {}

  // Takes the picked token; returns why the row stops, if it does (also stored in the result).
  std::optional<ExitReason> push(int64_t id, float confidence, float max_logit, int64_t cache_length, int64_t capacity,
                                 const StreamCallback& on_token = nullptr) {
    const auto token = static_cast<int32_t>(id);
    std::optional<PhaseScope> phase(std::in_place, Phase::StopRules);
    if (std::find(stops_.begin(), stops_.end(), token) != stops_.end()) return stop(ExitReason::Eos);
    result_.tokens.push_back(token);
    result_.confidences.push_back(confidence);
    result_.max_logits.push_back(max_logit);
    phase.emplace(Phase::Detokenize);
    const std::string piece = stream_.push(token);
    text_ += piece;
    phase.emplace(Phase::StopRules);
    size_t cut = std::string::npos;
    for (const auto& s : config_.stop_strings) cut = std::min(cut, s.empty() ? cut : text_.find(s));
    if (cut != std::string::npos) {
      text_.resize(cut);
      return stop(ExitReason::StopString);
    }
    phase.reset();
    if (on_token && !on_token(token, piece)) return stop(ExitReason::Callback);
    phase.emplace(Phase::EarlyExit);
    if (early_.push(config_.early_exit.metric == ConfidenceMetric::Logit ? max_logit : confidence))
      return stop(ExitReason::EarlyExit);
    if (static_cast<int>(result_.tokens.size()) >= config_.max_new_tokens) return stop(ExitReason::MaxTokens);
    if (cache_length >= capacity) return stop(ExitReason::ContextFull);
    return std::nullopt;
  }

  // Moves the text into the result (with the decoder's held-back bytes unless a stop string cut it).
  void finish() {
    if (result_.exit_reason != ExitReason::StopString) text_ += stream_.flush();
    result_.text = std::move(text_);
  }

 private:
  ExitReason stop(ExitReason why) {
    result_.exit_reason = why;
    return why;
  }

  const GenerationConfig& config_;
  const std::vector<int32_t>& stops_;
  GenerationResult& result_;
  StreamDecoder stream_;
  EarlyExit early_;
  std::string text_;
};
}  // namespace litestage
