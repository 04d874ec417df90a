// What csd-selsigrace and its three fixes share, so each file shows only its way of
// waiting: the command line (--signals N), the window (a blocking read of one line from
// stdin, during which the test or a person sends SIGUSR1), and what the select loop does
// when stdin itself is readable. Header-only: the demos link nothing new for it.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::demo {

// `--signals N` (default 1): how many SIGUSR1 to report with "Got signal" before
// exiting 0. With 2, a fix shows that after the first it goes back to sleep, neither
// spinning nor reporting one signal twice. --help prints usage; bad input exits 2.
inline unsigned parse_signal_count(std::string_view name, std::string_view description, int argc,
                                   char** argv) {
  unsigned signals = 1;
  CLI::App app{std::string(description), std::string(name)};
  app.add_option("--signals", signals, "Report this many SIGUSR1, then exit 0")
      ->capture_default_str()
      ->check(CLI::Range(1U, 1000U));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::exit(2);
  }
  return signals;
}

// One line on stdout, written at once (stdout is often a pipe: no stdio buffering).
inline void say(std::string_view line) { impl::Write(STDOUT_FILENO, std::string(line) + "\n"); }

// The window: blocks in read() on stdin until a whole line has come. A signal that
// interrupts the read (no SA_RESTART) is retried by Read(): to this loop it is as if
// it had come a moment before select(), which is the race.
inline void read_stdin_line() {
  std::array<char, 256> buf{};
  for (;;) {
    const ssize_t n = impl::Read(STDIN_FILENO, buf);
    if (n < 0)
      throw impl::syscall_error("read");
    if (n == 0)
      throw std::runtime_error("stdin closed before a line came");
    if (std::string_view(buf.data(), static_cast<std::size_t>(n)).find('\n') !=
        std::string_view::npos)
      return;
  }
}

// stdin is in the select set only to notice that it closed (then nobody will ever
// send the signal): reads what is there; false at end of file.
inline bool stdin_still_open() {
  std::array<char, 256> buf{};
  const ssize_t n = impl::Read(STDIN_FILENO, buf);
  if (n < 0)
    throw impl::syscall_error("read");
  return n > 0;
}

}  // namespace csd::demo
