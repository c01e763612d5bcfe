// The StrategyQA reader (one JSON array of qid, question, boolean answer, facts), read strictly
// and with skip_malformed.

#include "fuzz_input.hpp"
#include "litestage/data/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto path = write_file("strategyqa.json", {reinterpret_cast<const char*>(data), size});
  for (bool skip : {false, true}) {
    expect_clear_error([&] {
      litestage::ReadOptions options;
      options.skip_malformed = skip;
      (void)litestage::read_strategyqa_json(path.string(), options);
    });
  }
  return 0;
}
