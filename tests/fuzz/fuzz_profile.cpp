// A budget profile YAML (litestage profile / --profile). An accepted profile is saved and must
// load again to the same profile.

#include "fuzz_input.hpp"
#include "litestage/search/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litestage::fuzz;
  auto path = write_file("profile.yaml", {reinterpret_cast<const char*>(data), size});
  expect_clear_error([&] {
    auto profile = litestage::load_profile(path);
    (void)litestage::profile_text(profile);
    auto copy = scratch_dir() / "saved.yaml";
    litestage::save_profile(profile, copy);
    if (litestage::profile_text(litestage::load_profile(copy)) != litestage::profile_text(profile))
      __builtin_trap();  // a saved profile must load back the same
  });
  return 0;
}
