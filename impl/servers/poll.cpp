// csd-poll: one process, one poll() loop, every socket non-blocking (UNP
// 6.11, the single-process server redone with poll()).
//
// The same design as csd-select, with the same per-connection state machine
// (read the request, write the reply / echo what came in), but the interest
// set is an array of struct pollfd instead of two fd_set bitmaps. That buys
// two things: no FD_SETSIZE limit (any descriptor number can be watched), and
// the kernel reports per descriptor (revents) rather than overwriting the
// caller's sets. What it does not buy: every round still hands the kernel the
// whole array and scans all of it afterwards, O(connections) per wake-up,
// however few of them are ready. That is what epoll fixes (csd-epoll).
//
// Replies go out as the socket's write space allows, through POLLOUT, so one
// slow reader never stalls the others. The size protocol's bare-number grace
// (digits without a newline are a request once nothing more arrives for
// 50 ms) is a per-connection deadline; the poll() timeout is the nearest one.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "request_reader.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"

namespace {

using namespace csd::impl;
using Clock = std::chrono::steady_clock;

// Echo stops reading from a client that does not read its echo back once
// this much is waiting to be written: memory per connection stays bounded.
constexpr std::size_t kEchoBacklog = std::size_t{64} * 1024;

// ---- One connection's state machine.

struct Connection {
  enum class Phase { request, reply, echo };

  csd::Fd fd;
  Phase phase;
  SizeRequestParser request;
  std::optional<Clock::time_point> grace_deadline;  // set while bare digits wait for "\n"
  uint64_t reply_left = 0;
  std::string echo_pending;  // read but not yet written back
  bool peer_closed = false;  // echo: the client half-closed
  bool done = false;         // close it at the end of this round

  Connection(csd::Fd f, const Options& opts)
      : fd(std::move(f)),
        phase(opts.protocol == Protocol::echo ? Phase::echo : Phase::request),
        request(opts.max_bytes) {}

  [[nodiscard]] bool wants_read() const {
    if (phase == Phase::request) return true;
    return phase == Phase::echo && !peer_closed && echo_pending.size() < kEchoBacklog;
  }
  [[nodiscard]] bool wants_write() const {
    return (phase == Phase::reply && reply_left > 0) || (phase == Phase::echo && !echo_pending.empty());
  }
};

// The read/write failed for real (not EAGAIN): report it and drop the client.
void fail(Connection& c, std::string_view call) {
  log_errno(call);
  c.done = true;
}

// As much of the reply as the socket takes now. Called right after the
// request too: a fresh socket nearly always has room, so a reply of up to
// 64 KiB leaves in this one write() call, as the protocol wants.
void write_reply(Connection& c) {
  while (c.reply_left > 0) {
    const auto chunk = reply_chunk(c.reply_left);
    const ssize_t n = ::write(c.fd.get(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) fail(c, "write");
      return;  // POLLOUT tells us when there is room again
    }
    c.reply_left -= static_cast<uint64_t>(n);
  }
  c.done = true;  // all sent: the server closes
}

// The parser reached a verdict: reply, or drop the client.
void on_request_settled(Connection& c) {
  c.grace_deadline.reset();
  if (c.request.status() == SizeRequestParser::Status::complete) {
    c.phase = Connection::Phase::reply;
    c.reply_left = c.request.size();
    write_reply(c);
  } else {
    if (!c.request.received_nothing()) log_message(fmt::format("bad request: {}", c.request.error()));
    c.done = true;
  }
}

void read_request(Connection& c, Clock::time_point now) {
  std::array<char, 512> buf{};
  const ssize_t n = ::read(c.fd.get(), buf.data(), buf.size());
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) fail(c, "read");
    return;
  }
  if (n == 0) {
    c.request.end_of_input();  // EOF: bare digits still count
  } else {
    c.request.feed({buf.data(), static_cast<std::size_t>(n)});
  }
  if (c.request.status() != SizeRequestParser::Status::incomplete) {
    on_request_settled(c);
  } else if (c.request.awaiting_newline()) {
    c.grace_deadline = now + kBareNumberGrace;  // restarts with every byte that arrives
  }
}

