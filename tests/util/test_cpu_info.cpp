#include <catch2/catch.hpp>

#include "litestage/util/cpu_info.hpp"

using namespace litestage;

namespace {
// Trimmed from real /proc/cpuinfo files: the first processor decides.
const char* kSapphireRapids =
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: fpu sse2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 amx_bf16 amx_tile\n"
    "\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n";
const char* kHaswell = "model name\t: Intel(R) Xeon(R) CPU E5-2680 v3\nflags\t\t: fpu sse2 avx fma avx2\n";
const char* kAvx512NoBf16 =
    "model name\t: Intel(R) Xeon(R) Gold 6148\nflags\t\t: avx2 fma avx512f avx512dq avx512bw avx512vl\n";
}  // namespace

TEST_CASE("cpu info: model name and the instruction sets that matter", "[util][cpu]") {
  CpuInfo spr = parse_cpu_info(kSapphireRapids);
  CHECK(spr.known);
  CHECK(spr.model == "Intel(R) Xeon(R) Platinum 8480+");
  CHECK(spr.avx2);
  CHECK(spr.avx512);
  CHECK(spr.avx512_bf16);
  CHECK(spr.amx_bf16);
  CHECK(spr.feature_list() == "avx2 avx512 avx512_bf16 amx_bf16");

  CpuInfo hsw = parse_cpu_info(kHaswell);
  CHECK(hsw.avx2);
  CHECK_FALSE(hsw.avx512);
  CHECK_FALSE(hsw.avx512_bf16);
  CHECK(hsw.feature_list() == "avx2");

  CpuInfo skx = parse_cpu_info(kAvx512NoBf16);
  CHECK(skx.avx512);
  CHECK_FALSE(skx.avx512_bf16);
  CHECK_FALSE(skx.amx_bf16);
}

TEST_CASE("cpu info: avx512 needs all four of f, dq, bw, vl, unknown text is unknown", "[util][cpu]") {
  CHECK_FALSE(parse_cpu_info("flags : avx2 fma avx512f avx512dq\n").avx512);
  CpuInfo none = parse_cpu_info("no cpu here\n");
  CHECK_FALSE(none.known);
  CHECK_FALSE(none.avx2);
  CHECK(none.feature_list() == "none of avx2/avx512/bf16");
  // A flag must match whole: "avx512_bf16x" is not avx512_bf16.
  CHECK_FALSE(parse_cpu_info("flags : avx512_bf16x\n").avx512_bf16);
}

TEST_CASE("cpu info: this machine's is readable on Linux", "[util][cpu]") {
  const CpuInfo& host = host_cpu_info();
#ifdef __linux__
  CHECK(host.known);
#endif
  CHECK(&host == &host_cpu_info());  // read once
}
