// A training YAML (litestage train): model, data, optimiser, schedule, precision.

#include <string>

#include "fuzz_input.hpp"
#include "litestage/train/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  expect_clear_error([&] {
    (void)litestage::train_config_from_string(std::string(reinterpret_cast<const char*>(data), size));
  });
  return 0;
}
