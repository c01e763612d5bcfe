#include "litestage/experiment/session.hpp"

#include "litestage/data/exemplars.hpp"
#include "litestage/dist/dist.hpp"
#include "litestage/io/digest.hpp"
#include "litestage/kernels/blas.hpp"
#include "litestage/kernels/matvec.hpp"
#include "litestage/synthetic/task.hpp"
#include "litestage/tokenizer/tokenizer.hpp"
#include "litestage/util/yaml_schema.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

namespace {

ChatTemplateKind resolve_chat_template(const ExperimentSpec& s, const std::string& tokenizer_dir) {
  if (s.chat_template != "auto") return parse_chat_template(s.chat_template);
  return detect_chat_template(tokenizer_dir);
}

// A multi-process launch gives each rank its own GPU: "cuda" means cuda:LOCAL_RANK there.
std::string rank_device(const std::string& device) {
  if (!dist::active() || to_lower(trim(device)) != "cuda") return device;
  return "cuda:" + std::to_string(dist::local_rank());
}

}  // namespace

Session::Session(ExperimentSpec spec) : spec_(std::move(spec)) {
  register_synthetic_dataset();
  set_threads(spec_.threads);
  runtime_ = make_runtime(rank_device(spec_.device), spec_.dtype);
  model_ = load_causal_lm(spec_.model, runtime_);
  std::string tok_dir = spec_.tokenizer.empty() ? spec_.model : spec_.tokenizer;
  tokenizer_ = load_tokenizer(tok_dir);
  generator_ = std::make_unique<Generator>(model_, tokenizer_);

  auto& p = pipeline_;
  p.mode = spec_.mode;
  p.format = spec_.prompt_format;
  p.sampling = spec_.sampling;
  p.stop_strings = spec_.stop;
  p.batch_analyze = spec_.batch_analyze;
  p.exact_sharing = spec_.exact_sharing;
  p.speculative = spec_.speculative;
  p.prefix_sharing = spec_.prefix_sharing;
  p.system_prompt = spec_.system_prompt;
  if (p.format == PromptFormat::Chat) {
    p.chat_template = resolve_chat_template(spec_, tok_dir);
    if (p.chat_template == ChatTemplateKind::None)
      throw_error(spec_.source, ": prompt.format is chat but no chat template was recognised in ", tok_dir,
                  "; set prompt.chat_template");
    if (spec_.exemplars) {
      auto path = exemplar_path(spec_.data_root_or_default(), spec_.dataset);
      p.few_shot = few_shot_turns(read_exemplars(path), spec_.dataset, p.mode);
    }
  }
  if (!spec_.budget_profile.empty()) {
    profile_ = load_profile(spec_.budget_profile);
    check_profile_model(*profile_, identity(), spec_.force_profile);
  }
  for (auto kind : kStages) {
    const auto& st = spec_.stages[kind];
    auto& out = p.stages[kind];
    out.max_new_tokens = st.max_new_tokens.value_or(spec_.max_new_tokens);
    out.early_exit = st.early_exit.value_or(spec_.early_exit);
    try {
      out.skip = SkipPlan::parse(st.skip, num_layers());
    } catch (const Error& e) {
      throw_error(spec_.source, ": stages.", to_string(kind), ".skip: ", e.what());
    }
    if (profile_) {
      const auto& b = profile_->stages[kind];
      if (!st.skip.empty() && st.skip != "none")
        throw_error(spec_.source, ": stages.", to_string(kind), ".skip and budget_profile both set; use one");
      out.skip = b.skip;
      out.early_exit = b.early_exit;
      if (b.max_new_tokens) out.max_new_tokens = *b.max_new_tokens;
    }
  }
}

PipelineConfig Session::full_pipeline_config() const {
  auto p = pipeline_;
  for (auto kind : kStages) {
    p.stages[kind].skip = SkipPlan(num_layers());
    p.stages[kind].early_exit.enabled = false;
  }
  return p;
}

Dataset Session::dataset(const std::string& split, std::optional<size_t> limit) const {
  LoadOptions opt = spec_.load;
  bool own_split = parse_split(split) == parse_split(spec_.split);
  if (!own_split) {
    opt.offset = 0;
    opt.limit.reset();
  }
  if (limit) opt.limit = limit;
  return load_dataset(spec_.dataset, spec_.data_root_or_default(), split, opt);
}

const ModelIdentity& Session::identity() {
  if (!identity_) identity_ = identify_model(spec_.model);
  return *identity_;
}

nlohmann::json Session::data_fingerprint(const SplitInfo& info) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& f : info.files) files[f] = io::file_digest(f);
  return {{"ids", info.ids_fingerprint}, {"files", files}};
}

nlohmann::json Session::content_fingerprint() {
  namespace fs = std::filesystem;
  const fs::path tok_dir = spec_.tokenizer.empty() ? spec_.model : spec_.tokenizer;
  nlohmann::json tokenizer = nlohmann::json::object();
  for (const auto& name : tokenizer_files())
    if (fs::is_regular_file(tok_dir / name)) tokenizer[name] = io::file_digest(tok_dir / name);
  const bool cpu = runtime_.device.is_cpu();
  return {{"model", {{"config_hash", identity().config_hash}, {"weights_hash", identity().weights_hash}}},
          {"tokenizer", tokenizer},
          {"runtime",
           {{"device", runtime_.device.str()},
            {"dtype", dtype_name(runtime_.dtype)},
            {"vector_isa", cpu ? vector_isa_name(vector_isa()) : "none"},
            {"native_bf16", cpu && runtime_.dtype == c10::kBFloat16 && native_bf16()}}}};
}

nlohmann::json Session::result_fingerprint() {
  nlohmann::json fp = options_json(experiment_options(), spec_);
  const auto content = content_fingerprint();
  fp["model"] = content.at("model");
  fp["tokenizer"] = content.at("tokenizer");
  fp["runtime"].update(content.at("runtime"));
  fp["runtime"]["threads"] = at::get_num_threads();
  fp["data"]["test"] = data_fingerprint(dataset(spec_.split).info);
  fp["format"] = kOutputFormat;
  return fp;
}

}  // namespace litestage
