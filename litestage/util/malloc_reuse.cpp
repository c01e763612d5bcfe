#include "litestage/util/malloc_reuse.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace litestage {

std::string user_malloc_setting() {
  for (const char* name : kMallocVariables)
    if (std::getenv(name) != nullptr) return name;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return "GLIBC_TUNABLES";
  return "";
}

namespace {

MallocReuse apply() {
#if defined(__GLIBC__)
  const std::string name = user_malloc_setting();
  if (!name.empty()) return {false, "left as " + name + " sets it"};
  constexpr int kMmapThreshold = 32 << 20;  // glibc's upper limit on 64-bit systems
  constexpr int kTrimThreshold = 1 << 30;
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 || mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1)
    return {false, "malloc refused the thresholds (a sanitizer's allocator, or another one preloaded)"};
  return {true, "glibc malloc keeps freed blocks (mmap threshold 32 MB, trim threshold 1 GB)"};
#else
  return {false, "not glibc's malloc"};
#endif
}

}  // namespace

const MallocReuse& keep_freed_memory() {
  static const MallocReuse result = apply();
  return result;
}

}  // namespace litestage
