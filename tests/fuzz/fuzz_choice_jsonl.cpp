// The OBQA / CSQA reader (JSON Lines of question stem, labelled choices and answerKey), read
// strictly and with skip_malformed. Built once per dataset (LITESTAGE_FUZZ_DATASET), each with
// its own corpus.

#include "fuzz_input.hpp"
#include "litestage/data/readers.hpp"

#ifndef LITESTAGE_FUZZ_DATASET
#error "LITESTAGE_FUZZ_DATASET must name the dataset (obqa or csqa)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto path = write_file("questions.jsonl", {reinterpret_cast<const char*>(data), size});
  for (bool skip : {false, true}) {
    expect_clear_error([&] {
      litestage::ReadOptions options;
      options.skip_malformed = skip;
      (void)litestage::read_choice_jsonl(path.string(), LITESTAGE_FUZZ_DATASET, options);
    });
  }
  return 0;
}
