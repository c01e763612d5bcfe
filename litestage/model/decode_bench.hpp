#pragma once
// What `litestage bench` measures: a prompt then decode steps, timed (median over repeats), against
// the read floor, a pass that reads as many bytes as a decode step reads, timed on the spot.

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "litestage/kernels/runtime.hpp"
#include "litestage/model/causal_lm.hpp"
#include "litestage/model/skip_plan.hpp"

namespace litestage {

// Sub-layers to skip for a fraction of all 2L: from the last layer backwards, FFN then
// attention, so the first layers (which models rely on most) go last.
SkipPlan plan_for_fraction(double fraction, int layers);

// Streaming reads: one pass sums a buffer as large as the bytes a decode step reads.
class ReadProbe {
 public:
  ReadProbe(int64_t bytes, const Runtime& rt);
  // Seconds one pass takes per `bytes` read.
  double pass() const;
  double bandwidth(double seconds) const { return bytes_ / seconds; }  // bytes/s

 private:
  c10::Device device_;
  double bytes_;
  torch::Tensor buffer_;
};

// The bytes one decode step of the full model reads: every weight but an untied embedding table.
int64_t decode_read_bytes(CausalLM& model);

// The read floor of a model: its probe, the median of three passes, and whether each decode step
// gets a pass of its own (weights larger than kPairedFloorBytes, larger than any last-level cache;
// smaller ones decode from cache, which a pass would evict).
constexpr int64_t kPairedFloorBytes = int64_t{64} << 20;
struct ReadFloor {
  ReadFloor(CausalLM& model);
  int64_t bytes;
  ReadProbe probe;
  double seconds;        // one pass, median of three
  double bandwidth;      // bytes/s
  bool paired;
};

struct DecodeMeasurement {
  double prefill_seconds;  // median
  double decode_seconds;   // median per token
  double floor_ratio;      // median over repeats of decode time / the read passes paired with it
};

// Each repeat: a prompt, then gen_len greedy decode steps (each token read back, as a real loop
// does). The floor: with floor.paired, a pass after every step (side by side, so that drift in the
// machine's load hits both alike); else floor.seconds from start-up.
DecodeMeasurement measure_decode(CausalLM& model, const SkipPlan& plan, const std::vector<int64_t>& prompt, int gen_len,
                                 int warmup, int repeats, bool kernels, const ReadFloor& floor);

}  // namespace litestage
