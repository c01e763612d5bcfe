#include "litestage/train/config.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "litestage/data/dataset.hpp"
#include "litestage/model/config.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/yaml.hpp"
#include "litestage/util/yaml_schema.hpp"

namespace litestage {

namespace {

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
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

const EnumNames<Truncation>& truncation_names() {
  static const EnumNames<Truncation> names = {{"error", Truncation::Error}, {"left", Truncation::Left}};
  return names;
}
const EnumNames<LrScheduleKind>& schedule_names() {
  static const EnumNames<LrScheduleKind> names = {{"cosine", LrScheduleKind::Cosine}, {"constant", LrScheduleKind::Constant}};
  return names;
}
const EnumNames<Precision>& precision_names() {
  static const EnumNames<Precision> names = {{"auto", Precision::Auto}, {"f32", Precision::F32}, {"bf16", Precision::Bf16}};
  return names;
}

using C = TrainConfig;

// model.config: a config.json (or a directory holding one), or its keys inline as a mapping.
Option<C> model_config_option() {
  auto read = [](const YamlNode& n, C& c) {
    if (!n.is_map()) {
      c.model.config = n.as_string();
      return;
    }
    try {
      const auto config = to_json(n.raw());
      ModelConfig::from_json(config, "model.config");
      c.model.config_json = config.dump();
    } catch (const Error& e) {
      n.fail(e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. text that is not UTF-8
      n.fail(e.what());
    }
    c.model.config = "(inline)";
  };
  auto write = [](const C& c) {
    if (!c.model.config_json.empty()) return YAML::Load(c.model.config_json);
    return c.model.config.empty() ? no_value() : YAML::Node(c.model.config);
  };
  return custom_option<C>("model.config", "string or mapping", "none",
                       "instead of model.path: a config.json (or a directory holding one), or its keys inline, for a "
                       "random init",
                       read, write);
}

// data.stages: which record kinds to train on, each once.
Option<C> stages_option() {
  auto read = [](const YamlNode& n, C& c) {
    c.data.stages.clear();
    for (const auto& name : n.as_string_list()) {
      const StageKind k = parse_stage_kind(name);  // the choices were checked
      if (std::find(c.data.stages.begin(), c.data.stages.end(), k) != c.data.stages.end())
        n.fail("'" + name + "' listed twice");
      c.data.stages.push_back(k);
    }
    if (c.data.stages.empty()) n.fail("must name at least one stage");
  };
  auto write = [](const C& c) {
    std::vector<std::string> names;
    for (StageKind k : c.data.stages) names.emplace_back(to_string(k));
    return YamlCodec<std::vector<std::string>>::write(names);
  };
  const C defaults;
  return std::move(custom_option<C>("data.stages", "list of strings", yaml_inline(write(defaults)),
                                 "which stage records to train on", read, write))
      .choices(stage_names());
}

// optimizer.betas: [beta1, beta2], each in [0, 1).
Option<C> betas_option() {
  auto read = [](const YamlNode& n, C& c) {
    const auto b = n.as_double_list();
    if (b.size() != 2) n.fail("expected two numbers [beta1, beta2], got " + std::to_string(b.size()));
    for (double beta : b)
      if (!(beta >= 0.0 && beta < 1.0)) n.fail("each beta must be in [0, 1), got " + format_number(beta));
    c.optimizer.beta1 = b[0];
    c.optimizer.beta2 = b[1];
  };
  auto write = [](const C& c) {
    return YamlCodec<std::vector<double>>::write({c.optimizer.beta1, c.optimizer.beta2});
  };
  return custom_option<C>("optimizer.betas", "list of numbers", yaml_inline(write(C{})), "AdamW's betas, each in [0, 1)",
                       read, write);
}

#define LITESTAGE_FIELD(member) [](auto& c) -> auto& { return c.member; }

void add_run_options(std::vector<Option<C>>& t) {
  t.push_back(option<C>("output_dir", LITESTAGE_FIELD(output_dir), "where last/, best/, the log and the effective config go")
                  .required());
  t.push_back(option<C>("seed", LITESTAGE_FIELD(seed), "data order; also the random init unless model.init_seed"));
  t.push_back(option<C>("resume", LITESTAGE_FIELD(resume), "continue from output_dir/last"));
  t.push_back(option<C>("overwrite", LITESTAGE_FIELD(overwrite), "allow a fresh run over an output_dir that holds a run"));
  t.push_back(option<C>("tokenizer", LITESTAGE_FIELD(tokenizer), "tokenizer directory; required with model.config")
                  .default_note("model.path"));
  t.push_back(option<C>("model.path", LITESTAGE_FIELD(model.path), "Hugging Face checkpoint directory to fine-tune"));
  t.push_back(model_config_option());
  t.push_back(option<C>("model.init_seed", LITESTAGE_FIELD(model.init_seed),
                        "seed of the random init (model.config only); -1: the run's seed")
                  .min(-1));
  t.push_back(option<C>("runtime.device", LITESTAGE_FIELD(runtime.device), "cpu, cuda or cuda:N"));
  t.push_back(enum_option<C>("runtime.precision", LITESTAGE_FIELD(runtime.precision), precision_names(),
                             "auto: bf16 autocast on a bf16-capable CUDA device, else f32"));
  t.push_back(option<C>("runtime.threads", LITESTAGE_FIELD(runtime.threads), "CPU intra-op threads; 0 = one per core").min(0));
}

void add_data_options(std::vector<Option<C>>& t) {
  t.push_back(option<C>("data.train", LITESTAGE_FIELD(data.train), "stage-record files (JSON Lines or JSON arrays)").required());
  t.push_back(option<C>("data.validation", LITESTAGE_FIELD(data.validation), "stage-record files for the validation loss"));
  t.push_back(stages_option());
  t.push_back(option<C>("data.max_seq_len", LITESTAGE_FIELD(data.max_seq_len),
                        "max prompt + target + EOS tokens; 0 = the model's max_position_embeddings")
                  .min(0));
  t.push_back(enum_option<C>("data.truncation", LITESTAGE_FIELD(data.truncation), truncation_names(),
                             "error: refuse, naming the record; left: drop prompt tokens after BOS"));
  t.push_back(option<C>("data.add_bos", LITESTAGE_FIELD(data.add_bos), "prepend BOS where the tokenizer uses one"));
  t.push_back(option<C>("data.eos_id", LITESTAGE_FIELD(data.eos_id),
                        "EOS appended to targets; -1: config.json's first eos_token_id, else the tokenizer's")
                  .min(-1));
  t.push_back(option<C>("data.max_train_records", LITESTAGE_FIELD(data.max_train_records),
                        "the first N training records (after the stage filter); 0 = all")
                  .min(0));
  t.push_back(option<C>("data.max_validation_records", LITESTAGE_FIELD(data.max_validation_records),
                        "likewise for validation; 0 = all")
                  .min(0));
  t.push_back(option<C>("data.skip_malformed", LITESTAGE_FIELD(data.skip_malformed),
                        "skip (and count) malformed records instead of failing"));
  t.push_back(option<C>("data.group_by_length", LITESTAGE_FIELD(data.group_by_length), "batch examples of similar length"));
}

void add_optimizer_options(std::vector<Option<C>>& t) {
  t.push_back(option<C>("optimizer.lr", LITESTAGE_FIELD(optimizer.lr), "peak learning rate, in (0, 1]").min(0).max(1));
  t.push_back(option<C>("optimizer.min_lr", LITESTAGE_FIELD(optimizer.min_lr), "end of the cosine, in [0, lr]").min(0).max(1));
  t.push_back(enum_option<C>("optimizer.schedule", LITESTAGE_FIELD(optimizer.schedule), schedule_names(),
                             "after the linear warmup"));
  t.push_back(option<C>("optimizer.warmup_steps", LITESTAGE_FIELD(optimizer.warmup_steps), "linear warmup steps").min(0));
  t.push_back(option<C>("optimizer.weight_decay", LITESTAGE_FIELD(optimizer.weight_decay),
                        "decoupled decay on matrices (never norms or biases)")
                  .min(0)
                  .max(1));
  t.push_back(betas_option());
  t.push_back(option<C>("optimizer.eps", LITESTAGE_FIELD(optimizer.eps), "AdamW's epsilon, in (0, 1]").min(0).max(1));
  t.push_back(option<C>("optimizer.grad_clip", LITESTAGE_FIELD(optimizer.grad_clip),
                        "max global gradient L2 norm; 0 = no clipping")
                  .min(0));
}

void add_pipeline_eval_options(std::vector<Option<C>>& t);

void add_loop_options(std::vector<Option<C>>& t) {
  t.push_back(option<C>("training.epochs", LITESTAGE_FIELD(training.epochs), "epochs (ignored when max_steps > 0)").min(1));
  t.push_back(option<C>("training.max_steps", LITESTAGE_FIELD(training.max_steps),
                        "exact number of optimizer steps; 0 = epochs x steps per epoch")
                  .min(0));
  t.push_back(option<C>("training.batch_size", LITESTAGE_FIELD(training.batch_size), "examples per micro-batch").min(1));
  t.push_back(option<C>("training.grad_accum", LITESTAGE_FIELD(training.grad_accum), "micro-batches per optimizer step").min(1));
  t.push_back(option<C>("training.log_every", LITESTAGE_FIELD(training.log_every), "steps between log lines").min(1));
  t.push_back(option<C>("training.eval_every", LITESTAGE_FIELD(training.eval_every),
                        "steps between evaluations; 0 = only at the end")
                  .min(0));
  t.push_back(option<C>("training.save_every", LITESTAGE_FIELD(training.save_every),
                        "steps between last/ saves; 0 = at every evaluation")
                  .min(0));
  t.push_back(option<C>("training.eval_batch_size", LITESTAGE_FIELD(training.eval_batch_size),
                        "examples per validation batch; 0 = batch_size")
                  .min(0));
  add_pipeline_eval_options(t);
}

// The optional pipeline_eval section: present in the effective YAML only when it was given.
void add_pipeline_eval_options(std::vector<Option<C>>& t) {
  const size_t first = t.size();
  t.push_back(option<C>("pipeline_eval.dataset", LITESTAGE_FIELD(pipeline_eval.dataset),
                        "with pipeline_eval: the dataset whose three-stage accuracy picks best/"));
  t.push_back(option<C>("pipeline_eval.root", LITESTAGE_FIELD(pipeline_eval.root), "its data root (or synthetic settings file)"));
  t.push_back(option<C>("pipeline_eval.split", LITESTAGE_FIELD(pipeline_eval.split), "its split").choices(split_names()));
  t.push_back(option<C>("pipeline_eval.limit", LITESTAGE_FIELD(pipeline_eval.limit), "questions per evaluation").min(1));
  t.push_back(option<C>("pipeline_eval.max_new_tokens", LITESTAGE_FIELD(pipeline_eval.max_new_tokens),
                        "token budget of each stage")
                  .min(1));
  for (size_t i = first; i < t.size(); ++i)
    t[i].write = [write = t[i].write](const C& c) { return c.pipeline_eval.enabled ? write(c) : no_value(); };
}

#undef LITESTAGE_FIELD

// What the table cannot say: exclusive bounds, keys that depend on each other, computed defaults.
void check_together(const YamlNode& root, TrainConfig& c) {
  if (trim(c.output_dir).empty()) root["output_dir"].fail("must not be empty");
  if (c.resume && c.overwrite) root["overwrite"].fail("cannot be combined with resume: true");
  const YamlNode model = root["model"];
  if (!model.defined()) root.fail("required: model.path (a checkpoint directory) or model.config (config.json for a random init)");
  if (c.model.path.empty() == c.model.config.empty())
    model.fail("give exactly one of model.path (a checkpoint directory) and model.config (config.json for a random init)");
  if (!c.model.path.empty() && c.model.init_seed != -1)
    model["init_seed"].fail("only meaningful with model.config (random init)");
  if (!root.has("tokenizer")) c.tokenizer = c.model.path;
  if (c.tokenizer.empty()) root["tokenizer"].fail("required when the model is built from model.config");
  const YamlNode data = root["data"];
  for (const auto& [key, files] : {std::pair{"train", &c.data.train}, std::pair{"validation", &c.data.validation}})
    for (const auto& f : *files)
      if (trim(f).empty()) data[key].fail("empty file name");
  if (c.data.train.empty()) data["train"].fail("required key is missing (one or more stage-record files)");
  if (c.data.max_seq_len == 1) data["max_seq_len"].fail("must be 0 (the model's limit) or >= 2, got 1");
  const YamlNode opt = root["optimizer"];
  if (c.optimizer.lr <= 0) opt["lr"].fail("must be in (0, 1], got " + format_number(c.optimizer.lr));
  if (c.optimizer.min_lr > c.optimizer.lr)
    opt["min_lr"].fail("must be in [0, " + format_number(c.optimizer.lr) + "], got " + format_number(c.optimizer.min_lr));
  if (c.optimizer.eps <= 0) opt["eps"].fail("must be in (0, 1], got " + format_number(c.optimizer.eps));
  c.pipeline_eval.enabled = root["pipeline_eval"].defined();
  if (c.pipeline_eval.enabled && c.pipeline_eval.dataset.empty())
    root["pipeline_eval"].fail("required: pipeline_eval.dataset");
}

}  // namespace

const std::vector<Option<TrainConfig>>& train_options() {
  static const std::vector<Option<TrainConfig>> table = [] {
    std::vector<Option<TrainConfig>> t;
    add_run_options(t);
    add_data_options(t);
    add_optimizer_options(t);
    add_loop_options(t);
    return t;
  }();
  return table;
}

TrainConfig parse_train_config(const YamlNode& root) {
  TrainConfig c;
  read_options(root, train_options(), c);
  check_together(root, c);
  c.effective_yaml = yaml_dump(write_options(train_options(), c));
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

}  // namespace litestage
