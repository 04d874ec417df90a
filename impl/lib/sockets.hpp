// The socket chores every design repeats: listen on a numeric address, accept
// without tripping over transient errors, write everything, go non-blocking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "fd.hpp"

namespace csd::impl {

// UNP's LISTENQ: the listen() backlog unless --backlog says otherwise. Linux
// caps it at net.core.somaxconn (4096 since 5.4).
inline constexpr int kListenBacklog = 1024;

struct Listener {
  Fd fd;
  std::string endpoint;  // "127.0.0.1:PORT" or "[::1]:PORT", as actually bound
  uint16_t port = 0;     // the bound port (the kernel's choice when asked for 0)
};

// Whether other sockets may listen on the same port: `reuseport` sets
// SO_REUSEPORT, which every socket of such a group needs before bind(), and
// the kernel then hashes incoming connections across the group.
enum class PortSharing { exclusive, reuseport };

// socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen on a numeric IPv4
// or IPv6 host ("127.0.0.1", "::1", "0.0.0.0", "::"), with `backlog` as
// listen()'s. Port 0 binds an ephemeral port. Throws std::system_error
// ("bind [::1]:80: Permission denied") on failure.
Listener listen_tcp(std::string_view host, uint16_t port, int backlog,
                    PortSharing sharing = PortSharing::exclusive);

// Prints "listening on ENDPOINT" to stdout and flushes: the readiness signal
// the suite and scripts wait for. Call it once the server can serve.
void announce_listening(const Listener& listener);

// Whether an accepted connection blocks. Event loops want non-blocking ones;
// asking accept4() for it saves the two fcntl() calls per connection that
// set_nonblocking() would cost.
enum class ConnectionMode { blocking, nonblocking };

// UNP's Accept(): one accept(). Returns the connection (close-on-exec,
// blocking unless `mode` says otherwise), or an invalid Fd when there is
// nothing to serve right now, so the caller just goes round its loop again;
// errno then says why:
//  - EAGAIN (non-blocking listener drained), ECONNABORTED and the network
//    errors accept(2) says to treat like EAGAIN: nothing to report;
//  - EMFILE/ENFILE: reported once per burst, then the pending connection is
//    accepted on a spare descriptor and closed at once (the "spare fd"
//    trick), so a full descriptor table never turns into a busy loop of
//    failing accepts; without a spare, it backs off 100 ms. errno is then
//    EAGAIN if the spare found nothing waiting (accept() says EMFILE even
//    on an empty queue), so that a drain until EAGAIN ends;
//  - anything else is reported ("accept: ...").
// A call interrupted by a signal is restarted (restart_on_eintr).
Fd accept_connection(int listen_fd, ConnectionMode mode = ConnectionMode::blocking);

// Writes all of `data` with Write() (syscalls.hpp), going on after short
// writes. On a blocking socket a reply is handed to the kernel in one
// write() call unless a signal interrupts it. Returns false with errno set
// (EPIPE, ECONNRESET, ...).
bool write_all(int fd, std::span<const std::byte> data);

// O_NONBLOCK on. Throws std::system_error("fcntl: ...") on failure.
void set_nonblocking(int fd);

}  // namespace csd::impl
