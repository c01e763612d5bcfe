#include "litestage/tokenizer/bpe.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "litestage/tokenizer/json_file.hpp"
#include "litestage/tokenizer/normalizer.hpp"
#include "litestage/tokenizer/regex.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

// ---------------------------------------------------------------------------------------------
// GPT-2 byte alphabet

namespace byte_level {

namespace {

struct Tables {
  char32_t to_code_point[256];
  int16_t to_byte[512];  // every code point of the alphabet is below 512
  std::string spelled[256];
  Tables() {
    std::fill(std::begin(to_byte), std::end(to_byte), int16_t{-1});
    // Printable Latin-1 bytes stand for themselves; the others (controls, space, DEL, NBSP,
    // soft hyphen) are moved, in byte order, to 256 + n.
    int shifted = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + shifted++);
      to_code_point[b] = cp;
      to_byte[cp] = static_cast<int16_t>(b);
      utf8::append(spelled[b], cp);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_code_point(uint8_t b) { return tables().to_code_point[b]; }

std::optional<uint8_t> code_point_to_byte(char32_t cp) {
  if (cp >= 512 || tables().to_byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[cp]);
}

std::string encode(std::string_view bytes) {
  const auto& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.spelled[b];
  return out;
}

std::optional<std::string> decode(std::string_view spelled) {
  std::string out;
  out.reserve(spelled.size());
  size_t i = 0;
  while (i < spelled.size()) {
    if (!utf8::sequence_length(spelled, i)) return std::nullopt;
    auto b = code_point_to_byte(utf8::next(spelled, i));
    if (!b) return std::nullopt;
    out += static_cast<char>(*b);
  }
  return out;
}

}  // namespace byte_level

// ---------------------------------------------------------------------------------------------
// BpeTokenizer

namespace {

constexpr size_t kMaxCachedPieceBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 18;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(b));
  return buf;
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeSpec spec) : source_(std::move(spec.source)) {
  int32_t max_id = -1;
  for (const auto& [spelling, id] : spec.vocab) {
    if (id < 0) throw_error(source_, ": vocabulary entry \"", spelling, "\" has negative id ", id);
    max_id = std::max(max_id, id);
  }
  for (const auto& t : spec.added_tokens) {
    if (t.id < 0) throw_error(source_, ": added token \"", t.content, "\" has negative id ", t.id);
    if (t.content.empty()) throw_error(source_, ": added token ", t.id, " has empty content");
    utf8::validate(t.content, source_ + ": added token " + std::to_string(t.id));
    max_id = std::max(max_id, t.id);
  }
  vocab_size_ = max_id + 1;
  // Ids index dense tables: refuse a vocabulary that is mostly holes (a stray huge id would
  // otherwise allocate gigabytes before anything could fail).
  const size_t entries = spec.vocab.size() + spec.added_tokens.size();
  if (static_cast<size_t>(vocab_size_) > 2 * entries + 1024)
    throw_error(source_, ": ids are not dense: the largest is ", max_id, " for ", entries,
                " vocabulary entries and added tokens");

  spelled_.resize(static_cast<size_t>(vocab_size_));
  bytes_.resize(static_cast<size_t>(vocab_size_));
  index_.reserve(spec.vocab.size());
  for (auto& [spelling, id] : spec.vocab) {
    if (!spelled_[id].empty()) {
      throw_error(source_, ": id ", id, " is given to both \"", spelled_[id], "\" and \"", spelling, "\"");
    }
    if (spelling.empty()) throw_error(source_, ": vocabulary entry with id ", id, " is empty");
    auto raw = byte_level::decode(spelling);
    // A spelling outside the byte alphabet decodes to its own UTF-8, as Hugging Face's
    // ByteLevel decoder does.
    bytes_[id] = raw ? std::move(*raw) : spelling;
    index_.emplace(spelling, id);
    spelled_[id] = std::move(spelling);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = index_.find(byte_level::encode(std::string(1, static_cast<char>(b))));
    byte_id_[b] = it == index_.end() ? -1 : it->second;
  }

  merges_.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const std::string& left = spec.merges[rank].first;  // named, not bound: lambdas capture them
    const std::string& right = spec.merges[rank].second;
    auto l = index_.find(left), r = index_.find(right), m = index_.find(left + right);
    auto where = [&] { return detail::concat(source_, ": merge ", rank, " \"", left, " ", right, "\": "); };
    if (l == index_.end()) throw_error(where(), "\"", left, "\" is not in the vocabulary");
    if (r == index_.end()) throw_error(where(), "\"", right, "\" is not in the vocabulary");
    if (m == index_.end()) throw_error(where(), "the merged token \"", left + right, "\" is not in the vocabulary");
    // A repeated pair keeps its first (lowest) rank.
    merges_.emplace(pair_key(l->second, r->second), Merge{static_cast<int32_t>(rank), m->second});
  }

