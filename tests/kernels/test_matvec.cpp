#include <catch2/catch.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "litestage/kernels/matvec.hpp"

using namespace litestage;

namespace {

// y = W x + b in double from the same (already rounded) weights: the exact answer.
torch::Tensor exact(const torch::Tensor& w, const torch::Tensor& b, const torch::Tensor& x) {
  auto y = torch::mv(w.to(torch::kDouble), x.to(torch::kDouble));
  return b.defined() ? y + b.to(torch::kDouble) : y;
}

double rel_error(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got.to(torch::kDouble) - want).abs().max() / want.abs().max()).item<double>();
}

}  // namespace

// Every way this CPU can run a product: each instruction set, and with AVX-512 the bf16 pairs both
// native (AVX512-BF16) and widened where the CPU has them.
struct Path {
  VectorIsa isa;
  bool native_bf16;
};
std::vector<Path> product_paths() {
  std::vector<Path> out;
  for (VectorIsa isa : supported_vector_isas()) {
    out.push_back({isa, false});
    if (isa == VectorIsa::Avx512 && native_bf16_supported()) out.push_back({isa, true});
  }
  return out;
}

TEST_CASE("matvec: every instruction set this CPU has, f32 and bf16, bias or not, batch 1 and 3, 1 and 2 threads",
          "[model][matvec]") {
  torch::NoGradGuard ng;
  const int saved = at::get_num_threads();
  const VectorIsa saved_isa = vector_isa();
  const bool saved_native = native_bf16();
  CHECK(saved_isa == supported_vector_isas().back());  // the best is the default
  CHECK(saved_native == native_bf16_supported());
  // Rows x cols: ragged tails (cols % 64, % 32, % 16 and % 8 != 0; rows % 8 != 0), below and above
  // the threading threshold.
  const std::vector<std::pair<int64_t, int64_t>> shapes{{7, 13}, {96, 200}, {300, 500}, {640, 515}, {203, 1111}};
  for (Path path : product_paths()) {
    set_vector_isa(path.isa);
    set_native_bf16(path.native_bf16);
    for (auto dtype : {torch::kFloat, torch::kBFloat16})
      for (auto [rows, cols] : shapes)
        for (bool with_bias : {false, true})
          for (int64_t batch : {1, 3})
            for (int threads : {1, 2}) {
              at::set_num_threads(threads);
              INFO(vector_isa_name(path.isa) << (path.native_bf16 ? " native bf16 " : " ") << c10::toString(dtype)
                                             << " " << rows << "x" << cols << " bias " << with_bias << " batch "
                                             << batch << ", " << threads << " threads");
              auto w = torch::randn({rows, cols}).to(dtype);
              auto b = with_bias ? torch::randn({rows}).to(dtype) : torch::Tensor();
              auto x = torch::randn({batch, cols});
              auto y = torch::full({batch, rows}, -1.0f);
              matvec(w, b, x.data_ptr<float>(), y.data_ptr<float>(), batch);
              // bf16 weights take x rounded to bf16: exact against those values.
              const auto x_taken = x.to(dtype).to(torch::kFloat);
              for (int64_t v = 0; v < batch; ++v) CHECK(rel_error(y[v], exact(w, b, x_taken[v])) < 1e-5);
            }
  }
  at::set_num_threads(saved);
  set_vector_isa(saved_isa);
  set_native_bf16(saved_native);
}

TEST_CASE("matvec: bf16 weights round x to bf16 on every path, native pairs refused where the CPU lacks them",
          "[model][matvec]") {
  torch::NoGradGuard ng;
  const VectorIsa saved_isa = vector_isa();
  const bool saved_native = native_bf16();
  // x = 1 + 2^-10 rounds to 1 in bf16 (8 bits of mantissa): W x is then exactly the row sums.
  auto w = torch::ones({16, 64}).to(torch::kBFloat16);
  std::vector<float> x(64, 1.0f + 1.0f / 1024), y(16);
  for (Path path : product_paths()) {
    set_vector_isa(path.isa);
    set_native_bf16(path.native_bf16);
    INFO(vector_isa_name(path.isa) << (path.native_bf16 ? " native bf16" : ""));
    matvec(w, {}, x.data(), y.data());
    for (float v : y) CHECK(v == 64.0f);
  }
  set_vector_isa(saved_isa);
  set_native_bf16(saved_native);
  if (!native_bf16_supported())
    CHECK_THROWS_WITH(set_native_bf16(true), Catch::Contains("no native bf16 dot products"));
  else
    CHECK_NOTHROW(set_native_bf16(true));
  set_native_bf16(saved_native);
}

