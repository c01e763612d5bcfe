#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "litestage/kernels/blas.hpp"
#include "litestage/kernels/runtime.hpp"

using namespace litestage;

namespace {
CpuInfo cpu_with(bool avx2, bool avx512, bool bf16, bool amx = false) {
  CpuInfo c;
  c.known = true;
  c.avx2 = c.fma = avx2;
  c.avx512 = avx512;
  c.avx512_bf16 = bf16;
  c.amx_bf16 = amx;
  return c;
}
}  // namespace

TEST_CASE("OpenBLAS kernel fix: the kernel set the CPU deserves, only when it runs a weaker one", "[model][blas]") {
  const CpuInfo avx512 = cpu_with(true, true, true), avx2 = cpu_with(true, false, false), old = cpu_with(false, false, false);
  CHECK(better_openblas_core(avx512, "Prescott") == "SkylakeX");
  CHECK(better_openblas_core(avx512, "Haswell") == "SkylakeX");
  CHECK(better_openblas_core(avx512, "SkylakeX").empty());
  CHECK(better_openblas_core(avx512, "Cooperlake").empty());
  CHECK(better_openblas_core(avx512, "sapphirerapids").empty());
  CHECK(better_openblas_core(avx2, "Prescott") == "Haswell");
  CHECK(better_openblas_core(avx2, "Nehalem") == "Haswell");
  CHECK(better_openblas_core(avx2, "Haswell").empty());
  CHECK(better_openblas_core(avx2, "Zen").empty());
  CHECK(better_openblas_core(old, "Prescott").empty());  // nothing better to offer

  BlasInfo slow{true, "Prescott", "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64"};
  CHECK(blas_description(slow) == "OpenBLAS 0.3.21 (Prescott kernels)");
  std::string warning = blas_kernel_warning(slow, avx512);
  CHECK_THAT(warning, Catch::Contains("OPENBLAS_CORETYPE=SkylakeX"));
  CHECK_THAT(warning, Catch::Contains("Prescott"));
  CHECK(blas_kernel_warning({true, "SkylakeX", ""}, avx512).empty());
  CHECK(blas_kernel_warning({}, avx512).empty());  // MKL or another BLAS: nothing to say
  CHECK(blas_description({}) == "not OpenBLAS (MKL or the build's own)");
}

TEST_CASE("dtype auto: bf16 with AMX, measured with AVX512-BF16 alone, f32 elsewhere, and says why",
          "[model][dtype]") {
  const c10::Device cpu(c10::kCPU);
  int probes = 0;
  auto probe = [&probes](double f32, double bf16) {
    return [&probes, f32, bf16](c10::ScalarType t) { return ++probes, t == c10::kBFloat16 ? bf16 : f32; };
  };
  DtypeChoice plain = auto_dtype(cpu, cpu_with(true, true, false), probe(100, 700));
  CHECK(plain.dtype == c10::kFloat);
  CHECK_THAT(plain.reason, Catch::Contains("no native bf16"));
  CHECK(probes == 0);  // nothing measured where bf16 cannot be native
  if (dtype_supported(c10::kBFloat16, cpu)) {
    DtypeChoice fast = auto_dtype(cpu, cpu_with(true, true, true), probe(180, 670));
    CHECK(fast.dtype == c10::kBFloat16);
    CHECK(fast.reason == "auto: bf16, the CPU has AVX512-BF16 without AMX and multiplied bf16 at 670 GFLOP/s, f32 at 180");
    DtypeChoice slow = auto_dtype(cpu, cpu_with(true, true, true), probe(108, 74));
    CHECK(slow.dtype == c10::kFloat);
    CHECK_THAT(slow.reason, Catch::StartsWith("auto: f32,") && Catch::Contains("bf16 at 74 GFLOP/s, f32 at 108"));
    CHECK(auto_dtype(cpu, cpu_with(true, true, true), probe(100, 149)).dtype == c10::kFloat);  // below 1.5x
    CHECK(auto_dtype(cpu, cpu_with(true, true, true), probe(100, 150)).dtype == c10::kBFloat16);
    CHECK(probes == 8);
  }
  DtypeChoice amx = auto_dtype(cpu, cpu_with(true, true, true, true));
  if (dtype_supported(c10::kBFloat16, cpu)) {
    CHECK(amx.dtype == c10::kBFloat16);
    CHECK_THAT(amx.reason, Catch::Contains("AMX"));
  } else {
    CHECK(amx.dtype == c10::kFloat);
  }
  DtypeChoice asked = choose_dtype("f32", cpu);
  CHECK(asked.dtype == c10::kFloat);
  CHECK(asked.reason == "requested");
  Runtime rt = make_runtime("cpu", "auto");
  CHECK(rt.dtype == auto_dtype(cpu, host_cpu_info()).dtype);
  CHECK(rt.dtype_reason == auto_dtype(cpu, host_cpu_info()).reason);
  CHECK_THAT(runtime_description(rt), Catch::Contains("BLAS: "));
}

TEST_CASE("GEMM throughput is measured and positive", "[model][blas]") {
  CHECK(measure_gemm_gflops(c10::kFloat, c10::Device(c10::kCPU), 64, 2) > 0.0);
}
