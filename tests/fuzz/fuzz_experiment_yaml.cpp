// An experiment YAML (litestage run / search / eval). An accepted spec is written back as YAML,
// which must load again to the same text. Runs in the source tree, where the seeds' relative
// paths (data/demo-model, data/synthetic/settings.json) exist.

#include <unistd.h>

#include "fuzz_input.hpp"
#include "litestage/experiment/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  static const int in_source_tree = chdir(LITESTAGE_SOURCE_DIR);
  if (in_source_tree != 0) __builtin_trap();
  auto path = write_file("experiment.yaml", {reinterpret_cast<const char*>(data), size});
  expect_clear_error([&] {
    auto spec = litestage::load_experiment(path.string());
    auto text = litestage::experiment_yaml(spec);
    auto again = litestage::load_experiment(write_file("effective.yaml", text).string());
    if (litestage::experiment_yaml(again) != text) __builtin_trap();  // effective YAML must round-trip
  });
  return 0;
}
