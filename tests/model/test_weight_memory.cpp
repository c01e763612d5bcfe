#include <catch2/catch.hpp>

#include <cstdint>
#include <set>

#include "litestage/model/weight_memory.hpp"
#include "model_fixtures.hpp"
#include "support.hpp"

// Weights of a huge page or more live in 2 MB-aligned memory marked for transparent huge pages,
// and behave as any tensor: read, written, saved and loaded, trained.

using namespace litestage;
using namespace litestage::test;

namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

bool huge_aligned(const torch::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % kHugePage == 0; }

}  // namespace

TEST_CASE("empty_weight: 2 MB-aligned from one huge page up, every byte writable, plain below",
          "[model][weight_memory]") {
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const auto opts = torch::TensorOptions().dtype(dtype);
    for (int64_t rows : {1, 511, 512, 3001}) {
      INFO(c10::toString(dtype) << " rows " << rows);
      auto w = empty_weight({rows, 2048}, opts);
      CHECK(w.sizes() == torch::IntArrayRef({rows, 2048}));
      CHECK(w.scalar_type() == dtype);
      CHECK(w.is_contiguous());
      const int64_t bytes = w.numel() * w.element_size();
      CHECK(weight_gets_huge_pages(bytes, opts) == (bytes >= int64_t{2} << 20));
      if (weight_gets_huge_pages(bytes, opts)) CHECK(huge_aligned(w));
      w.fill_(2);  // the last page too
      CHECK(w.to(torch::kDouble).sum().item<double>() == 2.0 * static_cast<double>(w.numel()));
    }
  }
  CHECK_FALSE(weight_gets_huge_pages(int64_t{1} << 30, torch::TensorOptions().device(torch::kMeta)));
}

TEST_CASE("huge-page weights: fused projections aligned, a checkpoint round trip and a training step work",
          "[model][weight_memory]") {
  auto m = random_model(wide_qwen2_config(), 5);  // gate_up 2048 x 512 f32: 4 MB
  const auto& mlp = *m->model->blocks[0]->mlp;
  REQUIRE(mlp.gate_up_weight().tensor().numel() * 4 >= int64_t{2} << 20);
  CHECK(huge_aligned(mlp.gate_up_weight().tensor()));
  CHECK(huge_aligned(mlp.gate_proj->weight));  // the HF-named block views the aligned storage
  CHECK(mlp.gate_up_weight().intact({&mlp.gate_proj->weight, &mlp.up_proj->weight}));

  const auto ids = torch::tensor(std::vector<int64_t>{3, 9, 27, 17, 51}).view({1, -1});
  auto dir = temp_dir("weight-memory");
  save_causal_lm(m, dir);
  auto loaded = load_causal_lm(dir);
  {
    torch::NoGradGuard ng;
    CHECK(torch::equal(loaded->forward(ids), m->forward(ids)));
  }

  const auto before = mlp.gate_proj->weight.clone();
  torch::optim::SGD sgd(m->parameters(), torch::optim::SGDOptions(0.1));
  m->forward(ids).logsumexp(-1).sum().backward();
  REQUIRE(mlp.gate_proj->weight.grad().defined());
  sgd.step();
  CHECK_FALSE(torch::equal(mlp.gate_proj->weight, before));
  CHECK(mlp.gate_up_weight().intact({&mlp.gate_proj->weight, &mlp.up_proj->weight}));  // updated in place
}

TEST_CASE("transparent_huge_page_mode and process_huge_page_bytes read the kernel's answers",
          "[model][weight_memory]") {
  const std::set<std::string> known = {"always", "madvise", "never", "unavailable"};
  CHECK(known.count(transparent_huge_page_mode()) == 1);
#ifdef __linux__
  if (std::filesystem::exists("/proc/self/smaps_rollup")) CHECK(process_huge_page_bytes() >= 0);
#endif
}
