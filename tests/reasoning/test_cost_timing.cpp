// The deterministic cost counters, stage-cache timing rules, prompt_too_long accounting and the
// interleaved timer, on a tiny random Llama with a character tokenizer.

#include <catch2/catch.hpp>

#include "../generate/fake_tokenizer.hpp"
#include "../model/model_fixtures.hpp"
#include "../toy_example.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/reasoning/timing.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

PipelineConfig short_stages(int tokens) {
  PipelineConfig pc;
  for (auto k : kStages) pc.stages[k].max_new_tokens = tokens;
  return pc;
}

// The hand count of the next test as a formula, for tiny_llama_config's shapes (hidden 32, K/V
// width 16, FFN 48, vocabulary 97): `attn` and `ffn` sub-layers run, positions cached+1 ..
// prompt+decode are computed, one lm_head per forward (the prompt's last position, each decode).
struct HandCost {
  double flops;
  int64_t attn_token_layers;
};
HandCost tiny_hand_cost(int attn, int ffn, int64_t prompt, int64_t decode, int64_t cached) {
  const int64_t tokens = prompt + decode - cached;
  const double positions = static_cast<double>(cached + 1 + prompt + decode) * static_cast<double>(tokens) / 2;
  const double attention = attn * (tokens * (2.0 * 32 * (32 + 2 * 16) + 2.0 * 32 * 32) + 4.0 * 32 * positions);
  const double mlp = ffn * tokens * 6.0 * 32 * 48;
  return {attention + mlp + (1 + decode) * 2.0 * 32 * 97, attn * tokens};
}

}  // namespace

TEST_CASE("forward cost of a known plan equals a hand count", "[reasoning][cost]") {
  const ModelConfig c = tiny_llama_config();
  // Skip layer 1's attention and layer 2's FFN: 2 attention and 2 FFN sub-layers run.
  const SkipPlan plan = SkipPlan::parse("a1,f2", 3);
  const ForwardCost cost = forward_cost(c, plan, /*prompt*/ 5, /*decode forwards*/ 3, /*f32*/ 4);
  CHECK(cost.prefill_tokens == 5);
  CHECK(cost.decode_tokens == 3);
  CHECK(cost.attn_token_layers == 2 * 8);
  CHECK(cost.ffn_token_layers == 2 * 8);
  // attention: 2 x [8 tokens x (2*32*(32+2*16) + 2*32*32) + 4*32*(1+2+...+8)] = 2 x (49152 + 4608)
  // FFN: 2 x 8 x 6*32*48 = 147456; lm_head: 4 forwards x 2*32*97 = 24832
  CHECK(cost.flops == Approx(107520.0 + 147456.0 + 24832.0));
  CHECK(tiny_hand_cost(2, 2, 5, 3, 0).flops == Approx(107520.0 + 147456.0 + 24832.0));  // the formula below
  // per forward: 2 x (32*64 + 32*32) + 2 x 3*32*48 + 32*97 = 18464 weights, 4 bytes, 4 forwards
  CHECK(cost.weight_bytes == Approx(18464.0 * 4 * 4));
  CHECK(decode_forwards(3, true) == 3);   // EOS ended it: every generated token was fed back
  CHECK(decode_forwards(3, false) == 2);  // the budget ended it: the last token was not
  CHECK(decode_forwards(0, false) == 0);
  // Skipping nothing costs more; skipping everything leaves the lm_head alone.
  CHECK(forward_cost(c, SkipPlan(3), 5, 3, 4).flops > cost.flops);
  CHECK(forward_cost(c, SkipPlan::parse("b0-2", 3), 5, 3, 4).flops == Approx(24832.0));
}

