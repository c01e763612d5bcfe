#include "litestage/experiment/spec.hpp"

#include <filesystem>

#include "litestage/search/policies.hpp"
#include "litestage/search/profile.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/yaml.hpp"

namespace litestage {

std::string ExperimentSpec::data_root_or_default() const {
  return data_root.empty() ? default_data_root() : data_root;
}

namespace {

StageSpec parse_stage(const YamlNode& n, const EarlyExitConfig& inherited) {
  StageSpec s;
  if (!n.defined()) return s;
  n.expect_keys({"skip", "max_new_tokens", "early_exit"});
  s.skip = n.get_string("skip", "none");
  if (n.has("max_new_tokens")) {
    s.max_new_tokens = static_cast<int>(n["max_new_tokens"].as_int());
    if (*s.max_new_tokens < 1) n["max_new_tokens"].fail("must be >= 1");
  }
  if (n.has("early_exit")) s.early_exit = parse_early_exit_yaml(n["early_exit"], inherited);
  return s;
}

void parse_runtime(const YamlNode& rt, ExperimentSpec& s) {
  rt.expect_keys({"device", "dtype", "threads", "prefix_sharing"});
  s.device = rt.get_string("device", s.device);
  s.dtype = rt.get_string("dtype", s.dtype);
  s.threads = static_cast<int>(rt.get_int("threads", 0));
  if (s.threads < 0) rt["threads"].fail("must be >= 0");
  s.prefix_sharing = rt.get_bool("prefix_sharing", s.prefix_sharing);
}

void parse_data(const YamlNode& d, ExperimentSpec& s) {
  d.expect_keys({"dataset", "root", "split", "offset", "limit", "seed", "calibration_size", "skip_malformed"});
  s.dataset = d.get_string("dataset", s.dataset);
  s.data_root = d.get_string("root", "");
  s.split = d.get_choice("split", s.split, {"train", "valid", "validation", "test", "calibration"});
  auto offset = d.get_int("offset", 0);
  if (offset < 0) d["offset"].fail("must be >= 0");
  s.load.offset = static_cast<size_t>(offset);
  if (d.has("limit")) {
    auto limit = d["limit"].as_int();
    if (limit < 1) d["limit"].fail("must be >= 1");
    s.load.limit = static_cast<size_t>(limit);
  }
  s.load.seed = static_cast<uint64_t>(d.get_int("seed", static_cast<int64_t>(kDefaultSplitSeed)));
  auto cal = d.get_int("calibration_size", static_cast<int64_t>(kDefaultCalibrationSize));
  if (cal < 1) d["calibration_size"].fail("must be >= 1");
  s.load.calibration_size = static_cast<size_t>(cal);
  s.load.skip_malformed = d.get_bool("skip_malformed", false);
}

void parse_prompt(const YamlNode& p, ExperimentSpec& s) {
  p.expect_keys({"format", "mode", "chat_template", "exemplars", "system_prompt"});
  s.prompt_format = p.get_choice("format", s.prompt_format, {"tinythinker", "chat"});
  s.mode = p.get_choice("mode", s.mode, {"recall_analyze_summarize", "recall_summarize", "analyze_summarize", "summarize"});
  s.chat_template = p.get_choice("chat_template", s.chat_template, {"auto", "none", "chatml", "zephyr", "llama3"});
  s.exemplars = p.get_bool("exemplars", s.exemplars);
  s.system_prompt = p.get_string("system_prompt", "");
}

void parse_generation(const YamlNode& g, ExperimentSpec& s) {
  g.expect_keys({"max_new_tokens", "temperature", "top_k", "top_p", "seed", "stop", "batch_analyze"});
  s.max_new_tokens = static_cast<int>(g.get_int("max_new_tokens", s.max_new_tokens));
  if (s.max_new_tokens < 1) g["max_new_tokens"].fail("must be >= 1");
  s.sampling.temperature = g.get_double("temperature", 0.0);
  if (s.sampling.temperature < 0) g["temperature"].fail("must be >= 0");
  s.sampling.top_k = static_cast<int>(g.get_int("top_k", 0));
  s.sampling.top_p = g.get_double("top_p", 1.0);
  if (s.sampling.top_p < 0 || s.sampling.top_p > 1) g["top_p"].fail("must be in [0, 1]");
  s.sampling.seed = static_cast<uint64_t>(g.get_int("seed", 0));
  if (g.has("stop")) s.stop = g["stop"].as_string_list();
  s.batch_analyze = g.get_bool("batch_analyze", false);
}

void parse_importance(const YamlNode& im, ExperimentSpec& s) {
  im.expect_keys({"split", "examples", "pooling", "accumulate"});
  s.importance.split = im.get_choice("split", s.importance.split, {"train", "valid", "validation", "calibration"});
  s.importance.examples = static_cast<int>(im.get_int("examples", s.importance.examples));
  if (s.importance.examples < 1) im["examples"].fail("must be >= 1");
  s.importance.pooling = im.get_choice("pooling", s.importance.pooling, {"mean", "last"});
  s.importance.accumulate = im.get_choice("accumulate", s.importance.accumulate, {"sum", "mean"});
}

void parse_timing(const YamlNode& ti, ExperimentSpec& s) {
  ti.expect_keys({"repeats", "warmup"});
  s.timing.repeats = static_cast<int>(ti.get_int("repeats", s.timing.repeats));
  if (s.timing.repeats < 1) ti["repeats"].fail("must be >= 1");
  s.timing.warmup = static_cast<int>(ti.get_int("warmup", s.timing.warmup));
  if (s.timing.warmup < 0) ti["warmup"].fail("must be >= 0");
}

void parse_search(const YamlNode& se, ExperimentSpec& s) {
  se.expect_keys({"split", "epsilon", "max_k", "step", "limit", "latency"});
  s.search.latency = se.get_choice("latency", s.search.latency, {"measured", "cost"});
  s.search.split = se.get_choice("split", s.search.split, {"train", "valid", "validation", "calibration"});
  s.search.epsilon = se.get_double("epsilon", s.search.epsilon);
  if (s.search.epsilon < 0) se["epsilon"].fail("must be >= 0");
  if (se.has("max_k")) {
    s.search.max_k = static_cast<int>(se["max_k"].as_int());
    if (*s.search.max_k < 0) se["max_k"].fail("must be >= 0");
  }
  s.search.step = static_cast<int>(se.get_int("step", 1));
  if (s.search.step < 1) se["step"].fail("must be >= 1");
  s.search.limit = static_cast<int>(se.get_int("limit", 0));
  if (s.search.limit < 0) se["limit"].fail("must be >= 0");
}

void parse_sweep(const YamlNode& sw, ExperimentSpec& s) {
  sw.expect_keys({"thresholds", "window", "metric"});
  if (sw.has("thresholds")) s.early_exit_sweep.thresholds = sw["thresholds"].as_double_list();
  s.early_exit_sweep.window = static_cast<int>(sw.get_int("window", s.early_exit_sweep.window));
  if (s.early_exit_sweep.window < 1) sw["window"].fail("must be >= 1");
  s.early_exit_sweep.metric = sw.get_choice("metric", s.early_exit_sweep.metric, {"probability", "logit"});
  if (s.early_exit_sweep.thresholds.empty()) sw["thresholds"].fail("needs at least one threshold");
}

}  // namespace

ExperimentSpec parse_experiment(const YAML::Node& tree, const std::string& source) {
  YamlNode root(tree, "", source);
  if (!root.defined()) root.fail("the experiment file is empty");
  root.expect_keys({"name", "model", "tokenizer", "runtime", "data", "prompt", "generation", "early_exit", "stages",
                    "budget_profile", "force_profile", "output_dir", "seed", "importance", "search", "timing",
                    "early_exit_sweep", "methods", "epsilons"});
  ExperimentSpec s;
  s.source = source;
  s.effective = tree;
  s.name = root.get_string("name", std::filesystem::path(source).stem().string());
  s.model = root.require_string("model");
  s.tokenizer = root.get_string("tokenizer", "");

  if (auto rt = root["runtime"]; rt.defined()) parse_runtime(rt, s);
  if (auto d = root["data"]; d.defined()) parse_data(d, s);
  if (auto p = root["prompt"]; p.defined()) parse_prompt(p, s);
  if (auto g = root["generation"]; g.defined()) parse_generation(g, s);

  s.early_exit = parse_early_exit_yaml(root["early_exit"], EarlyExitConfig{});
  if (auto st = root["stages"]; st.defined()) {
    st.expect_keys({"recall", "analyze", "summarize"});
    for (StageKind kind : kStages) s.stages[kind] = parse_stage(st[std::string(to_string(kind))], s.early_exit);
  }
  s.budget_profile = root.get_string("budget_profile", "");
  s.force_profile = root.get_bool("force_profile", false);
  s.output_dir = root.get_string("output_dir", "runs/" + s.name);
  s.seed = static_cast<uint64_t>(root.get_int("seed", 0));

  if (auto im = root["importance"]; im.defined()) parse_importance(im, s);
  if (auto ti = root["timing"]; ti.defined()) parse_timing(ti, s);
  if (auto se = root["search"]; se.defined()) parse_search(se, s);
  if (auto sw = root["early_exit_sweep"]; sw.defined()) parse_sweep(sw, s);
  if (root.has("methods")) {
    s.methods = root["methods"].as_string_list();
    for (const auto& m : s.methods)
      if (!is_method(m)) root["methods"].fail("unknown method '" + m + "' (known: " + join(method_names(), ", ") + ")");
  }
  if (s.prompt_format == "chat" && s.chat_template == "none")
    root["prompt"]["chat_template"].fail("'none' cannot render a chat prompt; use auto, chatml, zephyr or llama3");
  if (root.has("epsilons")) s.epsilons = root["epsilons"].as_double_list();
  return s;
}

namespace {

// "" when `path` exists, else why not (missing, or a name the file system refuses).
std::string missing_reason(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return "";
  return ec ? "cannot be checked: " + ec.message() : "does not exist";
}

}  // namespace

ExperimentSpec load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  if (auto why = missing_reason(path); !why.empty()) throw_error("experiment file '", path, "' ", why);
  auto root = YamlNode::load_file(path);
  YAML::Node tree = YAML::Clone(root.raw());
  for (const auto& o : overrides) apply_yaml_override(tree, o);
  auto spec = parse_experiment(tree, path);
  if (auto why = missing_reason(spec.model); !why.empty())
    YamlNode(tree["model"], "model", path).fail("model directory '" + spec.model + "' " + why);
  if (auto why = spec.tokenizer.empty() ? "" : missing_reason(spec.tokenizer); !why.empty())
    YamlNode(tree["tokenizer"], "tokenizer", path).fail("tokenizer directory '" + spec.tokenizer + "' " + why);
  return spec;
}

