// Close: how a connection ends, seen on the wire. Verify behavior for the
// sequences: request, whole reply, EOF -> the server's FIN, never an RST; and
// request, 64 KiB of a much larger reply, client RST (SO_LINGER {1, 0}) ->
// the server stays up, serves the next client and keeps its whole pool.
#include <sys/socket.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "check.hpp"
#include "evidence.hpp"
#include "load.hpp"
#include "run.hpp"
#include "server_test.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

using harness::Segment;

class Close : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  [[nodiscard]] bool speaks_echo() const {
    return manifest().protocol == harness::WireProtocol::echo;
  }
};

// Every check of the family: whatever the protocol and the design.
constexpr harness::AppliesTo kEveryImplementation{};

// Both directions of the one connection whose client end is `client_port`.
bool on_connection(const Segment& s, uint16_t server_port, uint16_t client_port) {
  return (s.src_port == server_port && s.dst_port == client_port) ||
         (s.src_port == client_port && s.dst_port == server_port);
}

// Fed a connection's segments in order, says when the connection is over:
// each side's FIN acknowledged by the other side, or an RST from either.
// After that nothing more crosses the wire, so "no RST" can be judged then,
// without waiting for something that should not come.
class ConnectionEnd {
 public:
  ConnectionEnd(uint16_t server_port, uint16_t client_port)
      : server_{server_port, std::nullopt, false}, client_{client_port, std::nullopt, false} {}

  bool over_after(const Segment& s) {
    if (!on_connection(s, server_.port, client_.port))
      return false;
    if (s.rst())
      return true;
    Side& sender = s.from(server_.port) ? server_ : client_;
    Side& receiver = s.from(server_.port) ? client_ : server_;
    if (s.fin())
      sender.fin_end = s.seq + s.payload + 1;  // a FIN takes one sequence number
    if (s.has(Segment::kAck) && receiver.fin_end && s.ack == *receiver.fin_end)
      receiver.fin_acknowledged = true;
    return server_.fin_acknowledged && client_.fin_acknowledged;
  }

 private:
  struct Side {
    uint16_t port = 0;
    std::optional<uint32_t> fin_end;  // the sequence number just after its FIN
    bool fin_acknowledged = false;
  };
  Side server_;
  Side client_;
};

std::string describe_all(const std::vector<Segment>& segments) {
  std::string out;
  for (const auto& s : segments) out += (out.empty() ? "" : "; ") + harness::describe(s);
  return out;
}

// The kernel's view (sock_diag) of the server's end of a connection, from
// the client's two addresses saved while it was open; nullopt once it is gone.
std::optional<harness::TcpSocketInfo> server_end_of(const client::SockAddr& client_end,
                                                    const client::SockAddr& server_end) {
  return harness::tcp_socket_info(
      reinterpret_cast<const sockaddr*>(&server_end.storage), server_end.len,
      reinterpret_cast<const sockaddr*>(&client_end.storage), client_end.len);
}

constexpr uint64_t kReplyBytes = 100'000;  // more than one loopback segment