  ignore_merges_ = spec.ignore_merges;
  if (ignore_merges_) {
    raw_index_.reserve(spec.vocab.size());
    for (int32_t id = 0; id < vocab_size_; ++id) {
      if (!spelled_[id].empty()) raw_index_.emplace(bytes_[id], id);
    }
  }
  nfc_ = spec.nfc;
  for (const auto& step : spec.steps) {
    Step s;
    if (!step.prefix_space) s.regex = std::make_unique<Regex>(step.pattern);
    steps_.push_back(std::move(s));
  }

  for (const auto& t : spec.added_tokens) {
    added_by_id_[t.id] = t;
    added_by_content_[t.content] = t.id;
  }
  std::vector<AddedToken> unique;
  for (const auto& [id, t] : added_by_id_) unique.push_back(t);
  std::sort(unique.begin(), unique.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  matcher_ = AddedTokenMatcher(std::move(unique));
}

BpeTokenizer::~BpeTokenizer() = default;

void BpeTokenizer::set_special_ids(std::optional<int32_t> bos, std::vector<int32_t> eos, std::optional<int32_t> pad) {
  if (bos) check_id(*bos);
  for (int32_t id : eos) check_id(id);
  if (pad) check_id(*pad);
  bos_ = bos;
  eos_ = std::move(eos);
  pad_ = pad;
}

const AddedToken* BpeTokenizer::added_token(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it == added_by_id_.end() ? nullptr : &it->second;
}

void BpeTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size_ || (spelled_[id].empty() && !added_token(id))) {
    throw_error("token id ", id, " is not in the vocabulary of ", source_, " (", vocab_size_, " ids)");
  }
}

template <typename OnPiece>
void BpeTokenizer::apply_steps(std::string_view piece, size_t step, OnPiece& on_piece) const {
  if (piece.empty()) return;
  if (step == steps_.size()) {
    on_piece(piece);
    return;
  }
  const Step& s = steps_[step];
  if (!s.regex) {
    if (piece.front() == ' ') {
      apply_steps(piece, step + 1, on_piece);
    } else {
      std::string spaced;
      spaced.reserve(piece.size() + 1);
      spaced += ' ';
      spaced += piece;
      apply_steps(spaced, step + 1, on_piece);
    }
    return;
  }
  s.regex->split_isolated(piece, [&](std::string_view sub) { apply_steps(sub, step + 1, on_piece); });
}

template <typename OnPiece>
void BpeTokenizer::for_each_piece(std::string_view segment, OnPiece&& on_piece) const {
  if (nfc_ && nfc_may_change(segment)) {
    std::string normalized = nfc_normalize(segment);
    apply_steps(normalized, 0, on_piece);
  } else {
    apply_steps(segment, 0, on_piece);
  }
}

