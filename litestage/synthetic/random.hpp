#pragma once
// The synthetic task's portable randomness: mt19937_64 streams derived from (seed, tag), bounded
// draws by rejection (uniform_below, data/shuffle.hpp), our own Fisher-Yates. Shared by the world,
// the questions and the splits.

#include <cstdint>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "litestage/data/shuffle.hpp"
#include "litestage/util/error.hpp"

namespace litestage::synthetic {

// Independent stream per purpose, so e.g. the test questions do not change when train grows.
inline std::mt19937_64 stream(uint64_t seed, std::string_view tag) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : tag) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return std::mt19937_64(splitmix64(seed ^ splitmix64(h)));
}

inline size_t pick(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(uniform_below(rng, n)); }

template <typename T>
void shuffle_in_place(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[pick(rng, i)]);
}

// k distinct elements of pool in random order (partial Fisher–Yates).
inline std::vector<size_t> sample(std::vector<size_t> pool, size_t k, std::mt19937_64& rng) {
  LITESTAGE_CHECK(k <= pool.size(), "synthetic: cannot draw ", k, " of ", pool.size());
  for (size_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + pick(rng, pool.size() - i)]);
  pool.resize(k);
  return pool;
}

}  // namespace litestage::synthetic
