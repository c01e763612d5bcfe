#pragma once
// Tiny randomly initialised models and an independent, naive reference forward pass
// (explicit loops over heads, repeat_kv, rotation written per pair) to check CausalLM against.

#include <torch/torch.h>

#include "litestage/model/causal_lm.hpp"
#include "litestage/model/decode_kernel.hpp"

namespace litestage::test {

// Forces the kernel of f32 short forwards for a scope (model/decode_kernel.hpp), Auto again after.
struct ShortForwardKernelScope {
  explicit ShortForwardKernelScope(ShortForwardKernel k) { set_short_forward_kernel(k); }
  ~ShortForwardKernelScope() { set_short_forward_kernel(ShortForwardKernel::Auto); }
  ShortForwardKernelScope(const ShortForwardKernelScope&) = delete;
  ShortForwardKernelScope& operator=(const ShortForwardKernelScope&) = delete;
};

// Both kernels a forward of a few f32 tokens may take.
inline const std::vector<ShortForwardKernel>& short_forward_kernels() {
  static const std::vector<ShortForwardKernel> all{ShortForwardKernel::Decode, ShortForwardKernel::Prefill};
  return all;
}
inline const char* name_of(ShortForwardKernel k) {
  return k == ShortForwardKernel::Decode ? "decode kernel" : k == ShortForwardKernel::Prefill ? "prefill kernel" : "auto";
}

// 3 layers, hidden 32, 4 heads / 2 KV heads of 8, FFN 48, vocabulary 97; `positions` of context.
inline ModelConfig tiny_llama_config(int64_t positions = 64) {
  return ModelConfig::from_json(nlohmann::json{{"model_type", "llama"},
                                               {"vocab_size", 97},
                                               {"hidden_size", 32},
                                               {"intermediate_size", 48},
                                               {"num_hidden_layers", 3},
                                               {"num_attention_heads", 4},
                                               {"num_key_value_heads", 2},
                                               {"max_position_embeddings", positions},
                                               {"rms_norm_eps", 1e-5},
                                               {"bos_token_id", 1},
                                               {"eos_token_id", 2}});
}

inline ModelConfig tiny_qwen2_config() {
  return ModelConfig::from_json(nlohmann::json{{"model_type", "qwen2"},
                                               {"vocab_size", 101},
                                               {"hidden_size", 48},
                                               {"intermediate_size", 64},
                                               {"num_hidden_layers", 2},
                                               {"num_attention_heads", 6},
                                               {"num_key_value_heads", 1},
                                               {"max_position_embeddings", 64},
                                               {"rms_norm_eps", 1e-6},
                                               {"rope_theta", 1000000.0},
                                               {"tie_word_embeddings", true},
                                               {"use_sliding_window", false},
                                               {"eos_token_id", 7}});
}

// Wider than the tiny configs (hidden 512, 8 heads over 2 KV groups): products large enough for
// LibTorch's threaded GEMMs.
inline ModelConfig wide_qwen2_config() {
  return ModelConfig::from_json(nlohmann::json{{"model_type", "qwen2"}, {"vocab_size", 64}, {"hidden_size", 512},
                                               {"intermediate_size", 1024}, {"num_hidden_layers", 2},
                                               {"num_attention_heads", 8}, {"num_key_value_heads", 2},
                                               {"max_position_embeddings", 64}, {"rms_norm_eps", 1e-6},
                                               {"tie_word_embeddings", true}, {"eos_token_id", 2}});
}

inline CausalLM random_model(const ModelConfig& c, uint64_t seed = 1) {
  CausalLM m(c);
  m->init_weights(seed);
  // Biases and norm weights away from their trivial init so they are exercised.
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed + 1000);
  for (auto& p : m->named_parameters()) {
    if (p.key().find("norm") != std::string::npos || p.key().find("bias") != std::string::npos)
      p.value().add_(at::normal(0.0, 0.1, p.value().sizes(), gen));
  }
  return m;
}

// The same weights as m, rounded to bf16.
inline CausalLM bf16_copy(CausalLM& m) {
  CausalLM half(m->config(), Runtime{torch::kCPU, torch::kBFloat16});
  torch::NoGradGuard ng;
  auto src = m->named_parameters();
  for (auto& p : half->named_parameters()) p.value().copy_(src[p.key()]);
  return half;
}

