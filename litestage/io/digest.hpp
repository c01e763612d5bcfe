#pragma once
// Content digests used to identify a model (e.g. recorded in experiment results and budget
// profiles, so a profile searched on one checkpoint is never silently applied to another).
//
// The hash is XXH64 with seed 0 (the xxHash reference algorithm): fast (several GB/s), stable
// across platforms and releases, and checkable with the standard tool: `xxhsum -H1 FILE` prints
// the same 16 hex digits. It is not cryptographic; it detects changes, not tampering.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace litestage::io {

// XXH64 of `size` bytes at `data`.
std::uint64_t xxh64(const void* data, std::size_t size, std::uint64_t seed = 0);

// 16 lower-case hex digits, most significant first (the way xxhsum prints).
std::string digest_hex(std::uint64_t digest);

// XXH64 of a file's whole content as 16 hex digits. Throws litestage::Error naming the file when
// it cannot be read.
std::string file_digest(const std::filesystem::path& file);

}  // namespace litestage::io
