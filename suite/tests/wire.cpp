#include "wire.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "server_test.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::suite {

std::optional<harness::TcpSocketInfo> server_side(const client::SockAddr& client_end,
                                                  const client::SockAddr& server_end) {
  return harness::tcp_socket_info(
      reinterpret_cast<const sockaddr*>(&server_end.storage), server_end.len,
      reinterpret_cast<const sockaddr*>(&client_end.storage), client_end.len);
}

std::optional<harness::TcpSocketInfo> server_side(const client::Connection& c) {
  return server_side(c.local_address(), c.peer_address());
}

using namespace std::chrono_literals;
using client::Clock;

namespace {

// True once the server side of `connection` has no unread bytes, i.e. the
// server has read everything sent so far. Gives up at the deadline (a server
// may legitimately stop reading; the check then goes on without the guarantee).
bool wait_until_server_read_everything(const client::Connection& connection,
                                       client::Deadline deadline) {
  return harness::wait_until(
      [&] {
        const auto info = server_side(connection);
        return info && info->inode != 0 && info->rqueue == 0;
      },
      deadline - Clock::now(), std::chrono::milliseconds{1});
}

}  // namespace

DribbledRequest send_request_byte_by_byte(const client::Target& target, std::string_view request) {
  DribbledRequest result;
  client::StepResult failure;
  result.connection = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!result.connection) {
    result.problem = "connect: " + std::string(client::to_string(failure.status));
    return result;
  }
  auto& connection = *result.connection;
  connection.set_nodelay(true);
  for (std::size_t i = 0; i < request.size(); ++i) {
    const auto step = connection.send_all(request.substr(i, 1), harness::deadline_in(5s));
    if (step.status != client::Status::ok) {
      // The usual cause: the server took the first bytes for the whole
      // request, answered or refused it, and closed.
      result.problem = "expected the server to wait for the rest of a " +
                       std::to_string(request.size()) +
                       "-byte request sent one byte per segment; observed a " +
                       std::string(client::to_string(step.status)) + " when sending byte " +
                       std::to_string(i + 1) + ", after it had read " +
                       std::to_string(result.bytes_seen_consumed) + " byte(s) one by one";
      result.connection.reset();
      return result;
    }
    if (i + 1 < request.size() &&
        wait_until_server_read_everything(connection, harness::deadline_in(2s))) {
      ++result.bytes_seen_consumed;
    }
  }
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(connection.fd(), IPPROTO_TCP, TCP_INFO, &info, &length) == 0)
    result.retransmitted = info.tcpi_total_retrans > 0;
  return result;
}

client::FetchResult read_reply(client::Connection& connection, uint64_t bytes,
                               std::chrono::milliseconds timeout) {
  client::FetchResult result;
  const auto start = Clock::now();
  const auto step = connection.read_exact(bytes, start + timeout);
  result.received = step.bytes;
  result.latency = Clock::now() - start;
  switch (step.status) {
    case client::Status::ok:
      break;
    case client::Status::eof:
      result.outcome = client::Outcome::short_reply;
      result.detail = "connection closed after " + std::to_string(step.bytes) + " bytes";
      return result;
    case client::Status::reset:
      result.outcome = client::Outcome::reset;
      result.detail = "connection reset after " + std::to_string(step.bytes) + " bytes";
      return result;
    case client::Status::timeout:
      result.outcome = client::Outcome::timeout;
      result.detail = "nothing more after " + std::to_string(step.bytes) + " bytes";
      return result;
    default:
      result.outcome = client::Outcome::error;
      result.error = step.error;
      result.detail = "read failed";
      return result;
  }
  std::size_t extra = 0;
  if (connection.await_ending(100ms, &extra) == client::Ending::extra_bytes) {
    result.outcome = client::Outcome::long_reply;
    result.received += extra;
    result.detail = std::to_string(extra) + " bytes more than asked";
  }
  return result;
}

}  // namespace csd::suite

namespace csd::suite {

StalledMidReply stall_mid_reply(const client::Target& target, bool echo, uint64_t bytes) {
  constexpr std::size_t kReadFirst = std::size_t{64} << 10;
  StalledMidReply stalled;
  client::StepResult failure;
  auto connection = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!connection) {
    stalled.problem = fmt::format("connect: {}", client::to_string(failure.status));
    return stalled;
  }
  const client::SockAddr client_end = connection->local_address();
  const client::SockAddr server_end = connection->peer_address();

