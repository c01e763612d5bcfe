// Hugging Face checkpoint directories, loading into a module with HF-style names, saving, digests.

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <catch2/catch.hpp>

#include "io_helpers.hpp"
#include "litestage/io/checkpoint.hpp"
#include "litestage/util/error.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
namespace io = litestage::io;
namespace nn = torch::nn;
using Catch::Contains;
using litestage::test::f32_bytes;
using litestage::test::temp_dir;
using litestage::test::write_bytes;
using litestage::test::write_raw;

namespace {

// A weight holder: the module's own name plus ".weight", like nn::Linear without the forward.
struct Weight : nn::Module {
  explicit Weight(at::Tensor w) { weight = register_parameter("weight", std::move(w)); }
  at::Tensor weight;
};

struct Mlp : nn::Module {
  Mlp(int64_t dim, int64_t hidden) {
    up_proj = register_module("up_proj", std::make_shared<Weight>(at::randn({hidden, dim})));
    down_proj = register_module("down_proj", std::make_shared<Weight>(at::randn({dim, hidden})));
  }
  std::shared_ptr<Weight> up_proj, down_proj;  // (hidden, dim), (dim, hidden)
};

struct Layer : nn::Module {
  Layer(int64_t dim, int64_t hidden) {
    input_layernorm = register_module("input_layernorm", std::make_shared<Weight>(at::randn({dim})));
    mlp = register_module("mlp", std::make_shared<Mlp>(dim, hidden));
  }
  std::shared_ptr<Weight> input_layernorm;
  std::shared_ptr<Mlp> mlp;
};

struct Inner : nn::Module {
  Inner(int64_t vocab, int64_t dim, int64_t hidden, int n_layers) {
    embed_tokens = register_module("embed_tokens", std::make_shared<Weight>(at::randn({vocab, dim})));
    layers = register_module("layers", nn::ModuleList());
    for (int i = 0; i < n_layers; ++i) layers->push_back(std::make_shared<Layer>(dim, hidden));
    norm = register_module("norm", std::make_shared<Weight>(at::randn({dim})));
    step = register_buffer("step", at::zeros({1}, at::kLong));  // integer buffer keeps its type
  }
  std::shared_ptr<Weight> embed_tokens, norm;
  nn::ModuleList layers;
  at::Tensor step;
};

// A miniature Llama-shaped model: keys are "model.layers.0.mlp.up_proj.weight", "lm_head.weight"...
struct TinyLM : nn::Module {
  static constexpr int64_t kVocab = 10, kDim = 4, kHidden = 6;
  explicit TinyLM(bool tied = false) {
    model = register_module("model", std::make_shared<Inner>(kVocab, kDim, kHidden, 2));
    // Tied: the same tensor registered under both names, as HF ties lm_head to the embedding.
    lm_head = register_module("lm_head", std::make_shared<Weight>(
                                             tied ? model->embed_tokens->weight
                                                  : at::randn({kVocab, kDim})));
  }
  std::shared_ptr<Inner> model;
  std::shared_ptr<Weight> lm_head;
};

// name -> tensor of a module, cloned, in registration order.
std::vector<std::pair<std::string, at::Tensor>> state_of(const nn::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value().detach().clone());
  for (const auto& b : m.named_buffers()) out.emplace_back(b.key(), b.value().detach().clone());
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> without(
    std::vector<std::pair<std::string, at::Tensor>> state, const std::string& name) {
  state.erase(std::remove_if(state.begin(), state.end(),
                             [&](const auto& kv) { return kv.first == name; }),
              state.end());
  return state;
}

// A checkpoint directory holding `state` as model.safetensors.
fs::path checkpoint_dir(const std::string& name,
                        const std::vector<std::pair<std::string, at::Tensor>>& state) {
  const fs::path dir = temp_dir(name);
  io::write_safetensors(dir / "model.safetensors", state, {{"format", "pt"}});
  return dir;
}

void check_module_equals(const nn::Module& m,
                         const std::vector<std::pair<std::string, at::Tensor>>& state,
                         at::ScalarType dtype) {
  std::map<std::string, at::Tensor> expected(state.begin(), state.end());
  for (const auto& p : m.named_parameters()) {
    INFO(p.key());
    REQUIRE(expected.count(p.key()));
    CHECK(p.value().scalar_type() == dtype);
    CHECK(at::equal(p.value(), expected[p.key()].to(dtype)));
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Checkpoint

TEST_CASE("checkpoint: a directory with model.safetensors, or the file itself", "[io]") {
  TinyLM ref;
  const auto state = state_of(ref);
  const fs::path dir = checkpoint_dir("ckpt-single", state);

  for (const fs::path& path : {dir, dir / "model.safetensors"}) {
    INFO(path);
    const io::Checkpoint ckpt = io::Checkpoint::open(path);
    CHECK(ckpt.path() == path);
    CHECK_FALSE(ckpt.sharded());
    CHECK(ckpt.size() == state.size());
    CHECK(ckpt.contains("model.layers.1.mlp.down_proj.weight"));
    CHECK(ckpt.info("model.layers.1.mlp.down_proj.weight").shape == std::vector<int64_t>{4, 6});
    CHECK(ckpt.info("model.step").dtype == io::DType::I64);
    CHECK(ckpt.find("nope") == nullptr);
    CHECK_THROWS_WITH(ckpt.info("nope"), Contains(path.string()) && Contains("no tensor 'nope'"));
    CHECK(at::equal(ckpt.load("lm_head.weight", at::kFloat), ref.lm_head->weight));
    const auto names = ckpt.tensor_names();
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(ckpt.digest() == io::file_digest(dir / "model.safetensors"));
  }
}

TEST_CASE("checkpoint: sharded with model.safetensors.index.json", "[io]") {
  const fs::path dir = temp_dir("ckpt-sharded");
  const at::Tensor a = at::randn({3, 2}), b = at::randn({4}), c = at::randn({2, 2}).to(at::kHalf);
  io::write_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", a}, {"b", b}});
  // The second shard also holds "stray", which the index does not list: it is ignored.
  io::write_safetensors(dir / "model-00002-of-00002.safetensors",
                        {{"c", c}, {"stray", at::ones({1})}});
  write_bytes(dir / "model.safetensors.index.json", R"({
    "metadata": {"total_size": 56},
    "weight_map": {"a": "model-00001-of-00002.safetensors",
                   "b": "model-00001-of-00002.safetensors",
                   "c": "model-00002-of-00002.safetensors"}})");

  for (const fs::path& path : {dir, dir / "model.safetensors.index.json"}) {
    const io::Checkpoint ckpt = io::Checkpoint::open(path);
    CHECK(ckpt.sharded());
    CHECK(ckpt.files().size() == 2);
    CHECK(ckpt.tensor_names() == std::vector<std::string>{"a", "b", "c"});
    CHECK_FALSE(ckpt.contains("stray"));
    CHECK(ckpt.info("c").dtype == io::DType::F16);
    CHECK(at::equal(ckpt.load("a", at::kFloat), a));
    CHECK(at::equal(ckpt.load("b", at::kFloat), b));
    CHECK(at::equal(ckpt.load("c", at::kHalf), c));
    CHECK(at::equal(ckpt.load("c", at::kFloat), c.to(at::kFloat)));
    // Combined digest: stable, and unlike either shard's.
    CHECK(ckpt.digest() == io::Checkpoint::open(dir).digest());
    CHECK(ckpt.digest().size() == 16);
    CHECK(ckpt.digest() != io::file_digest(dir / "model-00001-of-00002.safetensors"));
  }
}

TEST_CASE("checkpoint error: directory without a checkpoint, or no such path", "[io]") {
  const fs::path dir = temp_dir("ckpt-empty");
  CHECK_THROWS_WITH(io::Checkpoint::open(dir),
                    Contains(dir.string()) && Contains("found neither model.safetensors nor "
                                                       "model.safetensors.index.json"));
  write_bytes(dir / "pytorch_model.bin", "x");
  CHECK_THROWS_WITH(io::Checkpoint::open(dir), Contains("pytorch_model.bin"));
  CHECK_THROWS_WITH(io::Checkpoint::open(dir / "absent"),
                    Contains((dir / "absent").string()) && Contains("no such file or directory"));
}

TEST_CASE("checkpoint error: malformed index.json", "[io]") {
  const fs::path dir = temp_dir("ckpt-bad-index");
  const fs::path index = dir / "model.safetensors.index.json";
  io::write_safetensors(dir / "s.safetensors", {{"a", at::ones({1})}});
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"weight_map": {"a": "s.safetensors")", "not valid JSON"},
      {R"(["s.safetensors"])", "not a JSON object"},
      {R"({"metadata": {}})", "no \"weight_map\""},
      {R"({"weight_map": ["s.safetensors"]})", "\"weight_map\" must be an object"},
      {R"({"weight_map": {}})", "\"weight_map\" is empty"},
      {R"({"weight_map": {"a": 1}})", "weight_map entry for tensor 'a' must be a file name"},
      {R"({"weight_map": {"a": "../s.safetensors"}})", "not a file name beside the index"},
      {R"({"weight_map": {"a": "/etc/passwd"}})", "not a file name beside the index"},
      {R"({"metadata": 3, "weight_map": {"a": "s.safetensors"}})", "\"metadata\" must be an object"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    write_bytes(index, text);
    CHECK_THROWS_WITH(io::Checkpoint::open(dir), Contains(index.string()) && Contains(message));
  }
}

TEST_CASE("checkpoint error: shard file missing", "[io]") {
  const fs::path dir = temp_dir("ckpt-missing-shard");
  const fs::path index = dir / "model.safetensors.index.json";
  io::write_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", at::ones({1})}});
  write_bytes(index, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                        "b": "model-00002-of-00002.safetensors"}})");
  CHECK_THROWS_WITH(io::Checkpoint::open(dir),
                    Contains(index.string()) &&
                        Contains((dir / "model-00002-of-00002.safetensors").string()) &&
                        Contains("does not exist") && Contains("'b'"));
}

