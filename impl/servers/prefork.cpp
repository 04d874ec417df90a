// csd-prefork: a pool of children that each call accept() on the shared
// listener (UNP 30.6, no locking around accept).
//
// The parent creates the listener and forks -n children up front; from then
// on the kernel hands each new connection to one of the children blocked in
// accept(), and the parent only looks after the pool. No fork() per client,
// but only -n clients are served at once: the rest wait in the listen queue.
// How evenly the kernel spreads connections over the children is what the
// per-child counts show when the server stops.
//
// The counts live in a MAP_SHARED mapping made before the fork; each child
// only ever increments its own slot, atomically, and the parent reads them
// after the children are gone.
#include <poll.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <exception>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// Child `slot`: accept, count, serve, forever. The kernel decides which of
// the blocked children gets each connection. SIGTERM (default action) ends it.
[[noreturn]] void child_main(std::size_t slot, int listen_fd, SharedCounters& counts, const Options& opts) {
  for (;;) {
    csd::Fd conn = accept_connection(listen_fd);
    if (!conn) continue;
    counts[slot].fetch_add(1, std::memory_order_relaxed);
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  }
}

pid_t spawn_child(std::size_t slot, int listen_fd, SharedCounters& counts, const Options& opts) {
  const pid_t pid = fork_worker();
  if (pid < 0) throw syscall_error("fork");
  if (pid == 0) child_main(slot, listen_fd, counts, opts);
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-prefork", "prefork: N children share the listener, each blocking in accept()", true}, argc, argv);
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    SharedCounters counts(opts.workers);
    SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};

    std::vector<pid_t> children;
    for (std::size_t slot = 0; slot < opts.workers; ++slot)
      children.push_back(spawn_child(slot, listener.fd.get(), counts, opts));
    announce_listening(listener);

    // The parent's only job now: wait for signals.
    for (;;) {
      pollfd p{signals.fd(), POLLIN, 0};
      if (::poll(&p, 1, -1) < 0) {
        if (errno == EINTR) continue;
        throw syscall_error("poll");
      }
      const SignalSet got = signals.drain();
      if (got.stop()) break;
      // A child that died unasked (a crash, a kill -9) is replaced in its slot; its count carries on.
      if (got.has(SIGCHLD))
        replace_dead_children(children,
                              [&](std::size_t slot) { return spawn_child(slot, listener.fd.get(), counts, opts); });
    }

    stop_children(signals, children);
    print_counts(counts.snapshot());
    return 0;
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-prefork: {}", e.what()));
    return 1;
  }
}
