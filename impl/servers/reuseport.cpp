// csd-reuseport: a pool of children, each with a listening socket of its
// own, all bound to the same address with SO_REUSEPORT (Linux 3.9+).
//
// csd-prefork shares one listener, and the children compete in accept() on
// it. Here there are -n listeners on one port, and the kernel picks the
// socket for each new connection by a hash of its addresses and ports, before
// anyone calls accept(): each child accepts only from its own queue, so no
// two children ever wait on the same socket. What it trades: the spread is a
// hash, not "whoever is free", so a busy child's queue can grow while another
// child is idle.
//
// The parent binds and listens all -n sockets before it forks, so when it
// prints "listening on" every worker's socket is ready. It keeps its copies
// open and never accepts on them: when a child dies, the connections hashed
// to its socket wait in that socket's queue for the replacement, which
// inherits the same socket (closing the last copy of a SO_REUSEPORT listener
// resets the connections in its queue). Each child closes the other
// children's sockets.
#include <sys/types.h>

#include <exception>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "sockets.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// Child `slot`: accept from its own socket, count, serve, forever. SIGTERM
// (default action) ends it.
[[noreturn]] void child_main(std::size_t slot, std::vector<Listener>& listeners,
                             SharedCounters& counts, const Options& opts) {
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (i != slot)
      listeners[i].fd.reset();  // the other children's sockets
  }
  const int listen_fd = listeners[slot].fd.get();
  for (;;) {
    csd::Fd conn = accept_connection(listen_fd);
    if (!conn)
      continue;
    counts[slot].fetch_add(1, std::memory_order_relaxed);
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-reuseport",
       "reuseport: N children, each accepting on its own SO_REUSEPORT socket on the same port",
       true},
      argc, argv);
  try {
    ignore_sigpipe();
    // All -n sockets first: the kernel spreads connections over them as soon as they listen.
    std::vector<Listener> listeners;
    // The first may ask for port 0; the others then ask for the port it got.
    listeners.push_back(listen_tcp(opts.host, opts.port, PortSharing::reuseport));
    while (listeners.size() < opts.workers)
      listeners.push_back(listen_tcp(opts.host, listeners.front().port, PortSharing::reuseport));
    SharedCounters counts(opts.workers);

    run_worker_pool(
        opts.workers, [&](std::size_t slot) { child_main(slot, listeners, counts, opts); },
        [&] { announce_listening(listeners.front()); });

    print_counts(counts.snapshot());
    return 0;
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-reuseport: {}", e.what()));
    return 1;
  }
}
