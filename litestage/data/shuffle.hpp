#pragma once
// Portable seeded shuffling. std::shuffle and std::uniform_int_distribution are
// implementation-defined (libstdc++ and libc++ give different orders for the same seed), so
// splits built on them would differ between machines. std::mt19937_64's output sequence is fixed
// by the standard; on top of it we draw bounded integers by rejection and run our own
// Fisher–Yates, so a seed names the same permutation everywhere.

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace litestage {

// SplitMix64's finaliser: a well-mixed 64-bit value from any input, for deriving independent seeds
// (e.g. splitmix64(seed ^ splitmix64(stream))).
uint64_t splitmix64(uint64_t x);

// Uniform integer in [0, n) (n > 0) from raw mt19937_64 output: rejects the top
// (2^64 mod n) values so every residue is equally likely, then takes r % n.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);

// Fisher–Yates over 0..n-1 driven by std::mt19937_64(seed): for i = n-1 down to 1, swap
// p[i] with p[uniform_below(rng, i + 1)].
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed);

}  // namespace litestage
