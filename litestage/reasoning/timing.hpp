#pragma once
// Latency measured like a benchmark tool: configurations that are compared are timed together,
// interleaved round-robin question by question (pass 1: question 1 under c0 c1 ... cn, question 2
// under c0 c1 ... cn, ...; then pass 2), R passes each, after an untimed warm-up, without any
// stage cache (outputs may come from a cache for accuracy, timings never). Each question's runs
// under the configurations follow each other within milliseconds, so a machine whose speed drifts
// over seconds slows them alike and a pass of every configuration spans the same minutes (with a
// whole pass per configuration in turn, the demo's passes of one configuration differed by up to
// 1.3x). A configuration's latency is the median of its R per-question means; its spread
// (min..max over the passes) is the noise band other choices compare against.
//
// One estimator for everything a row reports: the median pass (the mean of the two middle passes
// when R is even). Its total, its stage latencies and its per-question times all come from the same
// pass(es), so stage latencies add up to the total, and the ratio of two configurations' summed
// per-question times equals the ratio of their latencies.

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "litestage/reasoning/pipeline.hpp"

namespace litestage {

struct TimingSettings {
  int repeats = 3;  // timed passes per configuration
  int warmup = 1;   // untimed questions run first (allocator, thread pool, caches)
};

struct LatencySamples {
  std::vector<double> passes;                     // per pass: mean seconds per question
  PerStage<std::vector<double>> stage_passes;  // per stage, per pass
  // Per question: its seconds in the median pass(es), so that their mean is median().
  std::vector<double> per_question;
  double median() const;
  double low() const;   // fastest pass
  double high() const;  // slowest pass
  double stage_median(StageKind kind) const;  // the stage's seconds in the median pass(es)
  bool measured() const { return !passes.empty(); }
};
void to_json(nlohmann::json& j, const LatencySamples& s);
void from_json(const nlohmann::json& j, LatencySamples& s);

// The pass(es) whose mean is the median of `passes`: the middle one of an odd count, the two middle
// ones of an even count (ties broken by pass order). Empty for no passes.
std::vector<size_t> median_passes(const std::vector<double>& passes);

// Times each configuration over the examples `settings.repeats` times, interleaved. `on_run` is
// told (pass, configuration) before each question's run (progress). Returns one sample set per
// configuration.
std::vector<LatencySamples> time_interleaved(Generator& generator, const std::vector<PipelineConfig>& configs,
                                             const std::vector<Example>& examples, const TimingSettings& settings,
                                             const std::function<void(int, size_t)>& on_run = nullptr);

// time_interleaved with a progress bar on stderr ("<label> timing: pass p/R, configuration c/n").
std::vector<LatencySamples> time_interleaved_progress(Generator& generator, const std::vector<PipelineConfig>& configs,
                                                      const std::vector<Example>& examples,
                                                      const TimingSettings& settings, const std::string& label);

// Two latencies are a tie when their [low, high] bands overlap: the difference is inside the
// measured noise. Unmeasured samples never tie.
bool within_noise(const LatencySamples& a, const LatencySamples& b);

}  // namespace litestage
