#pragma once
// Work shared out in chunks that the intra-op threads take in turn: a thread slowed by the
// machine's load (another process, a noisy neighbour on a VM) takes fewer chunks instead of
// making the others wait for it, as at::parallel_for's equal split does. Each chunk is computed
// the same way whichever thread takes it, so results do not depend on the split.

#include <cstdint>
#include <functional>

namespace litestage {

// fn(begin, end) over [0, n) in chunks of `grain` (at least 1; the last chunk shorter). Runs on the
// calling thread alone inside a parallel region or with one intra-op thread. Compiled with OpenMP
// in litestage_model (at::parallel_for, a header template, runs serially in code built without it).
void parallel_chunks(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace litestage
