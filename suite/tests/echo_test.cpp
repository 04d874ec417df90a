// Echo (RFC 862): every byte comes back, and the server closes after the
// client half-closes.
#include "implementations.hpp"
#include "server_test.hpp"

namespace csd::suite {
namespace {

class Echo : public ServerTest {
 protected:
  Echo() { applies_to_protocol(harness::WireProtocol::echo); }
};

TEST_P(Echo, SmallRoundTripThenCloseOnHalfClose) {
  for (const uint64_t bytes : {1ULL, 100ULL, 4096ULL}) {
    EXPECT_TRUE(GotExactReply(fetch(bytes), bytes)) << "echo of " << bytes << " bytes";
  }
}

// Larger than any socket buffer: the server must keep reading while it writes.
TEST_P(Echo, LargePayloadComesBackWhole) {
  const uint64_t bytes = 3'000'000;
  EXPECT_TRUE(GotExactReply(fetch(bytes), bytes));
}

TEST_P(Echo, TenClientsTimesHundredConnections) {
  EXPECT_TRUE(EveryConnectionSucceeded(load(10, 100, 4096)));
}

CSD_INSTANTIATE_FAMILY(Echo);

}  // namespace
}  // namespace csd::suite
