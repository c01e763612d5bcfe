#include <catch2/catch.hpp>

#include <cstdint>
#include <set>

#include "litestage/kernels/weight_memory.hpp"
#include "support.hpp"

// Weights of a huge page or more live in 2 MB-aligned memory marked for transparent huge pages,
// and behave as any tensor: read, written, saved and loaded, trained.

using namespace litestage;
using namespace litestage::test;

namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

bool huge_aligned(const torch::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % kHugePage == 0; }

}  // namespace

TEST_CASE("empty_weight: 2 MB-aligned from one huge page up, every byte writable, plain below",
          "[model][weight_memory]") {
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const auto opts = torch::TensorOptions().dtype(dtype);
    for (int64_t rows : {1, 511, 512, 3001}) {
      INFO(c10::toString(dtype) << " rows " << rows);
      auto w = empty_weight({rows, 2048}, opts);
      CHECK(w.sizes() == torch::IntArrayRef({rows, 2048}));
      CHECK(w.scalar_type() == dtype);
      CHECK(w.is_contiguous());
      const int64_t bytes = w.numel() * w.element_size();
      CHECK(weight_gets_huge_pages(bytes, opts) == (bytes >= int64_t{2} << 20));
      if (weight_gets_huge_pages(bytes, opts)) CHECK(huge_aligned(w));
      w.fill_(2);  // the last page too
      CHECK(w.to(torch::kDouble).sum().item<double>() == 2.0 * static_cast<double>(w.numel()));
    }
  }
  CHECK_FALSE(weight_gets_huge_pages(int64_t{1} << 30, torch::TensorOptions().device(torch::kMeta)));
}

TEST_CASE("transparent_huge_page_mode and process_huge_page_bytes read the kernel's answers",
          "[model][weight_memory]") {
  const std::set<std::string> known = {"always", "madvise", "never", "unavailable"};
  CHECK(known.count(transparent_huge_page_mode()) == 1);
#ifdef __linux__
  if (std::filesystem::exists("/proc/self/smaps_rollup")) CHECK(process_huge_page_bytes() >= 0);
#endif
}