TEST_CASE("a cached prompt prefix is charged once: the identity of forward costs", "[reasoning][cost]") {
  const ModelConfig c = tiny_llama_config();
  const SkipPlan plan = SkipPlan::parse("a1", 3);
  const ForwardCost whole = forward_cost(c, plan, 20, 6, 4), tail = forward_cost(c, plan, 20, 6, 4, 15);
  const ForwardCost prefix = forward_cost(c, plan, 15, 0, 4);  // the prefix's own prefill forward
  CHECK(tail.prefill_tokens == 5);
  CHECK(tail.decode_tokens == 6);
  CHECK(tail.attn_token_layers + prefix.attn_token_layers == whole.attn_token_layers);
  CHECK(tail.ffn_token_layers + prefix.ffn_token_layers == whole.ffn_token_layers);
  // The prefix forward adds one lm_head (2 H V) and one read of the weights the tail call also reads.
  CHECK(tail.flops + prefix.flops - 2.0 * 32 * 97 == Approx(whole.flops));
  CHECK(tail.weight_bytes == Approx(whole.weight_bytes));
  CHECK_THROWS_WITH(forward_cost(c, plan, 20, 6, 4, 20), Catch::Contains("cached"));
}

TEST_CASE("Analyze prefix sharing: the same outputs, option 0 charged the prefix, cache keys apart",
          "[reasoning][cost][prefix]") {
  auto model = random_model(tiny_llama_config(256), 5);
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  Generator gen(model, tok);
  PipelineConfig off = short_stages(5), on = short_stages(5);
  off.prefix_sharing = false;
  for (auto* pc : {&off, &on}) pc->stages[StageKind::Analyze].skip = SkipPlan::parse("f1", 3);
  Example ex = toy_example();
  ex.choices = {"x", "yy", "zzz"};
  ex.labels = {"A", "B", "C"};
  StageCache cache;
  const ExampleTrace plain = MultiStagePipeline(gen, off, &cache).run(ex);
  const ExampleTrace shared = MultiStagePipeline(gen, on, &cache).run(ex);
  REQUIRE(plain.stages.size() == shared.stages.size());
  for (size_t i = 0; i < plain.stages.size(); ++i) {
    const StageTrace &a = plain.stages[i], &b = shared.stages[i];
    INFO("stage " << to_string(a.stage) << " option " << a.option);
    CHECK(a.output == b.output);
    CHECK(a.shared_prefix_tokens == 0);
    if (b.option > 0) {
      CHECK_FALSE(b.cached);  // another cost: another cache key
      CHECK(b.shared_prefix_tokens > 0);
      CHECK(b.cost.prefill_tokens == b.prompt_tokens - b.shared_prefix_tokens);
      CHECK(b.cost.flops < a.cost.flops);
    } else {
      CHECK(b.cached);  // option 0, Recall and Summarize cost the same with or without sharing
      CHECK(b.cost.flops == a.cost.flops);
    }
  }
  // The batched Analyze stage shares the prefix too, with the same outputs and costs.
  PipelineConfig batched = on;
  batched.batch_analyze = true;
  const ExampleTrace batch = MultiStagePipeline(gen, batched).run(ex);
  for (size_t i = 0; i < batch.stages.size(); ++i) {
    CHECK(batch.stages[i].output == shared.stages[i].output);
    CHECK(batch.stages[i].cost.flops == Approx(shared.stages[i].cost.flops));
  }
}

