#pragma once
// What the cores can multiply-add with every operand in registers: the ceiling that any product
// on this CPU (the prefill kernel's, OpenBLAS's, oneDNN's through LibTorch) works under, measured
// rather than taken from a data sheet (clocks, vector units and what a VM's neighbours leave differ).
// `litestage bench` prints prompts' throughput against it.

namespace litestage {

// GFLOP/s (a multiply-add counts as 2 operations) of independent f32 multiply-adds with the current
// vector instructions (kernels/matvec.hpp: AVX-512, AVX2 with FMA, else plain loops), every
// intra-op thread running its own: the best of `tries` runs of a few ms.
double f32_fma_peak_gflops(int tries = 5);

// The same for bf16 pairs (AVX512-BF16's vdpbf16ps, two multiply-adds per f32 lane); 0 where this
// CPU or build has no native bf16 (native_bf16_supported()).
double bf16_pair_peak_gflops(int tries = 5);

}  // namespace litestage