void write_echo(Connection& c) {
  while (!c.echo_pending.empty()) {
    const ssize_t n = ::write(c.fd.get(), c.echo_pending.data(), c.echo_pending.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) fail(c, "write");
      return;
    }
    c.echo_pending.erase(0, static_cast<std::size_t>(n));
  }
  if (c.peer_closed) c.done = true;  // everything echoed after the half-close
}

void read_echo(Connection& c) {
  static std::array<char, kEchoBacklog> buf;  // one process, one loop: one buffer will do
  const std::size_t room = kEchoBacklog - c.echo_pending.size();
  const ssize_t n = ::read(c.fd.get(), buf.data(), room);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) fail(c, "read");
    return;
  }
  if (n == 0) {
    c.peer_closed = true;
  } else {
    c.echo_pending.append(buf.data(), static_cast<std::size_t>(n));
  }
  write_echo(c);  // try at once; whatever does not fit waits for POLLOUT
}

void on_readable(Connection& c, Clock::time_point now) {
  if (c.phase == Connection::Phase::request)
    read_request(c, now);
  else
    read_echo(c);
}

void on_writable(Connection& c) {
  if (c.phase == Connection::Phase::reply)
    write_reply(c);
  else
    write_echo(c);
}

// ---- The loop's helpers.

using Connections = std::map<int, Connection>;  // by descriptor

// New clients, as many as are waiting (up to a bound, to stay fair to the
// connections already open). Unlike select(), any descriptor number will do.
void accept_new(int listen_fd, Connections& conns, const Options& opts) {
  for (int i = 0; i < 64; ++i) {
    csd::Fd conn = accept_connection(listen_fd);
    if (!conn) return;
    set_nonblocking(conn.get());
    const int fd = conn.get();
    conns.try_emplace(fd, std::move(conn), opts);
  }
}

// poll()'s timeout in milliseconds: until the nearest bare-number deadline
// (rounded up, so we never wake a little early and spin), or -1 for none.
int next_timeout_ms(const Connections& conns, Clock::time_point now) {
  std::optional<Clock::time_point> nearest;
  for (const auto& [fd, c] : conns) {
    if (c.grace_deadline && (!nearest || *c.grace_deadline < *nearest)) nearest = c.grace_deadline;
  }
  if (!nearest) return -1;
  const auto wait = std::max(Clock::duration::zero(), *nearest - now);
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
}

// The events a connection waits for right now.
short interest(const Connection& c) {
  short events = 0;
  if (c.wants_read()) events |= POLLIN;
  if (c.wants_write()) events |= POLLOUT;
  return events;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts =
      parse_options({"csd-poll", "poll: one process multiplexes every connection with poll()"}, argc, argv);
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    Connections conns;
    std::vector<pollfd> fds;  // rebuilt every round: [listener, signal pipe, one per connection in map order]
    announce_listening(listener);

    for (;;) {
      fds.clear();
      fds.push_back({listener.fd.get(), POLLIN, 0});
      fds.push_back({signals.fd(), POLLIN, 0});
      for (const auto& [fd, c] : conns) fds.push_back({fd, interest(c), 0});
      const int timeout_ms = next_timeout_ms(conns, Clock::now());

      if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
        if (errno == EINTR) continue;
        throw syscall_error("poll");
      }
      if ((fds[1].revents & POLLIN) != 0 && signals.drain().stop()) break;

      // The map has not changed since the array was built: walk both in step.
      const auto now = Clock::now();
      auto pfd = fds.begin() + 2;
      for (auto& [fd, c] : conns) {
        // POLLHUP/POLLERR (always reported) count as both: the read or write says what happened.
        const short revents = (pfd++)->revents;
        if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && c.wants_read()) on_readable(c, now);
        if (!c.done && (revents & (POLLOUT | POLLHUP | POLLERR)) != 0 && c.wants_write()) on_writable(c);
        if (!c.done && c.grace_deadline && *c.grace_deadline <= now) {
          c.request.end_of_input();  // nothing more for 50 ms: the bare digits are the request
          on_request_settled(c);
        }
      }
      std::erase_if(conns, [](const auto& entry) { return entry.second.done; });
      if ((fds[0].revents & POLLIN) != 0) accept_new(listener.fd.get(), conns, opts);
    }
    return 0;  // open connections close as `conns` goes
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-poll: {}", e.what()));
    return 1;
  }
}
