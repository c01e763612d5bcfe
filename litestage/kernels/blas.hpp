#pragma once
// Which BLAS the process runs its f32 matrix products with, and whether its kernels suit the CPU.
//
// Debian's LibTorch calls the system BLAS. Debian 12's OpenBLAS 0.3.21 does not recognise CPUs
// newer than its release (Sapphire Rapids and later Xeons) and silently uses its generic Prescott
// kernels: a 2048² f32 GEMM then runs at 30-37 GFLOP/s instead of ~200 with the AVX-512 ones.
// OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, so the fix is to set it before the process
// starts; `litestage` re-runs itself with it (apps/main.cpp) unless the user set one.

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "litestage/util/cpu_info.hpp"

namespace litestage {

struct BlasInfo {
  bool openblas = false;  // OpenBLAS is loaded (official LibTorch builds use MKL instead)
  std::string core;       // OpenBLAS's kernel set: "Prescott", "Haswell", "SkylakeX", ...
  std::string config;     // openblas_get_config(): version and build options
};

// The BLAS loaded in this process (looked up at run time; nothing is linked).
BlasInfo loaded_blas();

// The OPENBLAS_CORETYPE that gives `cpu` its proper kernels when OpenBLAS runs the weaker `core`
// ("SkylakeX" on AVX-512 CPUs, "Haswell" on AVX2+FMA ones), or "" when `core` is already right.
std::string better_openblas_core(const CpuInfo& cpu, const std::string& core);

// One line for logs: "OpenBLAS 0.3.21 DYNAMIC_ARCH ... (SkylakeX kernels)" or "MKL or other (not OpenBLAS)".
std::string blas_description(const BlasInfo& blas);

// A warning with the exact fix when OpenBLAS runs kernels weaker than the CPU supports, else "".
std::string blas_kernel_warning(const BlasInfo& blas, const CpuInfo& cpu);

// Measured matrix-product throughput: median GFLOP/s of n x n x n products in dtype on device.
double measure_gemm_gflops(c10::ScalarType dtype, const c10::Device& device, int n, int repeats = 5);
// The same for the f32 products of the prefill kernel (kernels/gemm.hpp, over all intra-op threads),
// which run instead of LibTorch's: those hand f32 products to OpenBLAS on one thread (set_threads).
double measure_kernel_gemm_gflops(int n, int repeats = 5);
// What the hardware can do: the best of `tries` products after two warm-ups (a probe; a median of
// short products swung from 35 to 674 GFLOP/s between runs on one machine).
double peak_gemm_gflops(c10::ScalarType dtype, const c10::Device& device, int n, int tries);

}  // namespace litestage
