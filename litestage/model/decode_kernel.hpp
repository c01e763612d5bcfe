#pragma once
// One decoding step of a decoder layer as plain loops over the weights, in the manner of
// llama2.c's run.c: f32 or bf16 weights on CPU (f32 activations and sums), one new token per row,
// no padding. For small models, LibTorch's per-op dispatch (about 70 ops per layer) costs several
// times the arithmetic; this path runs the same math without it. For large ones it streams each
// weight once at memory bandwidth (bf16: half the bytes of f32). CausalLM::hidden_states takes it
// when `decode_kernel_applies` holds and ForwardOptions::kernels is on; the LibTorch path
// stays the reference (tests compare them).

#include <cstdint>

#include <torch/types.h>

namespace litestage {

class DecoderLayerImpl;
class KVCache;
class RotaryEmbedding;
class SkipPlan;

// h: (batch, 1, hidden) contiguous CPU in the weights' dtype, updated in place. `position` is the new token's
// sequence index, shared by every row (= its cache slot).
void decode_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t position,
                       KVCache& cache, const RotaryEmbedding& rope, const SkipPlan& plan);

// Whether the layer's weights suit the kernel: all f32 or all bf16, contiguous, on CPU.
bool decode_kernel_applies(const DecoderLayerImpl& layer);

}  // namespace litestage
