#pragma once
// Several new tokens per row (a prompt) through the decoder layers without LibTorch's ops: the four
// projections (q/k/v and gate/up fused) and each head's two attention products are register-tiled
// GEMMs (kernels/gemm) that add the residual or apply SwiGLU as they store, the causal softmax a
// vectorised loop with SLEEF's exp (kernels/vector_math), and the norms, RoPE and cache writes loops
// over rows, into buffers reused between prompts. f32 on CPU, unpadded rows at consecutive
// positions. LibTorch's op-by-op path issues about 60 ops per layer, most of a small model's
// prefill time, and its products run single-threaded in OpenBLAS (kernels/runtime.cpp).
// CausalLM::hidden_states takes this path when `prefill_kernel_applies` holds and
// ForwardOptions::kernels is on; the LibTorch path stays the reference (tests compare them).

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace litestage {

class DecoderLayerImpl;
class DecoderLayer;
class KVCache;
class RotaryEmbedding;
class SkipPlan;

// Layers [first, last) of `layers` (each one prefill_kernel_applies to) over a prompt. h: (batch, T,
// hidden) contiguous f32, updated in place; the new tokens sit at cache slots start..start+T of
// every row.
void prefill_layers(std::vector<DecoderLayer>& layers, int first, int last, torch::Tensor& h, int64_t start,
                    KVCache& cache, const RotaryEmbedding& rope, const SkipPlan& plan);

// How a prompt's work splits over the threads: Auto picks by the size of the layers' weights and
// the prompt (by rows for small layers and a long enough prompt, else each product by weight
// panels); Rows and Panels force one, to compare them or to test both.
enum class PrefillSplit { Auto, Rows, Panels };
void set_prefill_split(PrefillSplit split);

// Where a prompt's `rows` (sequences of T tokens at cache slots start..) split into chunks when
// split by rows (one per thread): bounds[c]..bounds[c+1] is chunk c. `most` chunks, but fewer
// where they would average under 24 rows (one chunk below 48 rows); inner bounds on whole GEMM
// tiles, each placed where the work before it is nearest its share, a row's work being row_work
// (its products) plus key_work for each slot it attends to.
std::vector<int64_t> prefill_row_bounds(int64_t rows, int64_t T, int64_t start, int64_t row_work, int64_t key_work,
                                        int64_t most);

// Whether the layer suits the kernel: all weights f32, contiguous, on CPU, q/k/v and gate/up fused.
bool prefill_kernel_applies(const DecoderLayerImpl& layer);

// Whether the kernel keeps the layer's weights packed between calls (a small layer: 8 MB of f32
// weights or less, as the demo model's). Each row's result is then the same sums in the same order
// whatever the number of rows, the threads or the split, so one forward over k new tokens equals k
// one-token steps bitwise (model/decode_kernel.hpp: ShortForwardKernel).
bool prefill_keeps_panels(const DecoderLayerImpl& layer);

}  // namespace litestage
