#pragma once
// One decoding step of a decoder layer as plain loops over the weights, in the manner of
// llama2.c's run.c: f32 or bf16 weights on CPU (f32 activations and sums), a few new tokens per
// row (one in a decode step), no padding. For small models, LibTorch's per-op dispatch (about 70
// ops per layer) costs several times the arithmetic; this path runs the same math without it. For
// large ones it streams each weight once at memory bandwidth (bf16: half the bytes of f32).
// CausalLM::hidden_states takes it when `decode_kernel_applies` holds and ForwardOptions::kernels
// is on; the LibTorch path stays the reference (tests compare them).

#include <cstdint>

#include <torch/types.h>

namespace litestage {

class DecoderLayerImpl;
class KVCache;
class RotaryEmbedding;
class SkipPlan;

// The most new tokens per sequence a step takes here. A short forward (a speculative verify step,
// an option's tail after a shared prefix) is memory-bound like a decode step: each weight is read
// once for all of its rows. Longer prompts go to model/prefill_kernel's products.
constexpr int64_t kShortForwardRows = 16;

// h: (batch, steps, hidden) contiguous CPU in the weights' dtype, 1 <= steps <= kShortForwardRows,
// updated in place; each sequence's new tokens sit at positions (= cache slots) position ..
// position + steps - 1. Each row's result is bitwise that of a one-token step at its position (the
// same sums in the same order), so one forward over k tokens equals k decode steps
// (logits too while the batch's rows number at most kMatvecRows: kernels/matvec.hpp).
void decode_layer_step(DecoderLayerImpl& layer, int layer_index, torch::Tensor& h, int64_t position,
                       KVCache& cache, const RotaryEmbedding& rope, const SkipPlan& plan);

// Whether the layer's weights suit the kernel: all f32 or all bf16, contiguous, on CPU.
bool decode_kernel_applies(const DecoderLayerImpl& layer);

}  // namespace litestage
