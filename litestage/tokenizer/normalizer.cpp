#include "litestage/tokenizer/normalizer.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

#include "litestage/util/error.hpp"

namespace litestage {

namespace {

const icu::Normalizer2& nfc() {
  static const icu::Normalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status) || !n) throw_error("ICU: cannot load the NFC normalizer: ", u_errorName(status));
    return n;
  }();
  return *instance;
}

}  // namespace

bool nfc_may_change(std::string_view s) {
  // U+0300 is the first code point with a non-trivial NFC behaviour; its UTF-8 lead byte is 0xCC,
  // and every lead byte of a higher code point is larger.
  for (unsigned char c : s) {
    if (c >= 0xCC) return true;
  }
  return false;
}

std::string nfc_normalize(std::string_view s) {
  if (!nfc_may_change(s)) return std::string(s);
  const auto& n = nfc();
  UErrorCode status = U_ZERO_ERROR;
  icu::StringPiece piece(s.data(), static_cast<int32_t>(s.size()));
  if (n.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(s);
  status = U_ZERO_ERROR;
  std::string out;
  out.reserve(s.size());
  icu::StringByteSink<std::string> sink(&out);
  n.normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) throw_error("ICU: NFC normalization failed: ", u_errorName(status));
  return out;
}

}  // namespace litestage
