#include "litestage/model/skip_plan.hpp"

#include <cctype>
#include <ostream>

#include "litestage/model/config.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

std::string kind_name(SubLayerKind kind) { return kind == SubLayerKind::Attention ? "attn" : "ffn"; }

std::string to_string(const SubLayer& s) {
  return (s.kind == SubLayerKind::Attention ? "a" : "f") + std::to_string(s.layer);
}

namespace {

int parse_int(std::string_view text, std::string_view item) {
  if (text.empty()) throw_error("skip spec item '", item, "': missing layer number");
  int v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      throw_error("skip spec item '", item, "': '", text, "' is not a layer number");
    v = v * 10 + (c - '0');
    if (v > 1000000) throw_error("skip spec item '", item, "': layer number too large");
  }
  return v;
}

}  // namespace

SubLayer parse_sublayer(std::string_view text) {
  std::string t = trim(text);
  if (t.size() < 2 || (t[0] != 'a' && t[0] != 'f'))
    throw_error("sub-layer '", t, "': expected 'a<layer>' (attention) or 'f<layer>' (FFN)");
  return {parse_int(std::string_view(t).substr(1), t),
          t[0] == 'a' ? SubLayerKind::Attention : SubLayerKind::FFN};
}

SkipPlan SkipPlan::parse(std::string_view spec, int num_layers) {
  SkipPlan plan(num_layers);
  std::string s = trim(spec);
  if (s.empty() || s == "none") return plan;
  for (const auto& raw : split(s, ',')) {
    std::string item = trim(raw);
    if (item.empty()) continue;
    char kind = item[0];
    if (kind != 'a' && kind != 'f' && kind != 'b')
      throw_error("skip spec item '", item, "': must start with a (attention), f (FFN) or b (block)");
    std::string_view range = std::string_view(item).substr(1);
    int lo, hi;
    auto dash = range.find('-');
    if (dash == std::string_view::npos) {
      lo = hi = parse_int(range, item);
    } else {
      lo = parse_int(range.substr(0, dash), item);
      hi = parse_int(range.substr(dash + 1), item);
      if (hi < lo) throw_error("skip spec item '", item, "': empty range");
    }
    if (hi >= num_layers)
      throw_error("skip spec item '", item, "': layer ", hi, " out of range (model has ", num_layers, " layers)");
    for (int l = lo; l <= hi; ++l) {
      if (kind != 'f') plan.attn_[l] = true;
      if (kind != 'a') plan.ffn_[l] = true;
    }
  }
  return plan;
}

SkipPlan SkipPlan::from_ranking(const std::vector<SubLayer>& ranking, size_t k, int num_layers) {
  if (k > ranking.size()) throw_error("cannot skip ", k, " sub-layers: the ranking has ", ranking.size());
  SkipPlan plan(num_layers);
  for (size_t i = 0; i < k; ++i) plan.set(ranking[i]);
  return plan;
}

void SkipPlan::set(const SubLayer& s, bool skip) {
  if (s.layer < 0 || s.layer >= num_layers())
    throw_error("sub-layer ", litestage::to_string(s), " out of range (plan has ", num_layers(), " layers)");
  (s.kind == SubLayerKind::Attention ? attn_ : ffn_)[s.layer] = skip;
}

bool SkipPlan::skips(const SubLayer& s) const {
  return s.kind == SubLayerKind::Attention ? skip_attention(s.layer) : skip_ffn(s.layer);
}

size_t SkipPlan::num_skipped() const {
  size_t n = 0;
  for (int l = 0; l < num_layers(); ++l) n += attn_[l] + ffn_[l];
  return n;
}

std::vector<SubLayer> SkipPlan::skipped() const {
  std::vector<SubLayer> out;
  for (int l = 0; l < num_layers(); ++l) {
    if (attn_[l]) out.push_back({l, SubLayerKind::Attention});
    if (ffn_[l]) out.push_back({l, SubLayerKind::FFN});
  }
  return out;
}

std::vector<int> SkipPlan::skipped_attention() const {
  std::vector<int> out;
  for (int l = 0; l < num_layers(); ++l)
    if (attn_[l]) out.push_back(l);
  return out;
}

std::vector<int> SkipPlan::skipped_ffn() const {
  std::vector<int> out;
  for (int l = 0; l < num_layers(); ++l)
    if (ffn_[l]) out.push_back(l);
  return out;
}

std::string SkipPlan::to_string() const {
  std::vector<std::string> items;
  auto emit = [&](char kind, const std::vector<bool>& bits) {
    int l = 0, n = num_layers();
    while (l < n) {
      if (!bits[l]) {
        ++l;
        continue;
      }
      int start = l;
      while (l + 1 < n && bits[l + 1]) ++l;
      items.push_back(std::string(1, kind) + std::to_string(start) + (l > start ? "-" + std::to_string(l) : ""));
      ++l;
    }
  };
  emit('a', attn_);
  emit('f', ffn_);
  return items.empty() ? "none" : join(items, ",");
}

int64_t sublayer_parameters(const ModelConfig& c, SubLayerKind kind) {
  int64_t d = c.hidden_size;
  if (kind == SubLayerKind::FFN) return 3 * d * c.intermediate_size + d;
  int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  return d * q + 2 * d * kv + q * d + d;
}

double SkipPlan::removed_weight_fraction(const ModelConfig& c) const {
  // Per decoded token every layer's projections and the lm_head are read once; the embedding
  // lookup reads one row and is not counted.
  double total = static_cast<double>(c.num_hidden_layers) *
                     (sublayer_parameters(c, SubLayerKind::Attention) + sublayer_parameters(c, SubLayerKind::FFN)) +
                 static_cast<double>(c.vocab_size) * c.hidden_size;
  double removed = 0;
  for (const auto& s : skipped()) removed += sublayer_parameters(c, s.kind);
  return removed / total;
}

std::ostream& operator<<(std::ostream& out, const SubLayer& s) { return out << to_string(s); }
std::ostream& operator<<(std::ostream& out, const SkipPlan& plan) { return out << plan.to_string(); }

bool SkipPlan::operator==(const SkipPlan& o) const {
  // Plans are equal when they skip the same sub-layers, whatever their declared depth.
  return skipped() == o.skipped();
}

}  // namespace litestage
