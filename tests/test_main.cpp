// The test runner.
//
// Skipped cases: Catch2 v2 has no skip, so a case that cannot run here (../shared absent, no CUDA
// device, ...) calls SKIP_TEST (tests/support.hpp), which records the reason and returns. The
// listener below prints each skipped case; when every case of the run was skipped the runner exits
// 77, which CTest (SKIP_RETURN_CODE 77, one case per process) reports as skipped, not passed. A run
// of several cases that skipped only some ends with how many of those Catch2 counted as passed
// were skipped. A case is not ended with std::exit: that would skip its destructors (temporary
// directories, child processes) and the reporter's end of run.
//
// In sanitized builds (scripts/test.sh --sanitize) a selection made only of test cases tagged
// [deepbind] exits 77 too: those cases load SentencePiece into a process that also holds LibTorch,
// which needs the SentencePiece shim opened with RTLD_DEEPBIND, and AddressSanitizer refuses deep
// binding (docs/testing.md, "Sanitizers").
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace {

constexpr int kSkippedExitCode = 77;  // tests/CMakeLists.txt: SKIP_RETURN_CODE 77

struct SkipRecord {
  size_t cases_run = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // (test case, reason)
};

SkipRecord& skip_record() {
  static SkipRecord record;
  return record;
}

// Written to stderr (flushed after stdout) so that a reporter writing XML to stdout stays valid.
void say(const std::string& line) {
  std::cout.flush();
  std::cerr << line << std::endl;
}

struct SkipListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    litestage::test::take_skip_reason();  // a stale reason must not mark this case
    TestEventListenerBase::testCaseStarting(info);
  }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    ++skip_record().cases_run;
    auto reason = litestage::test::take_skip_reason();
    // A case that failed before it skipped is reported as failed by Catch2.
    if (reason && stats.totals.assertions.failed == 0) {
      say("skipped: " + stats.testInfo.name + ": " + *reason);
      skip_record().skipped.emplace_back(stats.testInfo.name, std::move(*reason));
    }
    TestEventListenerBase::testCaseEnded(stats);
  }
};

// The exit code after Catch2 returned `rc`: 77 when every case run was skipped.
int skip_outcome(int rc) {
  const SkipRecord& r = skip_record();
  if (r.skipped.empty()) return rc;
  if (rc == 0 && r.skipped.size() == r.cases_run) return kSkippedExitCode;
  std::string names;
  for (const auto& [name, reason] : r.skipped) names += "\n  " + name;
  say(std::to_string(r.skipped.size()) + " of the " + std::to_string(r.cases_run) +
      " test cases run were skipped (Catch2 counts them as passed above):" + names);
  return rc;
}

// CTest runs each case by passing its name as the filter: a name that matches no case (one cut at a
// ';', say, which CMake takes for a list separator) must fail, not pass with nothing run.
bool matched_nothing(Catch::Session& session) {
  const auto& d = session.configData();
  if (d.listTests || d.listTestNamesOnly || d.listTags || d.listReporters) return false;
  return session.config().hasTestFilters() && skip_record().cases_run == 0;
}

bool only_deepbind_cases(Catch::Session& session) {
  const auto& config = session.config();
  const auto cases = Catch::filterTests(Catch::getAllTestCasesSorted(config), config.testSpec(), config);
  return !cases.empty() && std::all_of(cases.begin(), cases.end(), [](const Catch::TestCase& c) {
    return std::find(c.tags.begin(), c.tags.end(), "deepbind") != c.tags.end();
  });
}

}  // namespace

CATCH_REGISTER_LISTENER(SkipListener)

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv)) return rc;
#ifdef LITESTAGE_SANITIZED
  if (only_deepbind_cases(session)) {
    std::cout << "skipped in the sanitized build: SentencePiece beside LibTorch needs RTLD_DEEPBIND, which "
                 "AddressSanitizer refuses\n";
    return kSkippedExitCode;
  }
#else
  (void)only_deepbind_cases;
#endif
  const int rc = session.run();
  if (matched_nothing(session)) {
    say("error: no test case matched the filter given (a test name with ';' or a leading '-' is cut or misread)");
    return 2;
  }
  return skip_outcome(rc);
}
