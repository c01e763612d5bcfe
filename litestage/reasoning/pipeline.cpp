#include "litestage/reasoning/pipeline.hpp"

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <fstream>

#include "litestage/dist/dist.hpp"
#include "litestage/io/digest.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/phase_clock.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

namespace {

// One stage of a question for an installed PhaseClock (eval --time-breakdown): selects the stage's
// bucket, and on leaving adds the stage's wall time and the calls and tokens of the traces it added.
class StageWall {
 public:
  StageWall(StageKind kind, const std::vector<StageTrace>& stages)
      : clock_(PhaseClock::current()), stages_(stages), first_(stages.size()) {
    if (clock_) clock_->set_bucket(static_cast<size_t>(kind));
  }
  ~StageWall() {
    if (!clock_) return;
    int64_t tokens = 0;
    for (size_t i = first_; i < stages_.size(); ++i) tokens += stages_[i].tokens;
    clock_->add_wall(timer_.seconds());
    clock_->add_calls(static_cast<int64_t>(stages_.size() - first_), tokens);
  }
  StageWall(const StageWall&) = delete;
  StageWall& operator=(const StageWall&) = delete;

 private:
  PhaseClock* clock_;
  const std::vector<StageTrace>& stages_;
  size_t first_;
  Timer timer_;
};

template <typename F>
std::string built_prompt(F build) {
  PhaseScope phase(Phase::Prompt);
  return build();
}

}  // namespace

std::string to_string(PromptFormat format) { return format == PromptFormat::Chat ? "chat" : "tinythinker"; }

PromptFormat parse_prompt_format(const std::string& name) {
  if (name == "tinythinker") return PromptFormat::TinyThinker;
  if (name == "chat") return PromptFormat::Chat;
  throw_error("unknown prompt format '", name, "' (expected tinythinker or chat)");
}

double ExampleTrace::seconds() const {
  double s = 0;
  for (const auto& st : stages) s += st.seconds();
  return s;
}

double ExampleTrace::stage_seconds(StageKind kind) const {
  double s = 0;
  for (const auto& st : stages)
    if (st.stage == kind) s += st.seconds();
  return s;
}

int ExampleTrace::stage_tokens(StageKind kind) const {
  int n = 0;
  for (const auto& st : stages)
    if (st.stage == kind) n += st.tokens;
  return n;
}

void to_json(nlohmann::json& j, const StageTrace& t) {
  j = nlohmann::json{{"stage", std::string(to_string(t.stage))},
                     {"option", t.option},
                     {"prompt", t.prompt},
                     {"output", t.output},
                     {"prompt_tokens", t.prompt_tokens},
                     {"shared_prefix_tokens", t.shared_prefix_tokens},
                     {"tokens", t.tokens},
                     {"prefill_seconds", t.prefill_seconds},
                     {"decode_seconds", t.decode_seconds},
                     {"exit_reason", exit_reason_name(t.exit_reason)},
                     {"skip", t.skip},
                     {"early_exit", t.early_exit},
                     {"cost", t.cost},
                     {"cached", t.cached}};
}

void from_json(const nlohmann::json& j, StageTrace& t) {
  t.stage = parse_stage_kind(j.at("stage").get<std::string>());
  t.option = j.at("option").get<int>();
  t.prompt = j.at("prompt").get<std::string>();
  t.output = j.at("output").get<std::string>();
  t.prompt_tokens = j.at("prompt_tokens").get<int>();
  t.shared_prefix_tokens = j.value("shared_prefix_tokens", 0);
  t.tokens = j.at("tokens").get<int>();
  t.prefill_seconds = j.at("prefill_seconds").get<double>();
  t.decode_seconds = j.at("decode_seconds").get<double>();
  t.exit_reason = enum_from_name(exit_reason_names(), j.at("exit_reason").get<std::string>(), "exit_reason");
  t.skip = j.at("skip").get<std::string>();
  t.early_exit = j.value("early_exit", "");
  t.cost = j.at("cost").get<ForwardCost>();
  t.cached = j.value("cached", false);
}

