// size/*: the size protocol answered exactly, whatever the request looks like
// on the wire (docs/PROTOCOL.md).
#include <fmt/format.h>

#include "check.hpp"
#include "server_test.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

class Size : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// Every check of the family: the size protocol, whatever the design; again
// over ::1 for a manifest that serves IPv6 too.
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};
const Runs kAlsoOverIpv6{.on_ipv6_copy = true};

CSD_CHECK(Size, SmallRepliesExact, kSpeaksSize,
          {.id = "size/small-replies-exact",
           .level = Level::required,
           .statement =
               "A request for 1, 100, 4096 or 65536 bytes gets exactly that many bytes, then EOF.",
           .why_level =
               "It is the size protocol itself (docs/PROTOCOL.md): no design is excused from it.",
           .proven_by = {"short-reply", "long-reply", "ignores-host"},
           .by_hand = "csd-client -i {host} -p {port} -c 1 -t 1 -b 100",
           .runs = kAlsoOverIpv6}) {
  expect_exact_exchanges({1, 100, 4096, 65536}, "request for");
}

CSD_CHECK(
    Size, LargeReplyExact, kSpeaksSize,
    {.id = "size/large-reply-exact",
     .level = Level::required,
     .statement = "A request for 3,000,000 bytes gets every one of them, then EOF.",
     .why_level = "A reply larger than the socket buffer goes out in parts; finishing it is UNP's "
                  "writen(), not an extra.",
     .proven_by = {"caps-large-reply"},
     .by_hand = "csd-client -i {host} -p {port} -c 1 -t 1 -b 3000000",
     .runs = kAlsoOverIpv6}) {
  const uint64_t bytes = 3'000'000;
  EXPECT_TRUE(GotExactReply(fetch(bytes), bytes));
}

// The seed's client.py sends the bare digits, no newline, and reads once.
CSD_CHECK(
    Size, BareRequest, kSpeaksSize,
    {.id = "size/bare-request",
     .level = Level::required,
     .statement =
         "Digits without a newline, followed by silence, are served as a request, as the seed's "
         "client.py sends them.",
     .why_level =
         "The protocol allows it and the seed's own client depends on it: a server that waits for "
         "the newline never answers.",
     .proven_by = {"newline-only"},
     .by_hand = "csd-client -i {host} -p {port} -c 1 -t 1 -b 100 --bare --timeout 2",
     .runs = kAlsoOverIpv6}) {
  expect_exact_exchanges({10, 4096}, "bare request for", /*bare=*/true);
}

// A request is a byte stream: "4096\n" sent one byte per segment, each byte
// waited for until the server has read it, must still be one request.
CSD_CHECK(
    Size, SplitRequest, kSpeaksSize,
    {.id = "size/split-request",
     .level = Level::required,
     .statement =
         "A request that arrives one byte per segment is read up to its newline, not taken from "
         "one recv().",
     .why_level = "TCP is a byte stream: segment boundaries mean nothing, in every design.",
     .proven_by = {"single-recv"},
     .runs = kAlsoOverIpv6}) {
  const std::string request = "4096\n";
  // An attempt whose request lost a segment on the way (--network loss) is
  // void: made again, up to three times.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    auto sent = send_request_byte_by_byte(target(), request);
    ASSERT_TRUE(sent.connection) << sent.problem;
    const auto reply = read_reply(*sent.connection, 4096);
    if (!GotExactReply(reply, 4096) && sent.retransmitted) {
      if (attempt < kAttempts)
        continue;
      CSD_SKIP(
          fmt::format("each of {} attempts lost a segment of its request on the way, and the "
                      "server's 50 ms grace ends a bare request at such a pause",
                      kAttempts));
    }
    RecordProperty("bytes_the_server_read_separately", static_cast<int>(sent.bytes_seen_consumed));
    RecordProperty("attempts", attempt);
    EXPECT_TRUE(GotExactReply(reply, 4096))
        << "request sent as " << request.size() << " one-byte segments ("
        << sent.bytes_seen_consumed << " seen read by the server one by one)";
    return;
  }
}

}  // namespace
}  // namespace csd::suite
