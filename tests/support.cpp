#include "support.hpp"

#include <unistd.h>

#include <cstdlib>

namespace litestage::test {

namespace {

// The shared folder named by the environment or beside the source tree, existing or not.
std::filesystem::path shared_location() {
  const char* env = std::getenv("LITESTAGE_SHARED_DIR");
  if (env && *env) return env;
  return std::filesystem::path(LITESTAGE_SOURCE_DIR).parent_path() / "shared";
}

std::optional<std::string>& skip_reason() {
  static std::optional<std::string> reason;
  return reason;
}

}  // namespace

std::optional<std::filesystem::path> shared_dir() {
  const std::filesystem::path p = shared_location();
  if (std::filesystem::is_directory(p)) return p;
  return std::nullopt;
}

std::optional<std::filesystem::path> shared_path(const std::string& relative) {
  auto dir = shared_dir();
  if (!dir || !std::filesystem::exists(*dir / relative)) return std::nullopt;
  return *dir / relative;
}

std::string shared_missing(const std::string& relative) {
  return "needs ../shared/" + relative + "; " + (shared_location() / relative).string() +
         " is not present (../shared beside the source tree holds datasets and real checkpoints, see "
         "data/README.md; LITESTAGE_SHARED_DIR names another place)";
}

void mark_skipped(const std::string& reason) { skip_reason() = reason; }

std::optional<std::string> take_skip_reason() {
  std::optional<std::string> r;
  r.swap(skip_reason());
  return r;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("litestage-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace litestage::test
