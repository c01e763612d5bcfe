#include "litestage/experiment/evaluate.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "litestage/model/blas.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

std::vector<ExampleTrace> read_traces(const std::string& path) {
  std::vector<ExampleTrace> out;
  read_jsonl(path, [&](const nlohmann::json& j) { out.push_back(j.get<ExampleTrace>()); }, "trace");
  return out;
}

EvalResult evaluate(MultiStagePipeline& pipeline, const std::vector<Example>& examples, const EvalOptions& opt) {
  EvalResult result;
  std::map<std::string, ExampleTrace> done;
  if (opt.resume && !opt.traces_path.empty()) {
    for (auto& t : read_traces(opt.traces_path)) done[t.id] = std::move(t);
  } else if (!opt.traces_path.empty()) {
    std::filesystem::remove(opt.traces_path);
  }
  if (!opt.traces_path.empty() && std::filesystem::path(opt.traces_path).has_parent_path())
    std::filesystem::create_directories(std::filesystem::path(opt.traces_path).parent_path());
  // Rewrite the kept traces so a torn last line from the interruption is dropped.
  std::ofstream out;
  if (!opt.traces_path.empty()) {
    out.open(opt.traces_path, std::ios::trunc);
    if (!out) throw_error("cannot write traces to '", opt.traces_path, "'");
  }

  Progress bar(opt.label, examples.size(), opt.progress ? stderr : nullptr);
  size_t correct = 0, fresh = 0, finished = 0;
  for (const auto& ex : examples) {
    ExampleTrace t;
    auto it = done.find(ex.id);
    if (it != done.end()) {
      t = std::move(it->second);
      ++result.resumed;
    } else {
      if (opt.stop_after && fresh >= *opt.stop_after) {
        result.complete = false;
        break;
      }
      t = pipeline.run(ex);
      ++fresh;
    }
    if (out.is_open()) {
      out << nlohmann::json(t).dump() << "\n";
      out.flush();
    }
    correct += t.correct;
    ++finished;
    result.traces.push_back(std::move(t));
    if (opt.progress) {
      char status[64];
      std::snprintf(status, sizeof status, "acc %.1f%%", 100.0 * correct / finished);
      if (result.resumed == finished) bar.set_resumed(finished);
      bar.update(finished, status);
    }
  }
  if (opt.progress) bar.finish();
  result.summary = summarize(result.traces);
  return result;
}

EvalResult run_eval(Session& session, bool resume, std::optional<size_t> stop_after) {
  const auto& spec = session.spec();
  namespace fs = std::filesystem;
  fs::path dir = spec.output_dir;
  fs::create_directories(dir);
  std::string config = experiment_yaml(spec);
  auto config_path = dir / "config.yaml";
  bool has_results = fs::exists(dir / "traces.jsonl");
  if (has_results) {
    std::string previous = fs::exists(config_path) ? read_file(config_path.string()) : "";
    if (!resume)
      throw_error("output directory '", dir.string(), "' already holds results; pass --resume to continue them, ",
                  "or choose another output_dir");
    if (previous != config)
      throw_error("cannot resume in '", dir.string(), "': its config.yaml differs from this experiment's ",
                  "effective configuration");
  }
  write_file_atomic(config_path.string(), config);
  auto data = session.dataset(spec.split);
  write_file_atomic((dir / "split.json").string(), nlohmann::json(data.info).dump(2) + "\n");

  MultiStagePipeline pipeline(session.generator(), session.pipeline_config());
  EvalOptions opt;
  opt.label = spec.name;
  opt.traces_path = (dir / "traces.jsonl").string();
  opt.resume = resume;
  opt.stop_after = stop_after;
  auto result = evaluate(pipeline, data.examples, opt);
  if (!result.complete) return result;

  std::string predictions;
  for (const auto& t : result.traces) predictions += prediction_json(t).dump() + "\n";
  write_file_atomic((dir / "predictions.jsonl").string(), predictions);
  nlohmann::json summary = result.summary;
  summary["experiment"] = spec.name;
  summary["split"] = data.info;
  summary["model"] = spec.model;
  summary["device"] = session.runtime().device.str();
  summary["dtype"] = dtype_name(session.runtime().dtype);
  summary["dtype_reason"] = session.runtime().dtype_reason;
  summary["runtime"] = runtime_description(session.runtime());
  summary["threads"] = at::get_num_threads();
  write_file_atomic((dir / "summary.json").string(), summary.dump(2) + "\n");
  std::string title = spec.name + " — " + spec.dataset + "/" + data.info.split + " (" +
                      std::to_string(data.info.size) + " examples)";
  write_file_atomic((dir / "summary.md").string(), summary_markdown(result.summary, title));
  return result;
}

}  // namespace litestage
