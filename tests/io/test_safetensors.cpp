// safetensors reader/writer: exact round trips, conversions on load, and one test per malformed
// input asserting the error names the file (and the tensor where one is at fault).

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "io_helpers.hpp"
#include "litestage/io/safetensors.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
namespace io = litestage::io;
using Catch::Contains;
using litestage::test::f32_bytes;
using litestage::test::read_bytes;
using litestage::test::temp_dir;
using litestage::test::write_bytes;
using litestage::test::write_raw;

namespace {

at::Tensor values(std::vector<float> v, at::IntArrayRef shape, at::ScalarType dtype) {
  return at::tensor(v, at::kFloat).reshape(shape).to(dtype);
}

// Bitwise equality (same dtype, shape and bytes): stricter than at::equal for -0.0.
bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

io::SafeTensorsFile open(const fs::path& p) { return io::SafeTensorsFile(p); }

// A one-tensor header for the malformed-input tests.
std::string header_with(const std::string& entry) { return "{\"w\":" + entry + "}"; }

}  // namespace

TEST_CASE("safetensors: F32, F16 and BF16 round trip exactly", "[io]") {
  const fs::path file = temp_dir("st-roundtrip") / "t.safetensors";
  // Values exactly representable in each type, including -0.0 and the F16 maximum.
  const at::Tensor f32 = values({0.f, 1.f, -2.5f, 0.15625f, 1e-7f, -0.f}, {2, 3}, at::kFloat);
  const at::Tensor f16 = values({65504.f, -1.f, 0.5f, 0.0009765625f}, {4}, at::kHalf);
  const at::Tensor bf16 =
      values({1.f, -2.f, 3.140625f, 256.f, -0.0078125f, 1e30f}, {3, 1, 2}, at::kBFloat16);
  io::write_safetensors(file, {{"a.f32", f32}, {"b.f16", f16}, {"c.bf16", bf16}});

  const io::SafeTensorsFile st(file);
  REQUIRE(st.tensors().size() == 3);
  REQUIRE(st.find("a.f32") != nullptr);
  CHECK(st.find("a.f32")->dtype == io::DType::F32);
  CHECK(st.find("a.f32")->shape == std::vector<int64_t>{2, 3});
  CHECK(st.find("b.f16")->dtype == io::DType::F16);
  CHECK(st.find("c.bf16")->dtype == io::DType::BF16);
  CHECK(st.find("c.bf16")->shape == std::vector<int64_t>{3, 1, 2});
  CHECK(st.find("nope") == nullptr);

  CHECK(same_bits(st.load("a.f32", at::kFloat), f32));
  CHECK(same_bits(st.load("b.f16", at::kHalf), f16));
  CHECK(same_bits(st.load("c.bf16", at::kBFloat16), bf16));

  // The header is space-padded so the data section starts 8-byte aligned.
  const std::string bytes = read_bytes(file);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  CHECK(header_len % 8 == 0);
  CHECK(bytes[8] == '{');
}

TEST_CASE("safetensors: every storable dtype round trips", "[io]") {
  const fs::path file = temp_dir("st-dtypes") / "t.safetensors";
  std::vector<std::pair<std::string, at::Tensor>> tensors{
      {"f64", at::tensor(std::vector<double>{1.0 / 3, -1e300}, at::kDouble)},
      {"i64", at::tensor(std::vector<int64_t>{INT64_MIN, 7}, at::kLong)},
      {"i32", at::tensor(std::vector<int32_t>{-5, 1 << 30}, at::kInt)},
      {"i16", at::tensor(std::vector<int32_t>{-300, 300}, at::kInt).to(at::kShort)},
      {"i8", at::tensor(std::vector<int32_t>{-128, 127}, at::kInt).to(at::kChar)},
      {"u8", at::tensor(std::vector<int32_t>{0, 255}, at::kInt).to(at::kByte)},
      {"bool", at::tensor(std::vector<int32_t>{0, 1, 1}, at::kInt).to(at::kBool)},
      {"c64", at::complex(at::tensor(std::vector<float>{1, 2}), at::tensor(std::vector<float>{-3, 4}))},
  };
  io::write_safetensors(file, tensors);
  const io::SafeTensorsFile st(file);
  for (const auto& [name, t] : tensors) {
    INFO(name);
    const io::TensorInfo* info = st.find(name);
    REQUIRE(info != nullptr);
    CHECK(io::to_scalar_type(info->dtype) == t.scalar_type());
    CHECK(io::from_scalar_type(t.scalar_type()) == info->dtype);
    CHECK(same_bits(st.load(name, t.scalar_type()), t));
  }
}

