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
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "sockets.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// listen_tcp() with SO_REUSEPORT, which must be set on every socket of the
// group, the first one included, before bind(). The first call may ask for
// port 0; the others then ask for the port it got.
Listener listen_reuseport(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw std::runtime_error(fmt::format("{}: not a numeric IPv4 or IPv6 address ({})", host, ::gai_strerror(rc)));
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  const bool v6 = found->ai_family == AF_INET6;
  const std::string where = v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);

  csd::Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw syscall_error("socket");
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
    throw syscall_error("setsockopt SO_REUSEADDR");
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0)
    throw syscall_error("setsockopt SO_REUSEPORT");
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) < 0) throw syscall_error("bind " + where);
  if (::listen(fd.get(), kListenBacklog) < 0) throw syscall_error("listen " + where);

  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) < 0) throw syscall_error("getsockname");
  char name[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (const int rc = ::getnameinfo(reinterpret_cast<const sockaddr*>(&bound), len, name, sizeof name, serv, sizeof serv,
                                   NI_NUMERICHOST | NI_NUMERICSERV);
      rc != 0)
    throw std::runtime_error(fmt::format("getnameinfo: {}", ::gai_strerror(rc)));
  Listener listener;
  listener.port = static_cast<uint16_t>(std::stoul(serv));
  listener.endpoint = v6 ? fmt::format("[{}]:{}", name, serv) : fmt::format("{}:{}", name, serv);
  listener.fd = std::move(fd);
  return listener;
}

// Child `slot`: accept from its own socket, count, serve, forever. SIGTERM
// (default action) ends it.
[[noreturn]] void child_main(std::size_t slot, std::vector<Listener>& listeners, SharedCounters& counts,
                             const Options& opts) {
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (i != slot) listeners[i].fd.reset();  // the other children's sockets
  }
  const int listen_fd = listeners[slot].fd.get();
  for (;;) {
    csd::Fd conn = accept_connection(listen_fd);
    if (!conn) continue;
    counts[slot].fetch_add(1, std::memory_order_relaxed);
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-reuseport", "reuseport: N children, each accepting on its own SO_REUSEPORT socket on the same port", true},
      argc, argv);
  try {
    ignore_sigpipe();
    // All -n sockets first: the kernel spreads connections over them as soon as they listen.
    std::vector<Listener> listeners;
    listeners.push_back(listen_reuseport(opts.host, opts.port));
    while (listeners.size() < opts.workers) listeners.push_back(listen_reuseport(opts.host, listeners.front().port));
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