TEST_CASE("checkpoint error: tensor listed in the index but absent from its shard", "[io]") {
  const fs::path dir = temp_dir("ckpt-absent-tensor");
  const fs::path index = dir / "model.safetensors.index.json";
  io::write_safetensors(dir / "s1.safetensors", {{"a", at::ones({1})}});
  write_bytes(index, R"({"weight_map": {"a": "s1.safetensors", "ghost": "s1.safetensors"}})");
  CHECK_THROWS_WITH(io::Checkpoint::open(dir),
                    Contains(index.string()) && Contains("tensor 'ghost'") &&
                        Contains("s1.safetensors, which does not contain it"));
}

TEST_CASE("checkpoint error: a bad shard is named in the error", "[io]") {
  const fs::path dir = temp_dir("ckpt-bad-shard");
  write_raw(dir / "s1.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
            f32_bytes({1, 2}));
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"w": "s1.safetensors"}})");
  CHECK_THROWS_WITH(io::Checkpoint::open(dir), Contains((dir / "s1.safetensors").string()) &&
                                                   Contains("tensor 'w'") &&
                                                   Contains("run past the end"));
}

// ------------------------------------------------------------------------------------------------
// load_into

TEST_CASE("load_into: fills every parameter and buffer by HF name", "[io]") {
  TinyLM ref;
  ref.model->step.fill_(42);
  auto state = state_of(ref);
  const fs::path dir = checkpoint_dir("load-basic", state);
  const io::Checkpoint ckpt = io::Checkpoint::open(dir);

  TinyLM model;  // different random init
  const at::Tensor handle = model.model->layers[0]->as<Layer>()->mlp->up_proj->weight;
  REQUIRE_FALSE(at::equal(handle, ref.model->layers[0]->as<Layer>()->mlp->up_proj->weight));

  const io::LoadReport report = io::load_into(model, ckpt, at::kFloat, at::Device(at::kCPU));
  CHECK(report.loaded.size() == state.size());
  CHECK(report.missing_optional.empty());
  CHECK(report.ignored.empty());
  CHECK(report.bytes_read > 0);
  check_module_equals(model, state, at::kFloat);
  // Handles the submodules hold see the new values (replaced in place, not re-registered).
  CHECK(at::equal(handle, ref.model->layers[0]->as<Layer>()->mlp->up_proj->weight));
  CHECK(model.model->step.scalar_type() == at::kLong);
  CHECK(model.model->step.item<int64_t>() == 42);
  CHECK(model.model->embed_tokens->weight.requires_grad());
}

