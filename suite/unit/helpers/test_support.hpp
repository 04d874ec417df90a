// What the harness unit tests share: where the helper programs are, a child
// process started without the harness (so procfs and sockdiag tests do not
// depend on ServerProcess), and a scoped child subreaper.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fd.hpp"
#include "procfs.hpp"

namespace csd::unit {

// bin/csd-unit-helper-server (see helpers/fake_server.cpp).
inline std::string helper_server() { return CSD_UNIT_HELPER_SERVER; }

// Makes this process a child subreaper for the scope: orphans of our
// children re-parent to us instead of to PID 1 (which, in a container, may
// never reap them), so a test can reap what it orphaned.
class SubreaperScope {
 public:
  SubreaperScope() {
    ::prctl(PR_GET_CHILD_SUBREAPER, &was_);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  ~SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, was_); }
  SubreaperScope(const SubreaperScope&) = delete;
  SubreaperScope& operator=(const SubreaperScope&) = delete;

 private:
  int was_ = 0;
};

// A helper program started with fork+exec, stdout to a pipe, in its own
// process group; SIGKILLed (the whole group) and reaped when destroyed.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
    Fd read_end(ends[0]);
    Fd write_end(ends[1]);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(126);
      ::dup2(write_end.get(), STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // both sides set it: no window in which a kill(-pid) misses
    out_ = std::move(read_end);
  }
  // Kills the helper and everything it forked, and reaps them all: as a
  // subreaper for the moment, its orphans re-parent to us, not to PID 1
  // (which, in a container, may never reap them).
  ~ChildProcess() {
    const SubreaperScope subreaper;
    const std::vector<pid_t> below = harness::descendants(pid_);
    ::kill(-pid_, SIGKILL);
    for (const pid_t pid : below) ::kill(pid, SIGKILL);  // also any that left the process group
    ::waitpid(pid_, nullptr, 0);
    for (const pid_t pid : below)
      ::waitpid(pid, nullptr, 0);  // ECHILD if the helper reaped it first
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  // The first line of its stdout starting with `prefix`; nullopt at EOF or the deadline.
  std::optional<std::string> read_line_starting(std::string_view prefix,
                                                std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto eol = buffer_.find('\n'); eol != std::string::npos; eol = buffer_.find('\n')) {
        std::string line = buffer_.substr(0, eol);
        buffer_.erase(0, eol + 1);
        if (line.rfind(prefix, 0) == 0)
          return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{out_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[4096];
      const ssize_t n = ::read(out_.get(), buf, sizeof buf);
      if (n == 0)
        return std::nullopt;
      if (n > 0)
        buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  pid_t pid_ = -1;
  Fd out_;
  std::string buffer_;
};

}  // namespace csd::unit
