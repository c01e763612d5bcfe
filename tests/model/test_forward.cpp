#include <catch2/catch.hpp>

#include "litestage/model/kv_cache.hpp"
#include "model_fixtures.hpp"

using namespace litestage;
using namespace litestage::test;

namespace {
torch::Tensor ids_tensor(const std::vector<int64_t>& ids) { return torch::tensor(ids).view({1, -1}); }
ForwardOptions fwd(const SkipPlan* skip, const SubLayerObserver* observer = nullptr, KVCache* cache = nullptr) {
  ForwardOptions o;
  o.skip = skip;
  o.observer = observer;
  o.cache = cache;
  return o;
}
const std::vector<int64_t> kIds = {1, 5, 17, 42, 8, 63, 29, 3, 77, 11};
}  // namespace

TEST_CASE("RMSNorm matches its definition", "[model][ops]") {
  RMSNorm norm(8, 1e-5, torch::TensorOptions());
  torch::NoGradGuard ng;
  norm->weight.copy_(torch::linspace(0.5, 2.0, 8));
  auto x = torch::randn({3, 8});
  auto expected = norm->weight * x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-5);
  CHECK(torch::allclose(norm->forward(x), expected, 1e-6, 1e-6));
}

TEST_CASE("RoPE is rotate_half and depends only on relative position", "[model][ops]") {
  torch::manual_seed(0);
  auto c = tiny_llama_config();
  RotaryEmbedding rope(c, torch::TensorOptions().dtype(torch::kDouble));
  auto inv = RotaryEmbedding::inverse_frequencies(c).to(torch::kDouble);
  auto q = torch::randn({1, 1, 1, c.head_dim}, torch::kDouble);
  auto k = torch::randn({1, 1, 1, c.head_dim}, torch::kDouble);
  // Against the per-pair rotation.
  auto r = rope.apply(q, 7, torch::Tensor());
  // Tables are built in float32 as transformers does, hence the float32-level tolerance.
  CHECK(torch::allclose(r.view({1, -1}), ref_rope(q.view({1, -1}), inv, {7}), 1e-6, 1e-6));
  // Position-shift property: <R(m)q, R(n)k> == <R(m+s)q, R(n+s)k>.
  auto dot = [&](int64_t m, int64_t n) {
    return (rope.apply(q, m, torch::Tensor()) * rope.apply(k, n, torch::Tensor())).sum().item<double>();
  };
  // float32 tables: an absolute margin too, for a dot product near zero.
  CHECK(dot(3, 1) == Approx(dot(13, 11)).epsilon(1e-6).margin(1e-6));
  CHECK(dot(20, 0) == Approx(dot(40, 20)).epsilon(1e-6).margin(1e-6));
  // Explicit positions give the same result as a start offset.
  auto x = torch::randn({1, 2, 4, c.head_dim}, torch::kDouble);
  CHECK(torch::allclose(rope.apply(x, 5, torch::Tensor()), rope.apply(x, 0, torch::arange(5, 9).view({1, 4}))));
}

TEST_CASE("llama3 and linear rope scaling follow their formulas", "[model][ops]") {
  auto j = tiny_llama_config().to_json();
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  auto lin = ModelConfig::from_json(j);
  auto base = RotaryEmbedding::inverse_frequencies(tiny_llama_config());
  CHECK(torch::allclose(RotaryEmbedding::inverse_frequencies(lin), base / 4.0));
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  auto l3 = RotaryEmbedding::inverse_frequencies(ModelConfig::from_json(j));
  // head_dim 8: inverse frequencies 1, 0.1, 0.01, 0.001 (wavelengths 6.3, 63, 628, 6283).
  // Wavelength below 64/4 = 16: unchanged; above 64/1: divided by 8; in between: interpolated.
  CHECK(l3[0].item<float>() == Approx(base[0].item<float>()));
  CHECK(l3[2].item<float>() == Approx(base[2].item<float>() / 8.0));
  CHECK(l3[3].item<float>() == Approx(base[3].item<float>() / 8.0));
  double f1 = base[1].item<double>(), smooth = (64.0 / (2 * M_PI / f1) - 1.0) / 3.0;
  CHECK(l3[1].item<float>() == Approx((1 - smooth) * f1 / 8.0 + smooth * f1).epsilon(1e-5));
}

