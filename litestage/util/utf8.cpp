#include "litestage/util/utf8.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "litestage/util/error.hpp"

namespace litestage::utf8 {

namespace {

// Length of the maximal subpart at s[i] (>= 1) when ill-formed; `valid` says which case.
size_t scan(std::string_view s, size_t i, bool& valid) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const size_t avail = s.size() - i;
  const unsigned b0 = p[0];
  valid = false;
  if (b0 < 0x80) {
    valid = true;
    return 1;
  }
  size_t need;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 == 0xE0) {
    need = 3, lo = 0xA0;
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    need = 3;
  } else if (b0 == 0xED) {
    need = 3, hi = 0x9F;
  } else if (b0 == 0xF0) {
    need = 4, lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    need = 4;
  } else if (b0 == 0xF4) {
    need = 4, hi = 0x8F;
  } else {
    return 1;
  }
  if (avail < 2 || p[1] < lo || p[1] > hi) return 1;
  for (size_t k = 2; k < need; ++k) {
    if (avail <= k || p[k] < 0x80 || p[k] > 0xBF) return k;
  }
  valid = true;
  return need;
}

}  // namespace

size_t sequence_length(std::string_view s, size_t i) {
  bool valid;
  size_t n = scan(s, i, valid);
  return valid ? n : 0;
}

std::optional<size_t> find_invalid(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // ASCII runs are the common case: test eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    bool valid;
    size_t len = scan(s, i, valid);
    if (!valid) return i;
    i += len;
  }
  return std::nullopt;
}

void validate(std::string_view s, std::string_view what) {
  if (auto bad = find_invalid(s)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(s[*bad])));
    throw_error(what, ": invalid UTF-8 at byte offset ", *bad, " (byte ", hex, ")");
  }
}

std::string repair(std::string_view s) {
  if (!find_invalid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    bool valid;
    size_t len = scan(s, i, valid);
    if (valid) {
      out.append(s.data() + i, len);
    } else {
      out += kReplacement;
    }
    i += len;
  }
  return out;
}

size_t complete_prefix_length(std::string_view s) {
  // Only the last three bytes can belong to a sequence that is still waiting for bytes.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t i = n - back;
    const unsigned b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return n;          // ASCII: everything before is settled
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    if (b == 0xC0 || b == 0xC1 || b >= 0xF5) return n;  // never starts a sequence
    bool valid;
    size_t len = scan(s, i, valid);
    // Ill-formed before the end (len < back) or complete: settled. Cut short by the end of the
    // string (the maximal subpart reaches the end): wait for more bytes.
    if (valid || i + len < n) return n;
    return i;
  }
  return n;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

char32_t next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  char32_t c = p[0];
  if (c < 0x80) {
    i += 1;
    return c;
  }
  if (c < 0xE0) {
    i += 2;
    return ((c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c < 0xF0) {
    i += 3;
    return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  i += 4;
  return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

}  // namespace litestage::utf8
