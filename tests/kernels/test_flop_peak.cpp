#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/Parallel.h>

#include "litestage/kernels/flop_peak.hpp"
#include "litestage/kernels/matvec.hpp"

using namespace litestage;

// Figures only: how fast is the machine's business (litestage bench prints them), so these check
// that every path measures something finite and positive, and that bf16 pairs are measured exactly
// where the CPU multiplies them.
TEST_CASE("multiply-add peaks: each instruction set this CPU has, 1 and 2 threads, bf16 pairs only where native",
          "[model][flop_peak]") {
  const int saved = at::get_num_threads();
  const VectorIsa saved_isa = vector_isa();
  for (VectorIsa isa : supported_vector_isas())
    for (int threads : {1, 2}) {
      set_vector_isa(isa);
      at::set_num_threads(threads);
      INFO(vector_isa_name(isa) << ", " << threads << " threads");
      const double f32 = f32_fma_peak_gflops(1);
      CHECK(std::isfinite(f32));
      CHECK(f32 > 0);
    }
  set_vector_isa(saved_isa);
  const double pairs = bf16_pair_peak_gflops(1);
  CHECK(std::isfinite(pairs));
  CHECK((pairs > 0) == native_bf16_supported());
  at::set_num_threads(saved);
}
