// Stage-record JSONL (or a JSON array): TinyThinker's recall / analyze / summarize training
// records, read strictly and with skip_malformed.

#include "fuzz_input.hpp"
#include "litestage/data/stage_records.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto path = write_file("records.jsonl", {reinterpret_cast<const char*>(data), size});
  for (bool skip : {false, true}) {
    expect_clear_error([&] {
      litestage::ReadOptions options;
      options.skip_malformed = skip;
      (void)litestage::read_stage_records(path.string(), options);
    });
  }
  return 0;
}
