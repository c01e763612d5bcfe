#include "litestage/io/safetensors.hpp"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/ne.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <system_error>

#include "litestage/util/error.hpp"

namespace litestage::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; loading copies bytes as they are");

namespace {

using json = nlohmann::json;

struct DTypeEntry {
  DType dtype;
  const char* name;
  std::size_t bits;
};

// Names and widths from the reference implementation (safetensors/src/tensor.rs).
constexpr std::array<DTypeEntry, 20> kDTypes{{
    {DType::BOOL, "BOOL", 8},       {DType::U8, "U8", 8},
    {DType::I8, "I8", 8},           {DType::U16, "U16", 16},
    {DType::I16, "I16", 16},        {DType::U32, "U32", 32},
    {DType::I32, "I32", 32},        {DType::U64, "U64", 64},
    {DType::I64, "I64", 64},        {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},      {DType::F32, "F32", 32},
    {DType::F64, "F64", 64},        {DType::C64, "C64", 64},
    {DType::F8_E4M3, "F8_E4M3", 8}, {DType::F8_E5M2, "F8_E5M2", 8},
    {DType::F8_E8M0, "F8_E8M0", 8}, {DType::F6_E2M3, "F6_E2M3", 6},
    {DType::F6_E3M2, "F6_E3M2", 6}, {DType::F4, "F4", 4},
}};

const DTypeEntry& entry_of(DType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e;
  throw_error("internal: DType ", static_cast<int>(dtype), " has no table entry");
}

// Header bytes are untrusted: keep error messages printable ASCII whatever the file holds.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(std::min<std::size_t>(s.size(), 200));
  for (char c : s) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F) ? c : '?';
  }
  return out;
}

const char* json_kind(const json& j) {
  return j.type_name();  // "object", "array", "string", "number", "boolean", "null"
}

// The header nests at most three levels (root -> entry -> shape); anything much deeper is
// garbage, and refusing it early bounds the parser's work on hostile input.
constexpr int kMaxHeaderDepth = 8;
// Same cap as the reference implementation: a larger header is not a real checkpoint.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct TooDeep {};

std::string supported_load_dtypes() {
  std::string out;
  for (const auto& e : kDTypes) {
    if (!to_scalar_type(e.dtype)) continue;
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

}  // namespace

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

const char* dtype_name(DType dtype) { return entry_of(dtype).name; }

std::size_t dtype_bits(DType dtype) { return entry_of(dtype).bits; }

std::optional<at::ScalarType> to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::BOOL: return at::kBool;
    case DType::U8: return at::kByte;
    case DType::I8: return at::kChar;
    case DType::I16: return at::kShort;
    case DType::I32: return at::kInt;
    case DType::I64: return at::kLong;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::F32: return at::kFloat;
    case DType::F64: return at::kDouble;
    case DType::C64: return at::kComplexFloat;
    default: return std::nullopt;  // no ScalarType in LibTorch 1.13
  }
}

std::optional<DType> from_scalar_type(at::ScalarType type) {
  switch (type) {
    case at::kBool: return DType::BOOL;
    case at::kByte: return DType::U8;
    case at::kChar: return DType::I8;
    case at::kShort: return DType::I16;
    case at::kInt: return DType::I32;
    case at::kLong: return DType::I64;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kFloat: return DType::F32;
    case at::kDouble: return DType::F64;
    case at::kComplexFloat: return DType::C64;
    default: return std::nullopt;
  }
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;  // validated at open: no overflow, no negative dims
  return n;
}

std::string format_shape(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// Reader

namespace {

// The 8-byte header length and the JSON header after it; sets data_offset to where data begins.
json read_header(const MappedFile& file, const std::string& where, std::uint64_t& data_offset) {
  const std::uint64_t size = file.size();
  if (size < 8)
    throw_error(where, "truncated: ", size,
                " bytes, shorter than the 8-byte header length that starts the format");
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian u64
  if (header_len > size - 8)
    throw_error(where, "header length ", header_len, " is larger than the ", size - 8,
                " bytes that follow it (truncated file, or not a safetensors file)");
  if (header_len > kMaxHeaderBytes)
    throw_error(where, "header length ", header_len, " exceeds the ", kMaxHeaderBytes,
                "-byte limit (not a safetensors file)");
  data_offset = 8 + header_len;

  // nlohmann validates UTF-8 inside strings and rejects stray bytes outside them.
  json header;
  try {
    const auto* begin = reinterpret_cast<const char*>(file.data()) + 8;
    json::parser_callback_t limit_depth = [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxHeaderDepth) throw TooDeep{};
      return true;
    };
    header = json::parse(begin, begin + header_len, limit_depth);
  } catch (const json::exception& e) {
    throw_error(where, "header is not valid JSON (", printable(e.what()), ")");
  } catch (const TooDeep&) {
    throw_error(where, "header is not valid: JSON nested deeper than ", kMaxHeaderDepth,
                " levels");
  }
  if (!header.is_object())
    throw_error(where, "header is not a JSON object (it is ", json_kind(header), ")");
  return header;
}

void read_metadata(const json& value, const std::string& where, std::map<std::string, std::string>& out) {
  if (value.is_null()) return;
  if (!value.is_object())
    throw_error(where, "__metadata__ must be an object of strings, got ", json_kind(value));
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string())
      throw_error(where, "__metadata__ must map strings to strings, but '", key, "' is a ", json_kind(item));
    out[key] = item.get<std::string>();
  }
}

