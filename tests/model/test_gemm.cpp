#include <catch2/catch.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "litestage/model/gemm.hpp"
#include "litestage/model/matvec.hpp"

using namespace litestage;

TEST_CASE("gemm: every instruction set this CPU has, ragged shapes, bias or not, 1 and 2 threads", "[model][gemm]") {
  torch::NoGradGuard ng;
  const int saved = at::get_num_threads();
  const VectorIsa saved_isa = vector_isa();
  // M around the 6-row tiles, K around the 16 x 16 transposes, N around the 16- and 32-column panels;
  // the last shape is large enough to split over the threads.
  const std::vector<std::array<int64_t, 3>> shapes{{1, 1, 1},   {5, 3, 15},   {6, 16, 16},   {7, 17, 17},
                                                   {13, 40, 33}, {12, 32, 64}, {20, 130, 70}, {128, 144, 200}};
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (auto [M, K, N] : shapes)
      for (bool with_bias : {false, true})
        for (int threads : {1, 2}) {
          at::set_num_threads(threads);
          INFO(vector_isa_name(isa) << " M " << M << " K " << K << " N " << N << " bias " << with_bias << ", "
                                    << threads << " threads");
          auto x = torch::randn({M, K}), w = torch::randn({N, K});
          auto b = with_bias ? torch::randn({N}) : torch::Tensor();
          auto y = torch::full({M, N}, std::nanf(""));
          gemm(x.data_ptr<float>(), M, w, b, y.data_ptr<float>());
          auto want = torch::mm(x.to(torch::kDouble), w.to(torch::kDouble).t());
          if (with_bias) want = want + b.to(torch::kDouble);
          const double scale = want.abs().max().item<double>() + 1e-12;
          CHECK(((y.to(torch::kDouble) - want).abs().max() / scale).item<double>() < 1e-5);
        }
  }
  set_vector_isa(saved_isa);
  at::set_num_threads(saved);
}

TEST_CASE("gemm_nn: weights stored (K, N), every instruction set, ragged shapes", "[model][gemm]") {
  const VectorIsa saved_isa = vector_isa();
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 33, 16}, {256, 129, 16}, {13, 20, 45}}) {
      INFO(vector_isa_name(isa) << " M " << M << " K " << K << " N " << N);
      auto x = torch::randn({M, K}), w = torch::randn({K, N});
      auto y = torch::full({M, N}, std::nanf(""));
      gemm_nn(x.data_ptr<float>(), M, K, w.data_ptr<float>(), N, y.data_ptr<float>());
      auto want = torch::mm(x.to(torch::kDouble), w.to(torch::kDouble));
      CHECK(((y.to(torch::kDouble) - want).abs().max() / want.abs().max()).item<double>() < 1e-5);
    }
  }
  set_vector_isa(saved_isa);
}

TEST_CASE("gemm: refuses weights it cannot multiply", "[model][gemm]") {
  torch::NoGradGuard ng;
  std::vector<float> x(4), y(4);
  CHECK_THROWS_WITH(gemm(x.data(), 1, torch::zeros({2, 2}, torch::kBFloat16), {}, y.data()),
                    Catch::Contains("contiguous f32 CPU matrix"));
  CHECK_THROWS_WITH(gemm(x.data(), 1, torch::zeros({2, 4}).t(), {}, y.data()), Catch::Contains("contiguous f32"));
  CHECK_THROWS_WITH(gemm(x.data(), 1, torch::zeros({2, 2}), torch::zeros({3}), y.data()),
                    Catch::Contains("one value per weight row"));
}
