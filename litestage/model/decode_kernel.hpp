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

// Which kernel takes a forward of 1 to kShortForwardRows new tokens on f32 weights. Auto: the
// prefill kernel where it keeps the layer's weights packed (a small layer: prefill_keeps_panels),
// this one otherwise (bf16 always comes here). On the demo model the packed panels ran a decode
// step no slower than the row products, and a forward over 2, 4 and 8 rows at 1.15x, 1.33x and 2.2x
// a step where the row products took 1.4x, 1.9x and 3.1-3.8x (2-core AMD EPYC, f32, 2 threads):
// each weight panel serves every row from registers, with no per-row lane sums. Either kernel gives
// each row bitwise the result of a one-token step, so a model keeps to one of them for every step.
// Decode and Prefill force one (to compare them, or to test both).
enum class ShortForwardKernel { Auto, Decode, Prefill };
void set_short_forward_kernel(ShortForwardKernel kernel);
ShortForwardKernel short_forward_kernel();

}  // namespace litestage