DType read_dtype(const json& entry, const std::string& at_tensor) {
  const auto it = entry.find("dtype");
  if (it == entry.end()) throw_error(at_tensor, "missing \"dtype\"");
  if (!it->is_string()) throw_error(at_tensor, "\"dtype\" must be a string, got ", json_kind(*it));
  const auto& name = it->get_ref<const std::string&>();
  const auto dtype = parse_dtype(name);
  if (!dtype) throw_error(at_tensor, "unknown dtype '", printable(name), "'");
  return *dtype;
}

// Non-negative integers whose product fits in int64; returns that product.
std::int64_t read_shape(const json& entry, const std::string& at_tensor, std::vector<std::int64_t>& shape) {
  const auto it = entry.find("shape");
  if (it == entry.end()) throw_error(at_tensor, "missing \"shape\"");
  if (!it->is_array()) throw_error(at_tensor, "\"shape\" must be an array of integers, got ", json_kind(*it));
  std::int64_t numel = 1;
  for (const auto& dim : *it) {
    if (dim.is_number_integer() && !dim.is_number_unsigned())
      throw_error(at_tensor, "negative dimension ", dim.get<std::int64_t>(), " in shape ", printable(it->dump()));
    if (!dim.is_number_unsigned())
      throw_error(at_tensor, "shape ", printable(it->dump()), " must hold non-negative integers");
    const auto d = dim.get<std::uint64_t>();
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        __builtin_mul_overflow(numel, static_cast<std::int64_t>(d), &numel))
      throw_error(at_tensor, "shape ", it->dump(), " has more elements than fit in 64 bits");
    shape.push_back(static_cast<std::int64_t>(d));
  }
  return numel;
}

// [begin, end] within the data section of `data_size` bytes.
void read_offsets(const json& entry, const std::string& at_tensor, std::uint64_t data_size, TensorInfo& info) {
  const auto it = entry.find("data_offsets");
  if (it == entry.end()) throw_error(at_tensor, "missing \"data_offsets\"");
  const json& offsets = *it;
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    throw_error(at_tensor, "\"data_offsets\" must be [begin, end] with non-negative integers, got ",
                printable(offsets.dump()));
  info.data_begin = offsets[0].get<std::uint64_t>();
  info.data_end = offsets[1].get<std::uint64_t>();
  if (info.data_begin > info.data_end)
    throw_error(at_tensor, "data_offsets [", info.data_begin, ", ", info.data_end, "] begin after they end");
  if (info.data_end > data_size)
    throw_error(at_tensor, "data_offsets [", info.data_begin, ", ", info.data_end, "] run past the end of the ",
                data_size, "-byte data section (truncated file or out-of-range offsets)");
}

TensorInfo read_tensor(const std::string& name, const json& entry, const std::string& where, std::uint64_t data_size) {
  const std::string at_tensor = where + "tensor '" + name + "': ";
  if (!entry.is_object())
    throw_error(at_tensor, "entry must be an object with dtype, shape and data_offsets, got ", json_kind(entry));
  TensorInfo info;
  info.name = name;
  info.dtype = read_dtype(entry, at_tensor);
  const std::int64_t numel = read_shape(entry, at_tensor, info.shape);
  read_offsets(entry, at_tensor, data_size, info);
  // byte size == numel * element size (sub-byte types must fill whole bytes)
  std::uint64_t bits = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(numel), static_cast<std::uint64_t>(dtype_bits(info.dtype)),
                             &bits) ||
      bits % 8 != 0 || bits / 8 != info.nbytes()) {
    throw_error(at_tensor, "data_offsets [", info.data_begin, ", ", info.data_end, "] hold ", info.nbytes(),
                " bytes, but shape ", format_shape(info.shape), " of ", dtype_name(info.dtype), " needs ",
                bits % 8 == 0 ? std::to_string(bits / 8) : std::to_string(bits) + " bits");
  }
  return info;
}

// Sorts into data order; then any tensor starting before the previous one ended overlaps it.
void sort_and_check_overlap(std::vector<TensorInfo>& tensors, const std::string& where) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.data_begin, a.data_end, a.name) < std::tie(b.data_begin, b.data_end, b.name);
  });
  const TensorInfo* previous = nullptr;  // last non-empty tensor
  for (const auto& t : tensors) {
    if (t.nbytes() == 0) continue;  // an empty range overlaps nothing
    if (previous != nullptr && t.data_begin < previous->data_end)
      throw_error(where, "tensors '", previous->name, "' [", previous->data_begin, ", ", previous->data_end,
                  ") and '", t.name, "' [", t.data_begin, ", ", t.data_end, ") overlap in the data section");
    previous = &t;
  }
}

}  // namespace

