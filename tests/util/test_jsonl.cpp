#include <catch2/catch.hpp>

#include <fstream>

#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;

TEST_CASE("JSONL: a torn last line is dropped and cut off, so later appends stay readable", "[util][jsonl]") {
  auto path = (test::temp_dir("jsonl") / "log.jsonl").string();
  std::vector<int> seen;
  read_jsonl(path, [&](const nlohmann::json& j) { seen.push_back(j.at("n").get<int>()); });  // missing: none
  CHECK(seen.empty());
  append_jsonl(path, {{"n", 1}});
  append_jsonl(path, {{"n", 2}});
  {
    std::ofstream torn(path, std::ios::app);
    torn << "{\"n\": 3, \"tex";
  }
  read_jsonl(path, [&](const nlohmann::json& j) { seen.push_back(j.at("n").get<int>()); });
  CHECK(seen == std::vector<int>{1, 2});
  CHECK(read_file(path) == "{\"n\":1}\n{\"n\":2}\n");
  append_jsonl(path, {{"n", 4}});
  seen.clear();
  read_jsonl(path, [&](const nlohmann::json& j) { seen.push_back(j.at("n").get<int>()); });
  CHECK(seen == std::vector<int>{1, 2, 4});
  // A bad line in the middle is an error naming the line.
  write_file_atomic(path, "{\"n\":1}\nnot json\n{\"n\":2}\n");
  CHECK_THROWS_WITH(read_jsonl(path, [](const nlohmann::json&) {}, "entry"), Catch::Contains(":2: unreadable entry"));
}
