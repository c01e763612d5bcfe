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

const EnumNames<PromptFormat>& prompt_format_names() {
  static const EnumNames<PromptFormat> names = {{"tinythinker", PromptFormat::TinyThinker}, {"chat", PromptFormat::Chat}};
  return names;
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

}  // namespace

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
  g.speculative = config_.speculative;
  g.draft_history = &drafts_[kind];
  g.reuse_held = config_.exact_sharing;
  return g;
}

nlohmann::json MultiStagePipeline::stage_settings(StageKind kind) const {
  return decision_key(generation_config(kind));
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
  if (config_.exact_sharing) j.push_back("exact_sharing");  // older digests unchanged
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
                                             const SkipPlan& plan, bool reuse_held) {
    if (tokens == 0) return {nullptr, 0.0};
    if (prefix) return {&*prefix, 0.0};
    prefix = generator.prefill_prefix({ids.begin(), ids.begin() + tokens}, plan, reuse_held);
    return {&*prefix, prefix->prefill_seconds};
  }
  // Cost attribution: option 0 counts the prefix as prefilled (but what it reused from a held
  // cache), the others read it from the cache.
  int counted(int option) const { return option > 0 ? tokens : prefix ? prefix->reused : 0; }
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
  if (cache_ && !config_.observer && !config_.exact_sharing) {
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
  auto [prefix, prefix_seconds] =
      share ? share->get(generator_, ids, cfg.skip, cfg.reuse_held) : std::pair<const SharedPrefix*, double>{};
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
  t.cost = stage_cost(cfg.skip, r, share ? share->counted(option) : r.cached_prompt_tokens);
  t.speculative = r.speculative;
  if (cfg.speculative.on()) drafts_[kind].add(r.tokens);
  if (!key.empty()) cache_->insert(key, t);
  return t;
}

bool MultiStagePipeline::fits(const std::vector<int32_t>& prompt_ids) const {
  return static_cast<int64_t>(prompt_ids.size()) < generator_.model()->config().max_position_embeddings;
}

ForwardCost MultiStagePipeline::stage_cost(const SkipPlan& plan, const GenerationResult& r, int shared_tokens) const {
  const auto& config = generator_.model()->config();
  const auto bytes = static_cast<int64_t>(c10::elementSize(generator_.model()->runtime().dtype));
  const auto& spec = r.speculative;
  if (spec.verify_forwards == 0) {
    const auto forwards = decode_forwards(static_cast<int64_t>(r.tokens.size()), r.exit_reason == ExitReason::Eos);
    return forward_cost(config, plan, r.prompt_tokens, forwards, bytes, shared_tokens);
  }
  // Speculative: every row of every verify forward is computed (rejected drafts too), as if each
  // were a decode step, but a verify forward is one call that reads the weights once. The drafted
  // rows' FLOPs are short-forward FLOPs (shortrow_flops): they add compute to a forward that reads
  // the weights anyway, as the calibration's short forwards do.
  auto cost = forward_cost(config, plan, r.prompt_tokens, spec.verify_forwards + spec.drafted, bytes, shared_tokens);
  const auto prefill = forward_cost(config, plan, r.prompt_tokens, 0, bytes, shared_tokens);
  const auto step = forward_cost(config, plan, r.prompt_tokens, 1, bytes, shared_tokens);
  const double verify = static_cast<double>(spec.verify_forwards);
  for (double ForwardCost::*field : {&ForwardCost::weight_bytes, &ForwardCost::sublayer_forwards, &ForwardCost::forwards})
    cost.*field = prefill.*field + verify * (step.*field - prefill.*field);
  cost.shortrow_flops += static_cast<double>(spec.drafted) * (step.flops - prefill.flops);
  if (spec.draft_forwards > 0) {  // the self drafter's one-token steps, under its own plan
    const SkipPlan draft = self_draft_plan(plan, config_.speculative, config.num_hidden_layers);
    const auto d0 = forward_cost(config, draft, r.prompt_tokens, 0, bytes, shared_tokens);
    const auto d1 = forward_cost(config, draft, r.prompt_tokens, 1, bytes, shared_tokens);
    const double n = static_cast<double>(spec.draft_forwards);
    for (double ForwardCost::*field : {&ForwardCost::flops, &ForwardCost::weight_bytes, &ForwardCost::forwards,
                                       &ForwardCost::sublayer_forwards, &ForwardCost::kv_bytes})
      cost.*field += n * (d1.*field - d0.*field);
    cost.attn_token_layers += spec.draft_forwards * (d1.attn_token_layers - d0.attn_token_layers);
    cost.ffn_token_layers += spec.draft_forwards * (d1.ffn_token_layers - d0.ffn_token_layers);
  }
  return cost;
}

