#pragma once
// Read-only memory mapping of a whole file (POSIX mmap). Checkpoints are read through a mapping so
// opening a multi-gigabyte file costs nothing until a tensor is actually loaded, and only the
// pages of that tensor are touched.
//
// Caveat: if another process truncates the file while it is mapped, touching the lost pages raises
// SIGBUS. Checkpoints are treated as immutable while open.

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace litestage::io {

class MappedFile {
 public:
  // Maps `path` read-only. Throws litestage::Error naming the path when it does not exist, is not
  // a regular file, or cannot be opened or mapped. An empty file is valid (data() == nullptr).
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void unmap() noexcept;

  std::filesystem::path path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace litestage::io
