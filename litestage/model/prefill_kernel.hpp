#pragma once
// Several new tokens per row (a prompt) through one decoder layer without LibTorch's ops: the four
// projections (q/k/v and gate/up fused) and each head's two attention products are register-tiled
// GEMMs (model/gemm) that add the residual or apply SwiGLU as they store, the causal softmax a
// vectorised loop with SLEEF's exp (model/vector_math), and the norms, RoPE and cache writes loops
// over rows, into buffers reused between prompts. f32 on CPU, unpadded rows at consecutive
// positions. LibTorch's op-by-op path issues about 60 ops per layer, most of a small model's
// prefill time, and its products run single-threaded in OpenBLAS (model/runtime.cpp).
// CausalLM::hidden_states takes this path when `prefill_kernel_applies` holds and
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

// How a layer's work splits over the threads: Auto picks by the size of the layer's weights and the
// prompt (by rows for a small layer and a long enough prompt, else each product by weight panels);
// Rows and Panels force one, to compare them or to test both.
enum class PrefillSplit { Auto, Rows, Panels };
void set_prefill_split(PrefillSplit split);

// Rows per chunk when a prompt's `rows` split over `threads` threads by rows: whole GEMM tiles, at
// least 24 (each chunk streams every weight panel of the layer), and of those the grain whose
// chunks, taken in turn by threads of equal speed, leave the busiest thread the fewest rows (the
// smallest such grain: more chunks absorb a slowed thread better).
int64_t prefill_row_grain(int64_t rows, int threads);

// Whether the layer suits the kernel: all weights f32, contiguous, on CPU, q/k/v and gate/up fused.
bool prefill_kernel_applies(const DecoderLayerImpl& layer);

}  // namespace litestage
