// litestage bench: prefill throughput and decode latency for the full model and for skip
// fractions, with the realized speedup set against the ideal one, and the memory-bandwidth floor
// measured on the spot.

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <ATen/CPUGeneratorImpl.h>

#include "command.hpp"
#include "litestage/model/blas.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/model/flop_peak.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/matvec.hpp"
#include "litestage/model/weight_memory.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/malloc_reuse.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/timer.hpp"
#include "model_setup.hpp"

namespace litestage::cli {
namespace {

// Sub-layers to skip for a fraction of all 2L: from the last layer backwards, FFN then
// attention, so the first layers (which models rely on most) go last.
SkipPlan plan_for_fraction(double fraction, int layers) {
  std::vector<SubLayer> order;
  for (int l = layers - 1; l >= 0; --l) {
    order.push_back({l, SubLayerKind::FFN});
    order.push_back({l, SubLayerKind::Attention});
  }
  auto k = static_cast<size_t>(std::lround(fraction * 2 * layers));
  return SkipPlan::from_ranking(order, std::min(k, order.size()), layers);
}

// Streaming reads: one pass sums a buffer as large as the bytes a decode step reads.
class ReadProbe {
 public:
  ReadProbe(int64_t bytes, const Runtime& rt)
      : device_(rt.device),
        bytes_(static_cast<double>(bytes)),
        buffer_(empty_weight({std::max<int64_t>(bytes / 4, 1024)}, torch::TensorOptions().dtype(torch::kFloat).device(rt.device))
                    .fill_(1)) {  // in memory mapped as the weights are (model/weight_memory.hpp)
    pass();  // the first pass warms caches and page tables
  }
  // Seconds one pass takes per `bytes` read.
  double pass() const {
    synchronize(device_);
    Timer t;
    if (buffer_.is_cpu())
      (void)read_sum(buffer_.data_ptr<float>(), buffer_.numel());  // as decode reads its rows
    else
      (void)buffer_.sum().item<float>();
    synchronize(device_);
    return t.seconds() * bytes_ / (static_cast<double>(buffer_.numel()) * 4);
  }
  double bandwidth(double seconds) const { return bytes_ / seconds; }  // bytes/s

 private:
  c10::Device device_;
  double bytes_;
  torch::Tensor buffer_;
};

// How the weights (and the read pass) are paged: huge pages read faster (model/weight_memory.hpp).
void print_page_use() {
  const int64_t huge = process_huge_page_bytes();
  std::printf("memory pages: transparent huge pages '%s'", transparent_huge_page_mode().c_str());
  if (huge >= 0) std::printf(", %.1f MB of this process on 2 MB pages", huge / 1e6);
  std::printf(" (weights and the read pass are mapped for them)\n");
  std::printf("memory reuse: %s\n", keep_freed_memory().detail.c_str());
}

// What the run's prompts multiply at and under: a GEMM figure and the multiply-add peak (0: none).
struct PromptCeilings {
  double gemm = 0, peak = 0;
};

// Matrix-product throughput through LibTorch in f32 and, where supported, bf16, so slow kernels show
// at a glance, and on CPU the prefill kernel's own f32 GEMM and the cores' multiply-add peak. The
// GEMM figure the run's prompts multiply at: the kernel's for f32 with kernels on, else LibTorch's
// for the run's dtype; the peak: f32's, or bf16 pairs' where bf16 multiplies natively (CPU only).
PromptCeilings print_gemm_throughput(const Runtime& rt, bool kernels) {
  constexpr int n = 1024;
  std::printf("GEMM %d^3:", n);
  PromptCeilings ours;
  for (c10::ScalarType dt : {c10::kFloat, c10::kBFloat16}) {
    if (!dtype_supported(dt, rt.device)) continue;
    const double gflops = measure_gemm_gflops(dt, rt.device, n);
    if (dt == rt.dtype) ours.gemm = gflops;
    std::printf("  %s %.1f GFLOP/s", dtype_name(dt).c_str(), gflops);
  }
  std::printf("   (LibTorch: %s)\n", runtime_description(rt).c_str());
  if (rt.device.is_cpu()) {
    const double kernel = measure_kernel_gemm_gflops(n);
    std::printf("GEMM %d^3:  f32 %.1f GFLOP/s   (the prefill kernel's, %d threads; LibTorch's f32 products run OpenBLAS on one)\n",
                n, kernel, at::get_num_threads());
    if (rt.dtype == c10::kFloat && kernels) ours.gemm = kernel;
    const double f32 = f32_fma_peak_gflops(), pairs = bf16_pair_peak_gflops();
    std::printf("multiply-add peak:  f32 %.1f GFLOP/s", f32);
    if (pairs > 0) std::printf("  bf16 pairs %.1f GFLOP/s", pairs);
    std::printf("   (registers only, %d threads, %s)\n", at::get_num_threads(), vector_isa_name(vector_isa()));
    if (rt.dtype == c10::kFloat) ours.peak = f32;
    if (rt.dtype == c10::kBFloat16) ours.peak = pairs > 0 ? pairs : f32;
  }
  return ours;
}

// Models whose per-token reads exceed this get a read pass after every decode step (model weights
// larger than any last-level cache; smaller ones decode from cache).
constexpr int64_t kPairedFloorBytes = int64_t{64} << 20;

struct Measurement {
  double prefill_seconds;  // median
  double decode_seconds;   // median per token
  double floor_ratio;      // median over repeats of decode time / the read passes paired with it
};

// Each repeat: a prompt, then gen_len decode steps. The floor: with `paired`, a pass of `probe`
// after every step (side by side, so that drift in the machine's load hits both alike); else
// `floor_seconds` from start-up (a small model decodes from cache, which a pass would evict).
Measurement measure(CausalLM& model, const SkipPlan& plan, const std::vector<int64_t>& prompt, int gen_len,
                    int warmup, int repeats, bool kernels, const ReadProbe& probe, bool paired, double floor_seconds) {
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
      floors += paired ? probe.pass() : floor_seconds;
    }
    if (rep >= warmup) {
      prefill.push_back(tp);
      decode.push_back(steps / gen_len);
      ratio.push_back(steps / floors);
    }
  }
  return {median(prefill), median(decode), median(ratio)};
}