TEST_CASE("matvec: dot products over f32 and bf16, and a mismatched bias is refused", "[model][matvec]") {
  auto a = torch::randn({37}), b = torch::randn({37});
  const double want = torch::dot(a.to(torch::kDouble), b.to(torch::kDouble)).item<double>();
  CHECK(dot(a.data_ptr<float>(), b.data_ptr<float>(), 37) == Approx(want).epsilon(1e-5));
  auto b16 = b.to(torch::kBFloat16);
  const double want16 = torch::dot(a.to(torch::kDouble), b16.to(torch::kDouble)).item<double>();
  CHECK(dot(a.data_ptr<float>(), b16.data_ptr<c10::BFloat16>(), 37) == Approx(want16).epsilon(1e-5));

  std::vector<float> y(4);
  auto x = torch::randn({3});
  CHECK_THROWS_WITH(matvec(torch::randn({4, 3}), torch::randn({4}).to(torch::kBFloat16), x.data_ptr<float>(), y.data()),
                    Catch::Contains("bias and weight dtypes differ"));
  CHECK_THROWS_WITH(matvec(torch::randn({4, 3}).to(torch::kDouble), {}, x.data_ptr<float>(), y.data()),
                    Catch::Contains("f32 or bf16"));
}

TEST_CASE("linear_matvec: 1 to kMatvecRows rows in x's dtype, as torch::linear, matvec_applies says when",
          "[model][matvec]") {
  torch::NoGradGuard ng;
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    INFO(c10::toString(dtype));
    auto w = torch::randn({40, 24}).to(dtype), b = torch::randn({40}).to(dtype);
    auto x = torch::randn({1, 1, 24}).to(dtype);
    REQUIRE(matvec_applies(x, w));
    auto got = linear_matvec(x, w, b);
    CHECK(got.sizes() == torch::IntArrayRef{1, 1, 40});
    CHECK(got.scalar_type() == dtype);
    auto want = torch::linear(x.to(torch::kFloat), w.to(torch::kFloat), b.to(torch::kFloat));
    // bf16: one rounding of the result (8 bits of mantissa).
    CHECK(rel_error(got.to(torch::kFloat), want.to(torch::kDouble)) < (dtype == torch::kFloat ? 1e-5 : 1e-2));
  }
  auto w = torch::randn({8, 4});
  {
    auto rows = torch::randn({2, 3, 4});  // six rows: each equals the same row alone
    REQUIRE(matvec_applies(rows, w));
    auto got = linear_matvec(rows, w, {});
    CHECK(got.sizes() == torch::IntArrayRef{2, 3, 8});
    CHECK(rel_error(got, torch::linear(rows, w).to(torch::kDouble)) < 1e-5);
    for (int64_t r = 0; r < 6; ++r)
      CHECK(torch::equal(got.view({6, 8})[r], linear_matvec(rows.view({6, 4})[r].view({1, 4}), w, {}).view({8})));
  }
  // Long rows: several vectors take column chunks of the weights (row_kernels.hpp; f32 rows over
  // 512 columns, bf16 over 1024), each row's result still bitwise that row alone.
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (int64_t cols : {1111, 2048, 2100}) {
      INFO(c10::toString(dtype) << " " << cols << " columns");
      auto wide = torch::randn({24, cols}).to(dtype), b24 = torch::randn({24}).to(dtype);
      auto rows = torch::randn({5, cols}).to(dtype);
      auto got = linear_matvec(rows, wide, b24);
      auto want = torch::linear(rows.to(torch::kFloat), wide.to(torch::kFloat), b24.to(torch::kFloat));
      CHECK(rel_error(got.to(torch::kFloat), want.to(torch::kDouble)) < (dtype == torch::kFloat ? 1e-5 : 1e-2));
      for (int64_t r = 0; r < 5; ++r)
        CHECK(torch::equal(got[r], linear_matvec(rows[r].view({1, cols}), wide, b24).view({24})));
    }
  }
  CHECK(matvec_applies(torch::randn({kMatvecRows, 4}), w));
  CHECK_FALSE(matvec_applies(torch::randn({kMatvecRows + 1, 4}), w));  // a prompt: LibTorch's product
  CHECK_FALSE(matvec_applies(torch::randn({1, 4}).to(torch::kBFloat16), w));     // dtypes differ
  CHECK_FALSE(matvec_applies(torch::randn({1, 4}), w.t().contiguous().t()));     // not contiguous
  CHECK_FALSE(matvec_applies(torch::randn({1, 4}).to(torch::kDouble), w.to(torch::kDouble)));
  {
    torch::AutoGradMode grad(true);
    CHECK_FALSE(matvec_applies(torch::randn({1, 4}), w));  // autograd needs LibTorch's ops
  }
}

TEST_CASE("read_sum: the sum of every element, each instruction set, 1 and 2 threads, ragged lengths",
          "[model][matvec]") {
  const int saved = at::get_num_threads();
  const VectorIsa saved_isa = vector_isa();
  for (VectorIsa isa : supported_vector_isas()) {
    set_vector_isa(isa);
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      for (int64_t n : {0, 1, 15, 127, 128, 1000, 100003}) {
        INFO(vector_isa_name(isa) << " " << threads << " threads, n " << n);
        auto x = torch::arange(n, torch::kFloat).remainder(7) + 1;  // small integers: exact sums
        CHECK(read_sum(x.data_ptr<float>(), n) == x.to(torch::kDouble).sum().item<double>());
      }
    }
  }
  set_vector_isa(saved_isa);
  at::set_num_threads(saved);
}
