#include "litestage/data/dataset.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "litestage/data/readers.hpp"
#include "litestage/data/shuffle.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

std::string_view to_string(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Valid: return "valid";
    case Split::Test: return "test";
    case Split::Calibration: return "calibration";
  }
  return "?";
}

Split parse_split(std::string_view name) {
  if (name == "train") return Split::Train;
  if (name == "valid" || name == "validation") return Split::Valid;
  if (name == "test") return Split::Test;
  if (name == "calibration") return Split::Calibration;
  throw_error("unknown split '", name, "' (expected one of: ", join(split_names(), ", "), ")");
}

const std::vector<std::string>& split_names() {
  static const std::vector<std::string> names = {"train", "valid", "validation", "test", "calibration"};
  return names;
}

std::string ids_fingerprint(const std::vector<Example>& examples) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (size_t i = 0; i < examples.size(); ++i) {
    if (i) mix('\n');
    for (char c : examples[i].id) mix(static_cast<unsigned char>(c));
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void to_json(nlohmann::json& j, const SplitInfo& s) {
  j = nlohmann::json{{"dataset", s.dataset},
                     {"split", s.split},
                     {"seed", s.seed},
                     {"offset", s.offset},
                     {"limit", s.limit ? nlohmann::json(*s.limit) : nlohmann::json(nullptr)},
                     {"calibration_size", s.calibration_size ? nlohmann::json(*s.calibration_size) : nlohmann::json(nullptr)},
                     {"split_size", s.split_size},
                     {"size", s.size},
                     {"rule", s.rule},
                     {"files", s.files},
                     {"skipped_malformed", s.skipped_malformed},
                     {"malformed", s.malformed},
                     {"ids_fingerprint", s.ids_fingerprint}};
}

void from_json(const nlohmann::json& j, SplitInfo& s) {
  auto optional_size = [&j](const char* key) -> std::optional<size_t> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<size_t>();
  };
  s.dataset = j.at("dataset").get<std::string>();
  s.split = j.at("split").get<std::string>();
  s.seed = j.at("seed").get<uint64_t>();
  s.offset = j.value("offset", size_t{0});
  s.limit = optional_size("limit");
  s.calibration_size = optional_size("calibration_size");
  s.split_size = j.value("split_size", size_t{0});
  s.size = j.value("size", size_t{0});
  s.rule = j.value("rule", std::string());
  s.files = j.value("files", std::vector<std::string>());
  s.skipped_malformed = j.value("skipped_malformed", size_t{0});
  s.malformed = j.value("malformed", std::vector<std::string>());
  s.ids_fingerprint = j.value("ids_fingerprint", std::string());
}

namespace {

namespace fs = std::filesystem;

std::string data_file(const std::string& root, const std::string& dataset, const std::string& name) {
  fs::path p = fs::path(root) / dataset / name;
  if (!fs::is_regular_file(p))
    throw_error(dataset, ": data file '", p.string(), "' not found (data root '", root,
                "'; see data/README.md for where each dataset goes)");
  return p.string();
}

ReadOptions read_options(const LoadOptions& o) { return ReadOptions{o.skip_malformed}; }

// Keeps the examples whose positions are in `chosen` (true) or not (false), in file order.
std::vector<Example> select(std::vector<Example>&& all, const std::vector<bool>& chosen, bool keep_chosen) {
  std::vector<Example> out;
  for (size_t i = 0; i < all.size(); ++i)
    if (chosen[i] == keep_chosen) out.push_back(std::move(all[i]));
  return out;
}

SplitSource from_file(ReadResult&& r, std::string rule) {
  return SplitSource{std::move(r.examples), std::move(rule), std::move(r.report)};
}

SplitSource obqa_provider(const std::string& root, Split split, const LoadOptions& o) {
  const char* file = split == Split::Train ? "train.jsonl" : split == Split::Valid ? "dev.jsonl" : "test.jsonl";
  return from_file(read_choice_jsonl(data_file(root, "obqa", file), "obqa", read_options(o)),
                   std::string("official OpenBookQA Main ") + file + ", file order");
}

SplitSource csqa_provider(const std::string& root, Split split, const LoadOptions& o) {
  if (split == Split::Test)
    return from_file(read_choice_jsonl(data_file(root, "csqa", "dev_rand_split.jsonl"), "csqa", read_options(o)),
                     "official CommonsenseQA dev_rand_split.jsonl, file order");
  ReadResult train = read_choice_jsonl(data_file(root, "csqa", "train_rand_split.jsonl"), "csqa", read_options(o));
  const size_t n = train.examples.size();
  LITESTAGE_CHECK(n > kCsqaValidSize, "csqa: train_rand_split.jsonl has ", n, " usable examples, need more than ",
                  kCsqaValidSize, " to draw the valid split");
  const auto perm = seeded_permutation(n, o.seed);
  std::vector<bool> in_valid(n, false);
  for (size_t i = 0; i < kCsqaValidSize; ++i) in_valid[perm[i]] = true;
  const bool valid = split == Split::Valid;
  std::string rule = valid ? "CommonsenseQA train_rand_split.jsonl: the " + std::to_string(kCsqaValidSize) +
                                 " examples at the first positions of seeded_permutation(n, seed), file order"
                           : "CommonsenseQA train_rand_split.jsonl minus the " + std::to_string(kCsqaValidSize) +
                                 "-example valid draw, file order";
  return SplitSource{select(std::move(train.examples), in_valid, valid), std::move(rule), std::move(train.report)};
}

SplitSource strategyqa_provider(const std::string& root, Split split, const LoadOptions& o) {
  ReadResult all = read_strategyqa_json(data_file(root, "strategyqa", "strategyqa_train.json"), read_options(o));
  const size_t n = all.examples.size();
  // TinyThinker's cut: train = n*8//10, valid = n//10, test = the rest (so test absorbs rounding).
  const size_t n_train = n * 8 / 10, n_valid = n / 10;
  const auto perm = seeded_permutation(n, o.seed);
  const size_t begin = split == Split::Train ? 0 : split == Split::Valid ? n_train : n_train + n_valid;
  const size_t end = split == Split::Train ? n_train : split == Split::Valid ? n_train + n_valid : n;
  std::vector<bool> chosen(n, false);
  for (size_t i = begin; i < end; ++i) chosen[perm[i]] = true;
  std::string rule = "StrategyQA strategyqa_train.json permuted by seeded_permutation(n, seed); train = floor(n*8/10), "
                     "valid = floor(n/10), test = the rest; this split = permutation positions [" +
                     std::to_string(begin) + ", " + std::to_string(end) + "), file order";
  return SplitSource{select(std::move(all.examples), chosen, true), std::move(rule), std::move(all.report)};
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, DatasetProvider> providers{
      {"obqa", obqa_provider},
      {"csqa", csqa_provider},
      {"strategyqa", strategyqa_provider}};  // synthetic/ registers the project's own task (register_synthetic_dataset)
};

Registry& registry() {
  static Registry r;
  return r;
}

DatasetProvider find_provider(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.providers.find(name);
  if (it == r.providers.end()) {
    std::string known;
    for (const auto& [k, v] : r.providers) known += (known.empty() ? "" : ", ") + k;
    throw_error("unknown dataset '", name, "' (known: ", known, ")");
  }
  return it->second;
}

}  // namespace

