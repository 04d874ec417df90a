// csd-selfpipe: csd-selsigrace fixed with the self-pipe trick (D. J. Bernstein; the
// seed's selfpipe.py). The handler writes a byte to a non-blocking pipe, and select()
// waits on the pipe's read end with stdin: a signal that comes before select() leaves
// its byte in the pipe, so select() returns at once. The loop drains the pipe, or it
// would stay readable and report the same signal forever.
// More: impl/README.md, "csd-selfpipe, csd-pselect, csd-signalfd".
#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>

#include <fmt/core.h>

#include "fd.hpp"
#include "signal_demo.hpp"

using namespace csd::impl;
using csd::demo::say;

namespace {

int g_pipe_write = -1;

extern "C" void on_sigusr1(int /*sig*/) {
  const int saved_errno = errno;  // the interrupted code may be about to read errno
  const char byte = 1;
  // Non-blocking: when the pipe is full a wake-up is pending anyway, and a blocking
  // write here would hang the process inside its own handler.
  [[maybe_unused]] const ssize_t n = ::write(g_pipe_write, &byte, 1);
  errno = saved_errno;
}

// Reads the pipe empty (until EAGAIN): one wake-up however many bytes are in it.
void drain(int fd) {
  std::array<char, 64> buf{};
  while (Read(fd, buf) > 0) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned signals = csd::demo::parse_signal_count(
      "csd-selfpipe", "the select/signal race fixed with a self-pipe", argc, argv);
  return run_main("csd-selfpipe", [&] {
    int ends[2];
    if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) < 0)
      throw syscall_error("pipe2");
    const csd::Fd pipe_read(ends[0]);
    const csd::Fd pipe_write(ends[1]);
    g_pipe_write = pipe_write.get();

    struct sigaction sa {};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // as in csd-selsigrace; EINTR no longer matters: Select() retries it
    if (::sigaction(SIGUSR1, &sa, nullptr) < 0)
      throw syscall_error("sigaction");

    // The same window as csd-selsigrace: a SIGUSR1 now leaves a byte in the pipe.
    say(fmt::format("pid {}: SIGUSR1 handler installed; reading a line from stdin", ::getpid()));
    csd::demo::read_stdin_line();
    say("got the line; waiting in select() on stdin and the pipe");

    for (unsigned got = 0; got < signals;) {
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(STDIN_FILENO, &readable);
      FD_SET(pipe_read.get(), &readable);
      Select(std::max(STDIN_FILENO, pipe_read.get()) + 1, &readable, nullptr, nullptr);
      if (FD_ISSET(pipe_read.get(), &readable)) {
        drain(pipe_read.get());
        say("Got signal");
        ++got;
      }
      if (FD_ISSET(STDIN_FILENO, &readable) && !csd::demo::stdin_still_open())
        throw std::runtime_error("stdin closed before the signal came");
    }
    return 0;
  });
}
