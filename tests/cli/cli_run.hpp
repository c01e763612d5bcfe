#pragma once
// Running the built `litestage` as a user would, for the tests in this folder: its exit code and
// what it printed on stdout and stderr.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "process.hpp"
#include "support.hpp"

namespace litestage::test {

struct Result {
  int rc = -1;
  std::string out, err;
};

inline std::string quote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct ScratchDir {
  std::filesystem::path path = test::temp_dir("cli-run");
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Runs `litestage args...` with stdout and stderr captured apart.
inline Result run(const std::vector<std::string>& args) {
  static const ScratchDir scratch;
  const auto& dir = scratch.path;
  std::string cmd = quote(LITESTAGE_CLI);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " >" + quote((dir / "out").string()) + " 2>" + quote((dir / "err").string()) + " </dev/null";
  int status = std::system(cmd.c_str());
  Result r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

}  // namespace litestage::test

#define SHOW(r) INFO("exit " << (r).rc << "\n--- stdout:\n" << (r).out << "\n--- stderr:\n" << (r).err)
