#include "litestage/generate/speculative.hpp"

#include <algorithm>

#include "litestage/util/error.hpp"
#include "litestage/util/format.hpp"

namespace litestage {

const EnumNames<DrafterKind>& drafter_kind_names() {
  static const EnumNames<DrafterKind> names = {
      {"off", DrafterKind::Off}, {"lookup", DrafterKind::Lookup}, {"self", DrafterKind::Self}, {"auto", DrafterKind::Auto}};
  return names;
}

void SpeculativeConfig::validate() const {
  if (gamma < 1 || gamma >= kShortForwardRows)
    throw_error("speculative gamma must be in [1, ", kShortForwardRows - 1, "] (a verify forward takes gamma + 1 rows), got ",
                gamma);
  if (ngram < 1 || ngram > kMostNgram) throw_error("speculative ngram must be in [1, ", kMostNgram, "], got ", ngram);
  if (!(threshold >= 0 && threshold <= 1)) throw_error("speculative threshold must be in [0, 1], got ", threshold);
  if (uses_self() && (draft_skip.empty() || draft_skip == "none"))
    throw_error("the ", enum_name(drafter_kind_names(), drafter),
                " drafter needs draft_skip: the sub-layers its drafts skip beyond the verifier's (e.g. b4-11)");
}

std::string SpeculativeConfig::describe() const {
  if (!on()) return "off";
  std::string out = enum_name(drafter_kind_names(), drafter) + ", gamma " + std::to_string(gamma);
  if (uses_lookup()) out += ", ngram " + std::to_string(ngram) + (adaptive ? ", adaptive" : "");
  if (uses_self()) out += ", draft skip " + draft_skip + ", threshold " + format("%g", threshold);
  return out;
}

SpeculativeStats& SpeculativeStats::operator+=(const SpeculativeStats& o) {
  verify_forwards += o.verify_forwards;
  drafted += o.drafted;
  accepted += o.accepted;
  draft_forwards += o.draft_forwards;
  return *this;
}

double SpeculativeStats::tokens_per_forward() const {
  return verify_forwards > 0 ? static_cast<double>(accepted + verify_forwards) / static_cast<double>(verify_forwards) : 0;
}

SkipPlan self_draft_plan(const SkipPlan& verifier, const SpeculativeConfig& config, int layers) {
  SkipPlan plan = verifier.num_layers() == layers ? verifier : SkipPlan(layers);
  SkipPlan extra;
  try {
    extra = SkipPlan::parse(config.draft_skip, layers);
  } catch (const Error& e) {
    throw_error("speculative draft_skip '", config.draft_skip, "': ", e.what());
  }
  for (const auto& s : extra.skipped()) plan.set(s);
  return plan;
}

int64_t draw_index(const float* w, int64_t n, double u) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += w[i];
  const double target = u * total;
  double sum = 0;
  int64_t last = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] <= 0) continue;
    sum += w[i];
    last = i;
    if (target < sum) return i;
  }
  LITESTAGE_CHECK(last >= 0, "draw from weights that are all zero");
  return last;  // u * total rounded past the sum
}

SampledVerdict sampled_verdict(const float* p, const float* q, int64_t vocab, int64_t x, double u_accept,
                               double u_residual) {
  const double qx = q ? q[x] : 1.0;
  if (qx > 0 && u_accept * qx < p[x]) return {true, x};
  std::vector<float> residual(static_cast<size_t>(vocab));
  double mass = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    residual[i] = std::max(0.0f, p[i] - (q ? q[i] : (i == x ? 1.0f : 0.0f)));
    mass += residual[i];
  }
  return {false, draw_index(mass > 0 ? residual.data() : p, vocab, u_residual)};
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

std::vector<int32_t> NgramIndex::follow(const std::vector<int32_t>& tail, int most, int* matched) const {
  for (int n = std::min<int>(ngram_, static_cast<int>(tail.size())); n >= 1; --n) {
    const int32_t* suffix = tail.data() + tail.size() - n;
    const auto it = next_.find(key(suffix, n));
    if (it == next_.end()) continue;
    const size_t j = it->second;
    if (!std::equal(suffix, suffix + n, tokens_.begin() + static_cast<std::ptrdiff_t>(j - n))) continue;  // a collision
    std::vector<int32_t> out;
    for (size_t i = j; i < tokens_.size() && tokens_[i] != -1 && static_cast<int>(out.size()) < most; ++i)
      out.push_back(tokens_[i]);
    if (out.empty()) continue;
    if (matched) *matched = n;
    return out;
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

Draft LookupDrafter::propose(int most) const {
  most = std::min(most, config_.gamma);
  Draft d;
  if (most <= 0) return d;
  d.tokens = context_.follow(tail_, most, &d.matched);
  if (d.tokens.empty() && history_) {
    d.tokens = history_->index().follow(tail_, most, &d.matched);
    d.from_history = true;
  }
  return d;
}

double DraftStats::acceptance(const Draft& draft, int i) const {
  const Count& c = counts_.at(kind(draft)).at(i);
  return (c.accepted + 1) / (c.verified + 2);
}

bool DraftStats::explore(const Draft& draft) {
  int& cut = cut_in_a_row_.at(kind(draft));
  if (++cut < kExploreEvery) return false;
  cut = 0;
  return true;
}

void DraftStats::record(const Draft& draft, int drafted, int accepted) {
  cut_in_a_row_.at(kind(draft)) = 0;
  auto& row = counts_.at(kind(draft));
  // Positions up to the first rejected one were verified given the ones before them.
  for (int i = 0; i < drafted && i <= accepted; ++i) {
    row.at(i).verified += 1;
    row.at(i).accepted += i < accepted ? 1 : 0;
  }
}

void DraftStats::time(int rows, double seconds) {
  double& mean = seconds_.at(rows);
  mean = mean == 0 ? seconds : 0.9 * mean + 0.1 * seconds;
}

double DraftStats::relative_cost(int rows) const {
  // Where both are measured, the row count's own mean against one row's: a line through all of
  // them misjudges the few rows that drafts mostly take (on a small model a second row costs 0.4
  // of a step, further ones 0.3).
  if (seconds_.at(rows) > 0 && seconds_[1] > 0) return seconds_[rows] / seconds_[1];
  // Least squares through the measured (rows, seconds), a line a + b (rows - 1) with b >= 0.
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int r = 1; r <= kShortForwardRows; ++r) {
    if (seconds_[r] == 0) continue;
    const double x = r - 1, y = seconds_[r];
    n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  const double x = rows - 1;
  const double spread = n * sxx - sx * sx;
  if (spread <= 0) return 1 + kPriorSlope * x;  // fewer than two row counts measured: no slope yet
  const double b = std::max(0.0, (n * sxy - sx * sy) / spread), a = (sy - b * sx) / n;
  if (a <= 0) return 1 + kPriorSlope * x;
  return (a + b * x) / a;
}

int best_draft_length(const std::vector<double>& acceptance, const std::function<double(int rows)>& cost) {
  int best = 0;
  double expected = 1, reach = 1, best_rate = 1 / cost(1);
  for (size_t k = 1; k <= acceptance.size(); ++k) {
    reach *= acceptance[k - 1];
    expected += reach;
    const double rate = expected / cost(static_cast<int>(k) + 1);
    if (rate > best_rate) best = static_cast<int>(k), best_rate = rate;
  }
  return best;
}

}  // namespace litestage
