#pragma once
// What the host CPU can do, read from /proc/cpuinfo (Linux): its model name and the instruction
// sets that decide which BLAS kernels and which dtypes run fast. Torch-free.

#include <string>

namespace litestage {

struct CpuInfo {
  std::string model;           // "Intel(R) Xeon(R) Processor"; empty when unknown
  bool avx2 = false;           // with FMA: OpenBLAS's Haswell kernels
  bool fma = false;
  bool avx512 = false;         // avx512f + bw + dq + vl: OpenBLAS's SkylakeX kernels
  bool avx512_bf16 = false;    // native bf16 dot products
  bool amx_bf16 = false;       // AMX tiles with bf16
  bool known = false;          // false when no flags line was found

  // "avx512 avx512_bf16 amx_bf16", the sets above that are present (for logs).
  std::string feature_list() const;
};

// Parses the text of /proc/cpuinfo (the first processor's model name and flags).
CpuInfo parse_cpu_info(const std::string& cpuinfo_text);
// This machine's, read once and cached; `known` is false off Linux or when unreadable.
const CpuInfo& host_cpu_info();

}  // namespace litestage
