#include "connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <ostream>
#include <system_error>

#include <fmt/format.h>

#include "io.hpp"

namespace csd::client {

namespace detail {

std::span<std::byte> scratch() {
  // thread_local, not a member: every Connection of a thread shares it, and
  // a load thread makes thousands of them.
  thread_local std::array<std::byte, kScratchSize> buffer;
  return buffer;
}

namespace {
std::atomic<Clock::rep> g_cutoff{Deadline::max().time_since_epoch().count()};
}  // namespace

int wait_ready(int fd, short events, Deadline deadline) {
  deadline = std::min(deadline, Deadline(Clock::duration(g_cutoff.load())));
  pollfd pfd{.fd = fd, .events = events, .revents = 0};
  for (;;) {
    // ppoll, not poll: its nanosecond timeout neither spins on a 0 ms
    // remainder nor oversleeps a deadline by up to a millisecond.
    auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
    timespec ts{.tv_sec = static_cast<time_t>(secs.count()),
                .tv_nsec = static_cast<long>(std::chrono::nanoseconds(left - secs).count())};
    int n = ::ppoll(&pfd, 1, &ts, nullptr);
    if (n > 0)
      return pfd.revents;
    if (n == 0)
      return 0;
    if (errno != EINTR)
      return -1;
  }
}

}  // namespace detail

void set_cutoff(std::optional<Deadline> cutoff) {
  detail::g_cutoff.store(cutoff.value_or(Deadline::max()).time_since_epoch().count());
}

namespace detail {

Status status_from_errno(int error) {
  switch (error) {
    case ECONNREFUSED:
      return Status::refused;
    case ECONNRESET:
    case EPIPE:
      return Status::reset;
    case ETIMEDOUT:  // the kernel gave up retransmitting: a timeout, not a local fault
      return Status::timeout;
    default:
      return Status::error;
  }
}

std::string errno_text(std::string_view call, int error) {
  // std::system_category uses strerror_r: safe from the load threads.
  return fmt::format("{}: {}", call, std::system_category().message(error));
}

StepResult failed_step(std::string_view call, int error, std::size_t bytes) {
  return {.status = status_from_errno(error), .bytes = bytes, .error = error, .call = call};
}

}  // namespace detail

using detail::failed_step;
using detail::scratch;
using detail::wait_ready;

namespace {

StepResult timed_out(std::string_view call, std::size_t bytes) {
  return {.status = Status::timeout, .bytes = bytes, .error = 0, .call = call};
}

void report(StepResult* out, const StepResult& r) {
  if (out != nullptr)
    *out = r;
}

// Tells the kernel to pick the source port at connect() time, not bind():
// it then only needs the 4-tuple to be unique, so each source address gets
// the whole ephemeral range instead of sharing it with every bound socket.
void defer_port_choice(int fd, const SockAddr& source) {
#ifdef IP_BIND_ADDRESS_NO_PORT
  if (source.storage.ss_family == AF_INET || source.storage.ss_family == AF_INET6) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                       sizeof one);  // a hint: bind works without it
  }
#endif
}

// Completes a non-blocking connect. POLLOUT alone means established, so the
// common case costs no getsockopt(SO_ERROR).
StepResult finish_connect(int fd, Deadline deadline) {
  int revents = wait_ready(fd, POLLOUT, deadline);
  if (revents < 0)
    return failed_step("poll", errno);
  if (revents == 0)
    return timed_out("connect", 0);
  if ((revents & (POLLERR | POLLHUP)) == 0)
    return {};
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
    return failed_step("getsockopt", errno);
  if (error == 0)
    error = ECONNRESET;  // HUP without an error: the peer reset before we saw it
  return failed_step("connect", error);
}

}  // namespace

std::string_view to_string(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::eof:
      return "eof";
    case Status::reset:
      return "reset";
    case Status::refused:
      return "refused";
    case Status::timeout:
      return "timeout";
    case Status::error:
      return "error";
  }
  return "?";
}

