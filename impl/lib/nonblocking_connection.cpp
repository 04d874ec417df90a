#include "nonblocking_connection.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <string_view>

#include <fmt/core.h>

#include "protocols.hpp"
#include "syserr.hpp"

namespace csd::impl {
namespace {

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
      return;  // the event loop says when there is room again
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
  write_echo(c);  // try at once; whatever does not fit waits until the socket is writable again
}

}  // namespace

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

void on_grace_expired(Connection& c) {
  c.request.end_of_input();
  on_request_settled(c);
}

}  // namespace csd::impl
