#include "litestage/train/config.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "litestage/data/dataset.hpp"
#include "litestage/model/config.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/yaml.hpp"

namespace litestage {

namespace {

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

int64_t int_at_least(const YamlNode& map, const std::string& key, int64_t fallback, int64_t min) {
  int64_t v = map.get_int(key, fallback);
  if (v < min) map[key].fail("must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  return v;
}

double double_in(const YamlNode& map, const std::string& key, double fallback, double min, double max,
                 bool min_exclusive = false) {
  double v = map.get_double(key, fallback);
  bool low = min_exclusive ? v <= min : v < min;
  if (low || v > max) {
    std::string range = (min_exclusive ? "(" : "[") + format_number(min) + ", " + format_number(max) + "]";
    map[key].fail("must be in " + range + ", got " + format_number(v));
  }
  return v;
}

std::vector<std::string> file_list(const YamlNode& map, const std::string& key) {
  if (!map.has(key)) return {};
  auto files = map[key].as_string_list();
  for (const auto& f : files)
    if (trim(f).empty()) map[key].fail("empty file name");
  return files;
}

// A YAML tree as JSON: plain scalars become numbers, booleans or null when they read as such;
// quoted scalars stay strings.
nlohmann::json to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) throw_error("a key must be a plain name");
      j[kv.first.Scalar()] = to_json(kv.second);
    }
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& item : node) j.push_back(to_json(item));
    return j;
  }
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted
  try {
    size_t used = 0;
    long long i = std::stoll(s, &used, 10);
    if (used == s.size()) return i;
  } catch (const std::exception&) {
  }
  try {
    size_t used = 0;
    double d = std::stod(s, &used);
    if (used == s.size()) return d;
  } catch (const std::exception&) {
  }
  if (s == "true" || s == "false") return s == "true";
  return s;
}

TrainModelConfig parse_model(const YamlNode& n) {
  TrainModelConfig m;
  if (!n.defined()) n.fail("required: model.path (a checkpoint directory) or model.config (config.json for a random init)");
  n.expect_keys({"path", "config", "init_seed"});
  m.path = n.get_string("path", "");
  if (n.has("config") && n["config"].is_map()) {
    try {
      const auto config = to_json(n["config"].raw());
      ModelConfig::from_json(config, "model.config");
      m.config_json = config.dump();
    } catch (const Error& e) {
      n["config"].fail(e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. text that is not UTF-8
      n["config"].fail(e.what());
    }
    m.config = "(inline)";
  } else {
    m.config = n.get_string("config", "");
  }
  m.init_seed = int_at_least(n, "init_seed", -1, -1);
  if (m.path.empty() == m.config.empty())
    n.fail("give exactly one of model.path (a checkpoint directory) and model.config (config.json for a random init)");
  if (!m.path.empty() && n.has("init_seed")) n["init_seed"].fail("only meaningful with model.config (random init)");
  return m;
}

TrainRuntimeConfig parse_runtime(const YamlNode& n) {
  TrainRuntimeConfig r;
  if (!n.defined()) return r;
  n.expect_keys({"device", "precision", "threads"});
  r.device = n.get_string("device", r.device);
  auto p = n.get_choice("precision", "auto", {"auto", "f32", "bf16"});
  r.precision = p == "f32" ? Precision::F32 : p == "bf16" ? Precision::Bf16 : Precision::Auto;
  r.threads = static_cast<int>(int_at_least(n, "threads", 0, 0));
  return r;
}

TrainDataConfig parse_data(const YamlNode& n) {
  TrainDataConfig d;
  if (!n.defined()) n.fail("required: data.train (stage-record files)");
  n.expect_keys({"train", "validation", "stages", "max_seq_len", "truncation", "add_bos", "eos_id",
                 "max_train_records", "max_validation_records", "skip_malformed", "group_by_length"});
  d.train = file_list(n, "train");
  if (d.train.empty()) n["train"].fail("required key is missing (one or more stage-record files)");
  d.validation = file_list(n, "validation");
  if (n.has("stages")) {
    d.stages.clear();
    for (const auto& s : n["stages"].as_string_list()) {
      StageKind k;
      try {
        k = parse_stage_kind(s);
      } catch (const Error&) {
        n["stages"].fail("'" + s + "' is not one of: recall, analyze, summarize");
      }
      for (StageKind seen : d.stages)
        if (seen == k) n["stages"].fail("'" + s + "' listed twice");
      d.stages.push_back(k);
    }
    if (d.stages.empty()) n["stages"].fail("must name at least one stage");
  }
  d.max_seq_len = int_at_least(n, "max_seq_len", 0, 0);
  if (d.max_seq_len == 1) n["max_seq_len"].fail("must be 0 (the model's limit) or >= 2, got 1");
  d.truncation = n.get_choice("truncation", "error", {"error", "left"}) == "left" ? Truncation::Left : Truncation::Error;
  d.add_bos = n.get_bool("add_bos", d.add_bos);
  d.eos_id = int_at_least(n, "eos_id", -1, -1);
  d.max_train_records = int_at_least(n, "max_train_records", 0, 0);
  d.max_validation_records = int_at_least(n, "max_validation_records", 0, 0);
  d.skip_malformed = n.get_bool("skip_malformed", false);
  d.group_by_length = n.get_bool("group_by_length", false);
  return d;
}

TrainOptimizerConfig parse_optimizer(const YamlNode& n) {
  TrainOptimizerConfig o;
  if (!n.defined()) return o;
  n.expect_keys({"lr", "min_lr", "schedule", "warmup_steps", "weight_decay", "betas", "eps", "grad_clip"});
  o.lr = double_in(n, "lr", o.lr, 0.0, 1.0, /*min_exclusive=*/true);
  o.min_lr = double_in(n, "min_lr", o.min_lr, 0.0, o.lr);
  o.schedule = n.get_choice("schedule", "cosine", {"cosine", "constant"}) == "constant" ? LrScheduleKind::Constant
                                                                                         : LrScheduleKind::Cosine;
  o.warmup_steps = int_at_least(n, "warmup_steps", 0, 0);
  o.weight_decay = double_in(n, "weight_decay", o.weight_decay, 0.0, 1.0);
  if (n.has("betas")) {
    auto b = n["betas"].as_double_list();
    if (b.size() != 2) n["betas"].fail("expected two numbers [beta1, beta2], got " + std::to_string(b.size()));
    for (double beta : b)
      if (!(beta >= 0.0 && beta < 1.0)) n["betas"].fail("each beta must be in [0, 1), got " + format_number(beta));
    o.beta1 = b[0];
    o.beta2 = b[1];
  }
  o.eps = double_in(n, "eps", o.eps, 0.0, 1.0, /*min_exclusive=*/true);
  o.grad_clip = double_in(n, "grad_clip", o.grad_clip, 0.0, std::numeric_limits<double>::max());
  return o;
}

TrainLoopConfig parse_loop(const YamlNode& n) {
  TrainLoopConfig t;
  if (!n.defined()) return t;
  n.expect_keys({"epochs", "max_steps", "batch_size", "grad_accum", "log_every", "eval_every", "save_every",
                 "eval_batch_size"});
  t.epochs = int_at_least(n, "epochs", t.epochs, 1);
  t.max_steps = int_at_least(n, "max_steps", 0, 0);
  t.batch_size = int_at_least(n, "batch_size", t.batch_size, 1);
  t.grad_accum = int_at_least(n, "grad_accum", t.grad_accum, 1);
  t.log_every = int_at_least(n, "log_every", t.log_every, 1);
  t.eval_every = int_at_least(n, "eval_every", 0, 0);
  t.save_every = int_at_least(n, "save_every", 0, 0);
  t.eval_batch_size = int_at_least(n, "eval_batch_size", 0, 0);
  return t;
}

}  // namespace

