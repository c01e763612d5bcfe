#pragma once
// printf-style formatting into a std::string: table cells and figures (at most 159 characters).

#include <cstdio>
#include <string>

namespace litestage {

template <typename... Args>
std::string format(const char* pattern, Args... args) {
  char buf[160];
  std::snprintf(buf, sizeof buf, pattern, args...);
  return buf;
}

}  // namespace litestage
