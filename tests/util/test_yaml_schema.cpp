#include <catch2/catch.hpp>

#include <optional>

#include "litestage/util/error.hpp"
#include "litestage/util/yaml_schema.hpp"

using namespace litestage;

namespace {

enum class Mode { Fast, Exact };
const EnumNames<Mode> kModes = {{"fast", Mode::Fast}, {"exact", Mode::Exact}};

struct Inner {
  int window = 4;
  double threshold = 0.5;
};
struct Toy {
  std::string name = "toy";
  int repeats = 3;
  std::optional<int> limit;
  double mass = 1.0;
  Mode mode = Mode::Exact;
  std::vector<std::string> methods = {"a"};
  std::vector<double> eps;
  Inner inner;
  std::optional<Inner> own;  // inherits `inner` key by key
};

std::vector<Option<Toy>> toy_table() {
  std::vector<Option<Toy>> t = {
      option<Toy>("name", [](auto& s) -> auto& { return s.name; }, "a name").required(),
      option<Toy>("run.repeats", [](auto& s) -> auto& { return s.repeats; }, "passes").min(1),
      option<Toy>("run.limit", [](auto& s) -> auto& { return s.limit; }, "at most").min(1).default_note("all"),
      option<Toy>("run.mass", [](auto& s) -> auto& { return s.mass; }, "mass").min(0).max(1),
      enum_option<Toy>("run.mode", [](auto& s) -> auto& { return s.mode; }, kModes, "how"),
      option<Toy>("methods", [](auto& s) -> auto& { return s.methods; }, "which").choices({"a", "b"}),
      option<Toy>("eps", [](auto& s) -> auto& { return s.eps; }, "budgets").min(0).not_fingerprinted(),
  };
  const std::vector<Option<Inner>> inner = {
      option<Inner>("window", [](auto& s) -> auto& { return s.window; }, "n").min(1),
      option<Inner>("threshold", [](auto& s) -> auto& { return s.threshold; }, "t"),
  };
  nest(t, "inner", inner, [](const Toy& s) { return s.inner; }, [](Toy& s) -> Inner& { return s.inner; });
  nest(
      t, "own", inner, [](const Toy& s) { return s.own.value_or(s.inner); },
      [](Toy& s) -> Inner& {
        if (!s.own) s.own = s.inner;
        return *s.own;
      },
      "inner");
  return t;
}

Toy read(const std::string& text) {
  Toy t;
  read_options(YamlNode::load_string(text, "toy.yaml"), toy_table(), t);
  return t;
}

}  // namespace

TEST_CASE("a declared table reads typed values into the struct, absent keys keep the defaults", "[util][yaml_schema]") {
  auto t = read("name: x\nrun: {repeats: 5, mode: fast, mass: 0.25}\nmethods: b\ninner: {window: 8}\n"
                "own: {threshold: 0.9}\n");
  CHECK(t.name == "x");
  CHECK(t.repeats == 5);
  CHECK(!t.limit);
  CHECK(t.mass == 0.25);
  CHECK(t.mode == Mode::Fast);
  CHECK(t.methods == std::vector<std::string>{"b"});
  CHECK(t.inner.window == 8);
  REQUIRE(t.own);
  CHECK(t.own->window == 8);  // inherited from inner, read first
  CHECK(t.own->threshold == 0.9);
  CHECK(read("name: y").repeats == 3);
}

TEST_CASE("a declared table names the key of every bad value", "[util][yaml_schema]") {
  CHECK_THROWS_WITH(read("run: {repeats: 5}"), "toy.yaml: name: required key is missing");
  CHECK_THROWS_WITH(read("name: x\nrun: {repeat: 5}"),
                    Catch::Contains("run.repeat: unknown key (expected one of: repeats, limit, mass, mode)"));
  CHECK_THROWS_WITH(read("name: x\nnamee: 1"), Catch::Contains("namee: unknown key"));
  CHECK_THROWS_WITH(read("name: x\nrun: {repeats: 0}"), Catch::Contains("run.repeats: must be >= 1"));
  CHECK_THROWS_WITH(read("name: x\nrun: {repeats: two}"), Catch::Contains("run.repeats: expected an integer"));
  CHECK_THROWS_WITH(read("name: x\nrun: {mass: 2}"), Catch::Contains("run.mass: must be in [0, 1]"));
  CHECK_THROWS_WITH(read("name: x\nrun: {mode: slow}"), Catch::Contains("run.mode: 'slow' is not one of: fast, exact"));
  CHECK_THROWS_WITH(read("name: x\nmethods: [a, c]"), Catch::Contains("'c' is not one of: a, b"));
  CHECK_THROWS_WITH(read("name: x\neps: [1, -1]"), Catch::Contains("must be >= 0"));
  CHECK_THROWS_WITH(read("name: x\nrun: {mass: .nan}"), Catch::Contains("run.mass: expected a number, got '.nan'"));
  CHECK_THROWS_WITH(read("name: x\nrun: 3"), Catch::Contains("run: expected a mapping, got '3'"));
  CHECK_THROWS_WITH(read("name: x\nown: {window: 0}"), Catch::Contains("own.window: must be >= 1"));
}

TEST_CASE("a declared table writes every key and reads its own output back", "[util][yaml_schema]") {
  const auto table = toy_table();
  auto t = read("name: x\nrun: {limit: 7, mass: 0.4}\neps: [0.1]\n");
  const auto written = write_options(table, t);
  CHECK(written["run"]["repeats"].as<int>() == 3);
  CHECK(written["run"]["limit"].as<int>() == 7);
  CHECK(written["run"]["mass"].Scalar() == "0.4");  // shortest exact text
  CHECK(written["run"]["mode"].as<std::string>() == "exact");
  CHECK(written["own"]["window"].as<int>() == 4);  // computed from inner
  Toy again;
  read_options(YamlNode(written, ""), table, again);
  CHECK(yaml_dump(write_options(table, again)) == yaml_dump(written));
  CHECK(!write_options(table, read("name: x"))["run"]["limit"].IsDefined());  // absent optional: not written
  const auto fp = options_json(table, t);
  CHECK(!fp.contains("eps"));  // not fingerprinted
  CHECK(fp.at("run").at("limit") == "7");
}

TEST_CASE("a declared table lists its keys with type, default and help", "[util][yaml_schema]") {
  const auto infos = option_infos(toy_table());
  CHECK(infos[1].type_text() == "int ≥ 1");
  CHECK(infos[3].type_text() == "number in [0, 1]");
  CHECK(infos[4].default_text == "exact");
  CHECK(infos[5].default_text == "[a]");
  CHECK(infos.back().default_text == "inner.threshold");
  const auto text = list_options(infos);
  CHECK_THAT(text, Catch::Contains("run.limit") && Catch::Contains("all") && Catch::Contains("(one of: fast, exact)"));
  CHECK_THAT(text, Catch::Contains("required"));
}

TEST_CASE("numbers are written in their shortest exact form", "[util][yaml_schema]") {
  CHECK(shortest_number_text(0.4) == "0.4");
  CHECK(shortest_number_text(2) == "2");
  CHECK(shortest_number_text(0.1 + 0.2) == "0.30000000000000004");
  CHECK(std::stod(shortest_number_text(1.0 / 3)) == 1.0 / 3);
  CHECK_THROWS_WITH(enum_from_name(kModes, "slow", "run.mode"), "run.mode: unknown 'slow' (known: fast, exact)");
}