std::string experiment_yaml(const ExperimentSpec& s) {
  YAML::Node n;
  n["name"] = s.name;
  n["model"] = s.model;
  if (!s.tokenizer.empty()) n["tokenizer"] = s.tokenizer;
  n["runtime"]["device"] = s.device;
  n["runtime"]["dtype"] = s.dtype;
  n["runtime"]["threads"] = s.threads;
  n["runtime"]["prefix_sharing"] = s.prefix_sharing;
  n["data"]["dataset"] = s.dataset;
  n["data"]["root"] = s.data_root_or_default();
  n["data"]["split"] = s.split;
  n["data"]["offset"] = s.load.offset;
  if (s.load.limit) n["data"]["limit"] = *s.load.limit;
  n["data"]["seed"] = s.load.seed;
  n["data"]["calibration_size"] = s.load.calibration_size;
  n["data"]["skip_malformed"] = s.load.skip_malformed;
  n["prompt"]["format"] = s.prompt_format;
  n["prompt"]["mode"] = s.mode;
  n["prompt"]["chat_template"] = s.chat_template;
  n["prompt"]["exemplars"] = s.exemplars;
  if (!s.system_prompt.empty()) n["prompt"]["system_prompt"] = s.system_prompt;
  n["generation"]["max_new_tokens"] = s.max_new_tokens;
  n["generation"]["temperature"] = s.sampling.temperature;
  n["generation"]["top_k"] = s.sampling.top_k;
  n["generation"]["top_p"] = s.sampling.top_p;
  n["generation"]["seed"] = s.sampling.seed;
  n["generation"]["stop"] = s.stop;
  n["generation"]["batch_analyze"] = s.batch_analyze;
  n["early_exit"] = early_exit_yaml(s.early_exit);
  for (auto kind : kStages) {
    const auto& st = s.stages[kind];
    std::string k(to_string(kind));
    n["stages"][k]["skip"] = st.skip;
    n["stages"][k]["max_new_tokens"] = st.max_new_tokens.value_or(s.max_new_tokens);
    n["stages"][k]["early_exit"] = early_exit_yaml(st.early_exit.value_or(s.early_exit));
  }
  if (!s.budget_profile.empty()) n["budget_profile"] = s.budget_profile;
  n["force_profile"] = s.force_profile;
  n["output_dir"] = s.output_dir;
  n["seed"] = s.seed;
  n["importance"]["split"] = s.importance.split;
  n["importance"]["examples"] = s.importance.examples;
  n["importance"]["pooling"] = s.importance.pooling;
  n["importance"]["accumulate"] = s.importance.accumulate;
  n["search"]["split"] = s.search.split;
  n["search"]["epsilon"] = s.search.epsilon;
  if (s.search.max_k) n["search"]["max_k"] = *s.search.max_k;
  n["search"]["step"] = s.search.step;
  n["search"]["limit"] = s.search.limit;
  n["search"]["latency"] = s.search.latency;
  n["timing"]["repeats"] = s.timing.repeats;
  n["timing"]["warmup"] = s.timing.warmup;
  n["early_exit_sweep"]["thresholds"] = s.early_exit_sweep.thresholds;
  n["early_exit_sweep"]["window"] = s.early_exit_sweep.window;
  n["early_exit_sweep"]["metric"] = s.early_exit_sweep.metric;
  n["methods"] = s.methods;
  n["epsilons"] = s.epsilons;
  return yaml_dump(n);
}

}  // namespace litestage
