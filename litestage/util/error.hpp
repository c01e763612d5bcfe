#pragma once
// Errors raised at I/O and configuration boundaries. Every message carries its context
// (file, key, tensor, expected vs. got) so a user can act on it without a debugger.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace litestage {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}
}  // namespace detail

// throw_error("file ", path, ": tensor ", name, " missing")
template <typename... Args>
[[noreturn]] void throw_error(Args&&... args) {
  throw Error(detail::concat(std::forward<Args>(args)...));
}

// Like assert, but always on and throwing litestage::Error with a composed message.
#define LITESTAGE_CHECK(cond, ...)                     \
  do {                                                 \
    if (!(cond)) ::litestage::throw_error(__VA_ARGS__); \
  } while (0)

}  // namespace litestage
