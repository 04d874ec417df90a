// Rst: csd-rstserver closes each connection with SO_LINGER {1, 0}. Verify behavior for the
// sequence: connect, send a line, read -> the server's port sends an RST and no FIN (seen in a
// capture), and the read fails with ECONNRESET. With --graceful: a FIN, no RST, and the read
// returns 0 (end of file).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "connection.hpp"
#include "demos.hpp"
#include "evidence.hpp"
#include "timeouts.hpp"

namespace csd::suite {
namespace {

using harness::Segment;

// How the client's read ended: "read returned 0 (EOF)", "read failed with ECONNRESET".
std::string read_outcome(const client::StepResult& read) {
  if (read.status == client::Status::ok)
    return read.bytes == 0 ? "read returned 0 (EOF)"
                           : fmt::format("read {} bytes, then 0 (EOF)", read.bytes);
  if (read.error != 0)
    return fmt::format("read failed with {}", ::strerrorname_np(read.error));
  return fmt::format("read ended: {}", client::to_string(read.status));
}

// One client connects to csd-rstserver (--graceful or not), sends a line and reads until the
// server closes; a capture of the server's port shows which close it was. The assertions are
// made while the capture lives, so that a failure leaves its .pcap behind.
void check_server_close(bool graceful) {
  const auto server =
      start_demo_server("csd-rstserver", graceful ? std::vector<std::string>{"--graceful"}
                                                  : std::vector<std::string>{});
  const uint16_t port = server->port();
  CSD_START_CAPTURE(cap, port);
  cap->keep();  // the report's demo gallery draws it

  client::StepResult failure;
  auto conn = client::Connection::open({server->host(), port}, harness::deadline_in(5s), &failure);
  ASSERT_TRUE(conn) << "connect to csd-rstserver failed: " << std::strerror(failure.error);
  // The server closes once it has read a line (so never before our connect() is done).
  const client::StepResult sent = conn->send_all("hello\n", harness::deadline_in(5s));
  ASSERT_EQ(sent.status, client::Status::ok)
      << "sending the line failed: " << std::strerror(sent.error);
  const std::string read = read_outcome(conn->read_to_end(harness::deadline_in(5s)));

  // The close that ended the read was captured on its way to the client; still, wait for it
  // (bounded), so that a server that never closes is reported as such.
  (void)(*cap)->wait_for("a FIN or RST from the server's port",
                         [port](const Segment& s) { return s.from(port) && (s.fin() || s.rst()); });
  bool fin = false;
  bool rst = false;
  for (const Segment& s : (*cap)->segments()) {
    fin = fin || (s.from(port) && s.fin());
    rst = rst || (s.from(port) && s.rst());
  }
  const std::string observed = fin && rst ? "FIN and RST"
                               : fin      ? "FIN, no RST"
                               : rst      ? "RST, no FIN"
                                          : "neither FIN nor RST";
  // What the server says it did, for the report's gallery: it prints after its close().
  if (server->wait_for_output("closed with", 2000ms))
    ::testing::Test::RecordProperty("demo_output", server->output());
  const std::string expected = graceful ? "FIN, no RST" : "RST, no FIN";
  if (observed != expected)
    ADD_FAILURE() << "expected: " << expected << " from the server's port " << port
                  << "; observed: " << observed << "\n"
                  << (*cap)->listing() << "\nserver output:\n"
                  << server->output();
  const std::string expected_read =
      graceful ? "read returned 0 (EOF)" : "read failed with ECONNRESET";
  if (read != expected_read)
    ADD_FAILURE() << "expected: " << expected_read << "; observed: " << read << "\n"
                  << (*cap)->listing();
}

TEST(Rst, ServerClosesWithRstNotFin) { check_server_close(/*graceful=*/false); }

TEST(Rst, GracefulServerClosesWithFinNotRst) { check_server_close(/*graceful=*/true); }

}  // namespace
}  // namespace csd::suite
