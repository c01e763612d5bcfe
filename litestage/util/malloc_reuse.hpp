#pragma once
// Freed memory kept for the next tensor. LibTorch's CPU allocator takes every tensor from malloc.
// glibc's malloc maps blocks above its mmap threshold (128 KB at first, raised as such blocks are
// freed, up to 32 MB) straight from the kernel and unmaps them when freed, and hands the top of its
// heap back once more than its trim threshold lies free there. A loop that allocates and frees the
// same activations every step then faults in every 4 KB page of them again, every step. Training
// the model of experiments/train-synthetic-cpu.yaml on a 2-core AMD EPYC VM: 1.55M page faults in
// 50 steps with glibc's defaults, 336k with both thresholds raised (most of them loading); 100
// steps ran at 3,631-4,396 tokens/s against 5,447-5,994 (4 runs each, alternating; the same
// losses). The memory stays with the process until it ends, so its resident size stays at its
// peak instead of falling back between steps. Torch-free.

#include <array>
#include <string>

namespace litestage {

struct MallocReuse {
  bool applied = false;
  std::string detail;  // what was set, or why nothing was
};

// Sets glibc's mmap threshold to 32 MB (its largest) and its trim threshold to 1 GB, unless the
// environment already tunes malloc (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
// MALLOC_TOP_PAD_, MALLOC_MMAP_MAX_, or glibc.malloc in GLIBC_TUNABLES): a user's setting wins.
// Does nothing off glibc. Process-wide, so the `litestage` command calls it at start-up; a library
// user decides for their own process. The first call decides; later ones return its result.
const MallocReuse& keep_freed_memory();

// The environment variables through which a user tunes glibc's malloc, besides glibc.malloc
// entries in GLIBC_TUNABLES.
constexpr std::array<const char*, 4> kMallocVariables{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                                      "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"};

// The one of them that is set ("GLIBC_TUNABLES" for glibc.malloc tunables), or "".
std::string user_malloc_setting();

}  // namespace litestage
