// Child processes: forking one that cannot outlive its parent, reaping,
// stopping a set of them on shutdown, and counting per-child work in memory
// the children share with the parent.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "signal_pipe.hpp"

namespace csd::impl {

// fork() for a worker. In the child (returns 0): the SignalPipe is released
// (default dispositions, pipe closed) and PR_SET_PDEATHSIG makes the kernel
// SIGKILL it when the parent dies, with the getppid() check that closes the
// race of a parent dying before prctl(). Signals are blocked across fork() so
// none lands in the child while it still has the parent's handlers.
// Returns -1 with errno set when fork() fails.
pid_t fork_worker();

struct ChildExit {
  pid_t pid;
  int status;  // as from waitpid()
};

// waitpid(-1, WNOHANG) until nothing is left to collect: call it when
// SIGCHLD arrives, so no child stays a zombie.
std::vector<ChildExit> reap_children();

// For a pool of worker processes, on SIGCHLD: reaps every child that exited;
// each that is one of `children` is logged and replaced in its slot by
// `respawn(slot)`, so the pool keeps its size.
void replace_dead_children(std::vector<pid_t>& children, const std::function<pid_t(std::size_t)>& respawn);

// "exited with status 1" / "killed by signal 9 (Killed)".
std::string describe_exit(int status);

// Shutdown: SIGTERM to each of `pids`, then waits for all of them, waking on
// SIGCHLD through `signals` (which must catch SIGCHLD); whatever is still
// alive after `grace` gets SIGKILL. Returns when every one is reaped.
void stop_children(SignalPipe& signals, std::span<const pid_t> pids,
                   std::chrono::milliseconds grace = std::chrono::milliseconds{500});

// The life of a pool of worker processes forked up front around a shared
// listener (csd-prefork, csd-prefork-lock) or each with its own
// (csd-reuseport). Forks `size` children, child
// `slot` running `child_main(slot)`, which should never return (an exception
// there is logged and ends that child with status 1); calls `ready()` once
// they all exist (the place to announce listening). From then on the parent
// only looks after the pool: a child that dies unasked (a crash, a kill -9)
// is logged and replaced in its slot. On SIGINT/SIGTERM it stops and reaps
// the children, and returns. Throws std::system_error if fork() fails.
void run_worker_pool(std::size_t size, const std::function<void(std::size_t slot)>& child_main,
                     const std::function<void()>& ready);

// N counters in a MAP_SHARED|MAP_ANONYMOUS mapping made before fork():
// children increment theirs, the parent reads them all, no locks needed.
class SharedCounters {
 public:
  explicit SharedCounters(std::size_t count);
  ~SharedCounters();
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;

  std::atomic<uint64_t>& operator[](std::size_t i) { return slots_[i]; }
  [[nodiscard]] std::vector<uint64_t> snapshot() const;

 private:
  std::span<std::atomic<uint64_t>> slots_;
};

// The seed's distribution report, one line per child: "child 0 : 127 times".
void print_counts(std::span<const uint64_t> counts);

}  // namespace csd::impl
