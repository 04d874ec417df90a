// csd-signalfd: csd-selsigrace fixed with a signalfd (Linux 2.6.22). SIGUSR1 is blocked
// for good and read as data from a descriptor that select() waits on with stdin: no
// handler runs at all. A SIGUSR1 that came in the window is pending, so the descriptor
// is readable when select() looks. Reading it takes the signal off the pending set.
// More: impl/README.md, "csd-selfpipe, csd-pselect, csd-signalfd".
#include <sys/select.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <fmt/core.h>

#include "fd.hpp"
#include "signal_demo.hpp"

using namespace csd::impl;
using csd::demo::say;

int main(int argc, char** argv) {
  const unsigned signals = csd::demo::parse_signal_count(
      "csd-signalfd", "the select/signal race fixed with a signalfd", argc, argv);
  return run_main("csd-signalfd", [&] {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    // Blocked, or the default action (terminate) would run instead of the descriptor
    // becoming readable.
    if (::sigprocmask(SIG_BLOCK, &usr1, nullptr) < 0)
      throw syscall_error("sigprocmask");
    const csd::Fd signals_fd(::signalfd(-1, &usr1, SFD_CLOEXEC));
    if (!signals_fd)
      throw syscall_error("signalfd");

    say(fmt::format("pid {}: SIGUSR1 blocked, signalfd open; reading a line from stdin",
                    ::getpid()));
    csd::demo::read_stdin_line();
    say("got the line; waiting in select() on stdin and the signalfd");

    for (unsigned got = 0; got < signals;) {
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(STDIN_FILENO, &readable);
      FD_SET(signals_fd.get(), &readable);
      Select(std::max(STDIN_FILENO, signals_fd.get()) + 1, &readable, nullptr, nullptr);
      if (FD_ISSET(signals_fd.get(), &readable)) {
        signalfd_siginfo info{};  // one per pending signal; SIGUSR1s pending together merge
        if (::read(signals_fd.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info))
          throw syscall_error("read signalfd");
        say("Got signal");
        ++got;
      }
      if (FD_ISSET(STDIN_FILENO, &readable) && !csd::demo::stdin_still_open())
        throw std::runtime_error("stdin closed before the signal came");
    }
    return 0;
  });
}
