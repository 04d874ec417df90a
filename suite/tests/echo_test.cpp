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

CSD_CHECK(Echo, SmallRoundTripThenCloseOnHalfClose, kSpeaksEcho) {
  for (const uint64_t bytes : {1ULL, 100ULL, 4096ULL}) {
    EXPECT_TRUE(GotExactReply(fetch(bytes), bytes)) << "echo of " << bytes << " bytes";
  }
}

// Larger than any socket buffer: the server must keep reading while it writes.
CSD_CHECK(Echo, LargePayloadComesBackWhole, kSpeaksEcho) {
  const uint64_t bytes = 3'000'000;
  EXPECT_TRUE(GotExactReply(fetch(bytes), bytes));
}

CSD_CHECK(Echo, TenClientsTimesHundredConnections, kSpeaksEcho) {
  EXPECT_TRUE(EveryConnectionSucceeded(load(10, 100, 4096)));
}

}  // namespace
}  // namespace csd::suite
