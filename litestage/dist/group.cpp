#include "litestage/dist/group.hpp"

#include <chrono>
#include <cstring>

#include "litestage/util/error.hpp"

#ifdef LITESTAGE_WITH_GLOO
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#endif

namespace litestage::dist {

#ifdef LITESTAGE_WITH_GLOO
namespace {

constexpr const char* kAbortKey = "litestage/abort";
// Collectives may wait as long as the slowest rank's share takes. The watchdog bounds the wait
// instead (liveness.hpp): it ends the run when the ranks waited for stop making progress, or when
// every rank waits and none moves; Gloo's own timeout is only the last resort.
constexpr std::chrono::hours kCollectiveTimeout{24 * 7};

std::string state_key(int rank) { return "litestage/state/" + std::to_string(rank); }

bool loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

class GlooGroup : public Group {
 public:
  explicit GlooGroup(const LaunchInfo& info) : info_(info) {
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(info.timeout_seconds * 1000));
    const std::string where = info.store_file.empty()
                                  ? "TCPStore " + info.master_addr + ":" + std::to_string(info.master_port)
                                  : "FileStore " + info.store_file;
    try {
      if (info.store_file.empty()) {
        c10d::TCPStoreOptions o;
        o.port = static_cast<std::uint16_t>(info.master_port);
        o.isServer = info.rank == 0 && !info.launcher_store;
        o.numWorkers = info.world_size;
        o.waitWorkers = true;
        o.timeout = timeout;
        store_ = c10::make_intrusive<c10d::TCPStore>(info.master_addr, o);
      } else {
        store_ = c10::make_intrusive<c10d::FileStore>(info.store_file, info.world_size);
        store_->setTimeout(timeout);
      }
      auto options = c10d::ProcessGroupGloo::Options::create(kCollectiveTimeout);
      options->devices.push_back(device(info));
      options->threads = 2;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, info.rank, info.world_size, options);
    } catch (const std::exception& e) {
      throw_error("rank ", info.rank, " of ", info.world_size, " could not join the group through ", where,
                  " within ", info.timeout_seconds, " s (LITESTAGE_DIST_TIMEOUT): ", e.what());
    }
  }

  std::vector<std::string> all_gather(const std::string& mine) override {
    const auto sizes = gather_tensor(torch::tensor({static_cast<int64_t>(mine.size())}, torch::kLong));
    int64_t longest = 1;
    for (const auto& s : sizes) longest = std::max(longest, s.item<int64_t>());
    auto buffer = torch::zeros({longest}, torch::kUInt8);
    std::memcpy(buffer.data_ptr<uint8_t>(), mine.data(), mine.size());
    const auto bytes = gather_tensor(buffer);
    std::vector<std::string> out;
    for (size_t p = 0; p < bytes.size(); ++p)
      out.emplace_back(reinterpret_cast<const char*>(bytes[p].data_ptr<uint8_t>()),
                       static_cast<size_t>(sizes[p].item<int64_t>()));
    return out;
  }

  std::string broadcast(const std::string& value_on_root) override {
    auto size = torch::tensor({static_cast<int64_t>(value_on_root.size())}, torch::kLong);
    broadcast_tensor(size);
    const auto n = size.item<int64_t>();
    auto buffer = torch::zeros({std::max<int64_t>(1, n)}, torch::kUInt8);
    if (info_.rank == 0) std::memcpy(buffer.data_ptr<uint8_t>(), value_on_root.data(), value_on_root.size());
    broadcast_tensor(buffer);
    return std::string(reinterpret_cast<const char*>(buffer.data_ptr<uint8_t>()), static_cast<size_t>(n));
  }

  void barrier() override {
    complete("barrier", [&] { return group_->barrier(); });
  }

  void publish(const std::string& state) override {
    store_->set(state_key(info_.rank), std::vector<uint8_t>(state.begin(), state.end()));
  }
  std::optional<std::string> state(int rank) override {
    // Keys are never removed: once a rank has published, a plain get does not block.
    auto& published = published_.at(static_cast<size_t>(rank));
    if (!published && !store_->check({state_key(rank)})) return std::nullopt;
    published = true;
    const auto v = store_->get(state_key(rank));
    return std::string(v.begin(), v.end());
  }
  std::optional<std::string> abort_message() override { return read(kAbortKey); }
  void set_abort(const std::string& message) override {
    store_->set(kAbortKey, std::vector<uint8_t>(message.begin(), message.end()));
    store_->check({kAbortKey});  // a reply on the same connection: the set before it is done
  }

 private:
  static std::shared_ptr<::gloo::transport::Device> device(const LaunchInfo& info) {
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    if (loopback(info.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
  }

  std::vector<at::Tensor> gather_tensor(const at::Tensor& mine) {
    std::vector<std::vector<at::Tensor>> out(1);
    for (int p = 0; p < info_.world_size; ++p) out[0].push_back(torch::empty_like(mine));
    std::vector<at::Tensor> in{mine};
    complete("all-gather", [&] { return group_->allgather(out, in); });
    return out[0];
  }

  void broadcast_tensor(at::Tensor& t) {
    std::vector<at::Tensor> v{t};
    complete("broadcast", [&] { return group_->broadcast(v); });
  }

  // A key's value, without blocking: the store's get waits for a key that is not there yet.
  std::optional<std::string> read(const std::string& key) {
    if (!store_->check({key})) return std::nullopt;
    const auto v = store_->get(key);
    return std::string(v.begin(), v.end());
  }

  // Starts a collective and waits for it; a peer that is gone surfaces here as Gloo's I/O error.
  template <typename Start>
  void complete(const char* what, Start start) {
    try {
      start()->wait();
    } catch (const std::exception& e) {
      throw_error("the ", what, " with the other ranks failed (has a rank ended?): ", e.what());
    }
  }

  LaunchInfo info_;
  std::vector<char> published_ = std::vector<char>(static_cast<size_t>(info_.world_size), 0);
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

bool Group::available() { return true; }
std::unique_ptr<Group> Group::create(const LaunchInfo& info) { return std::make_unique<GlooGroup>(info); }

#else

bool Group::available() { return false; }
std::unique_ptr<Group> Group::create(const LaunchInfo& info) {
  throw_error("rank ", info.rank, " of ", info.world_size, ": this build has no distributed support");
}

#endif

}  // namespace litestage::dist