CSD_CHECK(Close, ServerClosesWithFinNotRst, kEveryImplementation, "close/fin-not-rst",
          Level::required,
          "After a whole reply, the server's side of the connection closes with a FIN, never an "
          "RST (captured).",
          "An RST after a reply can destroy the reply's last bytes in the client's buffer; a close "
          "must be orderly.",
          {"rst-after-reply"}, {harness::KernelFeature::cap_net_raw}) {
  const uint16_t server_port = server().port();
  CSD_START_CAPTURE(capture, server_port);

  client::StepResult failure;
  auto connection = client::Connection::open(target(), harness::deadline_in(10s), &failure);
  ASSERT_TRUE(connection) << "connect: " << client::to_string(failure.status);
  const uint16_t client_port = connection->local_address().port();

  // A clean client: it sends exactly one request (echo: then half-closes),
  // takes every byte up to the server's EOF and only then closes, so nothing
  // it does is a reason for an RST. Whatever ends the connection is the server's.
  std::string reply;
  client::StepResult sent;
  if (speaks_echo()) {
    std::vector<std::byte> payload(kReplyBytes);
    client::echo_pattern(0, payload);
    sent = connection->send_all(payload, harness::deadline_in(10s));
    connection->shutdown_write();
  } else {
    sent = connection->send_all(fmt::format("{}\n", kReplyBytes), harness::deadline_in(10s));
  }
  ASSERT_EQ(sent.status, client::Status::ok) << "sending the request: " << sent.call;
  const client::StepResult read = connection->read_to_end(harness::deadline_in(10s), &reply);

  const auto server_end = (*capture)->wait_for(
      fmt::format("FIN or RST from the server (port {}) to the client (port {})", server_port,
                  client_port),
      [&](const Segment& s) {
        return s.from(server_port) && s.dst_port == client_port && (s.fin() || s.rst());
      });
  ASSERT_TRUE(server_end) << "expected the server to close with a FIN after the reply; "
                          << server_end.failure;
  ASSERT_FALSE(server_end->rst())
      << "expected a FIN from the server after the reply, observed an RST: "
      << harness::describe(*server_end.segment) << " (the client read " << reply.size()
      << " bytes, then " << client::to_string(read.status) << ")\n"
      << (*capture)->listing();

  connection.reset();  // the client's own FIN (size protocol), after EOF: a clean close
  ConnectionEnd end(server_port, client_port);
  const auto over = (*capture)->wait_for(
      fmt::format("end of the connection from client port {} (both FINs acknowledged, or an RST)",
                  client_port),
      [&](const Segment& s) { return end.over_after(s); });
  ASSERT_TRUE(over) << over.failure;

  std::vector<Segment> resets;
  for (const auto& s : (*capture)->segments()) {
    if (s.from(server_port) && s.dst_port == client_port && s.rst())
      resets.push_back(s);
  }
  EXPECT_TRUE(resets.empty()) << "expected no RST from the server (port " << server_port
                              << ") to the client (port " << client_port << "), observed "
                              << resets.size() << ": " << describe_all(resets) << "\n"
                              << (*capture)->listing();

  // The exchange itself, last: the wire verdict above is this check's point.
  EXPECT_TRUE(read.status == client::Status::ok)
      << "expected the reply to end with EOF, observed " << client::to_string(read.status)
      << " after " << reply.size() << " bytes";
  EXPECT_EQ(reply.size(), kReplyBytes) << "expected a reply of " << kReplyBytes << " bytes";
}

constexpr uint64_t kLargeReplyBytes = uint64_t{32} << 20;  // more than every buffer on the way
constexpr std::size_t kReadBeforeReset = std::size_t{64} << 10;

