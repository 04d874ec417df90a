#include "child_process.hpp"

#include <sys/socket.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include "guarded_process.hpp"
#include "run.hpp"
#include "server_process.hpp"
#include "timeouts.hpp"

namespace csd::harness {

using namespace std::chrono_literals;
using detail::Clock;

ChildProcess::ChildProcess(const std::vector<std::string>& argv)
    : process_(std::make_unique<detail::GuardedProcess>(argv, /*stdin_pipe=*/true)) {
  const auto pid = process_->find_program(deadline_in(5s));
  if (pid) {
    pid_ = *pid;
    return;
  }
  process_->output().wait_eof(Clock::now() + 1s);
  // A program that runs for a millisecond (csd-sigpipe) can be gone, and the guard with it,
  // before we look: it ran, and wait_exit() has its status. Only an exec failure (csd-guard's
  // status 127 and message) or a program that never appeared is a failed start.
  if (process_->guard_exited()) {
    const auto status = process_->reap();
    const bool exec_failed = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 127 &&
                             process_->output().text().find("csd-guard: exec") != std::string::npos;
    if (status && !exec_failed)
      return;
  }
  throw LaunchError(
      fmt::format("{} did not start; its output:\n{}", argv[0], process_->output().text()));
}

ChildProcess::~ChildProcess() = default;  // GuardedProcess kills what is left

std::string ChildProcess::output() const { return process_->output().text(); }

bool ChildProcess::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
  return process_->output().wait_for(needle, deadline_in(timeout));
}

bool ChildProcess::write_stdin(std::string_view text) {
  auto& pipe = process_->stdin_pipe();
  while (!text.empty() && pipe) {
    const ssize_t n = ::send(pipe.get(), text.data(), text.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return text.empty();
}

void ChildProcess::close_stdin() { process_->stdin_pipe().reset(); }

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  // csd-guard exits the way the program did, once the program has exited.
  if (!process_->wait_guard_exit(deadline_in(timeout)))
    return std::nullopt;
  return process_->reap();
}

std::string ChildProcess::describe_end(std::optional<int> status,
                                       std::chrono::milliseconds timeout) const {
  if (!status)
    return fmt::format("still running after {} ms", scaled_ms(timeout).count());
  return describe_wait_status(*status);
}

}  // namespace csd::harness
