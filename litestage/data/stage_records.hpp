#pragma once
// TinyThinker stage records: the supervised training format, one record per generate call.
//   recall:    {"input": <stage-1 prompt>,            "GT": "B", "recall": <one sentence>}
//   analyze:   {"input": <stage-2 prompt for option X>, "GT": "B", "analyze": <one sentence>}
//   summarize: {"input": <stage-3 prompt>,            "GT": "B", "summarize": "So the answer is option B."}
// "GT" is the gold label. Written as JSON Lines with keys in that order. The prompt strings are
// built by litestage/prompt/prompts.hpp (build_stage_records), so training data and inference
// prompts are the same strings.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "litestage/data/json_records.hpp"
#include "litestage/stage/stage.hpp"  // StageKind; its name is also the JSON key of a record's target

namespace litestage {

struct StageRecord {
  StageKind kind = StageKind::Recall;
  std::string input;   // the completion prompt
  std::string gt;      // gold label, "A".."Z"
  std::string target;  // what the model is trained to emit after `input`
};

// Teacher-written reasoning for one example, raw (prompt builders normalise it).
struct TeacherRationale {
  std::string recall;                 // one general-knowledge sentence
  std::vector<std::string> analyses;  // one sentence per option, in label order
  std::optional<int> answer;          // option index the summary names; nullopt: the example's gold
};

// Writes JSON Lines (atomically). Throws if a record has an empty input or a bad GT.
void write_stage_records(const std::string& path, const std::vector<StageRecord>& records);

// Reads JSON Lines, or a JSON array of the same objects (TinyThinker's own files are json.dump
// arrays). Each object must have string "input" and "GT" (one capital letter) and exactly one of
// "recall"/"analyze"/"summarize" (a string); other keys are ignored.
struct StageRecordSet {
  std::vector<StageRecord> records;  // in file order
  ReadReport report;
};
StageRecordSet read_stage_records(const std::string& path, const ReadOptions& options = {});

}  // namespace litestage
