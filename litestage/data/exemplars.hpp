#pragma once
// TinyThinker's few-shot exemplars (datasets/<name>/prompt/<name>_cot.json): a JSON array of
//   {"Q": question, "Options": "A. text, B. text, ...", "Key Information": one sentence,
//    "Explanations": ["A is incorrect. Because ...", "B is correct. Because ...", ...],
//    "Reference": where the exemplar came from ("CoT", "MT-CoT", "Self-Consistency")}
// Key Information is the Recall target; the part of each explanation after its "Because " is the
// Analyze target for that option; the one option marked "is correct." is the answer.
// litestage/prompt/prompts.hpp turns them into per-stage (user, assistant) turns.

#include <string>
#include <vector>

#include "litestage/data/example.hpp"
#include "litestage/data/stage_records.hpp"

namespace litestage {

struct Exemplar {
  std::string question;                  // "Q"
  std::string options_raw;               // "Options", verbatim
  std::vector<std::string> options;      // option texts parsed from options_raw, in label order
  std::string key_information;           // "Key Information" (the recall), verbatim
  std::vector<std::string> explanations; // "Explanations", verbatim, one per option in label order
  std::vector<std::string> analyses;     // the reason part of each explanation
  int answer = -1;                       // index of the option whose explanation says "is correct."
  std::string reference;                 // "Reference"
  std::string source;                    // "path:line"
};

// Parses "A. text, B. text, ..." by looking for the next expected ", <letter>. " marker, so an option
// text containing ", " stays whole as long as it does not itself contain ", <next letter>. ".
// Throws litestage::Error when the string does not start with "A. ".
std::vector<std::string> parse_exemplar_options(const std::string& options);

// Reads a *_cot.json file. Every malformed entry is an error naming path:line: missing field,
// options/explanations count mismatch, an explanation not of the form "<X> is (correct|incorrect).
// Because|Although|While <reason>" with X the option's own label, or not exactly one correct.
std::vector<Exemplar> read_exemplars(const std::string& path);

// <root>/prompts/<dataset>_cot.json
std::string exemplar_path(const std::string& root, const std::string& dataset);

// The exemplar as an Example (id "<dataset>-exemplar-<i>") and its reasoning as a rationale.
Example exemplar_example(const Exemplar& exemplar, const std::string& dataset, size_t index);
TeacherRationale exemplar_rationale(const Exemplar& exemplar);

}  // namespace litestage