TEST_CASE("forward equals the naive reference (Llama, GQA)", "[model]") {
  auto m = random_model(tiny_llama_config());
  torch::NoGradGuard ng;
  auto logits = m->forward(ids_tensor(kIds)).squeeze(0);
  auto ref = reference_logits(m, kIds);
  CHECK(max_rel_error(logits, ref) < 1e-5);
}

TEST_CASE("forward equals the naive reference (Qwen2, MQA, q/k/v bias, tied embeddings)", "[model]") {
  auto m = random_model(tiny_qwen2_config());
  torch::NoGradGuard ng;
  auto names = m->named_parameters();
  CHECK(names.contains("model.layers.0.self_attn.q_proj.bias"));
  CHECK_FALSE(names.contains("model.layers.0.self_attn.o_proj.bias"));
  CHECK_FALSE(names.contains("lm_head.weight"));
  auto logits = m->forward(ids_tensor(kIds)).squeeze(0);
  CHECK(max_rel_error(logits, reference_logits(m, kIds)) < 1e-5);
}

TEST_CASE("KV-cache decode of token t equals the full-sequence forward at t", "[model][cache]") {
  for (auto cfg : {tiny_llama_config(), tiny_qwen2_config()}) {
    auto m = random_model(cfg, 3);
    torch::InferenceMode im;
    auto full = m->forward(ids_tensor(kIds)).squeeze(0);  // (T, V)
    KVCache cache(cfg, 1, 32, torch::kFloat, torch::kCPU);
    // Prefill 4 tokens, then decode one at a time.
    auto prefill = m->forward(ids_tensor({kIds.begin(), kIds.begin() + 4}), fwd(nullptr, nullptr, &cache));
    CHECK(max_rel_error(prefill.squeeze(0), full.narrow(0, 0, 4)) < 1e-5);
    for (size_t t = 4; t < kIds.size(); ++t) {
      auto step = m->forward(ids_tensor({kIds[t]}), fwd(nullptr, nullptr, &cache)).view({-1});
      INFO("token " << t);
      CHECK(max_rel_error(step, full[t]) < 1e-5);
    }
    CHECK(cache.length() == static_cast<int64_t>(kIds.size()));
  }
}

TEST_CASE("left-padded batch equals each sequence alone", "[model][cache]") {
  auto cfg = tiny_llama_config();
  auto m = random_model(cfg, 4);
  torch::InferenceMode im;
  std::vector<int64_t> a = {1, 9, 8, 7, 6, 5}, b = {1, 40, 41};
  auto ids = torch::tensor({1, 9, 8, 7, 6, 5, 0, 0, 0, 1, 40, 41}).view({2, 6});
  auto mask = torch::tensor({1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1}).view({2, 6});
  KVCache cache(cfg, 2, 16, torch::kFloat, torch::kCPU);
  ForwardOptions opt;
  opt.cache = &cache;
  opt.token_mask = mask;
  auto logits = m->forward(ids, opt);
  CHECK(max_rel_error(logits[0], m->forward(ids_tensor(a)).squeeze(0)) < 1e-5);
  CHECK(max_rel_error(logits[1].narrow(0, 3, 3), m->forward(ids_tensor(b)).squeeze(0)) < 1e-5);
  // One decode step for both rows continues each sequence correctly.
  ForwardOptions step;
  step.cache = &cache;
  auto next = m->forward(torch::tensor({50, 51}).view({2, 1}), step);
  auto a2 = a, b2 = b;
  a2.push_back(50);
  b2.push_back(51);
  CHECK(max_rel_error(next[0][0], m->forward(ids_tensor(a2))[0][6]) < 1e-5);
  CHECK(max_rel_error(next[1][0], m->forward(ids_tensor(b2))[0][3]) < 1e-5);
}

