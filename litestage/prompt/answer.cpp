#include "litestage/prompt/answer.hpp"

#include <regex>
#include <string>

namespace litestage {

std::optional<char> parse_answer(std::string_view output) {
  static const std::regex pattern{std::string(kAnswerPattern)};  // ECMAScript, case-sensitive
  std::cmatch m;
  if (!std::regex_search(output.data(), output.data() + output.size(), m, pattern)) return std::nullopt;
  return m[1].first[0];
}

AnswerJudgement judge_answer(const Example& example, std::string_view output) {
  AnswerJudgement j;
  j.letter = parse_answer(output);
  if (j.letter) j.index = example.label_index(std::string(1, *j.letter));
  j.correct = j.index && *j.index == example.answer;
  return j;
}

}  // namespace litestage
