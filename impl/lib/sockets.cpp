#include "sockets.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/core.h>

#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::impl {

namespace {

// "127.0.0.1:9000" or "[::1]:9000" for a bound address.
std::string endpoint_of(const sockaddr* addr, socklen_t len, uint16_t* port) {
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (const int rc = ::getnameinfo(addr, len, host, sizeof host, serv, sizeof serv,
                                   NI_NUMERICHOST | NI_NUMERICSERV);
      rc != 0) {
    throw std::runtime_error(fmt::format("getnameinfo: {}", ::gai_strerror(rc)));
  }
  *port = static_cast<uint16_t>(std::stoul(serv));
  if (addr->sa_family == AF_INET6)
    return fmt::format("[{}]:{}", host, serv);
  return fmt::format("{}:{}", host, serv);
}

// A descriptor kept in reserve for accept_connection's EMFILE path. Opened
// by listen_tcp, while descriptors are still plentiful.
Fd& spare_fd() {
  static Fd spare;
  return spare;
}

void reserve_spare_fd() {
  if (!spare_fd())
    spare_fd().reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

bool is_transient_accept_error(int err) {
  switch (err) {
    // accept(2): "Linux accept() passes already-pending network errors on the
    // new socket as an error code from accept()... treat them like EAGAIN".
    case EAGAIN:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM:  // a firewall rule refused it
      return true;
    default:
      return false;
  }
}

// Set while accept() keeps failing for lack of descriptors (per process).
bool out_of_descriptors = false;

// Out of descriptors: say so once per burst, then drop the waiting
// connection using the spare descriptor so the listener stops being readable.
// Returns the errno the caller should see: EAGAIN once the queue is empty
// (so that an edge-triggered drain ends, rather than spin on accept(), which
// says EMFILE even when nothing waits), else `err`.
int shed_connection(int listen_fd, int err) {
  if (!out_of_descriptors) {
    log_message(fmt::format("accept: {} (closing new connections until descriptors free up)",
                            std::generic_category().message(err)));
    out_of_descriptors = true;
  }
  if (spare_fd()) {
    // (On a blocking listener shared by a pool, another worker may take the
    // connection first and this accept() waits for the next one, which then
    // gets dropped too. Only a worker out of descriptors can get here.)
    spare_fd().reset();
    Fd dropped(
        restart_on_eintr([&] { return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC); }));
    const int accept_err = dropped.valid() ? 0 : errno;
    dropped.reset();  // the client sees its connection closed: refused, not hung
    reserve_spare_fd();
    if (accept_err == EAGAIN)
      return EAGAIN;  // nothing was waiting: the queue is drained
    if (accept_err != EMFILE && accept_err != ENFILE)
      return err;  // one connection dropped (or it had gone): progress
  }
  // No spare (or ENFILE: the whole system is out): wait a little rather than
  // spin on a listener that stays readable.
  ::poll(nullptr, 0, 100);
  return err;
}

}  // namespace

Listener listen_tcp(std::string_view host, uint16_t port, int backlog, PortSharing sharing) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string host_str(host);
  const std::string port_str = std::to_string(port);
  if (const int rc = ::getaddrinfo(host_str.c_str(), port_str.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error(
        fmt::format("{}: not a numeric IPv4 or IPv6 address ({})", host, ::gai_strerror(rc)));
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  const std::string where = found->ai_family == AF_INET6 ? fmt::format("[{}]:{}", host, port)
                                                         : fmt::format("{}:{}", host, port);

  Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    throw syscall_error("socket");
  // Restarting a server must not wait for the old connections' TIME_WAIT.
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
    throw syscall_error("setsockopt SO_REUSEADDR");
  if (sharing == PortSharing::reuseport &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0)
    throw syscall_error("setsockopt SO_REUSEPORT");
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) < 0)
    throw syscall_error("bind " + where);
  if (::listen(fd.get(), backlog) < 0)
    throw syscall_error("listen " + where);

  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) < 0)
    throw syscall_error("getsockname");
  Listener listener;
  listener.endpoint = endpoint_of(reinterpret_cast<const sockaddr*>(&bound), len, &listener.port);
  listener.fd = std::move(fd);
  reserve_spare_fd();
  return listener;
}

void announce_listening(const Listener& listener) {
  fmt::print("listening on {}\n", listener.endpoint);
  std::fflush(stdout);
}

Fd accept_connection(int listen_fd, ConnectionMode mode) {
  const int flags = SOCK_CLOEXEC | (mode == ConnectionMode::nonblocking ? SOCK_NONBLOCK : 0);
  Fd conn(restart_on_eintr([&] { return ::accept4(listen_fd, nullptr, nullptr, flags); }));
  if (conn) {
    if (out_of_descriptors)
      log_message("accept: descriptors available again");
    out_of_descriptors = false;
    return conn;
  }
  int err = errno;
  if (err == EMFILE || err == ENFILE)
    err = shed_connection(listen_fd, err);
  else if (!is_transient_accept_error(err))
    log_error("accept", err);
  errno = err;  // for a caller that tells "drained" (EAGAIN) from the rest
  return {};
}

bool write_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = Write(fd, data);
    if (n < 0)
      return false;
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw syscall_error("fcntl O_NONBLOCK");
}

}  // namespace csd::impl