void to_json(nlohmann::json& j, const ExampleTrace& t) {
  j = nlohmann::json{{"id", t.id},
                     {"config", t.config},
                     {"gold", t.gold},
                     {"predicted", t.predicted ? nlohmann::json(*t.predicted) : nlohmann::json(nullptr)},
                     {"parsed", t.parsed},
                     {"correct", t.correct},
                     {"seconds", t.seconds()},
                     {"stages", t.stages}};
}

void from_json(const nlohmann::json& j, ExampleTrace& t) {
  t.id = j.at("id").get<std::string>();
  t.config = j.value("config", "");
  t.gold = j.at("gold").get<std::string>();
  if (j.at("predicted").is_null()) {
    t.predicted.reset();
  } else {
    t.predicted = j.at("predicted").get<std::string>();
  }
  t.parsed = j.at("parsed").get<bool>();
  t.correct = j.at("correct").get<bool>();
  t.stages = j.at("stages").get<std::vector<StageTrace>>();
}

void to_json(nlohmann::json& j, const ForwardCost& c) {
  j = {{"prefill_tokens", c.prefill_tokens},       {"decode_tokens", c.decode_tokens},
       {"attn_token_layers", c.attn_token_layers}, {"ffn_token_layers", c.ffn_token_layers},
       {"flops", c.flops},                         {"weight_bytes", c.weight_bytes}};
}

void from_json(const nlohmann::json& j, ForwardCost& c) {
  c.prefill_tokens = j.at("prefill_tokens").get<int64_t>();
  c.decode_tokens = j.at("decode_tokens").get<int64_t>();
  c.attn_token_layers = j.at("attn_token_layers").get<int64_t>();
  c.ffn_token_layers = j.at("ffn_token_layers").get<int64_t>();
  c.flops = j.at("flops").get<double>();
  c.weight_bytes = j.at("weight_bytes").get<double>();
}

nlohmann::json prediction_json(const ExampleTrace& t) {
  auto stages = nlohmann::json::array();
  for (const auto& s : t.stages)
    stages.push_back({{"stage", std::string(to_string(s.stage))},
                      {"option", s.option},
                      {"output", s.output},
                      {"tokens", s.tokens},
                      {"exit_reason", exit_reason_name(s.exit_reason)},
                      {"cost", s.cost}});
  return {{"id", t.id},
          {"gold", t.gold},
          {"predicted", t.predicted ? nlohmann::json(*t.predicted) : nlohmann::json(nullptr)},
          {"correct", t.correct},
          {"parsed", t.parsed},
          {"stages", stages}};
}

Summary summarize(const std::vector<ExampleTrace>& traces) {
  Summary s;
  s.examples = static_cast<int>(traces.size());
  if (traces.empty()) return s;
  double total = 0, tokens = 0;
  for (const auto& t : traces) {
    s.correct += t.correct;
    s.unparsed += !t.parsed;
    total += t.seconds();
    for (auto kind : kStages) {
      auto& agg = s.stages[kind];
      agg.mean_seconds += t.stage_seconds(kind);
      agg.mean_tokens += t.stage_tokens(kind);
      tokens += t.stage_tokens(kind);
    }
    bool too_long = false;
    for (const auto& st : t.stages) {
      auto& agg = s.stages[st.stage];
      agg.calls += 1;
      agg.early_exits += st.exit_reason == ExitReason::EarlyExit;
      agg.mean_flops += st.cost.flops;
      s.mean_cost += st.cost;
      s.cached_stages += st.cached ? 1 : 0;
      too_long = too_long || st.exit_reason == ExitReason::PromptTooLong;
    }
    s.prompt_too_long += too_long ? 1 : 0;
  }
  double n = static_cast<double>(traces.size());
  s.accuracy = s.correct / n;
  s.mean_seconds = total / n;
  s.mean_tokens = tokens / n;
  for (StageAggregate& agg : s.stages) {
    agg.share = total > 0 ? agg.mean_seconds / total : 0;
    agg.mean_seconds /= n;
    agg.mean_tokens /= n;
    agg.mean_flops /= n;
  }
  auto mean = [&](int64_t v) { return static_cast<int64_t>(std::llround(static_cast<double>(v) / n)); };
  s.mean_cost = {mean(s.mean_cost.prefill_tokens), mean(s.mean_cost.decode_tokens),
                 mean(s.mean_cost.attn_token_layers), mean(s.mean_cost.ffn_token_layers),
                 s.mean_cost.flops / n, s.mean_cost.weight_bytes / n};
  return s;
}

