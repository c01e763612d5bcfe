#include "litestage/util/provenance.hpp"

#include <ctime>

#ifndef LITESTAGE_VERSION
#define LITESTAGE_VERSION "unknown"
#endif
#ifndef LITESTAGE_GIT_COMMIT
#define LITESTAGE_GIT_COMMIT "unknown"
#endif
#ifndef LITESTAGE_BUILD_TYPE
#define LITESTAGE_BUILD_TYPE "unknown"
#endif

namespace litestage {
namespace {

std::string& stored_command_line() {
  static std::string line;
  return line;
}

// An argument as a POSIX shell reads it back: bare when it is plain, else in single quotes.
std::string shell_word(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                            "-_./=:,+@%") == std::string::npos)
    return arg;
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo info{LITESTAGE_VERSION, LITESTAGE_GIT_COMMIT, LITESTAGE_BUILD_TYPE};
  return info;
}

void set_command_line(int argc, const char* const* argv) {
  std::string line = "litestage";  // not the path it was started from
  for (int i = 1; i < argc; ++i) line += " " + shell_word(argv[i]);
  stored_command_line() = line;
}

const std::string& command_line() { return stored_command_line(); }

nlohmann::json provenance_json() {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const auto& b = build_info();
  return {{"version", b.version}, {"commit", b.commit}, {"date", date}, {"command", command_line()}};
}

}  // namespace litestage
