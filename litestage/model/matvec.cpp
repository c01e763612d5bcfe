#include "litestage/model/matvec.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include <ATen/Parallel.h>
#include <torch/types.h>

#include "litestage/model/parallel.hpp"
#include "litestage/model/simd.hpp"
#include "litestage/util/cpu_info.hpp"
#include "litestage/util/error.hpp"


namespace litestage {

namespace {

inline float widen(float v) { return v; }
// bf16 -> f32 is exact: the bf16 bits are the top half of the f32's.
inline float widen(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

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
LITESTAGE_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
// The zero-masked forms: GCC 12's unmasked ones read an "undefined" register that -Wall flags.
LITESTAGE_AVX512 inline __m512 load16(const uint16_t* p) {
  constexpr __mmask16 all = 0xFFFF;
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, half), 16));
}
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

// R rows of W (row stride `cols`) against x at once: out[k] = row k . x. R streams in flight per
// core read faster than one where rows are long: on a 2-core AMD EPYC, 8 rows of 5632 floats
// streamed 64-69 GB/s where one row at a time reached 48-50 (x, 22 KB, no longer stays in L1 beside
// one stream's prefetched lines); rows of 2048 floats read at the same rate either way.
template <int R, typename W>
LITESTAGE_AVX512 void dot_rows_avx512(const float* x, const W* w, int64_t cols, float* out) {
  __m512 a[R][2];
  for (int k = 0; k < R; ++k) a[k][0] = a[k][1] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= cols; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
    for (int k = 0; k < R; ++k) {
      a[k][0] = _mm512_fmadd_ps(load16(w + k * cols + i), x0, a[k][0]);
      a[k][1] = _mm512_fmadd_ps(load16(w + k * cols + i + 16), x1, a[k][1]);
    }
  }
  for (; i + 16 <= cols; i += 16)
    for (int k = 0; k < R; ++k) a[k][0] = _mm512_fmadd_ps(load16(w + k * cols + i), _mm512_loadu_ps(x + i), a[k][0]);
  for (int k = 0; k < R; ++k) {
    out[k] = sum16(_mm512_add_ps(a[k][0], a[k][1]));
    for (int64_t j = i; j < cols; ++j) out[k] += x[j] * widen(w[k * cols + j]);
  }
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

// Rows per AVX-512 block (dot_rows_avx512) for f32 weights; bf16 rows go one by one (widening bf16
// makes its product compute-bound here, and blocks of 4 or 8 rows measured no faster). Also the
// streams per thread of read_sum.
constexpr int kRowBlock = 8;

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

// One product: y = W x (+ b) for `batch` vectors, x (batch, cols) and y (batch, rows) row-major.
template <typename W>
struct Product {
  const W* w;
  const W* b;
  int64_t rows, cols, batch;
  const float* x;
  float* y;

  // Weight rows [begin, end); each row is read from memory once and reused, from cache, for
  // every vector of the batch. With AVX-512, f32 rows kRowBlock at a time.
  void run(int64_t begin, int64_t end) const {
#ifdef LITESTAGE_X86_KERNELS
    if (std::is_same_v<W, float> && current_isa().load(std::memory_order_relaxed) == VectorIsa::Avx512)
      for (; begin + kRowBlock <= end; begin += kRowBlock)
        for (int64_t v = 0; v < batch; ++v) {
          float out[kRowBlock];
          dot_rows_avx512<kRowBlock>(x + v * cols, w + begin * cols, cols, out);
          for (int k = 0; k < kRowBlock; ++k) y[v * rows + begin + k] = out[k] + (b ? widen(b[begin + k]) : 0.0f);
        }
#endif
    for (int64_t r = begin; r < end; ++r) {
      const W* row = w + r * cols;
      const float bias = b ? widen(b[r]) : 0.0f;
      for (int64_t v = 0; v < batch; ++v) y[v * rows + r] = dot_any(x + v * cols, row, cols) + bias;
    }
  }
};

// Split over the intra-op threads from this many multiply-adds (smaller products run on the
// calling thread: a parallel region costs more than they do), in chunks of rows of at least
// kChunkWork each (model/parallel.hpp).
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
    return run_product(Product<uint16_t>{bf16_bits(weight.data_ptr<c10::BFloat16>()), b, rows, cols, batch, x, y});
  }
  TORCH_CHECK(weight.scalar_type() == at::kFloat, "matvec: weights must be f32 or bf16");
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  run_product(Product<float>{weight.data_ptr<float>(), b, rows, cols, batch, x, y});
}

bool matvec_applies(const at::Tensor& x, const at::Tensor& weight) {
  const auto dt = weight.scalar_type();
  return x.numel() == x.size(-1) && x.device().is_cpu() && x.scalar_type() == dt &&
         (dt == at::kFloat || dt == at::kBFloat16) && weight.is_contiguous() && !at::GradMode::is_enabled();
}

at::Tensor linear_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  const auto xv = x.to(at::kFloat).contiguous();  // no copy for a contiguous f32 row
  auto y = at::empty({weight.size(0)}, x.options().dtype(at::kFloat));
  matvec(weight, bias, xv.data_ptr<float>(), y.data_ptr<float>());
  return y.to(x.scalar_type()).view(sizes);
}

}  // namespace litestage