TrainConfig parse_train_config(const YamlNode& root) {
  root.expect_keys({"output_dir", "seed", "resume", "overwrite", "tokenizer", "model", "runtime", "data", "optimizer",
                    "training", "pipeline_eval"});
  TrainConfig c;
  c.output_dir = root.require_string("output_dir");
  if (trim(c.output_dir).empty()) root["output_dir"].fail("must not be empty");
  c.seed = static_cast<uint64_t>(int_at_least(root, "seed", 0, 0));
  c.resume = root.get_bool("resume", false);
  c.overwrite = root.get_bool("overwrite", false);
  if (c.resume && c.overwrite) root["overwrite"].fail("cannot be combined with resume: true");
  c.model = parse_model(root["model"]);
  c.tokenizer = root.get_string("tokenizer", c.model.path);
  if (c.tokenizer.empty()) root["tokenizer"].fail("required when the model is built from model.config");
  c.runtime = parse_runtime(root["runtime"]);
  c.data = parse_data(root["data"]);
  c.optimizer = parse_optimizer(root["optimizer"]);
  c.training = parse_loop(root["training"]);
  if (auto pe = root["pipeline_eval"]; pe.defined()) {
    pe.expect_keys({"dataset", "root", "split", "limit", "max_new_tokens"});
    c.pipeline_eval.enabled = true;
    c.pipeline_eval.dataset = pe.require_string("dataset");
    c.pipeline_eval.root = pe.get_string("root", "");
    c.pipeline_eval.split = pe.get_choice("split", "valid", split_names());
    c.pipeline_eval.limit = static_cast<int>(int_at_least(pe, "limit", 100, 1));
    c.pipeline_eval.max_new_tokens = static_cast<int>(int_at_least(pe, "max_new_tokens", 64, 1));
  }
  c.effective_yaml = yaml_dump(root.raw());
  return c;
}

TrainConfig train_config_from_string(const std::string& yaml, const std::vector<std::string>& overrides) {
  YamlNode parsed = YamlNode::load_string(yaml);
  YAML::Node raw = parsed.raw();
  for (const auto& o : overrides) apply_yaml_override(raw, o);
  return parse_train_config(YamlNode(raw, "", parsed.file()));
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  YamlNode parsed = YamlNode::load_file(path);
  YAML::Node raw = parsed.raw();
  for (const auto& o : overrides) apply_yaml_override(raw, o);
  return parse_train_config(YamlNode(raw, "", path));
}

std::string to_string(Truncation t) { return t == Truncation::Left ? "left" : "error"; }
std::string to_string(LrScheduleKind k) { return k == LrScheduleKind::Constant ? "constant" : "cosine"; }
std::string to_string(Precision p) {
  switch (p) {
    case Precision::F32: return "f32";
    case Precision::Bf16: return "bf16";
    case Precision::Auto: return "auto";
  }
  return "?";
}

}  // namespace litestage