TEST_CASE("every stage trace carries its cost, a cache hit carries no timing", "[reasoning][cost]") {
  auto model = random_model(tiny_llama_config(256), 5);
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  Generator gen(model, tok);
  PipelineConfig pc = short_stages(4);
  pc.stages[StageKind::Analyze].skip = SkipPlan::parse("a0,f1", 3);
  StageCache cache;
  MultiStagePipeline pipeline(gen, pc, &cache);
  const ExampleTrace first = pipeline.run(toy_example());
  for (const StageTrace& t : first.stages) {
    INFO(to_string(t.stage));
    CHECK_FALSE(t.cached);
    CHECK(t.seconds() > 0);
    const bool eos = t.exit_reason == ExitReason::Eos;
    // Analyze option 1 reads the options' shared prefix from option 0's cache (prefix sharing is on).
    const int cached = t.option > 0 ? t.shared_prefix_tokens : 0;
    CHECK((t.stage == StageKind::Analyze) == (t.shared_prefix_tokens > 0));
    // By hand: Analyze runs 2 attention and 2 FFN sub-layers (a0,f1 skipped), the others 3 and 3;
    // every generated token but a budget-ended last one is fed back.
    const int running = t.stage == StageKind::Analyze ? 2 : 3;
    const int64_t fed_back = eos ? t.tokens : std::max(0, t.tokens - 1);
    const HandCost expected = tiny_hand_cost(running, running, t.prompt_tokens, fed_back, cached);
    CHECK(t.cost.prefill_tokens == t.prompt_tokens - cached);
    CHECK(t.cost.decode_tokens == fed_back);
    CHECK(t.cost.flops == Approx(expected.flops));
    CHECK(t.cost.attn_token_layers == expected.attn_token_layers);
  }
  const Summary fresh = summarize({first});
  CHECK(fresh.cached_stages == 0);
  CHECK(fresh.mean_cost.flops > 0);
  CHECK(fresh.stages[StageKind::Analyze].mean_flops < fresh.mean_cost.flops);

  // The same question again: every stage comes from the cache, with its output and cost, no time.
  const ExampleTrace again = pipeline.run(toy_example());
  REQUIRE(again.stages.size() == first.stages.size());
  for (size_t i = 0; i < again.stages.size(); ++i) {
    CHECK(again.stages[i].cached);
    CHECK(again.stages[i].output == first.stages[i].output);
    CHECK(again.stages[i].seconds() == 0);
    CHECK(again.stages[i].cost.flops == first.stages[i].cost.flops);
  }
  const Summary cached = summarize({again});
  CHECK(cached.cached_stages == static_cast<int>(again.stages.size()));
  CHECK(cached.mean_seconds == 0);  // no latency comes out of a cache
}

TEST_CASE("a speculative stage gives the plain outputs and is charged every verified row and one read per forward",
          "[reasoning][cost][speculative]") {
  auto model = random_model(tiny_llama_config(256), 5);
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  Generator gen(model, tok);
  PipelineConfig plain = short_stages(12);
  plain.stages[StageKind::Analyze].skip = SkipPlan::parse("a0,f1", 3);
  MultiStagePipeline a(gen, plain, nullptr);
  const ExampleTrace off = a.run(toy_example());
  // By hand, weights per forward: an attention sub-layer 32x64 + 32x32, an FFN 3x32x48, the
  // lm_head 32x97; four bytes each. Each row's FLOPs: twice its weights, and 4 x 32 per attended
  // position in each attention sub-layer.
  const auto weights = [](int attn, int ffn) { return attn * 3072.0 + ffn * 4608.0 + 3104.0; };
  for (const bool self : {false, true}) {
    INFO((self ? "auto drafter, draft_skip f0" : "lookup drafter"));
    PipelineConfig spec = plain;
    spec.speculative.drafter = self ? DrafterKind::Auto : DrafterKind::Lookup;
    spec.speculative.ngram = 1;  // a one-character context matches often in a random model's output
    spec.speculative.draft_skip = "f0";
    spec.speculative.threshold = 0;
    MultiStagePipeline b(gen, spec, nullptr);
    const ExampleTrace on = b.run(toy_example());
    REQUIRE(off.stages.size() == on.stages.size());
    int64_t drafted = 0, draft_forwards = 0;
    for (size_t i = 0; i < on.stages.size(); ++i) {
      const StageTrace &x = off.stages[i], &y = on.stages[i];
      INFO(to_string(y.stage) << " option " << y.option);
      CHECK(y.output == x.output);
      CHECK(y.tokens == x.tokens);
      CHECK(y.exit_reason == x.exit_reason);
      CHECK(x.speculative.verify_forwards == 0);
      const auto& s = y.speculative;
      drafted += s.drafted;
      draft_forwards += s.draft_forwards;
      CHECK(s.accepted <= s.drafted);
      if (!self) CHECK(s.draft_forwards == 0);
      // Every generated token but the first comes from a verify forward's accepted draft or its own
      // pick; the stage ends at a verify forward or at the first token.
      CHECK(s.accepted + s.verify_forwards >= y.tokens - 1);
      // Rows computed: every row of every verify forward; forwards: the prefill, each verify step
      // and each self-draft step.
      CHECK(y.cost.decode_tokens == s.verify_forwards + s.drafted);
      const double verify = static_cast<double>(s.verify_forwards), drafts = static_cast<double>(s.draft_forwards);
      CHECK(y.cost.forwards == Approx(1.0 + verify + drafts));
      // Analyze runs 2 attention and 2 FFN sub-layers (its drafts 2 and 1), the others 3 and 3 (2).
      const bool analyze = y.stage == StageKind::Analyze;
      const double w = analyze ? weights(2, 2) : weights(3, 3), dw = analyze ? weights(2, 1) : weights(3, 2);
      CHECK(y.cost.weight_bytes == Approx(4 * w * (1.0 + verify) + 4 * dw * drafts));
      // The drafted rows are short-forward FLOPs, each at the position after the prompt.
      const double attn = analyze ? 2 : 3, row = 2 * w + attn * 4 * 32 * (y.prompt_tokens + 1);
      CHECK(y.cost.shortrow_flops == Approx(x.cost.shortrow_flops + static_cast<double>(s.drafted) * row));
      CHECK(y.cost.multirow_flops == Approx(x.cost.multirow_flops));
    }
    CHECK(drafted > 0);  // the test exercised drafting
    if (self) CHECK(draft_forwards > 0);
  }
}

