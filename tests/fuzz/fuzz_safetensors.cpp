// A .safetensors file: the 8-byte header length, the JSON header (dtypes, shapes, offsets,
// __metadata__) and the tensor table. Every tensor the table accepts is then loaded as f32.

#include "fuzz_input.hpp"
#include "litestage/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto path = write_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  expect_clear_error([&] {
    litestage::io::SafeTensorsFile file(path);
    for (const auto& info : file.tensors()) {
      expect_clear_error([&] { (void)file.load(info, at::kFloat); });
      (void)file.find(info.name);
    }
  });
  return 0;
}
