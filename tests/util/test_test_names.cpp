// CTest runs every Catch2 case on its own, passing the case's name as the filter
// (catch_discover_tests). CMake cuts a name at ';' and Catch2 reads a leading '-' as an option, so
// such a name would run a filter matching nothing. Every TEST_CASE name in tests/ is checked here.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

TEST_CASE("test case names survive CTest: no semicolon, no leading dash", "[util][tests]") {
  const fs::path tests = fs::path(LITESTAGE_SOURCE_DIR) / "tests";
  const std::regex name(R"re(TEST_CASE\(\s*"((?:[^"\\]|\\.)*)")re");
  size_t seen = 0;
  for (const auto& entry : fs::recursive_directory_iterator(tests)) {
    if (entry.path().extension() != ".cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (std::sregex_iterator it(s.begin(), s.end(), name), end; it != end; ++it) {
      const std::string n = (*it)[1];
      INFO(entry.path().filename().string() << ": \"" << n << "\"");
      CHECK(n.find(';') == std::string::npos);
      CHECK(n.rfind('-', 0) != 0);
      ++seen;
    }
  }
  CHECK(seen > 300);
}