TEST_CASE("a stage whose prompt does not fit is a wrong answer with its real time", "[reasoning][cost]") {
  // 40 positions: the summarize prompt (question, recall and analyses, one token per character)
  // does not fit.
  auto model = random_model(tiny_llama_config(40), 6);
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  Generator gen(model, tok);
  MultiStagePipeline pipeline(gen, short_stages(6));
  const ExampleTrace t = pipeline.run(toy_example());
  REQUIRE(t.stages.back().exit_reason == ExitReason::PromptTooLong);
  CHECK_FALSE(t.correct);
  CHECK(t.stages.back().seconds() > 0);
  CHECK(t.stages.back().cost.flops == 0);  // nothing ran
  const Summary s = summarize({t});
  CHECK(s.prompt_too_long == 1);
  CHECK(s.correct == 0);
}

TEST_CASE("a batched Analyze stage past the context counts as one by one: too long and wrong with its time",
          "[reasoning][cost]") {
  // A question with one long option: its Recall prompt fits the context, its Analyze prompts (the
  // question, the recall and the cue) do not. A short question follows it in the same evaluation.
  Example long_one = toy_example("long");
  long_one.choices[1] = std::string(150, 'w');
  const Example short_one = toy_example("short");
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  // One token per character and BOS: the Recall prompt's length, counted here without the model.
  const int64_t recall_tokens = static_cast<int64_t>(recall_prompt(long_one).size()) + 1;
  // Room for Recall's 6 tokens; an Analyze prompt adds at least 25 (a space, the recall, the cue).
  auto model = random_model(tiny_llama_config(recall_tokens + 10), 7);
  Generator gen(model, tok);
  PipelineConfig sequential = short_stages(6), batched = short_stages(6);
  batched.batch_analyze = true;
  MultiStagePipeline one_by_one(gen, sequential), batch(gen, batched);
  std::vector<ExampleTrace> a, b;
  for (const Example* ex : std::vector<const Example*>{&long_one, &short_one}) {
    a.push_back(one_by_one.run(*ex));
    REQUIRE_NOTHROW(b.push_back(batch.run(*ex)));
  }
  for (size_t q = 0; q < 2; ++q) {
    INFO("question " << a[q].id);
    REQUIRE(a[q].stages.size() == b[q].stages.size());
    for (size_t i = 0; i < a[q].stages.size(); ++i) {
      const StageTrace &x = a[q].stages[i], &y = b[q].stages[i];
      INFO("stage " << to_string(x.stage) << " option " << x.option);
      CHECK(y.stage == x.stage);
      CHECK(y.option == x.option);
      CHECK(y.exit_reason == x.exit_reason);
      CHECK(y.output == x.output);
      CHECK(y.prompt_tokens == x.prompt_tokens);
      CHECK(y.cost.flops == Approx(x.cost.flops));
    }
    CHECK(b[q].correct == a[q].correct);
    CHECK(b[q].parsed == a[q].parsed);
  }
  // The long question: Recall ran, both options and Summarize did not fit.
  REQUIRE(a[0].stages.size() == 4);
  CHECK(a[0].stages[0].exit_reason != ExitReason::PromptTooLong);
  for (size_t i = 1; i < 4; ++i) {
    CHECK(b[0].stages[i].exit_reason == ExitReason::PromptTooLong);
    CHECK(b[0].stages[i].cost.flops == 0);
    CHECK(b[0].stages[i].seconds() > 0);  // rendering and encoding, as one by one
  }
  CHECK_FALSE(b[0].correct);
  // The short question ran every stage, in both.
  for (const auto& t : b[1].stages) CHECK(t.exit_reason != ExitReason::PromptTooLong);
  const Summary sa = summarize(a), sb = summarize(b);
  CHECK(sa.prompt_too_long == 1);
  CHECK(sb.prompt_too_long == 1);
  CHECK(sb.correct == sa.correct);
}