std::string_view to_string(Ending e) {
  switch (e) {
    case Ending::eof:
      return "eof";
    case Ending::reset:
      return "reset";
    case Ending::extra_bytes:
      return "extra_bytes";
    case Ending::still_open:
      return "still_open";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, Status s) { return out << to_string(s); }
std::ostream& operator<<(std::ostream& out, Ending e) { return out << to_string(e); }

// ---- SockAddr ----------------------------------------------------------------

std::optional<SockAddr> SockAddr::parse(std::string_view host, uint16_t port) {
  // Accept "[::1]" as well as "::1": people paste what to_string() prints.
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string text(host);  // inet_pton needs a NUL-terminated string
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

uint16_t SockAddr::port() const {
  switch (storage.ss_family) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    default:
      return 0;
  }
}

std::string SockAddr::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> text{};
  switch (storage.ss_family) {
    case AF_INET:
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text.data(),
                  text.size());
      return fmt::format("{}:{}", text.data(), port());
    case AF_INET6:
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr,
                  text.data(), text.size());
      return fmt::format("[{}]:{}", text.data(), port());
    default:
      return "(unknown address)";
  }
}

// ---- Connection ----------------------------------------------------------------

std::optional<Connection> Connection::open(const Target& target, Deadline deadline,
                                           StepResult* failure, const SockAddr* source) {
  auto address = SockAddr::parse(target.host, target.port);
  if (!address) {
    report(failure, {.status = Status::error, .bytes = 0, .error = EINVAL, .call = "inet_pton"});
    return std::nullopt;
  }
  return open(*address, deadline, failure, source);
}

std::optional<Connection> Connection::open(const SockAddr& address, Deadline deadline,
                                           StepResult* failure, const SockAddr* source) {
  auto conn = start(address, failure, source);
  if (conn && conn->connecting_) {
    if (auto r = finish_connect(conn->fd(), deadline); r.status != Status::ok) {
      report(failure, r);
      return std::nullopt;
    }
    conn->connecting_ = false;
  }
  return conn;
}

std::optional<Connection> Connection::start(const SockAddr& address, StepResult* failure,
                                            const SockAddr* source) {
  Fd fd{::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    report(failure, failed_step("socket", errno));
    return std::nullopt;
  }
  if (source != nullptr) {
    defer_port_choice(fd.get(), *source);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&source->storage), source->len) < 0) {
      report(failure, failed_step("bind", errno));
      return std::nullopt;
    }
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.len) == 0) {
    return Connection(std::move(fd), false);
  }
  // EINTR: the connect goes on in the background, like EINPROGRESS.
  if (errno != EINPROGRESS && errno != EINTR) {
    report(failure, failed_step("connect", errno));
    return std::nullopt;
  }
  return Connection(std::move(fd), true);
}

SockAddr Connection::local_address() const {
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a.storage), &a.len) < 0)
    a = SockAddr{};
  return a;
}

SockAddr Connection::peer_address() const {
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&a.storage), &a.len) < 0)
    a = SockAddr{};
  return a;
}

