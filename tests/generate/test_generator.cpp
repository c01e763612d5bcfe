#include <catch2/catch.hpp>

#include "../model/model_fixtures.hpp"
#include "fake_tokenizer.hpp"
#include "litestage/generate/generator.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

struct Fixture {
  CausalLM model = random_model(tiny_llama_config(), 11);
  std::shared_ptr<CharTokenizer> tok = std::make_shared<CharTokenizer>(97, /*eos=*/96);
  Generator gen{model, tok};
  std::vector<int32_t> prompt = {1, 40, 41, 42, 43};
};

// Greedy continuation by full recomputation, no cache: the definition the generator must meet.
std::vector<int32_t> greedy_reference(CausalLM& m, std::vector<int32_t> ids, int n, const SkipPlan& plan = {}) {
  torch::NoGradGuard ng;
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    ForwardOptions fo;
    fo.skip = &plan;
    auto logits = m->forward(torch::tensor(ids64).view({1, -1}), fo);
    int32_t next = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
    out.push_back(next);
    ids.push_back(next);
  }
  return out;
}

}  // namespace

TEST_CASE("greedy generation equals argmax over full recomputation", "[generate]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 12;
  cfg.eos_ids = {-1};  // never stop early
  auto r = f.gen.generate_ids(f.prompt, cfg);
  CHECK(r.tokens == greedy_reference(f.model, f.prompt, 12));
  CHECK(r.exit_reason == ExitReason::MaxTokens);
  CHECK(r.prompt_tokens == 5);
  CHECK(r.confidences.size() == 12);
  CHECK(r.max_logits.size() == 12);
  for (float c : r.confidences) CHECK((c > 0.0f && c <= 1.0f));
  CHECK(r.prefill_seconds > 0);
  CHECK(r.text == f.tok->decode(r.tokens));
}

TEST_CASE("generation under a skip plan equals the skipped model's greedy argmax", "[generate][skip]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 8;
  cfg.eos_ids = {-1};
  cfg.skip = SkipPlan::parse("a1,f0", 3);
  CHECK(f.gen.generate_ids(f.prompt, cfg).tokens == greedy_reference(f.model, f.prompt, 8, cfg.skip));
}

TEST_CASE("generation stops at an EOS id, which is not part of the output", "[generate]") {
  Fixture f;
  auto ref = greedy_reference(f.model, f.prompt, 6);
  GenerationConfig cfg;
  cfg.max_new_tokens = 50;
  cfg.eos_ids = {ref[3]};
  auto r = f.gen.generate_ids(f.prompt, cfg);
  auto first = std::find(ref.begin(), ref.end(), ref[3]) - ref.begin();
  CHECK(r.exit_reason == ExitReason::Eos);
  CHECK(r.tokens == std::vector<int32_t>(ref.begin(), ref.begin() + first));
}

TEST_CASE("stop strings cut the text, the callback can stop generation", "[generate]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 10;
  cfg.eos_ids = {-1};
  auto full = f.gen.generate_ids(f.prompt, cfg);
  REQUIRE(full.text.size() >= 4);
  cfg.stop_strings = {full.text.substr(2, 2)};
  auto r = f.gen.generate_ids(f.prompt, cfg);
  CHECK(r.exit_reason == ExitReason::StopString);
  CHECK(r.text == full.text.substr(0, full.text.find(cfg.stop_strings[0])));
  cfg.stop_strings.clear();
  int seen = 0;
  auto c = f.gen.generate_ids(f.prompt, cfg, [&](int32_t, const std::string&) { return ++seen < 3; });
  CHECK(c.exit_reason == ExitReason::Callback);
  CHECK(c.tokens.size() == 3);
}

