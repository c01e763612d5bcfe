#include "litestage/search/importance.hpp"

#include <algorithm>
#include <numeric>

#include <torch/types.h>

#include "litestage/dist/dist.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/progress.hpp"

namespace litestage {

const EnumNames<TokenPooling>& token_pooling_names() {
  static const EnumNames<TokenPooling> names = {{"mean", TokenPooling::Mean}, {"last", TokenPooling::Last}};
  return names;
}

const EnumNames<StageAccumulation>& stage_accumulation_names() {
  static const EnumNames<StageAccumulation> names = {{"sum", StageAccumulation::Sum}, {"mean", StageAccumulation::Mean}};
  return names;
}

namespace {

// Per-token cosine similarity (batch*seq) of two (batch, seq, hidden) tensors, in float32.
at::Tensor token_cos(const at::Tensor& a, const at::Tensor& b) {
  auto x = a.to(torch::kFloat).flatten(0, 1), y = b.to(torch::kFloat).flatten(0, 1);
  auto dot = (x * y).sum(-1);
  auto norm = x.norm(2, -1) * y.norm(2, -1);
  return dot / norm.clamp_min(1e-12);
}

std::vector<SubLayer> rank(const std::vector<double>& attn, const std::vector<double>& ffn) {
  std::vector<std::pair<double, SubLayer>> items;
  for (size_t l = 0; l < attn.size(); ++l) {
    items.push_back({attn[l], {static_cast<int>(l), SubLayerKind::Attention}});
    items.push_back({ffn[l], {static_cast<int>(l), SubLayerKind::FFN}});
  }
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<SubLayer> out;
  for (const auto& [score, s] : items) out.push_back(s);
  return out;
}

}  // namespace

std::vector<SubLayer> ImportanceResult::ranking() const { return rank(attn, ffn); }

std::vector<StageKind> ImportanceResult::measured_stages() const {
  std::vector<StageKind> out;
  for (StageKind k : kStages)
    if (!stages[k].attn.empty()) out.push_back(k);
  return out;
}

std::vector<int> ImportanceResult::block_ranking() const {
  std::vector<int> order(block.size());
  std::iota(order.begin(), order.end(), 0);
  // Least influence first = highest block cos first.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return block[a] > block[b]; });
  return order;
}

double ImportanceResult::score(const SubLayer& s) const {
  return s.kind == SubLayerKind::Attention ? attn.at(s.layer) : ffn.at(s.layer);
}

void to_json(nlohmann::json& j, const ImportanceResult& r) {
  auto stages = nlohmann::json::object();
  for (StageKind kind : r.measured_stages()) {
    const auto& st = r.stages[kind];
    stages[std::string(to_string(kind))] = {{"attn", st.attn}, {"ffn", st.ffn}, {"block", st.block}, {"calls", st.calls}};
  }
  std::vector<std::string> ranking;
  for (const auto& s : r.ranking()) ranking.push_back(to_string(s));
  j = {{"layers", r.layers},
       {"examples", r.examples},
       {"pooling", enum_name(token_pooling_names(), r.settings.pooling)},
       {"accumulate", enum_name(stage_accumulation_names(), r.settings.accumulate)},
       {"stages", stages},
       {"attn", r.attn},
       {"ffn", r.ffn},
       {"block", r.block},
       {"pooled_attn", r.pooled_attn},
       {"pooled_ffn", r.pooled_ffn},
       {"ranking", ranking},
       {"block_ranking", r.block_ranking()}};
}

void from_json(const nlohmann::json& j, ImportanceResult& r) {
  r.layers = j.at("layers").get<int>();
  r.examples = j.at("examples").get<int>();
  r.settings.pooling = enum_from_name(token_pooling_names(), j.at("pooling").get<std::string>(), "pooling");
  r.settings.accumulate =
      enum_from_name(stage_accumulation_names(), j.at("accumulate").get<std::string>(), "accumulate");
  r.stages = {};
  for (const auto& [name, st] : j.at("stages").items()) {
    StageImportance s;
    s.attn = st.at("attn").get<std::vector<double>>();
    s.ffn = st.at("ffn").get<std::vector<double>>();
    s.block = st.at("block").get<std::vector<double>>();
    s.calls = st.at("calls").get<int>();
    r.stages[parse_stage_kind(name)] = s;
  }
  r.attn = j.at("attn").get<std::vector<double>>();
  r.ffn = j.at("ffn").get<std::vector<double>>();
  r.block = j.at("block").get<std::vector<double>>();
  r.pooled_attn = j.at("pooled_attn").get<std::vector<double>>();
  r.pooled_ffn = j.at("pooled_ffn").get<std::vector<double>>();
}

ImportanceAccumulator::ImportanceAccumulator(int layers, ImportanceSettings settings)
    : layers_(layers), settings_(settings), example_(empty_tally()), total_(empty_tally()), block_input_(layers) {}

ImportanceAccumulator::Tally ImportanceAccumulator::empty_tally() const {
  Tally t;
  const auto L = static_cast<size_t>(layers_);
  for (StageKind k : kStages) {
    auto& s = t.stages[k];
    for (auto* v : {&s.attn, &s.ffn, &s.block, &s.attn_n, &s.ffn_n, &s.block_n}) v->assign(L, 0.0);
  }
  t.tok_attn.assign(L, 0.0);
  t.tok_ffn.assign(L, 0.0);
  return t;
}

std::vector<double*> ImportanceAccumulator::Tally::fields() {
  std::vector<double*> out;
  for (StageKind k : kStages) {
    auto& s = stages[k];
    out.push_back(&s.calls);
    for (auto* v : {&s.attn, &s.ffn, &s.block, &s.attn_n, &s.ffn_n, &s.block_n})
      for (auto& x : *v) out.push_back(&x);
  }
  for (auto* v : {&tok_attn, &tok_ffn})
    for (auto& x : *v) out.push_back(&x);
  out.push_back(&tok_attn_n);
  out.push_back(&tok_ffn_n);
  return out;
}

void ImportanceAccumulator::set_stage(StageKind stage) {
  stage_ = stage;
  example_.stages[stage].calls += 1;
}

void ImportanceAccumulator::observe(const SubLayerEvent& e) {
  if (!e.prefill) return;
  auto& s = example_.stages[stage_];
  auto cos = token_cos(e.input, e.output);  // (tokens)
  double pooled = settings_.pooling == TokenPooling::Mean ? cos.mean().item<double>() : cos[-1].item<double>();
  double tok_sum = cos.sum().item<double>();
  const int l = e.layer;
  if (e.kind == SubLayerKind::Attention) {
    s.attn[l] += pooled;
    s.attn_n[l] += 1;
    example_.tok_attn[l] += tok_sum;
    block_input_[l] = e.input;
  } else {
    s.ffn[l] += pooled;
    s.ffn_n[l] += 1;
    example_.tok_ffn[l] += tok_sum;
    if (block_input_[l].defined()) {
      auto bc = token_cos(block_input_[l], e.output);
      s.block[l] += settings_.pooling == TokenPooling::Mean ? bc.mean().item<double>() : bc[-1].item<double>();
      s.block_n[l] += 1;
      block_input_[l] = at::Tensor();
    }
  }
  if (l == 0 && e.kind == SubLayerKind::Attention) example_.tok_attn_n += static_cast<double>(cos.numel());
  if (l == 0 && e.kind == SubLayerKind::FFN) example_.tok_ffn_n += static_cast<double>(cos.numel());
}

std::vector<double> ImportanceAccumulator::take_example() {
  std::vector<double> out;
  for (double* x : example_.fields()) out.push_back(*x);
  example_ = empty_tally();
  return out;
}

void ImportanceAccumulator::add(const std::vector<double>& example) {
  auto fields = total_.fields();
  LITESTAGE_CHECK(example.size() == fields.size(), "importance: an example's sums have ", example.size(),
                  " numbers, expected ", fields.size(), " (", layers_, " layers)");
  for (size_t i = 0; i < fields.size(); ++i) *fields[i] += example[i];
}

SubLayerObserver ImportanceAccumulator::observer() {
  return [this](const SubLayerEvent& e) { observe(e); };
}

ImportanceResult ImportanceAccumulator::finish(int examples) const {
  ImportanceAccumulator folded = *this;
  folded.add(folded.take_example());
  const Tally& t = folded.total_;
  ImportanceResult r;
  r.layers = layers_;
  r.examples = examples;
  r.settings = settings_;
  r.attn.assign(layers_, 0.0);
  r.ffn.assign(layers_, 0.0);
  r.block.assign(layers_, 0.0);
  auto mean = [](double sum, double n) { return n > 0 ? sum / n : 0.0; };
  size_t observed = 0;
  for (StageKind kind : kStages) {
    const auto& s = t.stages[kind];
    double events = 0;
    for (int l = 0; l < layers_; ++l) events += s.attn_n[l] + s.ffn_n[l];
    if (events == 0) continue;  // a stage without a prefill measurement has no entry
    ++observed;
    StageImportance st;
    st.calls = static_cast<int>(s.calls);
    for (int l = 0; l < layers_; ++l) {
      st.attn.push_back(mean(s.attn[l], s.attn_n[l]));
      st.ffn.push_back(mean(s.ffn[l], s.ffn_n[l]));
      st.block.push_back(mean(s.block[l], s.block_n[l]));
      r.attn[l] += st.attn[l];
      r.ffn[l] += st.ffn[l];
      r.block[l] += st.block[l];
    }
    r.stages[kind] = st;
  }
  if (settings_.accumulate == StageAccumulation::Mean && observed > 0) {
    for (int l = 0; l < layers_; ++l) {
      r.attn[l] /= static_cast<double>(observed);
      r.ffn[l] /= static_cast<double>(observed);
      r.block[l] /= static_cast<double>(observed);
    }
  }
  for (int l = 0; l < layers_; ++l) {
    r.pooled_attn.push_back(mean(t.tok_attn[l], t.tok_attn_n));
    r.pooled_ffn.push_back(mean(t.tok_ffn[l], t.tok_ffn_n));
  }
  return r;
}

ImportanceResult estimate_importance(Generator& generator, PipelineConfig pipeline, const std::vector<Example>& examples,
                                     const ImportanceSettings& settings, bool progress) {
  if (examples.empty()) throw_error("importance estimation needs at least one example");
  ImportanceAccumulator acc(generator.model()->num_layers(), settings);
  auto observer = acc.observer();
  for (auto kind : kStages) {
    pipeline.stages[kind].skip = SkipPlan(generator.model()->num_layers());
    pipeline.stages[kind].early_exit.enabled = false;
  }
  pipeline.batch_analyze = false;
  pipeline.observer = &observer;
  pipeline.on_stage_start = [&](StageKind k) { acc.set_stage(k); };
  MultiStagePipeline runner(generator, pipeline);
  // Each rank observes its share; every example's sums are folded in example order on every rank.
  Progress bar("importance", dist::shard(examples.size()).size(), progress ? stderr : nullptr);
  size_t ran = 0;
  auto observe = [&](size_t i) {
    runner.run(examples[i]);
    bar.update(++ran);
    return nlohmann::json(acc.take_example()).dump();
  };
  for (const auto& sums : dist::map_gathered(examples.size(), observe))
    acc.add(nlohmann::json::parse(sums).get<std::vector<double>>());
  bar.finish();
  return acc.finish(static_cast<int>(examples.size()));
}

}  // namespace litestage
