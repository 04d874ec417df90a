// close/*: how a connection ends, seen on the wire. Verify behavior for the
// sequence: request, whole reply, EOF -> the server's FIN, never an RST.
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

constexpr uint64_t kReplyBytes = 100'000;  // more than one loopback segment

CSD_CHECK(
    Close, FinNotRst, kEveryImplementation,
    {.id = "close/fin-not-rst",
     .level = Level::required,
     .statement =
         "After a whole reply, the server's side of the connection closes with a FIN, never an "
         "RST (captured).",
     .why_level =
         "An RST after a reply can destroy the reply's last bytes in the client's buffer; a close "
         "must be orderly.",
     .proven_by = {"rst-after-reply"},
     .needs = {harness::KernelFeature::cap_net_raw}}) {
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
  // How it closed, for the report's matrix (as the Autobahn test suite's close behaviour):
  // "FIN", "RST", "none", and below "FIN, then RST".
  RecordProperty("close", !server_end ? "none" : server_end->rst() ? "RST" : "FIN");
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
  if (!resets.empty())
    RecordProperty("close", "FIN, then RST");
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

}  // namespace
}  // namespace csd::suite
