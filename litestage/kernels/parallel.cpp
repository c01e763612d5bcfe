#include "litestage/kernels/parallel.hpp"

#include <algorithm>
#include <atomic>

#include <ATen/Parallel.h>

namespace litestage {

void parallel_chunks(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), chunks);
  if (threads <= 1 || at::in_parallel_region()) {
    if (n > 0) fn(0, n);
    return;
  }
  if (chunks <= threads)
    return at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) { fn(c0 * grain, std::min(n, c1 * grain)); });
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) fn(c * grain, std::min(n, (c + 1) * grain));
  });
}

int64_t chunk_grain(int64_t n, int64_t item_work, int64_t chunk_work) {
  const int64_t threads = std::max(at::get_num_threads(), 1);
  const int64_t by_work = (chunk_work + std::max<int64_t>(item_work, 1) - 1) / std::max<int64_t>(item_work, 1);
  return std::max<int64_t>(1, std::min(by_work, (n + threads - 1) / threads));
}

}  // namespace litestage
