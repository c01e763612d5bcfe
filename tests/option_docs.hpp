#pragma once
// A YAML file's keys (util/yaml_schema.hpp) against the documentation's key tables: each table,
// after a line "<!-- options: PREFIX ... -->" ("." is the top level), lists the keys under its
// first prefix with their type and default (the other prefixes: the same keys).

#include <cstddef>
#include <string>
#include <vector>

#include "litestage/util/yaml_schema.hpp"

namespace litestage::test {

// Catch2 checks: every key documented, with its type text and default ("required" for required
// keys), no key documented that is not declared; at least `min_tables` tables.
void check_option_docs(const std::vector<OptionInfo>& infos, const std::string& path, std::size_t min_tables);

}  // namespace litestage::test