// A batch of the whole stage: its forwards are the longest row's (a finished row decodes padding
// until the last one stops). The lead row (the first with the most forwards) counts them as a call
// of its own; every other row is rows added to the lead's forwards (short-forward FLOPs and its own
// KV reads, padding steps included; no weight reads or fixed costs), as a verify step's drafted rows.
std::vector<ForwardCost> MultiStagePipeline::batch_costs(const SkipPlan& plan, const std::vector<GenerationResult>& results,
                                                         const std::vector<int>& shared) const {
  const auto& config = generator_.model()->config();
  const auto bytes = static_cast<int64_t>(c10::elementSize(generator_.model()->runtime().dtype));
  std::vector<int64_t> forwards;
  for (const auto& r : results)
    forwards.push_back(decode_forwards(static_cast<int64_t>(r.tokens.size()), r.exit_reason == ExitReason::Eos));
  const size_t lead = static_cast<size_t>(std::max_element(forwards.begin(), forwards.end()) - forwards.begin());
  std::vector<ForwardCost> out;
  for (size_t i = 0; i < results.size(); ++i) {
    const int64_t P = results[i].prompt_tokens;
    auto cost = forward_cost(config, plan, P, forwards[i], bytes, shared[i]);
    if (i != lead) {
      const auto padded = forward_cost(config, plan, P, forwards[lead], bytes, shared[i]);
      cost.flops = padded.flops;
      cost.kv_bytes = padded.kv_bytes;
      cost.shortrow_flops = padded.flops - padded.multirow_flops;
      cost.weight_bytes = cost.forwards = cost.sublayer_forwards = 0;
    }
    out.push_back(cost);
  }
  return out;
}

std::vector<StageTrace> MultiStagePipeline::generate_analyze(const std::vector<std::string>& prompts) {
  const bool several = prompts.size() > 1 && !config_.observer;
  const bool batch = config_.batch_analyze && several, sharing = config_.prefix_sharing && several;
  const bool exact = config_.exact_sharing && several && generator_.model()->rows_independent();
  std::vector<StageTrace> out;
  if (!batch && !sharing && !exact) {
    for (size_t i = 0; i < prompts.size(); ++i) out.push_back(generate_stage(StageKind::Analyze, static_cast<int>(i), prompts[i]));
    return out;
  }
  PrefixShare share = prefix_share(prompts, sharing);
  const auto one_length = [&] {
    return std::all_of(share.ids.begin(), share.ids.end(), [&](const auto& v) { return v.size() == share.ids[0].size(); });
  };
  if (batch || (exact && one_length())) return generate_analyze_batch(share);
  for (size_t i = 0; i < prompts.size(); ++i)
    out.push_back(generate_stage(StageKind::Analyze, static_cast<int>(i), prompts[i], &share));
  return out;
}

std::vector<StageTrace> MultiStagePipeline::generate_analyze_batch(PrefixShare& share) {
  dist::progress();
  Timer timer;
  auto cfg = generation_config(StageKind::Analyze);
  cfg.speculative.drafter = DrafterKind::Off;  // one sequence at a time
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
  auto [prefix, prefix_seconds] = share.get(generator_, ids[0], cfg.skip, cfg.reuse_held);
  auto results = generator_.generate_batch(ids, cfg, prefix);
  std::vector<int> shared;
  for (size_t i : fitting) shared.push_back(share.counted(static_cast<int>(i)));
  const auto costs = batch_costs(cfg.skip, results, shared);
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
    t.cost = costs[r];
  }
  return out;
}

ExampleTrace MultiStagePipeline::run(const Example& example) {
  if (auto problem = example_problem(example)) throw_error("example ", example.id, ": ", *problem);
  ExampleTrace trace;
  trace.id = example.id;
  trace.config = config_digest();
  trace.gold = example.answer_label();
  if (config_.exact_sharing) generator_.forget_held();  // no question gains from another's work
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
