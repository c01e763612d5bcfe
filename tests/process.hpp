#pragma once
// Child processes for tests that drive the built `litestage` as a user or a launcher would:
// start it with extra environment variables, wait with a deadline, signal it.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace litestage::test {

// The whole content of a file ("" if it cannot be read).
std::string slurp(const std::filesystem::path& path);

// A loopback TCP port nobody listens on (the kernel's pick, released before use).
int free_port();

// Starts `exe args...` with `env` ("NAME=value") added, stdout and stderr to `log`.
pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::filesystem::path& log);

// The exit status (128 + signal when killed), or nullopt if it still runs after `seconds`.
std::optional<int> wait_for(pid_t pid, double seconds);
// Whether the child has ended, without reaping it (wait_for still returns its status).
bool has_exited(pid_t pid);

}  // namespace litestage::test
