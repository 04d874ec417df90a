// Wire-level moves the checks make that a load client does not: a request
// dribbled one byte per segment, a reply read by hand, a client that stops
// reading. Built on the client library and the harness's sock_diag view.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "load.hpp"
#include "sockdiag.hpp"

namespace csd::suite {

// The kernel's view (sock_diag) of the server's end of `c`: inode 0 until it
// is accepted, nullopt if the server's kernel holds no such socket. Throws
// std::system_error if netlink fails.
std::optional<harness::TcpSocketInfo> server_side(const client::Connection& c);

struct DribbledRequest {
  std::optional<client::Connection> connection;
  std::size_t bytes_seen_consumed =
      0;                // bytes the server was seen to read before the next was sent
  std::string problem;  // why there is no connection
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

}  // namespace csd::suite
