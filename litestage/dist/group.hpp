#pragma once
// The c10d objects behind dist.hpp: the rendezvous store, the Gloo process group, and the store
// keys the watchdog uses (liveness.hpp). Kept apart so only group.cpp sees the c10d and Gloo headers (and builds
// without them, where available() is false).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "litestage/dist/launch.hpp"

namespace litestage::dist {

class Group {
 public:
  static bool available();
  // Rendezvous (rank 0 serves the TCPStore) and the Gloo group; throws with the address on failure.
  static std::unique_ptr<Group> create(const LaunchInfo& info);
  virtual ~Group() = default;

  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
  virtual std::string broadcast(const std::string& value_on_root) = 0;
  virtual void barrier() = 0;

  // Watchdog side (the store's client serialises its calls, so the watchdog thread may use it).
  virtual void publish(const std::string& state) = 0;               // this rank's RankState, encoded
  virtual std::optional<std::string> state(int rank) = 0;           // nullopt: none published yet
  virtual std::optional<std::string> abort_message() = 0;
  // Posts the message for every rank; returns once the store holds it.
  virtual void set_abort(const std::string& message) = 0;
};

}  // namespace litestage::dist
