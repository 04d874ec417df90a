// Wire-level moves the checks make that a load client does not: a request
// dribbled one byte per segment, a reply read by hand, a client that stops
// reading. Built on the client library and the harness's sock_diag view.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "capture.hpp"
#include "connection.hpp"
#include "load.hpp"
#include "sockdiag.hpp"
#include "traits.hpp"

namespace csd::suite {

// The kernel's view (sock_diag) of the server's end of `c`: inode 0 until it
// is accepted, nullopt if the server's kernel holds no such socket. Throws
// std::system_error if netlink fails.
std::optional<harness::TcpSocketInfo> server_side(const client::Connection& c);
// The same from the connection's two addresses, saved while it was open:
// nullopt once the server's end is gone.
std::optional<harness::TcpSocketInfo> server_side(const client::SockAddr& client_end,
                                                  const client::SockAddr& server_end);

struct DribbledRequest {
  std::optional<client::Connection> connection;
  std::size_t bytes_seen_consumed =
      0;                // bytes the server was seen to read before the next was sent
  std::string problem;  // why there is no connection
  // The client's TCP retransmitted a segment (TCP_INFO): a byte was lost on
  // the way (csd-suite --network 'loss N%'), and the server saw a pause of
  // at least an RTO (200 ms), which ends a bare request (the protocol's
  // 50 ms grace): such an attempt proves nothing either way.
  bool retransmitted = false;
};

// Connects and sends `request` one byte per TCP segment (TCP_NODELAY). Before
// each next byte it waits (bounded) until the server has read the previous one
// from its receive queue (sock_diag), so a server that reads its request with a
// single recv() sees only the first byte.
DribbledRequest send_request_byte_by_byte(const client::Target& target, std::string_view request);

// Reads a size-protocol reply of `bytes` on an open connection and judges it
// like client::fetch() does (exact count, then EOF/nothing more).
client::FetchResult read_reply(client::Connection& connection, uint64_t bytes,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds{
                                   10000});

// Success if `request`, sent on a connection of its own, gets no reply byte
// and the connection closed within 5 s; else what the server did.
::testing::AssertionResult ClosedWithoutReply(const client::Target& target,
                                              std::string_view request);

// Success if `request`, sent on a connection of its own whose sending side
// is shut down at once, gets its whole reply, then EOF (10 s at most): exactly
// `expected_bytes` bytes, equal to `*expected` when given (the size
// protocol's reply bytes are any bytes: only their count matters there).
// `what` names the request in the failure.
::testing::AssertionResult WholeReplyAfterHalfClose(const client::Target& target,
                                                    std::string_view request, std::string_view what,
                                                    std::size_t expected_bytes,
                                                    const std::string* expected);

// An echo client that sends `bytes`, takes their echo back, and goes quiet
// with its side open: nullopt, with `problem` saying what went wrong, if the
// echo did not come back whole within 5 s.
std::optional<client::Connection> echo_then_go_quiet(const client::Target& target,
                                                     std::size_t bytes, std::string& problem);

// A client in the middle of a reply it has stopped reading, "in the middle"
// for real: the server still has reply bytes to write (and is blocked
// writing them, or about to) when the client does what comes next (an RST).
struct StalledMidReply {
  std::optional<client::Connection> connection;  // none: `problem` says why
  std::string problem;
  std::optional<harness::TcpSocketInfo> server_socket;  // the server's end, once stalled
};
// Sends a request for `bytes` (size), or starts sending `bytes` (echo: the
// first 64 KiB, which fit in any buffer, then as much as the server takes
// in), reads the first 64 KiB of the reply, then stops reading until the
// server's send queue holds reply bytes the client has not taken (sock_diag)
// and, for echo, the server has stopped taking in more: 10 s at most.
StalledMidReply stall_mid_reply(const client::Target& target, bool echo, uint64_t bytes);

// Resets `connection` (SO_LINGER {1, 0}, then close) and confirms the RST:
// seen in `capture` where there is one, else by the server's end vanishing
// from sock_diag (5 s at most). Empty if confirmed, else what was observed.
std::string reset_and_confirm(client::Connection& connection, harness::Capture* capture);

// The connections waiting in the accept queue(s) of the sockets listening on
// `port`; nullopt if sock_diag cannot say.
std::optional<uint32_t> queued_connections(uint16_t port);

// More resets than a pool has workers (robust/reset-mid-reply): a pool that
// loses a worker to each reset and does not replace it has nobody left to
// accept by the last. Without a pool, two.
int resets_to_outlast(const harness::Traits& traits, int workers);

// Success if the client after a reset (`after`: "after 2 resets") got its
// 100 bytes; one never taken from the accept queue is said so.
::testing::AssertionResult NextClientServed(const client::FetchResult& next, uint16_t port,
                                            std::chrono::milliseconds waited,
                                            std::string_view after);

}  // namespace csd::suite
