#pragma once
// The deterministic cost of a generate call: what the model executed, counted from the model
// config, the skip plan and the token counts — identical on every machine, so a table can show
// the method's effect apart from the machine's timing noise (docs/methods.md, "Cost").
//
// A call prefills P prompt tokens in one forward (positions 1..P), then runs F one-token decode
// forwards (positions P+1..P+F): F is the number of generated tokens that were fed back, i.e. the
// generated tokens when EOS ended the call (EOS itself is never fed), one fewer otherwise (the
// token that hit the budget, a stop string or early exit is not fed). Per token and executed
// sub-layer (H hidden, q = heads x head_dim, kv = kv heads x head_dim, I intermediate, c the
// positions attended, the token's own included):
//   attention  2 H (q + 2 kv) + 2 q H  (projections)  +  4 q c  (scores and weighted sum)
//   FFN        6 H I
// plus the lm_head, 2 H V, once per forward (only the last position's logits are computed).
// Weight bytes: every forward reads the weights of the executed sub-layers and the lm_head once,
// however many rows it computes. KV-cache bytes: every forward reads, per executed attention
// sub-layer, the keys and values of the positions its rows attend (cached ones and its own) once.
// Norms, RoPE, biases, softmax and the embedding row are left out (each under 1 % here).
// Every field adds up over forwards, so a latency model (model/latency_model.hpp) that is linear in
// them predicts a call, a stage or a question alike; another kind of forward (a speculative verify
// step: one forward over K rows) adds its own counts.

#include <cstdint>

#include "litestage/model/config.hpp"
#include "litestage/model/skip_plan.hpp"

namespace litestage {

struct ForwardCost {
  int64_t prefill_tokens = 0;     // P
  int64_t decode_tokens = 0;      // F
  int64_t attn_token_layers = 0;  // executed attention sub-layers x tokens
  int64_t ffn_token_layers = 0;   // executed FFN sub-layers x tokens
  double flops = 0;
  double weight_bytes = 0;
  double forwards = 0;           // model calls (a prefill is one, each decode step one)
  double sublayer_forwards = 0;  // executed sub-layers x forwards (each runs once per forward)
  double kv_bytes = 0;           // KV-cache bytes read
  double multirow_flops = 0;     // the part of `flops` in forwards over more than kShortForwardRows rows (GEMMs)
  // The part of `flops` in forwards over 2..kShortForwardRows rows (short forwards: an Analyze
  // option's tail, a verify step), which the decode kernel computes row by row.
  double shortrow_flops = 0;
  ForwardCost& operator+=(const ForwardCost& o);
};

// F for a call that generated `generated` tokens (EOS excluded) and ended by EOS or not.
int64_t decode_forwards(int64_t generated, bool ended_by_eos);

// The cost of one generate call; bytes_per_weight is the dtype's size (4 f32, 2 bf16). The first
// `cached_tokens` of the prompt came from a shared prefix's KV cache (computed and counted once,
// elsewhere): only positions cached_tokens+1..P are prefilled, attending to the cached ones too.
ForwardCost forward_cost(const ModelConfig& config, const SkipPlan& plan, int64_t prompt_tokens,
                         int64_t decode_tokens, int64_t bytes_per_weight, int64_t cached_tokens = 0);

}  // namespace litestage
