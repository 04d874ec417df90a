// Robustness: a bad request costs only its own connection. The server closes
// it without a reply and goes on serving everyone else.
#include "check.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "timeouts.hpp"

namespace csd::suite {
namespace {

class Robustness : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  // Sends `request` and expects the connection closed, with no reply bytes,
  // within a generous deadline; then expects the server to still serve.
  void expect_rejected_and_still_serving(std::string_view request) {
    client::StepResult failure;
    auto connection = client::Connection::open(target(), harness::deadline_in(10s), &failure);
    ASSERT_TRUE(connection) << "connect: " << client::to_string(failure.status);
    ASSERT_EQ(connection->send_all(request, harness::deadline_in(5s)).status, client::Status::ok);
    // One byte is enough to know the server replied; reading on would buffer
    // whatever a server without a limit streams.
    const auto first = connection->read_exact(1, harness::deadline_in(5s));
    EXPECT_NE(first.status, client::Status::ok)
        << "request " << printable(request)
        << " should get no reply, but the server started sending one";
    EXPECT_NE(first.status, client::Status::timeout)
        << "request " << printable(request)
        << " should close the connection; it was still open after 5 s";
    connection.reset();

    ASSERT_TRUE(harness::read_proc(server().pid()))
        << "the server's main process died after " << printable(request);
    EXPECT_TRUE(GotExactReply(fetch(100), 100))
        << "after " << printable(request) << " the server must keep serving";
  }

  static std::string printable(std::string_view request) {
    std::string out = "\"";
    for (const char c : request) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out + "\"";
  }
};

// Every check of the family: the size protocol, whose requests can be malformed.
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};

CSD_CHECK(Robustness, GarbageRequestClosesOnlyThatConnection, kSpeaksSize, "robust/garbage-request",
          Level::required,
          "A request that is not a number closes that connection, and the next client is served.",
          "The protocol says close; a server that dies on one bad request is down for everyone.",
          {"dies-on-garbage"}) {
  expect_rejected_and_still_serving("hello\n");
}

CSD_CHECK(Robustness, NegativeRequestClosesOnlyThatConnection, kSpeaksSize,
          "robust/negative-request", Level::required,
          "A request for a negative count closes that connection, and the next client is served.",
          "As robust/garbage-request: a sign is not a number of bytes.", {"negative-as-size"}) {
  expect_rejected_and_still_serving("-5\n");
}

// The default limit is 1 GiB; one byte more must be refused, not streamed.
CSD_CHECK(
    Robustness, OverLimitRequestClosesOnlyThatConnection, kSpeaksSize, "robust/over-limit-request",
    Level::required,
    "A request above the 1 GiB limit closes that connection, and the next client is served.",
    "The protocol's limit (docs/PROTOCOL.md): without it one request ties up a server for hours.",
    {"no-limit"}) {
  expect_rejected_and_still_serving("1073741825\n");
}

}  // namespace
}  // namespace csd::suite
