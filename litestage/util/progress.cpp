#include "litestage/util/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "litestage/util/strings.hpp"

namespace litestage {

namespace {
volatile std::sig_atomic_t interrupt_flag = 0;
}  // namespace

void request_interrupt() { interrupt_flag = 1; }
bool interrupt_requested() { return interrupt_flag != 0; }

Interrupted::Interrupted(std::string what, size_t n, size_t of)
    : Error("interrupted: " + std::to_string(n) + " of " + std::to_string(of) + " done (" + what + ")"),
      label(std::move(what)),
      done(n),
      total(of) {}

Progress::Progress(std::string label, size_t total, std::FILE* out)
    : label_(std::move(label)), total_(total), out_(out), tty_(out != nullptr && isatty(fileno(out)) != 0) {}

Progress::~Progress() {
  if (!finished_) finish(status_);
}

void Progress::update(size_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  const double now = timer_.seconds();
  if (due(now)) {
    last_draw_ = now;
    if (total_ > 0) last_step_ = done_ * kPlainSteps / total_;
    draw(false);
  }
  if (interrupt_requested()) {
    finished_ = true;  // no "done" line
    if (out_ && tty_) std::fputc('\n', out_);
    throw Interrupted(label_, done_, total_);
  }
}

bool Progress::due(double now) const {
  if (tty_) return now - last_draw_ >= 0.1 || done_ == total_;
  if (now - last_draw_ >= kPlainInterval) return true;
  // A new tenth of the total, short of the end (finish() prints that line).
  return total_ > 0 && done_ < total_ && done_ * kPlainSteps / total_ > last_step_;
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (!status.empty()) status_ = status;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (!out_) return;
  double elapsed = timer_.seconds();
  size_t fresh = done_ > resumed_ ? done_ - resumed_ : 0;
  std::string eta = "?";
  if (fresh > 0 && total_ >= done_) eta = format_duration(elapsed / fresh * (total_ - done_));
  std::string bar;
  if (tty_) {
    const int width = 24;
    int filled = total_ ? static_cast<int>(width * std::min<double>(1.0, double(done_) / total_)) : width;
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  std::fprintf(out_, "%s%s: %s%zu/%zu  %s  elapsed %s  %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               bar.c_str(), done_, total_, status_.c_str(), format_duration(elapsed).c_str(),
               final_line ? "done" : ("eta " + eta).c_str(), (final_line || !tty_) ? "\n" : "");
  std::fflush(out_);
}

}  // namespace litestage