TEST_CASE("load_into: converts floating tensors to the requested dtype", "[io]") {
  TinyLM ref;
  const auto state = state_of(ref);
  const io::Checkpoint ckpt = io::Checkpoint::open(checkpoint_dir("load-bf16", state));
  TinyLM model;
  io::load_into(model, ckpt, at::kBFloat16, at::Device(at::kCPU));
  check_module_equals(model, state, at::kBFloat16);
  CHECK(model.model->step.scalar_type() == at::kLong);  // integer buffers keep their type
  CHECK_THROWS_WITH(io::load_into(model, ckpt, at::kInt, at::Device(at::kCPU)),
                    Contains("floating-point dtype"));
}

TEST_CASE("load_into: loads onto CUDA when available", "[io][cuda]") {
  if (!at::hasCUDA()) SKIP_TEST("needs a CUDA device; LibTorch sees none");
  TinyLM ref;
  const auto state = state_of(ref);
  const io::Checkpoint ckpt = io::Checkpoint::open(checkpoint_dir("load-cuda", state));
  TinyLM model;
  io::load_into(model, ckpt, at::kHalf, at::Device(at::kCUDA));
  for (const auto& p : model.named_parameters()) CHECK(p.value().is_cuda());
  CHECK(model.model->step.is_cuda());
  CHECK(at::equal(model.lm_head->weight.cpu(), ref.lm_head->weight.to(at::kHalf)));
}