inline torch::Tensor ref_rmsnorm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return w * (x / torch::sqrt(x.pow(2).mean(-1, true) + eps));
}

// x: (T, D) for one head; rotates pairs (i, i + D/2) by angle pos * inv_freq[i].
inline torch::Tensor ref_rope(const torch::Tensor& x, const torch::Tensor& inv_freq, const std::vector<int64_t>& pos) {
  auto out = x.clone();
  int64_t D = x.size(1), half = D / 2;
  for (size_t t = 0; t < pos.size(); ++t) {
    for (int64_t i = 0; i < half; ++i) {
      double a = static_cast<double>(pos[t]) * inv_freq[i].item<double>();
      auto x1 = x[t][i].item<double>(), x2 = x[t][i + half].item<double>();
      out[t][i] = x1 * std::cos(a) - x2 * std::sin(a);
      out[t][i + half] = x2 * std::cos(a) + x1 * std::sin(a);
    }
  }
  return out;
}

// Full-sequence forward for one unpadded sequence, written without any of the library's layers.
inline torch::Tensor reference_logits(CausalLM& m, const std::vector<int64_t>& ids, const SkipPlan& skip = SkipPlan()) {
  torch::NoGradGuard ng;
  const auto& c = m->config();
  auto params = m->named_parameters();
  auto P = [&](const std::string& k) { return params[k].to(torch::kDouble); };
  int64_t T = static_cast<int64_t>(ids.size());
  std::vector<int64_t> pos(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = t;
  auto inv = RotaryEmbedding::inverse_frequencies(c).to(torch::kDouble);
  auto x = P("model.embed_tokens.weight").index_select(0, torch::tensor(ids));  // (T, d)
  int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, D = c.head_dim;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    if (!skip.skip_attention(l)) {
      auto h = ref_rmsnorm(x, P(pre + "input_layernorm.weight"), c.rms_norm_eps);
      auto proj = [&](const std::string& n) {
        auto y = h.matmul(P(pre + "self_attn." + n + ".weight").t());
        if (params.contains(pre + "self_attn." + n + ".bias")) y = y + P(pre + "self_attn." + n + ".bias");
        return y;
      };
      auto q = proj("q_proj"), k = proj("k_proj"), v = proj("v_proj");
      std::vector<torch::Tensor> heads;
      for (int64_t hd = 0; hd < H; ++hd) {
        int64_t kvh = hd / (H / KV);  // repeat_kv
        auto qh = ref_rope(q.narrow(1, hd * D, D), inv, pos);
        auto kh = ref_rope(k.narrow(1, kvh * D, D), inv, pos);
        auto vh = v.narrow(1, kvh * D, D);
        auto s = qh.matmul(kh.t()) / std::sqrt(static_cast<double>(D));
        auto causal = torch::ones({T, T}, torch::kBool).triu(1);
        s = s.masked_fill(causal, -1e300);
        heads.push_back(torch::softmax(s, -1).matmul(vh));
      }
      auto o = torch::cat(heads, 1).matmul(P(pre + "self_attn.o_proj.weight").t());
      if (params.contains(pre + "self_attn.o_proj.bias")) o = o + P(pre + "self_attn.o_proj.bias");
      x = x + o;
    }
    if (!skip.skip_ffn(l)) {
      auto h = ref_rmsnorm(x, P(pre + "post_attention_layernorm.weight"), c.rms_norm_eps);
      auto g = h.matmul(P(pre + "mlp.gate_proj.weight").t());
      auto u = h.matmul(P(pre + "mlp.up_proj.weight").t());
      x = x + (g * torch::sigmoid(g) * u).matmul(P(pre + "mlp.down_proj.weight").t());
    }
  }
  x = ref_rmsnorm(x, P("model.norm.weight"), c.rms_norm_eps);
  auto out_w = c.tie_word_embeddings ? P("model.embed_tokens.weight") : P("lm_head.weight");
  return x.matmul(out_w.t()).to(torch::kFloat);  // (T, vocab)
}

inline double max_rel_error(const torch::Tensor& a, const torch::Tensor& b) {
  auto scale = b.abs().max().item<double>();
  return (a - b).abs().max().item<double>() / std::max(scale, 1e-12);
}

}  // namespace litestage::test
