#include <catch2/catch.hpp>

#include <filesystem>

#include "litestage/workflow/workflow.hpp"
#include "litestage/util/strings.hpp"
#include "support.hpp"

using namespace litestage;
namespace fs = std::filesystem;

TEST_CASE("an output directory refuses results of another configuration, naming the key", "[experiment][fingerprint]") {
  const fs::path dir = test::temp_dir("fingerprint");
  nlohmann::json fp = {{"search", {{"max_k", 8}, {"epsilon", 2.0}}}, {"timing", {{"repeats", 3}}}, {"format", 2}};
  claim_output_dir(dir.string(), fp);
  CHECK(fs::exists(dir / "fingerprint.json"));
  claim_output_dir(dir.string(), fp);  // the same configuration continues
  nlohmann::json changed = fp;
  changed["search"]["max_k"] = 4;
  CHECK_THROWS_WITH(claim_output_dir(dir.string(), changed), Catch::Contains("search.max_k") &&
                                                                 Catch::Contains("different configuration"));
  changed = fp;
  changed["timing"]["repeats"] = 5;
  changed["methods"] = {"full"};
  CHECK_THROWS_WITH(claim_output_dir(dir.string(), changed),
                    Catch::Contains("timing.repeats") && Catch::Contains("methods"));
  // The refused directory still holds the first configuration.
  CHECK(nlohmann::json::parse(read_file((dir / "fingerprint.json").string())) == fp);
}
