#include "litestage/model/latency_calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "litestage/model/kv_cache.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

std::vector<SkipPlan> calibration_plans(int layers) {
  const int half = layers / 2, quarter = std::max(1, layers / 4);
  std::vector<SubLayer> upper_attn, upper_ffn, from_last;
  for (int l = layers - 1; l >= 0; --l) {
    if (l >= layers - half) upper_attn.push_back({l, SubLayerKind::Attention});
    if (l >= layers - half) upper_ffn.push_back({l, SubLayerKind::FFN});
    from_last.push_back({l, SubLayerKind::FFN});
    from_last.push_back({l, SubLayerKind::Attention});
  }
  const auto n = [](int k) { return static_cast<size_t>(std::max(0, k)); };
  return {SkipPlan(layers), SkipPlan::from_ranking(upper_attn, upper_attn.size(), layers),
          SkipPlan::from_ranking(upper_ffn, upper_ffn.size(), layers),
          SkipPlan::from_ranking(from_last, n(2 * quarter), layers), SkipPlan::from_ranking(from_last, n(2 * half), layers)};
}

namespace {

// One plan and prompt: per repeat, the prefill, `decode` steps, then each tail on the rolled-back
// cache; the medians become points.
void measure_prompt(CausalLM& model, const SkipPlan& plan, const std::vector<int64_t>& prompt,
                    const CalibrationSettings& s, std::vector<CalibrationPoint>& out) {
  const auto& rt = model->runtime();
  const auto& cfg = model->config();
  const int64_t P = static_cast<int64_t>(prompt.size());
  const int64_t longest = std::max<int64_t>(s.decode, s.tails.empty() ? 0 : *std::max_element(s.tails.begin(), s.tails.end()));
  KVCache cache(cfg, 1, P + longest + 1, rt.dtype, rt.device);
  ForwardOptions fo;
  fo.skip = &plan;
  fo.cache = &cache;
  fo.kernels = s.kernels;
  fo.last_logits_only = true;
  const auto input = torch::tensor(prompt).view({1, P}).to(rt.device);
  const auto forward = [&](const torch::Tensor& ids) {
    auto logits = model->forward(ids, fo);
    auto next = logits.view({1, -1}).argmax(-1).view({1, 1});
    (void)next.item<int64_t>();  // a generate loop reads each token back
    synchronize(rt.device);
    return next;
  };
  std::vector<double> prefill, call;
  std::vector<std::vector<double>> tails(s.tails.size());
  for (int rep = 0; rep < s.warmup + s.repeats; ++rep) {
    cache.reset();
    synchronize(rt.device);
    Timer t;
    auto next = forward(input);
    const double tp = t.seconds();
    for (int g = 0; g < s.decode; ++g) next = forward(next);
    const double tc = t.seconds();
    for (size_t i = 0; i < s.tails.size(); ++i) {
      cache.truncate(P);
      auto ids = input.index({torch::indexing::Slice(), torch::indexing::Slice(0, s.tails[i])});
      Timer tt;
      (void)forward(ids);
      if (rep >= s.warmup) tails[i].push_back(tt.seconds());
    }
    if (rep < s.warmup) continue;
    prefill.push_back(tp);
    call.push_back(tc);
  }
  const int64_t bytes = static_cast<int64_t>(c10::elementSize(rt.dtype));
  const std::string where = "skip " + plan.to_string() + " prompt " + std::to_string(P);
  // The fastest repeat: the machine's own cost, without the other load a shared machine adds.
  const auto fastest = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  out.push_back({where, forward_cost(cfg, plan, P, 0, bytes), fastest(prefill), 0});
  out.push_back({where + " + " + std::to_string(s.decode) + " decode", forward_cost(cfg, plan, P, s.decode, bytes),
                 fastest(call), 0});
  for (size_t i = 0; i < s.tails.size(); ++i)
    out.push_back({where + ", " + std::to_string(s.tails[i]) + "-row forward on its cache",
                   forward_cost(cfg, plan, P + s.tails[i], 0, bytes, P), fastest(tails[i]), 0});
}

}  // namespace

