// Reply: the size protocol answered exactly, whatever the request looks like
// on the wire and however many clients ask at once.
#include <fmt/format.h>

#include "check.hpp"
#include "server_test.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

class Reply : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// Every check of the family: the size protocol, whatever the design.
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};

CSD_CHECK(Reply, SmallRepliesAreExact, kSpeaksSize, "size/small-replies-exact", Level::required,
          "A request for 1, 100, 4096 or 65536 bytes gets exactly that many bytes, then EOF.",
          "It is the size protocol itself (docs/PROTOCOL.md): no design is excused from it.",
          {"short-reply", "long-reply", "ignores-host"}) {
  expect_exact_exchanges({1, 100, 4096, 65536}, "request for");
}

CSD_CHECK(Reply, ThreeMegabyteReplyIsExact, kSpeaksSize, "size/large-reply-exact", Level::required,
          "A request for 3,000,000 bytes gets every one of them, then EOF.",
          "A reply larger than the socket buffer goes out in parts; finishing it is UNP's "
          "writen(), not an extra.",
          {"caps-large-reply"}) {
  const uint64_t bytes = 3'000'000;
  EXPECT_TRUE(GotExactReply(fetch(bytes), bytes));
}

// The seed's client.py sends the bare digits, no newline, and reads once.
CSD_CHECK(Reply, BareNumberLikeClientPy, kSpeaksSize, "size/bare-request", Level::required,
          "Digits without a newline, followed by silence, are served as a request, as the seed's "
          "client.py sends them.",
          "The protocol allows it and the seed's own client depends on it: a server that waits for "
          "the newline never answers.",
          {"newline-only"}) {
  expect_exact_exchanges({10, 4096}, "bare request for", /*bare=*/true);
}

// A request is a byte stream: "4096\n" sent one byte per segment, each byte
// waited for until the server has read it, must still be one request.
CSD_CHECK(Reply, RequestSplitByteByByte, kSpeaksSize, "size/split-request", Level::required,
          "A request that arrives one byte per segment is read up to its newline, not taken from "
          "one recv().",
          "TCP is a byte stream: segment boundaries mean nothing, in every design.",
          {"single-recv"}) {
  const std::string request = "4096\n";
  auto sent = send_request_byte_by_byte(target(), request);
  ASSERT_TRUE(sent.connection) << sent.problem;
  RecordProperty("bytes_the_server_read_separately", static_cast<int>(sent.bytes_seen_consumed));
  const auto reply = read_reply(*sent.connection, 4096);
  EXPECT_TRUE(GotExactReply(reply, 4096))
      << "request sent as " << request.size() << " one-byte segments (" << sent.bytes_seen_consumed
      << " seen read by the server one by one)";
}

CSD_CHECK(Reply, TenClientsTimesHundredConnections, kSpeaksSize, "load/ten-clients-size",
          Level::required,
          "10 concurrent clients x 100 connections of 4096 bytes each all succeed.",
          "The seed's client.py load: every design serves it, the iterative one only more slowly.",
          {"drops-when-busy"}) {
  const auto report = load(10, 100, 4096);
  RecordProperty("connections_per_second", fmt::format("{:.0f}", report.connections_per_second()));
  RecordProperty("latency_p99_us",
                 fmt::format("{}", std::chrono::duration_cast<std::chrono::microseconds>(
                                       report.latency_percentile(0.99))
                                       .count()));
  std::cout << client::format_human(report);
  EXPECT_TRUE(EveryConnectionSucceeded(report));
}

}  // namespace
}  // namespace csd::suite