void to_json(nlohmann::json& j, const Summary& s) {
  auto stage = [](const StageAggregate& a) {
    return nlohmann::json{{"mean_seconds", a.mean_seconds}, {"mean_tokens", a.mean_tokens},
                          {"mean_flops", a.mean_flops},     {"share", a.share},
                          {"calls", a.calls},               {"early_exits", a.early_exits}};
  };
  j = nlohmann::json{{"examples", s.examples},
                     {"correct", s.correct},
                     {"unparsed", s.unparsed},
                     {"accuracy", s.accuracy},
                     {"mean_seconds", s.mean_seconds},
                     {"mean_tokens", s.mean_tokens},
                     {"mean_cost", s.mean_cost},
                     {"prompt_too_long", s.prompt_too_long},
                     {"cached_stages", s.cached_stages},
                     {"stages", stage_object<nlohmann::json>(s.stages, stage)}};
}

std::string summary_markdown(const Summary& s, const std::string& title) {
  char buf[512];
  std::string out = "### " + title + "\n\n";
  std::snprintf(buf, sizeof buf, "Accuracy: **%.2f%%** (%d/%d, %d unparsed). Mean latency %.3f s, %.1f tokens per question.\n\n",
                100.0 * s.accuracy, s.correct, s.examples, s.unparsed, s.mean_seconds, s.mean_tokens);
  out += buf;
  out += "| stage | latency (s) | tokens | share of latency | early exits |\n|---|---:|---:|---:|---:|\n";
  for (auto kind : kStages) {
    const auto& a = s.stages[kind];
    std::snprintf(buf, sizeof buf, "| %s | %.4f | %.1f | %.1f%% | %d |\n", std::string(to_string(kind)).c_str(),
                  a.mean_seconds, a.mean_tokens, 100.0 * a.share, a.early_exits);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "| **total** | %.4f | %.1f | 100%% | |\n", s.mean_seconds, s.mean_tokens);
  return out + buf;
}

namespace {

// A stage whose prompt does not fit the context (earlier stages rambled past it, or an option is
// too long) cannot run: the question counts as unanswered, in the 'too long' column, with what it
// really cost (rendering and encoding the prompt), rather than aborting the evaluation.
void mark_too_long(StageTrace& t, const GenerationConfig& cfg, double seconds) {
  t.exit_reason = ExitReason::PromptTooLong;
  t.skip = cfg.skip.to_string();
  t.early_exit = early_exit_text(cfg.early_exit);
  t.prefill_seconds = seconds;
}

// Rank r > 0 of a multi-process run appends to <stem>.rank<r>.jsonl beside rank 0's file.
std::string rank_file(const std::filesystem::path& path, int rank) {
  if (rank == 0) return path.string();
  return (path.parent_path() / (path.stem().string() + ".rank" + std::to_string(rank) + path.extension().string()))
      .string();
}

}  // namespace

StageCache::StageCache(const std::string& path) : path_(rank_file(path, dist::rank())) {
  // Every rank's entries, from runs of any world size: a stage generated once is never repeated.
  const std::filesystem::path base(path);
  std::vector<std::string> files = {path};
  const auto dir = base.has_parent_path() ? base.parent_path() : std::filesystem::path(".");
  const std::string prefix = base.stem().string() + ".rank";
  if (std::filesystem::is_directory(dir))
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const auto name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && e.path().extension() == base.extension()) files.push_back(e.path().string());
    }
  for (const auto& file : files)
    read_jsonl(
        file, [&](const nlohmann::json& j) { entries_[j.at("key").get<std::string>()] = j.at("trace").get<StageTrace>(); },
        "stage-cache entry");
}

const StageTrace* StageCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void StageCache::insert(const std::string& key, const StageTrace& trace) {
  entries_[key] = trace;
  if (!path_.empty()) append_jsonl(path_, {{"key", key}, {"trace", trace}});
}

