#pragma once
// Helpers shared by the test executables.

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

namespace litestage::test {

// The folder of datasets, real checkpoints and tokenizers: $LITESTAGE_SHARED_DIR when set and
// non-empty, else ../shared beside the source tree. nullopt when that folder does not exist.
std::optional<std::filesystem::path> shared_dir();

// Path under the shared folder, or nullopt when it is absent (REQUIRE_SHARED skips the case then).
std::optional<std::filesystem::path> shared_path(const std::string& relative);

// Why a case needing <shared>/relative cannot run: "needs ../shared/<relative>; ..." with where it looked.
std::string shared_missing(const std::string& relative);

// Marks the running test case skipped for `reason`; the caller returns from the test case at once
// (SKIP_TEST does both). Catch2 v2 has no skip: test_main.cpp reports each skipped case, exits 77
// (CTest's SKIP_RETURN_CODE) when every case it ran was skipped, and otherwise says how many of the
// cases Catch2 counted as passed were skipped.
void mark_skipped(const std::string& reason);

// The reason the running test case was skipped, cleared for the next case; nullopt when it was not.
std::optional<std::string> take_skip_reason();

// A fresh, empty temporary directory unique to this test process and `name`.
std::filesystem::path temp_dir(const std::string& name);

}  // namespace litestage::test

// Skips the rest of the current test case; `reason` may stream (SKIP_TEST("no CUDA: " << why)).
// Only in a test case's own body (a `return` from a helper would let the case go on).
#define SKIP_TEST(reason)                                   \
  do {                                                      \
    std::ostringstream litestage_skip_reason_;              \
    litestage_skip_reason_ << reason;                       \
    ::litestage::test::mark_skipped(litestage_skip_reason_.str()); \
    return;                                                 \
  } while (false)

// Skips the rest of the current test case when <shared>/<rel> is absent; else `var` is its path.
#define REQUIRE_SHARED(var, rel)                                              \
  auto var##_opt = ::litestage::test::shared_path(rel);                       \
  if (!var##_opt) SKIP_TEST(::litestage::test::shared_missing(rel));          \
  const std::filesystem::path var = *var##_opt
