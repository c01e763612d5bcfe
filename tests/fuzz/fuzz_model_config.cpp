// config.json -> ModelConfig (Llama / Qwen2 hyper-parameters, RoPE scaling, special ids); an
// accepted config is written back and must parse again to the same values.

#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "litestage/model/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto path = write_file("config.json", {reinterpret_cast<const char*>(data), size});
  expect_clear_error([&] {
    auto config = litestage::ModelConfig::from_file(path);
    auto again = litestage::ModelConfig::from_json(config.to_json(), "round trip");
    if (again.to_json() != config.to_json()) __builtin_trap();  // written config must read back the same
    (void)config.num_parameters();
  });
  return 0;
}
