#include "litestage/dist/dist.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "litestage/util/error.hpp"
#include "litestage/util/jsonl.hpp"
#include "litestage/util/strings.hpp"
#include "litestage/dist/group.hpp"
#include "litestage/dist/liveness.hpp"

namespace litestage::dist {
namespace {

using Clock = std::chrono::steady_clock;

struct Context {
  LaunchInfo info;
  std::unique_ptr<Group> group;      // null for a world of 1
  std::FILE* errors = nullptr;       // this rank's real stderr
  std::thread watchdog;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  // The main thread's side of the state the watchdog publishes (liveness.hpp).
  std::atomic<int64_t> progress{0}, collectives{0};
  std::atomic<int> waiting{0};       // a Collective
  std::atomic<bool> ending{false};   // the watchdog is ending this process with a message
};

Context& context() {
  static Context c;
  return c;
}

// Ends this rank with `message` (the watchdog's thread, holding the context's mutex). A finding
// of this rank's watchdog is posted first, so every rank ends with the same words rather than with
// the broken exchange it sees when this one is gone.
[[noreturn]] void end_run(Context& c, const std::string& message, bool post) {
  c.ending = true;
  std::fprintf(c.errors ? c.errors : stderr, "error: [rank %d of %d] %s\n", c.info.rank, c.info.world_size,
               message.c_str());
  std::fflush(nullptr);
  try {
    if (post) c.group->set_abort(message);
  } catch (const std::exception&) {
  }
  // Rank 0 holds the TCPStore: stay up until the others have read the message.
  if (c.info.rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  std::_Exit(3);
}

// Rank 0's stdout/stderr stay; the others go quiet, keeping their real stderr for errors.
void quiet_non_root(Context& c) {
  c.errors = stderr;
  if (c.info.rank == 0 || std::getenv("LITESTAGE_DIST_VERBOSE")) return;
  std::fflush(nullptr);
  const int saved = ::dup(2);
  const int null = ::open("/dev/null", O_WRONLY);
  if (saved < 0 || null < 0) return;
  c.errors = ::fdopen(saved, "w");
  ::dup2(null, 1);
  ::dup2(null, 2);
  ::close(null);
}

RankState own_state(const Context& c, int64_t beat) {
  RankState s;
  s.beat = beat;
  s.progress = c.progress.load();
  s.collectives = c.collectives.load();
  s.waiting = static_cast<Collective>(c.waiting.load());
  return s;
}

struct Failure {
  std::string message;
  bool post = false;  // this rank's own finding, for the others to end with too
};

// One look at the world: publish this rank's state, read the others', judge them all.
std::optional<Failure> look(Context& c, Liveness& liveness, int64_t beat) {
  try {
    const RankState mine = own_state(c, beat);
    c.group->publish(encode(mine));
    if (auto message = c.group->abort_message()) return Failure{*message, false};
    const auto now = Clock::now();
    for (int p = 0; p < c.info.world_size; ++p) {
      if (p == c.info.rank) {
        liveness.observe(p, mine, now);
      } else {
        const auto text = c.group->state(p);
        liveness.observe(p, text ? decode(*text) : std::nullopt, now);
      }
    }
    if (auto verdict = liveness.verdict(c.info.rank, now)) return Failure{*verdict, true};
  } catch (const std::exception& e) {
    return Failure{std::string("lost the rendezvous store (") + e.what() + "): rank 0 has ended or the network is down"};
  }
  return std::nullopt;
}

void watch(Context& c) {
  Liveness liveness(c.info.world_size, c.info.timeout_seconds, c.info.stall_timeout_seconds, Clock::now());
  std::unique_lock<std::mutex> lock(c.mutex);
  for (int64_t beat = 1; !c.stop; ++beat) {
    lock.unlock();
    const auto failure = look(c, liveness, beat);
    lock.lock();
    if (failure && !c.stop) end_run(c, failure->message, failure->post);
    c.wake.wait_for(lock, std::chrono::seconds(1), [&] { return c.stop; });
  }
}

// Runs a collective with the main thread marked as waiting in it. When it fails (a rank has
// ended), the watchdog gets a moment to name the cause first: a rank that ended on a finding
// posted it, and this rank then ends with the same words.
template <typename Run>
auto collective(Collective kind, Run run) {
  auto& c = context();
  c.collectives.fetch_add(1);
  c.waiting = static_cast<int>(kind);
  c.progress.fetch_add(1);
  struct Leave {
    Context& c;
    ~Leave() {
      c.waiting = static_cast<int>(Collective::None);
      c.progress.fetch_add(1);
    }
  } leave{c};
  try {
    return run();
  } catch (const std::exception&) {
    const auto give_up = Clock::now() + std::chrono::seconds(3);
    while (c.ending || Clock::now() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    throw;
  }
}

void stop_watchdog(Context& c) {
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stop = true;
  }
  c.wake.notify_all();
  if (c.watchdog.joinable()) c.watchdog.join();
}

void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

uint64_t get_u64(const std::string& in, size_t& at) {
  LITESTAGE_CHECK(at + sizeof(uint64_t) <= in.size(), "distributed: truncated message");
  uint64_t v;
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return v;
}

}  // namespace

bool available() { return Group::available(); }

void init(const LaunchInfo& info) {
  auto& c = context();
  LITESTAGE_CHECK(!c.group, "distributed: init called twice");
  c.info = info;
  c.errors = stderr;
  if (info.world_size <= 1) return;
  LITESTAGE_CHECK(available(), "WORLD_SIZE is ", info.world_size,
                  " but this build has no distributed support (install libgloo-dev and reconfigure)");
  c.group = Group::create(info);
  quiet_non_root(c);
  c.stop = false;
  c.watchdog = std::thread([&c] { watch(c); });
}

void finalize() {
  auto& c = context();
  if (!c.group) return;
  barrier();
  stop_watchdog(c);
  barrier();
  c.group.reset();
}

void abort(const std::string& message) {
  auto& c = context();
  if (!c.group) return;
  stop_watchdog(c);
  try {
    c.group->set_abort("rank " + std::to_string(c.info.rank) + ": " + message);
  } catch (const std::exception&) {
    return;  // the store is gone: the others notice that on their own
  }
  // Rank 0 holds the TCPStore: stay up until the others have read the message.
  if (c.info.rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2500));
}

int rank() { return context().info.rank; }
int world_size() { return context().info.world_size; }
int local_rank() { return context().info.local_rank; }
bool is_root() { return context().info.rank == 0; }
bool active() { return context().group != nullptr; }
std::FILE* error_stream() { return context().errors ? context().errors : stderr; }

void progress() { context().progress.fetch_add(1, std::memory_order_relaxed); }

std::vector<std::string> all_gather(const std::string& mine) {
  auto& c = context();
  if (!c.group) return {mine};
  return collective(Collective::AllGather, [&] { return c.group->all_gather(mine); });
}

std::string broadcast(const std::string& value_on_root) {
  auto& c = context();
  if (!c.group) return value_on_root;
  return collective(Collective::Broadcast, [&] { return c.group->broadcast(value_on_root); });
}

void barrier() {
  auto& c = context();
  if (c.group) collective(Collective::Barrier, [&] { c.group->barrier(); });
}

std::vector<size_t> shard(size_t n) {
  std::vector<size_t> out;
  for (size_t i = static_cast<size_t>(rank()); i < n; i += static_cast<size_t>(world_size())) out.push_back(i);
  return out;
}

std::vector<std::string> map_gathered(size_t n, const std::function<std::string(size_t)>& work, size_t round,
                                      const RoundCallback& on_round) {
  const auto W = static_cast<size_t>(world_size());
  const auto mine = shard(n);
  const size_t per_rank = (n + W - 1) / W;  // the largest share: every rank runs this many rounds
  if (round == 0) round = std::max<size_t>(1, per_rank);
  std::vector<std::string> results(n);
  size_t done = 0;
  for (size_t start = 0; start < per_rank; start += round) {
    std::string batch;
    for (size_t t = start; t < std::min(start + round, mine.size()); ++t) {
      progress();
      const std::string r = work(mine[t]);
      put_u64(batch, r.size());
      batch += r;
    }
    const auto gathered = all_gather(batch);
    for (size_t p = 0; p < gathered.size(); ++p) {
      size_t at = 0;
      for (size_t t = start; at < gathered[p].size(); ++t) {
        const auto size = get_u64(gathered[p], at);
        LITESTAGE_CHECK(at + size <= gathered[p].size(), "distributed: truncated result from rank ", p);
        const size_t item = p + W * t;
        LITESTAGE_CHECK(item < n, "distributed: rank ", p, " sent a result for item ", item, " of ", n);
        results[item] = gathered[p].substr(at, size);
        at += size;
      }
    }
    // Round-robin shares: after this round every item below W * (start + round) is finished.
    const size_t finished = std::min(n, W * (start + round));
    if (on_round) on_round(done, finished, results);
    done = finished;
  }
  return results;
}

std::string from_root(const std::function<std::string()>& read) { return broadcast(is_root() ? read() : std::string()); }

void read_jsonl_from_root(const std::string& path, const std::function<void(const nlohmann::json&)>& fn,
                          const std::string& what) {
  auto records = nlohmann::json::array();
  if (is_root()) read_jsonl(path, [&](const nlohmann::json& j) { records.push_back(j); }, what);
  if (active()) {
    const auto text = broadcast(is_root() ? records.dump() : std::string());
    if (!is_root()) records = nlohmann::json::parse(text);
  }
  for (const auto& j : records) fn(j);
}

void write_output(const std::string& path, const std::string& content) {
  if (is_root()) write_file_atomic(path, content);
}

}  // namespace litestage::dist
