#pragma once
// Readers for the official raw dataset files (see docs/datasets.md for the exact fields read).
// Every reader validates each record, reports a malformed one as path:line (litestage::Error), or
// with ReadOptions::skip_malformed skips it and says so in the returned report.

#include <string>
#include <vector>

#include "litestage/data/example.hpp"
#include "litestage/data/json_records.hpp"

namespace litestage {

struct ReadResult {
  std::vector<Example> examples;  // in file order
  ReadReport report;
};

// OpenBookQA "Main" (train/dev/test.jsonl) and CommonsenseQA (*_rand_split.jsonl) share one shape:
//   {"id": str, "question": {"stem": str, "choices": [{"text": str, "label": "A"}, ...]},
//    "answerKey": "A"}
// Malformed: invalid JSON, a missing or non-string field, no choices, labels not "A", "B", ... in
// order, an answerKey that is not one of the labels, or an id seen before in the file.
ReadResult read_choice_jsonl(const std::string& path, const std::string& dataset, const ReadOptions& options = {});

// StrategyQA's strategyqa_train.json: one JSON array of
//   {"qid": str, "question": str, "answer": bool, "facts": [str], ...}
// posed as two options (A) yes (B) no; answer true -> A, false -> B. "facts" is optional.
ReadResult read_strategyqa_json(const std::string& path, const ReadOptions& options = {});

}  // namespace litestage
