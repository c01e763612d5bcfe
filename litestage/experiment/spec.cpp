#include "litestage/experiment/spec.hpp"

#include <algorithm>
#include <filesystem>

#include <torch/cuda.h>

#include "litestage/search/profile.hpp"

#include "litestage/util/error.hpp"
#include "litestage/util/paths.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/yaml.hpp"

namespace litestage {

std::string ExperimentSpec::data_root_or_default() const {
  return data_root.empty() ? default_data_root() : data_root;
}

namespace {

using Spec = ExperimentSpec;
using Options = std::vector<Option<Spec>>;

// The splits a search or a calibration may draw from: any but the test split.
std::vector<std::string> training_splits() {
  std::vector<std::string> names = split_names();
  names.erase(std::remove(names.begin(), names.end(), "test"), names.end());
  return names;
}

// A key whose default is computed: shown with a note; a string left empty is not written.
template <class Field>
Option<Spec> computed(std::string key, Field field, std::string note, std::string help) {
  auto o = option<Spec>(std::move(key), field, std::move(help)).default_note(std::move(note));
  if constexpr (std::is_same_v<std::decay_t<decltype(field(std::declval<Spec&>()))>, std::string>)
    o.write = [field](const Spec& s) { return field(s).empty() ? no_value() : YAML::Node(field(s)); };
  return o;
}

void not_fingerprinted_since(Options& t, size_t first) {
  for (size_t i = first; i < t.size(); ++i) t[i].info.fingerprint = false;
}

void declare_top(Options& t) {
  t.push_back(computed("name", [](auto& s) -> auto& { return s.name; }, "file name without extension",
                       "names the run: default output_dir, progress labels, table caption")
                  .not_fingerprinted());
  t.push_back(option<Spec>("model", [](auto& s) -> auto& { return s.model; }, "Hugging Face checkpoint directory")
                  .required()
                  .not_fingerprinted());
  t.push_back(computed("tokenizer", [](auto& s) -> auto& { return s.tokenizer; }, "the model directory",
                       "directory with the tokenizer files")
                  .not_fingerprinted());
}
void declare_runtime(Options& t) {
  // The session resolves device, dtype and threads; the fingerprint records the resolved values.
  t.push_back(option<Spec>("runtime.device", [](auto& s) -> auto& { return s.device; }, "cpu, cuda or cuda:N")
                  .not_fingerprinted());
  t.push_back(option<Spec>("runtime.dtype", [](auto& s) -> auto& { return s.dtype; },
                           "f32, bf16, f16 or auto (bf16 where the device multiplies it natively)")
                  .not_fingerprinted());
  t.push_back(option<Spec>("runtime.threads", [](auto& s) -> auto& { return s.threads; },
                           "intra-op CPU threads (0: one per core)")
                  .min(0)
                  .not_fingerprinted());
  t.push_back(option<Spec>("runtime.prefix_sharing", [](auto& s) -> auto& { return s.prefix_sharing; },
                           "Analyze options share their common prompt prefix's KV cache"));
}

void declare_data(Options& t) {
  t.push_back(option<Spec>("data.dataset", [](auto& s) -> auto& { return s.dataset; },
                           "obqa, csqa, strategyqa or synthetic"));
  auto root = computed("data.root", [](auto& s) -> auto& { return s.data_root; },
                       "$LITESTAGE_DATA_ROOT, else ../shared/data", "the data root");
  root.write = [](const Spec& s) { return YAML::Node(s.data_root_or_default()); };
  t.push_back(std::move(root));
  t.push_back(option<Spec>("data.split", [](auto& s) -> auto& { return s.split; },
                           "the split eval evaluates and run reports on")
                  .choices(split_names()));
  t.push_back(option<Spec>("data.offset", [](auto& s) -> auto& { return s.load.offset; },
                           "skip this many examples of the split")
                  .min(0));
  t.push_back(computed("data.limit", [](auto& s) -> auto& { return s.load.limit; }, "all",
                       "then keep at most this many")
                  .min(1));
  t.push_back(option<Spec>("data.seed", [](auto& s) -> auto& { return s.load.seed; },
                           "seeds the random splits and the calibration draw"));
  t.push_back(option<Spec>("data.calibration_size", [](auto& s) -> auto& { return s.load.calibration_size; },
                           "size of the calibration split (a seeded subset of valid)")
                  .min(1));
  t.push_back(option<Spec>("data.skip_malformed", [](auto& s) -> auto& { return s.load.skip_malformed; },
                           "skip and record malformed records instead of failing"));
}

void declare_prompt(Options& t) {
  t.push_back(enum_option<Spec>("prompt.format", [](auto& s) -> auto& { return s.prompt_format; }, prompt_format_names(),
                                "TinyThinker completion prompts, or chat turns for instruct models"));
  t.push_back(enum_option<Spec>("prompt.mode", [](auto& s) -> auto& { return s.mode; }, reasoning_mode_names(),
                                "TinyThinker's stage ablations"));
  std::vector<std::string> templates{"auto"};
  for (const auto& [name, kind] : chat_template_names()) templates.push_back(name);
  t.push_back(option<Spec>("prompt.chat_template", [](auto& s) -> auto& { return s.chat_template; },
                           "chat format: the template (auto: recognised from the tokenizer directory)")
                  .choices(templates));
  t.push_back(option<Spec>("prompt.exemplars", [](auto& s) -> auto& { return s.exemplars; },
                           "chat format: TinyThinker's few-shot exemplars as turns"));
  t.push_back(computed("prompt.system_prompt", [](auto& s) -> auto& { return s.system_prompt; }, "empty",
                       "chat format: a system message"));
}

void declare_generation(Options& t) {
  t.push_back(option<Spec>("generation.max_new_tokens", [](auto& s) -> auto& { return s.max_new_tokens; },
                           "token budget of each generate call")
                  .min(1));
  t.push_back(option<Spec>("generation.temperature", [](auto& s) -> auto& { return s.sampling.temperature; },
                           "0: greedy decoding")
                  .min(0));
  t.push_back(option<Spec>("generation.top_k", [](auto& s) -> auto& { return s.sampling.top_k; },
                           "sample from the k most likely tokens (0: off)")
                  .min(0));
  t.push_back(option<Spec>("generation.top_p", [](auto& s) -> auto& { return s.sampling.top_p; },
                           "nucleus sampling mass (1: off)")
                  .min(0)
                  .max(1));
  t.push_back(option<Spec>("generation.seed", [](auto& s) -> auto& { return s.sampling.seed; },
                           "sampling seed; every generate call starts from it"));
  t.push_back(option<Spec>("generation.stop", [](auto& s) -> auto& { return s.stop; },
                           "stop strings: the output is cut before the first one"));
  t.push_back(option<Spec>("generation.batch_analyze", [](auto& s) -> auto& { return s.batch_analyze; },
                           "generate a question's Analyze options as one left-padded batch"));
  t.push_back(option<Spec>("generation.exact_sharing", [](auto& s) -> auto& { return s.exact_sharing; },
                           "share work between calls where no output changes (the speculative methods always do)"));
  t.push_back(enum_option<Spec>("generation.speculative.drafter",
                                [](auto& s) -> auto& { return s.speculative.drafter; }, drafter_kind_names(),
                                "speculative decoding: off, lookup (prompt and earlier outputs' n-grams), self (the "
                                "model under draft_skip), or auto (lookup, then self)"));
  t.push_back(option<Spec>("generation.speculative.gamma", [](auto& s) -> auto& { return s.speculative.gamma; },
                           "most tokens drafted per verify forward")
                  .min(1)
                  .max(15));
  t.push_back(option<Spec>("generation.speculative.ngram", [](auto& s) -> auto& { return s.speculative.ngram; },
                           "longest suffix the lookup drafter matches (tokens)")
                  .min(1)
                  .max(8));
  t.push_back(option<Spec>("generation.speculative.adaptive", [](auto& s) -> auto& { return s.speculative.adaptive; },
                           "cut each draft to the length expected to gain the most tokens per second"));
  t.push_back(option<Spec>("generation.speculative.draft_skip",
                           [](auto& s) -> auto& { return s.speculative.draft_skip; },
                           "the self drafter's skips beyond the verifier's plan, as a skip spec (e.g. b4-11)"));
  t.push_back(option<Spec>("generation.speculative.threshold",
                           [](auto& s) -> auto& { return s.speculative.threshold; },
                           "the self drafter stops at a token whose confidence (max probability) is below this")
                  .min(0)
                  .max(1));
}

// The pipeline eval runs: early exit (every stage, or per stage) and the stages' skips and budgets.
// The workflow commands build their configurations from the full model: these keys (but the
// per-stage token budgets) do not change their results.
void declare_stages(Options& t) {
  size_t first = t.size();
  nest(t, "early_exit", early_exit_options(), [](const Spec& s) { return s.early_exit; },
       [](Spec& s) -> EarlyExitConfig& { return s.early_exit; });
  not_fingerprinted_since(t, first);
  for (StageKind kind : kStages) {
    const std::string at = "stages." + std::string(to_string(kind));
    t.push_back(option<Spec>(at + ".skip", [kind](auto& s) -> auto& { return s.stages[kind].skip; },
                             "the sub-layers this stage skips, as a skip spec (a3, f0-2, b5, ...)")
                    .not_fingerprinted());
    auto budget = computed(at + ".max_new_tokens", [kind](auto& s) -> auto& { return s.stages[kind].max_new_tokens; },
                           "generation.max_new_tokens", "this stage's token budget per call")
                      .min(1);
    budget.write = [kind](const Spec& s) { return YAML::Node(s.stages[kind].max_new_tokens.value_or(s.max_new_tokens)); };
    t.push_back(std::move(budget));
    // A stage's early exit starts from the top-level one; the keys it gives replace those values.
    first = t.size();
    nest(
        t, at + ".early_exit", early_exit_options(),
        [kind](const Spec& s) { return s.stages[kind].early_exit.value_or(s.early_exit); },
        [kind](Spec& s) -> EarlyExitConfig& {
          auto& e = s.stages[kind].early_exit;
          if (!e) e = s.early_exit;
          return *e;
        },
        "early_exit");
    not_fingerprinted_since(t, first);
  }
  t.push_back(computed("budget_profile", [](auto& s) -> auto& { return s.budget_profile; }, "none",
                       "a budget profile file: every stage's skip plan and early exit")
                  .not_fingerprinted());
  t.push_back(option<Spec>("force_profile", [](auto& s) -> auto& { return s.force_profile; },
                           "apply a profile made for another checkpoint (same layer count)")
                  .not_fingerprinted());
}

void declare_run(Options& t) {
  t.push_back(computed("output_dir", [](auto& s) -> auto& { return s.output_dir; }, "runs/<name>",
                       "where results go")
                  .not_fingerprinted());
  t.push_back(option<Spec>("seed", [](auto& s) -> auto& { return s.seed; }, "seeds the random baseline's draws"));
}

void declare_importance(Options& t) {
  t.push_back(option<Spec>("importance.split", [](auto& s) -> auto& { return s.importance.split; },
                           "the split importance is measured on (never test)")
                  .choices(training_splits()));
  t.push_back(option<Spec>("importance.examples", [](auto& s) -> auto& { return s.importance.examples; },
                           "N: the first N examples of that split")
                  .min(1));
  t.push_back(enum_option<Spec>("importance.pooling", [](auto& s) -> auto& { return s.importance.pooling; },
                                token_pooling_names(), "pooling of one prefill's per-token cos(in, out)"));
  t.push_back(enum_option<Spec>("importance.accumulate", [](auto& s) -> auto& { return s.importance.accumulate; },
                                stage_accumulation_names(), "how the stages' scores combine into the ranking"));
}

// The offline search: its split and budget, how latencies are measured, the early-exit thresholds.
void declare_search(Options& t) {
  t.push_back(option<Spec>("search.split", [](auto& s) -> auto& { return s.search.split; },
                           "the split the searches and the threshold sweep measure on")
                  .choices(training_splits()));
  t.push_back(option<Spec>("search.epsilon", [](auto& s) -> auto& { return s.search.epsilon; },
                           "the main budget: target accuracy = full accuracy - epsilon points")
                  .min(0)
                  .max(100));
  t.push_back(computed("search.max_k", [](auto& s) -> auto& { return s.search.max_k; }, "L (the number of layers)",
                       "K: each stage sweeps k = 0..K skipped sub-layers")
                  .min(0));
  t.push_back(option<Spec>("search.step", [](auto& s) -> auto& { return s.search.step; }, "k step").min(1));
  t.push_back(option<Spec>("search.limit", [](auto& s) -> auto& { return s.search.limit; },
                           "examples of the search split used (0: all)")
                  .min(0));
  t.push_back(enum_option<Spec>("search.latency", [](auto& s) -> auto& { return s.search.latency; },
                                latency_mode_names(),
                                "compare configurations by measured latency or by the latency model's prediction"));
  t.push_back(option<Spec>("search.latency_model", [](auto& s) -> auto& { return s.search.latency_model; },
                           "latency model file from `litestage bench --calibrate` (empty: the documented defaults)"));
  t.push_back(option<Spec>("timing.repeats", [](auto& s) -> auto& { return s.timing.repeats; },
                           "timed passes per configuration, interleaved; latencies are medians")
                  .min(1));
  t.push_back(option<Spec>("timing.warmup", [](auto& s) -> auto& { return s.timing.warmup; },
                           "untimed questions before the first timed pass")
                  .min(0));
  t.push_back(option<Spec>("early_exit_sweep.thresholds",
                           [](auto& s) -> auto& { return s.early_exit_sweep.thresholds; },
                           "early-exit thresholds tried, on all stages alike"));
  t.push_back(option<Spec>("early_exit_sweep.window", [](auto& s) -> auto& { return s.early_exit_sweep.window; },
                           "n of the thresholds tried")
                  .min(1));
  t.push_back(enum_option<Spec>("early_exit_sweep.metric", [](auto& s) -> auto& { return s.early_exit_sweep.metric; },
                                confidence_metric_names(), "the confidence the thresholds apply to"));
}

// What run/reproduce compare.
void declare_comparison(Options& t) {
  t.push_back(enum_list_option<Spec>("methods", [](auto& s) -> auto& { return s.methods; }, method_names(),
                                     "the methods run/reproduce compare")
                  .default_note("all of them")
                  .not_fingerprinted());
  t.push_back(option<Spec>("epsilons", [](auto& s) -> auto& { return s.epsilons; },
                           "further epsilon values to search and report")
                  .min(0)
                  .max(100));
}

Options declare_all() {
  Options t;
  for (auto declare : {declare_top, declare_runtime, declare_data, declare_prompt, declare_generation, declare_stages,
                       declare_run, declare_importance, declare_search, declare_comparison})
    declare(t);
  return t;
}

// The keys whose values must be usable paths, checked before any work (paths relative to the
// working directory, as the commands read them).
void check_paths(const ExperimentSpec& s, const std::string& source) {
  auto fail = [&](const std::string& key, const std::string& message) { YamlNode({}, key, source).fail(message); };
  if (auto why = path_problem(s.model, PathUse::InputDir); !why.empty())
    fail("model", "model directory '" + s.model + "' " + why);
  if (auto why = s.tokenizer.empty() ? "" : path_problem(s.tokenizer, PathUse::InputDir); !why.empty())
    fail("tokenizer", "tokenizer directory '" + s.tokenizer + "' " + why);
  std::error_code ec;
  if (!s.data_root.empty() && !std::filesystem::exists(s.data_root, ec))
    fail("data.root", "'" + s.data_root + "' does not exist (leave data.root out for the default, " +
                          "$LITESTAGE_DATA_ROOT or ../shared/data)");
  if (auto why = s.budget_profile.empty() ? "" : path_problem(s.budget_profile, PathUse::InputFile); !why.empty())
    fail("budget_profile", "budget profile '" + s.budget_profile + "' " + why);
  if (auto why = s.search.latency_model.empty() ? "" : path_problem(s.search.latency_model, PathUse::InputFile); !why.empty())
    fail("search.latency_model", "latency model '" + s.search.latency_model + "' " + why);
  if (auto why = path_problem(s.output_dir, PathUse::OutputDir); !why.empty())
    fail("output_dir", "'" + s.output_dir + "' " + why);
}

void check_device(const ExperimentSpec& s, const std::string& source) {
  if (!starts_with(to_lower(s.device), "cuda") || torch::cuda::is_available()) return;
  YamlNode({}, "runtime.device", source)
      .fail("'" + s.device + "' but CUDA is not available (this LibTorch build or machine has no GPU); " +
            "run on the CPU with --set runtime.device=cpu");
}

// Speculative decoding (generation.speculative, or the lossless and litestage_spec methods listed
// in `methods`): its settings must be valid. A batched Analyze decodes its options together without
// it; every other call speculates.
void check_speculation(const ExperimentSpec& s, const YamlNode& root) {
  const bool method =
      root["methods"].defined() && std::any_of(s.methods.begin(), s.methods.end(), [](const auto& m) { return speculates(m); });
  if (!s.speculative.on() && !method) return;
  try {
    s.speculative.validate();
  } catch (const Error& e) {
    root["generation"]["speculative"].fail(e.what());
  }
}

// An error in a key that a --set override wrote names the override, not the file: the file may
// not even hold that key.
[[noreturn]] void blame_override(const Error& e, const std::string& source, const std::vector<std::string>& overrides) {
  const std::string message = e.what();
  for (auto o = overrides.rbegin(); o != overrides.rend(); ++o) {  // the last one won
    const std::string key = trim(o->substr(0, o->find('=')));
    const std::string at = source + ": " + key;
    if (!starts_with(message, at) || message.size() == at.size()) continue;
    const char next = message[at.size()];
    if (next == ':') throw Error("--set " + *o + message.substr(at.size()));
    if (next == '.' || next == '[') throw Error("--set " + *o + ": " + message.substr(source.size() + 2));
  }
  throw e;
}

}  // namespace

const std::vector<Option<ExperimentSpec>>& experiment_options() {
  static const Options table = declare_all();
  return table;
}

ExperimentSpec parse_experiment(const YAML::Node& tree, const std::string& source) {
  YamlNode root(tree, "", source);
  if (!root.defined()) root.fail("the experiment file is empty");
  ExperimentSpec s;
  read_options(root, experiment_options(), s);
  s.source = source;
  s.effective = tree;
  if (s.name.empty()) s.name = std::filesystem::path(source).stem().string();
  if (s.output_dir.empty()) s.output_dir = "runs/" + s.name;
  if (s.prompt_format == PromptFormat::Chat && s.chat_template == "none")
    root["prompt"]["chat_template"].fail("'none' cannot render a chat prompt; use auto, chatml, zephyr or llama3");
  if (s.early_exit_sweep.thresholds.empty()) root["early_exit_sweep"]["thresholds"].fail("needs at least one threshold");
  check_speculation(s, root);
  return s;
}

ExperimentSpec load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  if (auto why = path_problem(path, PathUse::InputFile); !why.empty()) throw_error("experiment file '", path, "' ", why);
  auto root = YamlNode::load_file(path);
  YAML::Node tree = YAML::Clone(root.raw());
  for (const auto& o : overrides) {
    if (const auto eq = o.find('='); eq != std::string::npos && trim(o.substr(eq + 1)).empty())
      throw_error("--set ", o, ": no value (to keep the default, leave the key out)");
    apply_yaml_override(tree, o);
  }
  try {
    auto spec = parse_experiment(tree, path);
    check_paths(spec, path);
    check_device(spec, path);
    return spec;
  } catch (const Error& e) {
    blame_override(e, path, overrides);
  }
}

std::string experiment_yaml(const ExperimentSpec& s) { return yaml_dump(write_options(experiment_options(), s)); }

}  // namespace litestage
