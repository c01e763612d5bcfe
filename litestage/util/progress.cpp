#include "litestage/util/progress.hpp"

#include <unistd.h>

#include <algorithm>

#include "litestage/util/strings.hpp"

namespace litestage {

Progress::Progress(std::string label, size_t total, std::FILE* out)
    : label_(std::move(label)), total_(total), out_(out), tty_(out != nullptr && isatty(fileno(out)) != 0) {}

Progress::~Progress() {
  if (!finished_) finish(status_);
}

void Progress::update(size_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  double now = timer_.seconds();
  double interval = tty_ ? 0.1 : 10.0;
  if (now - last_draw_ >= interval || (tty_ && done_ == total_)) {
    last_draw_ = now;
    draw(false);
  }
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
