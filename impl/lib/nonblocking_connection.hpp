// One client connection of a single-process, non-blocking event loop
// (csd-select, csd-poll, csd-epoll): the state machine such designs repeat.
// The loop (select, poll or epoll) is the design; this is what it drives. A
// connection reads its request (feeding the incremental parser, with the
// bare-number grace as a deadline), then writes its reply as the socket
// takes it; or, for echo, writes back what it read, reading no further while
// 64 KiB wait.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "fd.hpp"
#include "request_reader.hpp"
#include "server_options.hpp"

namespace csd::impl {

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
    if (phase == Phase::request)
      return true;
    return phase == Phase::echo && !peer_closed && echo_pending.size() < kEchoBacklog;
  }
  [[nodiscard]] bool wants_write() const {
    return (phase == Phase::reply && reply_left > 0) ||
           (phase == Phase::echo && !echo_pending.empty());
  }
};

// The socket is readable and/or writable (error and hang-up count as both:
// the read or write says what happened): do as much as the state allows.
// Every handler goes on until the socket says EAGAIN or the state is
// settled, so the same machine serves level- and edge-triggered loops.
void on_ready(Connection& c, bool readable, bool writable, Clock::time_point now);

// ---- What a select()/poll() loop keeps of its connections.

using Connections = std::map<int, Connection>;  // by descriptor

// A connection just accepted (non-blocking) joins `conns`, served at once as
// far as it can be: the request has usually arrived with the handshake, and
// a short reply then leaves before the loop ever waits on the descriptor.
void add_connection(Connections& conns, csd::Fd fd, const Options& opts);

// How long until the nearest bare-number deadline among `conns` (zero if one
// has passed), or nullopt when none is pending: the loop's wait timeout.
std::optional<Clock::duration> until_nearest_grace(const Connections& conns, Clock::time_point now);

// Nothing more arrived within the grace: the bare digits are the request.
void on_grace_expired(Connection& c);

}  // namespace csd::impl
