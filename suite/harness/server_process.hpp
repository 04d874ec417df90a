// A server under test as a child process: started from a manifest with
// Boost.Process (no shell), under csd-guard (a subreaper in its own process
// group that kills the whole tree if the suite dies, even by SIGKILL), ready
// when it prints "listening on HOST:PORT" or its port is listening, stopped
// with a report of what had to be killed. Knows nothing of any one design.
//
// Use a ServerProcess from ONE long-lived thread, the gtest main thread (test
// bodies, SetUp/TearDown, SetUpTestSuite all run there). The kernel's
// parent-death signal, which tells csd-guard that the suite died, fires when
// the *thread* that started the server exits: a server started from a
// short-lived std::thread is killed when that thread ends. The free functions
// of procfs.hpp and sockdiag.hpp are safe from any thread.
//
// Processes: the suite -> csd-guard -> the server's main process (pid(), its
// own process group) -> whatever it forks. Anything of the tree whose parent
// dies re-parents to csd-guard, so nothing escapes, not even a setsid()ed
// double fork. csd-guard is found next to the running executable (build/bin),
// or at $CSD_GUARD.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "manifest.hpp"

namespace csd::harness {

// Thrown when a server does not start or does not become ready. what() says
// what was awaited and includes the server's output so far.
class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LaunchOptions {
  std::string host = "127.0.0.1";
  std::optional<int> workers;     // overrides the manifest's
  std::optional<int> nofile;      // overrides the manifest's RLIMIT_NOFILE
  int backlog = kDefaultBacklog;  // for {backlog}
  std::chrono::milliseconds ready_timeout{15000};
};

struct StopReport {
  int signal_sent = 0;
  bool exited_in_time =
      false;  // the whole tree was gone within the grace period (or before stop())
  // Raw wait status of the server's main process (csd-guard exits the way it
  // did): use WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG.
  std::optional<int> exit_status;
  std::vector<std::string> killed;  // "PID (comm)" of processes SIGKILLed after the grace period
  std::chrono::milliseconds took{0};
  std::string output;  // everything the server wrote, stdout and stderr interleaved
};

class ServerProcess {
 public:
  // Leases a port, starts the command and waits until the server is ready:
  // its output contains "listening on" OR a TCP socket listens on the port,
  // whichever comes first (servers that print nothing, or print late, are
  // ready by the port). So the line may not be in output() yet when start()
  // returns: use wait_for_output() to read it. Throws LaunchError (after
  // killing the tree) if it exits first or is not ready in time.
  static std::unique_ptr<ServerProcess> start(const Manifest& manifest,
                                              const LaunchOptions& options = {});
  ~ServerProcess();  // stops (SIGTERM, then SIGKILL) if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] const std::string& host() const;
  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] int workers() const;  // as passed in {workers}
  [[nodiscard]] pid_t pid() const;    // the server's main process (not csd-guard)
  // pid() first (while it lives) and every other process below csd-guard,
  // live now: descendants of pid(), and orphans they left behind. Zombies
  // not yet reaped by their parent are included (read_proc(p)->state == 'Z').
  // Empty after stop().
  [[nodiscard]] std::vector<pid_t> tree() const;
  [[nodiscard]] const std::string& name() const;

  // Everything the server has written so far, stdout and stderr interleaved
  // (a background thread drains the pipe, so a chatty server never blocks on
  // it; beyond 32 MiB the rest is counted, not kept).
  [[nodiscard]] std::string output();
  // Waits until the output contains `needle`; false at the deadline.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);

  // Waits until the tree has exactly `count` processes (e.g. a pool's
  // parent + workers after start); false at the deadline.
  bool wait_for_tree_size(std::size_t count, std::chrono::milliseconds timeout) const;

  // Waits until a pool has all its workers, by its traits: a process pool's
  // tree is the parent and workers() processes; a thread pool's main process
  // has at least workers() + 1 threads. True at once for a design without a
  // pool or a manifest without a worker count; false at the deadline.
  bool wait_for_full_pool(std::chrono::milliseconds timeout) const;

  // Sends `sig` to the main process (if it has already exited, to what it
  // left behind), waits up to `grace` for the whole tree to exit, SIGKILLs
  // what is left and says so, reaps csd-guard. Idempotent: later calls return
  // the first report.
  StopReport stop(int sig = 15 /*SIGTERM*/,
                  std::chrono::milliseconds grace = std::chrono::milliseconds{1000});
  // True while the main process has not exited (workers may outlive it: see tree()).
  [[nodiscard]] bool running() const;

  struct Impl;

 private:
  explicit ServerProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The first line of a sanitizer report (ThreadSanitizer, AddressSanitizer,
// LeakSanitizer, UndefinedBehaviorSanitizer) in a server's output, if any: a
// sanitized build that keeps running after a report (TSan's default) must
// still fail the test that provoked it.
std::optional<std::string> find_sanitizer_report(std::string_view output);

// From any thread, unlike the rest: kills the tree of every process the
// harness has started and not yet stopped (servers, demo programs), through
// their csd-guards, for a check that outlived its budget: whatever it waits
// on then ends. The owners still stop and reap them as usual. Returns how
// many trees it ended.
int end_every_process_tree();

}  // namespace csd::harness