MultiStagePipeline::MultiStagePipeline(Generator& generator, PipelineConfig config, StageCache* cache)
    : generator_(generator), config_(std::move(config)), cache_(cache) {
  if (config_.format == PromptFormat::Chat && config_.chat_template == ChatTemplateKind::None)
    throw_error("prompt format 'chat' needs a chat template (none was given or detected)");
}

bool MultiStagePipeline::add_bos() const {
  // A llama3 rendering already starts with <|begin_of_text|>.
  return !(config_.format == PromptFormat::Chat && config_.chat_template == ChatTemplateKind::Llama3);
}

std::string MultiStagePipeline::model_input(StageKind kind, const std::string& stage_prompt) const {
  if (config_.format == PromptFormat::TinyThinker) return stage_prompt;
  std::vector<ChatMessage> messages;
  if (!config_.system_prompt.empty()) messages.push_back({"system", config_.system_prompt});
  const auto& shots = config_.few_shot[kind];
  for (const auto& turn : shots) {
    messages.push_back({"user", turn.user});
    messages.push_back({"assistant", turn.assistant});
  }
  messages.push_back({"user", stage_prompt});
  return render_chat(config_.chat_template, messages, /*add_generation_prompt=*/true);
}

GenerationConfig MultiStagePipeline::generation_config(StageKind kind) const {
  const auto& st = config_.stages[kind];
  GenerationConfig g;
  g.max_new_tokens = st.max_new_tokens;
  g.skip = st.skip;
  g.early_exit = st.early_exit;
  g.sampling = config_.sampling;
  g.stop_strings = config_.stop_strings;
  g.add_bos = add_bos();
  return g;
}

nlohmann::json MultiStagePipeline::stage_settings(StageKind kind) const {
  const auto& st = config_.stages[kind];
  const auto& ee = st.early_exit;
  const auto& sm = config_.sampling;
  return {st.skip.to_string(),
          st.max_new_tokens,
          ee.enabled ? nlohmann::json{ee.window, ee.threshold, confidence_metric_name(ee.metric)} : nlohmann::json(nullptr),
          {sm.temperature, sm.top_k, sm.top_p, sm.seed},
          config_.stop_strings,
          add_bos()};
}

std::string MultiStagePipeline::cache_key(StageKind kind, const std::string& prompt, int shared_tokens) const {
  nlohmann::json k = stage_settings(kind);
  k.insert(k.begin(), prompt);
  if (shared_tokens > 0) k.push_back(shared_tokens);  // its cost counts fewer prefilled tokens
  return k.dump();
}

std::string MultiStagePipeline::config_digest() const {
  nlohmann::json j = {static_cast<int>(config_.mode),          static_cast<int>(config_.format),
                      static_cast<int>(config_.chat_template), config_.system_prompt,
                      config_.batch_analyze,                   config_.prefix_sharing};
  for (StageKind kind : kStages) j.push_back(stage_settings(kind));
  const std::string text = j.dump();
  return io::digest_hex(io::xxh64(text.data(), text.size()));
}

// The options of one Analyze stage: each one's model input and its tokens (rendered and encoded
// once), how many leading tokens they all share, and that prefix's KV cache once an option that is
// not in the stage cache has needed it.
struct MultiStagePipeline::PrefixShare {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> ids;
  int tokens = 0;  // 0: nothing shared
  std::optional<SharedPrefix> prefix;

  // The prefix for a call on `ids`; the seconds spent prefilling it now (0 if it already was).
  std::pair<const SharedPrefix*, double> get(Generator& generator, const std::vector<int32_t>& ids,
                                             const SkipPlan& plan) {
    if (tokens == 0) return {nullptr, 0.0};
    if (prefix) return {&*prefix, 0.0};
    prefix = generator.prefill_prefix({ids.begin(), ids.begin() + tokens}, plan);
    return {&*prefix, prefix->prefill_seconds};
  }
  // Cost attribution: option 0 counts the prefix as prefilled, the others read it from the cache.
  int counted(int option) const { return option > 0 ? tokens : 0; }
};

