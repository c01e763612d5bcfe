#include "litestage/reasoning/timing.hpp"

#include <algorithm>

#include "litestage/util/error.hpp"
#include "litestage/util/progress.hpp"
#include "litestage/util/stats.hpp"

namespace litestage {

double LatencySamples::median() const { return litestage::median(passes); }
double LatencySamples::low() const { return passes.empty() ? 0.0 : *std::min_element(passes.begin(), passes.end()); }
double LatencySamples::high() const { return passes.empty() ? 0.0 : *std::max_element(passes.begin(), passes.end()); }
double LatencySamples::stage_median(StageKind kind) const {
  return litestage::median(stage_passes[kind]);
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

std::vector<LatencySamples> time_interleaved(Generator& generator, const std::vector<PipelineConfig>& configs,
                                             const std::vector<Example>& examples, const TimingSettings& settings,
                                             const std::function<void(int, size_t)>& on_pass) {
  LITESTAGE_CHECK(settings.repeats >= 1, "timing: repeats must be >= 1, got ", settings.repeats);
  LITESTAGE_CHECK(!examples.empty(), "timing: no examples to time");
  std::vector<LatencySamples> out(configs.size());
  if (configs.empty()) return out;
  {
    MultiStagePipeline warm(generator, configs.front());
    for (size_t i = 0; i < std::min<size_t>(static_cast<size_t>(std::max(0, settings.warmup)), examples.size()); ++i)
      warm.run(examples[i]);
  }
  const double n = static_cast<double>(examples.size());
  std::vector<std::vector<std::vector<double>>> question(configs.size());  // [config][question][pass]
  for (auto& q : question) q.assign(examples.size(), {});
  for (int pass = 0; pass < settings.repeats; ++pass) {
    for (size_t c = 0; c < configs.size(); ++c) {
      if (on_pass) on_pass(pass, c);
      MultiStagePipeline pipeline(generator, configs[c]);  // no cache: every stage really runs
      double total = 0;
      PerStage<double> stage;
      for (size_t i = 0; i < examples.size(); ++i) {
        const ExampleTrace t = pipeline.run(examples[i]);
        total += t.seconds();
        question[c][i].push_back(t.seconds());
        for (StageKind k : kStages)
          stage[k] += t.stage_seconds(k);
      }
      out[c].passes.push_back(total / n);
      for (StageKind k : kStages) out[c].stage_passes[k].push_back(stage[k] / n);
    }
  }
  for (size_t c = 0; c < configs.size(); ++c)
    for (const auto& q : question[c]) out[c].per_question.push_back(median(q));
  return out;
}

std::vector<LatencySamples> time_interleaved_progress(Generator& generator, const std::vector<PipelineConfig>& configs,
                                                      const std::vector<Example>& examples,
                                                      const TimingSettings& settings, const std::string& label) {
  Progress bar(label + " timing (" + std::to_string(configs.size()) + " configurations x " +
                   std::to_string(settings.repeats) + " interleaved passes)",
               static_cast<size_t>(settings.repeats) * configs.size(), stderr);
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
