// csd-selsigrace: the race between installing a signal handler and entering select()
// (the seed's selsigrace.py). The handler only sets a flag, and the loop looks at the
// flag when select() fails with EINTR. A SIGUSR1 that comes before select() sleeps is
// handled, the flag set, and select() sleeps anyway: the signal is lost until another
// one comes. Here the window is held open by a blocking read of one line from stdin,
// so the race is lost on every run. Fixes: csd-selfpipe, csd-pselect, csd-signalfd.
// More: impl/README.md, "csd-selsigrace".
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
      "csd-selsigrace", "the select/signal race: a SIGUSR1 before select() is lost", argc, argv);
  return run_main("csd-selsigrace", [&] {
    struct sigaction sa {};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: select() must fail with EINTR, that is how we notice
    if (::sigaction(SIGUSR1, &sa, nullptr) < 0)
      throw syscall_error("sigaction");

    // The window opens: from here until select() sleeps, a SIGUSR1 sets the flag and
    // nobody looks at it. (Looking at it just before select() would only narrow the
    // window, not close it.)
    say(fmt::format("pid {}: SIGUSR1 handler installed; reading a line from stdin", ::getpid()));
    csd::demo::read_stdin_line();
    say("got the line; waiting in select()");

    for (unsigned got = 0; got < signals;) {
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(STDIN_FILENO, &readable);
      // Raw select(), not Select(): that wrapper restarts on EINTR, and EINTR is the
      // only way this loop learns of a signal.
      const int ready = ::select(STDIN_FILENO + 1, &readable, nullptr, nullptr, nullptr);
      if (ready < 0 && errno == EINTR) {
        if (g_got_signal != 0) {
          g_got_signal = 0;
          say("Got signal");
          ++got;
        }
        continue;
      }
      if (ready < 0)
        throw syscall_error("select");
      if (!csd::demo::stdin_still_open())
        throw std::runtime_error("stdin closed before the signal came");
    }
    return 0;
  });
}