TEST_CASE("skipping every sub-layer gives lm_head(norm(embed(x)))", "[model][skip]") {
  auto cfg = tiny_llama_config();
  auto m = random_model(cfg, 5);
  torch::NoGradGuard ng;
  auto plan = SkipPlan::parse("b0-2", 3);
  auto logits = m->forward(ids_tensor(kIds), fwd(&plan));
  auto emb = m->model->embed_tokens->weight.index_select(0, torch::tensor(kIds));
  auto expected = torch::linear(m->model->norm->forward(emb), m->output_weight());
  CHECK(max_rel_error(logits.squeeze(0), expected) < 1e-6);
}

TEST_CASE("skip plans match the reference with the same sub-layers removed", "[model][skip]") {
  auto cfg = tiny_llama_config();
  auto m = random_model(cfg, 6);
  torch::NoGradGuard ng;
  for (std::string spec : {"a0", "f1", "a1,f0,f2", "b1"}) {
    auto plan = SkipPlan::parse(spec, 3);
    INFO(spec);
    CHECK(max_rel_error(m->forward(ids_tensor(kIds), fwd(&plan)).squeeze(0), reference_logits(m, kIds, plan)) < 1e-5);
  }
}

TEST_CASE("a skipped attention sub-layer neither reads nor writes its KV cache", "[model][skip][cache]") {
  auto cfg = tiny_llama_config();
  auto m = random_model(cfg, 7);
  torch::InferenceMode im;
  KVCache cache(cfg, 1, 32, torch::kFloat, torch::kCPU);
  auto sentinel = torch::full_like(cache.keys(1), 123.0);
  cache.keys(1).copy_(sentinel);
  cache.values(1).copy_(sentinel);
  auto plan = SkipPlan::parse("a1", 3);
  auto opt = fwd(&plan, nullptr, &cache);
  m->forward(ids_tensor({kIds.begin(), kIds.begin() + 5}), opt);
  m->forward(ids_tensor({kIds[5]}), opt);
  CHECK(cache.layer_length(1) == 0);
  CHECK(torch::equal(cache.keys(1), sentinel));
  CHECK(torch::equal(cache.values(1), sentinel));
  CHECK(cache.layer_length(0) == 6);
  CHECK(cache.layer_length(2) == 6);
  // Changing the plan mid-sequence would read a cache the layer never wrote: refused.
  CHECK_THROWS(m->forward(ids_tensor({kIds[6]}), fwd(nullptr, nullptr, &cache)));
}

TEST_CASE("observer sees each sub-layer that runs, with in and out of the residual stream", "[model][observer]") {
  auto cfg = tiny_llama_config();
  auto m = random_model(cfg, 8);
  torch::NoGradGuard ng;
  std::vector<std::string> seen;
  torch::Tensor last_out;
  bool chained = true;
  SubLayerObserver obs = [&](const SubLayerEvent& e) {
    if (last_out.defined()) chained = chained && torch::equal(last_out, e.input);
    last_out = e.output;
    seen.push_back(to_string(SubLayer{e.layer, e.kind}));
    CHECK(e.prefill);
  };
  auto plan = SkipPlan::parse("f0,a2", 3);
  m->forward(ids_tensor(kIds), fwd(&plan, &obs));
  std::vector<std::string> expected = {"a0", "a1", "f1", "f2"};
  CHECK(seen == expected);
  CHECK(chained);
}

TEST_CASE("bf16 and f16 forwards stay close to f32", "[model][dtype]") {
  auto cfg = tiny_llama_config();
  auto m32 = random_model(cfg, 9);
  torch::NoGradGuard ng;
  auto ref = m32->forward(ids_tensor(kIds));
  for (auto dt : {torch::kBFloat16, torch::kHalf}) {
    if (!dtype_supported(dt, torch::kCPU)) {
      // LibTorch 1.13 has no f16 matmul on CPU: the runtime refuses it with a clear message.
      CHECK_THROWS_WITH(parse_dtype("f16", torch::kCPU), Catch::Contains("not supported on cpu"));
      continue;
    }
    CausalLM m(cfg, Runtime{torch::kCPU, dt});
    auto src = m32->named_parameters();
    for (auto& p : m->named_parameters()) p.value().copy_(src[p.key()]);
    auto out = m->forward(ids_tensor(kIds));
    CHECK(out.scalar_type() == torch::kFloat);
    CHECK(max_rel_error(out, ref) < 0.05);
  }
}
