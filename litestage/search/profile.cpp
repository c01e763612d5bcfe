#include "litestage/search/profile.hpp"

#include <ctime>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "litestage/io/checkpoint.hpp"
#include "litestage/io/digest.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/yaml.hpp"

namespace litestage {

ModelIdentity identify_model(const std::filesystem::path& dir) {
  ModelIdentity id;
  id.path = dir.string();
  auto config = ModelConfig::from_dir(dir);
  id.model_type = config.model_type;
  id.layers = static_cast<int>(config.num_hidden_layers);
  std::string canonical = config.to_json().dump();
  id.config_hash = io::digest_hex(io::xxh64(canonical.data(), canonical.size()));
  id.weights_hash = io::Checkpoint::open(dir).digest();
  return id;
}

std::string utc_timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string BudgetProfile::decision_hash() const {
  nlohmann::json stages_json = nlohmann::json::object();
  for (StageKind kind : kStages) {
    const StageBudget& st = stages[kind];
    stages_json[std::string(to_string(kind))] = {st.k, st.skip.to_string(),
                         st.early_exit.enabled ? nlohmann::json{st.early_exit.threshold, st.early_exit.window,
                                                                confidence_metric_name(st.early_exit.metric)}
                                               : nlohmann::json(nullptr),
                         st.max_new_tokens ? *st.max_new_tokens : -1};
  }
  std::vector<std::string> ranked;
  for (const auto& s : ranking) ranked.push_back(to_string(s));
  const nlohmann::json j = {method, model.config_hash, model.weights_hash, search_split.ids_fingerprint,
                            enum_name(token_pooling_names(), pooling), enum_name(stage_accumulation_names(), accumulate), ranked, stages_json, epsilon, full_accuracy, target_accuracy, accuracy};
  const std::string text = j.dump();
  return io::digest_hex(io::xxh64(text.data(), text.size()));
}

void save_profile(const BudgetProfile& p, const std::filesystem::path& file) {
  YAML::Node n;
  n["format"] = p.format;
  n["decision_hash"] = p.decision_hash();
  if (!p.created.empty()) n["created"] = p.created;  // as made: saving invents nothing
  n["method"] = p.method;
  n["model"]["path"] = p.model.path;
  n["model"]["model_type"] = p.model.model_type;
  n["model"]["layers"] = p.model.layers;
  n["model"]["config_hash"] = p.model.config_hash;
  n["model"]["weights_hash"] = p.model.weights_hash;
  n["tokenizer"] = p.tokenizer;
  nlohmann::json split = p.search_split;
  n["search_split"] = YAML::Load(split.dump());
  n["importance"]["pooling"] = enum_name(token_pooling_names(), p.pooling);
  n["importance"]["accumulate"] = enum_name(stage_accumulation_names(), p.accumulate);
  std::vector<std::string> ranking;
  for (const auto& s : p.ranking) ranking.push_back(to_string(s));
  n["importance"]["ranking"] = ranking;
  for (StageKind kind : kStages) {
    const StageBudget& st = p.stages[kind];
    YAML::Node s;
    s["k"] = st.k;
    s["skip"] = st.skip.to_string();
    s["skip_attention"] = st.skip.skipped_attention();
    s["skip_ffn"] = st.skip.skipped_ffn();
    s["early_exit"] = early_exit_yaml(st.early_exit);
    if (st.max_new_tokens) s["max_new_tokens"] = *st.max_new_tokens;
    n["stages"][std::string(to_string(kind))] = s;
  }
  n["search"]["epsilon"] = p.epsilon;
  n["search"]["full_accuracy"] = p.full_accuracy;
  n["search"]["target_accuracy"] = p.target_accuracy;
  for (const auto& [k, v] : p.settings) n["search"]["settings"][k] = v;
  n["measured"]["accuracy"] = p.accuracy;
  n["measured"]["full_latency_seconds"] = p.full_latency;
  n["measured"]["latency_seconds"] = p.latency;
  n["measured"]["speedup"] = p.speedup();
  write_file_atomic(file.string(), "# LiteStage budget profile (docs/budget-profile.md)\n" + yaml_dump(n));
}

namespace {

// The SplitInfo fields that identify the data; the rest (files, malformed) is informational.
SplitInfo read_search_split(const YamlNode& s) {
  SplitInfo info;
  info.dataset = s.get_string("dataset", "");
  info.split = s.get_string("split", "");
  info.seed = static_cast<uint64_t>(s.get_int("seed", 0));
  info.size = static_cast<size_t>(s.get_int("size", 0));
  info.split_size = static_cast<size_t>(s.get_int("split_size", 0));
  info.ids_fingerprint = s.get_string("ids_fingerprint", "");
  info.rule = s.get_string("rule", "");
  return info;
}

void read_importance(const YamlNode& im, BudgetProfile& p) {
  im.expect_keys({"pooling", "accumulate", "ranking"});
  if (im.has("pooling"))
    p.pooling = enum_from_name(token_pooling_names(), im["pooling"].as_string(), im["pooling"].path());
  if (im.has("accumulate"))
    p.accumulate = enum_from_name(stage_accumulation_names(), im["accumulate"].as_string(), im["accumulate"].path());
  if (!im.has("ranking")) return;
  for (const auto& item : im["ranking"].items()) {
    try {
      p.ranking.push_back(parse_sublayer(item.as_string()));
    } catch (const Error& e) {
      item.fail(e.what());
    }
  }
}

// One stage's budget of a model with `layers` layers.
StageBudget read_stage(const YamlNode& s, int layers) {
  s.expect_keys({"k", "skip", "skip_attention", "skip_ffn", "early_exit", "max_new_tokens"});
  StageBudget b;
  b.k = static_cast<int>(s.get_int("k", 0));
  b.skip = SkipPlan(layers);
  auto mark = [&](const char* key, SubLayerKind kind) {
    if (!s.has(key)) return;
    for (const auto& item : s[key].items()) {
      auto layer = item.as_int();
      if (layer < 0 || layer >= layers)
        item.fail("layer " + std::to_string(layer) + " out of range (model has " + std::to_string(layers) + ")");
      b.skip.set({static_cast<int>(layer), kind});
    }
  };
  mark("skip_attention", SubLayerKind::Attention);
  mark("skip_ffn", SubLayerKind::FFN);
  if (s.has("skip")) {
    SkipPlan text;
    try {
      text = SkipPlan::parse(s.get_string("skip", "none"), layers);
    } catch (const Error& e) {
      s["skip"].fail(e.what());
    }
    // The layer lists are authoritative when present; a hand-written profile may give `skip` alone.
    if (!s.has("skip_attention") && !s.has("skip_ffn")) {
      b.skip = text;
    } else if (text != b.skip) {
      s["skip"].fail("disagrees with skip_attention/skip_ffn");
    }
  }
  b.early_exit = parse_early_exit_yaml(s["early_exit"], EarlyExitConfig{});
  if (s.has("max_new_tokens")) b.max_new_tokens = static_cast<int>(s["max_new_tokens"].as_int());
  return b;
}

void read_search(const YamlNode& se, BudgetProfile& p) {
  se.expect_keys({"epsilon", "full_accuracy", "target_accuracy", "settings"});
  p.epsilon = se.get_double("epsilon", 0);
  p.full_accuracy = se.get_double("full_accuracy", 0);
  p.target_accuracy = se.get_double("target_accuracy", 0);
  if (se.has("settings"))
    for (const auto& k : se["settings"].keys()) p.settings[k] = se["settings"].get_string(k, "");
}

void read_measured(const YamlNode& me, BudgetProfile& p) {
  me.expect_keys({"accuracy", "full_latency_seconds", "latency_seconds", "speedup"});
  p.accuracy = me.get_double("accuracy", 0);
  p.full_latency = me.get_double("full_latency_seconds", 0);
  p.latency = me.get_double("latency_seconds", 0);
}

}  // namespace

BudgetProfile load_profile(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) throw_error("budget profile '", file.string(), "' does not exist");
  auto root = YamlNode::load_file(file.string());
  root.expect_keys({"format", "decision_hash", "created", "method", "model", "tokenizer", "search_split",
                    "importance", "stages", "search", "measured"});
  BudgetProfile p;
  p.format = root.require_string("format");
  if (p.format != "litestage-budget-profile/1")
    root["format"].fail("'" + p.format + "' is not a format this version reads (litestage-budget-profile/1)");
  p.created = root.get_string("created", "");
  p.method = root.get_string("method", "litestage");
  auto m = root["model"];
  m.expect_keys({"path", "model_type", "layers", "config_hash", "weights_hash"});
  p.model.path = m.get_string("path", "");
  p.model.model_type = m.get_string("model_type", "");
  p.model.layers = static_cast<int>(m["layers"].as_int());
  p.model.config_hash = m.require_string("config_hash");
  p.model.weights_hash = m.require_string("weights_hash");
  p.tokenizer = root.get_string("tokenizer", "");
  if (root.has("search_split")) p.search_split = read_search_split(root["search_split"]);
  if (auto im = root["importance"]; im.defined()) read_importance(im, p);
  auto stages = root["stages"];
  stages.expect_keys(stage_names());
  for (const auto& name : stages.keys()) p.stages[parse_stage_kind(name)] = read_stage(stages[name], p.model.layers);
  for (auto kind : kStages)
    if (!stages.has(std::string(to_string(kind)))) stages.fail("missing stage '" + std::string(to_string(kind)) + "'");
  if (auto se = root["search"]; se.defined()) read_search(se, p);
  if (auto me = root["measured"]; me.defined()) read_measured(me, p);
  return p;
}

