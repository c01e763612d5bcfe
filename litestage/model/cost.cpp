#include "litestage/model/cost.hpp"

#include <algorithm>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

ForwardCost& ForwardCost::operator+=(const ForwardCost& o) {
  prefill_tokens += o.prefill_tokens;
  decode_tokens += o.decode_tokens;
  attn_token_layers += o.attn_token_layers;
  ffn_token_layers += o.ffn_token_layers;
  flops += o.flops;
  weight_bytes += o.weight_bytes;
  forwards += o.forwards;
  sublayer_forwards += o.sublayer_forwards;
  kv_bytes += o.kv_bytes;
  multirow_flops += o.multirow_flops;
  shortrow_flops += o.shortrow_flops;
  return *this;
}

int64_t decode_forwards(int64_t generated, bool ended_by_eos) {
  return ended_by_eos ? generated : std::max<int64_t>(0, generated - 1);
}

ForwardCost forward_cost(const ModelConfig& c, const SkipPlan& plan, int64_t prompt_tokens, int64_t decode_tokens,
                         int64_t bytes_per_weight, int64_t cached_tokens) {
  LITESTAGE_CHECK(cached_tokens >= 0 && cached_tokens < std::max<int64_t>(prompt_tokens, 1),
                  "cost of a call with ", cached_tokens, " cached of ", prompt_tokens, " prompt tokens");
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  const double q = static_cast<double>(c.num_attention_heads * c.head_dim);
  const double kv = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double V = static_cast<double>(c.vocab_size);
  int64_t attn_layers = 0, ffn_layers = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int layer = static_cast<int>(l);
    attn_layers += plan.skips({layer, SubLayerKind::Attention}) ? 0 : 1;
    ffn_layers += plan.skips({layer, SubLayerKind::FFN}) ? 0 : 1;
  }
  const int64_t prefilled = prompt_tokens - cached_tokens;
  const double P = static_cast<double>(prompt_tokens), F = static_cast<double>(decode_tokens);
  const double C = static_cast<double>(cached_tokens);
  const double tokens = P - C + F;
  // Sum of attended positions over every computed token: prefill C+1..P, decode P+1..P+F.
  const double context = (P + F) * (P + F + 1) / 2 - C * (C + 1) / 2;
  const double forwards = (prompt_tokens > 0 ? 1 : 0) + F;

  ForwardCost out;
  out.prefill_tokens = prefilled;
  out.decode_tokens = decode_tokens;
  out.attn_token_layers = attn_layers * (prefilled + decode_tokens);
  out.ffn_token_layers = ffn_layers * (prefilled + decode_tokens);
  const double attn_proj = 2 * H * (q + 2 * kv) + 2 * q * H;
  out.flops = static_cast<double>(attn_layers) * (attn_proj * tokens + 4 * q * context) +
              static_cast<double>(ffn_layers) * 6 * H * I * tokens + 2 * H * V * forwards;
  const double attn_weights = H * (q + 2 * kv) + q * H, ffn_weights = 3 * H * I;
  const double A = static_cast<double>(attn_layers), B = static_cast<double>(bytes_per_weight);
  out.weight_bytes = forwards * B * (A * attn_weights + static_cast<double>(ffn_layers) * ffn_weights + H * V);
  out.forwards = forwards;
  out.sublayer_forwards = forwards * static_cast<double>(attn_layers + ffn_layers);
  // The prefill reads the positions up to P once; decode step f reads P + f of them.
  const double read_positions = (prompt_tokens > 0 ? P : 0) + F * P + F * (F + 1) / 2;
  out.kv_bytes = A * 2 * kv * B * read_positions;
  if (prefilled > 1) {  // the prefill forward: its rows' share of the FLOPs
    const double rows = static_cast<double>(prefilled), prefill_context = P * (P + 1) / 2 - C * (C + 1) / 2;
    const double prefill_flops = A * (attn_proj * rows + 4 * q * prefill_context) +
                                 static_cast<double>(ffn_layers) * 6 * H * I * rows + 2 * H * V;
    (prefilled <= kShortForwardRows ? out.shortrow_flops : out.multirow_flops) = prefill_flops;
  }
  return out;
}

}  // namespace litestage
