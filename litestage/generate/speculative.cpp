#include "litestage/generate/speculative.hpp"

#include <algorithm>

#include "litestage/model/decode_kernel.hpp"
#include "litestage/util/error.hpp"

namespace litestage {

const EnumNames<DrafterKind>& drafter_kind_names() {
  static const EnumNames<DrafterKind> names = {{"off", DrafterKind::Off}, {"lookup", DrafterKind::Lookup}};
  return names;
}

void SpeculativeConfig::validate() const {
  if (gamma < 1 || gamma >= kShortForwardRows)
    throw_error("speculative gamma must be in [1, ", kShortForwardRows - 1, "] (a verify forward takes gamma + 1 rows), got ",
                gamma);
  if (ngram < 1 || ngram > kMostNgram) throw_error("speculative ngram must be in [1, ", kMostNgram, "], got ", ngram);
}

SpeculativeStats& SpeculativeStats::operator+=(const SpeculativeStats& o) {
  verify_forwards += o.verify_forwards;
  drafted += o.drafted;
  accepted += o.accepted;
  return *this;
}

double SpeculativeStats::tokens_per_forward() const {
  return verify_forwards > 0 ? static_cast<double>(accepted + verify_forwards) / static_cast<double>(verify_forwards) : 0;
}

uint64_t NgramIndex::key(const int32_t* first, int n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(n);
  for (int i = 0; i < n; ++i) {
    h ^= static_cast<uint32_t>(first[i]);
    h *= 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h;
}

void NgramIndex::start_sequence() {
  if (!tokens_.empty() && tokens_.back() != -1) tokens_.push_back(-1);
  sequence_start_ = tokens_.size();
}

void NgramIndex::push(int32_t token) {
  const size_t i = tokens_.size();
  for (int n = 1; n <= ngram_ && i >= sequence_start_ + static_cast<size_t>(n); ++n) next_[key(&tokens_[i - n], n)] = i;
  tokens_.push_back(token);
}

std::vector<int32_t> NgramIndex::follow(const std::vector<int32_t>& tail, int most) const {
  for (int n = std::min<int>(ngram_, static_cast<int>(tail.size())); n >= 1; --n) {
    const int32_t* suffix = tail.data() + tail.size() - n;
    const auto it = next_.find(key(suffix, n));
    if (it == next_.end()) continue;
    const size_t j = it->second;
    if (!std::equal(suffix, suffix + n, tokens_.begin() + static_cast<std::ptrdiff_t>(j - n))) continue;  // a collision
    std::vector<int32_t> out;
    for (size_t i = j; i < tokens_.size() && tokens_[i] != -1 && static_cast<int>(out.size()) < most; ++i)
      out.push_back(tokens_[i]);
    if (!out.empty()) return out;
  }
  return {};
}

void DraftHistory::add(const std::vector<int32_t>& output) {
  index_.start_sequence();
  for (int32_t t : output) index_.push(t);
}

LookupDrafter::LookupDrafter(const SpeculativeConfig& config, const std::vector<int32_t>& prompt,
                             const DraftHistory* history)
    : config_(config), context_(config.ngram), history_(history) {
  context_.start_sequence();
  for (int32_t t : prompt) push(t);
}

void LookupDrafter::push(int32_t token) {
  context_.push(token);
  tail_.push_back(token);
  if (static_cast<int>(tail_.size()) > config_.ngram) tail_.erase(tail_.begin());
}

std::vector<int32_t> LookupDrafter::propose(int most) const {
  most = std::min(most, config_.gamma);
  if (most <= 0) return {};
  auto draft = context_.follow(tail_, most);
  if (draft.empty() && history_) draft = history_->index().follow(tail_, most);
  return draft;
}

}  // namespace litestage