int run_bench(const std::vector<std::string>& args) {
  po::options_description desc("bench options");
  desc.add_options()
      ("model", po::value<std::string>()->default_value(""), "Hugging Face checkpoint directory")
      ("config", po::value<std::string>()->default_value(""),
       "config.json of a model to build with random weights instead (e.g. TinyLlama-1.1B's)")
      ("prompt-len", po::value<int>()->default_value(128), "prompt tokens (prefill)")
      ("gen-len", po::value<int>()->default_value(32), "decode steps per repeat")
      ("repeats", po::value<int>()->default_value(5), "timed repeats (median reported)")
      ("warmup", po::value<int>()->default_value(1), "untimed repeats first")
      ("skip-fraction", po::value<std::vector<double>>()->multitoken(),
       "fractions of the 2L sub-layers to skip (default 0 0.25 0.5)")
      ("seed", po::value<uint64_t>()->default_value(0), "seed for random weights and prompt ids")
      ("kernels", po::value<std::string>()->default_value("on"),
       "on: CPU steps through the plain-loop decode and prefill kernels; off: LibTorch's ops (to compare)");
  add_runtime_options(desc);
  po::variables_map vm;
  if (auto rc = parse_options("bench", "(--model DIR | --config config.json) [options]", desc, args, vm)) return *rc;
  std::string model_dir = vm["model"].as<std::string>(), config_file = vm["config"].as<std::string>();
  if (model_dir.empty() == config_file.empty()) throw_error("give exactly one of --model DIR or --config FILE");
  int prompt_len = vm["prompt-len"].as<int>(), gen_len = vm["gen-len"].as<int>();
  int repeats = vm["repeats"].as<int>(), warmup = vm["warmup"].as<int>();
  const std::string kernel_flag = vm["kernels"].as<std::string>();
  if (kernel_flag != "on" && kernel_flag != "off") throw_error("--kernels must be on or off, got '", kernel_flag, "'");
  const bool kernels = kernel_flag == "on";
  if (prompt_len < 1 || gen_len < 1 || repeats < 1 || warmup < 0)
    throw_error("--prompt-len, --gen-len and --repeats must be >= 1, --warmup >= 0");
  std::vector<double> fractions = {0.0, 0.25, 0.5};
  if (vm.count("skip-fraction")) fractions = vm["skip-fraction"].as<std::vector<double>>();
  for (double f : fractions)
    if (f < 0 || f > 1) throw_error("--skip-fraction values must be in [0, 1], got ", f);
  if (std::find(fractions.begin(), fractions.end(), 0.0) == fractions.end()) fractions.insert(fractions.begin(), 0.0);

  auto rt = setup_runtime(runtime_options(vm));
  uint64_t seed = vm["seed"].as<uint64_t>();
  CausalLM model{nullptr};
  if (!model_dir.empty()) {
    model = load_causal_lm(model_dir, rt);
  } else {
    model = CausalLM(ModelConfig::from_file(config_file), rt);
    model->init_weights(seed);
  }
  const auto& cfg = model->config();
  if (prompt_len + gen_len + 1 > cfg.max_position_embeddings)
    throw_error("--prompt-len + --gen-len exceed the model's ", cfg.max_position_embeddings, " positions");

  int64_t weight_bytes = 0;
  for (const auto& p : model->parameters()) weight_bytes += p.numel() * p.element_size();
  // Per decoded token: every projection and lm_head, not the whole embedding table.
  int64_t read_per_token = weight_bytes - (cfg.tie_word_embeddings ? 0 : cfg.vocab_size * cfg.hidden_size *
                                                                             c10::elementSize(rt.dtype));
  const ReadProbe probe(read_per_token, rt);
  std::vector<double> passes;
  for (int i = 0; i < 3; ++i) passes.push_back(probe.pass());
  const double floor_ms = median(passes) * 1e3, bw = probe.bandwidth(median(passes));
  const bool paired = read_per_token > kPairedFloorBytes;

  std::printf("model: %s  %s  %.1fM parameters  %.1f MB  %d layers  (%s, %d threads, %s)\n",
              model_dir.empty() ? (config_file + " [random weights]").c_str() : model_dir.c_str(),
              cfg.model_type.c_str(), cfg.num_parameters() / 1e6, weight_bytes / 1e6, model->num_layers(),
              dtype_name(rt.dtype).c_str(), at::get_num_threads(), rt.device.str().c_str());
  std::printf("read bandwidth: %.1f GB/s (sum over %.1f MB)  ->  decode floor %.2f ms/token%s\n", bw / 1e9,
              read_per_token / 1e6, floor_ms,
              paired ? " (now; /floor below divides each repeat's decode steps by a read pass after each step)" : "");
  if (rt.device.is_cpu()) print_page_use();
  const PromptCeilings ceilings = print_gemm_throughput(rt, kernels);
  std::printf("prompt %d tokens, %d decode steps, median of %d after %d warm-up\n\n", prompt_len, gen_len, repeats,
              warmup);

  auto gen = at::detail::createCPUGenerator(seed + 1);
  auto prompt_t = at::randint(0, cfg.vocab_size, {prompt_len}, gen, torch::TensorOptions().dtype(torch::kLong));
  std::vector<int64_t> prompt(prompt_t.data_ptr<int64_t>(), prompt_t.data_ptr<int64_t>() + prompt_len);

  std::printf("%-6s %-9s %-8s %14s %12s %9s %9s %9s %10s\n", "skip", "sublayers", "removed", "prefill tok/s",
              "decode ms", "/floor", "speedup", "ideal", "real/ideal");
  Measurement base{};
  for (double f : fractions) {
    auto plan = plan_for_fraction(f, model->num_layers());
    auto m = measure(model, plan, prompt, gen_len, warmup, repeats, kernels, probe, paired, floor_ms / 1e3);
    if (f == 0.0) base = m;
    double removed = plan.removed_weight_fraction(cfg);
    double ideal = 1.0 / (1.0 - removed);
    double real = base.decode_seconds / m.decode_seconds;
    std::printf("%-6.2f %3zu/%-5d %7.1f%% %14.1f %12.3f %9.2f %8.2fx %8.2fx %10.2f\n", f, plan.num_skipped(),
                2 * model->num_layers(), removed * 100, prompt_len / m.prefill_seconds, m.decode_seconds * 1e3,
                m.floor_ratio, real, ideal, real / ideal);
  }
  std::printf("\nspeedup: decode, full model / skipped; ideal: 1 / (1 - share of per-token weight bytes removed)\n");
  // The cost model's operations (model/cost.hpp: projections, attention, the last position's
  // lm_head) over the full model's median prefill time.
  const double flops = forward_cost(cfg, SkipPlan{}, prompt_len, 0, c10::elementSize(rt.dtype)).flops;
  const double achieved = flops / base.prefill_seconds / 1e9;
  std::printf("prefill, full model: %.2f GFLOP per prompt, %.1f GFLOP/s", flops / 1e9, achieved);
  if (ceilings.gemm > 0)
    std::printf(" = %.0f%% of the %s GEMM figure above that prompts run at", 100 * achieved / ceilings.gemm,
                dtype_name(rt.dtype).c_str());
  if (ceilings.peak > 0) std::printf(", %.0f%% of the multiply-add peak", 100 * achieved / ceilings.peak);
  std::printf("\n");
  return 0;
}

LITESTAGE_COMMAND("bench", "prefill/decode speed, skip speedups vs ideal, memory-bandwidth floor", run_bench);

}  // namespace
}  // namespace litestage::cli
