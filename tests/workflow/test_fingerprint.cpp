#include <catch2/catch.hpp>

#include <filesystem>

#include "litestage/experiment/run_dir.hpp"
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
  // The refused directory still holds the first configuration, and its owner.
  nlohmann::json owned = fp;
  owned["command"] = "run";
  CHECK(nlohmann::json::parse(read_file((dir / "fingerprint.json").string())) == owned);
}

TEST_CASE("an output directory refuses another command's run, naming it", "[experiment][fingerprint]") {
  const fs::path dir = test::temp_dir("fingerprint-owner");
  const nlohmann::json fp = {{"data", {{"limit", 2}}}};
  RunDir(dir).claim("eval", fp);
  CHECK(RunDir(dir).owner() == "eval");
  CHECK(RunDir(dir).claim_problem("eval", fp).empty());
  CHECK_THROWS_WITH(claim_output_dir(dir.string(), fp),
                    "output_dir '" + dir.string() + "' holds another command's run ('eval', fingerprint.json): " +
                        "choose another, e.g. --set output_dir=" + (dir / "run").string());
  nlohmann::json changed = {{"data", {{"limit", 3}}}, {"seed", 1}};
  CHECK(RunDir(dir).claim_problem("eval", changed) ==
        "output_dir '" + dir.string() + "' holds results of a different configuration: data.limit (2 there, 3 now), " +
            "seed (absent there, 1 now); rerun with the same settings, or choose another output_dir");
}