TEST_CASE("safetensors: dtype names and conversions", "[io]") {
  CHECK(io::parse_dtype("BF16") == io::DType::BF16);
  CHECK(io::parse_dtype("F8_E4M3") == io::DType::F8_E4M3);
  CHECK_FALSE(io::parse_dtype("f32").has_value());  // case matters, as in the format
  CHECK(std::string(io::dtype_name(io::DType::F8_E5M2)) == "F8_E5M2");
  CHECK(io::dtype_bits(io::DType::F4) == 4);
  CHECK(io::dtype_bits(io::DType::I64) == 64);
  CHECK(io::to_scalar_type(io::DType::F32) == at::kFloat);
  CHECK_FALSE(io::to_scalar_type(io::DType::F8_E4M3).has_value());
  CHECK_FALSE(io::to_scalar_type(io::DType::U16).has_value());
  CHECK_FALSE(io::from_scalar_type(at::kComplexDouble).has_value());
}

TEST_CASE("safetensors: metadata round trips", "[io]") {
  const fs::path dir = temp_dir("st-metadata");
  const std::map<std::string, std::string> metadata{
      {"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}, {"empty", ""}};
  io::write_safetensors(dir / "m.safetensors", {{"x", at::ones({2})}}, metadata);
  CHECK(io::SafeTensorsFile(dir / "m.safetensors").metadata() == metadata);

  // No metadata: no "__metadata__" key at all, and an empty map back.
  io::write_safetensors(dir / "n.safetensors", {{"x", at::ones({2})}});
  CHECK(read_bytes(dir / "n.safetensors").find("__metadata__") == std::string::npos);
  CHECK(io::SafeTensorsFile(dir / "n.safetensors").metadata().empty());

  // A file with only metadata and no tensors is valid.
  io::write_safetensors(dir / "o.safetensors", {}, {{"k", "v"}});
  const io::SafeTensorsFile only(dir / "o.safetensors");
  CHECK(only.tensors().empty());
  CHECK(only.metadata().at("k") == "v");
}

TEST_CASE("safetensors: load converts dtype and returns an owning tensor", "[io]") {
  const fs::path file = temp_dir("st-convert") / "t.safetensors";
  const at::Tensor f16 = values({1.5f, -2.f, 0.25f, 1024.f}, {2, 2}, at::kHalf);
  const at::Tensor f32 = values({1.f / 3, 2.f, -7.f}, {3}, at::kFloat);
  io::write_safetensors(file, {{"h", f16}, {"f", f32}});

  at::Tensor up, down;
  {
    const io::SafeTensorsFile st(file);
    up = st.load("h", at::kFloat);
    down = st.load("f", at::kBFloat16);
    // Not a view of the mapping.
    const auto* begin = st.mapping().data();
    const auto* p = static_cast<const std::uint8_t*>(up.data_ptr());
    CHECK((p < begin || p >= begin + st.mapping().size()));
  }  // file unmapped here; the tensors must stay valid
  CHECK(up.scalar_type() == at::kFloat);
  CHECK(at::equal(up, f16.to(at::kFloat)));
  CHECK(down.scalar_type() == at::kBFloat16);
  CHECK(at::equal(down, f32.to(at::kBFloat16)));
  CHECK(up.device().is_cpu());
}

TEST_CASE("safetensors: writer aligns every tensor to its element size", "[io]") {
  const fs::path file = temp_dir("st-align") / "t.safetensors";
  io::write_safetensors(file, {{"u8", at::ones({5}, at::kByte)},
                               {"f16", at::ones({3}, at::kHalf)},
                               {"f32", at::ones({2}, at::kFloat)},
                               {"i64", at::ones({1}, at::kLong)}});
  const io::SafeTensorsFile st(file);
  std::vector<std::string> order;
  for (const auto& t : st.tensors()) {
    order.push_back(t.name);
    CHECK(t.data_begin % (io::dtype_bits(t.dtype) / 8) == 0);
  }
  CHECK(order == std::vector<std::string>{"i64", "f32", "f16", "u8"});
}

TEST_CASE("safetensors: scalars and empty tensors", "[io]") {
  const fs::path file = temp_dir("st-empty") / "t.safetensors";
  io::write_safetensors(file, {{"scalar", at::scalar_tensor(2.5)},
                               {"empty", at::zeros({0, 4})},
                               {"after", at::ones({2})}});
  const io::SafeTensorsFile st(file);
  CHECK(st.find("scalar")->shape.empty());
  const at::Tensor s = st.load("scalar", at::kFloat);
  CHECK(s.dim() == 0);
  CHECK(s.item<float>() == 2.5f);
  const at::Tensor e = st.load("empty", at::kHalf);
  CHECK(e.sizes() == at::IntArrayRef({0, 4}));
  CHECK(e.scalar_type() == at::kHalf);
  CHECK(at::equal(st.load("after", at::kFloat), at::ones({2})));
}

TEST_CASE("safetensors: unaligned data and non-0/1 BOOL bytes load correctly", "[io]") {
  const fs::path file = temp_dir("st-unaligned") / "t.safetensors";
  // Header of odd length: the data section (and the F32 tensor) starts at an odd address.
  std::string header =
      R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
      R"("b":{"dtype":"BOOL","shape":[3],"data_offsets":[12,15]}})";
  if (header.size() % 2 == 0) header += " ";
  write_raw(file, header, f32_bytes({1.5f, -2.f, 3.25f}) + std::string("\x00\x02\x01", 3));
  const io::SafeTensorsFile st(file);
  CHECK(at::equal(st.load("x", at::kFloat), at::tensor(std::vector<float>{1.5f, -2.f, 3.25f})));
  const at::Tensor b = st.load("b", at::kBool);
  CHECK(b.scalar_type() == at::kBool);
  CHECK(at::equal(b, at::tensor(std::vector<int32_t>{0, 1, 1}).to(at::kBool)));
}

TEST_CASE("safetensors: writer rejects bad input and writes atomically", "[io]") {
  const fs::path dir = temp_dir("st-writer");
  const fs::path file = dir / "w.safetensors";
  CHECK_THROWS_WITH(io::write_safetensors(file, {{"a", at::ones({1})}, {"a", at::ones({1})}}),
                    Contains(file.string()) && Contains("duplicate tensor name 'a'"));
  CHECK_THROWS_WITH(io::write_safetensors(file, {{"__metadata__", at::ones({1})}}),
                    Contains("reserved"));
  CHECK_THROWS_WITH(io::write_safetensors(file, {{"", at::ones({1})}}), Contains("empty name"));
  CHECK_THROWS_WITH(io::write_safetensors(file, {{"u", at::Tensor()}}),
                    Contains("tensor 'u' is undefined"));
  CHECK_THROWS_WITH(io::write_safetensors(file, {{"z", at::ones({1}, at::kComplexDouble)}}),
                    Contains("tensor 'z'") && Contains("cannot store"));
  CHECK_FALSE(fs::exists(file));

  // Non-contiguous input is stored in logical order; overwriting replaces the file; no temp
  // files are left behind.
  const at::Tensor t = at::arange(6, at::kFloat).reshape({2, 3}).t();  // (3, 2), strided
  io::write_safetensors(file, {{"t", at::ones({1})}});
  io::write_safetensors(file, {{"t", t}});
  CHECK(at::equal(io::SafeTensorsFile(file).load("t", at::kFloat), t));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
}

TEST_CASE("safetensors: loading an absent tensor or an unsupported dtype names it", "[io]") {
  const fs::path file = temp_dir("st-unsupported") / "t.safetensors";
  // F8_E4M3 is a known dtype: the file opens, only loading that tensor fails.
  write_raw(file, header_with(R"({"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]})"), "ab");
  const io::SafeTensorsFile st(file);
  CHECK(st.find("w")->dtype == io::DType::F8_E4M3);
  CHECK_THROWS_WITH(st.load("w", at::kFloat), Contains(file.string()) && Contains("tensor 'w'") &&
                                                  Contains("dtype F8_E4M3") &&
                                                  Contains("cannot load"));
  CHECK_THROWS_WITH(st.load("v", at::kFloat),
                    Contains(file.string()) && Contains("no tensor named 'v'"));
}

// ------------------------------------------------------------------------------------------------
// Malformed files, crafted byte by byte. Each message must name the file and, where one is at
// fault, the tensor.

TEST_CASE("safetensors error: file shorter than 8 bytes", "[io]") {
  const fs::path file = temp_dir("bad-short") / "t.safetensors";
  write_bytes(file, "abc");
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("truncated: 3 bytes"));
  write_bytes(file, "");
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("truncated: 0 bytes"));
}

