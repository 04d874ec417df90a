// csd-rstserver: reads one line from each client, then closes with SO_LINGER {1, 0}, so the
// client gets an RST instead of a FIN (the seed's rstserver; UNP 7.5, SO_LINGER). --graceful
// closes normally: a FIN. Why wait for a line: closed right after accept(), the connection
// can be reset before the client's connect() has returned, which then fails ECONNRESET (seen
// here); a line proves the client is connected. Why read it: closing with unread bytes sends an
// RST whatever the linger says (RFC 2525, 2.17), and --graceful would lie. One client at a time.
// More: impl/README.md, "csd-rstserver".
#include <netdb.h>
#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

using namespace csd::impl;

namespace {

// "127.0.0.1:43122", the client as tcpdump shows it.
std::string peer_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0 ||
      ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "a client that is already gone";
  return addr.ss_family == AF_INET6 ? fmt::format("[{}]:{}", host, port)
                                    : fmt::format("{}:{}", host, port);
}

// Reads until the client's first newline, or its EOF or error: whatever it sent so far is
// consumed, so that only the linger decides between FIN and RST.
void read_line(int fd) {
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = Read(fd, buf);
    if (n <= 0 || std::string_view(buf.data(), static_cast<std::size_t>(n)).find('\n') !=
                      std::string_view::npos)
      return;
  }
}

// l_onoff = 1 with l_linger = 0: close() discards anything unsent and aborts the connection,
// which on the wire is one RST and no FIN (and no TIME_WAIT on our side).
void abort_on_close(int fd) {
  const linger abortive{.l_onoff = 1, .l_linger = 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive) < 0)
    throw syscall_error("setsockopt SO_LINGER");
}

}  // namespace

int main(int argc, char** argv) {
  bool graceful = false;
  const Options opts = parse_options(
      {.name = "csd-rstserver",
       .description = "reads a line, then closes: with an RST (SO_LINGER {1, 0}) or a FIN",
       .serves_protocol = false},
      argc, argv,
      switch_flag("--graceful", "close normally (FIN) instead of with an RST", graceful));
  return run_main("csd-rstserver", [&] {
    exit_on_stop_signals();  // blocked in accept() with nothing to clean up: just go
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    announce_listening(listener);

    for (;;) {
      csd::Fd conn = accept_connection(listener.fd.get());
      if (!conn)
        continue;
      const std::string peer = peer_of(conn.get());
      read_line(conn.get());
      if (!graceful)
        abort_on_close(conn.get());
      conn.reset();  // the close(): RST, or with --graceful FIN
      fmt::print("read a line from {}, closed with {}\n", peer,
                 graceful ? "FIN (close)" : "RST (SO_LINGER {1, 0})");
      std::fflush(stdout);
    }
  });
}
