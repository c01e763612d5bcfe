#pragma once
// Helpers shared by the io tests: crafting safetensors files byte by byte.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace litestage::test {

// Writes `bytes` as they are.
inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The raw layout: 8-byte little-endian header length (header.size() unless overridden), the
// header text, then the data section.
inline std::string safetensors_bytes(const std::string& header, const std::string& data = "",
                                     std::optional<std::uint64_t> length = std::nullopt) {
  const std::uint64_t n = length ? *length : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

inline void write_raw(const std::filesystem::path& path, const std::string& header,
                      const std::string& data = "",
                      std::optional<std::uint64_t> length = std::nullopt) {
  write_bytes(path, safetensors_bytes(header, data, length));
}

// Little-endian bytes of float values, the way an F32 tensor is stored.
inline std::string f32_bytes(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace litestage::test
