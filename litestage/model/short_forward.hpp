#pragma once
// The cost of a short forward on a warm cache: K new tokens in one forward (a speculative verify
// step, an Analyze option's tail) against one decode step, each timed after the same prompt and
// rolled back (KVCache::truncate), so every forward starts from the same context.

#include <cstdint>
#include <vector>

#include "litestage/model/causal_lm.hpp"

namespace litestage {

struct ShortForwardTiming {
  int rows = 0;                // K
  double forward_seconds = 0;  // median of the K-row forwards
  double step_seconds = 0;     // median of the one-token steps, interleaved with them
};

// After one prefill of `prompt`: `warmup` untimed then `repeats` timed pairs of a one-token step
// and a `rows`-token forward (logits for every row, as a verify step needs), alternating, each
// rolled back to the prompt and each reading its tokens back.
ShortForwardTiming time_short_forward(CausalLM& model, const SkipPlan& plan, const std::vector<int64_t>& prompt,
                                      int rows, int warmup, int repeats, bool kernels);

}  // namespace litestage
