// Signals, the event-loop way (the "self-pipe trick"): the handler only
// records the signal and writes a byte to a pipe, and the loop waits for that
// pipe with the same poll()/select() that waits for sockets. Nothing risky
// runs in a handler, and no signal can slip in between "check the flag" and
// "block in accept()/select()" (the classic race), because the byte stays in
// the pipe until the loop reads it.
#pragma once

#include <bitset>
#include <csignal>
#include <initializer_list>

#include "fd.hpp"

namespace csd::impl {

// A client that resets mid-reply must cost an EPIPE error, not the process.
void ignore_sigpipe();

// SIGINT and SIGTERM end the process at once with status 0, like UNP's
// sig_int(): for a server with no loop to return to (csd-iterative), stuck
// in a blocking read() or write() on a client. The kernel closes its sockets.
void exit_on_stop_signals();

// Which signals arrived since the last drain().
class SignalSet {
 public:
  void add(int sig) { bits_.set(static_cast<std::size_t>(sig)); }
  [[nodiscard]] bool has(int sig) const { return bits_.test(static_cast<std::size_t>(sig)); }
  [[nodiscard]] bool empty() const { return bits_.none(); }
  // SIGINT or SIGTERM: time to stop.
  [[nodiscard]] bool stop() const { return has(SIGINT) || has(SIGTERM); }

 private:
  std::bitset<NSIG> bits_;
};

// One per process. Installs handlers (SA_RESTART) for `signals`; the
// destructor puts the default dispositions back.
class SignalPipe {
 public:
  explicit SignalPipe(std::initializer_list<int> signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // Readable when a signal arrived: put it in the poll()/select() set.
  [[nodiscard]] int fd() const { return read_.get(); }

  // Empties the pipe and returns the signals that arrived. Each handler also
  // sets a flag, so even a signal whose byte found the pipe full is seen.
  SignalSet drain();

  // Waits until a signal arrives, or `timeout_ms` passes (-1: no limit), and
  // drains: the loop of a process whose only events are signals (a pool's
  // parent, a thread pool's main thread).
  SignalSet wait(int timeout_ms = -1);

  // In a freshly forked child: default dispositions back, pipe closed, so the
  // child's signals neither run the parent's handlers nor wake its loop.
  // fork_worker() (workers.hpp) calls it; a no-op without a SignalPipe.
  static void release_in_child();

 private:
  Fd read_;
  Fd write_;
  SignalSet installed_;
};

// What woke wait_readable(): `fd` is readable (or hung up, or in error), and/or
// `signals` arrived (empty if none).
struct Wakeup {
  bool readable = false;
  SignalSet signals;
};

// Waits in poll() until `fd` is readable or a signal arrives through `pipe`:
// the top of a loop that accepts and must notice signals too (csd-fork,
// csd-thread). A signal that arrives between two waits leaves its byte in the
// pipe, so it is never lost.
Wakeup wait_readable(int fd, SignalPipe& pipe);

}  // namespace csd::impl
