#include "litestage/experiment/evaluate.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "litestage/dist/dist.hpp"
#include "litestage/experiment/run_dir.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/provenance.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

std::vector<ExampleTrace> read_traces(const std::string& path) {
  std::vector<ExampleTrace> out;
  read_jsonl(path, [&](const nlohmann::json& j) { out.push_back(j.get<ExampleTrace>()); }, "trace");
  return out;
}

namespace {

constexpr const char* kEvalCommand = "eval";

// The finished traces of an earlier run made under `config` (MultiStagePipeline::config_digest),
// by example id, as rank 0 reads them (a torn last line is dropped there). Traces of any other
// configuration (a rerun that chose other plans, say) are dropped, and counted in `dropped`.
std::map<std::string, ExampleTrace> finished_traces(const std::string& path, const std::string& config,
                                                    size_t& dropped) {
  std::map<std::string, ExampleTrace> done;
  dist::read_jsonl_from_root(path, [&](const nlohmann::json& j) {
    auto t = j.get<ExampleTrace>();
    if (t.config != config) {
      ++dropped;
      return;
    }
    done[t.id] = std::move(t);
  }, "trace");
  return done;
}

// Results of eval's (or of no recorded command) in `dir` without --resume: refused whatever their
// settings ("" when that is not so). The claim refuses the rest: another command's run, or results
// of other settings.
std::string unresumed_results(const RunDir& run, bool resume) {
  const std::string owner = run.owner();
  if (resume || (!owner.empty() && owner != kEvalCommand) || !std::filesystem::exists(run.traces())) return "";
  return "output directory '" + run.root().string() + "' already holds results; pass --resume to continue " +
         "them, or choose another output_dir";
}

// Examples per rank between two exchanges of results: one (every trace written as it finishes)
// in a single process; a few when several ranks must wait for each other's slowest question.
size_t exchange_round() { return dist::active() ? 8 : 1; }

}  // namespace

EvalResult run_pipeline(MultiStagePipeline& pipeline, const std::vector<Example>& examples, const EvalOptions& opt) {
  EvalResult result;
  const bool journal = !opt.traces_path.empty();
  auto done = opt.resume && journal ? finished_traces(opt.traces_path, pipeline.config_digest(), result.dropped)
                                    : std::map<std::string, ExampleTrace>{};
  if (result.dropped > 0 && opt.progress)
    std::fprintf(stderr, "%s: dropped %zu traces of another configuration from %s\n", opt.label.c_str(),
                 result.dropped, opt.traces_path.c_str());
  // Rank 0 rewrites the kept traces (dropping a torn last line) and appends new ones as rounds end.
  std::ofstream out;
  if (journal && dist::is_root()) {
    const std::filesystem::path path(opt.traces_path);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    out.open(path, std::ios::trunc);
    if (!out) throw_error("cannot write traces to '", opt.traces_path, "'");
  }
  std::vector<std::optional<ExampleTrace>> traces(examples.size());
  std::vector<size_t> pending;  // examples still to run, in order
  for (size_t i = 0; i < examples.size(); ++i) {
    auto it = done.find(examples[i].id);
    if (it == done.end()) {
      pending.push_back(i);
      continue;
    }
    if (out.is_open()) out << nlohmann::json(it->second).dump() << "\n";
    traces[i] = std::move(it->second);
    ++result.resumed;
  }
  if (opt.stop_after && pending.size() > *opt.stop_after) {
    pending.resize(*opt.stop_after);
    result.complete = false;
  }
  out.flush();
  if (result.resumed > 0 && opt.progress)
    std::fprintf(stderr, "%s: resumed %zu of %zu examples from %s\n", opt.label.c_str(), result.resumed,
                 examples.size(), opt.traces_path.c_str());

  Progress bar(opt.label, examples.size(), opt.progress ? stderr : nullptr);
  bar.set_resumed(result.resumed);
  size_t correct = 0, finished = result.resumed;
  for (const auto& t : traces) correct += t && t->correct;
  auto run = [&](size_t j) { return nlohmann::json(pipeline.run(examples[pending[j]])).dump(); };
  auto record = [&](size_t begin, size_t end, const std::vector<std::string>& results) {
    for (size_t j = begin; j < end; ++j) {
      if (out.is_open()) out << results[j] << "\n";
      auto& t = traces[pending[j]];
      t = nlohmann::json::parse(results[j]).get<ExampleTrace>();
      correct += t->correct;
      ++finished;
    }
    out.flush();
    char status[64];
    std::snprintf(status, sizeof status, "acc %.1f%%", finished ? 100.0 * correct / finished : 0.0);
    bar.update(finished, status);
  };
  dist::map_gathered(pending.size(), run, exchange_round(), record);
  if (opt.progress) bar.finish();
  for (auto& t : traces)
    if (t) result.traces.push_back(std::move(*t));
  result.summary = summarize(result.traces);
  return result;
}

EvalResult run_eval(Session& session, bool resume, std::optional<size_t> stop_after) {
  const auto& spec = session.spec();
  const RunDir dir(spec.output_dir);
  // The split first: a bad offset or limit is refused before anything is written.
  auto data = session.dataset(spec.split);
  // Refused before anything is written, as rank 0 sees the directory.
  const std::string problem = dist::from_root([&] { return unresumed_results(dir, resume); });
  if (!problem.empty()) throw_error(problem);
  dir.claim(kEvalCommand, session.result_fingerprint());
  dir.write(dir.config(), experiment_yaml(spec));
  dir.write(dir.split(), nlohmann::json(data.info).dump(2) + "\n");

  MultiStagePipeline pipeline(session.generator(), session.pipeline_config());
  EvalOptions opt;
  opt.label = spec.name;
  opt.traces_path = dir.traces().string();
  opt.resume = resume;
  opt.stop_after = stop_after;
  auto result = run_pipeline(pipeline, data.examples, opt);
  if (!result.complete) return result;

  std::string predictions;
  for (const auto& t : result.traces) predictions += prediction_json(t).dump() + "\n";
  dir.write(dir.predictions(), predictions);
  nlohmann::json summary = result.summary;
  summary["experiment"] = spec.name;
  summary["split"] = data.info;
  summary["model"] = spec.model;
  summary["device"] = session.runtime().device.str();
  summary["dtype"] = dtype_name(session.runtime().dtype);
  summary["dtype_reason"] = session.runtime().dtype_reason;
  summary["runtime"] = runtime_description(session.runtime());
  summary["threads"] = at::get_num_threads();
  summary["ranks"] = dist::world_size();
  summary["provenance"] = provenance_json();
  dir.write(dir.summary_json(), summary.dump(2) + "\n");
  std::string title = spec.name + " — " + spec.dataset + "/" + data.info.split + " (" +
                      std::to_string(data.info.size) + " examples)";
  dir.write(dir.summary_md(), summary_markdown(result.summary, title));
  return result;
}

}  // namespace litestage
