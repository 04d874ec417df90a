// echo/*: every byte comes back (RFC 862), while the client waits for it and
// after it half-closes; and the server closes after the half-close.
#include <vector>

#include "check.hpp"
#include "server_test.hpp"
#include "timeouts.hpp"

namespace csd::suite {
namespace {

class Echo : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// Every check of the family: the echo protocol, whatever the design; again
// over ::1 for a manifest that serves IPv6 too.
constexpr harness::AppliesTo kSpeaksEcho{.protocol = harness::WireProtocol::echo};
const Runs kAlsoOverIpv6{.on_ipv6_copy = true};

CSD_CHECK(
    Echo, SmallRoundTrip, kSpeaksEcho,
    {.id = "echo/small-round-trip",
     .level = Level::required,
     .statement =
         "1, 100 and 4096 bytes come back exactly, and the server closes once the client has "
         "half-closed.",
     .why_level =
         "Required, not recommended: RFC 862 sends back any data received, and a half-close "
         "ends only the client's sending, not the connection; it is how an echo client learns "
         "it has everything (docs/PROTOCOL.md). ncat -k --sh-exec cat fails it "
         "(fixtures/impls/third-party).",
     .proven_by = {"echo-no-halfclose"},
     .by_hand = "csd-client -i {host} -p {port} -c 1 -t 1 --protocol echo -b 100",
     .runs = kAlsoOverIpv6}) {
  expect_exact_exchanges({1, 100, 4096}, "echo of");
}

// Larger than any socket buffer: the server must keep reading while it writes.
CSD_CHECK(
    Echo, LargePayload, kSpeaksEcho,
    {.id = "echo/large-payload",
     .level = Level::required,
     .statement =
         "3,000,000 bytes come back whole: the server keeps reading while its writes wait, and "
         "deadlocks nowhere.",
     .why_level = "Any payload larger than the socket buffers needs it; no design is excused.",
     .proven_by = {"echo-truncates"},
     .by_hand = "csd-client -i {host} -p {port} -c 1 -t 1 --protocol echo -b 3000000",
     .runs = kAlsoOverIpv6}) {
  const uint64_t bytes = 3'000'000;
  EXPECT_TRUE(GotExactReply(fetch(bytes), bytes));
}

// RFC 862 at its plainest: a client sends, waits for every byte to come
// back with its side still open, and only then closes. Servers that stop at
// the client's half-close (ncat --sh-exec cat) still pass this one.
CSD_CHECK(
    Echo, RoundTripBeforeClose, kSpeaksEcho,
    {.id = "echo/round-trip-before-close",
     .level = Level::required,
     .statement = "1, 100 and 4096 bytes come back exactly while the client keeps its side open.",
     .why_level =
         "RFC 862 itself: what is received is sent back; a server that holds its echo until "
         "the client half-closes never answers a client that waits.",
     .proven_by = {"echo-waits-for-eof"},
     .runs = kAlsoOverIpv6}) {
  for (const std::size_t bytes : {std::size_t{1}, std::size_t{100}, std::size_t{4096}}) {
    client::StepResult failure;
    auto connection = client::Connection::open(target(), harness::deadline_in(10s), &failure);
    ASSERT_TRUE(connection) << "connect: " << client::to_string(failure.status);
    std::vector<std::byte> payload(bytes);
    client::echo_pattern(0, payload);
    ASSERT_EQ(connection->send_all(payload, harness::deadline_in(5s)).status, client::Status::ok);
    std::vector<std::byte> echoed(bytes);
    const auto read = connection->read_exact(bytes, harness::deadline_in(5s), echoed);
    ASSERT_EQ(read.status, client::Status::ok)
        << "sent " << bytes
        << " bytes and waited, the connection open: " << client::to_string(read.status)
        << " before they all came back";
    EXPECT_TRUE(echoed == payload) << "the " << bytes << " bytes came back changed";
  }
}

}  // namespace
}  // namespace csd::suite
