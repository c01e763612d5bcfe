#include <catch2/catch.hpp>

#include "litestage/experiment/evaluate.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

TEST_CASE("batched Analyze gives the same outputs as sequential Analyze", "[experiment][batch][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  auto dir = test::temp_dir("exp-batch");
  write_file_atomic((dir / "e.yaml").string(),
                    "model: " + model.string() + "\nruntime: {threads: 1}\ndata: {dataset: obqa, root: " +
                        data.parent_path().string() + ", limit: 2}\ngeneration: {max_new_tokens: 10}\n");
  Session session(load_experiment((dir / "e.yaml").string()));
  auto examples = session.dataset("test").examples;
  auto cfg = session.pipeline_config();
  MultiStagePipeline sequential(session.generator(), cfg);
  cfg.batch_analyze = true;
  MultiStagePipeline batched(session.generator(), cfg);
  for (const auto& ex : examples) {
    auto a = sequential.run(ex), b = batched.run(ex);
    REQUIRE(a.stages.size() == b.stages.size());
    for (size_t i = 0; i < a.stages.size(); ++i) {
      CHECK(a.stages[i].output == b.stages[i].output);
      CHECK(a.stages[i].tokens == b.stages[i].tokens);
    }
  }
}

TEST_CASE("chat prompt format renders few-shot stage turns with the template", "[experiment][chat][shared][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  REQUIRE_SHARED(data, "data/obqa");
  auto dir = test::temp_dir("exp-chat");
  write_file_atomic((dir / "e.yaml").string(),
                    "model: " + model.string() + "\nruntime: {threads: 1}\ndata: {dataset: obqa, root: " +
                        data.parent_path().string() + ", limit: 1}\nprompt: {format: chat, chat_template: zephyr}\n"
                        "generation: {max_new_tokens: 4}\n");
  Session session(load_experiment((dir / "e.yaml").string()));
  auto cfg = session.pipeline_config();
  REQUIRE(cfg.few_shot[StageKind::Recall].size() == 7);  // OBQA's exemplars
  MultiStagePipeline pipeline(session.generator(), cfg);
  auto rendered = pipeline.model_input(StageKind::Recall, "Q?\n(A) x (B) y\nRecall:");
  CHECK(starts_with(rendered, "<|user|>\n" + cfg.few_shot[StageKind::Recall][0].user + "</s>\n<|assistant|>\n" +
                                  cfg.few_shot[StageKind::Recall][0].assistant + "</s>\n"));
  CHECK(ends_with(rendered, "<|user|>\nQ?\n(A) x (B) y\nRecall:</s>\n<|assistant|>\n"));
}
