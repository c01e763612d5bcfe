#include <catch2/catch.hpp>

#include "litestage/model/config.hpp"
#include "litestage/model/skip_plan.hpp"
#include "litestage/util/error.hpp"

// SkipPlan as data: its text form (CLI --skip, YAML), rankings, and the ideal-speedup arithmetic
// the bench and the budget search report against.

using namespace litestage;

namespace {

ModelConfig tinyllama() {
  return ModelConfig::from_json(nlohmann::json{{"model_type", "llama"},
                                               {"vocab_size", 32000},
                                               {"hidden_size", 2048},
                                               {"intermediate_size", 5632},
                                               {"num_hidden_layers", 22},
                                               {"num_attention_heads", 32},
                                               {"num_key_value_heads", 4}});
}

SubLayer A(int l) { return {l, SubLayerKind::Attention}; }
SubLayer F(int l) { return {l, SubLayerKind::FFN}; }

}  // namespace

TEST_CASE("skip plan: parse gives the sub-layers named", "[model][skip_plan]") {
  auto p = SkipPlan::parse("a1,a4-6,f2,b7", 8);
  CHECK(p.num_layers() == 8);
  CHECK(p.skipped_attention() == std::vector<int>{1, 4, 5, 6, 7});
  CHECK(p.skipped_ffn() == std::vector<int>{2, 7});
  CHECK(p.num_skipped() == 7);
  CHECK(p.skipped() == std::vector<SubLayer>{A(1), F(2), A(4), A(5), A(6), A(7), F(7)});
  CHECK(p.skip_attention(5));
  CHECK_FALSE(p.skip_ffn(5));
  CHECK(p.skips(F(7)));
  CHECK_FALSE(p.skips(F(0)));
  // A layer past the plan's depth is never skipped.
  CHECK_FALSE(p.skip_attention(100));
  CHECK_FALSE(SkipPlan().skip_ffn(0));
}

TEST_CASE("skip plan: to_string is canonical and parse(to_string) round trips", "[model][skip_plan]") {
  struct Case {
    const char* spec;
    const char* canonical;
  };
  for (auto c : {Case{"a1,a4-6,f2,b7", "a1,a4-7,f2,f7"}, Case{"", "none"}, Case{"none", "none"},
                 Case{"  none ", "none"}, Case{"b0-7", "a0-7,f0-7"}, Case{"f3,a3", "a3,f3"},
                 Case{"a2,a1,a0", "a0-2"}, Case{"a1-3,a2,a3-3", "a1-3"}, Case{" a5 , f0 ", "a5,f0"},
                 Case{"a0,a2,a4,a6", "a0,a2,a4,a6"}, Case{"f6-7,b0", "a0,f0,f6-7"}, Case{"a1,,f2", "a1,f2"}}) {
    INFO("spec '" << c.spec << "'");
    auto p = SkipPlan::parse(c.spec, 8);
    CHECK(p.to_string() == c.canonical);
    auto q = SkipPlan::parse(p.to_string(), 8);
    CHECK(q == p);
    CHECK(q.to_string() == p.to_string());
  }
  CHECK(SkipPlan::parse("none", 8).empty());
  CHECK(SkipPlan(8).to_string() == "none");
}

TEST_CASE("skip plan: sub-layer names", "[model][skip_plan]") {
  CHECK(to_string(A(3)) == "a3");
  CHECK(to_string(F(12)) == "f12");
  CHECK(parse_sublayer("f12") == F(12));
  CHECK(parse_sublayer(" a0 ") == A(0));
  CHECK(kind_name(SubLayerKind::Attention) == "attn");
  CHECK(kind_name(SubLayerKind::FFN) == "ffn");
  CHECK_THROWS_WITH(parse_sublayer("b3"), Catch::Contains("expected 'a<layer>'"));
  CHECK_THROWS_WITH(parse_sublayer("a"), Catch::Contains("expected 'a<layer>'"));
  CHECK_THROWS_WITH(parse_sublayer("ax"), Catch::Contains("'x' is not a layer number"));
  CHECK(A(2) < F(2));
  CHECK(F(1) < A(2));
}

TEST_CASE("skip plan: bad specs name the item", "[model][skip_plan][errors]") {
  auto refuses = [](const std::string& spec, const std::string& needle) {
    INFO("spec '" << spec << "'");
    CHECK_THROWS_AS(SkipPlan::parse(spec, 8), Error);
    CHECK_THROWS_WITH(SkipPlan::parse(spec, 8), Catch::Contains(needle));
  };
  refuses("a8", "skip spec item 'a8': layer 8 out of range (model has 8 layers)");
  refuses("f2-9", "skip spec item 'f2-9': layer 9 out of range");
  refuses("a1,x3", "skip spec item 'x3': must start with a (attention), f (FFN) or b (block)");
  refuses("3", "skip spec item '3': must start with");
  refuses("a", "skip spec item 'a': missing layer number");
  refuses("f1-", "skip spec item 'f1-': missing layer number");
  refuses("a-2", "skip spec item 'a-2': missing layer number");
  refuses("a5-2", "skip spec item 'a5-2': empty range");
  refuses("a1.5", "skip spec item 'a1.5': '1.5' is not a layer number");
  refuses("a 3", "is not a layer number");
  refuses("b99999999999", "layer number too large");
  // A plan with no layers refuses every sub-layer.
  CHECK_THROWS_WITH(SkipPlan::parse("a0", 0), Catch::Contains("out of range"));
}