std::string profile_text(const BudgetProfile& p) {
  std::ostringstream o;
  o << "budget profile (" << p.format << ", method " << p.method << ", created " << p.created << ")\n";
  o << "decision:  " << p.decision_hash() << " (hash of the choices; equal hashes = the same profile)\n";
  o << "model:     " << p.model.path << " (" << p.model.model_type << ", " << p.model.layers << " layers, config "
    << p.model.config_hash << ", weights " << p.model.weights_hash << ")\n";
  o << "searched:  " << p.search_split.dataset << "/" << p.search_split.split << " (" << p.search_split.size
    << " examples, seed " << p.search_split.seed << ")\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "accuracy:  %.2f%% (full %.2f%%, target %.2f%%, epsilon %.2f points)\n",
                100 * p.accuracy, 100 * p.full_accuracy, 100 * p.target_accuracy, p.epsilon);
  o << buf;
  std::snprintf(buf, sizeof buf, "latency:   %.4f s per question (full %.4f s): %.2fx speedup\n", p.latency,
                p.full_latency, p.speedup());
  o << buf;
  for (auto kind : kStages) {
    const auto& st = p.stages[kind];
    std::snprintf(buf, sizeof buf, "%-10s k=%-3d skip %-28s early exit %s", (std::string(to_string(kind)) + ":").c_str(),
                  st.k, st.skip.to_string().c_str(), st.early_exit.enabled ? "on" : "off");
    o << buf;
    if (st.early_exit.enabled)
      o << " (window " << st.early_exit.window << ", threshold " << st.early_exit.threshold << ", "
        << confidence_metric_name(st.early_exit.metric) << ")";
    o << "\n";
  }
  std::vector<std::string> ranking;
  for (const auto& s : p.ranking) ranking.push_back(to_string(s));
  o << "ranking:   " << join(ranking, " ") << "\n";
  return o.str();
}

YAML::Node early_exit_yaml(const EarlyExitConfig& e) { return write_options(early_exit_options(), e); }

EarlyExitConfig parse_early_exit_yaml(const YamlNode& n, EarlyExitConfig base) {
  if (n.defined()) read_options(n, early_exit_options(), base);
  return base;
}

void check_profile_model(const BudgetProfile& p, const ModelIdentity& actual, bool force) {
  if (p.model.layers != actual.layers)
    throw_error("budget profile is for a ", p.model.layers, "-layer model; ", actual.path, " has ", actual.layers,
                " layers");
  if (p.model == actual || force) return;
  throw_error("budget profile was made for another model (config ", p.model.config_hash, ", weights ",
              p.model.weights_hash, "; ", actual.path, " has config ", actual.config_hash, ", weights ",
              actual.weights_hash, "); set force_profile: true to apply it anyway");
}

}  // namespace litestage
