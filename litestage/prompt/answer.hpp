#pragma once
// Answer extraction from the Summarize output, exactly as TinyThinker scores it:
// re.search(r'the answer is option ([A-Z])\.', output). The pattern is case-sensitive on purpose
// (the reference's is): "The answer is option B." (capital T) and "the answer is option b." do not
// match, and neither does a missing final period. The leftmost match wins. No match means the
// example is wrong; callers report unparsed answers apart from wrong ones.

#include <optional>
#include <string_view>

#include "litestage/data/example.hpp"

namespace litestage {

inline constexpr std::string_view kAnswerPattern = R"(the answer is option ([A-Z])\.)";

// The captured letter of the leftmost match, or nullopt.
std::optional<char> parse_answer(std::string_view summarize_output);

struct AnswerJudgement {
  std::optional<char> letter;  // what parse_answer found
  std::optional<int> index;    // the letter's option index, when it is one of the example's labels
  bool correct = false;        // index == example.answer
  bool parsed() const { return letter.has_value(); }
};

AnswerJudgement judge_answer(const Example& example, std::string_view summarize_output);

}  // namespace litestage
