#include "litestage/tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof buffer);
  if (n < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// Per-thread match state: match data (one ovector pair: only the whole match is read, so a
// pattern with capture groups still works), and a JIT stack larger than PCRE2's 32 KiB default
// so long runs of one character class cannot exhaust it.
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (!data || !context) throw Error("PCRE2: out of memory creating match data");
    if (jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

Regex::Regex(std::string pattern) : pattern_(std::move(pattern)) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                             PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code) {
    throw_error("cannot compile regex /", pattern_, "/: ", pcre2_message(error), " at pattern offset ",
                offset);
  }
  code_ = code;
  uint32_t has_jit = 0;
  pcre2_config(PCRE2_CONFIG_JIT, &has_jit);
  // JIT is an optimisation only: when unavailable or refused, the interpreter gives the same
  // matches.
  jit_ = has_jit && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool Regex::find(std::string_view subject, size_t start, size_t& match_begin, size_t& match_end) const {
  auto& state = match_state();
  auto* code = static_cast<pcre2_code*>(code_);
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  while (start <= subject.size()) {
    int rc = pcre2_match(code, text, subject.size(), start, PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) throw_error("regex /", pattern_, "/ failed at byte ", start, ": ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
    if (ov[1] > ov[0]) {
      match_begin = ov[0];
      match_end = ov[1];
      return true;
    }
    // An empty match yields no piece: search again from the next code point.
    if (ov[0] >= subject.size()) return false;
    size_t len = utf8::sequence_length(subject, ov[0]);
    start = ov[0] + (len ? len : 1);
  }
  return false;
}

}  // namespace litestage
