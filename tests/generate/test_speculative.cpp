#include <catch2/catch.hpp>

#include <cstdlib>

#include "../model/model_fixtures.hpp"
#include "fake_tokenizer.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/generate/speculative.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

SpeculativeConfig lookup(int gamma = 8, int ngram = 3, bool adaptive = false) {
  SpeculativeConfig s;
  s.drafter = DrafterKind::Lookup;
  s.gamma = gamma;
  s.ngram = ngram;
  s.adaptive = adaptive;
  return s;
}

using Tokens = std::vector<int32_t>;

void check_same(const GenerationResult& spec, const GenerationResult& plain) {
  CHECK(spec.tokens == plain.tokens);
  CHECK(spec.text == plain.text);
  CHECK(spec.exit_reason == plain.exit_reason);
  CHECK(spec.confidences == plain.confidences);  // bitwise: the verify rows are decode steps
  CHECK(spec.max_logits == plain.max_logits);
}

}  // namespace

TEST_CASE("lookup drafter: the tokens after the latest earlier occurrence of the longest suffix", "[generate][speculative]") {
  const SpeculativeConfig s = lookup(8, 3);
  // Prompt 5 6 7 8 5 6: the suffix 8 5 6 never occurred before, 5 6 did (positions 0-1).
  LookupDrafter d(s, {5, 6, 7, 8, 5, 6}, nullptr);
  CHECK(d.propose(8).tokens == Tokens{7, 8, 5, 6});
  CHECK(d.propose(8).matched == 2);
  CHECK_FALSE(d.propose(8).from_history);
  CHECK(d.propose(2).tokens == Tokens{7, 8});  // at most `most`
  d.push(7);  // now ... 5 6 7: the 3-gram occurred at 0-2, followed by 8 5 6 7
  CHECK(d.propose(8).tokens == Tokens{8, 5, 6, 7});
  CHECK(d.propose(8).matched == 3);
  d.push(9);  // 6 7 9, 7 9, 9: nowhere before
  CHECK(d.propose(8).tokens.empty());

  DraftHistory history;
  history.add({9, 4, 4, 3});
  history.add({1, 2});  // sequences do not run into each other
  LookupDrafter h(s, {9}, &history);
  CHECK(h.propose(8).tokens == Tokens{4, 4, 3});
  CHECK(h.propose(8).from_history);
  CHECK(h.propose(8).matched == 1);
  LookupDrafter end(s, {3}, &history);
  CHECK(end.propose(8).tokens.empty());  // 3 ended its sequence: nothing followed it
  LookupDrafter prompt_first(s, {9, 7, 9}, &history);
  CHECK(prompt_first.propose(8).tokens == Tokens{7, 9});  // the call's own context before the history
  CHECK_FALSE(prompt_first.propose(8).from_history);

  SpeculativeConfig bad = lookup(0);
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("gamma must be in [1, 15]"));
  bad = lookup(4, 0);
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("ngram must be in [1, 8]"));
}

TEST_CASE("adaptive drafts: acceptance by kind and position, verify cost by rows, the best length", "[generate][speculative]") {
  auto prior = [](int rows) { return 1 + 0.25 * (rows - 1); };
  // Expected tokens per cost (by hand): k = 0: 1/1; 1: 1.9/1.25 = 1.52; 2: 2.71/1.5 = 1.81;
  // 3: 2.791/1.75 = 1.59.
  CHECK(best_draft_length({0.9, 0.9, 0.1}, prior) == 2);
  // Every row as dear as a step: 1.9/2 < 1, nothing is worth drafting.
  CHECK(best_draft_length({0.9, 0.9, 0.1}, [](int rows) { return 1.0 * rows; }) == 0);
  CHECK(best_draft_length({}, prior) == 0);

  DraftStats stats;
  Draft near;
  near.tokens = {1, 2, 3, 4};
  near.matched = 2;
  Draft far = near;
  far.from_history = true;
  CHECK(stats.acceptance(near, 0) == 0.5);  // (0 + 1) / (0 + 2)
  stats.record(near, 4, 1);  // position 0 accepted, 1 rejected, 2 and 3 never reached
  CHECK(stats.acceptance(near, 0) == Approx(2.0 / 3));
  CHECK(stats.acceptance(near, 1) == Approx(1.0 / 3));
  CHECK(stats.acceptance(near, 2) == 0.5);
  CHECK(stats.acceptance(far, 0) == 0.5);  // another kind: its own counts

  CHECK(stats.relative_cost(5) == Approx(2.0));  // nothing measured: 1 + 0.25 x 4
  stats.time(1, 1.0);
  CHECK(stats.relative_cost(5) == Approx(2.0));  // one row count: no slope yet
  stats.time(3, 2.0);                            // the line through (0, 1) and (2, 2): 1 + 0.5 x
  CHECK(stats.relative_cost(5) == Approx(3.0));
  CHECK(stats.relative_cost(3) == Approx(2.0));  // measured: 2 / 1
  stats.time(1, 2.0);                            // the mean of one row moves to 0.9 + 0.2 = 1.1
  CHECK(stats.relative_cost(5) == Approx((1.1 + 0.45 * 4) / 1.1));
  CHECK(stats.relative_cost(3) == Approx(2.0 / 1.1));
  stats.time(2, 1.8);  // measured rows win over the line: 2 rows at 1.8 / 1.1, not the fit's value
  CHECK(stats.relative_cost(2) == Approx(1.8 / 1.1));

  // A kind cut to nothing is verified at one token every 16th time in a row; a verified draft of
  // the kind starts the count again.
  int explored = 0;
  for (int i = 0; i < 32; ++i) explored += stats.explore(far) ? 1 : 0;
  CHECK(explored == 2);
  for (int i = 0; i < 10; ++i) CHECK_FALSE(stats.explore(near));
  stats.record(near, 1, 1);
  for (int i = 0; i < 15; ++i) CHECK_FALSE(stats.explore(near));
  CHECK(stats.explore(near));
}

