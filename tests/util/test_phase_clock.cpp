#include <catch2/catch.hpp>

#include "litestage/util/phase_clock.hpp"

using namespace litestage;
using Catch::Contains;

TEST_CASE("phase clock: scopes count only while a clock is installed, into the current bucket", "[util][phase]") {
  CHECK(PhaseClock::current() == nullptr);
  { PhaseScope nothing(Phase::Prefill); }  // no clock: nothing to count into, nothing breaks
  PhaseClock outer(2), inner(2);
  {
    PhaseClock::Installed a(outer);
    CHECK(PhaseClock::current() == &outer);
    outer.set_bucket(1);
    { PhaseScope s(Phase::Decode); }
    {
      PhaseClock::Installed b(inner);
      CHECK(PhaseClock::current() == &inner);
      { PhaseScope s(Phase::Pick); }
    }
    CHECK(PhaseClock::current() == &outer);  // the previous clock is back
  }
  CHECK(PhaseClock::current() == nullptr);
  const auto decode = static_cast<size_t>(Phase::Decode), pick = static_cast<size_t>(Phase::Pick);
  CHECK(outer.totals()[1].seconds[decode] > 0);
  CHECK(outer.totals()[0].seconds[decode] == 0);
  CHECK(outer.totals()[1].seconds[pick] == 0);  // counted by the inner clock only
  CHECK(inner.totals()[0].seconds[pick] > 0);
}

TEST_CASE("phase clock: the table's shares, per-call and per-token figures", "[util][phase]") {
  PhaseClock clock(2);
  clock.set_bucket(1);
  clock.add(Phase::Prefill, 0.002);
  clock.add(Phase::Decode, 0.004);
  clock.add_wall(0.010);
  clock.add_calls(2, 8);
  const PhaseTotals& t = clock.totals()[1];
  CHECK(t.bookkeeping() == Approx(0.004));
  const auto table = phase_table_markdown(clock, {"first", "second"});
  // prefill: 2 ms of 10 = 20 %, 1 ms per call, 250 µs per token; the rest 4 ms = 40 %.
  CHECK_THAT(table, Contains("| second | prefill forward | 20.0 % | 1.000 | 250.0 |"));
  CHECK_THAT(table, Contains("| second | decode forwards | 40.0 % | 2.000 | 500.0 |"));
  CHECK_THAT(table, Contains("| second | bookkeeping (the rest) | 40.0 % | 2.000 | 500.0 |"));
  CHECK_THAT(table, Contains("| second | **total** (2 calls, 8 tokens) | 100.0 % | 5.000 | 1250.0 |"));
  CHECK(table.find("| first |") == std::string::npos);  // an empty bucket has no rows
  // Phases that add up to more than the wall (clock skew) leave no negative bookkeeping.
  clock.add(Phase::Parse, 1.0);
  CHECK(clock.totals()[1].bookkeeping() == 0);
}
