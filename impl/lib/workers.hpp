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
#include <new>
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

// For a pool of worker processes, on SIGCHLD (run_worker_pool's, and
// csd-prefork-fdpass's own loop): reaps every child that exited; each that is
// one of `children` (the pids by slot) is logged ("child 1 (pid 4242) killed
// by signal 9 (Killed); starting a new one") and replaced in its slot by the
// pid `respawn(slot)` returns, so the pool keeps its size.
void replace_dead_children(std::vector<pid_t>& children,
                           const std::function<pid_t(std::size_t)>& respawn);

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

// A MAP_SHARED|MAP_ANONYMOUS mapping of `bytes` (throws std::system_error
// "mmap: ..."), and its release. SharedAtomics' memory.
void* map_shared(std::size_t bytes);
void unmap_shared(void* mem, std::size_t bytes);

// N atomics in a shared mapping made before fork(): every process of the
// pool sees the others' stores, no locks needed. Lock-free atomics hold no
// per-process state, which is what makes them work across processes.
template <typename T>
class SharedAtomics {
  static_assert(std::atomic<T>::is_always_lock_free, "shared between processes");

 public:
  explicit SharedAtomics(std::size_t count, T initial = T{}) {
    auto* first = static_cast<std::atomic<T>*>(map_shared(count * sizeof(std::atomic<T>)));
    for (std::size_t i = 0; i < count; ++i)
      new (first + i) std::atomic<T>(initial);  // placement, not allocation
    slots_ = {first, count};
  }
  ~SharedAtomics() { unmap_shared(slots_.data(), slots_.size_bytes()); }
  SharedAtomics(const SharedAtomics&) = delete;
  SharedAtomics& operator=(const SharedAtomics&) = delete;

  std::atomic<T>& operator[](std::size_t i) { return slots_[i]; }
  [[nodiscard]] std::size_t size() const { return slots_.size(); }
  [[nodiscard]] std::vector<T> snapshot() const {
    std::vector<T> values;
    values.reserve(slots_.size());
    for (const auto& slot : slots_) values.push_back(slot.load());
    return values;
  }

 private:
  std::span<std::atomic<T>> slots_;
};

// Children increment theirs, the parent reads them all.
using SharedCounters = SharedAtomics<uint64_t>;

// The seed's distribution report, one line per child: "child 0 : 127 times".
void print_counts(std::span<const uint64_t> counts);

}  // namespace csd::impl
