#include <catch2/catch.hpp>

#include <ATen/Parallel.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "litestage/kernels/parallel.hpp"

using namespace litestage;

TEST_CASE("parallel_chunks: every index once, in chunks of the grain, on 1 and 2 threads and inside a region",
          "[model][parallel]") {
  const int saved = at::get_num_threads();
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (int64_t n : {0, 1, 7, 64, 1000})
      for (int64_t grain : {0, 1, 3, 64, 5000}) {
        INFO(threads << " threads, n " << n << ", grain " << grain);
        std::vector<std::atomic<int>> seen(n);
        std::mutex m;
        std::vector<std::pair<int64_t, int64_t>> ranges;
        std::set<std::thread::id> ids;
        parallel_chunks(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) seen[i]++;
          std::lock_guard<std::mutex> lock(m);
          ranges.emplace_back(b, e);
          ids.insert(std::this_thread::get_id());
        });
        for (int64_t i = 0; i < n; ++i) CHECK(seen[i] == 1);
        const int64_t g = std::max<int64_t>(grain, 1);
        for (auto [b, e] : ranges) {
          CHECK(b < e);
          CHECK(b % g == 0);
          CHECK((e - b == g || e == n));  // whole chunks, the last one shorter
        }
        if (threads == 1 || g >= n) CHECK(ids.size() <= 1);
        CHECK(ids.size() <= static_cast<size_t>(threads));
      }
  }
  at::set_num_threads(2);
  // Inside a parallel region (the outer call's, run by litestage_model's OpenMP build) an inner
  // call runs on the calling thread, in one piece.
  std::atomic<int> pieces{0}, bad{0};
  parallel_chunks(2, 1, [&](int64_t, int64_t) {
    const auto outer = std::this_thread::get_id();
    parallel_chunks(100, 10, [&](int64_t b, int64_t e) {
      bad += std::this_thread::get_id() != outer || b != 0 || e != 100;
      ++pieces;
    });
  });
  CHECK(pieces == 2);
  CHECK(bad == 0);
  at::set_num_threads(saved);
}

TEST_CASE("chunk_grain: chunks of at least the given work, but at least one per thread", "[model][parallel]") {
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  CHECK(chunk_grain(1000, 10, 100) == 10);      // 100 chunks of 10 items, 100 work each
  CHECK(chunk_grain(1000, 10, 1000000) == 500);  // the work asks for one chunk: one per thread instead
  CHECK(chunk_grain(7, 0, 5) == 4);              // no work per item: capped at one chunk per thread
  CHECK(chunk_grain(1, 1, 1) == 1);
  at::set_num_threads(1);
  CHECK(chunk_grain(1000, 10, 1000000) == 1000);
  at::set_num_threads(saved);
}
