#pragma once
// What produced a result file: the program's version, the git commit it was built from (read by
// CMake at configure time; "unknown" outside a git checkout), when it ran and its command line.
// summary.json and results.json record it, so a number can be traced to the code that made it.

#include <string>

#include <nlohmann/json.hpp>

namespace litestage {

struct BuildInfo {
  std::string version;     // the project's version (CMakeLists.txt)
  std::string commit;      // short git commit, "-dirty" when the tree had changes; or "unknown"
  std::string build_type;  // Release, Debug, ...
};
const BuildInfo& build_info();

// main() records its arguments once; provenance_json() writes them back as one shell line.
void set_command_line(int argc, const char* const* argv);
const std::string& command_line();

// {"version", "commit", "date" (UTC, ISO 8601), "command"}.
nlohmann::json provenance_json();

}  // namespace litestage
