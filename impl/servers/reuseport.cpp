// csd-reuseport: a pool of children, each accepting on a listening socket of its own,
// all bound to one port with SO_REUSEPORT (Linux 3.9+; not in UNP, which predates it).
// Verify behavior for the sequence: -n sockets bind and listen on one port; the kernel
// hashes each new connection's addresses and ports to one socket, before any accept().
// Watch: even counts on SIGINT whatever the children are doing, and a client stuck
// behind a busy child while others idle (a hash, not "whoever is free").
#include <sys/types.h>

#include <vector>

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
  return run_main("csd-reuseport", [&] {
    ignore_sigpipe();
    // All -n sockets first: the kernel spreads connections over them as soon as they listen.
    std::vector<Listener> listeners;
    // The first may ask for port 0; the others then ask for the port it got.
    listeners.push_back(listen_tcp(opts.host, opts.port, opts.backlog, PortSharing::reuseport));
    while (listeners.size() < opts.workers)
      listeners.push_back(
          listen_tcp(opts.host, listeners.front().port, opts.backlog, PortSharing::reuseport));
    SharedCounters counts(opts.workers);

    run_worker_pool(
        opts.workers, [&](std::size_t slot) { child_main(slot, listeners, counts, opts); },
        [&] { announce_listening(listeners.front()); });

    print_counts(counts.snapshot());
    return 0;
  });
}
