// The latency model: the counts it multiplies (hand counts), its prediction from hand-chosen
// coefficients, the calibration file's round trip and refusals, and the fit on points made from
// known coefficients.

#include <fstream>

#include <catch2/catch.hpp>

#include "litestage/model/latency_calibration.hpp"
#include "litestage/model/latency_model.hpp"
#include "litestage/util/error.hpp"
#include "model_fixtures.hpp"
#include "support.hpp"

using namespace litestage;
using namespace litestage::test;

TEST_CASE("forward cost counts forwards, sub-layer forwards, KV bytes and several-row FLOPs by hand", "[model][latency]") {
  const ModelConfig c = tiny_llama_config();  // 3 layers, hidden 32, q 32, kv 16, FFN 48, vocab 97
  const SkipPlan plan = SkipPlan::parse("a1,f2", 3);  // 2 attention and 2 FFN sub-layers run
  const ForwardCost call = forward_cost(c, plan, /*prompt*/ 5, /*decode*/ 3, /*f32*/ 4);
  CHECK(call.forwards == 4);            // the prefill and 3 decode steps
  CHECK(call.sublayer_forwards == 16);  // 4 sub-layers in each
  // KV read per attention sub-layer: the prefill's 5 positions, then 6, 7, 8 = 26 positions of
  // 2 (keys, values) x 16 x 4 bytes, in 2 sub-layers.
  CHECK(call.kv_bytes == Approx(2 * 26 * 2 * 16 * 4.0));
  // The prefill (5 rows, a short forward): attention 2 x [5 x (2*32*64 + 2*32*32) + 4*32*(1+..+5)]
  // = 65280, FFN 2 x 5 x 6*32*48 = 92160, lm_head 2*32*97 = 6208.
  CHECK(call.shortrow_flops == Approx(65280.0 + 92160.0 + 6208.0));
  CHECK(call.multirow_flops == 0);
  // Over kShortForwardRows rows the prefill is a long forward: 17 rows, attention
  // 2 x [17 x 6144 + 4*32*(1+..+17)] = 2 x [104448 + 19584] = 248064, FFN 2 x 17 x 9216 = 313344.
  const ForwardCost long_prefill = forward_cost(c, plan, 17, 0, 4);
  CHECK(long_prefill.multirow_flops == Approx(248064.0 + 313344.0 + 6208.0));
  CHECK(long_prefill.shortrow_flops == 0);
  // A 2-row forward after 5 cached positions reads the weights once, like one decode step.
  const ForwardCost tail = forward_cost(c, plan, 7, 0, 4, /*cached*/ 5);
  CHECK(tail.forwards == 1);
  CHECK(tail.sublayer_forwards == 4);
  CHECK(tail.weight_bytes == Approx(18464.0 * 4));
  CHECK(tail.kv_bytes == Approx(2 * 7 * 2 * 16 * 4.0));
  // attention 2 x [2 x 6144 + 4*32*(6+7)] = 27904, FFN 2 x 2 x 9216 = 36864, lm_head 6208
  CHECK(tail.shortrow_flops == Approx(27904.0 + 36864.0 + 6208.0));
  CHECK(tail.flops == Approx(tail.shortrow_flops));
  // A decode step alone has no several-row FLOPs.
  CHECK(forward_cost(c, plan, 1, 0, 4).multirow_flops == 0);
  CHECK(forward_cost(c, plan, 1, 0, 4).shortrow_flops == 0);
}

TEST_CASE("the latency model's prediction from hand-chosen coefficients and counts", "[model][latency]") {
  ForwardCost cost;
  cost.forwards = 4;
  cost.sublayer_forwards = 16;
  cost.weight_bytes = 295424;
  cost.kv_bytes = 6656;
  cost.flops = 279808;
  cost.multirow_flops = 163648;
  cost.shortrow_flops = 70976;
  const LatencyModel m = LatencyModel::from_coefficients({1e-3, 1e-4, 1e-9, 2e-9, 1e-10, 1e-11, 1e-12}, "hand");
  // 4e-3 + 16e-4 + 295424e-9 + 6656 x 2e-9 + (279808 - 163648 - 70976) x 1e-10 + 163648 x 1e-11
  // + 70976 x 1e-12 = 0.005914961856
  CHECK(m.predict(cost) == Approx(0.005914961856).epsilon(1e-12));
  // Additive: two calls predict twice one.
  ForwardCost two = cost;
  two += cost;
  CHECK(m.predict(two) == Approx(2 * 0.005914961856).epsilon(1e-12));
  // The defaults are usable: every coefficient finite and >= 0, a decode step costs something.
  for (double x : LatencyModel::defaults().coefficients()) CHECK(x >= 0);
  CHECK(LatencyModel::defaults().predict(forward_cost(tiny_llama_config(), SkipPlan(3), 1, 0, 4)) > 0);
}

