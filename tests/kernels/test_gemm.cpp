#include <catch2/catch.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "litestage/kernels/gemm.hpp"
#include "litestage/kernels/matvec.hpp"

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
          // Float sums err by a few ulps of the sum of the terms' magnitudes, not of the result:
          // where x.w cancels b, the result is tiny and its own relative error unbounded.
          auto magnitude = torch::mm(x.abs().to(torch::kDouble), w.abs().to(torch::kDouble).t());
          if (with_bias) {
            want = want + b.to(torch::kDouble);
            magnitude = magnitude + b.abs().to(torch::kDouble);
          }
          const double scale = magnitude.max().item<double>() + 1e-12;
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

namespace {
double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got.to(torch::kDouble) - want).abs().max() / (want.abs().max() + 1e-12)).item<double>();
}
}  // namespace

TEST_CASE("gemm: adds into y or applies SwiGLU as it stores, every instruction set, ragged shapes", "[model][gemm]") {
  torch::NoGradGuard ng;
  const int saved = at::get_num_threads();
  const VectorIsa saved_isa = vector_isa();
  // I (SwiGLU's outputs) around the 8- and 16-column halves of a panel; the last splits over threads.
  const std::vector<std::array<int64_t, 3>> shapes{{1, 3, 2}, {5, 16, 16}, {7, 17, 24}, {13, 40, 33}, {128, 96, 160}};
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (auto [M, K, I] : shapes)
      for (int threads : {1, 2}) {
        at::set_num_threads(threads);
        INFO(vector_isa_name(isa) << " M " << M << " K " << K << " I " << I << ", " << threads << " threads");
        auto x = torch::randn({M, K}), w = torch::randn({2 * I, K}), b = torch::randn({2 * I});
        auto y = torch::full({M, I}, std::nanf(""));
        gemm(x.data_ptr<float>(), M, w, b, y.data_ptr<float>(), GemmStore::SwiGLU);
        auto s = torch::addmm(b.to(torch::kDouble), x.to(torch::kDouble), w.to(torch::kDouble).t());
        auto gate = s.narrow(1, 0, I), up = s.narrow(1, I, I);
        CHECK(relative_error(y, gate * torch::sigmoid(gate) * up) < 1e-5);

        auto y0 = torch::randn({M, 2 * I}), sum = y0.clone();
        gemm(x.data_ptr<float>(), M, w, b, sum.data_ptr<float>(), GemmStore::Add);
        CHECK(relative_error(sum, y0.to(torch::kDouble) + s) < 1e-5);
      }
  }
  set_vector_isa(saved_isa);
  at::set_num_threads(saved);
}

TEST_CASE("gemm_nt and gemm_nn: causal bands and a row stride, as attention uses them", "[model][gemm]") {
  const VectorIsa saved_isa = vector_isa();
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (auto [T, start, D] : std::vector<std::array<int64_t, 3>>{{1, 0, 4}, {7, 0, 16}, {20, 5, 16}, {13, 40, 24}}) {
      INFO(vector_isa_name(isa) << " T " << T << " start " << start << " D " << D);
      const int64_t S = start + T;
      auto q = torch::randn({T, D}), keys = torch::randn({S, D}), values = torch::randn({S, D});
      auto scores = torch::full({T, S}, std::nanf(""));
      gemm_nt(q.data_ptr<float>(), T, D, keys.data_ptr<float>(), S, nullptr, scores.data_ptr<float>(), start);
      auto want = torch::mm(q.to(torch::kDouble), keys.to(torch::kDouble).t());
      auto visible = torch::ones({T, S}, torch::kBool).tril(start);  // (t, s <= start + t)
      CHECK(relative_error(scores.masked_fill(~visible, 0), want.masked_fill(~visible, 0)) < 1e-5);

      auto probs = torch::rand({T, S}).masked_fill(~visible, 0);
      const int64_t ldy = 3 * D;  // the head's columns of wider token rows
      auto out = torch::full({T, ldy}, std::nanf(""));
      gemm_nn(probs.data_ptr<float>(), T, S, values.data_ptr<float>(), D, out.data_ptr<float>() + D, ldy, start);
      CHECK(relative_error(out.narrow(1, D, D), torch::mm(probs.to(torch::kDouble), values.to(torch::kDouble))) < 1e-5);
      CHECK(out.narrow(1, 0, D).isnan().all().item<bool>());  // the other columns untouched
      CHECK(out.narrow(1, 2 * D, D).isnan().all().item<bool>());
    }
  }
  set_vector_isa(saved_isa);
}

TEST_CASE("gemm with kept panels: the same products, repacked after in-place updates or another weight",
          "[model][gemm]") {
  torch::NoGradGuard ng;
  const VectorIsa saved_isa = vector_isa();
  const int64_t M = 13, K = 40, N = 34;
  auto x = torch::randn({M, K});
  auto product = [&](const torch::Tensor& w, const torch::Tensor& b, GemmStore store, PackedPanels* kept) {
    auto y = torch::zeros({M, store == GemmStore::SwiGLU ? N / 2 : N});
    gemm(x.data_ptr<float>(), M, w, b, y.data_ptr<float>(), store, kept);
    return y;
  };
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    INFO(vector_isa_name(isa));
    PackedPanels kept;
    auto w = torch::randn({N, K}), b = torch::randn({N});
    for (GemmStore store : {GemmStore::Set, GemmStore::SwiGLU, GemmStore::Set}) {  // the mode changes twice
      CHECK(torch::equal(product(w, b, store, &kept), product(w, b, store, nullptr)));
      CHECK(torch::equal(product(w, b, store, &kept), product(w, b, store, nullptr)));  // from the kept panels
    }
    w.mul_(-0.5);  // in place: same storage, new version
    CHECK(torch::equal(product(w, b, GemmStore::Set, &kept), product(w, b, GemmStore::Set, nullptr)));
    b.add_(1.0);
    CHECK(torch::equal(product(w, b, GemmStore::Set, &kept), product(w, b, GemmStore::Set, nullptr)));
    auto other = torch::randn({N, K});
    CHECK(torch::equal(product(other, {}, GemmStore::Set, &kept), product(other, {}, GemmStore::Set, nullptr)));
    PackedPanels copy = kept;  // copies start empty and pack their own
    CHECK(torch::equal(product(w, b, GemmStore::Set, &copy), product(w, b, GemmStore::Set, nullptr)));
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
  CHECK_THROWS_WITH(gemm(x.data(), 1, torch::zeros({3, 1}), {}, y.data(), GemmStore::SwiGLU),
                    Catch::Contains("gate and up rows of equal count"));
}