  // Echo: the payload goes out in chunks, as far as the buffers let it.
  uint64_t echo_sent = 0;
  std::array<std::byte, kReadFirst> chunk{};
  // Sends more of the echo payload without blocking; true once the server
  // has stopped taking it in (the client's send would block) or all is sent.
  const auto feed_echo_until_refused = [&] {
    while (echo_sent < bytes) {
      client::echo_pattern(echo_sent, chunk);
      const ssize_t n =
          ::send(connection->fd(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0)
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      echo_sent += static_cast<uint64_t>(n);
    }
    return true;
  };
  client::StepResult sent;
  if (echo) {
    client::echo_pattern(0, chunk);
    sent = connection->send_all(std::span<const std::byte>(chunk), harness::deadline_in(10s));
    echo_sent = sent.bytes;
  } else {
    sent = connection->send_all(fmt::format("{}\n", bytes), harness::deadline_in(10s));
  }
  if (sent.status != client::Status::ok) {
    stalled.problem = fmt::format("sending the request: {}", sent.call);
    return stalled;
  }
  const client::StepResult first = connection->read_exact(kReadFirst, harness::deadline_in(10s));
  if (first.status != client::Status::ok) {
    stalled.problem = fmt::format("expected the first {} bytes of the reply, observed {} after {}",
                                  kReadFirst, client::to_string(first.status), first.bytes);
    return stalled;
  }
  // The size reply is far longer than all the buffers on the way; echo
  // input is fed until the server stops taking it in.
  bool input_refused = !echo;
  const bool backed_up = harness::wait_until(
      [&] {
        if (echo)
          input_refused = feed_echo_until_refused();
        stalled.server_socket = server_side(client_end, server_end);
        return input_refused && stalled.server_socket && stalled.server_socket->wqueue > 0;
      },
      10s);
  if (!backed_up) {
    const auto& socket = stalled.server_socket;
    stalled.problem = fmt::format(
        "expected the server's send queue to hold reply bytes the client has not read, observed "
        "{}{} after 10 s",
        socket ? fmt::format("{} bytes queued", socket->wqueue) : "no server socket",
        echo ? fmt::format(" ({} echo bytes sent, the server {})", echo_sent,
                           input_refused ? "refusing more" : "still reading")
             : "");
    return stalled;
  }
  stalled.connection = std::move(connection);
  return stalled;
}

::testing::AssertionResult WholeReplyAfterHalfClose(const client::Target& target,
                                                    std::string_view request, std::string_view what,
                                                    std::size_t expected_bytes,
                                                    const std::string* expected) {
  client::StepResult failure;
  auto connection = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!connection) {
    return ::testing::AssertionFailure()
           << "sending " << what << ": connect: " << client::to_string(failure.status);
  }
  if (const auto sent = connection->send_all(request, harness::deadline_in(5s));
      sent.status != client::Status::ok) {
    return ::testing::AssertionFailure() << "sending " << what << ": " << sent.call;
  }
  connection->shutdown_write();
  std::string reply;
  const auto read = connection->read_to_end(harness::deadline_in(10s), &reply);
  const bool whole = reply.size() == expected_bytes && (!expected || reply == *expected);
  if (read.status == client::Status::ok && whole) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "sent " << what << " and half-closed at once: expected " << expected_bytes
         << " bytes then EOF, got " << reply.size() << " bytes"
         << (reply.size() == expected_bytes ? " (changed)" : "") << " then " << ending(read);
}