void register_dataset(const std::string& name, DatasetProvider provider) {
  LITESTAGE_CHECK(!name.empty() && provider, "register_dataset: empty name or provider");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.providers[name] = std::move(provider);
}

bool has_dataset(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.providers.count(name) != 0;
}

std::vector<std::string> dataset_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [k, v] : r.providers) names.push_back(k);
  return names;
}

Dataset load_dataset(const std::string& name, const std::string& root, Split split, const LoadOptions& options) {
  const DatasetProvider provider = find_provider(name);
  const bool calibration = split == Split::Calibration;
  SplitSource source = provider(root, calibration ? Split::Valid : split, options);

  Dataset d;
  SplitInfo& info = d.info;
  info.dataset = name;
  info.split = std::string(to_string(split));
  info.seed = options.seed;
  info.offset = options.offset;
  info.limit = options.limit;
  info.rule = std::move(source.rule);
  info.files = std::move(source.report.files);
  info.skipped_malformed = source.report.skipped;
  info.malformed = std::move(source.report.problems);

  std::vector<Example> examples = std::move(source.examples);
  if (calibration) {
    const size_t n = examples.size(), k = options.calibration_size;
    LITESTAGE_CHECK(k <= n, name, ": calibration_size ", k, " exceeds the valid split (", n, " examples)");
    const auto perm = seeded_permutation(n, options.seed);
    std::vector<bool> chosen(n, false);
    for (size_t i = 0; i < k; ++i) chosen[perm[i]] = true;
    examples = select(std::move(examples), chosen, true);
    info.calibration_size = k;
    info.rule = "the " + std::to_string(k) + " valid examples at the first positions of seeded_permutation(n, seed), " +
                "file order; valid = " + info.rule;
  }
  info.split_size = examples.size();

  if (options.offset > 0 && options.offset >= examples.size())
    throw_error("data.offset ", options.offset, " is past the end of the ", name, " ", info.split, " split (",
                examples.size(), " examples): use an offset below ", examples.size());
  const size_t begin = options.offset;
  size_t end = examples.size();
  if (options.limit) end = begin + std::min(*options.limit, examples.size() - begin);
  d.examples.assign(std::make_move_iterator(examples.begin() + static_cast<std::ptrdiff_t>(begin)),
                    std::make_move_iterator(examples.begin() + static_cast<std::ptrdiff_t>(end)));
  info.size = d.examples.size();
  info.ids_fingerprint = ids_fingerprint(d.examples);
  return d;
}

Dataset load_dataset(const std::string& name, const std::string& root, std::string_view split,
                     const LoadOptions& options) {
  return load_dataset(name, root, parse_split(split), options);
}

std::string default_data_root() {
  const char* env = std::getenv("LITESTAGE_DATA_ROOT");
  if (env && *env) return env;
  return "../shared/data";
}

}  // namespace litestage
