#include <fstream>
#include <sstream>
#include <type_traits>

#include <catch2/catch.hpp>

#include "litestage/io/checkpoint.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "train_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;
namespace fs = std::filesystem;

namespace {

// The optimizer's per-parameter state. LibTorch 1.13 keys it by the TensorImpl address printed as
// a string, 2.x by the address itself.
template <typename StateMap>
torch::optim::AdamWParamState& state_of(StateMap& state, const torch::Tensor& p) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return static_cast<torch::optim::AdamWParamState&>(*state.at(key.str()));
  } else {
    return static_cast<torch::optim::AdamWParamState&>(*state.at(p.unsafeGetTensorImpl()));
  }
}

int64_t adam_step(Trainer& t) {
  return state_of(t.optimizer().state(), t.model()->named_parameters()["model.layers.0.self_attn.q_proj.weight"]).step();
}

torch::Tensor adam_exp_avg(Trainer& t, const std::string& name) {
  return state_of(t.optimizer().state(), t.model()->named_parameters()[name]).exp_avg();
}

}  // namespace

TEST_CASE("data order is a seeded permutation per epoch", "[train][order]") {
  auto a = epoch_order(50, 9, 0);
  CHECK(a == epoch_order(50, 9, 0));
  CHECK(a != epoch_order(50, 9, 1));
  CHECK(a != epoch_order(50, 10, 0));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);
}

TEST_CASE("group_by_length: a deterministic permutation with less padding", "[train][order]") {
  auto data = tiny_examples(96, 5);
  std::vector<int64_t> lengths;
  for (const auto& ex : data) lengths.push_back(ex.length());
  auto base = epoch_order(data.size(), 1, 0);
  auto grouped = group_by_length(base, lengths, 8, 32, 77);
  CHECK(grouped == group_by_length(base, lengths, 8, 32, 77));
  auto sorted = grouped;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);
  auto padded = [&](const std::vector<size_t>& order) {
    int64_t total = 0;
    for (size_t b = 0; b < order.size(); b += 8) {
      int64_t longest = 0;
      for (size_t i = b; i < b + 8; ++i) longest = std::max(longest, lengths[order[i]]);
      total += 8 * longest;
    }
    return total;
  };
  CHECK(padded(grouped) < padded(base));
  // Each chunk of 32 keeps its own examples.
  for (size_t c = 0; c < 96; c += 32) {
    std::vector<size_t> a(base.begin() + c, base.begin() + c + 32), b(grouped.begin() + c, grouped.begin() + c + 32);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);
  }
}

TEST_CASE("a few SFT steps on a tiny Llama lower the training loss", "[train][sft]") {
  TrainConfig cfg = tiny_train_settings("loss");
  auto data = tiny_examples(8);
  Trainer trainer(cfg, tiny_model(1), data);
  const double initial = trainer.mean_loss(data);
  double first_step = 0, last_step = 0;
  for (int i = 0; i < 40; ++i) {
    StepStats s = trainer.step();
    if (i == 0) first_step = s.loss;
    last_step = s.loss;
    CHECK(s.step == i + 1);
    CHECK(s.examples == 4);
    CHECK(std::isfinite(s.grad_norm));
  }
  const double final_loss = trainer.mean_loss(data);
  INFO("initial " << initial << ", final " << final_loss << ", first step " << first_step << ", last " << last_step);
  CHECK(first_step == Approx(initial).epsilon(0.3));  // same model, half the data
  CHECK(final_loss < 0.7 * initial);
  CHECK(last_step < 0.7 * first_step);
  CHECK(trainer.global_step() == 40);
  CHECK(trainer.epoch() == 19);  // 8 examples, 4 per step: 2 steps per epoch
}

TEST_CASE("gradient accumulation equals one large batch", "[train][sft]") {
  auto data = tiny_examples(8);
  TrainConfig big = tiny_train_settings("accum-big");
  big.training.batch_size = 8;
  big.optimizer.grad_clip = 0;
  TrainConfig accum = tiny_train_settings("accum-small");
  accum.training.batch_size = 2;
  accum.training.grad_accum = 4;
  accum.optimizer.grad_clip = 0;
  Trainer a(big, tiny_model(1), data), b(accum, tiny_model(1), data);
  auto sa = a.step(), sb = b.step();
  CHECK(sa.loss == Approx(sb.loss).epsilon(1e-5));
  CHECK(sa.grad_norm == Approx(sb.grad_norm).epsilon(1e-4));
  CHECK(sa.target_tokens == sb.target_tokens);
  // The step's gradients (left in .grad() until the next step) agree up to summation order. Adam's
  // update is not compared: it amplifies rounding in near-zero gradients.
  auto pb = b.model()->named_parameters();
  for (const auto& item : a.model()->named_parameters()) {
    INFO(item.key());
    CHECK(torch::allclose(item.value().grad(), pb[item.key()].grad(), 1e-4, 1e-7));
  }
}

