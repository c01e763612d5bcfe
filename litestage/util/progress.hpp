#pragma once
// A one-line progress bar for long runs: done/total, free-form status (e.g. accuracy so far),
// elapsed time and ETA. Redraws in place on a terminal; otherwise (CI logs, files, pipes) prints a
// line at least every 10 s and at every tenth of the total, so progress is visible either way.
//
// Interruption: a SIGINT handler calls request_interrupt(); the next update() then stops the run
// by throwing Interrupted, between two items, after the items already done were recorded.

#include <cstdio>
#include <string>

#include "litestage/util/error.hpp"
#include "litestage/util/timer.hpp"

namespace litestage {

// Async-signal-safe: only sets a flag.
void request_interrupt();
bool interrupt_requested();

class Interrupted : public Error {
 public:
  Interrupted(std::string label, size_t done, size_t total);
  std::string label;
  size_t done, total;
};

class Progress {
 public:
  // A line on a file or pipe at least this often, and at every tenth of the total.
  static constexpr double kPlainInterval = 10.0;  // seconds
  static constexpr size_t kPlainSteps = 10;

  // out == nullptr: silent.
  Progress(std::string label, size_t total, std::FILE* out = stderr);
  ~Progress();
  // Marks `done` items complete (absolute count) and redraws if due; throws Interrupted when an
  // interrupt was requested.
  void update(size_t done, const std::string& status = "");
  // Final line with totals; called by the destructor if not called before.
  void finish(const std::string& status = "");
  // Items that were already complete when the bar started (resumed runs): excluded from ETA.
  void set_resumed(size_t n) { resumed_ = n; }

 private:
  bool due(double now) const;
  void draw(bool final_line);
  std::string label_;
  size_t total_;
  size_t done_ = 0;
  size_t resumed_ = 0;
  std::string status_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  Timer timer_;
  double last_draw_ = -1e9;
  size_t last_step_ = 0;  // the tenth of the total last printed (plain output)
};

}  // namespace litestage
