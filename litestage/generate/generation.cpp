#include "litestage/generate/generation.hpp"

namespace litestage {

const EnumNames<ExitReason>& exit_reason_names() {
  static const EnumNames<ExitReason> names = {
      {"eos", ExitReason::Eos},           {"max_tokens", ExitReason::MaxTokens},
      {"stop_string", ExitReason::StopString}, {"early_exit", ExitReason::EarlyExit},
      {"callback", ExitReason::Callback}, {"context_full", ExitReason::ContextFull},
      {"prompt_too_long", ExitReason::PromptTooLong}};
  return names;
}

const std::string& exit_reason_name(ExitReason reason) { return enum_name(exit_reason_names(), reason); }

nlohmann::json decision_key(const GenerationConfig& config) {
  // Structured bindings name every field: one more in any of the three structs fails to compile.
  // Deciding nothing: the observer watches, the draft history only speeds a call up, and the
  // sampled rule is a test's.
  [[maybe_unused]] const auto& [max_new_tokens, sampling, eos_ids, stop_strings, early_exit, skip, observer, add_bos,
                                speculative, draft_history, sampled_rule, reuse_held] = config;
  const auto& [temperature, top_k, top_p, seed] = sampling;
  const auto& [ee_enabled, ee_window, ee_threshold, ee_metric] = early_exit;
  nlohmann::json key = {skip.to_string(),
                        max_new_tokens,
                        ee_enabled ? nlohmann::json{ee_window, ee_threshold, confidence_metric_name(ee_metric)}
                                   : nlohmann::json(nullptr),
                        {temperature, top_k, top_p, seed},
                        stop_strings,
                        add_bos};
  // Only where set, so that plain decoding keeps the keys (and trace digests) it always had.
  if (speculative.on()) key.push_back(speculative.describe());
  if (!eos_ids.empty()) key.push_back({{"eos_ids", eos_ids}});
  if (reuse_held) key.push_back("reuse_held");  // fewer prompt tokens prefilled: other costs
  return key;
}

}  // namespace litestage
