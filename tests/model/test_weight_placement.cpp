#include <catch2/catch.hpp>

#include <cstdint>

#include <torch/torch.h>

#include "litestage/model/causal_lm.hpp"
#include "litestage/kernels/weight_memory.hpp"
#include "model_fixtures.hpp"
#include "support.hpp"

// A model's weights of a huge page or more (kernels/weight_memory.hpp) behave as any tensor:
// fused projections stay aligned views, saved and loaded, trained in place.

using namespace litestage;
using namespace litestage::test;

TEST_CASE("huge-page weights: fused projections aligned, a checkpoint round trip and a training step work",
          "[model][weight_memory]") {
  const auto huge_aligned = [](const torch::Tensor& t) {  // on a 2 MB boundary
    return reinterpret_cast<uintptr_t>(t.data_ptr()) % (uintptr_t{2} << 20) == 0;
  };
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
