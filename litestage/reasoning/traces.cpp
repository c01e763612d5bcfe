// Traces and their summaries: JSON for the trace files, the deterministic part of a trace, and
// the per-question means and Markdown table of a set of traces.

#include <cstdio>

#include "litestage/reasoning/traces.hpp"
#include "litestage/util/format.hpp"

namespace litestage {

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

void to_json(nlohmann::json& j, const SpeculativeStats& s) {
  j = {{"verify_forwards", s.verify_forwards}, {"drafted", s.drafted}, {"accepted", s.accepted}};
  if (s.draft_forwards > 0) j["draft_forwards"] = s.draft_forwards;  // the self drafter's
}

void from_json(const nlohmann::json& j, SpeculativeStats& s) {
  s = {j.at("verify_forwards").get<int64_t>(), j.at("drafted").get<int64_t>(), j.at("accepted").get<int64_t>(),
       j.value("draft_forwards", int64_t{0})};
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
  if (t.speculative.verify_forwards > 0) j["speculative"] = t.speculative;
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
  if (const auto s = j.find("speculative"); s != j.end()) t.speculative = s->get<SpeculativeStats>();
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
       {"flops", c.flops},                         {"weight_bytes", c.weight_bytes},
       {"forwards", c.forwards},                   {"sublayer_forwards", c.sublayer_forwards},
       {"kv_bytes", c.kv_bytes},                   {"multirow_flops", c.multirow_flops},
       {"shortrow_flops", c.shortrow_flops}};
}

void from_json(const nlohmann::json& j, ForwardCost& c) {
  c.prefill_tokens = j.at("prefill_tokens").get<int64_t>();
  c.decode_tokens = j.at("decode_tokens").get<int64_t>();
  c.attn_token_layers = j.at("attn_token_layers").get<int64_t>();
  c.ffn_token_layers = j.at("ffn_token_layers").get<int64_t>();
  c.flops = j.at("flops").get<double>();
  c.weight_bytes = j.at("weight_bytes").get<double>();
  // Traces older than the latency model lack these (their predicted seconds count bytes and FLOPs only).
  c.forwards = j.value("forwards", 0.0);
  c.sublayer_forwards = j.value("sublayer_forwards", 0.0);
  c.kv_bytes = j.value("kv_bytes", 0.0);
  c.multirow_flops = j.value("multirow_flops", 0.0);
  c.shortrow_flops = j.value("shortrow_flops", 0.0);
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

namespace {

// A sum of costs over n questions as a mean per question (the counts rounded).
ForwardCost mean_of(ForwardCost c, double n) {
  auto mean = [&](int64_t v) { return static_cast<int64_t>(std::llround(static_cast<double>(v) / n)); };
  c.prefill_tokens = mean(c.prefill_tokens);
  c.decode_tokens = mean(c.decode_tokens);
  c.attn_token_layers = mean(c.attn_token_layers);
  c.ffn_token_layers = mean(c.ffn_token_layers);
  for (double* x : {&c.flops, &c.weight_bytes, &c.forwards, &c.sublayer_forwards, &c.kv_bytes, &c.multirow_flops,
                    &c.shortrow_flops})
    *x /= n;
  return c;
}

}  // namespace

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
      agg.speculative += st.speculative;
      agg.mean_cost += st.cost;
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
    agg.mean_cost = mean_of(agg.mean_cost, n);
  }
  s.mean_cost = mean_of(s.mean_cost, n);
  return s;
}

void to_json(nlohmann::json& j, const Summary& s) {
  auto stage = [](const StageAggregate& a) {
    nlohmann::json out{{"mean_seconds", a.mean_seconds}, {"mean_tokens", a.mean_tokens},
                          {"mean_flops", a.mean_flops},     {"share", a.share},
                          {"calls", a.calls},               {"early_exits", a.early_exits}};
    if (a.speculative.verify_forwards > 0) {
      out["speculative"] = a.speculative;
      out["speculative"]["tokens_per_forward"] = a.speculative.tokens_per_forward();
    }
    return out;
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
  out += "| stage | latency (s) | tokens | share of latency | early exits | tokens per verify forward |\n"
         "|---|---:|---:|---:|---:|---:|\n";
  for (auto kind : kStages) {
    const auto& a = s.stages[kind];
    const double per_forward = a.speculative.tokens_per_forward();
    std::snprintf(buf, sizeof buf, "| %s | %.4f | %.1f | %.1f%% | %d | %s |\n", std::string(to_string(kind)).c_str(),
                  a.mean_seconds, a.mean_tokens, 100.0 * a.share, a.early_exits,
                  per_forward > 0 ? format("%.2f", per_forward).c_str() : "");
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "| **total** | %.4f | %.1f | 100%% | | |\n", s.mean_seconds, s.mean_tokens);
  return out + buf;
}

}  // namespace litestage
