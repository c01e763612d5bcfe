#include "litestage/kernels/weight_memory.hpp"

#include <fstream>
#include <sstream>

#include <c10/util/accumulate.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "litestage/util/error.hpp"

namespace litestage {

namespace {

constexpr int64_t kHugePage = int64_t{2} << 20;
constexpr int64_t kPage = 4096;

#ifdef __linux__
// `length` bytes (a multiple of 4 KB) of fresh memory starting on a 2 MB boundary, marked for huge
// pages. Only whole 2 MB extents inside the mapping get huge pages; the tail keeps 4 KB pages.
void* map_huge_aligned(int64_t length) {
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw_error("cannot map ", length, " bytes for a weight (out of memory?)");
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (base + kHugePage - 1) / kHugePage * kHugePage;
  if (start > base) munmap(raw, start - base);
  const uintptr_t end = start + length, raw_end = base + length + kHugePage;
  if (raw_end > end) munmap(reinterpret_cast<void*>(end), raw_end - end);
  madvise(reinterpret_cast<void*>(start), length, MADV_HUGEPAGE);  // advice only: failure leaves 4 KB pages
  return reinterpret_cast<void*>(start);
}
#endif

}  // namespace

bool weight_gets_huge_pages(int64_t bytes, const torch::TensorOptions& opts) {
#ifdef __linux__
  return opts.device().is_cpu() && bytes >= kHugePage;
#else
  (void)bytes, (void)opts;
  return false;
#endif
}

torch::Tensor empty_weight(at::IntArrayRef sizes, const torch::TensorOptions& opts) {
  const int64_t bytes = c10::multiply_integers(sizes) * static_cast<int64_t>(opts.dtype().itemsize());
  if (!weight_gets_huge_pages(bytes, opts)) return torch::empty(sizes, opts);
#ifdef __linux__
  const int64_t length = (bytes + kPage - 1) / kPage * kPage;
  return torch::from_blob(map_huge_aligned(length), sizes,
                          [length](void* p) { munmap(p, static_cast<size_t>(length)); }, opts);
#else
  return torch::empty(sizes, opts);
#endif
}

std::string transparent_huge_page_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line)) return "unavailable";
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos || close <= open ? line : line.substr(open + 1, close - open - 1);
}

int64_t process_huge_page_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("AnonHugePages:", 0) != 0) continue;
    std::istringstream fields(line.substr(14));
    int64_t kb = -1;
    fields >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

}  // namespace litestage
