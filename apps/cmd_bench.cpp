// litestage bench: prefill throughput and decode latency for the full model and for skip
// fractions, with the realized speedup set against the ideal one, and the memory-bandwidth floor
// measured on the spot.

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include "command.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/model/cost.hpp"
#include "litestage/model/decode_bench.hpp"
#include "litestage/kernels/flop_peak.hpp"
#include "litestage/model/latency_calibration.hpp"
#include "litestage/kernels/matvec.hpp"
#include "litestage/model/short_forward.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/cpu_info.hpp"
#include "litestage/util/provenance.hpp"
#include "litestage/util/stats.hpp"
#include "litestage/util/strings.hpp"
#include "model_setup.hpp"

namespace litestage::cli {
namespace {

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

struct BenchSettings {
  int prompt_len, gen_len, repeats, warmup;
  bool kernels;
  bool calibrate;
  std::string json_path, out;  // --json, --out (with --calibrate)
  std::vector<double> fractions;
  uint64_t seed;
};

// The options, checked.
BenchSettings bench_settings(const po::variables_map& vm) {
  BenchSettings b;
  b.prompt_len = vm["prompt-len"].as<int>();
  b.gen_len = vm["gen-len"].as<int>();
  b.repeats = vm["repeats"].as<int>();
  b.warmup = vm["warmup"].as<int>();
  const std::string kernel_flag = vm["kernels"].as<std::string>();
  if (kernel_flag != "on" && kernel_flag != "off") throw_error("--kernels must be on or off, got '", kernel_flag, "'");
  b.kernels = kernel_flag == "on";
  if (b.prompt_len < 1 || b.gen_len < 1 || b.repeats < 1 || b.warmup < 0)
    throw_error("--prompt-len, --gen-len and --repeats must be >= 1, --warmup >= 0");
  b.fractions = {0.0, 0.25, 0.5};
  if (vm.count("skip-fraction")) b.fractions = vm["skip-fraction"].as<std::vector<double>>();
  for (double f : b.fractions)
    if (f < 0 || f > 1) throw_error("--skip-fraction values must be in [0, 1], got ", f);
  if (std::find(b.fractions.begin(), b.fractions.end(), 0.0) == b.fractions.end())
    b.fractions.insert(b.fractions.begin(), 0.0);
  b.seed = vm["seed"].as<uint64_t>();
  b.json_path = vm["json"].as<std::string>();
  if (!b.json_path.empty()) check_path(b.json_path, PathUse::OutputFile, "--json");
  b.calibrate = vm["calibrate"].as<bool>();
  b.out = vm["out"].as<std::string>();
  if (!b.out.empty() && !b.calibrate) throw_error("--out is for --calibrate (the figures go to --json)");
  if (!b.out.empty()) check_path(b.out, PathUse::OutputFile, "--out");
  return b;
}

// The skip table: one row per fraction, printed and returned as JSON.
nlohmann::json skip_table(CausalLM& model, const BenchSettings& b, const std::vector<int64_t>& prompt,
                          const ReadFloor& floor, DecodeMeasurement& base) {
  const auto& cfg = model->config();
  std::printf("%-6s %-9s %-8s %14s %12s %9s %9s %9s %10s\n", "skip", "sublayers", "removed", "prefill tok/s",
              "decode ms", "/floor", "speedup", "ideal", "real/ideal");
  nlohmann::json rows = nlohmann::json::array();
  for (double f : b.fractions) {
    auto plan = plan_for_fraction(f, model->num_layers());
    auto m = measure_decode(model, plan, prompt, b.gen_len, b.warmup, b.repeats, b.kernels, floor);
    if (f == 0.0) base = m;
    double removed = plan.removed_weight_fraction(cfg);
    double ideal = 1.0 / (1.0 - removed);
    double real = base.decode_seconds / m.decode_seconds;
    std::printf("%-6.2f %3zu/%-5d %7.1f%% %14.1f %12.3f %9.2f %8.2fx %8.2fx %10.2f\n", f, plan.num_skipped(),
                2 * model->num_layers(), removed * 100, b.prompt_len / m.prefill_seconds, m.decode_seconds * 1e3,
                m.floor_ratio, real, ideal, real / ideal);
    rows.push_back({{"skip_fraction", f}, {"skipped", plan.to_string()}, {"sublayers_skipped", plan.num_skipped()},
                    {"sublayers", 2 * model->num_layers()}, {"weight_bytes_removed", removed},
                    {"prefill_tokens_per_s", b.prompt_len / m.prefill_seconds},
                    {"decode_ms_per_token", m.decode_seconds * 1e3}, {"decode_over_floor", m.floor_ratio},
                    {"speedup", real}, {"ideal_speedup", ideal}});
  }
  return rows;
}

struct PrefillRate {
  double flops, gflops;  // per prompt; achieved GFLOP/s
};

// The cost model's operations (model/cost.hpp: projections, attention, the last position's
// lm_head) over the full model's median prefill time, against the ceilings measured.
PrefillRate print_prefill_rate(const ModelConfig& cfg, int prompt_len, const Runtime& rt, const DecodeMeasurement& base,
                               const PromptCeilings& ceilings) {
  const double flops = forward_cost(cfg, SkipPlan{}, prompt_len, 0, c10::elementSize(rt.dtype)).flops;
  const double achieved = flops / base.prefill_seconds / 1e9;
  std::printf("prefill, full model: %.2f GFLOP per prompt, %.1f GFLOP/s", flops / 1e9, achieved);
  if (ceilings.gemm > 0)
    std::printf(" = %.0f%% of the %s GEMM figure above that prompts run at", 100 * achieved / ceilings.gemm,
                dtype_name(rt.dtype).c_str());
  if (ceilings.peak > 0) std::printf(", %.0f%% of the multiply-add peak", 100 * achieved / ceilings.peak);
  std::printf("\n");
  return {flops, achieved};
}

// The --verify row counts, checked against the model's positions.
std::vector<int> verify_rows(const po::variables_map& vm, const ModelConfig& cfg, int prompt_len) {
  if (!vm.count("verify")) return {};
  const auto rows = vm["verify"].as<std::vector<int>>();
  for (int k : rows)
    if (k < 1 || prompt_len + k > cfg.max_position_embeddings)
      throw_error("--verify ", k, ": rows must be >= 1 and fit the model's ", cfg.max_position_embeddings,
                  " positions after the ", prompt_len, "-token prompt");
  return rows;
}

// --verify K ...: one K-row forward on a warm cache against one decode step and the read floor.
nlohmann::json verify_table(CausalLM& model, const BenchSettings& b, const std::vector<int64_t>& prompt,
                            const std::vector<int>& rows, double floor_ms) {
  nlohmann::json out = nlohmann::json::array();
  if (rows.empty()) return out;
  std::printf("\nshort forwards after the %d-token prompt (logits for every row; %d repeats, step and forward "
              "alternating):\n%-6s %12s %14s %10s %10s\n", b.prompt_len, b.repeats, "rows", "forward ms", "decode step ms",
              "/step", "/floor");
  const SkipPlan none(model->num_layers());
  for (int k : rows) {
    const auto t = time_short_forward(model, none, prompt, k, b.warmup, b.repeats, b.kernels);
    std::printf("%-6d %12.3f %14.3f %9.2fx %9.2fx\n", k, t.forward_seconds * 1e3, t.step_seconds * 1e3,
                t.forward_seconds / t.step_seconds, t.forward_seconds * 1e3 / floor_ms);
    out.push_back({{"rows", k}, {"forward_ms", t.forward_seconds * 1e3}, {"decode_step_ms", t.step_seconds * 1e3},
                   {"over_step", t.forward_seconds / t.step_seconds}, {"over_floor", t.forward_seconds * 1e3 / floor_ms}});
  }
  return out;
}

// --calibrate: the latency model's coefficients measured on this machine, each point's fit error
// printed, the model written to --out.
int run_calibration(CausalLM& model, const BenchSettings& b, const std::string& what) {
  const std::string& out = b.out;
  CalibrationSettings s;
  s.repeats = b.repeats;
  s.warmup = b.warmup;
  s.kernels = b.kernels;
  s.seed = b.seed;
  const auto& rt = model->runtime();
  std::printf("calibrating the latency model on %s (%s, %d threads): %zu plans x %zu prompts, fastest of %d\n",
              what.c_str(), dtype_name(rt.dtype).c_str(), at::get_num_threads(), calibration_plans(model->num_layers()).size(),
              s.prompts.size(), s.repeats);
  auto points = measure_calibration_points(model, s);
  const std::string cpu = host_cpu_info().model.empty() ? std::string("unknown CPU") : host_cpu_info().model;
  const std::string source = what + ", " + dtype_name(rt.dtype) + ", " + std::to_string(at::get_num_threads()) +
                             " threads, " + (rt.device.is_cpu() ? cpu : rt.device.str());
  const LatencyModel fitted = fit_latency_model(points, source);
  std::printf("%-58s %11s %11s %8s\n", "point", "measured ms", "predicted", "error");
  double worst = 0;
  for (const auto& p : points) {
    const double err = p.predicted / p.seconds - 1;
    worst = std::max(worst, std::abs(err));
    std::printf("%-58s %11.3f %11.3f %+7.1f%%\n", p.what.c_str(), p.seconds * 1e3, p.predicted * 1e3, 100 * err);
  }
  std::printf("largest error %.1f%%\nlatency model: %s\n", 100 * worst, fitted.describe().c_str());
  if (!out.empty()) {
    save_latency_model(fitted, out);
    std::printf("written to %s (name it in an experiment as search.latency_model)\n", out.c_str());
  }
  return 0;
}

// The model named by --model, or one built from --config with random weights.
CausalLM bench_model(const std::string& model_dir, const std::string& config_file, const Runtime& rt, uint64_t seed) {
  if (!model_dir.empty()) return load_causal_lm(model_dir, rt);
  CausalLM model(ModelConfig::from_file(config_file), rt);
  model->init_weights(seed);
  return model;
}

// The command's options (the runtime's are added apart).
po::options_description bench_options() {
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
       "on: CPU steps through the plain-loop decode and prefill kernels; off: LibTorch's ops (to compare)")
      ("json", po::value<std::string>()->default_value(""), "also write the figures to this JSON file")
      ("verify", po::value<std::vector<int>>()->multitoken(),
       "also time one forward over K new tokens on a warm cache against one decode step (K ...)")
      ("calibrate", po::bool_switch(), "measure the latency model's coefficients on this machine instead")
      ("out", po::value<std::string>()->default_value(""), "with --calibrate: write the latency model to this JSON file");
  return desc;
}

int run_bench(const std::vector<std::string>& args) {
  po::options_description desc = bench_options();
  add_runtime_options(desc);
  po::variables_map vm;
  if (auto rc = parse_options("bench", "(--model DIR | --config config.json) [options]", desc, args, vm)) return *rc;
  std::string model_dir = vm["model"].as<std::string>(), config_file = vm["config"].as<std::string>();
  if (model_dir.empty() == config_file.empty()) throw_error("give exactly one of --model DIR or --config FILE");
  const BenchSettings b = bench_settings(vm);
  if (!model_dir.empty()) check_path(model_dir, PathUse::InputDir, "--model");
  if (!config_file.empty()) check_path(config_file, PathUse::InputFile, "--config");

  auto rt = setup_runtime(runtime_options(vm));
  CausalLM model = bench_model(model_dir, config_file, rt, b.seed);
  if (b.calibrate) return run_calibration(model, b, model_dir.empty() ? config_file + " [random weights]" : model_dir);
  const auto& cfg = model->config();
  if (b.prompt_len + b.gen_len + 1 > cfg.max_position_embeddings)
    throw_error("--prompt-len + --gen-len exceed the model's ", cfg.max_position_embeddings, " positions");

  int64_t weight_bytes = 0;
  for (const auto& p : model->parameters()) weight_bytes += p.numel() * p.element_size();
  const ReadFloor floor(model);
  const double floor_ms = floor.seconds * 1e3, bw = floor.bandwidth;

  std::printf("model: %s  %s  %.1fM parameters  %.1f MB  %d layers  (%s, %d threads, %s)\n",
              model_dir.empty() ? (config_file + " [random weights]").c_str() : model_dir.c_str(),
              cfg.model_type.c_str(), cfg.num_parameters() / 1e6, weight_bytes / 1e6, model->num_layers(),
              dtype_name(rt.dtype).c_str(), at::get_num_threads(), rt.device.str().c_str());
  std::printf("read bandwidth: %.1f GB/s (sum over %.1f MB)  ->  decode floor %.2f ms/token%s\n", bw / 1e9,
              floor.bytes / 1e6, floor_ms,
              floor.paired ? " (now; /floor below divides each repeat's decode steps by a read pass after each step)" : "");
  if (rt.device.is_cpu()) std::printf("%s", memory_description().c_str());
  const PromptCeilings ceilings = print_gemm_throughput(rt, b.kernels);
  std::printf("prompt %d tokens, %d decode steps, median of %d after %d warm-up\n\n", b.prompt_len, b.gen_len,
              b.repeats, b.warmup);

  auto gen = at::detail::createCPUGenerator(b.seed + 1);
  auto prompt_t = at::randint(0, cfg.vocab_size, {b.prompt_len}, gen, torch::TensorOptions().dtype(torch::kLong));
  std::vector<int64_t> prompt(prompt_t.data_ptr<int64_t>(), prompt_t.data_ptr<int64_t>() + b.prompt_len);
  DecodeMeasurement base{};
  nlohmann::json rows = skip_table(model, b, prompt, floor, base);
  std::printf("\nspeedup: decode, full model / skipped; ideal: 1 / (1 - share of per-token weight bytes removed)\n");
  const PrefillRate prefill = print_prefill_rate(cfg, b.prompt_len, rt, base, ceilings);
  const nlohmann::json verify = verify_table(model, b, prompt, verify_rows(vm, cfg, b.prompt_len), floor_ms);
  if (b.json_path.empty()) return 0;
  nlohmann::json j = {{"provenance", provenance_json()}, {"model", model_dir.empty() ? config_file : model_dir},
                      {"random_weights", model_dir.empty()}, {"runtime", runtime_description(rt)},
                      {"parameters", cfg.num_parameters()}, {"weight_bytes", weight_bytes},
                      {"layers", model->num_layers()}, {"prompt_len", b.prompt_len}, {"gen_len", b.gen_len},
                      {"repeats", b.repeats}, {"warmup", b.warmup}, {"kernels", b.kernels},
                      {"read_bandwidth_gb_per_s", bw / 1e9}, {"decode_floor_ms", floor_ms},
                      {"gemm_gflops", ceilings.gemm}, {"multiply_add_peak_gflops", ceilings.peak},
                      {"prefill_gflop_per_prompt", prefill.flops / 1e9}, {"prefill_gflops", prefill.gflops}, {"rows", rows},
                      {"verify", verify}};
  write_file_atomic(b.json_path, j.dump(2) + "\n");
  std::printf("figures written to %s\n", b.json_path.c_str());
  return 0;
}

LITESTAGE_COMMAND("bench", "prefill/decode speed, skip speedups vs ideal, memory-bandwidth floor", run_bench);

}  // namespace
}  // namespace litestage::cli
