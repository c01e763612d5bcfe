#include "litestage/data/shuffle.hpp"

#include <limits>
#include <numeric>
#include <utility>

#include "litestage/util/error.hpp"

namespace litestage {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  LITESTAGE_CHECK(n > 0, "uniform_below: empty range");
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t excess = (kMax % n + 1) % n;  // 2^64 mod n
  for (;;) {
    const uint64_t r = rng();
    if (excess == 0 || r <= kMax - excess) return r % n;
  }
}

std::vector<size_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  std::iota(p.begin(), p.end(), size_t{0});
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_below(rng, i));
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

}  // namespace litestage