TEST_CASE("load_into error: missing tensors are all named", "[io]") {
  TinyLM ref;
  auto state = without(without(state_of(ref), "model.norm.weight"), "model.layers.1.mlp.up_proj.weight");
  const fs::path dir = checkpoint_dir("load-missing", state);
  const io::Checkpoint ckpt = io::Checkpoint::open(dir);
  TinyLM model;
  const at::Tensor before = model.model->embed_tokens->weight.clone();
  CHECK_THROWS_WITH(io::load_into(model, ckpt, at::kFloat, at::Device(at::kCPU)),
                    Contains("checkpoint " + dir.string()) && Contains("missing 2 tensors") &&
                        Contains("'model.layers.1.mlp.up_proj.weight'") &&
                        Contains("'model.norm.weight'"));
  // Nothing was loaded: the module is as before.
  CHECK(at::equal(model.model->embed_tokens->weight, before));
}

TEST_CASE("load_into: optional tensors may be absent (tied lm_head)", "[io]") {
  TinyLM ref(/*tied=*/true);
  const auto state = without(state_of(ref), "lm_head.weight");  // HF omits the tied copy
  const io::Checkpoint ckpt = io::Checkpoint::open(checkpoint_dir("load-tied", state));

  TinyLM model(/*tied=*/true);
  const io::LoadReport report =
      io::load_into(model, ckpt, at::kHalf, at::Device(at::kCPU), {"lm_head.weight"});
  CHECK(report.missing_optional == std::vector<std::string>{"lm_head.weight"});
  // Still tied: one tensor, now holding the checkpoint's embedding, in the requested dtype.
  CHECK(model.lm_head->weight.is_same(model.model->embed_tokens->weight));
  CHECK(model.lm_head->weight.scalar_type() == at::kHalf);
  CHECK(at::equal(model.lm_head->weight, ref.model->embed_tokens->weight.to(at::kHalf)));

  // An untied model given the same checkpoint keeps its own lm_head, converted.
  TinyLM untied;
  const at::Tensor own = untied.lm_head->weight.clone();
  io::load_into(untied, ckpt, at::kHalf, at::Device(at::kCPU), {"lm_head.weight"});
  CHECK(at::equal(untied.lm_head->weight, own.to(at::kHalf)));
}

TEST_CASE("load_into error: unexpected tensors are named unless ignored", "[io]") {
  TinyLM ref;
  auto state = state_of(ref);
  state.emplace_back("model.layers.0.mlp.extra.weight", at::ones({2}));
  state.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({2}));  // harmless
  const fs::path dir = checkpoint_dir("load-unexpected", state);
  const io::Checkpoint ckpt = io::Checkpoint::open(dir);

  TinyLM model;
  CHECK_THROWS_WITH(io::load_into(model, ckpt, at::kFloat, at::Device(at::kCPU)),
                    Contains("checkpoint " + dir.string()) &&
                        Contains("has 1 tensor the model does not use") &&
                        Contains("'model.layers.0.mlp.extra.weight'"));
  const io::LoadReport report = io::load_into(model, ckpt, at::kFloat, at::Device(at::kCPU), {},
                                              {"model.layers.*.mlp.extra.weight"});
  CHECK(report.ignored == std::vector<std::string>{"model.layers.0.mlp.extra.weight",
                                                   "model.layers.0.self_attn.rotary_emb.inv_freq"});
  CHECK_NOTHROW(io::load_into(model, ckpt, at::kFloat, at::Device(at::kCPU), {}, {"*"}));
}

TEST_CASE("load_into error: shape mismatch names tensor and both shapes", "[io]") {
  TinyLM ref;
  auto state = state_of(ref);
  for (auto& [name, t] : state)
    if (name == "model.layers.0.mlp.up_proj.weight") t = t.t().contiguous();  // (4, 6) not (6, 4)
  const fs::path dir = checkpoint_dir("load-shape", state);
  TinyLM model;
  CHECK_THROWS_WITH(
      io::load_into(model, io::Checkpoint::open(dir), at::kFloat, at::Device(at::kCPU)),
      Contains("checkpoint " + dir.string() +
               ": tensor 'model.layers.0.mlp.up_proj.weight' has shape [4, 6], the model "
               "expects [6, 4]"));
}

