// A program the suite drives and watches as it runs, not a server: a demo
// that is fed a line on its stdin, signalled at the right moment, and judged
// by how it ends (exit status, or the signal that killed it). It runs under
// csd-guard like a server, so it dies with the suite, even by SIGKILL.
//
// Use it from one long-lived thread, the gtest main thread (see
// server_process.hpp for why).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::harness {

namespace detail {
class GuardedProcess;
}

class ChildProcess {
 public:
  // Starts argv (argv[0] a path, or a name in $PATH) with a pipe on its
  // stdin. Throws LaunchError if it cannot start (exec fails), or if its
  // process does not appear within 5 s.
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();  // kills the whole tree if it is still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The program's own pid (below csd-guard), for /proc and for kill(); -1 if it had already
  // exited when the constructor looked (a program that runs for a millisecond): wait_exit()
  // still says how it ended.
  [[nodiscard]] pid_t pid() const { return pid_; }

  // Everything it wrote so far, stdout and stderr interleaved.
  [[nodiscard]] std::string output() const;
  // Waits until its output contains `needle`; false at the deadline.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);

  // Writes to its stdin; false if it is closed (the program is gone).
  bool write_stdin(std::string_view text);
  void close_stdin();

  // Waits for it to exit by `timeout` and returns its raw wait status
  // (WIFEXITED, WTERMSIG...); nullopt at the deadline (it is then still
  // running: the destructor kills it).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  // "exited 0", "killed by signal 13 (SIGPIPE)", "still running after 2000 ms".
  [[nodiscard]] std::string describe_end(std::optional<int> status,
                                         std::chrono::milliseconds timeout) const;

 private:
  std::unique_ptr<detail::GuardedProcess> process_;
  pid_t pid_ = -1;
};

}  // namespace csd::harness
