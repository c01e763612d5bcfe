// Loading and saving CausalLM as a Hugging Face checkpoint directory.

#include "litestage/io/checkpoint.hpp"
#include "litestage/model/causal_lm.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

CausalLM load_causal_lm(const std::filesystem::path& dir, const Runtime& runtime) {
  auto config = ModelConfig::from_dir(dir);
  auto checkpoint = io::Checkpoint::open(dir);
  CausalLM model(config, runtime);
  // A tied model computes logits with embed_tokens; some exports still carry lm_head.weight.
  std::set<std::string> ignore;
  if (config.tie_word_embeddings) ignore.insert("lm_head.weight");
  io::load_into(*model, checkpoint, runtime.dtype, runtime.device, {}, ignore);
  model->eval();
  return model;
}

void save_causal_lm(CausalLM& model, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto config = model->config();
  config.torch_dtype = model->runtime().dtype == c10::kBFloat16 ? "bfloat16"
                       : model->runtime().dtype == c10::kHalf   ? "float16"
                                                                : "float32";
  io::save_module(*model, dir / "model.safetensors");
  write_file_atomic((dir / "config.json").string(), config.to_json().dump(2) + "\n");
}

}  // namespace litestage
