#include <catch2/catch.hpp>

#include "litestage/util/error.hpp"
#include "litestage/util/yaml.hpp"

using namespace litestage;

TEST_CASE("yaml values are typed and errors carry the key path", "[util][yaml]") {
  auto root = YamlNode::load_string("stages:\n  recall:\n    early_exit:\n      window: four\n    max_new_tokens: 50\n",
                                    "exp.yaml");
  auto ee = root["stages"]["recall"]["early_exit"];
  CHECK_THROWS_WITH(ee.get_int("window", 4),
                    "exp.yaml: stages.recall.early_exit.window: expected an integer, got 'four'");
  CHECK(root["stages"]["recall"].get_int("max_new_tokens", 200) == 50);
  CHECK(root["stages"]["recall"].get_int("absent", 7) == 7);
  CHECK_THROWS_WITH(root["stages"].expect_keys({"analyze"}),
                    Catch::Contains("stages.recall: unknown key (expected one of: analyze)"));
  CHECK_THROWS_WITH(root.require_string("model"), Catch::Contains("model: required key is missing"));
  CHECK_THROWS_WITH(YamlNode::load_string("a: [1, 2", "bad.yaml"), Catch::Contains("bad.yaml: invalid YAML at line"));
  auto c = YamlNode::load_string("mode: fast");
  CHECK_THROWS_WITH(c.get_choice("mode", "full", {"full", "skip"}), Catch::Contains("'fast' is not one of: full, skip"));
}

TEST_CASE("set overrides create paths and keep types", "[util][yaml]") {
  YAML::Node root = YAML::Load("a:\n  b: 1\n");
  apply_yaml_override(root, "a.b=3");
  apply_yaml_override(root, "x.y.z=0.5");
  apply_yaml_override(root, "name=hello world");
  YamlNode n(root, "");
  CHECK(n["a"].get_int("b", 0) == 3);
  CHECK(n["x"]["y"].get_double("z", 0) == 0.5);
  CHECK(n.get_string("name", "") == "hello world");
  CHECK_THROWS_WITH(apply_yaml_override(root, "novalue"), Catch::Contains("expected key.path=value"));
  CHECK_THROWS_WITH(apply_yaml_override(root, "a.b.c=1"), Catch::Contains("'b' is not a mapping"));
}

TEST_CASE("set_yaml_path fills null or missing mappings and refuses to run through a value", "[util][yaml]") {
  YAML::Node root;  // undefined: becomes a mapping
  set_yaml_path(root, "runtime.dtype", YAML::Node("bf16"));
  set_yaml_path(root, "runtime.threads", YAML::Node(2));
  root["search"] = YAML::Node(YAML::NodeType::Null);
  set_yaml_path(root, "search.epsilon", YAML::Node(1.5));
  YamlNode n(root, "");
  CHECK(n["runtime"].get_string("dtype", "") == "bf16");
  CHECK(n["runtime"].get_int("threads", 0) == 2);
  CHECK(n["search"].get_double("epsilon", 0) == 1.5);
  CHECK_THROWS_WITH(set_yaml_path(root, "runtime.dtype.x", YAML::Node(1)), Catch::Contains("'dtype' is not a mapping"));
  CHECK_THROWS_WITH(set_yaml_path(root, "runtime..x", YAML::Node(1)), Catch::Contains("empty key in path 'runtime..x'"));
  CHECK_THROWS_WITH(apply_yaml_override(root, ".a=1"), Catch::Contains("--set '.a=1': empty key"));
}

TEST_CASE("yaml_dump writes what reads back, carriage returns included", "[util][yaml]") {
  YAML::Node n;
  n["device"] = std::string("\r");
  n["stop"].push_back(std::string("a\r"));
  n["stop"].push_back(std::string("\n"));
  n["plain"] = "cpu";
  const auto text = yaml_dump(n);
  CHECK(text.find("plain: cpu") != std::string::npos);
  const auto back = YAML::Load(text);
  CHECK(back["device"].as<std::string>() == "\r");
  CHECK(back["stop"][0].as<std::string>() == "a\r");
  CHECK(back["stop"][1].as<std::string>() == "\n");
  CHECK(yaml_dump(back) == text);
}
