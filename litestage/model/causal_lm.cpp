#include "litestage/model/causal_lm.hpp"

#include <algorithm>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/kernels/gemm.hpp"
#include "litestage/kernels/matvec.hpp"
#include "litestage/model/kv_cache.hpp"
#include "litestage/model/prefill_kernel.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

namespace {
torch::TensorOptions options_for(const Runtime& r) { return torch::TensorOptions().dtype(r.dtype).device(r.device); }
}  // namespace

LlamaModelImpl::LlamaModelImpl(const ModelConfig& c, const torch::TensorOptions& opts) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, opts));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    blocks.push_back(DecoderLayer(c, static_cast<int>(l), opts));
    layers->push_back(blocks.back());
  }
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, opts));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config, const Runtime& runtime)
    : config_(config), runtime_(runtime), tied_(config.tie_word_embeddings), rope_(config, options_for(runtime)) {
  config_.validate();
  auto opts = options_for(runtime);
  model = register_module("model", LlamaModel(config_, opts));
  if (!tied_) lm_head = register_module("lm_head", Linear(config_.hidden_size, config_.vocab_size, false, opts));
}

namespace {

void check_inputs(const torch::Tensor& input_ids, const ForwardOptions& opt, int num_layers) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be (batch, seq), got ", input_ids.sizes());
  TORCH_CHECK(input_ids.size(1) > 0, "input_ids has no tokens");
  if (opt.cache)
    TORCH_CHECK(opt.cache->batch() == input_ids.size(0), "KV cache batch ", opt.cache->batch(), " != input batch ",
                input_ids.size(0));
  if (opt.skip && opt.skip->num_layers() != 0)
    TORCH_CHECK(opt.skip->num_layers() == num_layers, "skip plan has ", opt.skip->num_layers(), " layers, the model ",
                num_layers);
}

// RoPE positions of the new tokens, (B, T) int64; undefined when they are start..start+T in every
// row. With padding, a token's position is the number of real tokens before it, as Hugging Face's
// attention_mask.cumsum(-1) - 1.
torch::Tensor token_positions(const ForwardOptions& opt, int64_t B, int64_t T, int64_t start, bool padded,
                              torch::Device dev) {
  if (opt.positions.defined()) return opt.positions.to(dev, torch::kLong);
  if (!padded) return {};
  const auto longs = torch::TensorOptions().dtype(torch::kLong).device(dev);
  auto mask = opt.token_mask.defined() ? opt.token_mask.to(dev, torch::kLong) : torch::ones({B, T}, longs);
  auto before = opt.cache && start > 0 ? opt.cache->valid().narrow(1, 0, start).to(torch::kLong).sum(1, true)
                                       : torch::zeros({B, 1}, longs);
  return (before + mask.cumsum(1) - 1).clamp_min(0);
}

// Additive mask over the S = start + T key slots, (B or 1, 1, 1, T, S) f32: causal by slot, and
// padding keys hidden. Undefined for one new token of unpadded sequences, which sees every slot.
torch::Tensor attention_mask(const ForwardOptions& opt, int64_t B, int64_t T, int64_t start, bool padded,
                             torch::Device dev) {
  if (T == 1 && !padded) return {};
  const int64_t S = start + T;
  const auto longs = torch::TensorOptions().dtype(torch::kLong).device(dev);
  auto q_slots = torch::arange(start, S, longs).view({T, 1});
  auto k_slots = torch::arange(S, longs).view({1, S});
  auto allowed = (k_slots <= q_slots).unsqueeze(0);  // (1, T, S)
  if (padded) {
    auto key_valid = opt.cache ? opt.cache->valid().narrow(1, 0, S) : opt.token_mask.to(dev).to(torch::kBool);
    allowed = allowed & key_valid.view({B, 1, S});
  }
  auto mask = torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(torch::kFloat).device(dev));
  mask.masked_fill_(allowed.logical_not(), std::numeric_limits<float>::lowest());
  return mask.view({mask.size(0), 1, 1, T, S});
}

// Which plain-loop kernel a step may take: up to kShortForwardRows new tokens per row
// (model/decode_kernel, f32 or bf16) or more (model/prefill_kernel, f32); either needs unpadded CPU
// rows at the cache's next slots, no observer and no autograd.
enum class Kernel { None, Decode, Prefill };

// Whether a short forward (Kernel::Decode) runs `layer` through the prefill kernel instead.
bool steps_by_prefill(const DecoderLayerImpl& layer) {
  switch (short_forward_kernel()) {
    case ShortForwardKernel::Decode: return false;
    case ShortForwardKernel::Prefill: return prefill_kernel_applies(layer);
    case ShortForwardKernel::Auto: break;
  }
  return prefill_kernel_applies(layer) && prefill_keeps_panels(layer);
}

// Whether `layer` runs through the prefill kernel in a step that may take `kernel`.
bool takes_prefill(Kernel kernel, const DecoderLayerImpl& layer) {
  return kernel == Kernel::Prefill ? prefill_kernel_applies(layer) : kernel == Kernel::Decode && steps_by_prefill(layer);
}

Kernel usable_kernel(const ForwardOptions& opt, const torch::Tensor& h, bool padded) {
  if (!opt.kernels || !opt.cache || padded || opt.positions.defined() || opt.observer || !h.device().is_cpu() ||
      torch::GradMode::is_enabled())
    return Kernel::None;
  if (h.size(1) <= kShortForwardRows && (h.scalar_type() == torch::kFloat || h.scalar_type() == torch::kBFloat16))
    return Kernel::Decode;
  if (h.scalar_type() == torch::kFloat) return Kernel::Prefill;
  return Kernel::None;
}

}  // namespace

