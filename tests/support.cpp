#include "support.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

namespace litestage::test {

std::optional<std::filesystem::path> shared_dir() {
  std::filesystem::path p = std::filesystem::path(LITESTAGE_SOURCE_DIR).parent_path() / "shared";
  if (std::filesystem::is_directory(p)) return p;
  return std::nullopt;
}

std::optional<std::filesystem::path> shared_path(const std::string& relative) {
  auto dir = shared_dir();
  if (!dir || !std::filesystem::exists(*dir / relative)) {
    WARN("SKIPPED: ../shared/" << relative
                               << " is not present beside the source tree (it holds datasets and "
                                  "real checkpoints; see data/README.md)");
    return std::nullopt;
  }
  return *dir / relative;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("litestage-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace litestage::test
