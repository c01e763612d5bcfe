#include "litestage/reasoning/timing.hpp"

#include <algorithm>
#include <array>
#include <memory>

#include "litestage/dist/dist.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/stats.hpp"

namespace litestage {

double LatencySamples::median() const { return litestage::median(passes); }
double LatencySamples::low() const { return passes.empty() ? 0.0 : *std::min_element(passes.begin(), passes.end()); }
double LatencySamples::high() const { return passes.empty() ? 0.0 : *std::max_element(passes.begin(), passes.end()); }
double LatencySamples::stage_median(StageKind kind) const {
  // The stage's share of the median pass(es), not the median of the stage's own passes: the
  // stage latencies then add up to median(), and the row's shares to 100 %.
  const auto middle = median_passes(passes);
  if (middle.empty()) return 0.0;
  double sum = 0;
  for (size_t p : middle) sum += stage_passes[kind].at(p);
  return sum / static_cast<double>(middle.size());
}

std::vector<size_t> median_passes(const std::vector<double>& passes) {
  std::vector<size_t> order(passes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return passes[a] < passes[b]; });
  const size_t n = order.size();
  if (n == 0) return {};
  if (n % 2 == 1) return {order[n / 2]};
  return {order[n / 2 - 1], order[n / 2]};
}

void to_json(nlohmann::json& j, const LatencySamples& s) {
  j = {{"passes", s.passes},
       {"stage_passes", stage_object<nlohmann::json>(s.stage_passes, [](const std::vector<double>& v) { return v; })},
       {"per_question", s.per_question}};
}

void from_json(const nlohmann::json& j, LatencySamples& s) {
  s.passes = j.at("passes").get<std::vector<double>>();
  s.stage_passes = stage_values<std::vector<double>>(
      j.at("stage_passes"), [](const nlohmann::json& x) { return x.get<std::vector<double>>(); });
  s.per_question = j.at("per_question").get<std::vector<double>>();
}

namespace {

// One question's timed runs: per pass, [total, recall, analyze, summarize] seconds.
using QuestionTimes = std::vector<std::array<double, 1 + kNumStages>>;

// This rank's share of the questions, timed: [configuration][share index].
std::vector<std::vector<QuestionTimes>> time_share(Generator& generator, const std::vector<PipelineConfig>& configs,
                                                   const std::vector<Example>& examples,
                                                   const std::vector<size_t>& share, const TimingSettings& settings,
                                                   const std::function<void(int, size_t)>& on_run) {
  {
    MultiStagePipeline warm(generator, configs.front());
    for (size_t i = 0; i < std::min<size_t>(static_cast<size_t>(std::max(0, settings.warmup)), share.size()); ++i)
      warm.run(examples[share[i]]);
  }
  std::vector<std::vector<QuestionTimes>> times(configs.size(), std::vector<QuestionTimes>(share.size()));
  for (int pass = 0; pass < settings.repeats; ++pass) {
    std::vector<std::unique_ptr<MultiStagePipeline>> pipelines;  // no cache: every stage really runs
    for (const auto& config : configs) pipelines.push_back(std::make_unique<MultiStagePipeline>(generator, config));
    for (size_t q = 0; q < share.size(); ++q)
      for (size_t c = 0; c < configs.size(); ++c) {
        if (on_run) on_run(pass, c);
        const ExampleTrace t = pipelines[c]->run(examples[share[q]]);
        std::array<double, 1 + kNumStages> row{t.seconds()};
        for (StageKind k : kStages) row[1 + static_cast<size_t>(k)] = t.stage_seconds(k);
        times[c][q].push_back(row);
      }
  }
  return times;
}

// Every rank's shares, back in question order: [configuration][question].
std::vector<std::vector<QuestionTimes>> gather_times(const std::vector<std::vector<QuestionTimes>>& mine, size_t n) {
  const auto gathered = dist::all_gather(nlohmann::json(mine).dump());
  const auto W = gathered.size();
  std::vector<std::vector<QuestionTimes>> all(mine.size(), std::vector<QuestionTimes>(n));
  for (size_t p = 0; p < W; ++p) {
    const auto theirs = nlohmann::json::parse(gathered[p]).get<std::vector<std::vector<QuestionTimes>>>();
    LITESTAGE_CHECK(theirs.size() == mine.size(), "timing: rank ", p, " timed ", theirs.size(), " configurations, not ",
                    mine.size());
    for (size_t c = 0; c < theirs.size(); ++c)
      for (size_t t = 0; t < theirs[c].size(); ++t) all[c].at(p + W * t) = theirs[c][t];
  }
  return all;
}

}  // namespace

std::vector<LatencySamples> time_interleaved(Generator& generator, const std::vector<PipelineConfig>& configs,
                                             const std::vector<Example>& examples, const TimingSettings& settings,
                                             const std::function<void(int, size_t)>& on_run) {
  LITESTAGE_CHECK(settings.repeats >= 1, "timing: repeats must be >= 1, got ", settings.repeats);
  LITESTAGE_CHECK(!examples.empty(), "timing: no examples to time");
  std::vector<LatencySamples> out(configs.size());
  if (configs.empty()) return out;
  // Each rank times its share; the pass means are taken over every question, in question order.
  const auto times = gather_times(
      time_share(generator, configs, examples, dist::shard(examples.size()), settings, on_run), examples.size());
  const double n = static_cast<double>(examples.size());
  for (size_t c = 0; c < configs.size(); ++c) {
    for (int pass = 0; pass < settings.repeats; ++pass) {
      std::array<double, 1 + kNumStages> sum{};
      for (const auto& q : times[c])
        for (size_t x = 0; x < sum.size(); ++x) sum[x] += q.at(static_cast<size_t>(pass))[x];
      out[c].passes.push_back(sum[0] / n);
      for (StageKind k : kStages) out[c].stage_passes[k].push_back(sum[1 + static_cast<size_t>(k)] / n);
    }
    const auto middle = median_passes(out[c].passes);
    for (const auto& q : times[c]) {
      double sum = 0;
      for (size_t p : middle) sum += q.at(p)[0];
      out[c].per_question.push_back(sum / static_cast<double>(middle.size()));
    }
  }
  return out;
}

std::vector<LatencySamples> time_interleaved_progress(Generator& generator, const std::vector<PipelineConfig>& configs,
                                                      const std::vector<Example>& examples,
                                                      const TimingSettings& settings, const std::string& label) {
  Progress bar(label + " timing (" + std::to_string(configs.size()) + " configurations x " +
                   std::to_string(settings.repeats) + " interleaved passes)",
               static_cast<size_t>(settings.repeats) * configs.size() * dist::shard(examples.size()).size(), stderr);
  size_t done = 0;
  auto samples = time_interleaved(generator, configs, examples, settings, [&](int, size_t) { bar.update(done++); });
  bar.finish();
  return samples;
}

bool within_noise(const LatencySamples& a, const LatencySamples& b) {
  if (!a.measured() || !b.measured()) return false;
  return a.low() <= b.high() && b.low() <= a.high();
}

}  // namespace litestage