TEST_CASE("the interleaved timer runs each configuration R times, round-robin question by question",
          "[reasoning][timing]") {
  auto model = random_model(tiny_llama_config(256), 7);
  auto tok = std::make_shared<CharTokenizer>(97, 96);
  Generator gen(model, tok);
  std::vector<PipelineConfig> configs = {short_stages(2), short_stages(3), short_stages(4)};
  configs[1].stages[StageKind::Recall].skip = SkipPlan::parse("b0", 3);
  std::vector<std::pair<int, size_t>> order;
  TimingSettings settings;
  settings.repeats = 2;
  const auto samples = time_interleaved(gen, configs, {toy_example(), toy_example()}, settings,
                                        [&](int pass, size_t config) { order.emplace_back(pass, config); });
  // Each question under every configuration in turn, then the next question; then pass 2.
  CHECK(order == std::vector<std::pair<int, size_t>>{{0, 0}, {0, 1}, {0, 2}, {0, 0}, {0, 1}, {0, 2},
                                                     {1, 0}, {1, 1}, {1, 2}, {1, 0}, {1, 1}, {1, 2}});
  REQUIRE(samples.size() == 3);
  for (const auto& s : samples) {
    REQUIRE(s.passes.size() == 2);
    REQUIRE(s.per_question.size() == 2);
    CHECK(s.low() > 0);
    // Two passes: the median is their mean, the band their min and max. Two passes over two
    // questions average the same four times as the two questions' medians, and a pass is the sum
    // of its stages.
    CHECK(s.median() == Approx((s.passes[0] + s.passes[1]) / 2));
    CHECK(s.low() == std::min(s.passes[0], s.passes[1]));
    CHECK(s.high() == std::max(s.passes[0], s.passes[1]));
    CHECK(s.median() == Approx((s.per_question[0] + s.per_question[1]) / 2));
    double stages = 0;
    for (auto k : kStages) stages += s.stage_median(k);
    CHECK(stages == Approx(s.median()));
  }
  LatencySamples hand;
  hand.passes = {0.3, 0.1, 0.2, 0.5};
  CHECK(hand.median() == Approx(0.25));
  CHECK(hand.low() == 0.1);
  CHECK(hand.high() == 0.5);
  LatencySamples a, b;
  a.passes = {1.0, 1.2};
  b.passes = {1.1, 1.5};
  CHECK(within_noise(a, b));
  b.passes = {1.3, 1.5};
  CHECK_FALSE(within_noise(a, b));
  CHECK_FALSE(within_noise(a, LatencySamples{}));
}