// embed -> every decoder layer under the plan -> final norm, as llama2.c's forward().
torch::Tensor CausalLMImpl::hidden_states(const torch::Tensor& input_ids, const ForwardOptions& opt) {
  check_inputs(input_ids, opt, num_layers());
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const auto dev = runtime_.device;
  KVCache* cache = opt.cache;
  const bool padded = opt.token_mask.defined() || (cache && cache->has_padding());
  LayerContext ctx;
  ctx.rope = &rope_;
  ctx.cache = cache;
  ctx.start = cache ? cache->length() : 0;
  ctx.positions = token_positions(opt, B, T, ctx.start, padded, dev);  // reads the slots before this step
  if (cache) cache->begin_step(T, opt.token_mask.defined() ? opt.token_mask.to(dev) : torch::Tensor());
  ctx.attn_mask = attention_mask(opt, B, T, ctx.start, padded, dev);

  const SkipPlan none;
  const SkipPlan& plan = opt.skip ? *opt.skip : none;
  auto h = model->embed_tokens->forward(input_ids.to(dev));  // (B, T, hidden)
  const Kernel kernel = usable_kernel(opt, h, padded);
  for (int l = 0; l < num_layers();) {
    DecoderLayerImpl& layer = *model->blocks[l];
    if (takes_prefill(kernel, layer)) {
      int last = l + 1;  // the run of layers the kernel takes
      while (last < num_layers() && takes_prefill(kernel, *model->blocks[last])) ++last;
      h = h.contiguous();
      prefill_layers(model->blocks, l, last, h, ctx.start, *cache, rope_, plan);
      l = last;
    } else if (kernel == Kernel::Decode && decode_kernel_applies(layer)) {
      h = h.contiguous();
      decode_layer_step(layer, l, h, ctx.start, *cache, rope_, plan);
      ++l;
    } else {
      h = layer.forward(h, ctx, plan, opt.observer);
      ++l;
    }
  }
  if (cache) cache->end_step(T);
  if (opt.last_logits_only) h = h.narrow(1, T - 1, 1);
  return model->norm->forward(h);  // (B, T or 1, hidden)
}

// A few f32 rows (a decode step, a verify forward) against a small output projection go through
// its kept panels (kernels/gemm): at the demo model's 128 columns the row kernels' lane sums per row
// cost more than the multiply-adds. Either way each row's logits are the same whatever the rows.
torch::Tensor CausalLMImpl::logits_from_hidden(const torch::Tensor& hidden) const {
  const torch::Tensor& w = output_weight();
  if (hidden.scalar_type() == torch::kFloat && matvec_applies(hidden, w) && output_keeps_panels()) {
    auto sizes = hidden.sizes().vec();
    sizes.back() = w.size(0);
    const auto x = hidden.contiguous();
    auto logits = torch::empty(sizes, x.options());
    gemm(x.data_ptr<float>(), x.numel() / x.size(-1), w, {}, logits.data_ptr<float>(), GemmStore::Set,
         &output_panels_);
    return logits;
  }
  return project(hidden, w, torch::Tensor()).to(torch::kFloat);
}

bool CausalLMImpl::output_keeps_panels() const {
  const torch::Tensor& w = output_weight();
  return w.device().is_cpu() && w.scalar_type() == torch::kFloat && w.is_contiguous() &&
         panels_worth_keeping(w.numel()) && !w.is_inference();
}

bool CausalLMImpl::rows_independent() const {
  // A short forward's layers on the prefill kernel (takes_prefill implies the kernel applies), with
  // kept panels whatever ShortForwardKernel forces.
  return output_keeps_panels() && std::all_of(model->blocks.begin(), model->blocks.end(), [](const DecoderLayer& layer) {
           return takes_prefill(Kernel::Decode, *layer) && prefill_keeps_panels(*layer);
         });
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids, const ForwardOptions& options) {
  return logits_from_hidden(hidden_states(input_ids, options));
}

void CausalLMImpl::init_weights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& item : named_parameters()) {
    auto& p = item.value();
    const auto& name = item.key();
    bool is_norm = name.find("norm") != std::string::npos;
    bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    torch::Tensor values;
    if (is_norm) {
      values = torch::ones(p.sizes(), torch::kFloat);
    } else if (is_bias) {
      values = torch::zeros(p.sizes(), torch::kFloat);
    } else {
      values = at::normal(0.0, config_.initializer_range, p.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat));
    }
    p.copy_(values);
  }
}

CausalLM grow_layers(CausalLM& source, int64_t layers, uint64_t seed, double output_scale) {
  LITESTAGE_CHECK(output_scale >= 0.0, "grow_layers: output_scale must be >= 0, got ", output_scale);
  const ModelConfig& from = source->config();
  LITESTAGE_CHECK(layers >= from.num_hidden_layers, "grow_layers: cannot shrink a ", from.num_hidden_layers,
                  "-layer model to ", layers, " layers");
  ModelConfig config = from;
  config.num_hidden_layers = layers;
  CausalLM grown(config, source->runtime());
  grown->init_weights(seed);
  torch::NoGradGuard no_grad;
  auto src = source->named_parameters();
  for (auto& item : grown->named_parameters()) {
    const std::string& name = item.key();
    if (const torch::Tensor* from_param = src.find(name)) {
      item.value().copy_(*from_param);
    } else if (name.find(".o_proj.") != std::string::npos || name.find(".down_proj.") != std::string::npos) {
      item.value().mul_(output_scale);
    }
  }
  return grown;
}

}  // namespace litestage
