#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "litestage/util/malloc_reuse.hpp"
#include "support.hpp"

using namespace litestage;

namespace {

long minor_faults() {
  rusage use{};
  getrusage(RUSAGE_SELF, &use);
  return use.ru_minflt;
}

// Page faults over `rounds` rounds of three 3 MB blocks allocated, written and freed, after one
// round to warm up: the pattern of a step's activations, which glibc's defaults hand back to the
// kernel (the freed top of the heap exceeds the trim threshold they adapt to) and fault in again.
long faults_of_reuse(int rounds) {
  constexpr std::size_t kBytes = std::size_t{3} << 20;
  auto round = [] {
    std::vector<void*> blocks;
    for (int i = 0; i < 3; ++i) {
      blocks.push_back(std::malloc(kBytes));
      std::memset(blocks.back(), i + 1, kBytes);
    }
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) std::free(*it);
  };
  round();
  const long before = minor_faults();
  for (int r = 0; r < rounds; ++r) round();
  return minor_faults() - before;
}

// A block of 3 MB is 768 pages of 4 KB: each round of three faults about 2,300 where nothing is kept.
constexpr int kRounds = 20;
constexpr long kPagesPerRound = 3 * 768;

}  // namespace

TEST_CASE("malloc reuse: a user's malloc variables are found", "[util][malloc]") {
  std::vector<const char*> names(kMallocVariables.begin(), kMallocVariables.end());
  names.push_back("GLIBC_TUNABLES");
  std::vector<std::pair<std::string, std::string>> saved;
  for (const char* n : names)
    if (const char* v = std::getenv(n)) saved.emplace_back(n, v);
  for (const char* n : names) unsetenv(n);

  CHECK(user_malloc_setting().empty());
  for (const char* n : kMallocVariables) {
    setenv(n, "0", 1);
    CHECK(user_malloc_setting() == n);
    unsetenv(n);
  }
  setenv("MALLOC_TOP_PAD_", "0", 1);
  CHECK(user_malloc_setting() == "MALLOC_TOP_PAD_");
  unsetenv("MALLOC_TOP_PAD_");
  setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX2", 1);
  CHECK(user_malloc_setting().empty());
  setenv("GLIBC_TUNABLES", "glibc.cpu.x=1:glibc.malloc.trim_threshold=1", 1);
  CHECK(user_malloc_setting() == "GLIBC_TUNABLES");
  unsetenv("GLIBC_TUNABLES");

  for (const auto& [n, v] : saved) setenv(n.c_str(), v.c_str(), 1);
}

#if defined(__GLIBC__)
namespace {
// Runs fn in a child process (this one's malloc keeps its settings) and returns its exit status.
template <class Fn>
int in_child(Fn fn) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(fn());
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}
}  // namespace

TEST_CASE("malloc reuse: freed activations are kept, not faulted in again", "[util][malloc]") {
  if (!user_malloc_setting().empty()) SKIP_TEST(user_malloc_setting() << " tunes malloc in this environment");
  // A sanitizer's allocator takes mallopt but ignores it: then nothing is applied, and said.
  if (in_child([] { return keep_freed_memory().applied ? 0 : 2; }) == 2) {
    CHECK(keep_freed_memory().detail.find("refused") != std::string::npos);
    SKIP_TEST(keep_freed_memory().detail);
  }
  // glibc's defaults fault the blocks in again, round after round.
  CHECK(in_child([] { return faults_of_reuse(kRounds) >= kRounds * kPagesPerRound / 2 ? 0 : 1; }) == 0);

  const MallocReuse& reuse = keep_freed_memory();
  REQUIRE(reuse.applied);
  CHECK(reuse.detail.find("32 MB") != std::string::npos);
  CHECK(&keep_freed_memory() == &reuse);  // decided once
  CHECK(faults_of_reuse(kRounds) < kPagesPerRound);  // less than one round's pages in all
}
#endif
