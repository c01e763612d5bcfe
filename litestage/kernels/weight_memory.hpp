#pragma once
// Where the weights live on CPU. A decode step streams every weight once, so its speed is the
// memory's read rate: on 4 KB pages the stream also walks one page-table entry per 4 KB, and the
// hardware prefetchers stop at every page's end. Weights of at least one huge page are therefore
// mapped 2 MB-aligned and marked for transparent huge pages (madvise(MADV_HUGEPAGE)); the kernel
// backs them with 2 MB pages where its THP setting is "madvise" or "always" and memory allows,
// else with 4 KB pages as before. Elsewhere (other devices, small tensors, other systems) plain
// torch::empty.

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace litestage {

// An uninitialised tensor for a weight (see above).
torch::Tensor empty_weight(at::IntArrayRef sizes, const torch::TensorOptions& opts);

// Whether empty_weight maps huge-page-aligned memory for a tensor of `bytes` with these options.
bool weight_gets_huge_pages(int64_t bytes, const torch::TensorOptions& opts);

// The kernel's transparent-huge-page mode ("always", "madvise", "never"), or "unavailable".
std::string transparent_huge_page_mode();

// Bytes of this process's anonymous memory on transparent huge pages (from /proc/self/smaps_rollup;
// -1 where unknown).
int64_t process_huge_page_bytes();

}  // namespace litestage
