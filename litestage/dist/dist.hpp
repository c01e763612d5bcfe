#pragma once
// Running one command as several processes (ranks) on torch's c10d: rendezvous through a TCPStore
// (or a FileStore on a shared file system), a Gloo process group for the collectives. Launch it
// like a PyTorch job (torchrun, srun, or a shell loop setting RANK / WORLD_SIZE / MASTER_ADDR /
// MASTER_PORT); without those variables the process is rank 0 of 1 and nothing here talks to
// anything.
//
// The context is process-wide, like torch.distributed's default group: the evaluation code asks
// it for its share of the questions and gathers the results, and only rank 0 writes outputs.
// Every rank must make the same sequence of collective calls; code that decides what to run next
// decides from gathered (identical) data or from what rank 0 read and broadcast.
//
// Liveness: a watchdog thread per rank publishes in the store, every second, a beat of its own and
// how far the main thread has got (progress() marks, collectives entered and left); it reads every
// rank's and judges them (liveness.hpp). A rank whose beat stops for `timeout_seconds` (killed,
// frozen, machine gone), a rank that others wait for while its main thread makes no progress for
// `stall_timeout_seconds` (deadlocked, looping), ranks that all wait in collectives that never
// complete, a store that cannot be reached, or a rank that reported an error (abort()) end every
// rank with a clear message and exit status 3.

#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "litestage/dist/launch.hpp"

namespace litestage::dist {

// True when this build has the Gloo process group (otherwise a world larger than 1 is refused).
bool available();

// Joins the world described by `info` (a no-op for a world of 1). Throws when the store cannot be
// reached or the group cannot form within the timeout.
void init(const LaunchInfo& info);
// Leaves the world in order: a barrier, the watchdog stopped, a second barrier (so no rank loses
// the store while another still watches it).
void finalize();
// Reports an error to every rank (they end with it) and returns; the caller then exits.
void abort(const std::string& message);

int rank();
int world_size();
int local_rank();
bool is_root();
bool active();  // more than one rank

// Where this rank's ordinary output goes: rank 0 keeps stdout/stderr; other ranks are quiet
// (their stdout and stderr go to /dev/null) and write errors through error_stream().
std::FILE* error_stream();

// Marks that this rank's main thread has moved on (an item, a question's stage begun): the stall
// rule times the gaps between these marks and collectives. Cheap; call it where work passes
// regularly, so no legitimate step goes LITESTAGE_DIST_STALL_TIMEOUT without one.
void progress();

// Collectives over byte strings (any rank's value may be empty).
std::vector<std::string> all_gather(const std::string& mine);   // in rank order, on every rank
std::string broadcast(const std::string& value_on_root);         // rank 0's value, on every rank
void barrier();

// The items of 0..n-1 this rank runs: i with i % world_size == rank (round-robin, so neighbouring
// questions, which are often alike in length, spread over the ranks).
std::vector<size_t> shard(size_t n);

// Runs `work(i)` for this rank's share of 0..n-1 and returns every item's result, in item order, on
// every rank. Results are exchanged in rounds of `round` items per rank (0: one round); after each,
// `on_round(begin, end, results)` is called on every rank with the items [begin, end) that round
// finished (always the next stretch of item order: progress, journaling in order).
using RoundCallback = std::function<void(size_t begin, size_t end, const std::vector<std::string>& results)>;
std::vector<std::string> map_gathered(size_t n, const std::function<std::string(size_t)>& work, size_t round = 0,
                                      const RoundCallback& on_round = nullptr);

// `read()` run on rank 0, its result on every rank: state that steers the run (journals, finished
// traces, reusable results) is read where it is written, never from each rank's file system.
std::string from_root(const std::function<std::string()>& read);

// read_jsonl(path, fn, what) on rank 0, its records handed to `fn` on every rank, in file order
// (each record parsed once per rank).
void read_jsonl_from_root(const std::string& path, const std::function<void(const nlohmann::json&)>& fn,
                          const std::string& what);

// Writes `content` to `path` atomically on rank 0; other ranks write nothing.
void write_output(const std::string& path, const std::string& content);

}  // namespace litestage::dist
