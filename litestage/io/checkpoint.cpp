#include "litestage/io/checkpoint.hpp"

#include <c10/core/GradMode.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
// Long lists in error messages are cut here; the count is always given in full.
constexpr std::size_t kMaxListed = 12;

bool matches_any(const std::set<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return name_matches(p, name); });
}

bool is_harmless(const std::string& name) {
  const auto& patterns = harmless_checkpoint_tensors();
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return name_matches(p, name); });
}

// "'a', 'b', 'c' and 9 more"
std::string quoted_list(const std::vector<std::string>& names) {
  std::ostringstream out;
  for (std::size_t i = 0; i < names.size() && i < kMaxListed; ++i)
    out << (i ? ", " : "") << '\'' << names[i] << '\'';
  if (names.size() > kMaxListed) out << " and " << names.size() - kMaxListed << " more";
  return out.str();
}

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Checkpoint

namespace {

// The index's weight_map {tensor: shard file} turned round: shard file -> its tensors (sorted).
std::map<std::string, std::vector<std::string>> shard_tensors(const json& weight_map, const std::string& at_index) {
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [tensor, shard] : weight_map.items()) {
    if (!shard.is_string())
      throw_error(at_index, "weight_map entry for tensor '", tensor, "' must be a file name, got ",
                  shard.type_name());
    const auto& name = shard.get_ref<const std::string&>();
    // Shards live beside the index; an absolute or escaping path is a broken (or hostile) index.
    const fs::path relative(name);
    if (name.empty() || relative.is_absolute() ||
        std::any_of(relative.begin(), relative.end(), [](const fs::path& c) { return c == ".."; }))
      throw_error(at_index, "tensor '", tensor, "' maps to '", name,
                  "', which is not a file name beside the index");
    by_shard[name].push_back(tensor);
  }
  return by_shard;
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& path) {
  const std::string where = "checkpoint " + path.string() + ": ";
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw_error(where, "no such file or directory");

  Checkpoint ckpt;
  ckpt.path_ = path;

  fs::path index_file;
  if (fs::is_directory(status)) {
    if (fs::exists(path / kSingleFile)) {
      ckpt.files_.emplace_back(path / kSingleFile);
    } else if (fs::exists(path / kIndexFile)) {
      index_file = path / kIndexFile;
    } else {
      std::string hint;
      if (fs::exists(path / "pytorch_model.bin") ||
          fs::exists(path / "pytorch_model.bin.index.json"))
        hint = " (it has pytorch_model.bin: LiteStage reads only safetensors, so convert the "
               "checkpoint, e.g. save_pretrained(..., safe_serialization=True))";
      throw_error(where, "found neither ", kSingleFile, " nor ", kIndexFile,
                  " (a Hugging Face checkpoint in safetensors format)", hint);
    }
  } else if (ends_with(path.filename().string(), ".index.json")) {
    index_file = path;
  } else {
    ckpt.files_.emplace_back(path);  // a .safetensors file given directly
  }

  if (index_file.empty()) {
    const SafeTensorsFile& file = ckpt.files_.front();
    for (std::size_t i = 0; i < file.tensors().size(); ++i)
      ckpt.entries_.emplace(file.tensors()[i].name, Entry{0, i});
    return ckpt;
  }

  // Sharded: the index maps each tensor to the shard file (beside the index) that holds it.
  ckpt.sharded_ = true;
  const std::string at_index = "checkpoint index " + index_file.string() + ": ";
  json index;
  try {
    index = json::parse(read_file(index_file.string()));
  } catch (const json::exception& e) {
    throw_error(at_index, "not valid JSON (", e.what(), ")");
  }
  if (!index.is_object()) throw_error(at_index, "not a JSON object (it is ", index.type_name(), ")");
  if (index.contains("metadata") && !index["metadata"].is_object() && !index["metadata"].is_null())
    throw_error(at_index, "\"metadata\" must be an object, got ", index["metadata"].type_name());
  const auto map_it = index.find("weight_map");
  if (map_it == index.end()) throw_error(at_index, "no \"weight_map\"");
  if (!map_it->is_object())
    throw_error(at_index, "\"weight_map\" must be an object {tensor: shard file}, got ",
                map_it->type_name());
  if (map_it->empty()) throw_error(at_index, "\"weight_map\" is empty");

  const auto by_shard = shard_tensors(*map_it, at_index);
  const fs::path dir = index_file.parent_path();
  for (const auto& [shard, tensors] : by_shard) {
    const fs::path shard_path = dir / shard;
    if (!fs::exists(shard_path))
      throw_error(at_index, "shard file ", shard_path.string(), " does not exist (it should hold ",
                  plural(tensors.size(), "tensor"), ", e.g. '", tensors.front(), "')");
    ckpt.files_.emplace_back(shard_path);  // validates the shard, errors name it
    const std::size_t file_index = ckpt.files_.size() - 1;
    const SafeTensorsFile& file = ckpt.files_.back();
    for (const auto& tensor : tensors) {
      const TensorInfo* info = file.find(tensor);
      if (info == nullptr)
        throw_error(at_index, "tensor '", tensor, "' is mapped to shard ", shard,
                    ", which does not contain it");
      ckpt.entries_.emplace(tensor,
                            Entry{file_index, static_cast<std::size_t>(info - file.tensors().data())});
    }
  }
  return ckpt;
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &file_of(it->second).tensors()[it->second.tensor];
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) throw_error("checkpoint ", path_.string(), ": no tensor '", name, "'");
  return *info;
}

