#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "litestage/kernels/matvec.hpp"
#include "litestage/kernels/simd.hpp"
#include "litestage/kernels/vector_math.hpp"

using namespace litestage;

namespace {

#ifdef LITESTAGE_X86_KERNELS
// simd::silu_mul over n floats, n a multiple of 16, one register width at a time.
LITESTAGE_AVX512 void silu_mul_avx512(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(out + i, simd::silu_mul(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
}
LITESTAGE_AVX2 void silu_mul_avx2(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, simd::silu_mul(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
}
#endif

}  // namespace

TEST_CASE("softmax_prefix: every instruction set this CPU has, against double precision",
          "[model][vector_math]") {
  const VectorIsa saved_isa = vector_isa();
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (int64_t n : {1, 7, 16, 37, 130}) {
      INFO(vector_isa_name(isa) << " n " << n);
      auto x = (torch::randn({n}, torch::kDouble) * 8).to(torch::kFloat);  // exp over a wide range
      for (int64_t visible : {int64_t{1}, (n + 1) / 2, n}) {
        std::vector<float> row(x.data_ptr<float>(), x.data_ptr<float>() + n);
        softmax_prefix(row.data(), visible, n);
        auto want = torch::softmax(x.narrow(0, 0, visible).to(torch::kDouble), 0);
        for (int64_t i = 0; i < n; ++i) {
          const double expected = i < visible ? want[i].item<double>() : 0.0;
          CHECK(std::abs(row[i] - expected) <= 1e-6 + 1e-5 * expected);
        }
      }
    }
  }
  set_vector_isa(saved_isa);
}

#ifdef LITESTAGE_X86_KERNELS
TEST_CASE("simd::silu_mul (the SwiGLU store of the prompt's GEMM): AVX-512 and AVX2 against double precision",
          "[model][vector_math]") {
  const int64_t n = 1024;
  auto gate = (torch::randn({n}, torch::kDouble) * 8).to(torch::kFloat);  // exp over a wide range
  auto up = torch::randn({n});
  auto g = gate.to(torch::kDouble), want = g * torch::sigmoid(g) * up.to(torch::kDouble);
  for (VectorIsa isa : supported_vector_isas()) {
    if (isa == VectorIsa::Generic) continue;
    INFO(vector_isa_name(isa));
    std::vector<float> out(n, std::nanf(""));
    (isa == VectorIsa::Avx512 ? silu_mul_avx512 : silu_mul_avx2)(gate.data_ptr<float>(), up.data_ptr<float>(),
                                                                 out.data(), n);
    for (int64_t i = 0; i < n; ++i)
      CHECK(std::abs(out[i] - want[i].item<double>()) <= 1e-5 * (1 + std::abs(want[i].item<double>())));
  }
}
#endif