MultiStagePipeline::PrefixShare MultiStagePipeline::prefix_share(const std::vector<std::string>& prompts,
                                                                  bool sharing) const {
  PrefixShare share;
  for (const auto& p : prompts) {
    share.inputs.push_back(built_prompt([&] { return model_input(StageKind::Analyze, p); }));
    share.ids.push_back(generator_.encode_prompt(share.inputs.back(), add_bos()));
  }
  if (!sharing) return share;
  const auto& ids = share.ids;
  size_t common = ids[0].size() - 1;  // every option keeps at least one token of its own
  for (const auto& v : ids) {
    common = std::min(common, v.size() - 1);
    common = static_cast<size_t>(std::mismatch(ids[0].begin(), ids[0].begin() + common, v.begin()).first - ids[0].begin());
  }
  share.tokens = static_cast<int>(common);
  return share;
}

StageTrace MultiStagePipeline::generate_stage(StageKind kind, int option, const std::string& stage_prompt,
                                              PrefixShare* share) {
  dist::progress();  // a multi-process run's watchdog sees this rank moving (dist/liveness.hpp)
  std::string input = share ? share->inputs[option] : built_prompt([&] { return model_input(kind, stage_prompt); });
  if (config_.on_stage_start) config_.on_stage_start(kind);
  const int shared_tokens = share ? share->counted(option) : 0;
  std::string key;
  // Observed runs must really run (the observer wants the forward), so they bypass the cache.
  if (cache_ && !config_.observer) {
    key = cache_key(kind, input, shared_tokens);
    if (const auto* hit = cache_->find(key)) {
      StageTrace t = *hit;
      t.option = option;
      t.prefill_seconds = t.decode_seconds = 0;  // outputs are reused, timings never
      t.cached = true;
      return t;
    }
  }
  Timer timer;
  StageTrace t;
  t.stage = kind;
  t.option = option;
  t.prompt = std::move(input);
  auto cfg = generation_config(kind);
  cfg.observer = config_.observer;
  auto ids = share ? share->ids[option] : generator_.encode_prompt(t.prompt, cfg.add_bos);
  t.prompt_tokens = static_cast<int>(ids.size());
  if (!fits(ids)) {
    mark_too_long(t, cfg, timer.seconds());
    if (!key.empty()) cache_->insert(key, t);
    return t;
  }
  auto [prefix, prefix_seconds] = share ? share->get(generator_, ids, cfg.skip) : std::pair<const SharedPrefix*, double>{};
  auto r = generator_.generate_ids(ids, cfg, nullptr, prefix);
  t.output = r.text;
  t.prompt_tokens = r.prompt_tokens;
  t.shared_prefix_tokens = r.cached_prompt_tokens;
  t.tokens = static_cast<int>(r.tokens.size());
  t.prefill_seconds = prefix_seconds + r.prefill_seconds;
  t.decode_seconds = r.decode_seconds;
  t.exit_reason = r.exit_reason;
  t.skip = cfg.skip.to_string();
  t.early_exit = early_exit_text(cfg.early_exit);
  t.cost = stage_cost(cfg.skip, r, shared_tokens);
  if (!key.empty()) cache_->insert(key, t);
  return t;
}

bool MultiStagePipeline::fits(const std::vector<int32_t>& prompt_ids) const {
  return static_cast<int64_t>(prompt_ids.size()) < generator_.model()->config().max_position_embeddings;
}

ForwardCost MultiStagePipeline::stage_cost(const SkipPlan& plan, const GenerationResult& r, int shared_tokens) const {
  const auto forwards = decode_forwards(static_cast<int64_t>(r.tokens.size()), r.exit_reason == ExitReason::Eos);
  return forward_cost(generator_.model()->config(), plan, r.prompt_tokens, forwards,
                      static_cast<int64_t>(c10::elementSize(generator_.model()->runtime().dtype)), shared_tokens);
}

std::vector<StageTrace> MultiStagePipeline::generate_analyze(const std::vector<std::string>& prompts) {
  const bool several = prompts.size() > 1 && !config_.observer;
  const bool batch = config_.batch_analyze && several, sharing = config_.prefix_sharing && several;
  std::vector<StageTrace> out;
  if (!batch && !sharing) {
    for (size_t i = 0; i < prompts.size(); ++i) out.push_back(generate_stage(StageKind::Analyze, static_cast<int>(i), prompts[i]));
    return out;
  }
  PrefixShare share = prefix_share(prompts, sharing);
  if (batch) return generate_analyze_batch(share);
  for (size_t i = 0; i < prompts.size(); ++i)
    out.push_back(generate_stage(StageKind::Analyze, static_cast<int>(i), prompts[i], &share));
  return out;
}

