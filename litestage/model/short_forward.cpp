#include "litestage/model/short_forward.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "litestage/model/kv_cache.hpp"
#include "litestage/kernels/runtime.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

ShortForwardTiming time_short_forward(CausalLM& model, const SkipPlan& plan, const std::vector<int64_t>& prompt,
                                      int rows, int warmup, int repeats, bool kernels) {
  LITESTAGE_CHECK(rows >= 1 && repeats >= 1 && warmup >= 0 && !prompt.empty(),
                  "short forward: rows and repeats must be >= 1, warmup >= 0, and the prompt not empty");
  c10::InferenceMode im;
  const auto& rt = model->runtime();
  const int64_t P = static_cast<int64_t>(prompt.size());
  KVCache cache(model->config(), 1, P + rows, rt.dtype, rt.device);
  ForwardOptions fo;
  fo.skip = &plan;
  fo.cache = &cache;
  fo.kernels = kernels;
  fo.last_logits_only = true;
  (void)model->forward(torch::tensor(prompt).view({1, P}).to(rt.device), fo);
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(rows));
  const auto cfg = model->config();
  auto timed = [&](int64_t n) {
    auto ids = at::randint(0, cfg.vocab_size, {1, n}, gen, torch::TensorOptions().dtype(torch::kLong)).to(rt.device);
    fo.last_logits_only = n == 1;  // a verify step needs every row's logits
    synchronize(rt.device);
    Timer t;
    auto logits = model->forward(ids, fo);
    (void)logits.argmax(-1).to(torch::kCPU);  // a real step reads its tokens back
    synchronize(rt.device);
    const double s = t.seconds();
    cache.truncate(P);
    return s;
  };
  std::vector<double> steps, forwards;
  for (int r = 0; r < warmup + repeats; ++r) {
    const double step = timed(1), forward = timed(rows);
    if (r < warmup) continue;
    steps.push_back(step);
    forwards.push_back(forward);
  }
  return {rows, median(forwards), median(steps)};
}

}  // namespace litestage