TEST_CASE("safetensors error: missing file or a directory", "[io]") {
  const fs::path dir = temp_dir("bad-missing");
  CHECK_THROWS_WITH(open(dir / "none.safetensors"),
                    Contains((dir / "none.safetensors").string()) && Contains("cannot open"));
  CHECK_THROWS_WITH(open(dir), Contains("not a regular file"));
}

TEST_CASE("safetensors error: header length larger than the file", "[io]") {
  const fs::path file = temp_dir("bad-header-len") / "t.safetensors";
  write_raw(file, "{}", "", 1000);
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("header length 1000") &&
                                    Contains("larger than the 2 bytes"));
  // Huge lengths must not overflow into a "valid" range.
  for (std::uint64_t huge : {std::uint64_t{1} << 63, ~std::uint64_t{0}, ~std::uint64_t{0} - 7}) {
    write_raw(file, "{}", "", huge);
    CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("header length"));
  }
}

TEST_CASE("safetensors error: malformed JSON header", "[io]") {
  const fs::path file = temp_dir("bad-json") / "t.safetensors";
  for (const std::string& header : {std::string("{\"w\": {"), std::string("not json"),
                                   std::string(""), std::string("{\"a\xff\": 1}"),
                                   std::string("{\"w\":{}} trailing")}) {
    INFO(header);
    write_raw(file, header);
    CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("header is not valid JSON"));
  }
  write_raw(file, "[1, 2]");
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("not a JSON object"));
  write_raw(file, std::string(100, '[') + std::string(100, ']'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("nested deeper"));
}

