#include "litestage/dist/launch.hpp"

#include <cstdlib>
#include <optional>

#include "litestage/util/error.hpp"

namespace litestage::dist {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int fallback, int low, int high) {
  const auto v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v->c_str(), &end, 10);
  LITESTAGE_CHECK(end != v->c_str() && *end == '\0' && x >= low && x <= high, "environment variable ", name, "='", *v,
                  "' is not an integer in [", low, ", ", high, "]");
  return static_cast<int>(x);
}

double env_seconds(const char* name, double fallback) {
  const auto v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v->c_str(), &end);
  LITESTAGE_CHECK(end != v->c_str() && *end == '\0' && x > 0, "environment variable ", name, "='", *v,
                  "' is not a positive number of seconds");
  return x;
}

}  // namespace

LaunchInfo launch_from_env() {
  LaunchInfo info;
  const bool torchrun = env("WORLD_SIZE").has_value();
  const bool slurm = !torchrun && env("SLURM_NTASKS").has_value() && env("MASTER_ADDR").has_value();
  if (!torchrun && !slurm) return info;
  info.launched = true;
  info.world_size = env_int(torchrun ? "WORLD_SIZE" : "SLURM_NTASKS", 1, 1, 1 << 20);
  info.rank = env_int(torchrun ? "RANK" : "SLURM_PROCID", 0, 0, info.world_size - 1);
  info.local_rank = env_int(torchrun ? "LOCAL_RANK" : "SLURM_LOCALID", 0, 0, 1 << 20);
  info.master_addr = env("MASTER_ADDR").value_or(info.master_addr);
  info.master_port = env_int("MASTER_PORT", info.master_port, 1, 65535);
  info.store_file = env("LITESTAGE_STORE_FILE").value_or("");
  info.launcher_store = env("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  info.timeout_seconds = env_seconds("LITESTAGE_DIST_TIMEOUT", info.timeout_seconds);
  info.stall_timeout_seconds = env_seconds("LITESTAGE_DIST_STALL_TIMEOUT", info.stall_timeout_seconds);
  if (torchrun && info.world_size > 1 && !env("RANK"))
    throw_error("WORLD_SIZE is ", info.world_size, " but RANK is not set: launch with torchrun, srun, or set RANK");
  return info;
}

}  // namespace litestage::dist