SafeTensorsFile::SafeTensorsFile(const std::filesystem::path& path) : file_(path) {
  const std::string where = "safetensors file " + path.string() + ": ";
  const json header = read_header(file_, where, data_offset_);
  const std::uint64_t data_size = file_.size() - data_offset_;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__")
      read_metadata(value, where, metadata_);
    else
      tensors_.push_back(read_tensor(key, value, where, data_size));
  }
  sort_and_check_overlap(tensors_, where);
  for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

const TensorInfo* SafeTensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor SafeTensorsFile::load(const std::string& name, at::ScalarType dtype,
                                 at::Device device) const {
  const TensorInfo* info = find(name);
  if (info == nullptr)
    throw_error("safetensors file ", path().string(), ": no tensor named '", name, "'");
  return load(*info, dtype, device);
}

at::Tensor SafeTensorsFile::load(const TensorInfo& info, at::ScalarType dtype,
                                 at::Device device) const {
  const auto stored = to_scalar_type(info.dtype);
  if (!stored)
    throw_error("safetensors file ", path().string(), ": tensor '", info.name, "' has dtype ",
                dtype_name(info.dtype), ", which LiteStage cannot load (it loads ",
                supported_load_dtypes(), ")");
  const auto target = at::TensorOptions().dtype(dtype).device(device);
  if (info.nbytes() == 0) return at::empty(info.shape, target);

  // BOOL bytes other than 0/1 would be invalid at::kBool values: read them as bytes, then test.
  const at::ScalarType read_as = info.dtype == DType::BOOL ? at::kByte : *stored;
  const std::uint8_t* bytes = file_.data() + data_offset_ + info.data_begin;
  const std::size_t element = dtype_bits(info.dtype) / 8;

  at::Tensor source;
  bool owned = false;
  if (reinterpret_cast<std::uintptr_t>(bytes) % element == 0) {
    // Aligned: view the mapping; the .to(copy=true) below makes the result independent of it.
    source = at::from_blob(const_cast<std::uint8_t*>(bytes), info.shape,
                           at::TensorOptions().dtype(read_as));
  } else {
    // Unaligned (a header length not a multiple of 8, or a writer that packs tensors): typed
    // loads from the mapping would be misaligned, so copy the bytes out first.
    source = at::empty(info.shape, at::TensorOptions().dtype(read_as));
    std::memcpy(source.data_ptr(), bytes, info.nbytes());
    owned = true;
  }
  if (info.dtype == DType::BOOL) {
    source = at::ne(source, 0);  // a fresh kBool tensor
    owned = true;
  }
  return source.to(device, dtype, /*non_blocking=*/false, /*copy=*/!owned);
}

// ---------------------------------------------------------------------------------------------
// Writer

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string where = "writing safetensors file " + path.string() + ": ";

  std::set<std::string> seen;
  std::vector<DType> dtypes;
  dtypes.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) throw_error(where, "a tensor has an empty name");
    if (name == "__metadata__") throw_error(where, "'__metadata__' is reserved, not a tensor name");
    if (!seen.insert(name).second) throw_error(where, "duplicate tensor name '", name, "'");
    if (!tensor.defined()) throw_error(where, "tensor '", name, "' is undefined");
    const auto dtype = from_scalar_type(tensor.scalar_type());
    if (!dtype)
      throw_error(where, "tensor '", name, "' has dtype ", at::toString(tensor.scalar_type()),
                  ", which safetensors cannot store");
    dtypes.push_back(*dtype);
  }

  // Largest elements first (stable), so each tensor's offset is a multiple of its element size.
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_bits(dtypes[a]) > dtype_bits(dtypes[b]);
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (std::size_t i : order) {
    const auto& [name, tensor] = tensors[i];
    const std::uint64_t nbytes = static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size();
    header[name] = {{"dtype", dtype_name(dtypes[i])},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw_error(where, "a tensor name or metadata string is not valid UTF-8 (", printable(e.what()),
                ")");
  }
  // Pad with spaces (still valid JSON) so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');

  // Write beside the target, then rename: readers never see half a file.
  auto tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw_error(where, "cannot create ", tmp.string());
    const std::uint64_t header_len = text.size();
    out.write(reinterpret_cast<const char*>(&header_len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (std::size_t i : order) {
      // One tensor at a time on the CPU, so saving a large GPU model needs little extra memory.
      const at::Tensor cpu = tensors[i].second.to(at::kCPU).contiguous();
      const auto nbytes = static_cast<std::streamsize>(cpu.numel() * cpu.element_size());
      if (nbytes > 0) out.write(static_cast<const char*>(cpu.data_ptr()), nbytes);
    }
    out.close();
    if (!out) throw_error(where, "write to ", tmp.string(), " failed (disk full?)");
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw_error(where, "cannot rename ", tmp.string(), " into place (", ec.message(), ")");
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace litestage::io
