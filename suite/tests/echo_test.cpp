// Echo (RFC 862): every byte comes back, and the server closes after the
// client half-closes.
#include "check.hpp"
#include "server_test.hpp"

namespace csd::suite {
namespace {

class Echo : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// Every check of the family: the echo protocol, whatever the design.
constexpr harness::AppliesTo kSpeaksEcho{.protocol = harness::WireProtocol::echo};

CSD_CHECK(Echo, SmallRoundTripThenCloseOnHalfClose, kSpeaksEcho, "echo/small-round-trip",
          Level::required,
          "1, 100 and 4096 bytes come back exactly, and the server closes once the client has "
          "half-closed.",
          "RFC 862 with the protocol's half-close rule (docs/PROTOCOL.md): how an echo client "
          "learns it has everything.") {
  for (const uint64_t bytes : {1ULL, 100ULL, 4096ULL}) {
    EXPECT_TRUE(GotExactReply(fetch(bytes), bytes)) << "echo of " << bytes << " bytes";
  }
}

// Larger than any socket buffer: the server must keep reading while it writes.
CSD_CHECK(Echo, LargePayloadComesBackWhole, kSpeaksEcho, "echo/large-payload", Level::required,
          "3,000,000 bytes come back whole: the server keeps reading while its writes wait, and "
          "deadlocks nowhere.",
          "Any payload larger than the socket buffers needs it; no design is excused.") {
  const uint64_t bytes = 3'000'000;
  EXPECT_TRUE(GotExactReply(fetch(bytes), bytes));
}

CSD_CHECK(Echo, TenClientsTimesHundredConnections, kSpeaksEcho, "load/ten-clients-echo",
          Level::required,
          "10 concurrent clients x 100 echo connections of 4096 bytes each all succeed.",
          "The seed's load, with the echo protocol: every design serves it.") {
  EXPECT_TRUE(EveryConnectionSucceeded(load(10, 100, 4096)));
}

}  // namespace
}  // namespace csd::suite
