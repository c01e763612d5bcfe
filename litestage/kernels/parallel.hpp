#pragma once
// Work shared out in chunks that the intra-op threads take in turn: a thread slowed by the
// machine's load (another process, a noisy neighbour on a VM) takes fewer chunks instead of
// making the others wait for it, as at::parallel_for's equal split does. Each chunk is computed
// the same way whichever thread takes it, so results do not depend on the split.

#include <cstdint>
#include <functional>

namespace litestage {

// fn(begin, end) over [0, n) in chunks of `grain` (at least 1; the last chunk shorter). Taking a
// chunk moves a counter between cores (about 0.5 us on a 2-core AMD EPYC VM), so with no more
// chunks than threads each thread gets one, with no counter. Runs on the calling thread alone
// inside a parallel region or with one intra-op thread. Compiled with OpenMP in litestage_model
// (at::parallel_for, a header template, runs serially in code built without it).
void parallel_chunks(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// A grain for parallel_chunks over n items of `item_work` each: chunks of at least `chunk_work`,
// but no fewer chunks than threads.
int64_t chunk_grain(int64_t n, int64_t item_work, int64_t chunk_work);

}  // namespace litestage
