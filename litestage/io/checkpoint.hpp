#pragma once
// Hugging Face checkpoint directories (safetensors only) and loading them into a LibTorch module
// whose parameters are registered under Hugging Face names, so that state-dict keys equal
// checkpoint keys and loading is one loop (docs/architecture.md, "Hugging Face names").

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "litestage/io/digest.hpp"
#include "litestage/io/safetensors.hpp"

namespace torch::nn {
class Module;  // <torch/nn/module.h> is heavy; callers of load_into/save_module include it anyway
}

namespace litestage::io {

class Checkpoint {
 public:
  // Opens, in this order of preference:
  //   - a .safetensors file given directly;
  //   - DIR/model.safetensors;
  //   - DIR/model.safetensors.index.json (sharded: {"metadata": {...}, "weight_map": {tensor:
  //     shard file}}), or such an index file given directly.
  // Every file is validated at open (see SafeTensorsFile). For an index: malformed JSON, a missing
  // or empty "weight_map", a shard file that does not exist, and a tensor listed for a shard that
  // lacks it are errors naming the index (and shard/tensor). The index is authoritative: tensors a
  // shard holds but the index does not list are ignored (not visible through this class).
  // Throws litestage::Error; when DIR has neither file the message says what it looked for.
  static Checkpoint open(const std::filesystem::path& path);

  Checkpoint(Checkpoint&&) noexcept = default;
  Checkpoint& operator=(Checkpoint&&) noexcept = default;

  // The path given to open().
  const std::filesystem::path& path() const { return path_; }
  bool sharded() const { return sharded_; }
  // The tensor files, in file-name order (one unless sharded).
  const std::vector<SafeTensorsFile>& files() const { return files_; }

  // Sorted.
  std::vector<std::string> tensor_names() const;
  std::size_t size() const { return entries_.size(); }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // Throws litestage::Error naming the checkpoint and tensor when absent.
  const TensorInfo& info(const std::string& name) const;
  // An owning tensor converted to dtype on device (see SafeTensorsFile::load).
  at::Tensor load(const std::string& name, at::ScalarType dtype,
                  at::Device device = at::Device(at::kCPU)) const;

  // Identifies the weights: for one file, file_digest() of it; for shards, XXH64 of the shards'
  // 16-hex-digit digests, each followed by '\n', in shard file-name order. Reads every byte of
  // every tensor file (about a second per few GB); not cached.
  std::string digest() const;

 private:
  Checkpoint() = default;

  struct Entry {
    std::size_t file;    // index into files_
    std::size_t tensor;  // index into files_[file].tensors()
  };
  const SafeTensorsFile& file_of(const Entry& e) const { return files_[e.file]; }

  std::filesystem::path path_;
  bool sharded_ = false;
  std::vector<SafeTensorsFile> files_;
  std::map<std::string, Entry> entries_;
};

// Checkpoint tensors that load_into skips without being asked, because checkpoints carry them but
// they are derived, not learned (older Llama exports save the RoPE frequencies as a buffer).
// Patterns as for `optional` below.
const std::vector<std::string>& harmless_checkpoint_tensors();  // {"*rotary_emb.inv_freq"}

// True when `name` matches `pattern`, where '*' matches any run of characters (including '.')
// and every other character matches itself: "*rotary_emb.inv_freq", "model.layers.*.bias".
bool name_matches(const std::string& pattern, const std::string& name);

struct LoadReport {
  std::vector<std::string> loaded;            // module tensors filled from the checkpoint
  std::vector<std::string> missing_optional;  // `optional` module tensors the checkpoint lacks:
                                              // left as initialised (converted to dtype/device)
  std::vector<std::string> ignored;           // checkpoint tensors not used (harmless or `ignore`)
  std::uint64_t bytes_read = 0;               // bytes of checkpoint data read
};

// Fills every parameter and buffer of `module` (recursively, under its named_parameters() /
// named_buffers() names, e.g. "model.layers.0.self_attn.q_proj.weight") from the checkpoint
// tensor of the same name, converted to `dtype` (floating-point tensors only; integer and bool
// buffers keep their type) on `device`. Tensors are replaced in place (set_data), so handles that
// submodules hold stay valid and weights tied by registering one tensor under two names stay tied.
// Afterwards every parameter and buffer, loaded or not, is on `device` and floating ones are
// `dtype`.
//
// Everything is checked before any tensor is touched; on error the module is unchanged and one
// litestage::Error lists all problems, each naming the checkpoint path and tensors:
//   - a module tensor absent from the checkpoint, unless it matches a pattern in `optional`
//     (e.g. "lm_head.weight" of a tied model whose checkpoint omits it: the caller then ties it);
//   - a checkpoint tensor the module lacks, unless it matches harmless_checkpoint_tensors() or a
//     pattern in `ignore` ({"*"} accepts any extra tensor);
//   - a shape mismatch: "tensor 'X' has shape [172, 64], the model expects [64, 172]".
// `dtype` must be a floating-point type.
LoadReport load_into(torch::nn::Module& module, const Checkpoint& checkpoint, at::ScalarType dtype,
                     at::Device device, const std::set<std::string>& optional = {},
                     const std::set<std::string>& ignore = {});

// Writes every parameter and buffer of `module` (recursively, under the same names load_into
// uses) to one safetensors file, except those matching a pattern in `exclude` (e.g.
// "lm_head.weight" when it is tied to the embedding, as Hugging Face omits it). Atomic.
void save_module(const torch::nn::Module& module, const std::filesystem::path& file,
                 const std::set<std::string>& exclude = {},
                 const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace litestage::io
