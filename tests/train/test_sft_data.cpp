#include <catch2/catch.hpp>

#include "generate/fake_tokenizer.hpp"
#include "litestage/data/exemplars.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/prompt/prompts.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/train/sft_data.hpp"
#include "litestage/util/strings.hpp"
#include "train_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {

SftExample make(std::vector<int32_t> prompt, std::vector<int32_t> target) {
  SftExample ex;
  ex.prompt = std::move(prompt);
  ex.target = std::move(target);
  return ex;
}

std::vector<int64_t> row(const torch::Tensor& t, int64_t r) {
  auto x = t[r].contiguous();
  return std::vector<int64_t>(x.data_ptr<int64_t>(), x.data_ptr<int64_t>() + x.numel());
}

// Summed target NLL computed from the full (B, T, vocab) logits, the textbook way.
double reference_loss(CausalLM& m, const SftBatch& b) {
  torch::NoGradGuard ng;
  auto logp = torch::log_softmax(m->forward(b.input_ids), -1);  // (B, T, V)
  double sum = 0;
  for (int64_t r = 0; r < b.input_ids.size(0); ++r)
    for (int64_t t = 0; t < b.input_ids.size(1); ++t) {
      int64_t label = b.labels[r][t].item<int64_t>();
      if (label != kIgnoreIndex) sum -= logp[r][t][label].item<double>();
    }
  return sum;
}

}  // namespace

TEST_CASE("collate: right padding, labels only on target positions, EOS never an input", "[train][data]") {
  SftExample a = make({1, 10, 11, 12}, {20, 21, 2});  // P = 4, L = 3: row of 6 inputs
  SftExample b = make({1, 13}, {22, 2});              // P = 2, L = 2: row of 3 inputs
  SftBatch batch = collate({&a, &b}, /*pad_id=*/0, torch::kCPU);
  REQUIRE(batch.input_ids.sizes() == torch::IntArrayRef({2, 6}));
  CHECK(row(batch.input_ids, 0) == std::vector<int64_t>{1, 10, 11, 12, 20, 21});
  CHECK(row(batch.input_ids, 1) == std::vector<int64_t>{1, 13, 22, 0, 0, 0});
  const int64_t I = kIgnoreIndex;
  CHECK(row(batch.labels, 0) == std::vector<int64_t>{I, I, I, 20, 21, 2});
  CHECK(row(batch.labels, 1) == std::vector<int64_t>{I, 22, 2, I, I, I});
  CHECK(batch.tokens == 9);
  CHECK(batch.padded_tokens == 12);
  CHECK(batch.target_count == 5);
  CHECK(row(batch.target_index.view({1, -1}), 0) == std::vector<int64_t>{3, 4, 5, 7, 8});
}

TEST_CASE("sft_loss equals the target-token NLL of a full forward", "[train][loss]") {
  CausalLM m = tiny_model(5);
  auto examples = tiny_examples(3, 11);
  SftBatch batch = collate({&examples[0], &examples[1], &examples[2]}, 0, torch::kCPU);
  torch::NoGradGuard ng;
  SftLoss loss = sft_loss(*m, batch);
  const double ref = reference_loss(m, batch);
  CHECK(loss.count == batch.target_count);
  CHECK(loss.sum.item<double>() == Approx(ref).epsilon(1e-5));
  CHECK(loss.row_sums.sum().item<double>() == Approx(ref).epsilon(1e-5));
}

TEST_CASE("the loss ignores prompt tokens and depends on target tokens", "[train][loss]") {
  CausalLM m = tiny_model(5);
  torch::NoGradGuard ng;
  auto loss_of = [&](const SftExample& ex) { return sft_loss(*m, collate({&ex}, 0, torch::kCPU)).sum.item<double>(); };
  auto nll_at = [&](const std::vector<int32_t>& seq, size_t t) {  // -log p(seq[t + 1] | seq[..t])
    std::vector<int64_t> ids(seq.begin(), seq.end());
    auto logp = torch::log_softmax(m->forward(torch::tensor(ids).view({1, -1})), -1);
    return -logp[0][static_cast<int64_t>(t)][seq[t + 1]].item<double>();
  };
  // The same token sequence split in two places: moving token 30 from the target into the prompt
  // removes exactly its term and nothing else, so prompt tokens carry no loss.
  SftExample long_target = make({1, 10, 11}, {30, 31, 32, 2});
  SftExample short_target = make({1, 10, 11, 30}, {31, 32, 2});
  const std::vector<int32_t> seq = {1, 10, 11, 30, 31, 32, 2};
  CHECK(loss_of(long_target) - loss_of(short_target) == Approx(nll_at(seq, 2)).epsilon(1e-4));
  double manual = 0;
  for (size_t t = 3; t + 1 < seq.size(); ++t) manual += nll_at(seq, t);
  CHECK(loss_of(short_target) == Approx(manual).epsilon(1e-5));

  // Changing a target token changes the loss.
  SftExample other_target = make({1, 10, 11, 30}, {31, 33, 2});
  CHECK(loss_of(other_target) != Approx(loss_of(short_target)).epsilon(1e-6));

  // Labels at prompt positions are ignored whatever they are: rewriting them leaves the loss alone.
  SftBatch batch = collate({&short_target}, 0, torch::kCPU);
  auto labels = batch.labels.clone();
  for (int64_t t = 0; t < 3; ++t) {
    CHECK(labels[0][t].item<int64_t>() == kIgnoreIndex);
  }
  auto logits = m->forward(batch.input_ids)[0];  // (T, V)
  auto full = torch::nn::functional::cross_entropy(
      logits, labels[0], torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(kIgnoreIndex));
  CHECK(full.item<double>() == Approx(loss_of(short_target)).epsilon(1e-5));
}

