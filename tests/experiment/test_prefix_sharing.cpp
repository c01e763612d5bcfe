// runtime.prefix_sharing is exact on real checkpoints: the embedded demo model on held-out
// synthetic questions and stories260K on OBQA give the same answers and stage outputs with the
// Analyze prefix shared as without, while prefilling fewer tokens.

#include <catch2/catch.hpp>

#include <filesystem>

#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  EvalResult result;
  int64_t prefilled = 0;  // prompt tokens computed (cost counters), all stages
};

Outcome evaluate(const std::string& name, const std::string& body, bool sharing) {
  auto dir = test::temp_dir(name + (sharing ? "-on" : "-off"));
  write_file_atomic((dir / "exp.yaml").string(), body + "runtime: {threads: 1, dtype: f32, prefix_sharing: " +
                                                     (sharing ? "true" : "false") + "}\noutput_dir: " +
                                                     (dir / "out").string() + "\n");
  Session session(load_experiment((dir / "exp.yaml").string()));
  Outcome out{run_eval(session, false), 0};
  for (const auto& t : out.result.traces)
    for (const auto& s : t.stages) out.prefilled += s.cost.prefill_tokens;
  return out;
}

void check_same_outputs(const std::string& name, const std::string& body) {
  const Outcome off = evaluate(name, body, false), on = evaluate(name, body, true);
  REQUIRE(off.result.traces.size() == on.result.traces.size());
  for (size_t q = 0; q < off.result.traces.size(); ++q) {
    const auto &a = off.result.traces[q], &b = on.result.traces[q];
    INFO("question " << a.id);
    CHECK(a.predicted == b.predicted);
    REQUIRE(a.stages.size() == b.stages.size());
    for (size_t i = 0; i < a.stages.size(); ++i) {
      CHECK(a.stages[i].output == b.stages[i].output);
      CHECK(a.stages[i].prompt_tokens == b.stages[i].prompt_tokens);
      CHECK(a.stages[i].shared_prefix_tokens == 0);
      if (b.stages[i].stage == StageKind::Analyze && b.stages[i].exit_reason != ExitReason::PromptTooLong)
        CHECK(b.stages[i].shared_prefix_tokens > 0);
    }
  }
  CHECK(on.result.summary.accuracy == off.result.summary.accuracy);
  INFO("prefilled prompt tokens: " << off.prefilled << " without sharing, " << on.prefilled << " with");
  CHECK(on.prefilled < off.prefilled);
}

}  // namespace

TEST_CASE("prefix sharing: the demo model answers every question as without it", "[experiment][demo][prefix][deepbind]") {
  fs::path root = LITESTAGE_SOURCE_DIR;
  check_same_outputs("prefix-demo", "model: " + (root / "data" / "demo-model").string() +
                                        "\ndata: {dataset: synthetic, root: " +
                                        (root / "data" / "synthetic" / "settings.json").string() +
                                        ", split: test, limit: 40}\ngeneration: {max_new_tokens: 48}\n");
}

TEST_CASE("prefix sharing: stories260K on OBQA generates as without it", "[experiment][shared][real][prefix][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data");
  // A story model's stage outputs are not reasoning, but they are long, varied and deterministic:
  // every token of them must come out the same.
  check_same_outputs("prefix-stories", "model: " + model.string() + "\ndata: {dataset: obqa, root: " + data.string() +
                                           ", split: test, limit: 12}\ngeneration: {max_new_tokens: 24}\n");
}
