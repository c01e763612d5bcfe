#pragma once
// Whether a path named by a flag or a key can serve its use, checked before any work starts so
// that the error names the flag or key and the fix, not a system call ("filesystem error: ...").

#include <string>

namespace litestage {

enum class PathUse { InputDir, InputFile, OutputDir, OutputFile };

// "" when `path` can serve `use`; else why not, as words that follow the quoted path: "does not
// exist", "is a file, not a directory", "cannot be created: '/x' is a file", ...
std::string path_problem(const std::string& path, PathUse use);

}  // namespace litestage
