#pragma once
// safetensors reader (mmap, validated up front) and writer.
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
// N bytes of JSON header, then the data section. The header maps each tensor name to
//   {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}
// with offsets relative to the data section, plus an optional "__metadata__" string->string map.
//
// Reader policy: the constructor checks every header entry against the file before anything is
// loaded, so a bad file fails at open time with a message naming the file and the tensor, never
// later with a crash. It is as strict as the reference implementation except that gaps between
// tensors and trailing bytes after the last tensor are tolerated (they cannot corrupt a load);
// overlapping tensors are rejected.

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "litestage/io/mapped_file.hpp"

namespace litestage::io {

// Every element type a safetensors header can name, spelled as in the header. All of them are
// accepted when a file is opened; load() supports those with an at::ScalarType in both LibTorch
// 1.13 and 2.x (see to_scalar_type), and names the dtype when asked for another one.
enum class DType {
  BOOL, U8, I8, U16, I16, U32, I32, U64, I64,
  F16, BF16, F32, F64, C64,
  F8_E4M3, F8_E5M2, F8_E8M0, F6_E2M3, F6_E3M2, F4,
};

// "F32" -> DType::F32; nullopt for a string that is not a safetensors dtype.
std::optional<DType> parse_dtype(std::string_view name);
// DType::F32 -> "F32".
const char* dtype_name(DType dtype);
// Bits per element: 8 * bytes, or 4 / 6 for the packed sub-byte float formats.
std::size_t dtype_bits(DType dtype);
// The LibTorch type to load a DType as; nullopt when LiteStage cannot load it (U16/U32/U64 and the
// 8-, 6- and 4-bit floats, whose ScalarTypes are missing from LibTorch 1.13).
std::optional<at::ScalarType> to_scalar_type(DType dtype);
// The safetensors DType that stores an at::ScalarType; nullopt for types safetensors lacks.
std::optional<DType> from_scalar_type(at::ScalarType type);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // [] for a scalar
  std::uint64_t data_begin = 0;     // byte offsets relative to the start of the data section
  std::uint64_t data_end = 0;

  std::int64_t numel() const;
  std::uint64_t nbytes() const { return data_end - data_begin; }
};

// "[512, 64]" — used in every shape message so they all read alike.
std::string format_shape(const std::vector<std::int64_t>& shape);

class SafeTensorsFile {
 public:
  // Maps and validates `path`. Throws litestage::Error naming the file (and the tensor where one
  // is at fault) for any malformed input: truncation, bad header length, bad JSON, missing or
  // ill-typed fields, unknown dtype, negative dims, offsets out of order / out of range /
  // overlapping, byte size not matching shape * dtype, non-string metadata.
  explicit SafeTensorsFile(const std::filesystem::path& path);

  SafeTensorsFile(SafeTensorsFile&&) noexcept = default;
  SafeTensorsFile& operator=(SafeTensorsFile&&) noexcept = default;
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::filesystem::path& path() const { return file_.path(); }
  // All tensors in the order their bytes appear in the data section (ties by name).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when the file has no tensor of that name.
  const TensorInfo* find(const std::string& name) const;
  // The "__metadata__" map (empty when absent). HF writers put {"format": "pt"} here.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The raw mapping (whole file), e.g. for hashing.
  const MappedFile& mapping() const { return file_; }

  // Reads tensor `name` from the mapping and converts it to `dtype` on `device`. The result owns
  // its memory (never a view of the mapping), so it outlives this object. Throws naming the file
  // and tensor when the tensor is absent or its dtype cannot be loaded.
  at::Tensor load(const std::string& name, at::ScalarType dtype,
                  at::Device device = at::Device(at::kCPU)) const;
  at::Tensor load(const TensorInfo& info, at::ScalarType dtype,
                  at::Device device = at::Device(at::kCPU)) const;

 private:
  MappedFile file_;
  std::uint64_t data_offset_ = 0;  // 8 + header length: where the data section starts
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any device, any layout; stored as contiguous little-endian bytes) to `path` as
// safetensors, atomically (temporary file + rename). Tensors are laid out by decreasing element
// size, keeping the given order among equals, so every tensor is aligned to its element size as in
// the reference writer; the header is space-padded to a multiple of 8. Throws litestage::Error on
// an empty, duplicate or reserved ("__metadata__") name, an undefined tensor, a dtype safetensors
// cannot store, or an I/O failure.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace litestage::io
