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
  const nlohmann::json j = {method_name(method), model.config_hash, model.weights_hash, search_split.ids_fingerprint,
                            enum_name(token_pooling_names(), pooling), enum_name(stage_accumulation_names(), accumulate), ranked, stages_json, epsilon, full_accuracy, target_accuracy, accuracy};
  const std::string text = j.dump();
  return io::digest_hex(io::xxh64(text.data(), text.size()));
}

namespace {

using P = BudgetProfile;

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

std::vector<SubLayer> read_ranking(const YamlNode& n) {
  std::vector<SubLayer> ranking;
  for (const auto& item : n.items()) {
    try {
      ranking.push_back(parse_sublayer(item.as_string()));
    } catch (const Error& e) {
      item.fail(e.what());
    }
  }
  return ranking;
}

// One stage's skip plan of a model with `layers` layers: the layer lists, or `skip` alone.
SkipPlan read_skip(const YamlNode& s, int layers) {
  SkipPlan plan(layers);
  auto mark = [&](const char* key, SubLayerKind kind) {
    if (!s.has(key)) return;
    for (const auto& item : s[key].items()) {
      auto layer = item.as_int();
      if (layer < 0 || layer >= layers)
        item.fail("layer " + std::to_string(layer) + " out of range (model has " + std::to_string(layers) + ")");
      plan.set({static_cast<int>(layer), kind});
    }
  };
  mark("skip_attention", SubLayerKind::Attention);
  mark("skip_ffn", SubLayerKind::FFN);
  if (!s.has("skip")) return plan;
  SkipPlan text;
  try {
    text = SkipPlan::parse(s.get_string("skip", "none"), layers);
  } catch (const Error& e) {
    s["skip"].fail(e.what());
  }
  // The layer lists are authoritative when present; a hand-written profile may give `skip` alone.
  if (!s.has("skip_attention") && !s.has("skip_ffn")) return text;
  if (text != plan) s["skip"].fail("disagrees with skip_attention/skip_ffn");
  return plan;
}

StageBudget read_stage(const YamlNode& s, int layers) {
  s.expect_keys({"k", "skip", "skip_attention", "skip_ffn", "early_exit", "max_new_tokens"});
  StageBudget b;
  b.k = static_cast<int>(s.get_int("k", 0));
  b.skip = read_skip(s, layers);
  b.early_exit = parse_early_exit_yaml(s["early_exit"], EarlyExitConfig{});
  if (s.has("max_new_tokens")) b.max_new_tokens = static_cast<int>(s["max_new_tokens"].as_int());
  return b;
}

YAML::Node write_stage(const StageBudget& st) {
  YAML::Node s;
  s["k"] = st.k;
  s["skip"] = st.skip.to_string();
  s["skip_attention"] = st.skip.skipped_attention();
  s["skip_ffn"] = st.skip.skipped_ffn();
  s["early_exit"] = early_exit_yaml(st.early_exit);
  if (st.max_new_tokens) s["max_new_tokens"] = *st.max_new_tokens;
  return s;
}

void read_stages(const YamlNode& stages, P& p) {
  stages.expect_keys(stage_names());
  for (auto kind : kStages) {
    const std::string name(to_string(kind));
    if (!stages.has(name)) stages.fail("missing stage '" + name + "'");
    p.stages[kind] = read_stage(stages[name], p.model.layers);
  }
}

// The keys that take rules (computed on writing, checked on reading, or structured).
void declare_structured(std::vector<Option<P>>& t) {
  t.push_back(custom_option<P>(
      "format", "string", P::kFormat, "the file's format",
      [](const YamlNode& n, P& p) {
        p.format = n.as_string();
        if (p.format != P::kFormat)
          n.fail("'" + p.format + "' is not a format this version reads (" + P::kFormat + ")");
      },
      [](const P& p) { return YAML::Node(p.format); }));
  t.back().info.required = true;
  t.push_back(custom_option<P>(
      "decision_hash", "string", "computed", "XXH64 of what the search decided (BudgetProfile::decision_hash)",
      [](const YamlNode&, P&) {}, [](const P& p) { return YAML::Node(p.decision_hash()); }));
  t.push_back(custom_option<P>(
      "created", "string", "none", "when the search wrote it (ISO-8601 UTC)",
      [](const YamlNode& n, P& p) { p.created = n.as_string(); },
      [](const P& p) { return p.created.empty() ? no_value() : YAML::Node(p.created); }));  // saving invents nothing
}

void declare_model(std::vector<Option<P>>& t) {
  t.push_back(enum_option<P>("method", [](auto& p) -> auto& { return p.method; }, method_names(), "the method searched"));
  t.push_back(option<P>("model.path", [](auto& p) -> auto& { return p.model.path; }, "the checkpoint searched on"));
  t.push_back(option<P>("model.model_type", [](auto& p) -> auto& { return p.model.model_type; }, "llama or qwen2"));
  t.push_back(option<P>("model.layers", [](auto& p) -> auto& { return p.model.layers; }, "its layers").min(1).required());
  t.push_back(option<P>("model.config_hash", [](auto& p) -> auto& { return p.model.config_hash; }, "XXH64 of config.json")
                  .required());
  t.push_back(option<P>("model.weights_hash", [](auto& p) -> auto& { return p.model.weights_hash; }, "XXH64 of the weights")
                  .required());
  t.push_back(option<P>("tokenizer", [](auto& p) -> auto& { return p.tokenizer; }, "the tokenizer directory"));
  t.push_back(custom_option<P>(
      "search_split", "mapping", "none", "the split the search measured on (SplitInfo)",
      [](const YamlNode& n, P& p) { p.search_split = read_search_split(n); },
      [](const P& p) { return YAML::Load(nlohmann::json(p.search_split).dump()); }));
}

void declare_choices(std::vector<Option<P>>& t) {
  t.push_back(enum_option<P>("importance.pooling", [](auto& p) -> auto& { return p.pooling; }, token_pooling_names(),
                             "the ranking's token pooling"));
  t.push_back(enum_option<P>("importance.accumulate", [](auto& p) -> auto& { return p.accumulate; },
                             stage_accumulation_names(), "the ranking's stage accumulation"));
  t.push_back(custom_option<P>(
      "importance.ranking", "list of strings", "[]", "sub-layers, most redundant first",
      [](const YamlNode& n, P& p) { p.ranking = read_ranking(n); },
      [](const P& p) {
        std::vector<std::string> ranking;
        for (const auto& s : p.ranking) ranking.push_back(to_string(s));
        return YAML::Node(ranking);
      }));
  t.push_back(custom_option<P>(
      "stages", "mapping", "none", "each stage's k, skip plan, early exit and token budget", read_stages,
      [](const P& p) {
        YAML::Node n;
        for (StageKind kind : kStages) n[std::string(to_string(kind))] = write_stage(p.stages[kind]);
        return n;
      }));
  t.back().info.required = true;
}

void declare_results(std::vector<Option<P>>& t) {
  t.push_back(option<P>("search.epsilon", [](auto& p) -> auto& { return p.epsilon; }, "accuracy points allowed"));
  t.push_back(option<P>("search.full_accuracy", [](auto& p) -> auto& { return p.full_accuracy; }, "the full model's"));
  t.push_back(option<P>("search.target_accuracy", [](auto& p) -> auto& { return p.target_accuracy; }, "full - epsilon"));
  t.push_back(custom_option<P>(
      "search.settings", "mapping", "{}", "every other choice the search made",
      [](const YamlNode& n, P& p) {
        for (const auto& k : n.keys()) p.settings[k] = n.get_string(k, "");
      },
      [](const P& p) {
        if (p.settings.empty()) return no_value();
        YAML::Node n;
        for (const auto& [k, v] : p.settings) n[k] = v;
        return n;
      }));
  t.push_back(option<P>("measured.accuracy", [](auto& p) -> auto& { return p.accuracy; }, "on the search split"));
  t.push_back(option<P>("measured.full_latency_seconds", [](auto& p) -> auto& { return p.full_latency; },
                        "the full model's seconds per question"));
  t.push_back(option<P>("measured.latency_seconds", [](auto& p) -> auto& { return p.latency; }, "this profile's"));
  t.push_back(custom_option<P>(
      "measured.speedup", "number", "computed", "full_latency_seconds / latency_seconds",
      [](const YamlNode&, P&) {}, [](const P& p) { return YamlCodec<double>::write(p.speedup()); }));
}

}  // namespace

const std::vector<Option<BudgetProfile>>& profile_options() {
  static const std::vector<Option<P>> table = [] {
    std::vector<Option<P>> t;
    for (auto declare : {declare_structured, declare_model, declare_choices, declare_results}) declare(t);
    return t;
  }();
  return table;
}

void save_profile(const BudgetProfile& p, const std::filesystem::path& file) {
  write_file_atomic(file.string(),
                    "# LiteStage budget profile (docs/budget-profile.md)\n" + yaml_dump(write_options(profile_options(), p)));
}

BudgetProfile load_profile(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) throw_error("budget profile '", file.string(), "' does not exist");
  BudgetProfile p;
  read_options(YamlNode::load_file(file.string()), profile_options(), p);
  return p;
}

std::string profile_text(const BudgetProfile& p) {
  std::ostringstream o;
  o << "budget profile (" << p.format << ", method " << method_name(p.method) << ", created " << p.created << ")\n";
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