TEST_CASE("resume continues bit-for-bit: k steps + save + fresh trainer + N-k steps == N steps", "[train][resume]") {
  auto data = tiny_examples(10);
  auto val = tiny_examples(3, 99);
  const int N = 7, k = 3;
  auto settings = [&](const std::string& name) {
    TrainConfig c = tiny_train_settings(name);
    c.training.batch_size = 3;
    c.training.grad_accum = 2;  // 6 examples per step, 2 steps per epoch: epochs end mid-run
    c.training.max_steps = N;
    c.optimizer.warmup_steps = 2;
    c.data.group_by_length = true;
    return c;
  };

  TrainConfig straight_cfg = settings("resume-straight");
  Trainer straight(straight_cfg, tiny_model(1), data, val);
  for (int i = 0; i < N; ++i) straight.step();

  TrainConfig first_cfg = settings("resume-split");
  {
    Trainer first(first_cfg, tiny_model(1), data, val);
    first.set_hooks(quiet_hooks());
    for (int i = 0; i < k; ++i) first.step();
    first.validate();  // a best to carry over
    first.save_last();
  }
  TrainConfig second_cfg = first_cfg;
  second_cfg.resume = true;
  // A different random init: every weight must come from the checkpoint.
  Trainer second(second_cfg, tiny_model(12345), data, val);
  second.set_hooks(quiet_hooks());
  CHECK(second.resumed());
  CHECK(second.global_step() == k);
  CHECK(second.epoch() == 1);
  CHECK(second.position() == 6);  // epoch 0 = steps 1-2 (6 + 4 examples); step 3 = 6 of epoch 1
  while (second.global_step() < N) second.step();

  CHECK(same_parameters(straight.model(), second.model()));
  CHECK(adam_step(straight) == N);
  CHECK(adam_step(second) == N);
  for (const char* name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"})
    CHECK(torch::equal(adam_exp_avg(straight, name), adam_exp_avg(second, name)));
}

TEST_CASE("resume refuses a changed run and a missing checkpoint", "[train][resume]") {
  auto data = tiny_examples(6);
  TrainConfig cfg = tiny_train_settings("resume-refuse");
  {
    Trainer t(cfg, tiny_model(1), data);
    t.step();
    t.save_last();
  }
  // A fresh run over an existing one is refused unless asked for.
  CHECK_THROWS_WITH(Trainer(cfg, tiny_model(1), data), Catch::Contains("resume: true"));
  TrainConfig resume = cfg;
  resume.resume = true;
  TrainConfig other_batch = resume;
  other_batch.training.batch_size = 2;
  CHECK_THROWS_WITH(Trainer(other_batch, tiny_model(1), data), Catch::Contains("training.batch_size"));
  CHECK_THROWS_WITH(Trainer(resume, tiny_model(1), tiny_examples(6, 8)), Catch::Contains("training data differs"));
  TrainConfig nothing = tiny_train_settings("resume-nothing");
  nothing.resume = true;
  CHECK_THROWS_WITH(Trainer(nothing, tiny_model(1), data), Catch::Contains("nothing to resume"));
}

TEST_CASE("train(): logs, evaluates, keeps the best by the metric and saves HF-layout checkpoints", "[train][save]") {
  auto data = tiny_examples(8);
  auto val = tiny_examples(4, 21);
  TrainConfig cfg = tiny_train_settings("layout");
  cfg.training.max_steps = 6;
  cfg.training.eval_every = 2;
  cfg.training.log_every = 2;
  Trainer trainer(cfg, tiny_model(1, /*tied=*/true), data, val);
  std::vector<int> logs, evals;
  std::vector<bool> best;
  auto hooks = quiet_hooks();
  hooks.on_log = [&](const TrainLogRecord& r) { logs.push_back(static_cast<int>(r.step)); };
  hooks.on_eval = [&](const EvalRecord& r) {
    evals.push_back(static_cast<int>(r.step));
    best.push_back(r.is_best);
    CHECK(r.val_loss.has_value());
    CHECK(r.val_loss_by_stage.size() == 3);
  };
  trainer.set_hooks(hooks);
  // Metric values by evaluation: the second is the best, so best/ holds step 4.
  std::vector<double> scores = {0.5, 0.75, 0.6};
  size_t calls = 0;
  torch::Tensor weights_at_best;
  trainer.set_accuracy_metric(
      [&](CausalLM& m, std::shared_ptr<Tokenizer> tok) {
        CHECK(tok == nullptr);
        if (calls == 1) weights_at_best = m->named_parameters()["model.norm.weight"].clone();
        return scores.at(calls++);
      },
      "dev_accuracy");
  TrainSummary s = trainer.train();

  CHECK(logs == std::vector<int>{2, 4, 6});
  CHECK(evals == std::vector<int>{2, 4, 6});
  CHECK(best == std::vector<bool>{true, true, false});
  CHECK(s.end_step == 6);
  CHECK(s.best_step == 4);
  CHECK(s.best_criterion == "dev_accuracy");
  CHECK(*s.best_value == 0.75);
  CHECK(s.tokens > 0);

  const fs::path out = cfg.output_dir;
  for (const char* f : {"config.json", "model.safetensors", "trainer_state.pt", "trainer_state.json"})
    CHECK(fs::exists(out / "last" / f));
  CHECK(fs::exists(out / "best" / "model.safetensors"));
  CHECK_FALSE(fs::exists(out / "best" / "trainer_state.pt"));
  CHECK_FALSE(fs::exists(out / "last.partial"));
  // Tied embeddings: no lm_head.weight in the file, as save_pretrained writes it.
  auto ckpt = io::Checkpoint::open(out / "last");
  CHECK_FALSE(ckpt.contains("lm_head.weight"));
  CHECK(ckpt.contains("model.embed_tokens.weight"));

  CausalLM last = load_causal_lm(out / "last");
  CHECK(same_parameters(last, trainer.model()));
  CausalLM best_model = load_causal_lm(out / "best");
  CHECK(torch::equal(best_model->named_parameters()["model.norm.weight"], weights_at_best));
  auto state = nlohmann::json::parse(read_file((out / "best" / "trainer_state.json").string()));
  CHECK(state["step"] == 4);

  // One JSON object per line: start, 3 train records, 3 evals, end.
  std::ifstream log(out / "train_log.jsonl");
  std::vector<std::string> events;
  for (std::string line; std::getline(log, line);) events.push_back(nlohmann::json::parse(line)["event"]);
  CHECK(events == std::vector<std::string>{"start", "train", "eval", "train", "eval", "train", "eval", "end"});

  // Resuming a finished run has nothing to do.
  TrainConfig again = cfg;
  again.resume = true;
  Trainer done(again, tiny_model(3, true), data, val);
  done.set_hooks(quiet_hooks());
  CHECK(done.train().end_step == 6);
}

TEST_CASE("bf16 autocast on CPU trains like f32, f32 master weights are required", "[train][precision]") {
  TrainConfig cfg = tiny_train_settings("precision");
  auto data = tiny_examples(8);
  Trainer f32(cfg, tiny_model(1), data);
  cfg.runtime.precision = Precision::Bf16;
  Trainer bf16(cfg, tiny_model(1), data);
  CHECK(bf16.autocast());
  CHECK_FALSE(f32.autocast());
  // Same weights, same batch: the bf16 loss is the f32 loss up to bf16 rounding of the matmuls.
  const double initial_f32 = f32.mean_loss(data), initial_bf16 = bf16.mean_loss(data);
  CHECK(initial_bf16 == Approx(initial_f32).epsilon(0.02));
  for (int i = 0; i < 40; ++i) {
    CHECK(std::isfinite(bf16.step().grad_norm));
  }
  CHECK(bf16.mean_loss(data) < 0.7 * initial_bf16);
  for (const auto& p : bf16.model()->parameters()) CHECK(p.scalar_type() == torch::kFloat);  // master weights
  cfg.runtime.precision = Precision::Auto;
  CHECK_FALSE(Trainer(cfg, tiny_model(1), tiny_examples(4)).autocast());
  CausalLM half(tiny_train_config(), Runtime{c10::kCPU, c10::kBFloat16});
  CHECK_THROWS_WITH(Trainer(cfg, half, tiny_examples(4)), Catch::Contains("float32 master weights"));
}

TEST_CASE("resume after a kill between a checkpoint's two renames: the previous checkpoint is put back",
          "[train][resume][kill]") {
  auto data = tiny_examples(6);
  TrainConfig cfg = tiny_train_settings("resume-swap");
  {
    Trainer t(cfg, tiny_model(1), data);
    t.set_hooks(quiet_hooks());
    t.step();
    t.step();
    t.save_last();
  }
  // The state write_checkpoint leaves when killed after moving last/ aside and before moving the
  // new one in: last.old (whole), last.partial (possibly torn), no last/.
  const std::filesystem::path out = cfg.output_dir;
  std::filesystem::rename(out / "last", out / "last.old");
  std::filesystem::create_directories(out / "last.partial");
  write_file_atomic((out / "last.partial" / "model.safetensors").string(), "torn");
  // Its log: steps 1-3 (3 came after the checkpoint) and a torn last line.
  std::string log;
  for (int step = 1; step <= 3; ++step) log += nlohmann::json{{"event", "train"}, {"step", step}}.dump() + "\n";
  write_file_atomic((out / "train_log.jsonl").string(), log + "{\"event\": \"train\", \"st");

  TrainConfig again = cfg;
  again.resume = true;
  Trainer resumed(again, tiny_model(99), data);
  CHECK(resumed.global_step() == 2);
  CHECK(std::filesystem::exists(out / "last" / "trainer_state.pt"));
  CHECK_FALSE(std::filesystem::exists(out / "last.old"));
  CHECK_FALSE(std::filesystem::exists(out / "last.partial"));
  // The log keeps steps up to 2; step 3 runs again and is logged once.
  std::vector<int64_t> steps;
  read_jsonl((out / "train_log.jsonl").string(), [&](const nlohmann::json& j) {
    if (j.value("event", "") == "train") steps.push_back(j.at("step").get<int64_t>());
  });
  CHECK(steps == std::vector<int64_t>{1, 2});
}