TEST_CASE("a calibration file round-trips and a malformed one is refused with the key named", "[model][latency]") {
  const auto dir = temp_dir("latency_model");
  const std::string file = (dir / "latency.json").string();
  const LatencyModel m = LatencyModel::from_coefficients({4e-5, 1e-6, 3e-11, 2e-10, 0, 7e-12, 2e-11}, "test machine");
  save_latency_model(m, file);
  const LatencyModel back = load_latency_model(file);
  CHECK(back.coefficients() == m.coefficients());
  CHECK(back.source == "test machine");
  CHECK(back.hash() == m.hash());
  CHECK(LatencyModel::from_coefficients({5e-5, 1e-6, 3e-11, 2e-10, 0, 7e-12, 2e-11}, "test machine").hash() != m.hash());
  CHECK(latency_model_or_defaults("").hash() == LatencyModel::defaults().hash());

  auto refused = [&](const std::string& text) {
    std::ofstream(file) << text;
    try {
      (void)load_latency_model(file);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  nlohmann::json j = m;
  j.erase("seconds_per_kv_byte");
  auto missing = refused(j.dump());
  CHECK_THAT(missing, Catch::Contains(file) && Catch::Contains("\"seconds_per_kv_byte\" missing"));
  j = m;
  j["seconds_per_forward"] = -1;
  CHECK_THAT(refused(j.dump()), Catch::Contains("\"seconds_per_forward\" must be a finite number >= 0") &&
                                    Catch::Contains("got -1"));
  j = m;
  j["seconds_per_forward"] = "fast";
  CHECK_THAT(refused(j.dump()), Catch::Contains("\"seconds_per_forward\" must be a finite number"));
  j = m;
  j["format"] = "litestage-budget-profile/1";
  CHECK_THAT(refused(j.dump()), Catch::Contains("\"format\" must be \"litestage-latency-model/2\""));
  j["format"] = "litestage-latency-model/1";  // an earlier version's file: measure again
  CHECK_THAT(refused(j.dump()), Catch::Contains("without the short-forward term") &&
                                    Catch::Contains("litestage bench --calibrate"));
  CHECK_THAT(refused("{\"format\": "), Catch::Contains(file) && Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(load_latency_model((dir / "absent.json").string()), Catch::Contains("absent.json"));
}

TEST_CASE("the fit recovers times made by known coefficients, on points it did not see too", "[model][latency]") {
  const ModelConfig c = tiny_llama_config();
  const LatencyModel truth = LatencyModel::from_coefficients({5e-5, 2e-6, 4e-11, 3e-10, 1e-12, 8e-12, 3e-11}, "truth");
  std::vector<CalibrationPoint> points;
  for (const SkipPlan& plan : calibration_plans(3))
    for (int64_t p : {4, 9, 20}) {
      for (int64_t f : {0, 6}) points.push_back({"", forward_cost(c, plan, p, f, 4), 0, 0});
      points.push_back({"", forward_cost(c, plan, p + 3, 0, 4, p), 0, 0});
    }
  for (auto& p : points) p.seconds = truth.predict(p.cost);
  const LatencyModel fitted = fit_latency_model(points, "fit");
  for (const auto& p : points) CHECK(p.predicted == Approx(p.seconds).epsilon(1e-6));
  const ForwardCost unseen = forward_cost(c, SkipPlan::parse("a0,f1", 3), 30, 11, 4);
  CHECK(fitted.predict(unseen) == Approx(truth.predict(unseen)).epsilon(1e-5));
  CHECK(fitted.source == "fit");
  // Fewer points than coefficients cannot be fitted.
  std::vector<CalibrationPoint> few(points.begin(), points.begin() + 3);
  CHECK_THROWS_WITH(fit_latency_model(few, "x"), Catch::Contains("3 points for 7 coefficients"));
}
