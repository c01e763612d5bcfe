#include <catch2/catch.hpp>

#include "demo_experiment.hpp"
#include "litestage/experiment/time_breakdown.hpp"
#include "support.hpp"

using namespace litestage;

TEST_CASE("time breakdown on the demo model: every stage's calls and tokens, phases inside its wall time",
          "[experiment][phase]") {
  const auto dir = test::temp_dir("time-breakdown");
  Session session(load_experiment(test::demo_experiment(dir, "tb", 3).string()));
  const auto data = session.dataset("test");
  REQUIRE(data.examples.size() == 3);
  // The same questions run plainly: their traces give the calls and tokens to expect.
  MultiStagePipeline plain(session.generator(), session.pipeline_config());
  PerStage<int64_t> calls{0, 0, 0}, tokens{0, 0, 0};
  for (const auto& e : data.examples)
    for (const auto& st : plain.run(e).stages) {
      ++calls[st.stage];
      tokens[st.stage] += st.tokens;
    }
  const auto b = time_breakdown(session, data.examples, 1);
  CHECK(b.questions == 3);
  double walls = 0;
  for (StageKind k : kStages) {
    const PhaseTotals& t = b.clock.totals()[static_cast<size_t>(k)];
    INFO(to_string(k));
    CHECK(t.calls == calls[k]);
    CHECK(t.tokens == tokens[k]);
    CHECK(t.seconds[static_cast<size_t>(Phase::Prefill)] > 0);
    CHECK(t.seconds[static_cast<size_t>(Phase::Prompt)] > 0);
    double phases = 0;
    for (double s : t.seconds) phases += s;
    CHECK(phases <= t.wall);
    walls += t.wall;
  }
  CHECK(walls <= b.seconds);
  CHECK(b.clock.totals()[static_cast<size_t>(StageKind::Summarize)].seconds[static_cast<size_t>(Phase::Parse)] > 0);
  CHECK(b.clock.totals()[static_cast<size_t>(StageKind::Recall)].seconds[static_cast<size_t>(Phase::Parse)] == 0);
  const auto j = time_breakdown_json(b);
  CHECK(j.at("stages").at("analyze").at("calls") == calls[StageKind::Analyze]);
}