TEST_CASE("seeded sampling is reproducible, top_k = 1 is greedy", "[generate][sampling]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 10;
  cfg.eos_ids = {-1};
  cfg.sampling.temperature = 1.5;
  cfg.sampling.seed = 7;
  auto a = f.gen.generate_ids(f.prompt, cfg);
  auto b = f.gen.generate_ids(f.prompt, cfg);
  CHECK(a.tokens == b.tokens);
  cfg.sampling.seed = 8;
  auto c = f.gen.generate_ids(f.prompt, cfg);
  CHECK(a.tokens != c.tokens);
  cfg.sampling.top_k = 1;
  CHECK(f.gen.generate_ids(f.prompt, cfg).tokens == greedy_reference(f.model, f.prompt, 10));
  cfg.sampling.top_k = 0;
  cfg.sampling.top_p = 1e-6;  // only the most likely token survives
  CHECK(f.gen.generate_ids(f.prompt, cfg).tokens == greedy_reference(f.model, f.prompt, 10));
}

TEST_CASE("batched generation equals one-by-one generation", "[generate][batch]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 7;
  cfg.eos_ids = {-1};
  std::vector<std::vector<int32_t>> prompts = {{1, 40, 41, 42, 43}, {1, 9}, {1, 70, 71, 72}};
  auto batch = f.gen.generate_batch(prompts, cfg);
  REQUIRE(batch.size() == 3);
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i);
    CHECK(batch[i].tokens == f.gen.generate_ids(prompts[i], cfg).tokens);
  }
}

TEST_CASE("early exit FIFO: exact exit token, window not full, disabled", "[generate][early_exit]") {
  EarlyExitConfig cfg;
  cfg.enabled = true;
  cfg.window = 3;
  cfg.threshold = 0.5;
  EarlyExit ee(cfg);
  // Means once full: (0.9+0.8+0.7)/3=0.8, (0.8+0.7+0.2)/3=0.567, (0.7+0.2+0.3)/3=0.4 -> exit.
  std::vector<double> seq = {0.9, 0.8, 0.7, 0.2, 0.3, 0.1};
  size_t exit_at = seq.size();
  for (size_t i = 0; i < seq.size(); ++i) {
    if (ee.push(seq[i])) {
      exit_at = i;
      break;
    }
  }
  CHECK(exit_at == 4);
  // Low confidences but fewer than `window` of them: no exit.
  EarlyExit short_run(cfg);
  CHECK_FALSE(short_run.push(0.0));
  CHECK_FALSE(short_run.push(0.0));
  CHECK(short_run.push(0.0));
  // Mean exactly at the threshold exits (<=).
  EarlyExit edge(cfg);
  edge.push(0.5);
  edge.push(0.5);
  CHECK(edge.push(0.5));
  // Disabled: never.
  cfg.enabled = false;
  EarlyExit off(cfg);
  for (int i = 0; i < 10; ++i) CHECK_FALSE(off.push(0.0));
}

TEST_CASE("early exit inside the generator ends the stage after the window fills", "[generate][early_exit]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 20;
  cfg.eos_ids = {-1};
  cfg.early_exit.enabled = true;
  cfg.early_exit.window = 4;
  cfg.early_exit.threshold = 1.01;  // every probability is below: exit as soon as the FIFO is full
  auto r = f.gen.generate_ids(f.prompt, cfg);
  CHECK(r.exit_reason == ExitReason::EarlyExit);
  CHECK(r.tokens.size() == 4);
  cfg.early_exit.threshold = 0.0;  // never reached
  CHECK(f.gen.generate_ids(f.prompt, cfg).exit_reason == ExitReason::MaxTokens);
  // Logit metric: threshold compared with the max logit.
  cfg.early_exit.metric = ConfidenceMetric::Logit;
  cfg.early_exit.threshold = 1e9;
  CHECK(f.gen.generate_ids(f.prompt, cfg).tokens.size() == 4);
}