at::Tensor Checkpoint::load(const std::string& name, at::ScalarType dtype,
                            at::Device device) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) throw_error("checkpoint ", path_.string(), ": no tensor '", name, "'");
  const SafeTensorsFile& file = file_of(it->second);
  return file.load(file.tensors()[it->second.tensor], dtype, device);
}

std::string Checkpoint::digest() const {
  auto hash_of = [](const SafeTensorsFile& f) {
    return digest_hex(xxh64(f.mapping().data(), f.mapping().size()));
  };
  if (files_.size() == 1) return hash_of(files_.front());
  std::string digests;
  for (const auto& f : files_) digests += hash_of(f) + "\n";  // files_ is in file-name order
  return digest_hex(xxh64(digests.data(), digests.size()));
}

// ---------------------------------------------------------------------------------------------
// Name patterns

const std::vector<std::string>& harmless_checkpoint_tensors() {
  static const std::vector<std::string> kPatterns{"*rotary_emb.inv_freq"};
  return kPatterns;
}

bool name_matches(const std::string& pattern, const std::string& name) {
  // Greedy glob with backtracking to the last '*': linear in practice, no recursion.
  std::size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// ---------------------------------------------------------------------------------------------
// Module <-> checkpoint

namespace {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // shares the module's TensorImpl
};

std::vector<NamedTensor> module_tensors(const torch::nn::Module& module) {
  std::vector<NamedTensor> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    out.push_back({item.key(), item.value()});
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    out.push_back({item.key(), item.value()});
  return out;
}

}  // namespace

LoadReport load_into(torch::nn::Module& module, const Checkpoint& checkpoint, at::ScalarType dtype,
                     at::Device device, const std::set<std::string>& optional,
                     const std::set<std::string>& ignore) {
  const std::string where = "checkpoint " + checkpoint.path().string() + ": ";
  LITESTAGE_CHECK(at::isFloatingType(dtype), where, "load_into needs a floating-point dtype, got ",
                  at::toString(dtype));
  const std::vector<NamedTensor> targets = module_tensors(module);

  // Pass 1: check names and shapes without touching the module.
  LoadReport report;
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> wanted;
  for (const auto& t : targets) {
    wanted.insert(t.name);
    const TensorInfo* info = checkpoint.find(t.name);
    if (info == nullptr) {
      if (matches_any(optional, t.name))
        report.missing_optional.push_back(t.name);
      else
        missing.push_back(t.name);
      continue;
    }
    const std::vector<std::int64_t> expected = t.tensor.sizes().vec();
    if (info->shape != expected)
      mismatched.push_back("tensor '" + t.name + "' has shape " + format_shape(info->shape) +
                           ", the model expects " + format_shape(expected));
  }
  for (const auto& name : checkpoint.tensor_names()) {
    if (wanted.count(name)) continue;
    if (is_harmless(name) || matches_any(ignore, name))
      report.ignored.push_back(name);
    else
      unexpected.push_back(name);
  }

  std::vector<std::string> problems;
  if (!missing.empty())
    problems.push_back("missing " + plural(missing.size(), "tensor") + " the model needs: " +
                       quoted_list(missing) +
                       " (names the checkpoint may lack, such as a tied 'lm_head.weight', go in "
                       "`optional`)");
  if (!unexpected.empty())
    problems.push_back("has " + plural(unexpected.size(), "tensor") +
                       " the model does not use: " + quoted_list(unexpected) +
                       " (names to skip go in `ignore`)");
  for (std::size_t i = 0; i < mismatched.size() && i < kMaxListed; ++i)
    problems.push_back(mismatched[i]);
  if (mismatched.size() > kMaxListed)
    problems.push_back(std::to_string(mismatched.size() - kMaxListed) + " more shape mismatches");
  if (!problems.empty()) throw_error(where, join(problems, "; "));

  // Pass 2: fill each tensor. One already in the requested dtype and device is filled in place, so
  // tensors that view its storage (model/fused_rows.hpp) see the values; any other gets the loaded
  // storage, dtype and device through set_data, which keeps the Parameter object (and
  // requires_grad) and frees the old storage as we go. Peak memory: one model plus one tensor.
  c10::NoGradGuard no_grad;
  for (const auto& t : targets) {
    const at::ScalarType target = t.tensor.is_floating_point() ? dtype : t.tensor.scalar_type();
    if (const TensorInfo* info = checkpoint.find(t.name)) {
      at::Tensor loaded = checkpoint.load(t.name, target, device);
      if (loaded.scalar_type() == t.tensor.scalar_type() && loaded.device() == t.tensor.device())
        t.tensor.copy_(loaded);
      else
        t.tensor.set_data(loaded);
      report.loaded.push_back(t.name);
      report.bytes_read += info->nbytes();
    } else {
      // Optional and absent: keep its values, but give it the requested dtype and device too.
      at::Tensor moved = t.tensor.to(device, target);
      if (!moved.is_same(t.tensor)) t.tensor.set_data(moved);
    }
  }
  return report;
}

void save_module(const torch::nn::Module& module, const fs::path& file,
                 const std::set<std::string>& exclude,
                 const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& t : module_tensors(module)) {
    if (matches_any(exclude, t.name)) continue;
    tensors.emplace_back(std::move(t.name), t.tensor.detach());
  }
  write_safetensors(file, tensors, metadata);
}

}  // namespace litestage::io
