#include "litestage/util/paths.hpp"

#include <unistd.h>

#include <filesystem>

namespace litestage {
namespace {

namespace fs = std::filesystem;

bool writable(const fs::path& dir) { return access(dir.c_str(), W_OK | X_OK) == 0; }

std::string output_dir_problem(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return "is a file, not a directory";
    return writable(dir) ? "" : "is not writable";
  }
  // The nearest ancestor that exists decides whether the rest can be made.
  fs::path existing = fs::absolute(dir, ec).parent_path();
  while (!existing.empty() && !fs::exists(existing, ec) && existing != existing.root_path())
    existing = existing.parent_path();
  if (!fs::is_directory(existing, ec)) return "cannot be created: '" + existing.string() + "' is a file";
  if (!writable(existing)) return "cannot be created: '" + existing.string() + "' is not writable";
  return "";
}

}  // namespace

std::string path_problem(const std::string& path, PathUse use) {
  if (path.empty()) return "is empty";
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (ec) return "cannot be checked: " + ec.message();
  const bool dir = exists && fs::is_directory(path, ec);
  switch (use) {
    case PathUse::InputDir:
      if (!exists) return "does not exist";
      return dir ? "" : "is a file, not a directory";
    case PathUse::InputFile:
      if (!exists) return "does not exist";
      return dir ? "is a directory, not a file" : "";
    case PathUse::OutputDir:
      return output_dir_problem(path);
    case PathUse::OutputFile: {
      if (dir) return "is a directory; name a file in it";
      const fs::path parent = fs::path(path).parent_path();
      const std::string why = output_dir_problem(parent.empty() ? fs::path(".") : parent);
      return why.empty() ? "" : "cannot be written: its directory '" + parent.string() + "' " + why;
    }
  }
  return "";
}

}  // namespace litestage
