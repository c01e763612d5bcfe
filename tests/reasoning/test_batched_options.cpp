// Analyze options decoded together (exact_sharing, the speculative methods' Analyze): on a
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
    auto model = random_model(tiny_llama_config(128), 11);
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
    auto f32 = random_model(tiny_llama_config(256), 5);
    auto model = bf16 ? bf16_copy(f32) : f32;
    CHECK(model->rows_independent() == !bf16);
    Generator gen(model, std::make_shared<CharTokenizer>(97, 96));
    PipelineConfig plain = stages_of(10), batched = stages_of(10);
    for (auto kind : kStages)  // one plan: every stage may start from another's slots
      plain.stages[kind].skip = batched.stages[kind].skip = SkipPlan::parse("a2", 3);
    batched.exact_sharing = true;
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
    // Exact sharing also starts option 0's prefix from Recall's cache: at least Recall's whole
    // prompt (its slots, then the recall it generated, open every Analyze prompt), at most the prefix.
    const int64_t reused = options[0]->prompt_tokens - options[0]->cost.prefill_tokens;
    if (bf16) {
      CHECK(reused == 0);
    } else {
      CHECK(reused >= a.stages[0].prompt_tokens);
      CHECK(reused <= options[0]->shared_prefix_tokens);
    }
    // Summarize starts from option A's row: its prompt opens with option A's prompt.
    const StageTrace& summarize = b.stages.back();
    CHECK(summarize.cost.prefill_tokens == summarize.prompt_tokens - summarize.shared_prefix_tokens);
    if (bf16)
      CHECK(summarize.shared_prefix_tokens == 0);
    else
      CHECK(summarize.shared_prefix_tokens >= options[0]->prompt_tokens);
    for (size_t i = 0; i < options.size(); ++i) {
      const StageTrace& t = *options[i];
      INFO("option " << i);
      const int64_t cached = t.option > 0 ? t.shared_prefix_tokens : reused;
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

TEST_CASE("a call starts from the longest prefix of its prompt that a cache holds under its plan", "[reasoning][batch]") {
  auto model = random_model(tiny_llama_config(128), 3);
  auto bf16 = bf16_copy(model);
  GenerationConfig cfg;
  cfg.max_new_tokens = 8;
  cfg.eos_ids = {200};  // outside the vocabulary: every call runs its 8 tokens
  cfg.reuse_held = true;
  const std::vector<int32_t> first = {1, 40, 41, 42, 43, 44};
  for (auto* m : {&model, &bf16}) {
    const bool exact = m == &model;
    INFO((exact ? "f32" : "bf16"));
    Generator gen(*m, std::make_shared<CharTokenizer>(97, 96));
    const auto a = gen.generate_ids(first, cfg);
    REQUIRE(a.tokens.size() == 8);
    // The first prompt, 3 of its tokens, then 2 others: the cache holds the first 6 + 7 fed tokens.
    std::vector<int32_t> second = first;
    second.insert(second.end(), a.tokens.begin(), a.tokens.begin() + 3);
    second.insert(second.end(), {50, 51});
    const auto b = gen.generate_ids(second, cfg);
    CHECK(b.cached_prompt_tokens == (exact ? 9 : 0));
    GenerationConfig plain = cfg;
    plain.reuse_held = false;
    Generator fresh(*m, std::make_shared<CharTokenizer>(97, 96));
    const auto c = fresh.generate_ids(second, plain);
    CHECK(c.cached_prompt_tokens == 0);
    CHECK(b.tokens == c.tokens);
    if (exact) CHECK(b.confidences == c.confidences);  // bitwise
    // Another plan holds nothing for it; a forgotten cache neither.
    GenerationConfig other = cfg;
    other.skip = SkipPlan::parse("f0", 3);
    CHECK(gen.generate_ids(second, other).cached_prompt_tokens == 0);
    gen.generate_ids(first, cfg);
    gen.forget_held();
    CHECK(gen.generate_ids(second, cfg).cached_prompt_tokens == 0);
    // The whole prompt held: its last token is prefilled all the same (its logits start decoding).
    gen.generate_ids(second, cfg);
    CHECK(gen.generate_ids(second, cfg).cached_prompt_tokens == (exact ? static_cast<int>(second.size()) - 1 : 0));
  }
}
