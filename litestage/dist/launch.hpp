#pragma once
// Which world this process belongs to, as its launcher describes it (torchrun's or SLURM's
// variables), and the rendezvous settings (dist.hpp joins it).

#include <string>

namespace litestage::dist {

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string store_file;        // LITESTAGE_STORE_FILE: rendezvous through a FileStore instead
  bool launcher_store = false;   // the launcher serves the TCPStore (newer torchrun sets
                                 // TORCHELASTIC_USE_AGENT_STORE=True): every rank is a client
  double timeout_seconds = 60;   // LITESTAGE_DIST_TIMEOUT: rendezvous, and a rank's silence
  double stall_timeout_seconds = 1800;  // LITESTAGE_DIST_STALL_TIMEOUT: the longest a rank may go
                                        // without progress while others wait for it
  bool launched = false;         // the environment named a world (WORLD_SIZE or SLURM_NTASKS)
};

// Reads the torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), falling
// back to SLURM's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID) when WORLD_SIZE is unset. Throws on
// values that cannot be right (a rank outside the world, a port that is not a number).
LaunchInfo launch_from_env();

}  // namespace litestage::dist