TEST_CASE("a shared prefix's KV cache gives the same generations as prefilling every prompt",
          "[generate][prefix]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 9;
  cfg.eos_ids = {-1};
  const std::vector<int32_t> stem = {1, 40, 41, 42, 43, 50, 51};
  std::vector<std::vector<int32_t>> prompts = {stem, stem, stem};
  prompts[0].insert(prompts[0].end(), {60, 61});
  prompts[1].insert(prompts[1].end(), {62});
  prompts[2].insert(prompts[2].end(), {63, 64, 65, 66});
  for (const char* plan_text : {"", "a1,f0"}) {
    INFO("skip plan '" << plan_text << "'");
    cfg.skip = SkipPlan::parse(plan_text, 3);
    auto prefix = f.gen.prefill_prefix(stem, cfg.skip);
    CHECK(prefix.cache->length() == static_cast<int64_t>(stem.size()));
    CHECK(prefix.prefill_seconds > 0);
    auto batch = f.gen.generate_batch(prompts, cfg, &prefix);
    for (size_t i = 0; i < prompts.size(); ++i) {
      INFO("prompt " << i);
      auto plain = f.gen.generate_ids(prompts[i], cfg);
      auto shared = f.gen.generate_ids(prompts[i], cfg, nullptr, &prefix);
      CHECK(shared.tokens == plain.tokens);
      CHECK(shared.tokens == greedy_reference(f.model, prompts[i], 9, cfg.skip));
      CHECK(batch[i].tokens == plain.tokens);
      CHECK(shared.prompt_tokens == static_cast<int>(prompts[i].size()));
      CHECK(shared.cached_prompt_tokens == static_cast<int>(stem.size()));
      for (size_t t = 0; t < plain.confidences.size(); ++t)
        CHECK(shared.confidences[t] == Approx(plain.confidences[t]).margin(1e-5));
    }
  }
}

TEST_CASE("calls that follow each other on one shared prefix reuse the cache that holds it, with the same results",
          "[generate][prefix]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 9;
  cfg.eos_ids = {-1};
  cfg.skip = SkipPlan::parse("f1", 3);
  const std::vector<int32_t> stem = {1, 40, 41, 42, 43, 50, 51};
  std::vector<std::vector<int32_t>> prompts = {stem, stem, stem};
  prompts[0].insert(prompts[0].end(), {60, 61});
  prompts[1].insert(prompts[1].end(), {62, 63, 64, 65, 66, 67});  // longer than the first
  prompts[2].insert(prompts[2].end(), {68});
  auto prefix = f.gen.prefill_prefix(stem, cfg.skip);
  auto other = f.gen.prefill_prefix({1, 40, 41}, cfg.skip);
  CHECK_FALSE(f.gen.holds_prefix(prefix));
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i);
    auto shared = f.gen.generate_ids(prompts[i], cfg, nullptr, &prefix);
    CHECK(f.gen.holds_prefix(prefix));
    CHECK_FALSE(f.gen.holds_prefix(other));
    CHECK(shared.tokens == greedy_reference(f.model, prompts[i], 9, cfg.skip));
  }
  // Another prefix in between: the first is copied in again, and still gives the same tokens.
  auto between = f.gen.generate_ids({1, 40, 41, 70}, cfg, nullptr, &other);
  CHECK(between.tokens == greedy_reference(f.model, {1, 40, 41, 70}, 9, cfg.skip));
  CHECK_FALSE(f.gen.holds_prefix(prefix));
  CHECK(f.gen.generate_ids(prompts[0], cfg, nullptr, &prefix).tokens ==
        greedy_reference(f.model, prompts[0], 9, cfg.skip));
  // A call without a prefix leaves nothing held.
  f.gen.generate_ids(prompts[1], cfg);
  CHECK_FALSE(f.gen.holds_prefix(prefix));
}

TEST_CASE("a shared prefix is refused for another plan, a non-prefix or an observed call", "[generate][prefix]") {
  Fixture f;
  GenerationConfig cfg;
  cfg.max_new_tokens = 3;
  const std::vector<int32_t> stem = {1, 40, 41};
  auto prefix = f.gen.prefill_prefix(stem, SkipPlan{});
  CHECK_THROWS_WITH(f.gen.generate_ids({1, 40, 42, 43}, cfg, nullptr, &prefix),
                    Catch::Contains("not a proper prefix"));
  CHECK_THROWS_WITH(f.gen.generate_ids(stem, cfg, nullptr, &prefix), Catch::Contains("not a proper prefix"));
  cfg.skip = SkipPlan::parse("f1", 3);
  CHECK_THROWS_WITH(f.gen.generate_ids({1, 40, 41, 7}, cfg, nullptr, &prefix), Catch::Contains("skip plan"));
  CHECK_THROWS_WITH(f.gen.generate_batch({{1, 40, 41, 7}, {1, 40, 41, 8}}, cfg, &prefix),
                    Catch::Contains("skip plan"));
  CHECK_THROWS_WITH(f.gen.prefill_prefix({}, SkipPlan{}), Catch::Contains("at least one token"));
}