std::optional<client::Connection> echo_then_go_quiet(const client::Target& target,
                                                     std::size_t bytes, std::string& problem) {
  client::StepResult failure;
  auto quiet = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!quiet) {
    problem = fmt::format("connect: {}", client::to_string(failure.status));
    return std::nullopt;
  }
  std::vector<std::byte> payload(bytes);
  client::echo_pattern(0, payload);
  if (const auto sent = quiet->send_all(payload, harness::deadline_in(5s));
      sent.status != client::Status::ok) {
    problem = fmt::format("sending the quiet client's {} bytes: {}", bytes,
                          client::to_string(sent.status));
    return std::nullopt;
  }
  std::vector<std::byte> echoed(bytes);
  const auto back = quiet->read_exact(bytes, harness::deadline_in(5s), echoed);
  if (back.status != client::Status::ok || echoed != payload) {
    problem =
        fmt::format("expected the quiet client's {} bytes echoed before it went quiet, got {}{}",
                    bytes, back.bytes,
                    back.status == client::Status::ok
                        ? " (changed)"
                        : fmt::format(" then {}", client::to_string(back.status)));
    return std::nullopt;
  }
  return quiet;
}

std::string reset_and_confirm(client::Connection& connection, harness::Capture* capture) {
  const client::SockAddr client_end = connection.local_address();
  const client::SockAddr server_end = connection.peer_address();
  const uint16_t client_port = client_end.port();
  connection.abort();
  if (capture != nullptr) {
    const auto reset = capture->wait_for(
        fmt::format("RST from the client (port {})", client_port),
        [&](const harness::Segment& s) { return s.from(client_port) && s.rst(); });
    return reset ? "" : "expected the client's abortive close to send an RST; " + reset.failure;
  }
  // The RST closes the server's end at once: sock_diag no longer lists it.
  if (harness::wait_until([&] { return !server_side(client_end, server_end); }, 5s))
    return "";
  return "expected the client's RST to close the server's end of the connection, observed it "
         "still open 5 s after the abortive close";
}

::testing::AssertionResult ClosedWithoutReply(const client::Target& target,
                                              std::string_view request) {
  client::StepResult failure;
  auto connection = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!connection)
    return ::testing::AssertionFailure() << "connect: " << client::to_string(failure.status);
  if (const auto sent = connection->send_all(request, harness::deadline_in(5s));
      sent.status != client::Status::ok) {
    return ::testing::AssertionFailure()
           << "sending " << printable(request) << ": " << client::to_string(sent.status);
  }
  // One byte is enough to know the server replied; reading on would buffer
  // whatever a server without a limit streams.
  const auto first = connection->read_exact(1, harness::deadline_in(5s));
  if (first.status == client::Status::ok) {
    return ::testing::AssertionFailure() << "request " << printable(request)
                                         << " should get no reply, but the server started "
                                            "sending one";
  }
  if (first.status == client::Status::timeout) {
    return ::testing::AssertionFailure() << "request " << printable(request)
                                         << " should close the connection; it was still open "
                                            "after 5 s";
  }
  return ::testing::AssertionSuccess();
}

std::optional<uint32_t> queued_connections(uint16_t port) {
  try {
    uint32_t queued = 0;
    for (const auto& queue : harness::tcp_listen_queues(port)) queued += queue.queued;
    return queued;
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

// More resets than a pool has workers: a pool that loses a worker to each
// reset and does not replace it (one left a zombie keeps the tree its size)
// has nobody left to accept by the last. Without a pool, two: the second
// shows the first left the server able to take another.
int resets_to_outlast(const harness::Traits& traits, int workers) {
  return traits.pool() ? std::max(workers + 1, 2) : 2;
}

// Success if the client after a reset (`after`: "after 2 resets") got its
// 100 bytes. One the server never took from its accept queue is said so: the
// server has stopped accepting (a pool with no worker left), it did not
// serve that client badly.
::testing::AssertionResult NextClientServed(const client::FetchResult& next, uint16_t port,
                                            std::chrono::milliseconds waited,
                                            std::string_view after) {
  ::testing::AssertionResult served = GotExactReply(next, 100);
  if (served)
    return served;
  if (next.outcome == client::Outcome::timeout && next.received == 0) {
    // Without sock_diag, the fetch's words below.
    if (const auto queued = queued_connections(port); queued && *queued > 0) {
      return ::testing::AssertionFailure()
             << after << ", the next client was never accepted within "
             << fmt::format("{:g}", static_cast<double>(waited.count()) / 1000) << " s (" << *queued
             << " connection(s) left in the accept queue)";
    }
  }
  return ::testing::AssertionFailure()
         << after << ", the next client was not served: " << served.message();
}

}  // namespace csd::suite
