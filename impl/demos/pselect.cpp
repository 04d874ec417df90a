// csd-pselect: csd-selsigrace fixed with pselect() (POSIX.1g; UNP 20.5). SIGUSR1 stays
// blocked all the time except inside pselect(), which installs the mask it is given and
// sleeps in one step: a SIGUSR1 that came in the window waits, pending, and interrupts
// pselect() the moment it unblocks it. The flag is then read where it cannot change.
// More: impl/README.md, "csd-selfpipe, csd-pselect, csd-signalfd".
#include <sys/select.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <fmt/core.h>

#include "signal_demo.hpp"

using namespace csd::impl;
using csd::demo::say;

namespace {

volatile sig_atomic_t g_got_signal = 0;

extern "C" void on_sigusr1(int /*sig*/) { g_got_signal = 1; }

}  // namespace

int main(int argc, char** argv) {
  const unsigned signals = csd::demo::parse_signal_count(
      "csd-pselect", "the select/signal race fixed with pselect()", argc, argv);
  return run_main("csd-pselect", [&] {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigset_t while_waiting;  // the mask pselect() sleeps with: ours, SIGUSR1 let through
    if (::sigprocmask(SIG_BLOCK, &usr1, &while_waiting) < 0)
      throw syscall_error("sigprocmask");
    sigdelset(&while_waiting, SIGUSR1);

    struct sigaction sa {};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: pselect() fails with EINTR when the handler ran
    if (::sigaction(SIGUSR1, &sa, nullptr) < 0)
      throw syscall_error("sigaction");

    // The same window: a SIGUSR1 now is blocked, so it stays pending (ShdPnd in
    // /proc/PID/status) and the read() below is not even interrupted.
    say(fmt::format("pid {}: SIGUSR1 blocked; reading a line from stdin", ::getpid()));
    csd::demo::read_stdin_line();
    say("got the line; waiting in pselect()");

    for (unsigned got = 0; got < signals;) {
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(STDIN_FILENO, &readable);
      // Raw pselect(): EINTR is how the signal shows, as in csd-selsigrace. The
      // difference is that SIGUSR1 can only arrive while pselect() sleeps.
      const int ready =
          ::pselect(STDIN_FILENO + 1, &readable, nullptr, nullptr, nullptr, &while_waiting);
      if (ready < 0 && errno == EINTR) {
        if (g_got_signal != 0) {  // safe: SIGUSR1 is blocked again
          g_got_signal = 0;
          say("Got signal");
          ++got;
        }
        continue;
      }
      if (ready < 0)
        throw syscall_error("pselect");
      if (!csd::demo::stdin_still_open())
        throw std::runtime_error("stdin closed before the signal came");
    }
    return 0;
  });
}