// ------------------------------------------------------------------------------------------------
// save_module, name patterns, digests

TEST_CASE("save_module: round trips through load_into, with exclusions", "[io]") {
  const fs::path dir = temp_dir("save-module");
  TinyLM ref(/*tied=*/true);
  ref.model->step.fill_(7);
  io::save_module(ref, dir / "model.safetensors", {"lm_head.weight"});

  const io::Checkpoint ckpt = io::Checkpoint::open(dir);
  CHECK_FALSE(ckpt.contains("lm_head.weight"));
  CHECK(ckpt.contains("model.step"));
  CHECK(ckpt.files().front().metadata().at("format") == "pt");

  TinyLM model(/*tied=*/true);
  io::load_into(model, ckpt, at::kFloat, at::Device(at::kCPU), {"lm_head.weight"});
  check_module_equals(model, state_of(ref), at::kFloat);
  CHECK(model.model->step.item<int64_t>() == 7);
}

TEST_CASE("name_matches: '*' globs", "[io]") {
  CHECK(io::name_matches("lm_head.weight", "lm_head.weight"));
  CHECK_FALSE(io::name_matches("lm_head.weight", "lm_head.weights"));
  CHECK(io::name_matches("*rotary_emb.inv_freq", "model.layers.3.self_attn.rotary_emb.inv_freq"));
  CHECK_FALSE(io::name_matches("*rotary_emb.inv_freq", "rotary_emb.inv_freq.x"));
  CHECK(io::name_matches("model.layers.*.bias", "model.layers.12.mlp.bias"));
  CHECK(io::name_matches("*", ""));
  CHECK(io::name_matches("a*b*c", "aXbYbZc"));
  CHECK_FALSE(io::name_matches("a*b*c", "aXbYbZ"));
}

TEST_CASE("digest: XXH64 reference values", "[io]") {
  // Values from the reference xxHash library (libxxhash 0.8.1, seed 0).
  CHECK(io::digest_hex(io::xxh64("", 0)) == "ef46db3751d8e999");
  CHECK(io::digest_hex(io::xxh64("a", 1)) == "d24ec4f1a98c6e5b");
  CHECK(io::digest_hex(io::xxh64("abc", 3)) == "44bc2cf5ad770999");
  const std::string s37 = "0123456789abcdefghijklmnopqrstuvwxyz!";  // > 32 bytes: stripe path
  CHECK(io::digest_hex(io::xxh64(s37.data(), s37.size())) == "dde9d7f125de8f22");
  std::string s768;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 256; ++i) s768 += static_cast<char>(i);
  CHECK(io::digest_hex(io::xxh64(s768.data(), s768.size())) == "8e03c838c596036f");

  const fs::path dir = temp_dir("digest");
  write_bytes(dir / "f", s768);
  CHECK(io::file_digest(dir / "f") == "8e03c838c596036f");
  write_bytes(dir / "empty", "");
  CHECK(io::file_digest(dir / "empty") == "ef46db3751d8e999");
  CHECK_THROWS_WITH(io::file_digest(dir / "absent"), Contains((dir / "absent").string()));
}

// ------------------------------------------------------------------------------------------------
// A real checkpoint from ../shared

TEST_CASE("checkpoint: stories260K from ../shared", "[io][shared]") {
  REQUIRE_SHARED(dir, "models/stories260K");
  const io::Checkpoint ckpt = io::Checkpoint::open(dir);
  const io::TensorInfo& embed = ckpt.info("model.embed_tokens.weight");
  CHECK(embed.shape == std::vector<int64_t>{512, 64});
  CHECK(embed.dtype == io::DType::F32);
  CHECK_FALSE(ckpt.contains("lm_head.weight"));  // tied: the caller reuses the embedding
  CHECK(ckpt.contains("model.layers.4.mlp.down_proj.weight"));
  CHECK(ckpt.info("model.layers.0.mlp.down_proj.weight").shape == std::vector<int64_t>{64, 172});
  const at::Tensor w = ckpt.load("model.embed_tokens.weight", at::kFloat);
  CHECK(w.sizes() == at::IntArrayRef({512, 64}));
  CHECK(at::isfinite(w).all().item<bool>());
  CHECK(ckpt.digest() == "b2aa35678dcd05c7");  // libxxhash XXH64 of the file
}
