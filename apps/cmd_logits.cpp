// litestage logits: the float logits of every position, for parity checks against other
// implementations (e.g. Hugging Face transformers).

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "model_setup.hpp"

namespace litestage::cli {
namespace {

std::vector<int64_t> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::string s = text;
  for (char& c : s)
    if (c == ',' || c == '[' || c == ']') c = ' ';
  std::istringstream in(s);
  std::string tok;
  while (in >> tok) {
    try {
      size_t used = 0;
      long long v = std::stoll(tok, &used);
      if (used != tok.size()) throw std::invalid_argument(tok);
      ids.push_back(v);
    } catch (const std::exception&) {
      throw_error("--ids: '", tok, "' is not a token id");
    }
  }
  if (ids.empty()) throw_error("--ids: no token ids given");
  return ids;
}

int run_logits(const std::vector<std::string>& args) {
  po::options_description desc("logits options");
  desc.add_options()
      ("model", po::value<std::string>()->required(), "Hugging Face checkpoint directory")
      ("ids", po::value<std::string>()->required(), "token ids, e.g. \"1 450 4996\"")
      ("skip", po::value<std::string>()->default_value("none"), "sub-layers to skip, e.g. a3,f0-2,b5")
      ("out", po::value<std::string>()->required(), "output JSON file");
  add_runtime_options(desc, "f32");
  po::variables_map vm;
  if (auto rc = parse_options("logits", "--model DIR --ids \"1 2 3\" --out FILE.json [options]", desc, args, vm))
    return *rc;
  check_path(vm["model"].as<std::string>(), PathUse::InputDir, "--model");
  check_path(vm["out"].as<std::string>(), PathUse::OutputFile, "--out");
  auto runtime = setup_runtime(runtime_options(vm));
  auto model = load_causal_lm(vm["model"].as<std::string>(), runtime);
  auto ids = parse_ids(vm["ids"].as<std::string>());
  for (auto id : ids)
    if (id < 0 || id >= model->config().vocab_size)
      throw_error("--ids: token id ", id, " is outside the vocabulary (", model->config().vocab_size, ")");
  auto plan = SkipPlan::parse(vm["skip"].as<std::string>(), model->num_layers());
  c10::InferenceMode im;
  ForwardOptions fo;
  fo.skip = &plan;
  auto logits = model->forward(torch::tensor(ids).view({1, -1}), fo).squeeze(0).to(torch::kCPU).contiguous();
  nlohmann::json j;
  j["ids"] = ids;
  j["skip"] = plan.to_string();
  j["dtype"] = dtype_name(runtime.dtype);
  j["shape"] = {logits.size(0), logits.size(1)};
  auto rows = nlohmann::json::array();
  const float* p = logits.data_ptr<float>();
  for (int64_t t = 0; t < logits.size(0); ++t)
    rows.push_back(std::vector<float>(p + t * logits.size(1), p + (t + 1) * logits.size(1)));
  j["logits"] = std::move(rows);
  write_file_atomic(vm["out"].as<std::string>(), j.dump() + "\n");
  std::cout << "wrote " << logits.size(0) << " x " << logits.size(1) << " logits to " << vm["out"].as<std::string>()
            << "\n";
  return 0;
}

LITESTAGE_COMMAND("logits", "write the logits of every position to JSON (parity checks)", run_logits);

}  // namespace
}  // namespace litestage::cli
