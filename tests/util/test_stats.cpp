#include <catch2/catch.hpp>

#include "litestage/util/stats.hpp"

using namespace litestage;

TEST_CASE("Wilson interval: known values and edge cases", "[util][stats]") {
  // 45 of 50: the textbook Wilson 95 % interval is [0.7864, 0.9565].
  Interval a = wilson_interval(45, 50);
  CHECK(a.low == Approx(0.7864).margin(1e-4));
  CHECK(a.high == Approx(0.9565).margin(1e-4));
  // 9 of 10: p = 0.9, z = 1.96; centre (0.9 + 0.19208) / 1.38415 = 0.78899, half-width
  // 1.96 sqrt(0.009 + 0.009604) / 1.38415 = 0.19314: [0.5958, 0.9821].
  Interval nine = wilson_interval(9, 10);
  CHECK(nine.low == Approx(0.5958).margin(1e-4));
  CHECK(nine.high == Approx(0.9821).margin(1e-4));
  // 1 of 2: symmetric about 0.5, [0.0945, 0.9055].
  Interval half = wilson_interval(1, 2);
  CHECK(half.low == Approx(0.0945).margin(1e-4));
  CHECK(half.high == Approx(0.9055).margin(1e-4));
  Interval none = wilson_interval(0, 10);
  CHECK(none.low == 0.0);
  CHECK(none.high == Approx(0.2775).margin(1e-4));
  Interval all = wilson_interval(10, 10);
  CHECK(all.high == 1.0);
  CHECK(all.low == Approx(0.7225).margin(1e-4));
  Interval empty = wilson_interval(0, 0);
  CHECK(empty.low == 0.0);
  CHECK(empty.high == 1.0);
}

TEST_CASE("median of odd and even counts", "[util][stats]") {
  CHECK(median({}) == 0.0);
  CHECK(median({3.0}) == 3.0);
  CHECK(median({5.0, 1.0, 3.0}) == 3.0);
  CHECK(median({4.0, 1.0, 3.0, 2.0}) == 2.5);
}

TEST_CASE("bootstrap interval of a ratio covers the ratio and narrows with more data", "[util][stats]") {
  std::vector<double> full, fast;
  for (int i = 0; i < 200; ++i) {
    full.push_back(1.0 + 0.1 * (i % 7));
    fast.push_back(0.5 + 0.05 * (i % 7) + 0.02 * (i % 3));
  }
  double sf = 0, sm = 0;
  for (size_t i = 0; i < full.size(); ++i) sf += full[i], sm += fast[i];
  const Interval ci = bootstrap_ratio_interval(full, fast);
  CHECK(ci.low <= sf / sm);
  CHECK(ci.high >= sf / sm);
  CHECK(ci.high - ci.low < 0.2);
  const Interval same = bootstrap_ratio_interval(full, fast);
  CHECK(same.low == ci.low);  // deterministic
  const Interval small = bootstrap_ratio_interval({full.begin(), full.begin() + 10}, {fast.begin(), fast.begin() + 10});
  CHECK(small.high - small.low > ci.high - ci.low);
  CHECK_THROWS(bootstrap_ratio_interval({1.0}, {}));
}
