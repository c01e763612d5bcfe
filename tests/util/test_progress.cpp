#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "litestage/util/progress.hpp"
#include "litestage/util/strings.hpp"

using namespace litestage;

namespace {

// What a Progress printed into a temporary file (not a terminal), one entry per line.
template <class Body>
std::vector<std::string> plain_lines(Body body) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  body(f);
  std::fflush(f);
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return split(text, '\n');
}

// "label: 30/100  ..." -> "30/100".
std::string count_of(const std::string& line) {
  const auto colon = line.find(": ");
  return line.substr(colon + 2, line.find(' ', colon + 2) - colon - 2);
}

}  // namespace

TEST_CASE("progress into a file prints a line at every tenth, not only the first and last", "[util][progress]") {
  // 100 quick items (well inside the 10 s interval): the first update, each tenth short of the
  // end, and the final line. Before, a run shorter than 10 s printed 1/100 and 100/100 only.
  const auto lines = plain_lines([](std::FILE* f) {
    Progress bar("eval", 100, f);
    for (size_t i = 1; i <= 100; ++i) bar.update(i, "acc 50.0%");
    bar.finish();
  });
  std::vector<std::string> counts;
  for (const auto& l : lines) counts.push_back(count_of(l));
  CHECK(counts == std::vector<std::string>{"1/100", "10/100", "20/100", "30/100", "40/100", "50/100", "60/100",
                                           "70/100", "80/100", "90/100", "100/100"});
  CHECK_THAT(lines.back(), Catch::EndsWith("done"));
  for (size_t i = 0; i + 1 < lines.size(); ++i) CHECK_THAT(lines[i], Catch::Contains("eta "));
  CHECK(lines.front().find('\r') == std::string::npos);  // no terminal redraws in a file
}

TEST_CASE("progress into a file: fewer items than tenths print each item once", "[util][progress]") {
  const auto lines = plain_lines([](std::FILE* f) {
    Progress bar("search", 4, f);
    for (size_t i = 1; i <= 4; ++i) bar.update(i);
  });  // the destructor prints the final line
  std::vector<std::string> counts;
  for (const auto& l : lines) counts.push_back(count_of(l));
  CHECK(counts == std::vector<std::string>{"1/4", "2/4", "3/4", "4/4"});
}