CSD_CHECK(Close, ClientResetMidReplyLeavesServerServing, kEveryImplementation,
          "robust/reset-mid-reply", Level::required,
          "A client that resets mid-reply leaves the server up, serving the next client, with its "
          "whole pool.",
          "A client may vanish at any time; a server killed by SIGPIPE or exiting on ECONNRESET is "
          "down for everyone (UNP 5.13).",
          {"dies-on-reset"}) {
  const uint16_t server_port = server().port();
  // The capture is evidence (the client's RST, kept on failure), not the
  // verdict, which is about the server's process: without CAP_NET_RAW the
  // check runs on without it.
  std::optional<EvidenceCapture> capture;
  try {
    capture.emplace(server_port);
  } catch (const harness::CaptureUnavailable& unavailable) {
    RecordProperty("capture_unavailable", unavailable.what());
  }
  const auto listing = [&] { return capture ? (*capture)->listing() : std::string(); };

  client::StepResult failure;
  auto connection = client::Connection::open(target(), harness::deadline_in(10s), &failure);
  ASSERT_TRUE(connection) << "connect: " << client::to_string(failure.status);
  const client::SockAddr client_end = connection->local_address();
  const client::SockAddr server_end = connection->peer_address();
  const uint16_t client_port = client_end.port();

  // Echo: the payload goes out in chunks, as far as the buffers let it; the
  // first 64 KiB fit in any of them, so send_all can wait for those.
  uint64_t echo_sent = 0;
  std::array<std::byte, std::size_t{64} << 10> chunk{};
  // Sends more of the echo payload without blocking; true once the server
  // has stopped taking it in (the client's send would block) or all is sent.
  const auto feed_echo_until_refused = [&] {
    while (echo_sent < kLargeReplyBytes) {
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
  if (speaks_echo()) {
    client::echo_pattern(0, chunk);
    sent = connection->send_all(std::span<const std::byte>(chunk), harness::deadline_in(10s));
    echo_sent = sent.bytes;
  } else {
    sent = connection->send_all(fmt::format("{}\n", kLargeReplyBytes), harness::deadline_in(10s));
  }
  ASSERT_EQ(sent.status, client::Status::ok) << "sending the request: " << sent.call;

  const client::StepResult first =
      connection->read_exact(kReadBeforeReset, harness::deadline_in(10s));
  ASSERT_EQ(first.status, client::Status::ok)
      << "expected the first " << kReadBeforeReset << " bytes of the reply, observed "
      << client::to_string(first.status) << " after " << first.bytes;

  // "In the middle" for real: the client stops reading until the server's
  // send queue holds reply bytes the client has not taken, so the server
  // still has a reply to write (and is blocked writing it, or waiting to)
  // when the RST arrives. The size reply is far longer than all the buffers
  // on the way; echo input is fed until the server stops taking it in.
  std::optional<harness::TcpSocketInfo> server_socket;
  bool input_refused = !speaks_echo();
  const bool backed_up = harness::wait_until(
      [&] {
        if (speaks_echo())
          input_refused = feed_echo_until_refused();
        server_socket = server_end_of(client_end, server_end);
        return input_refused && server_socket && server_socket->wqueue > 0;
      },
      10s);
  ASSERT_TRUE(backed_up) << "expected the server's send queue to hold reply bytes the client "
                            "has not read, observed "
                         << (server_socket ? fmt::format("{} bytes queued", server_socket->wqueue)
                                           : std::string("no server socket"))
                         << (speaks_echo()
                                 ? fmt::format(" ({} echo bytes sent, the server {})", echo_sent,
                                               input_refused ? "refusing more" : "still reading")
                                 : std::string())
                         << " after 10 s";
  RecordProperty("server_send_queue_at_reset", static_cast<int>(server_socket->wqueue));
  RecordProperty("server_receive_queue_at_reset", static_cast<int>(server_socket->rqueue));
  const uint64_t inode = server_socket->inode;

  connection->abort();  // SO_LINGER {1, 0} + close: RST
  if (capture) {
    const auto reset =
        (*capture)->wait_for(fmt::format("RST from the client (port {})", client_port),
                             [&](const Segment& s) { return s.from(client_port) && s.rst(); });
    ASSERT_TRUE(reset) << "expected the client's abortive close to send an RST; " << reset.failure;
  } else {  // the RST closes the server's end at once: sock_diag no longer lists it
    ASSERT_TRUE(harness::wait_until([&] { return !server_end_of(client_end, server_end); }, 5s))
        << "expected the client's RST to close the server's end of the connection, observed it "
           "still open 5 s after the abortive close";
  }

  // The server has taken the reset in once no process of it holds the
  // connection's socket any more (or once it is gone, which is the bug).
  const bool let_go = harness::wait_until(
      [&] { return !server().running() || harness::holders_of(inode, server().tree()).empty(); },
      10s);
  // The next client first: a server that dies of the reset a moment later
  // (a SIGPIPE on its next write) has had that moment by the time it is asked.
  const client::FetchResult next = fetch(100);
  if (!server().running()) {
    const pid_t main_pid = server().pid();
    const harness::StopReport report = stop_server(SIGTERM, 1000ms);  // collects how it ended
    FAIL() << "expected the server to stay up after a client reset its connection mid-reply, "
              "observed its main process "
           << main_pid << " gone ("
           << (report.exit_status ? harness::describe_wait_status(*report.exit_status)
                                  : "wait status unknown")
           << ")\n"
           << listing();
  }
  EXPECT_TRUE(let_go) << "expected the server to close the reset connection (socket inode " << inode
                      << "), observed it still held 10 s after the RST by "
                      << harness::holders_of(inode, server().tree()).size() << " process(es)";
  EXPECT_TRUE(GotExactReply(next, 100))
      << "expected the next client to be served after a client reset mid-reply";
  EXPECT_TRUE(pool_is_full_within(5000ms)) << "after a client reset mid-reply";
}

}  // namespace
}  // namespace csd::suite
