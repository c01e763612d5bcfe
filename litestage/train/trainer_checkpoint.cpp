// The trainer's checkpoints: last/ with its state (optimizer, data position, best so far) for an
// exact resume, best/ and exported models, each written beside the target and swapped in.
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/torch.h>

#include "litestage/io/checkpoint.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/train/trainer.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kStateFormat = 1;

std::string model_config_key(ModelConfig c) {
  c.torch_dtype.clear();  // a bf16 checkpoint fine-tuned in f32 is saved as float32
  return c.to_json().dump();
}

int64_t read_int(torch::serialize::InputArchive& in, const std::string& key) {
  c10::IValue v;
  in.read(key, v);
  return v.toInt();
}

}  // namespace

void Trainer::save_last() { write_checkpoint(out_ / "last", /*with_state=*/true); }

void Trainer::save_model(const fs::path& dir) { write_checkpoint(dir, /*with_state=*/false); }

void Trainer::write_checkpoint(const fs::path& dir, bool with_state) {
  // Written beside the target and swapped in, so an interrupted save leaves the previous one whole.
  fs::path tmp = dir;
  tmp += ".partial";
  fs::path old = dir;
  old += ".old";
  fs::remove_all(tmp);
  save_causal_lm(model_, tmp);
  if (!tokenizer_dir_.empty())
    for (const auto& name : tokenizer_files())
      if (fs::exists(tokenizer_dir_ / name)) fs::copy_file(tokenizer_dir_ / name, tmp / name, fs::copy_options::overwrite_existing);
  if (!model_dir_.empty() && fs::exists(model_dir_ / "generation_config.json"))
    fs::copy_file(model_dir_ / "generation_config.json", tmp / "generation_config.json",
                  fs::copy_options::overwrite_existing);
  if (with_state) write_state(tmp);
  nlohmann::json info{{"step", global_step_},
                      {"epoch", epoch_},
                      {"position", position_},
                      {"total_steps", total_steps_},
                      {"seed", config_.seed},
                      {"examples", train_.size()},
                      {"data_digest", train_digest_},
                      {"best_criterion", best_criterion_},
                      {"best_step", best_step_}};
  if (best_value_) info["best_value"] = *best_value_;
  write_file_atomic((tmp / "trainer_state.json").string(), info.dump(2) + "\n");
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

void Trainer::write_state(const fs::path& dir) const {
  torch::serialize::OutputArchive out;
  out.write("format", c10::IValue(kStateFormat));
  out.write("global_step", c10::IValue(global_step_));
  out.write("epoch", c10::IValue(epoch_));
  out.write("position", c10::IValue(static_cast<int64_t>(position_)));
  out.write("seed", c10::IValue(static_cast<int64_t>(config_.seed)));
  out.write("examples", c10::IValue(static_cast<int64_t>(train_.size())));
  out.write("batch_size", c10::IValue(config_.training.batch_size));
  out.write("grad_accum", c10::IValue(config_.training.grad_accum));
  out.write("data_digest", c10::IValue(train_digest_));
  out.write("best_criterion", c10::IValue(best_criterion_));
  out.write("best_step", c10::IValue(best_step_));
  out.write("has_best", c10::IValue(best_value_.has_value()));
  out.write("best_value", c10::IValue(best_value_.value_or(0.0)));
  torch::serialize::OutputArchive opt(out.compilation_unit());
  optimizer_->save(opt);
  out.write("optimizer", opt);
  out.save_to((dir / "trainer_state.pt").string());
}

void Trainer::resume_from_last() {
  const fs::path last = out_ / "last";
  const fs::path state = last / "trainer_state.pt";
  LITESTAGE_CHECK(fs::exists(state), "resume: ", state.string(), " not found (nothing to resume; run without resume to start)");
  const ModelConfig saved = ModelConfig::from_dir(last);
  LITESTAGE_CHECK(model_config_key(saved) == model_config_key(model_->config()), "resume: ",
                  (last / "config.json").string(), " describes a different model than this run's");
  const io::Checkpoint ckpt = io::Checkpoint::open(last);
  std::set<std::string> ignore;
  if (saved.tie_word_embeddings) ignore.insert("lm_head.weight");
  io::load_into(*model_, ckpt, c10::kFloat, device_, {}, ignore);

  torch::serialize::InputArchive in;
  in.load_from(state.string(), device_);
  LITESTAGE_CHECK(read_int(in, "format") == kStateFormat, "resume: ", state.string(), ": unknown state format");
  auto same = [&](const char* field, int64_t saved_value, int64_t now) {
    LITESTAGE_CHECK(saved_value == now, "resume: ", field, " was ", saved_value, " when ", state.string(),
                    " was saved, now ", now, " (a resumed run must repeat the interrupted one)");
  };
  same("seed", read_int(in, "seed"), static_cast<int64_t>(config_.seed));
  same("the number of training examples", read_int(in, "examples"), static_cast<int64_t>(train_.size()));
  same("training.batch_size", read_int(in, "batch_size"), config_.training.batch_size);
  same("training.grad_accum", read_int(in, "grad_accum"), config_.training.grad_accum);
  c10::IValue v;
  in.read("data_digest", v);
  LITESTAGE_CHECK(v.toStringRef() == train_digest_, "resume: the training data differs from the run saved in ",
                  state.string(), " (digest ", v.toStringRef(), ", now ", train_digest_, ")");
  global_step_ = read_int(in, "global_step");
  epoch_ = read_int(in, "epoch");
  position_ = static_cast<size_t>(read_int(in, "position"));
  LITESTAGE_CHECK(position_ <= train_.size(), "resume: ", state.string(), ": position beyond the data");
  in.read("best_criterion", v);
  best_criterion_ = v.toStringRef();
  best_step_ = read_int(in, "best_step");
  in.read("has_best", v);
  const bool has_best = v.toBool();
  in.read("best_value", v);
  if (has_best) best_value_ = v.toDouble();
  torch::serialize::InputArchive opt;
  in.read("optimizer", opt);
  optimizer_->load(opt);
  resumed_ = true;
}

}  // namespace litestage
