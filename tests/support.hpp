#pragma once
// Helpers shared by the test executables.

#include <filesystem>
#include <optional>
#include <string>

namespace litestage::test {

// ../shared beside the source tree (datasets, real checkpoints, tokenizers), or nullopt
// when a fresh clone has none.
std::optional<std::filesystem::path> shared_dir();

// Path under ../shared, or nullopt (with a WARN explaining the skip) when it is absent.
std::optional<std::filesystem::path> shared_path(const std::string& relative);

// A fresh, empty temporary directory unique to this test process and `name`.
std::filesystem::path temp_dir(const std::string& name);

}  // namespace litestage::test

// Skips the rest of the current test case (with a visible message) when ../shared/<rel> is absent.
#define REQUIRE_SHARED(var, rel)                             \
  auto var##_opt = ::litestage::test::shared_path(rel);      \
  if (!var##_opt) return;                                    \
  const std::filesystem::path var = *var##_opt