std::vector<int32_t> BpeTokenizer::merge_piece(std::string_view piece) const {
  // Symbols form a linked list (prev/next by position, id -1 once merged away); candidate pairs
  // sit in a min-heap ordered by (rank, position) and are checked against the current ids when
  // popped, so each merge costs O(log n) instead of a rescan of the word.
  const int n = static_cast<int>(piece.size());
  std::vector<int32_t> id(n), prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(piece[i]);
    id[i] = byte_id_[b];
    if (id[i] < 0) throw_error(source_, ": byte ", hex_byte(b), " has no token in the vocabulary");
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, pos, left, right, merged;
  };
  auto later = [](const Candidate& a, const Candidate& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
  std::vector<Candidate> heap;
  heap.reserve(static_cast<size_t>(n));
  auto consider = [&](int32_t p, bool keep_heap) {
    const int32_t q = next[p];
    if (q < 0) return;
    auto it = merges_.find(pair_key(id[p], id[q]));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, p, id[p], id[q], it->second.merged});
    if (keep_heap) std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int i = 0; i + 1 < n; ++i) consider(i, false);
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    const int32_t p = c.pos, q = next[p];
    // Stale when either side was merged since the push (ids only ever grow into longer tokens,
    // so a changed symbol never shows its old id again).
    if (id[p] != c.left || q < 0 || id[q] != c.right) continue;
    id[p] = c.merged;
    id[q] = -1;
    next[p] = next[q];
    if (next[q] >= 0) prev[next[q]] = p;
    if (prev[p] >= 0) consider(prev[p], true);
    consider(p, true);
  }
  std::vector<int32_t> out;
  for (int32_t p = 0; p >= 0; p = next[p]) out.push_back(id[p]);
  return out;
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    const auto b = static_cast<unsigned char>(piece[0]);
    if (byte_id_[b] < 0) throw_error(source_, ": byte ", hex_byte(b), " has no token in the vocabulary");
    out.push_back(byte_id_[b]);
    return;
  }
  if (ignore_merges_) {
    auto it = raw_index_.find(std::string(piece));
    if (it != raw_index_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  std::string key;
  if (cacheable) {
    key.assign(piece);
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> merged = merge_piece(piece);
  out.insert(out.end(), merged.begin(), merged.end());
  if (cacheable) {
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    if (cache_.size() < kMaxCacheEntries) cache_.emplace(std::move(key), std::move(merged));
  }
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  utf8::validate(text, "encode");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (options.add_bos && bos_) ids.push_back(*bos_);
  auto encode_text = [&](std::string_view segment) {
    for_each_piece(segment, [&](std::string_view piece) { encode_piece(piece, ids); });
  };
  if (options.parse_special && !matcher_.empty()) {
    matcher_.split(text, encode_text, [&](const AddedToken& t) { ids.push_back(t.id); });
  } else {
    encode_text(text);
  }
  if (options.add_eos && !eos_.empty()) ids.push_back(eos_.front());
  return ids;
}

std::vector<std::string> BpeTokenizer::pre_tokenize(std::string_view text, bool parse_special) const {
  utf8::validate(text, "pre_tokenize");
  std::vector<std::string> pieces;
  auto on_text = [&](std::string_view segment) {
    for_each_piece(segment, [&](std::string_view piece) { pieces.emplace_back(piece); });
  };
  if (parse_special && !matcher_.empty()) {
    matcher_.split(text, on_text, [&](const AddedToken& t) { pieces.push_back(t.content); });
  } else {
    on_text(text);
  }
  return pieces;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    check_id(id);
    if (const AddedToken* t = added_token(id)) {
      if (t->special && skip_special) continue;
      bytes += t->content;
    } else {
      bytes += bytes_[id];
    }
  }
  return utf8::repair(bytes);
}

std::string BpeTokenizer::piece(int32_t id) const {
  check_id(id);
  if (const AddedToken* t = added_token(id)) return t->content;
  return spelled_[id];
}

std::optional<int32_t> BpeTokenizer::token_id(std::string_view piece) const {
  std::string key(piece);
  if (auto it = added_by_content_.find(key); it != added_by_content_.end()) return it->second;
  if (auto it = index_.find(key); it != index_.end()) return it->second;
  return std::nullopt;
}

bool BpeTokenizer::is_special(int32_t id) const {
  const AddedToken* t = added_token(id);
  return t && t->special;
}

bool BpeTokenizer::regex_jit() const {
  for (const auto& s : steps_) {
    if (s.regex && !s.regex->jit()) return false;
  }
  return true;
}

}  // namespace litestage
