// litestage generate: continue a prompt, streaming the text, then print timings.

#include <cstdio>
#include <iostream>

#include "command.hpp"
#include "litestage/generate/generator.hpp"
#include "litestage/util/error.hpp"
#include "model_setup.hpp"

namespace litestage::cli {
namespace {

int run_generate(const std::vector<std::string>& args) {
  po::options_description desc("generate options");
  desc.add_options()
      ("model", po::value<std::string>()->required(), "Hugging Face checkpoint directory")
      ("tokenizer", po::value<std::string>()->default_value(""), "tokenizer directory (default: the model's)")
      ("prompt", po::value<std::string>()->required(), "prompt text")
      ("max-new-tokens", po::value<int>()->default_value(128), "tokens to generate at most")
      ("temperature", po::value<double>()->default_value(0.0), "sampling temperature (0 = greedy)")
      ("top-k", po::value<int>()->default_value(0), "sample from the k most likely tokens (0 = off)")
      ("top-p", po::value<double>()->default_value(1.0), "nucleus sampling mass (1 = off)")
      ("seed", po::value<uint64_t>()->default_value(0), "sampling seed")
      ("stop", po::value<std::vector<std::string>>()->composing(), "stop string (repeatable)")
      ("skip", po::value<std::string>()->default_value("none"), "sub-layers to skip, e.g. a3,f0-2,b5")
      ("no-bos", po::bool_switch(), "do not prepend BOS even when the tokenizer uses one");
  add_runtime_options(desc);
  po::variables_map vm;
  if (auto rc = parse_options("generate", "--model DIR --prompt TEXT [options]", desc, args, vm)) return *rc;

  auto runtime = setup_runtime(runtime_options(vm));
  auto loaded = load_model_and_tokenizer(vm["model"].as<std::string>(), vm["tokenizer"].as<std::string>(), runtime);
  Generator gen(loaded.model, loaded.tokenizer);
  GenerationConfig cfg;
  cfg.max_new_tokens = vm["max-new-tokens"].as<int>();
  cfg.sampling.temperature = vm["temperature"].as<double>();
  cfg.sampling.top_k = vm["top-k"].as<int>();
  cfg.sampling.top_p = vm["top-p"].as<double>();
  cfg.sampling.seed = vm["seed"].as<uint64_t>();
  if (vm.count("stop")) cfg.stop_strings = vm["stop"].as<std::vector<std::string>>();
  cfg.skip = SkipPlan::parse(vm["skip"].as<std::string>(), loaded.model->num_layers());
  cfg.add_bos = !vm["no-bos"].as<bool>();

  const std::string prompt = vm["prompt"].as<std::string>();
  if (cfg.max_new_tokens < 0) throw_error("--max-new-tokens must be >= 0");
  auto prompt_ids = gen.encode_prompt(prompt, cfg.add_bos);
  // The continuation is printed as a continuation of the prompt (SentencePiece keeps the space
  // between them), and the last bytes that could still turn into a stop string are held back.
  StreamDecoder shown_decoder(*loaded.tokenizer);
  shown_decoder.seed(prompt_ids);
  size_t holdback = 0;
  for (const auto& s : cfg.stop_strings) holdback = std::max(holdback, s.empty() ? 0 : s.size() - 1);
  std::string shown;
  size_t printed = 0;
  std::cout << prompt << std::flush;
  auto r = gen.generate_ids(prompt_ids, cfg, [&](int32_t id, const std::string&) {
    shown += shown_decoder.push(id);
    if (shown.size() > printed + holdback) {
      std::cout << shown.substr(printed, shown.size() - holdback - printed) << std::flush;
      printed = shown.size() - holdback;
    }
    return true;
  });
  // The token that completed a stop string (or ended generation) never reached the callback:
  // settle the shown text from every generated token.
  StreamDecoder final_decoder(*loaded.tokenizer);
  final_decoder.seed(prompt_ids);
  shown.clear();
  for (int32_t id : r.tokens) shown += final_decoder.push(id);
  shown += final_decoder.flush();
  for (const auto& s : cfg.stop_strings)
    if (!s.empty() && shown.find(s) != std::string::npos) shown.resize(shown.find(s));
  if (shown.size() > printed) std::cout << shown.substr(printed);
  std::cout << "\n\n";
  int n = static_cast<int>(r.tokens.size());
  double decode_steps = n > 1 ? n - 1 : 1;
  if (n == 0) {
    std::printf("prompt: %d tokens, prefill %.2f ms; nothing generated (exit: %s)\n", r.prompt_tokens,
                r.prefill_seconds * 1e3, exit_reason_name(r.exit_reason).c_str());
    return 0;
  }
  std::printf("prompt: %d tokens, prefill %.2f ms (%.1f tokens/s)\n", r.prompt_tokens, r.prefill_seconds * 1e3,
              r.prompt_tokens / std::max(r.prefill_seconds, 1e-9));
  std::printf("decode: %d tokens, %.2f ms/token (%.1f tokens/s), exit: %s\n", n,
              r.decode_seconds * 1e3 / decode_steps, decode_steps / std::max(r.decode_seconds, 1e-9),
              exit_reason_name(r.exit_reason).c_str());
  std::printf("model: %s, %s on %s, %d threads, skip %s\n", loaded.model->config().model_type.c_str(),
              dtype_name(runtime.dtype).c_str(), runtime.device.str().c_str(), at::get_num_threads(),
              cfg.skip.to_string().c_str());
  return 0;
}

LITESTAGE_COMMAND("generate", "continue a prompt with a checkpoint (greedy or sampled)", run_generate);

}  // namespace
}  // namespace litestage::cli
