// Analyze options decoded together (batch_analyze_exact, the speculative methods' Analyze): on a
// model whose rows are computed independently, each option's tokens, confidences and exit are
// those of its call alone, bitwise; elsewhere the options run one by one. And the batch's cost.

#include <catch2/catch.hpp>

#include "../generate/fake_tokenizer.hpp"
#include "../model/model_fixtures.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/reasoning/pipeline.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

ModelConfig roomy(int64_t positions) {
  auto j = tiny_llama_config().to_json();  // 3 layers, hidden 32, 4 heads / 2 KV heads of 8, FFN 48, vocab 97
  j["max_position_embeddings"] = positions;
  return ModelConfig::from_json(j);
}

Example four_options() {
  Example ex;
  ex.id = "q4";
  ex.stem = "which of these is round";
  ex.choices = {"a ball", "a box", "a coin", "a stick"};
  ex.labels = {"A", "B", "C", "D"};
  ex.answer = 0;
  ex.dataset = "toy";
  return ex;
}

PipelineConfig stages_of(int tokens) {
  PipelineConfig pc;
  for (auto k : kStages) pc.stages[k].max_new_tokens = tokens;
  return pc;
}

}  // namespace

TEST_CASE("rows of one length decoded together equal each prompt decoded alone, bitwise", "[reasoning][batch]") {
  for (auto kernel : short_forward_kernels()) {
    ShortForwardKernelScope scope(kernel);
    INFO("short forwards: " << name_of(kernel));
    auto model = random_model(roomy(128), 11);
    REQUIRE(model->rows_independent() == (kernel != ShortForwardKernel::Decode));
    if (!model->rows_independent()) continue;
    Generator gen(model, std::make_shared<CharTokenizer>(97, 96));
    GenerationConfig cfg;
    cfg.max_new_tokens = 14;
    cfg.skip = SkipPlan::parse("f1", 3);
    // Four prompts of 9 tokens: a shared prefix of 6, then 3 of their own.
    const std::vector<std::vector<int32_t>> prompts = {
        {1, 20, 31, 42, 53, 64, 5, 6, 7}, {1, 20, 31, 42, 53, 64, 8, 9, 10},
        {1, 20, 31, 42, 53, 64, 70, 71, 72}, {1, 20, 31, 42, 53, 64, 11, 80, 13}};
    const SharedPrefix prefix = gen.prefill_prefix({prompts[0].begin(), prompts[0].begin() + 6}, cfg.skip);
    const auto together = gen.generate_batch(prompts, cfg, &prefix);
    for (size_t i = 0; i < prompts.size(); ++i) {
      INFO("prompt " << i);
      const auto alone = gen.generate_ids(prompts[i], cfg);  // no prefix, no batch
      CHECK(together[i].tokens == alone.tokens);
      CHECK(together[i].confidences == alone.confidences);  // float equality: the same sums
      CHECK(together[i].max_logits == alone.max_logits);
      CHECK(together[i].exit_reason == alone.exit_reason);
    }
  }
}

TEST_CASE("exact batching: the options' outputs as one by one, costs as one batch, bf16 one by one",
          "[reasoning][batch]") {
  const Example ex = four_options();
  for (bool bf16 : {false, true}) {
    INFO((bf16 ? "bf16" : "f32"));
    auto f32 = random_model(roomy(256), 5);
    auto model = bf16 ? bf16_copy(f32) : f32;
    CHECK(model->rows_independent() == !bf16);
    Generator gen(model, std::make_shared<CharTokenizer>(97, 96));
    PipelineConfig plain = stages_of(10), batched = stages_of(10);
    plain.stages[StageKind::Analyze].skip = batched.stages[StageKind::Analyze].skip = SkipPlan::parse("a2", 3);
    batched.batch_analyze_exact = true;
    const ExampleTrace a = MultiStagePipeline(gen, plain).run(ex);
    const ExampleTrace b = MultiStagePipeline(gen, batched).run(ex);
    REQUIRE(a.stages.size() == 6);
    REQUIRE(b.stages.size() == 6);
    std::vector<const StageTrace*> options;
    for (size_t i = 0; i < a.stages.size(); ++i) {
      const StageTrace &x = a.stages[i], &y = b.stages[i];
      INFO("stage " << to_string(x.stage) << " option " << x.option);
      CHECK(y.output == x.output);
      CHECK(y.tokens == x.tokens);
      CHECK(y.exit_reason == x.exit_reason);
      if (y.stage == StageKind::Analyze) options.push_back(&y);
    }
    // Batched, every option but the lead (the first with the most decode forwards) reads no weights
    // of its own; one by one each option's call does.
    int64_t most = -1;
    size_t lead = 0;
    for (size_t i = 0; i < options.size(); ++i) {
      const auto& t = *options[i];
      const int64_t f = decode_forwards(t.tokens, t.exit_reason == ExitReason::Eos);
      if (f > most) most = f, lead = i;
    }
    const auto& config = model->config();
    const int64_t bytes = bf16 ? 2 : 4;
    for (size_t i = 0; i < options.size(); ++i) {
      const StageTrace& t = *options[i];
      INFO("option " << i);
      const int cached = t.option > 0 ? t.shared_prefix_tokens : 0;
      const int64_t own = decode_forwards(t.tokens, t.exit_reason == ExitReason::Eos);
      const auto alone = forward_cost(config, SkipPlan::parse("a2", 3), t.prompt_tokens, own, bytes, cached);
      if (bf16 || i == lead) {
        CHECK(t.cost.weight_bytes == Approx(alone.weight_bytes));
        CHECK(t.cost.flops == Approx(alone.flops));
        CHECK(t.cost.forwards == Approx(alone.forwards));
        continue;
      }
      // The rows run until the lead stops: the lead's forwards' FLOPs, as short-forward rows.
      const auto padded = forward_cost(config, SkipPlan::parse("a2", 3), t.prompt_tokens, most, bytes, cached);
      CHECK(t.cost.weight_bytes == 0);
      CHECK(t.cost.forwards == 0);
      CHECK(t.cost.flops == Approx(padded.flops));
      CHECK(t.cost.shortrow_flops == Approx(padded.flops - padded.multirow_flops));
      CHECK(t.cost.decode_tokens == own);
    }
  }
}
