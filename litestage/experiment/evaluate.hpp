#pragma once
// Evaluation over a list of examples with a progress bar (done, accuracy so far, ETA), traces
// appended as each example finishes so an interrupted run resumes without redoing work, and the
// run's output files (docs/experiments.md).

#include <optional>
#include <string>
#include <vector>

#include "litestage/data/dataset.hpp"
#include "litestage/experiment/session.hpp"
#include "litestage/reasoning/pipeline.hpp"

namespace litestage {

struct EvalOptions {
  std::string label = "eval";
  std::string traces_path;              // JSONL appended per example; empty: not written
  bool resume = false;                  // reuse finished examples found in traces_path
  std::optional<size_t> stop_after;     // stop after this many new examples (tests: a crash)
  bool progress = true;
};

struct EvalResult {
  std::vector<ExampleTrace> traces;     // in example order
  Summary summary;
  bool complete = true;                 // false when stop_after cut the run short
  size_t resumed = 0;                   // examples taken from an earlier run
  size_t dropped = 0;                   // earlier traces of another configuration, not reused
};

EvalResult run_pipeline(MultiStagePipeline& pipeline, const std::vector<Example>& examples, const EvalOptions& options);

// Reads a traces JSONL file (a partially written last line is ignored).
std::vector<ExampleTrace> read_traces(const std::string& path);

// `litestage eval`: evaluates the experiment's split with its pipeline and writes
//   <output_dir>/config.yaml      effective configuration
//   <output_dir>/split.json       the split (SplitInfo)
//   <output_dir>/traces.jsonl     per-example traces, appended as it goes
//   <output_dir>/predictions.jsonl  the deterministic part, in example order
//   <output_dir>/summary.json, summary.md
// An output_dir holding a different configuration's results is refused; with resume, finished
// examples are kept and only the rest run.
EvalResult run_eval(Session& session, bool resume, std::optional<size_t> stop_after = std::nullopt);

}  // namespace litestage