TEST_CASE("greedy picks in one pass equal LibTorch's max and softmax, the first of tied maxima included",
          "[generate][pick]") {
  torch::manual_seed(7);
  auto logits = torch::randn({3, 1000}) * 4;
  logits[1][17] = 50;
  logits[1][400] = 50;  // a tie: torch's max returns the first
  logits[2].fill_(-3);  // all equal: index 0, probability 1/1000
  const auto picks = greedy_picks(logits);
  REQUIRE(picks.size() == 3);
  const auto [max_logit, argmax] = logits.max(-1);
  const auto prob = (max_logit - logits.logsumexp(-1)).exp();
  for (int64_t b = 0; b < 3; ++b) {
    INFO("row " << b);
    CHECK(picks[b].id == argmax[b].item<int64_t>());
    CHECK(picks[b].max_logit == max_logit[b].item<float>());
    // LibTorch sums in float: 0.5000007 where the exact value is 0.5 (row 1's two maxima).
    CHECK(picks[b].confidence == Approx(prob[b].item<float>()).epsilon(1e-5));
  }
  CHECK(picks[1].id == 17);
  CHECK(picks[2].id == 0);
  CHECK(picks[1].confidence == Approx(0.5).epsilon(1e-6));  // by hand: exp(-30+) terms vanish
  CHECK(picks[2].confidence == Approx(0.001).epsilon(1e-6));
  // A view (the generator's .view of the last position) and a non-f32 tensor.
  CHECK(greedy_picks(logits.narrow(0, 1, 1))[0].id == 17);
  CHECK_THROWS(greedy_picks(logits.to(torch::kDouble)));
}

TEST_CASE("a call's decision key holds every setting that decides its outputs, and only those",
          "[generate][cache]") {
  GenerationConfig g;
  g.max_new_tokens = 5;
  g.skip = SkipPlan(4);
  g.skip.set({2, SubLayerKind::FFN});
  g.stop_strings = {"\n"};
  // Written by hand: [plan, budget, early exit, [temperature, top_k, top_p, seed], stops, add_bos].
  CHECK(decision_key(g).dump() == R"(["f2",5,null,[0.0,0,1.0,0],["\n"],true])");
  g.early_exit.enabled = true;
  g.early_exit.threshold = 0.25;
  CHECK(decision_key(g).dump() == R"(["f2",5,[4,0.25,"probability"],[0.0,0,1.0,0],["\n"],true])");
  // What only watches a call or speeds it up changes nothing.
  const auto before = decision_key(g);
  DraftHistory history;
  g.draft_history = &history;
  CHECK(decision_key(g) == before);
  // Each deciding field does.
  auto changed = [&](auto edit) {
    GenerationConfig c = g;
    edit(c);
    return decision_key(c) != before;
  };
  CHECK(changed([](GenerationConfig& c) { c.max_new_tokens = 6; }));
  CHECK(changed([](GenerationConfig& c) { c.sampling.seed = 1; }));
  CHECK(changed([](GenerationConfig& c) { c.sampling.top_p = 0.9; }));
  CHECK(changed([](GenerationConfig& c) { c.eos_ids = {3}; }));
  CHECK(changed([](GenerationConfig& c) { c.add_bos = false; }));
  CHECK(changed([](GenerationConfig& c) { c.early_exit.window = 2; }));
  CHECK(changed([](GenerationConfig& c) { c.speculative.drafter = DrafterKind::Lookup; }));
}