TEST_CASE("safetensors error: entry missing a field or with wrong types", "[io]") {
  const fs::path file = temp_dir("bad-fields") / "t.safetensors";
  const std::string data(8, '\0');
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"shape":[2],"data_offsets":[0,8]})", "missing \"dtype\""},
      {R"({"dtype":"F32","data_offsets":[0,8]})", "missing \"shape\""},
      {R"({"dtype":"F32","shape":[2]})", "missing \"data_offsets\""},
      {R"({"dtype":32,"shape":[2],"data_offsets":[0,8]})", "\"dtype\" must be a string"},
      {R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})", "\"shape\" must be an array"},
      {R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})", "non-negative integers"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0]})", "\"data_offsets\" must be [begin, end]"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0,8.5]})", "\"data_offsets\" must be"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})", "\"data_offsets\" must be"},
      {R"([1,2])", "entry must be an object"},
  };
  for (const auto& [entry, message] : cases) {
    INFO(entry);
    write_raw(file, header_with(entry), data);
    CHECK_THROWS_WITH(open(file),
                      Contains(file.string()) && Contains("tensor 'w'") && Contains(message));
  }
}

TEST_CASE("safetensors error: unknown dtype", "[io]") {
  const fs::path file = temp_dir("bad-dtype") / "t.safetensors";
  write_raw(file, header_with(R"({"dtype":"F33","shape":[2],"data_offsets":[0,8]})"),
            std::string(8, '\0'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("tensor 'w'") &&
                                    Contains("unknown dtype 'F33'"));
}

TEST_CASE("safetensors error: negative or overflowing shape", "[io]") {
  const fs::path file = temp_dir("bad-shape") / "t.safetensors";
  write_raw(file, header_with(R"({"dtype":"F32","shape":[2,-2],"data_offsets":[0,0]})"));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("tensor 'w'") &&
                                    Contains("negative dimension -2"));
  write_raw(file, header_with(
                      R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]})"));
  CHECK_THROWS_WITH(open(file), Contains("tensor 'w'") && Contains("more elements than fit"));
  write_raw(file, header_with(
                      R"({"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]})"));
  CHECK_THROWS_WITH(open(file), Contains("tensor 'w'") && Contains("non-negative integers"));
}

