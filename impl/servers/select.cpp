// csd-select: one process, one select() loop, every socket non-blocking (UNP 6.8,
// tcpservselect01.c, whose writes block; the seed's server02 without its blocking sendall).
// Watch: a client that asks for 3 MB and reads none of it stalls nobody else; a connection
// whose descriptor would reach FD_SETSIZE (1024) is refused and logged.
// More: impl/README.md, "csd-select".
#include <sys/select.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>

#include <fmt/core.h>

#include "nonblocking_connection.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

namespace {

using namespace csd::impl;

// ---- The loop's helpers. (Each connection's state machine, the part every
// event-loop design repeats, is lib/nonblocking_connection.hpp.)

// New clients, as many as are waiting (up to a bound, to stay fair to the
// connections already open).
void accept_new(int listen_fd, Connections& conns, const Options& opts) {
  for (int i = 0; i < 64; ++i) {
    csd::Fd conn = accept_connection(listen_fd, ConnectionMode::nonblocking);
    if (!conn)
      return;
    if (conn.get() >= FD_SETSIZE) {
      // FD_SET() beyond FD_SETSIZE would write past the fd_set: refuse instead.
      log_message(
          fmt::format("select: refusing a connection: descriptor {} is not below FD_SETSIZE ({})",
                      conn.get(), FD_SETSIZE));
      continue;  // conn closes
    }
    add_connection(conns, std::move(conn), opts);
  }
}

// select()'s timeout: until the nearest bare-number deadline, or none.
std::optional<timeval> next_timeout(const Connections& conns, Clock::time_point now) {
  const auto wait = until_nearest_grace(conns, now);
  if (!wait)
    return std::nullopt;
  const auto us = std::chrono::ceil<std::chrono::microseconds>(*wait).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-select", "select: one process multiplexes every connection with select()"}, argc, argv);
  return run_main("csd-select", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    Connections conns;
    announce_listening(listener);

    for (;;) {
      fd_set readable;
      fd_set writable;
      FD_ZERO(&readable);
      FD_ZERO(&writable);
      FD_SET(listener.fd.get(), &readable);
      FD_SET(signals.fd(), &readable);
      int max_fd = std::max(listener.fd.get(), signals.fd());
      for (const auto& [fd, c] : conns) {
        if (c.wants_read())
          FD_SET(fd, &readable);
        if (c.wants_write())
          FD_SET(fd, &writable);
        max_fd = std::max(max_fd, fd);
      }
      std::optional<timeval> timeout = next_timeout(conns, Clock::now());

      Select(max_fd + 1, &readable, &writable, timeout ? &*timeout : nullptr);
      if (FD_ISSET(signals.fd(), &readable) && signals.drain().stop())
        break;

      const auto now = Clock::now();
      for (auto& [fd, c] : conns) {
        on_ready(c, FD_ISSET(fd, &readable), FD_ISSET(fd, &writable), now);
        if (!c.done && c.grace_deadline && *c.grace_deadline <= now) {
          on_grace_expired(c);  // nothing more for 50 ms: the bare digits are the request
        }
      }
      std::erase_if(conns, [](const auto& entry) { return entry.second.done; });
      if (FD_ISSET(listener.fd.get(), &readable))
        accept_new(listener.fd.get(), conns, opts);
    }
    return 0;  // open connections close as `conns` goes
  });
}
