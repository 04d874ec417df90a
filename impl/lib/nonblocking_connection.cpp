#include "nonblocking_connection.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <span>
#include <string_view>

#include <fmt/core.h>

#include "protocols.hpp"
#include "syscalls.hpp"
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
    const ssize_t n = Write(c.fd.get(), chunk);
    if (n < 0) {
      if (errno != EAGAIN)
        fail(c, "write");
      return;  // the event loop says when there is room again (ET: only after EAGAIN)
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
    if (!c.request.received_nothing())
      log_message(fmt::format("bad request: {}", c.request.error()));
    c.done = true;
  }
}

// Read until the request is settled or the socket says EAGAIN (bytes after
// a settled request are ignored anyway). ET: reading once per event would
// strand the rest of a request that arrived in two segments before we looked.
void read_request(Connection& c, Clock::time_point now) {
  std::array<char, 512> buf{};
  while (c.request.status() == SizeRequestParser::Status::incomplete) {
    const ssize_t n = Read(c.fd.get(), buf);
    if (n < 0) {
      if (errno != EAGAIN)
        return fail(c, "read");
      if (c.request.awaiting_newline())
        c.grace_deadline = now + kBareNumberGrace;  // restarts with every read
      return;  // drained: the next readiness comes with the next byte
    }
    if (n == 0) {
      c.request.end_of_input();  // EOF: bare digits still count
    } else {
      c.request.feed({buf.data(), static_cast<std::size_t>(n)});
    }
  }
  on_request_settled(c);
}

// Echo, both directions, until neither can make progress. ET: the backlog
// bound means a read may stop before EAGAIN with bytes still in the socket;
// no edge will announce them again, so after writing makes room we must go
// back and read ourselves. Hence the loop rather than "read once, write once".
void pump_echo(Connection& c) {
  static std::array<char, kEchoBacklog> buf;  // one process, one loop: one buffer will do
  for (;;) {
    bool read_drained = c.peer_closed;
    while (!read_drained && c.echo_pending.size() < kEchoBacklog) {
      const ssize_t n =
          Read(c.fd.get(), std::span(buf).first(kEchoBacklog - c.echo_pending.size()));
      if (n < 0) {
        if (errno != EAGAIN)
          return fail(c, "read");
        read_drained = true;
      } else if (n == 0) {
        c.peer_closed = read_drained = true;
      } else {
        c.echo_pending.append(buf.data(), static_cast<std::size_t>(n));
      }
    }
    while (!c.echo_pending.empty()) {
      const ssize_t n = Write(c.fd.get(), c.echo_pending);
      if (n < 0) {
        if (errno != EAGAIN)
          return fail(c, "write");
        return;  // socket full: writability resumes both directions
      }
      c.echo_pending.erase(0, static_cast<std::size_t>(n));
    }
    if (c.peer_closed) {
      c.done = true;  // everything echoed after the half-close
      return;
    }
    if (read_drained)
      return;  // EAGAIN on both sides: wait for the next readiness
  }
}

}  // namespace

void on_ready(Connection& c, bool readable, bool writable, Clock::time_point now) {
  switch (c.phase) {
    case Connection::Phase::request:
      if (readable)
        read_request(c, now);
      break;
    case Connection::Phase::reply:
      if (writable)
        write_reply(c);
      break;
    case Connection::Phase::echo:
      if (readable || writable)
        pump_echo(c);
      break;
  }
}

void on_grace_expired(Connection& c) {
  c.request.end_of_input();
  on_request_settled(c);
}

void add_connection(Connections& conns, csd::Fd fd, const Options& opts) {
  const int key = fd.get();
  const auto entry = conns.try_emplace(key, std::move(fd), opts).first;
  on_ready(entry->second, true, true, Clock::now());
  if (entry->second.done)
    conns.erase(entry);
}

std::optional<Clock::duration> until_nearest_grace(const Connections& conns,
                                                   Clock::time_point now) {
  std::optional<Clock::time_point> nearest;
  for (const auto& [fd, c] : conns) {
    if (c.grace_deadline && (!nearest || *c.grace_deadline < *nearest))
      nearest = c.grace_deadline;
  }
  if (!nearest)
    return std::nullopt;
  return std::max(Clock::duration::zero(), *nearest - now);
}

}  // namespace csd::impl
