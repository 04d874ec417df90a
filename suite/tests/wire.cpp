#include "wire.hpp"

#include <chrono>
#include <cstddef>
#include <span>

#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::suite {

std::optional<harness::TcpSocketInfo> server_side(const client::Connection& c) {
  const auto local = c.local_address();
  const auto peer = c.peer_address();
  return harness::tcp_socket_info(reinterpret_cast<const sockaddr*>(&peer.storage), peer.len,
                                  reinterpret_cast<const sockaddr*>(&local.storage), local.len);
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
