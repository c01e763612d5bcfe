#include <catch2/catch.hpp>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;

TEST_CASE("trim and split", "[util]") {
  CHECK(trim("  a b \n") == "a b");
  CHECK(trim("") == "");
  CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "b"});
  CHECK(split("a,,b", ',', false) == std::vector<std::string>{"a", "", "b"});
  CHECK(join({"x", "y"}, ", ") == "x, y");
}

TEST_CASE("atomic write then read", "[util]") {
  auto dir = test::temp_dir("util-write");
  auto path = (dir / "sub" / "f.txt").string();
  write_file_atomic(path, "hello");
  CHECK(read_file(path) == "hello");
  CHECK_THROWS_WITH(read_file((dir / "missing").string()), Catch::Contains("cannot open file"));
}

TEST_CASE("a failed atomic write leaves no temporary file", "[util]") {
  // Writing onto a directory fails at the rename: before, the error was the raw rename message and
  // d.tmp stayed behind.
  auto dir = test::temp_dir("util-write-fail");
  std::filesystem::create_directories(dir / "d" / "inside");
  CHECK_THROWS_WITH(write_file_atomic((dir / "d").string(), "x"),
                    Catch::Contains("cannot write file '" + (dir / "d").string() + "': it is a directory"));
  CHECK_FALSE(std::filesystem::exists(dir / "d.tmp"));
  CHECK(std::filesystem::is_directory(dir / "d" / "inside"));
}

TEST_CASE("durations", "[util]") {
  CHECK(format_duration(4.25) == "4.2s");
  CHECK(format_duration(185) == "3m05s");
  CHECK(format_duration(3720) == "1h02m");
}
