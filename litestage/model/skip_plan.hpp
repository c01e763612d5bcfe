#pragma once
// SkipPlan: which attention and FFN sub-layers a forward pass skips. Skip decisions are data,
// passed into every forward; the decoder layer consults the plan and nothing else.
//
// Text form (CLI --skip, YAML): comma-separated items, each a kind letter and a layer or an
// inclusive range: "a3" skips layer 3's attention, "f0-2" the FFNs of layers 0..2, "b5" the
// whole block 5 (attention and FFN). "" or "none" skips nothing.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace litestage {

struct ModelConfig;

enum class SubLayerKind { Attention, FFN };

struct SubLayer {
  int layer = 0;
  SubLayerKind kind = SubLayerKind::Attention;
  bool operator==(const SubLayer& o) const { return layer == o.layer && kind == o.kind; }
  bool operator<(const SubLayer& o) const { return layer != o.layer ? layer < o.layer : kind < o.kind; }
};
std::string to_string(const SubLayer& s);  // "a3" / "f3"
SubLayer parse_sublayer(std::string_view text);
std::string kind_name(SubLayerKind kind);  // "attn" / "ffn"

class SkipPlan {
 public:
  SkipPlan() = default;
  explicit SkipPlan(int num_layers) : attn_(num_layers, false), ffn_(num_layers, false) {}

  static SkipPlan parse(std::string_view spec, int num_layers);
  // Skips the first k entries of a ranking (most redundant first).
  static SkipPlan from_ranking(const std::vector<SubLayer>& ranking, size_t k, int num_layers);

  int num_layers() const { return static_cast<int>(attn_.size()); }
  // A default-constructed plan (no layers) skips nothing at any depth.
  bool skip_attention(int layer) const { return layer < num_layers() && attn_[layer]; }
  bool skip_ffn(int layer) const { return layer < num_layers() && ffn_[layer]; }
  void set(const SubLayer& s, bool skip = true);
  bool skips(const SubLayer& s) const;

  size_t num_skipped() const;
  bool empty() const { return num_skipped() == 0; }
  std::vector<SubLayer> skipped() const;  // in layer order
  std::vector<int> skipped_attention() const;
  std::vector<int> skipped_ffn() const;

  // Canonical text form ("none", or e.g. "a1,a4-6,f2"); parse(to_string()) == *this.
  std::string to_string() const;

  // Share of the per-token weight bytes (all matmuls incl. lm_head) this plan removes: the
  // memory-bound ideal for decode, used to judge realized speedups.
  double removed_weight_fraction(const ModelConfig& config) const;

  bool operator==(const SkipPlan& o) const;
  bool operator!=(const SkipPlan& o) const { return !(*this == o); }

 private:
  std::vector<bool> attn_, ffn_;
};

std::ostream& operator<<(std::ostream& out, const SubLayer& s);
std::ostream& operator<<(std::ostream& out, const SkipPlan& plan);

// Weight elements of one sub-layer of the model (projections and its norm).
int64_t sublayer_parameters(const ModelConfig& config, SubLayerKind kind);

}  // namespace litestage
