#pragma once
// Several new tokens per row (a prompt) through one decoder layer in few LibTorch calls: the four
// projections and the attention's two batched products are one GEMM each, the softmax and SiLU one
// vectorised op each, and everything between them (norms, RoPE, cache writes, the causal mask,
// SwiGLU's product, residuals) plain loops over rows. f32 on CPU, unpadded rows at consecutive
// positions. LibTorch's op-by-op path issues about 60 ops per layer, which is most of a small
// model's prefill time (the demo model: 128 tokens of hidden 128 in about 6 ms); this path issues
// 8. CausalLM::hidden_states takes it when `prefill_kernel_applies` holds and
// ForwardOptions::kernels is on; the LibTorch path stays the reference (tests compare them).

#include <cstdint>

#include <torch/types.h>

namespace litestage {

class DecoderLayerImpl;
class KVCache;
class RotaryEmbedding;
class SkipPlan;

// h: (batch, T, hidden) contiguous f32, updated in place; the new tokens sit at cache slots
// start..start+T of every row.
void prefill_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t start, KVCache& cache,
                        const RotaryEmbedding& rope, const SkipPlan& plan);

// Whether the layer suits the kernel: all weights f32, contiguous, on CPU, q/k/v and gate/up fused.
bool prefill_kernel_applies(const DecoderLayerImpl& layer);

}  // namespace litestage
