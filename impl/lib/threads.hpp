// What the threaded designs (csd-thread, csd-prethreaded,
// csd-prethreaded-main) repeat: stopping threads that sit in read() or
// write() on a client, keeping signals on the main thread, and the
// per-thread accept report.
//
// A child process can be stopped with a signal; a thread cannot. A thread
// blocked in read() on a silent client wakes only when that socket does
// something, so the server keeps the set of connections being served, and on
// SIGINT/SIGTERM it calls shutdown(SHUT_RDWR) on each: blocked reads return
// EOF and blocked writes fail with EPIPE, at once, and the threads finish.
#pragma once

#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <span>
#include <unordered_set>

#include <fmt/core.h>

#include "fd.hpp"
#include "protocols.hpp"
#include "request_reader.hpp"
#include "syserr.hpp"

namespace csd::impl {

// The connections being served right now.
class LiveConnections {
 public:
  // Registers `fd`. Returns false once shutdown_all() has run: the server is
  // stopping, and the caller should just close the connection.
  bool add(int fd) {
    const std::scoped_lock lock(mutex_);
    if (stopping_)
      return false;
    fds_.insert(fd);
    return true;
  }

  // Forgets `fd`. Call it before closing the descriptor, so shutdown_all()
  // never touches a number that close() freed and something else reused.
  void remove(int fd) {
    const std::scoped_lock lock(mutex_);
    fds_.erase(fd);
    if (fds_.empty())
      emptied_.notify_all();
  }

  [[nodiscard]] std::size_t size() const {
    const std::scoped_lock lock(mutex_);
    return fds_.size();
  }

  // Stopping: no more add(), and every live connection is shut down, which
  // wakes the thread serving it.
  void shutdown_all() {
    const std::scoped_lock lock(mutex_);
    stopping_ = true;
    for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // ENOTCONN (client already gone) is fine
  }

  // Returns when every registered connection has been removed.
  void wait_until_empty() {
    std::unique_lock lock(mutex_);
    emptied_.wait(lock, [this] { return fds_.empty(); });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable emptied_;
  std::unordered_set<int> fds_;
  bool stopping_ = false;
};

// serve_blocking() for a connection already add()ed to `live`: it is removed
// from `live` before it closes.
inline void serve_registered(LiveConnections& live, Fd conn, Protocol protocol,
                             uint64_t max_bytes) {
  if (protocol == Protocol::echo) {
    echo_until_eof(conn.get());
  } else if (const auto n = read_size_request(conn.get(), max_bytes)) {
    send_size_reply(conn.get(), *n);
  }
  live.remove(conn.get());
}  // conn closes here

// SIGINT and SIGTERM blocked in this thread while the object lives. Threads
// started meanwhile inherit the mask, so those signals are only ever handled
// by the main thread, whose loop waits for them; the workers' calls are never
// interrupted.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (const int err = ::pthread_sigmask(SIG_BLOCK, &set, &old_); err != 0)
      throw syscall_error("pthread_sigmask", err);
  }
  ~StopSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t old_{};
};

// The seed's distribution report for a pool of threads, one line per
// thread: "thread 0 : 127 times".
inline void print_thread_counts(std::span<const std::atomic<uint64_t>> counts) {
  for (std::size_t i = 0; i < counts.size(); ++i)
    fmt::print("thread {} : {} times\n", i, counts[i].load());
  std::fflush(stdout);
}

}  // namespace csd::impl