std::vector<CalibrationPoint> measure_calibration_points(CausalLM& model, const CalibrationSettings& s) {
  LITESTAGE_CHECK(s.repeats >= 1 && s.warmup >= 0 && s.decode >= 1 && !s.prompts.empty(),
                  "calibration: repeats and decode steps must be >= 1, warmup >= 0, and some prompt lengths given");
  c10::InferenceMode im;
  const auto& cfg = model->config();
  const int tail_max = s.tails.empty() ? 0 : *std::max_element(s.tails.begin(), s.tails.end());
  const int64_t room = cfg.max_position_embeddings - std::max(s.decode, tail_max) - 1;
  for (int t : s.tails) LITESTAGE_CHECK(t >= 1, "calibration: short forwards need >= 1 row, got ", t);
  auto gen = at::detail::createCPUGenerator(s.seed + 1);
  std::vector<CalibrationPoint> out;
  for (const SkipPlan& plan : calibration_plans(model->num_layers())) {
    for (int p : s.prompts) {
      const int64_t P = std::min<int64_t>(p, room);
      LITESTAGE_CHECK(P >= std::max(1, tail_max), "calibration: prompt of ", p, " tokens leaves no room in the model's ",
                      cfg.max_position_embeddings, " positions");
      auto ids = at::randint(0, cfg.vocab_size, {P}, gen, torch::TensorOptions().dtype(torch::kLong));
      measure_prompt(model, plan, std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + P), s, out);
    }
  }
  return out;
}

namespace {

using Terms = std::array<double, LatencyModel::kTerms>;

// Least squares on the terms in `mask` (rows already weighted and scaled): the normal equations
// by Gaussian elimination with partial pivoting. False when they are singular.
bool solve_subset(const std::vector<Terms>& x, const std::vector<double>& y, unsigned mask, Terms& coef) {
  std::vector<int> cols;
  for (int j = 0; j < LatencyModel::kTerms; ++j)
    if (mask & (1u << j)) cols.push_back(j);
  const size_t n = cols.size();
  std::vector<std::vector<double>> a(n, std::vector<double>(n + 1, 0));
  for (size_t r = 0; r < x.size(); ++r)
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) a[i][j] += x[r][cols[i]] * x[r][cols[j]];
      a[i][n] += x[r][cols[i]] * y[r];
    }
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    if (std::abs(a[pivot][c]) < 1e-12) return false;
    std::swap(a[c], a[pivot]);
    for (size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k <= n; ++k) a[r][k] -= f * a[c][k];
    }
  }
  coef.fill(0);
  for (size_t i = 0; i < n; ++i) coef[cols[i]] = a[i][n] / a[i][i];
  return true;
}

}  // namespace

LatencyModel fit_latency_model(std::vector<CalibrationPoint>& points, std::string source) {
  LITESTAGE_CHECK(points.size() >= static_cast<size_t>(LatencyModel::kTerms),
                  "latency fit: ", points.size(), " points for ", LatencyModel::kTerms, " coefficients");
  // Each row divided by its measured time (relative errors), each column by its largest value.
  Terms scale{};
  for (const auto& p : points) {
    LITESTAGE_CHECK(p.seconds > 0, "latency fit: point '", p.what, "' measured ", p.seconds, " s");
    const Terms f = LatencyModel::features(p.cost);
    for (int j = 0; j < LatencyModel::kTerms; ++j) scale[j] = std::max(scale[j], f[j] / p.seconds);
  }
  std::vector<Terms> x;
  std::vector<double> y(points.size(), 1.0);
  for (const auto& p : points) {
    Terms f = LatencyModel::features(p.cost);
    for (int j = 0; j < LatencyModel::kTerms; ++j) f[j] = scale[j] > 0 ? f[j] / p.seconds / scale[j] : 0;
    x.push_back(f);
  }
  Terms best{};
  double best_residual = std::numeric_limits<double>::infinity();
  for (unsigned mask = 1; mask < (1u << LatencyModel::kTerms); ++mask) {
    Terms coef;
    if (!solve_subset(x, y, mask, coef)) continue;
    if (std::any_of(coef.begin(), coef.end(), [](double c) { return c < 0; })) continue;
    double residual = 0;
    for (size_t r = 0; r < x.size(); ++r) {
      double pred = 0;
      for (int j = 0; j < LatencyModel::kTerms; ++j) pred += coef[j] * x[r][j];
      residual += (pred - y[r]) * (pred - y[r]);
    }
    if (residual < best_residual) {
      best_residual = residual;
      best = coef;
    }
  }
  LITESTAGE_CHECK(std::isfinite(best_residual), "latency fit: no fit with every coefficient >= 0");
  for (int j = 0; j < LatencyModel::kTerms; ++j) best[j] = scale[j] > 0 ? best[j] / scale[j] : 0;
  LatencyModel model = LatencyModel::from_coefficients(best, std::move(source));
  for (auto& p : points) p.predicted = model.predict(p.cost);
  return model;
}

}  // namespace litestage