std::vector<StageTrace> MultiStagePipeline::generate_analyze_batch(PrefixShare& share) {
  dist::progress();
  Timer timer;
  auto cfg = generation_config(StageKind::Analyze);
  std::vector<StageTrace> out(share.inputs.size());
  std::vector<size_t> fitting;  // the options the batch runs, in option order
  std::vector<std::vector<int32_t>> ids;
  for (size_t i = 0; i < out.size(); ++i) {
    StageTrace& t = out[i];
    t.stage = StageKind::Analyze;
    t.option = static_cast<int>(i);
    t.prompt = share.inputs[i];
    t.prompt_tokens = static_cast<int>(share.ids[i].size());
    t.skip = cfg.skip.to_string();
    t.early_exit = early_exit_text(cfg.early_exit);
    if (!fits(share.ids[i])) {
      mark_too_long(t, cfg, timer.seconds());  // as the options run one by one
      continue;
    }
    fitting.push_back(i);
    ids.push_back(share.ids[i]);
  }
  if (fitting.empty()) return out;
  auto [prefix, prefix_seconds] = share.get(generator_, ids[0], cfg.skip);
  auto results = generator_.generate_batch(ids, cfg, prefix);
  for (size_t r = 0; r < results.size(); ++r) {
    StageTrace& t = out[fitting[r]];
    t.output = results[r].text;
    t.prompt_tokens = results[r].prompt_tokens;
    t.shared_prefix_tokens = results[r].cached_prompt_tokens;
    t.tokens = static_cast<int>(results[r].tokens.size());
    // The batch shares its forwards: its time is attributed to the first option it ran, so the
    // per-question Analyze latency sums to the wall time of the batched call.
    t.prefill_seconds = r == 0 ? prefix_seconds + results[r].prefill_seconds : 0;
    t.decode_seconds = r == 0 ? results[r].decode_seconds : 0;
    t.exit_reason = results[r].exit_reason;
    // Each row as if alone: padding rows are not counted.
    t.cost = stage_cost(cfg.skip, results[r], share.counted(t.option));
  }
  return out;
}

ExampleTrace MultiStagePipeline::run(const Example& example) {
  if (auto problem = example_problem(example)) throw_error("example ", example.id, ": ", *problem);
  ExampleTrace trace;
  trace.id = example.id;
  trace.config = config_digest();
  trace.gold = example.answer_label();
  const auto mode = config_.mode;

  std::string recall;
  if (uses_recall(mode)) {
    StageWall wall(StageKind::Recall, trace.stages);
    const auto prompt = built_prompt([&] { return recall_prompt(example); });
    trace.stages.push_back(generate_stage(StageKind::Recall, -1, prompt));
    recall = trace.stages.back().output;
  }
  std::vector<std::string> analyses;
  if (uses_analyze(mode)) {
    StageWall wall(StageKind::Analyze, trace.stages);
    std::vector<std::string> prompts;
    for (size_t i = 0; i < example.choices.size(); ++i)
      prompts.push_back(built_prompt([&] { return analyze_prompt(example, mode, recall, i); }));
    for (auto& t : generate_analyze(prompts)) trace.stages.push_back(std::move(t));
    for (const auto& t : trace.stages)
      if (t.stage == StageKind::Analyze) analyses.push_back(t.output);
  }
  {
    StageWall wall(StageKind::Summarize, trace.stages);
    const auto prompt = built_prompt([&] { return summarize_prompt(example, mode, recall, analyses); });
    trace.stages.push_back(generate_stage(StageKind::Summarize, -1, prompt));
    PhaseScope parsing(Phase::Parse);
    auto judgement = judge_answer(example, trace.stages.back().output);
    trace.parsed = judgement.parsed();
    if (judgement.letter) trace.predicted = std::string(1, *judgement.letter);
    trace.correct = judgement.correct;
  }
  return trace;
}

}  // namespace litestage