TEST_CASE("speculative greedy decoding gives the tokens, confidences, text and exit of plain decoding",
          "[generate][speculative]") {
  SpeculativeStats total, self_total;
  for (auto cfg_model : {tiny_llama_config(), tiny_qwen2_config()}) {
    auto m32 = random_model(cfg_model, 21);
    for (bool bf16 : {false, true}) {
      auto model = bf16 ? bf16_copy(m32) : m32;
      Generator gen(model, std::make_shared<CharTokenizer>(97, /*eos=*/96));
      for (const std::string plan : {"none", "a1,f0"}) {
        for (int variant = 0; variant < 3; ++variant) {  // plain stops, early exit, a stop string
          INFO(cfg_model.model_type << (bf16 ? " bf16" : " f32") << " plan " << plan << " variant " << variant);
          GenerationConfig cfg;
          cfg.max_new_tokens = 40;
          cfg.skip = SkipPlan::parse(plan, model->num_layers());
          cfg.early_exit.enabled = variant == 1;
          cfg.early_exit.window = 3;
          cfg.early_exit.threshold = 0.02;
          const std::vector<int32_t> prompt{1, 40, 41, 42, 43, 40, 41, 42, 43, 40, 41};
          auto plain = gen.generate_ids(prompt, cfg);
          if (variant == 2 && plain.text.size() > 12) cfg.stop_strings = {plain.text.substr(10, 2)};
          if (variant == 2) plain = gen.generate_ids(prompt, cfg);
          for (int gamma : {1, 4, 15, -8}) {  // -8: gamma 8, adaptive
            cfg.speculative = lookup(std::abs(gamma), 2, gamma < 0);
            auto spec = gen.generate_ids(prompt, cfg);
            check_same(spec, plain);
            total += spec.speculative;
            CHECK(spec.speculative.accepted <= spec.speculative.drafted);
          }
          // The model under more skips drafts (threshold 0: always gamma tokens; 0.05: adaptive).
          for (const auto kind : {DrafterKind::Self, DrafterKind::Auto}) {
            for (double threshold : {0.0, 0.05}) {
              INFO(enum_name(drafter_kind_names(), kind) << " threshold " << threshold);
              cfg.speculative = lookup(5, 2, true);
              cfg.speculative.drafter = kind;
              cfg.speculative.draft_skip = "f1";
              cfg.speculative.threshold = threshold;
              auto spec = gen.generate_ids(prompt, cfg);
              check_same(spec, plain);
              self_total += spec.speculative;
            }
          }
          cfg.speculative = {};
        }
      }
    }
  }
  // The cases drafted, accepted some drafts and rejected others: both paths of the loop ran.
  CHECK(total.accepted > 20);
  CHECK(total.drafted > total.accepted);
  CHECK(total.draft_forwards == 0);
  CHECK(self_total.draft_forwards > 0);
  CHECK(self_total.accepted > 20);
  CHECK(self_total.drafted > self_total.accepted);
}

TEST_CASE("speculative decoding: refused for batches and bad settings, with what to change", "[generate][speculative]") {
  auto model = random_model(tiny_llama_config(), 3);
  Generator gen(model, std::make_shared<CharTokenizer>(97, 96));
  GenerationConfig cfg;
  cfg.max_new_tokens = 4;
  cfg.speculative = lookup();
  cfg.speculative.drafter = DrafterKind::Self;
  CHECK_THROWS_WITH(gen.generate_ids({1, 5, 6}, cfg), Catch::Contains("self drafter needs draft_skip"));
  cfg.speculative.draft_skip = "a7";
  CHECK_THROWS_WITH(gen.generate_ids({1, 5, 6}, cfg), Catch::Contains("speculative draft_skip 'a7'"));
  cfg.speculative = lookup();
  CHECK_THROWS_WITH(gen.generate_batch({{1, 5, 6}, {1, 7, 8}}, cfg), Catch::Contains("batch_analyze to false"));
  cfg.speculative.gamma = 16;
  CHECK_THROWS_WITH(gen.generate_ids({1, 5, 6}, cfg), Catch::Contains("gamma must be in [1, 15]"));
}