void Connection::set_nodelay(bool on) {
  int v = on ? 1 : 0;
  (void)::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

void Connection::set_receive_buffer(int bytes) {
  // Takes full effect on the advertised window only for data not yet
  // received; callers wanting a small window from the start set it early.
  (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

void Connection::shutdown_write() { (void)::shutdown(fd_.get(), SHUT_WR); }

void Connection::abort() {
  // Linger on with a zero timeout makes close() discard the send queue and
  // send RST instead of FIN.
  linger lg{.l_onoff = 1, .l_linger = 0};
  (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  fd_.reset();
}

StepResult Connection::send_all(std::span<const std::byte> data, Deadline deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    // MSG_NOSIGNAL: a peer that went away is an outcome (EPIPE), not a
    // SIGPIPE that kills the load client.
    // (On a socket still connecting, send() fails with EAGAIN until the
    // handshake is done, and with the connect's error if it failed.)
    ssize_t n = ::send(fd_.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      connecting_ = false;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return failed_step(call_name("send"), errno, sent);
    int revents = wait_ready(fd_.get(), POLLOUT, deadline);
    if (revents < 0)
      return failed_step("poll", errno, sent);
    if (revents == 0)
      return timed_out(call_name("send"), sent);
  }
  return detail::ok_step(sent);
}

StepResult Connection::send_all(std::string_view text, Deadline deadline) {
  return send_all(std::as_bytes(std::span(text.data(), text.size())), deadline);
}

StepResult Connection::read_exact(std::size_t n, Deadline deadline, std::span<std::byte> sink) {
  std::size_t got = 0;
  while (got < n) {
    // Never ask for more than is still owed: a byte past the reply must stay
    // in the socket for await_ending() to find.
    std::span<std::byte> buffer = sink.empty() ? scratch() : sink.subspan(got);
    std::size_t want = std::min(n - got, buffer.size());
    ssize_t r = ::recv(fd_.get(), buffer.data(), want, 0);
    if (r >= 0)
      connecting_ = false;  // data or FIN: the handshake is long done
    if (r > 0) {
      got += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0)
      return {.status = Status::eof, .bytes = got, .error = 0, .call = "recv"};
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return failed_step(call_name("recv"), errno, got);
    int revents = wait_ready(fd_.get(), POLLIN, deadline);
    if (revents < 0)
      return failed_step("poll", errno, got);
    if (revents == 0)
      return timed_out(call_name("recv"), got);
  }
  return detail::ok_step(got);
}

StepResult Connection::read_to_end(Deadline deadline, std::string* out) {
  std::size_t got = 0;
  auto buffer = scratch();
  for (;;) {
    ssize_t r = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
    if (r >= 0)
      connecting_ = false;
    if (r > 0) {
      if (out != nullptr)
        out->append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(r));
      got += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0)
      return detail::ok_step(got);  // EOF is what was asked for
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return failed_step(call_name("recv"), errno, got);
    int revents = wait_ready(fd_.get(), POLLIN, deadline);
    if (revents < 0)
      return failed_step("poll", errno, got);
    if (revents == 0)
      return timed_out(call_name("recv"), got);
  }
}

namespace {

// Reads and discards until the peer ends the connection or `deadline`
// passes; counts what it discarded in `stray`. Returns eof, reset or
// still_open, never extra_bytes: the caller decides what stray bytes mean.
Ending drain(int fd, Deadline deadline, std::size_t& stray) {
  auto buffer = scratch();
  for (;;) {
    // recv first: the FIN usually arrives with the last segment, and then
    // one syscall settles it.
    ssize_t r = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (r > 0) {
      stray += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0)
      return Ending::eof;
    if (errno == EINTR)
      continue;
    // Any other error ends the connection abnormally; RST is the one that
    // happens in practice (ECONNRESET), the rest are reported alike.
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return Ending::reset;
    int revents = wait_ready(fd, POLLIN, deadline);
    if (revents < 0)
      return Ending::reset;
    if (revents == 0)
      return Ending::still_open;
  }
}

}  // namespace

Ending Connection::await_ending(Clock::duration wait, std::size_t* extra) {
  // Stray bytes are counted until the peer ends or the wait is over, so the
  // report says how much too long the reply was.
  std::size_t stray = 0;
  Ending e = drain(fd_.get(), deadline_in(wait), stray);
  if (extra != nullptr)
    *extra = stray;
  return stray > 0 ? Ending::extra_bytes : e;
}

bool Connection::closed_within(Clock::duration wait) {
  std::size_t ignored = 0;
  return drain(fd_.get(), deadline_in(wait), ignored) != Ending::still_open;
}

}  // namespace csd::client
