// litestage tokenize: encode text to ids and pieces, decode ids, or measure encode throughput.

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "command.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/tokenizer/tools.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "options.hpp"

namespace litestage::cli {
namespace {

int run_tokenize(const std::vector<std::string>& args) {
  po::options_description desc("tokenize options");
  desc.add_options()
      ("tokenizer", po::value<std::string>()->required(), "tokenizer or checkpoint directory")
      ("kind", po::value<std::string>()->default_value("auto"), "auto, sentencepiece or bpe")
      ("text", po::value<std::string>(), "text to encode: prints \"id<TAB>piece\" per token")
      ("decode", po::value<std::string>(), "ids to decode, e.g. \"1 2 3\" or \"[1, 2, 3]\"")
      ("bench", po::value<std::string>(), "file to encode line by line, printing throughput")
      ("passes", po::value<int>()->default_value(3), "--bench: warm passes after the cold one")
      ("ids-only", po::bool_switch(), "--text: print the ids on one line")
      ("no-bos", po::bool_switch(), "--text: do not prepend BOS even when the tokenizer uses one")
      ("add-eos", po::bool_switch(), "--text: append the first EOS id")
      ("plain-special", po::bool_switch(), "--text: encode special-token text (<|im_start|>) as plain text")
      ("keep-special", po::bool_switch(), "--decode: keep special tokens in the text");
  po::variables_map vm;
  const std::string usage = "--tokenizer DIR (--text TEXT | --decode IDS | --bench FILE) [options]";
  if (auto rc = parse_options("tokenize", usage, desc, args, vm)) return *rc;
  const int modes = static_cast<int>(vm.count("text") + vm.count("decode") + vm.count("bench"));
  if (modes != 1) {
    std::cerr << "litestage tokenize: give exactly one of --text, --decode, --bench\nusage: litestage tokenize "
              << usage << "\n";
    return 2;
  }

  const std::string dir = vm["tokenizer"].as<std::string>();
  auto tok = load_tokenizer(dir, parse_tokenizer_kind(vm["kind"].as<std::string>()));

  if (vm.count("text")) {
    EncodeOptions options;
    options.add_bos = !vm["no-bos"].as<bool>();
    options.add_eos = vm["add-eos"].as<bool>();
    options.parse_special = !vm["plain-special"].as<bool>();
    const auto ids = tok->encode(vm["text"].as<std::string>(), options);
    std::cout << (vm["ids-only"].as<bool>() ? format_id_line(ids) : format_token_lines(*tok, ids));
    return 0;
  }
  if (vm.count("decode")) {
    const auto ids = parse_id_list(vm["decode"].as<std::string>());
    std::cout << tok->decode(ids, !vm["keep-special"].as<bool>()) << "\n";
    return 0;
  }

  const std::string path = vm["bench"].as<std::string>();
  const std::string text = read_file(path);
  const int passes = std::max(1, vm["passes"].as<int>());
  const auto r = benchmark_encode(*tok, text, passes);
  std::printf("tokenizer: %s, %d ids, from %s\n", tok->kind().c_str(), tok->vocab_size(), dir.c_str());
  std::printf("input: %s, %zu lines, %.2f MB, %zu tokens per pass\n", path.c_str(), r.lines, r.bytes / 1e6, r.tokens);
  std::printf("cold pass (empty merge cache): %.3f s, %.2f MB/s\n", r.cold_seconds, r.cold_mb_per_s());
  std::printf("warm, best of %d: %.3f s, %.2f MB/s, %.0f tokens/s\n", passes, r.warm_seconds, r.warm_mb_per_s(),
              r.warm_seconds > 0 ? r.tokens / r.warm_seconds : 0.0);
  return 0;
}

LITESTAGE_COMMAND("tokenize", "encode or decode text with a checkpoint's tokenizer; --bench measures MB/s",
                  run_tokenize);

}  // namespace
}  // namespace litestage::cli
