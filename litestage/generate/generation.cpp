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

}  // namespace litestage