TEST_CASE("skip plan: from_ranking skips the first k", "[model][skip_plan]") {
  std::vector<SubLayer> ranking = {F(3), A(0), F(1), A(3), F(0)};
  CHECK(SkipPlan::from_ranking(ranking, 0, 4).empty());
  auto p = SkipPlan::from_ranking(ranking, 2, 4);
  CHECK(p.num_layers() == 4);
  CHECK(p.skipped() == std::vector<SubLayer>{A(0), F(3)});
  CHECK(p.to_string() == "a0,f3");
  CHECK(SkipPlan::from_ranking(ranking, 5, 4).to_string() == "a0,a3,f0-1,f3");
  CHECK_THROWS_WITH(SkipPlan::from_ranking(ranking, 6, 4), Catch::Contains("the ranking has 5"));
  // A ranking naming a layer the model lacks is refused, not silently dropped.
  CHECK_THROWS_WITH(SkipPlan::from_ranking({A(7)}, 1, 4), Catch::Contains("a7 out of range"));
  // Each prefix is contained in the next.
  for (size_t k = 1; k <= ranking.size(); ++k) {
    auto prev = SkipPlan::from_ranking(ranking, k - 1, 4), cur = SkipPlan::from_ranking(ranking, k, 4);
    CHECK(cur.num_skipped() == k);
    for (const auto& s : prev.skipped()) CHECK(cur.skips(s));
  }
}

TEST_CASE("skip plan: set and equality", "[model][skip_plan]") {
  SkipPlan p(4);
  p.set(A(2));
  p.set(F(0));
  CHECK(p == SkipPlan::parse("f0,a2", 4));
  p.set(A(2), false);
  CHECK(p == SkipPlan::parse("f0", 4));
  CHECK(p != SkipPlan::parse("a0", 4));
  CHECK_THROWS_WITH(p.set(A(4)), Catch::Contains("a4 out of range (plan has 4 layers)"));
  CHECK_THROWS(p.set(F(-1)));
  // Equal when they skip the same sub-layers, whatever their declared depth.
  CHECK(SkipPlan::parse("a1", 4) == SkipPlan::parse("a1", 8));
  CHECK(SkipPlan() == SkipPlan(22));
  CHECK(SkipPlan::parse("a1", 4) != SkipPlan::parse("f1", 4));
}

TEST_CASE("skip plan: removed_weight_fraction", "[model][skip_plan]") {
  auto c = tinyllama();
  const double d = 2048, q = 32 * 64, kv = 4 * 64;
  const double attn = d * q + 2 * d * kv + q * d + d, ffn = 3 * d * 5632 + d;
  CHECK(sublayer_parameters(c, SubLayerKind::Attention) == static_cast<int64_t>(attn));
  CHECK(sublayer_parameters(c, SubLayerKind::FFN) == static_cast<int64_t>(ffn));
  const double total = 22 * (attn + ffn) + 32000 * d;  // every layer + lm_head

  CHECK(SkipPlan(22).removed_weight_fraction(c) == 0.0);
  CHECK(SkipPlan().removed_weight_fraction(c) == 0.0);
  CHECK(SkipPlan::parse("a3", 22).removed_weight_fraction(c) == Approx(attn / total));
  CHECK(SkipPlan::parse("f3", 22).removed_weight_fraction(c) == Approx(ffn / total));
  CHECK(SkipPlan::parse("b0-21", 22).removed_weight_fraction(c) == Approx(22 * (attn + ffn) / total));
  // Everything but lm_head: about 93% of TinyLlama's per-token bytes.
  double all = SkipPlan::parse("b0-21", 22).removed_weight_fraction(c);
  CHECK(all > 0.9);
  CHECK(all < 1.0);
  // Additive over sub-layers.
  CHECK(SkipPlan::parse("a3,f5", 22).removed_weight_fraction(c) ==
        Approx(SkipPlan::parse("a3", 22).removed_weight_fraction(c) +
               SkipPlan::parse("f5", 22).removed_weight_fraction(c)));
  // The FFN of a TinyLlama layer reads ~3.7x the bytes of its attention (GQA keeps k/v small).
  CHECK(SkipPlan::parse("f3", 22).removed_weight_fraction(c) /
            SkipPlan::parse("a3", 22).removed_weight_fraction(c) ==
        Approx(3.666).epsilon(1e-3));
}
