#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "litestage/model/matvec.hpp"
#include "litestage/model/vector_math.hpp"

using namespace litestage;

TEST_CASE("softmax_prefix and silu_mul: every instruction set this CPU has, against double precision",
          "[model][vector_math]") {
  const VectorIsa saved_isa = vector_isa();
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (int64_t n : {1, 7, 16, 37, 130}) {
      INFO(vector_isa_name(isa) << " n " << n);
      auto x = (torch::randn({n}, torch::kDouble) * 8).to(torch::kFloat);  // exp over a wide range
      for (int64_t visible : {int64_t{1}, (n + 1) / 2, n}) {
        std::vector<float> row(x.data_ptr<float>(), x.data_ptr<float>() + n);
        softmax_prefix(row.data(), visible, n);
        auto want = torch::softmax(x.narrow(0, 0, visible).to(torch::kDouble), 0);
        for (int64_t i = 0; i < n; ++i) {
          const double expected = i < visible ? want[i].item<double>() : 0.0;
          CHECK(std::abs(row[i] - expected) <= 1e-6 + 1e-5 * expected);
        }
      }
      auto up = torch::randn({n});
      std::vector<float> out(n, std::nanf(""));
      silu_mul(x.data_ptr<float>(), up.data_ptr<float>(), out.data(), n);
      auto g = x.to(torch::kDouble), want = g * torch::sigmoid(g) * up.to(torch::kDouble);
      for (int64_t i = 0; i < n; ++i)
        CHECK(std::abs(out[i] - want[i].item<double>()) <= 1e-5 * (1 + std::abs(want[i].item<double>())));
    }
  }
  set_vector_isa(saved_isa);
}
