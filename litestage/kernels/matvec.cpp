#include "litestage/kernels/matvec.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/types.h>

#include "litestage/kernels/parallel.hpp"
#include "litestage/kernels/row_kernels.hpp"
#include "litestage/kernels/simd.hpp"
#include "litestage/util/cpu_info.hpp"
#include "litestage/util/error.hpp"


namespace litestage {

namespace {

using namespace row_kernels;


const uint16_t* bf16_bits(const c10::BFloat16* p) { return reinterpret_cast<const uint16_t*>(p); }

// Any CPU: sixteen independent partial sums (the compiler may vectorise them).
template <typename W>
float dot_generic(const float* x, const W* w, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += x[i + j] * widen(w[i + j]);
  float sum = 0.0f;
  for (int j = 0; j < 16; ++j) sum += acc[j];
  for (; i < n; ++i) sum += x[i] * widen(w[i]);
  return sum;
}

#ifdef LITESTAGE_X86_KERNELS
// Four independent vector sums, so the multiply-adds' latency does not bound the stream: one row
// streams at 25-33 GB/s per core (f32) on a 2-core AMD EPYC, where a single 16-float sum reached 17.
LITESTAGE_AVX512 inline float sum16(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}
template <typename W>
LITESTAGE_AVX512 float dot_avx512(const float* x, const W* w, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(load16(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(load16(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(load16(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(load16(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load16(w + i), _mm512_loadu_ps(x + i), a0);
  float sum = sum16(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) sum += x[i] * widen(w[i]);
  return sum;
}


// sum of p[0..n) as kStreams streams of n / kStreams floats each, the remainder after them.
template <int kStreams>
LITESTAGE_AVX512 double sum_streams_avx512(const float* p, int64_t n) {
  const int64_t per = n / kStreams / 16 * 16;
  __m512 a[kStreams];
  for (int k = 0; k < kStreams; ++k) a[k] = _mm512_setzero_ps();
  for (int64_t i = 0; i < per; i += 16)
    for (int k = 0; k < kStreams; ++k) a[k] = _mm512_add_ps(a[k], _mm512_loadu_ps(p + k * per + i));
  double sum = 0;
  for (int k = 0; k < kStreams; ++k) sum += sum16(a[k]);
  for (int64_t i = kStreams * per; i < n; ++i) sum += p[i];
  return sum;
}

LITESTAGE_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
LITESTAGE_AVX2 inline __m256 load8(const uint16_t* p) {
  const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}
template <int kStreams>
LITESTAGE_AVX2 double sum_streams_avx2(const float* p, int64_t n) {
  const int64_t per = n / kStreams / 8 * 8;
  __m256 a[kStreams];
  for (int k = 0; k < kStreams; ++k) a[k] = _mm256_setzero_ps();
  for (int64_t i = 0; i < per; i += 8)
    for (int k = 0; k < kStreams; ++k) a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(p + k * per + i));
  double sum = 0;
  alignas(32) float lanes[8];
  for (int k = 0; k < kStreams; ++k) {
    _mm256_store_ps(lanes, a[k]);
    for (float v : lanes) sum += v;
  }
  for (int64_t i = kStreams * per; i < n; ++i) sum += p[i];
  return sum;
}

template <typename W>
LITESTAGE_AVX2 float dot_avx2(const float* x, const W* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(load8(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(load8(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(load8(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load8(w + i), _mm256_loadu_ps(x + i), a0);
  const __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float sum = _mm_cvtss_f32(s);
  for (; i < n; ++i) sum += x[i] * widen(w[i]);
  return sum;
}
#endif

bool isa_supported(VectorIsa isa) {
  const CpuInfo& cpu = host_cpu_info();
#ifdef LITESTAGE_X86_KERNELS
  if (isa == VectorIsa::Avx512) return cpu.avx512;
  if (isa == VectorIsa::Avx2) return cpu.avx2 && cpu.fma;
#endif
  (void)cpu;
  return isa == VectorIsa::Generic;
}

VectorIsa best_isa() {
  for (VectorIsa isa : {VectorIsa::Avx512, VectorIsa::Avx2})
    if (isa_supported(isa)) return isa;
  return VectorIsa::Generic;
}

std::atomic<VectorIsa>& current_isa() {
  static std::atomic<VectorIsa> isa{best_isa()};
  return isa;
}

bool native_bf16_built() {
#ifdef LITESTAGE_AVX512_BF16
  return true;
#else
  return false;
#endif
}

std::atomic<bool>& native_bf16_on() {
  static std::atomic<bool> on{native_bf16_supported()};
  return on;
}

template <typename W>
float dot_any(const float* x, const W* w, int64_t n) {
#ifdef LITESTAGE_X86_KERNELS
  switch (current_isa().load(std::memory_order_relaxed)) {
    case VectorIsa::Avx512: return dot_avx512(x, w, n);
    case VectorIsa::Avx2: return dot_avx2(x, w, n);
    case VectorIsa::Generic: break;
  }
#endif
  return dot_generic(x, w, n);
}

// Rows per AVX-512 block (dot_rows_avx512, dot_rows_bf16) for f32 weights and native bf16 pairs;
// widened bf16 rows go one by one (widening makes that product compute-bound here, and blocks of 4
// or 8 rows measured no faster). Also the streams per thread of read_sum.
constexpr int kRowBlock = 8;
// Columns per chunk of dot_rows_batch (f32) and dot_rows_bf16_batch: kRowBlock rows in 16 KB, half
// of a core's L1 here.
constexpr int64_t kColumnChunk = 512;
constexpr int64_t kPairChunk = 1024;

// sum of p[0..n) with the current instruction set: kRowBlock streams (AVX-512, AVX2), else sixteen
// independent sums as in dot_generic.
double sum_streams_any(const float* p, int64_t n) {
#ifdef LITESTAGE_X86_KERNELS
  switch (current_isa().load(std::memory_order_relaxed)) {
    case VectorIsa::Avx512: return sum_streams_avx512<kRowBlock>(p, n);
    case VectorIsa::Avx2: return sum_streams_avx2<kRowBlock>(p, n);
    case VectorIsa::Generic: break;
  }
#endif
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += p[i + j];
  double sum = 0;
  for (float v : acc) sum += v;
  for (; i < n; ++i) sum += p[i];
  return sum;
}

// One product: y = W x (+ b) for `batch` vectors, x (batch, cols) and y (batch, rows) row-major;
// with bf16 weights, x holds values rounded to bf16, or (null, and) xb their bits where the pairs
// are native.
template <typename W>
struct Product {
  const W* w;
  const W* b;
  int64_t rows, cols, batch;
  const float* x;
  float* y;
  const uint16_t* xb = nullptr;

  // Weight rows [begin, end); each row is read from memory once and reused, from cache, for
  // every vector of the batch. Where a block kernel applies, the rows split into kRowBlock runs
  // of `per` adjacent rows, read side by side: block j holds row j of every run, so each of its
  // streams goes on from one row into the next instead of starting anew every row.
  void run(int64_t begin, int64_t end) const {
    if (blocks()) {
      const int64_t per = (end - begin) / kRowBlock;
      thread_local std::vector<float> out;
      out.resize(static_cast<size_t>(batch * kRowBlock));
      for (int64_t j = 0; j < per; ++j) {
        block_all(begin + j, per, out.data());
        for (int64_t v = 0; v < batch; ++v)
          for (int k = 0; k < kRowBlock; ++k) {
            const int64_t r = begin + k * per + j;
            y[v * rows + r] = out[v * kRowBlock + k] + bias(r);
          }
      }
      begin += per * kRowBlock;
    }
    for (int64_t r = begin; r < end; ++r)
      for (int64_t v = 0; v < batch; ++v) y[v * rows + r] = row_dot(v, r) + bias(r);
  }

  float bias(int64_t r) const { return b ? widen(b[r]) : 0.0f; }

  // With AVX-512: f32 rows, or bf16 rows with native pairs.
  bool blocks() const {
    return current_isa().load(std::memory_order_relaxed) == VectorIsa::Avx512 && (std::is_same_v<W, float> || xb);
  }

  // Rows r, r + per, ..., r + (kRowBlock - 1) per against vector v (only where blocks()).
  void block([[maybe_unused]] int64_t v, [[maybe_unused]] int64_t r, [[maybe_unused]] int64_t per,
             [[maybe_unused]] float* out) const {
#ifdef LITESTAGE_X86_KERNELS
    if constexpr (std::is_same_v<W, float>)
      return dot_rows_avx512<kRowBlock>(x + v * cols, w + r * cols, cols, per * cols, out);
#endif
#ifdef LITESTAGE_AVX512_BF16
    if constexpr (!std::is_same_v<W, float>)
      dot_rows_bf16<kRowBlock>(xb + v * cols, w + r * cols, cols, per * cols, out);
#endif
  }

  // Rows r, r + per, ... against every vector: out[v * kRowBlock + k]. Rows longer than a chunk
  // (f32: kColumnChunk, bf16 pairs: kPairChunk) go through the batched kernels, whose chunks of
  // the rows stay in L1 for all vectors (the same sums as block()).
  void block_all(int64_t r, int64_t per, float* out) const {
#ifdef LITESTAGE_X86_KERNELS
    if constexpr (std::is_same_v<W, float>)
      if (batch > 1 && cols > kColumnChunk)
        return dot_rows_batch<kRowBlock>(x, batch, w + r * cols, cols, per * cols, kColumnChunk, out);
#endif
#ifdef LITESTAGE_AVX512_BF16
    if constexpr (!std::is_same_v<W, float>)
      if (batch > 1 && cols > kPairChunk)
        return dot_rows_bf16_batch<kRowBlock>(xb, batch, w + r * cols, cols, per * cols, kPairChunk, out);
#endif
    for (int64_t v = 0; v < batch; ++v) block(v, r, per, out + v * kRowBlock);
  }

  // Row r against vector v: where blocks() holds, the block kernel's sums for one row, so that a
  // row's result does not depend on whether its chunk of rows (which follows the batch size) put
  // it in a block or in the remainder.
  float row_dot(int64_t v, int64_t r) const {
#ifdef LITESTAGE_X86_KERNELS
    if constexpr (std::is_same_v<W, float>)
      if (blocks()) {
        float out;
        dot_rows_avx512<1>(x + v * cols, w + r * cols, cols, cols, &out);
        return out;
      }
#endif
#ifdef LITESTAGE_AVX512_BF16
    if constexpr (!std::is_same_v<W, float>)
      if (xb) {
        float out;
        dot_rows_bf16<1>(xb + v * cols, w + r * cols, cols, cols, &out);
        return out;
      }
#endif
    return dot_any(x + v * cols, w + r * cols, cols);
  }
};

// x (n floats) rounded to bf16 for a product with bf16 weights: their bits where the pairs are
// native, else the rounded values as f32 (only one is read). Reused between calls by each thread.
struct RoundedInput {
  std::vector<float> values;
  std::vector<uint16_t> bits;
};

const RoundedInput& round_to_bf16(const float* x, int64_t n, bool as_bits) {
  thread_local RoundedInput r;
  r.values.resize(as_bits ? 0 : n), r.bits.resize(as_bits ? n : 0);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t bits = c10::BFloat16(x[i]).x;  // round to nearest even
    if (as_bits)
      r.bits[i] = bits;
    else
      r.values[i] = widen(bits);
  }
  return r;
}

// Split over the intra-op threads from this many multiply-adds (smaller products run on the
// calling thread: a parallel region costs more than they do), in chunks of rows of at least
// kChunkWork each (kernels/parallel.hpp).
constexpr int64_t kParallelWork = int64_t{1} << 17;
constexpr int64_t kChunkWork = int64_t{1} << 18;

template <typename W>
void run_product(const Product<W>& p) {
  const int64_t row_work = p.cols * p.batch;
  auto loop = [&p](int64_t begin, int64_t end) { p.run(begin, end); };
  if (p.rows * row_work < kParallelWork) return loop(0, p.rows);
  const int64_t grain = chunk_grain(p.rows, row_work, kChunkWork);
  parallel_chunks(p.rows, (grain + kRowBlock - 1) / kRowBlock * kRowBlock, loop);  // whole row blocks
}

}  // namespace

const char* vector_isa_name(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::Avx512: return "avx512";
    case VectorIsa::Avx2: return "avx2";
    case VectorIsa::Generic: break;
  }
  return "generic";
}

VectorIsa vector_isa() { return current_isa().load(); }

std::vector<VectorIsa> supported_vector_isas() {
  std::vector<VectorIsa> out;
  for (VectorIsa isa : {VectorIsa::Generic, VectorIsa::Avx2, VectorIsa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

void set_vector_isa(VectorIsa isa) {
  if (!isa_supported(isa)) throw_error("this CPU (or build) cannot run the ", vector_isa_name(isa), " kernels");
  current_isa().store(isa);
}

bool native_bf16_supported() { return native_bf16_built() && isa_supported(VectorIsa::Avx512) && host_cpu_info().avx512_bf16; }

bool native_bf16() { return native_bf16_on().load(); }

void set_native_bf16(bool on) {
  if (on && !native_bf16_supported()) throw_error("this CPU (or build) has no native bf16 dot products (AVX512-BF16)");
  native_bf16_on().store(on);
}

double read_sum(const float* p, int64_t n) {
  const int threads = std::max(at::get_num_threads(), 1);
  std::vector<double> part(threads, 0.0);
  at::parallel_for(0, threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = n * t / threads, e = n * (t + 1) / threads;
      part[t] = sum_streams_any(p + b, e - b);
    }
  });
  double sum = 0;
  for (double v : part) sum += v;
  return sum;
}

float dot(const float* a, const float* b, int64_t n) { return dot_any(a, b, n); }
float dot(const float* a, const c10::BFloat16* b, int64_t n) { return dot_any(a, bf16_bits(b), n); }

// y = W x (+ bias), W (rows, cols) row-major, streamed once for the whole batch. No BLAS:
// OpenBLAS (single-threaded under set_threads) serialises concurrent calls, and its single-thread
// f32 matrix-vector kernel was no faster than these loops; no BLAS multiplies bf16 weights by an
// f32 vector. at::parallel_for is a header template: without -fopenmp it runs on the calling
// thread only (litestage_model is compiled with OpenMP; see litestage/CMakeLists.txt).
void matvec(const at::Tensor& weight, const at::Tensor& bias, const float* x, float* y, int64_t batch) {
  TORCH_CHECK(!bias.defined() || bias.scalar_type() == weight.scalar_type(), "matvec: bias and weight dtypes differ");
  TORCH_CHECK(batch >= 1, "matvec: batch must be >= 1");
  const int64_t rows = weight.size(0), cols = weight.size(1);
  if (weight.scalar_type() == at::kBFloat16) {
    const uint16_t* b = bias.defined() ? bf16_bits(bias.data_ptr<c10::BFloat16>()) : nullptr;
    const bool pairs = native_bf16() && vector_isa() == VectorIsa::Avx512;
    const RoundedInput& in = round_to_bf16(x, batch * cols, pairs);
    return run_product(Product<uint16_t>{bf16_bits(weight.data_ptr<c10::BFloat16>()), b, rows, cols, batch,
                                         pairs ? nullptr : in.values.data(), y, pairs ? in.bits.data() : nullptr});
  }
  TORCH_CHECK(weight.scalar_type() == at::kFloat, "matvec: weights must be f32 or bf16");
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  run_product(Product<float>{weight.data_ptr<float>(), b, rows, cols, batch, x, y});
}

bool matvec_applies(const at::Tensor& x, const at::Tensor& weight) {
  const auto dt = weight.scalar_type();
  return x.dim() >= 1 && x.numel() > 0 && x.numel() <= kMatvecRows * x.size(-1) && x.device().is_cpu() && x.scalar_type() == dt &&
         (dt == at::kFloat || dt == at::kBFloat16) && weight.is_contiguous() && !at::GradMode::is_enabled();
}

at::Tensor linear_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  const auto xv = x.to(at::kFloat).contiguous();  // no copy for contiguous f32 rows
  const int64_t rows = x.numel() / x.size(-1);
  auto y = at::empty({rows, weight.size(0)}, x.options().dtype(at::kFloat));
  matvec(weight, bias, xv.data_ptr<float>(), y.data_ptr<float>(), rows);
  return y.to(x.scalar_type()).view(sizes);
}

}  // namespace litestage
