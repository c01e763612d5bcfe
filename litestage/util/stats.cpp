#include "litestage/util/stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace litestage {

Interval wilson_interval(size_t k, size_t n, double z) {
  if (n == 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  return (*std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid)) + upper) / 2;
}

Interval bootstrap_ratio_interval(const std::vector<double>& numerator, const std::vector<double>& denominator,
                                  int resamples, uint64_t seed) {
  if (numerator.empty() || numerator.size() != denominator.size() || resamples < 1)
    throw std::invalid_argument("bootstrap_ratio_interval: need equal, non-empty samples and resamples >= 1");
  const size_t n = numerator.size();
  uint64_t state = seed;
  auto next = [&state] {  // splitmix64: portable, unlike std::uniform_int_distribution
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  std::vector<double> ratios;
  ratios.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
      const size_t j = static_cast<size_t>(next() % n);  // modulo bias < n / 2^64: negligible
      num += numerator[j];
      den += denominator[j];
    }
    ratios.push_back(den > 0 ? num / den : 0.0);
  }
  std::sort(ratios.begin(), ratios.end());
  auto at = [&](double q) { return ratios[static_cast<size_t>(q * static_cast<double>(ratios.size() - 1))]; };
  return {at(0.025), at(0.975)};
}

}  // namespace litestage