TEST_CASE("fit_example: left truncation keeps BOS and the whole target, refusals name the record", "[train][data]") {
  SftExample ex = make({1, 10, 11, 12, 13, 14}, {20, 21, 2});  // 9 tokens
  SftExample cut = ex;
  CHECK(fit_example(cut, 7, Truncation::Left, /*has_bos=*/true, "r") == 2);
  CHECK(cut.prompt == std::vector<int32_t>{1, 12, 13, 14});
  CHECK(cut.target == ex.target);
  SftExample untouched = ex;
  CHECK(fit_example(untouched, 9, Truncation::Error, true, "r") == 0);
  SftExample refused = ex;
  CHECK_THROWS_WITH(fit_example(refused, 8, Truncation::Error, true, "data.jsonl record 3"),
                    Catch::Contains("data.jsonl record 3") && Catch::Contains("max_seq_len"));
  SftExample too_long = ex;
  CHECK_THROWS_WITH(fit_example(too_long, 4, Truncation::Left, true, "r"), Catch::Contains("targets are never cut"));
}

TEST_CASE("joining rule: prompt ids + target ids equal the joint tokenisation (real tokenizers)", "[train][data][shared][deepbind]") {
  REQUIRE_SHARED(tokenizers, "tokenizers");
  Example e;
  e.id = "t";
  e.stem = "The sun is responsible for";
  e.choices = {"puppies learning new tricks", "plants sprouting, blooming and wilting"};
  e.labels = {"A", "B"};
  e.answer = 1;
  TeacherRationale r;
  r.recall = "The sun provides light and energy that plants need to grow.";
  r.analyses = {"puppies learn from training, not from the sun.", "plants need sunlight to sprout and bloom."};
  auto records = build_stage_records(e, r);
  // TinyThinker's own exemplars, when present: real stems, options and teacher sentences.
  for (const char* dataset : {"obqa", "csqa", "strategyqa"}) {
    const auto path = tokenizers.parent_path() / "data" / "prompts" / (std::string(dataset) + "_cot.json");
    if (!std::filesystem::exists(path)) continue;
    const auto exemplars = read_exemplars(path.string());
    for (size_t i = 0; i < exemplars.size(); ++i) {
      auto more = build_stage_records(exemplar_example(exemplars[i], dataset, i), exemplar_rationale(exemplars[i]));
      records.insert(records.end(), more.begin(), more.end());
    }
  }
  INFO(records.size() << " records");
  struct Case {
    const char* dir;
    bool leading;
  };
  for (Case c : {Case{"llama2", true}, Case{"qwen2", false}}) {
    const auto dir = tokenizers / c.dir;
    if (!std::filesystem::exists(dir)) continue;
    INFO(c.dir);
    auto tok = load_tokenizer(dir);
    CHECK(tokenizer_adds_leading_space(*tok) == c.leading);
    SftTokenizeOptions opt;
    opt.eos_id = tok->eos_ids().front();
    SftDataset data = tokenize_stage_records(*tok, records, opt, c.dir);
    CHECK(data.boundary_mismatches == 0);
    for (size_t i = 0; i < records.size(); ++i) {
      const SftExample& ex = data.examples[i];
      EncodeOptions with_bos;
      CHECK(ex.prompt == tok->encode(records[i].input, with_bos));  // Generator::encode_prompt
      std::vector<int32_t> target(ex.target.begin(), ex.target.end() - 1);
      CHECK(ex.target.back() == opt.eos_id);
      CHECK(trim(tok->decode(target)) == records[i].target);
      std::vector<int32_t> joined = ex.prompt;
      joined.insert(joined.end(), target.begin(), target.end());
      CHECK(joined == tok->encode(records[i].input + " " + records[i].target, with_bos));
    }
  }
}

TEST_CASE("after fine-tuning, greedy generation from the exact prompt reproduces the target, then EOS",
          "[train][generate]") {
  auto tok = std::make_shared<CharTokenizer>(64, kEos);
  std::vector<StageRecord> records = {
      {StageKind::Recall, "sky?\nRecall:", "B", "blue."},
      {StageKind::Summarize, "grass?\nSummarize:", "A", "green."},
  };
  SftTokenizeOptions opt;
  opt.eos_id = kEos;
  SftDataset data = tokenize_stage_records(*tok, records, opt, "toy");
  CHECK_FALSE(tokenizer_adds_leading_space(*tok));  // so the target is encoded as " " + target

  TrainConfig cfg = tiny_train_settings("generate");
  cfg.training.batch_size = 2;
  cfg.training.max_steps = 60;
  cfg.optimizer.lr = 2e-2;
  CausalLM model = tiny_model(2);
  Trainer trainer(cfg, model, data.examples, {}, tok);
  for (int i = 0; i < 60; ++i) trainer.step();

  Generator gen(model, tok);
  GenerationConfig g;
  g.max_new_tokens = 12;
  g.eos_ids = {kEos};
  for (const auto& r : records) {
    auto out = gen.generate(r.input, g);
    CHECK(out.exit_reason == ExitReason::Eos);
    CHECK(out.tokens == encode_target(*tok, r.target));
  }
}
