// A server under test as a child process: started from a manifest with
// Boost.Process (no shell), under csd-guard (a subreaper in its own process
// group that kills the whole tree if the suite dies, even by SIGKILL), ready
// when it prints "listening on HOST:PORT" or its port is listening, stopped
// with a report of what had to be killed. Knows nothing of any one design.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
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
  std::optional<int> workers;  // overrides the manifest's
  std::chrono::milliseconds ready_timeout{15000};
};

struct StopReport {
  int signal_sent = 0;
  bool exited_in_time = false;  // the whole tree was gone within the grace period
  std::optional<int> exit_status;  // raw wait status of the server's main process
  std::vector<std::string> killed;  // "PID (comm)" of processes SIGKILLed after the grace period
  std::chrono::milliseconds took{0};
  std::string output;  // everything the server wrote, stdout and stderr interleaved
};

class ServerProcess {
 public:
  static std::unique_ptr<ServerProcess> start(const Manifest& manifest, const LaunchOptions& options = {});
  ~ServerProcess();  // stops (SIGTERM, then SIGKILL) if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] const std::string& host() const;
  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] int workers() const;  // as passed in {workers}
  [[nodiscard]] pid_t pid() const;    // the server's main process (not csd-guard)
  [[nodiscard]] std::vector<pid_t> tree() const;  // pid() and its descendants, live now
  [[nodiscard]] const std::string& name() const;

  // Everything the server has written so far (drains its pipe without blocking).
  [[nodiscard]] std::string output();
  // Waits until the output contains `needle`; false at the deadline.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);

  // Waits until the tree has exactly `count` processes (e.g. a pool's
  // parent + workers after start); false at the deadline.
  bool wait_for_tree_size(std::size_t count, std::chrono::milliseconds timeout);

  // Sends `sig` to the main process, waits up to `grace` for the whole tree to
  // exit, SIGKILLs what is left and says so. Idempotent.
  StopReport stop(int sig = 15 /*SIGTERM*/, std::chrono::milliseconds grace = std::chrono::milliseconds{1000});
  [[nodiscard]] bool running() const;

  struct Impl;

 private:
  explicit ServerProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace csd::harness