TEST_CASE("safetensors error: data_offsets begin after end", "[io]") {
  const fs::path file = temp_dir("bad-order") / "t.safetensors";
  write_raw(file, header_with(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})"),
            std::string(8, '\0'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("tensor 'w'") &&
                                    Contains("[8, 4] begin after they end"));
}

TEST_CASE("safetensors error: truncated data section", "[io]") {
  const fs::path file = temp_dir("bad-truncated") / "t.safetensors";
  // The header promises 16 bytes, the file holds 12.
  write_raw(file, header_with(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"),
            std::string(12, '\0'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("tensor 'w'") &&
                                    Contains("run past the end of the 12-byte data section") &&
                                    Contains("truncated"));
}

TEST_CASE("safetensors error: out-of-range data offsets", "[io]") {
  const fs::path file = temp_dir("bad-range") / "t.safetensors";
  write_raw(file,
            header_with(
                R"({"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]})"),
            std::string(8, '\0'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("tensor 'w'") &&
                                    Contains("run past the end"));
}

TEST_CASE("safetensors error: byte size does not match shape and dtype", "[io]") {
  const fs::path file = temp_dir("bad-size") / "t.safetensors";
  write_raw(file, header_with(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,12]})"),
            std::string(16, '\0'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("tensor 'w'") &&
                                    Contains("hold 12 bytes, but shape [2, 2] of F32 needs 16"));
}

TEST_CASE("safetensors error: overlapping tensors", "[io]") {
  const fs::path file = temp_dir("bad-overlap") / "t.safetensors";
  write_raw(file,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, '\0'));
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("'a' [0, 8)") &&
                                    Contains("'b' [4, 12)") && Contains("overlap"));
  // Touching ranges and empty tensors at a boundary are fine.
  write_raw(file,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            std::string(12, '\0'));
  CHECK(open(file).tensors().size() == 3);
}

TEST_CASE("safetensors error: metadata that is not a string map", "[io]") {
  const fs::path file = temp_dir("bad-metadata") / "t.safetensors";
  write_raw(file, R"({"__metadata__":{"format":"pt","step":3}})");
  CHECK_THROWS_WITH(open(file), Contains(file.string()) &&
                                    Contains("__metadata__ must map strings to strings") &&
                                    Contains("'step'"));
  write_raw(file, R"({"__metadata__":["pt"]})");
  CHECK_THROWS_WITH(open(file), Contains(file.string()) && Contains("__metadata__ must be an object"));
}

// Random corruption of a valid file must only ever produce litestage::Error (or a good file),
// never a crash or another exception type.
TEST_CASE("safetensors: corrupted bytes never crash the reader", "[io]") {
  const fs::path dir = temp_dir("st-fuzz");
  io::write_safetensors(dir / "good.safetensors",
                        {{"a", at::randn({3, 4})},
                         {"b", at::ones({5}, at::kHalf)},
                         {"c", at::zeros({2}, at::kBool)}},
                        {{"format", "pt"}});
  const std::string good = read_bytes(dir / "good.safetensors");
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, good.data(), 8);

  std::mt19937 rng(1234);
  const fs::path file = dir / "bad.safetensors";
  int opened = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string bytes = good;
    switch (iter % 4) {
      case 0:  // flip a few bytes, mostly in the header where parsing decides everything
      case 1: {
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) {
          const std::size_t limit = iter % 4 == 0 ? 8 + header_len : bytes.size();
          bytes[rng() % limit] = static_cast<char>(rng() % 256);
        }
        break;
      }
      case 2:  // truncate
        bytes.resize(rng() % bytes.size());
        break;
      case 3: {  // digits in the header replaced by other digits (offsets and shapes change)
        for (std::size_t i = 8; i < 8 + header_len; ++i)
          if (std::isdigit(static_cast<unsigned char>(bytes[i])) && rng() % 3 == 0)
            bytes[i] = static_cast<char>('0' + rng() % 10);
        break;
      }
    }
    write_bytes(file, bytes);
    try {
      const io::SafeTensorsFile st(file);
      for (const auto& t : st.tensors()) (void)st.load(t, at::kFloat);
      ++opened;
    } catch (const litestage::Error&) {
      // expected for most corruptions
    } catch (const std::exception& e) {
      FAIL("iteration " << iter << ": unexpected exception type: " << e.what());
    }
  }
  CHECK(opened > 0);  // some corruptions (data bytes) leave a valid file
}
