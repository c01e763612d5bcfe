#pragma once
#include <chrono>

namespace litestage {

// Monotonic wall clock. Callers that time device work synchronise the device first
// (litestage::synchronize in kernels/runtime.hpp) so the clock reads finished work, not queued work.
class Timer {
 public:
  Timer() : start_(Clock::now()) {}
  void reset() { start_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

}  // namespace litestage
