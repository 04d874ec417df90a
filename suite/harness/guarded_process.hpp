// The machinery under ServerProcess and run_to_completion: a program started
// with Boost.Process (no shell) under csd-guard, its stdout and stderr in one
// pipe drained by a background thread, and the tree below the guard watched
// through /proc and pidfds. Internal to the harness; tests use
// server_process.hpp and run.hpp.
//
// Threads: create and destroy a GuardedProcess on one long-lived thread (the
// gtest main thread). PR_SET_PDEATHSIG, which lets csd-guard notice that we
// died, fires when the *thread* that forked the guard exits, not the process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fd.hpp"
#include "limits.hpp"

namespace csd::harness::detail {

using Clock = std::chrono::steady_clock;

// pidfds: a handle on one process that cannot be confused with a later
// process reusing its pid.
Fd open_pidfd(pid_t pid);            // invalid Fd if the process is gone
bool pidfd_exited(const Fd& pidfd);  // true once the process has exited (zombie or reaped)
bool wait_pidfd(const Fd& pidfd, Clock::time_point deadline);  // true if it exited by the deadline
bool pidfd_signal(const Fd& pidfd, int sig);                   // false if it is gone (or never was)
// Sends `sig` to `pid` if it is (still) a descendant of `ancestor`; false if not.
bool signal_descendant(pid_t pid, pid_t ancestor, int sig);

// Where csd-guard is: $CSD_GUARD if set, else next to the running executable
// (csd-suite, csd-unit and csd-guard all live in build/bin).
std::filesystem::path guard_path();

// Collects everything a pipe delivers, on its own thread, so a chatty
// program never blocks on a full pipe while a test is busy elsewhere.
class OutputCollector {
 public:
  explicit OutputCollector(Fd read_end);
  ~OutputCollector();
  OutputCollector(const OutputCollector&) = delete;
  OutputCollector& operator=(const OutputCollector&) = delete;

  [[nodiscard]] std::string text() const;
  [[nodiscard]] bool contains(std::string_view needle) const;
  // Each waits on a condition variable the reader thread signals.
  bool wait_for(std::string_view needle, Clock::time_point deadline);
  bool wait_eof(Clock::time_point deadline);
  // Returns when more than `seen` bytes have arrived, or at the deadline.
  void wait_for_more(std::size_t seen, Clock::time_point deadline);
  [[nodiscard]] std::size_t size() const;

 private:
  void run();
  void append(const char* data, std::size_t n);

  Fd pipe_;
  Fd wake_;  // eventfd: tells the reader thread to stop
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_;
  std::size_t dropped_ = 0;
  bool eof_ = false;
  std::thread reader_;  // last: started after everything it uses exists
};

class GuardedProcess {
 public:
  // Starts csd-guard -- argv... Throws LaunchError if it cannot be started.
  // The program's stdin is /dev/null, or with `stdin_pipe` a stream socket
  // whose other end is stdin_pipe().
  // The program runs within `limits` (csd-guard --nofile, --max-processes, ...).
  explicit GuardedProcess(const std::vector<std::string>& argv, bool stdin_pipe = false,
                          const ServerLimits& limits = {});
  ~GuardedProcess();  // kills what is left of the tree and reaps the guard; never throws
  GuardedProcess(const GuardedProcess&) = delete;
  GuardedProcess& operator=(const GuardedProcess&) = delete;

  [[nodiscard]] pid_t guard_pid() const { return guard_pid_; }
  [[nodiscard]] bool guard_exited() const { return pidfd_exited(guard_pidfd_); }
  bool wait_guard_exit(Clock::time_point deadline) { return wait_pidfd(guard_pidfd_, deadline); }

  // The program's main process: the guard's oldest child. Waits for it to
  // appear; nullopt if the guard exits first (exec failed, or the program
  // exited at once) or at the deadline.
  std::optional<pid_t> find_program(Clock::time_point deadline);

  // Every live process below the guard, in /proc order of discovery.
  [[nodiscard]] std::vector<pid_t> tree() const;

  // SIGKILLs everything below the guard until the guard, its tree empty,
  // exits by itself; returns "PID (comm)" of each process killed that had not
  // already exited. Last resort after 10 s: SIGTERM, then SIGKILL, the guard.
  std::vector<std::string> kill_tree();

  // Waits for the guard to exit (the caller made sure it will) and reaps it.
  // Returns its raw wait status, which csd-guard makes the program's.
  std::optional<int> reap();

  // SIGTERM to the guard, which kills the whole tree and exits (csd_guard.cpp);
  // false if it is gone. Safe from another thread while this object lives.
  bool end_tree() const { return pidfd_signal(guard_pidfd_, SIGTERM); }

  OutputCollector& output() { return *output_; }
  // Our end of the program's stdin (invalid without `stdin_pipe`): send()
  // to it with MSG_NOSIGNAL; reset() it to send EOF.
  Fd& stdin_pipe() { return stdin_; }

  struct Launch;  // Boost.Process state, kept out of this header

 private:
  void register_live() const;  // for end_every_tree(), once started

  std::unique_ptr<Launch> launch_;
  pid_t guard_pid_ = -1;
  Fd guard_pidfd_;
  std::unique_ptr<OutputCollector> output_;
  Fd stdin_;
  std::optional<int> status_;
};

// From any thread: end_tree() of every GuardedProcess alive (a check that
// outlived its budget: csd-suite's budget watch). Returns how many it signalled.
int end_every_tree();

}  // namespace csd::harness::detail
