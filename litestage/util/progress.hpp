#pragma once
// A one-line progress bar for long runs: done/total, free-form status (e.g. accuracy so far),
// elapsed time and ETA. Redraws in place on a terminal; prints a line every few seconds
// otherwise (CI logs, files), so progress is visible either way.

#include <cstdio>
#include <string>

#include "litestage/util/timer.hpp"

namespace litestage {

class Progress {
 public:
  // out == nullptr: silent.
  Progress(std::string label, size_t total, std::FILE* out = stderr);
  ~Progress();
  // Marks `done` items complete (absolute count) and redraws if due.
  void update(size_t done, const std::string& status = "");
  // Final line with totals; called by the destructor if not called before.
  void finish(const std::string& status = "");
  // Items that were already complete when the bar started (resumed runs): excluded from ETA.
  void set_resumed(size_t n) { resumed_ = n; }

 private:
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
};

}  // namespace litestage
