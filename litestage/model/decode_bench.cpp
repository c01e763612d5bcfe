#include "litestage/model/decode_bench.hpp"

#include <algorithm>
#include <cmath>

#include "litestage/kernels/matvec.hpp"
#include "litestage/kernels/weight_memory.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

SkipPlan plan_for_fraction(double fraction, int layers) {
  std::vector<SubLayer> order;
  for (int l = layers - 1; l >= 0; --l) {
    order.push_back({l, SubLayerKind::FFN});
    order.push_back({l, SubLayerKind::Attention});
  }
  auto k = static_cast<size_t>(std::lround(fraction * 2 * layers));
  return SkipPlan::from_ranking(order, std::min(k, order.size()), layers);
}

ReadProbe::ReadProbe(int64_t bytes, const Runtime& rt)
    : device_(rt.device),
      bytes_(static_cast<double>(bytes)),
      buffer_(empty_weight({std::max<int64_t>(bytes / 4, 1024)}, torch::TensorOptions().dtype(torch::kFloat).device(rt.device))
                  .fill_(1)) {  // in memory mapped as the weights are (kernels/weight_memory.hpp)
  pass();  // the first pass warms caches and page tables
}

double ReadProbe::pass() const {
  synchronize(device_);
  Timer t;
  if (buffer_.is_cpu())
    (void)read_sum(buffer_.data_ptr<float>(), buffer_.numel());  // as decode reads its rows
  else
    (void)buffer_.sum().item<float>();
  synchronize(device_);
  return t.seconds() * bytes_ / (static_cast<double>(buffer_.numel()) * 4);
}

int64_t decode_read_bytes(CausalLM& model) {
  const auto& cfg = model->config();
  int64_t weight_bytes = 0;
  for (const auto& p : model->parameters()) weight_bytes += p.numel() * p.element_size();
  // Per decoded token: every projection and lm_head, not the whole embedding table.
  return weight_bytes -
         (cfg.tie_word_embeddings ? 0 : cfg.vocab_size * cfg.hidden_size * c10::elementSize(model->runtime().dtype));
}

namespace {

double median_pass(const ReadProbe& probe) {
  std::vector<double> passes;
  for (int i = 0; i < 3; ++i) passes.push_back(probe.pass());
  return median(passes);
}

}  // namespace

ReadFloor::ReadFloor(CausalLM& model)
    : bytes(decode_read_bytes(model)),
      probe(bytes, model->runtime()),
      seconds(median_pass(probe)),
      bandwidth(probe.bandwidth(seconds)),
      paired(bytes > kPairedFloorBytes) {}

DecodeMeasurement measure_decode(CausalLM& model, const SkipPlan& plan, const std::vector<int64_t>& prompt, int gen_len,
                                 int warmup, int repeats, bool kernels, const ReadFloor& floor) {
  c10::InferenceMode im;
  const auto& rt = model->runtime();
  const int64_t P = static_cast<int64_t>(prompt.size());
  KVCache cache(model->config(), 1, P + gen_len + 1, rt.dtype, rt.device);
  auto input = torch::tensor(prompt).view({1, P}).to(rt.device);
  ForwardOptions fo;
  fo.skip = &plan;
  fo.cache = &cache;
  fo.last_logits_only = true;
  fo.kernels = kernels;
  std::vector<double> prefill, decode, ratio;
  for (int rep = 0; rep < warmup + repeats; ++rep) {
    cache.reset();
    synchronize(rt.device);
    Timer t;
    auto logits = model->forward(input, fo);
    auto next = logits.view({1, -1}).argmax(-1).view({1, 1});
    synchronize(rt.device);
    double tp = t.seconds();
    double steps = 0, floors = 0;
    for (int g = 0; g < gen_len; ++g) {
      t.reset();
      logits = model->forward(next, fo);
      next = logits.view({1, -1}).argmax(-1).view({1, 1});
      (void)next.item<int64_t>();  // a real decode loop reads the token back every step
      synchronize(rt.device);
      steps += t.seconds();
      floors += floor.paired ? floor.probe.pass() : floor.seconds;
    }
    if (rep >= warmup) {
      prefill.push_back(tp);
      decode.push_back(steps / gen_len);
      ratio.push_back(steps / floors);
    }
  }
  return {median(prefill), median(decode), median(ratio)};
}

}  // namespace litestage
