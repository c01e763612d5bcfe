// litestage convert: rewrite a checkpoint in another dtype (e.g. a bf16 copy for distribution),
// or grown to more layers (--layers), keeping config.json and copying the tokenizer files beside it.

#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/error.hpp"
#include "model_setup.hpp"
#include "options.hpp"

namespace litestage::cli {
namespace {

int run_convert(const std::vector<std::string>& args) {
  po::options_description desc("convert options");
  desc.add_options()
      ("model", po::value<std::string>()->required(), "Hugging Face checkpoint directory")
      ("out", po::value<std::string>()->required(), "output directory")
      ("dtype", po::value<std::string>()->default_value("bf16"), "f32, bf16 or f16 for the saved weights")
      ("layers", po::value<int64_t>(), "grow to this many decoder layers: the added layers start as the identity "
                                        "(zero output projections), the rest is copied")
      ("seed", po::value<uint64_t>()->default_value(0), "--layers: init seed of the added layers")
      ("grow-output-scale", po::value<double>()->default_value(0.0),
       "--layers: keep the added layers' random o_proj/down_proj scaled by this (0: exact identity start)");
  po::variables_map vm;
  if (auto rc = parse_options("convert", "--model DIR --out DIR [--dtype bf16] [--layers N]", desc, args, vm)) return *rc;
  namespace fs = std::filesystem;
  fs::path in = vm["model"].as<std::string>(), out = vm["out"].as<std::string>();
  check_path(in.string(), PathUse::InputDir, "--model");
  check_path(out.string(), PathUse::OutputDir, "--out");
  if (fs::weakly_canonical(in) == fs::weakly_canonical(out)) throw_error("--out must differ from --model");
  // Kernels are not needed to convert, so f16 is fine even where CPU matmuls lack it.
  const std::string name = vm["dtype"].as<std::string>();
  const auto dtype = dtype_from_name(name);
  if (!dtype) throw_error("--dtype must be f32, bf16 or f16, got '", name, "'");
  auto model = load_causal_lm(in, Runtime{c10::Device(c10::kCPU), *dtype});
  if (vm.count("layers"))
    model = grow_layers(model, vm["layers"].as<int64_t>(), vm["seed"].as<uint64_t>(),
                        vm["grow-output-scale"].as<double>());
  save_causal_lm(model, out);
  auto files = tokenizer_files();
  files.push_back("generation_config.json");
  for (const auto& f : files)
    if (fs::exists(in / f)) fs::copy_file(in / f, out / f, fs::copy_options::overwrite_existing);
  std::cout << "wrote " << out.string() << " (" << name << ", " << fs::file_size(out / "model.safetensors")
            << " bytes of weights)\n";
  return 0;
}

LITESTAGE_COMMAND("convert", "rewrite a checkpoint in another dtype or grown deeper (tokenizer files copied)",
                  run_convert);

}  // namespace
}  // namespace litestage::cli
