// Cork: csd-cork's 200-byte header (write) and 4000-byte body (sendfile), seen on the wire.
// Verify behavior for the sequence: capture, connect, read to EOF, see the server's FIN; with
// --cork on the header leaves with the body (one 4200-byte segment here), with --cork off
// (TCP_NODELAY) it leaves alone (200, then 4000). On loopback Nagle alone looks like NODELAY,
// so cork is compared against NODELAY.
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connection.hpp"
#include "demos.hpp"
#include "evidence.hpp"
#include "server_test.hpp"
#include "timeouts.hpp"

namespace csd::suite {
namespace {

constexpr uint32_t kHeaderBytes = 200;  // csd-cork's defaults
constexpr uint32_t kBodyBytes = 4000;

using Judge = std::function<void(const std::vector<uint32_t>&)>;

// One connection to `csd-cork --cork on|off`, captured: `judge` gets the
// payload sizes of the segments the server sent, in order, while the capture
// is still there to be saved as evidence if it fails. The sizes are recorded
// as "<cork>_data_segments" and "<cork>_segment_sizes". Skips without CAP_NET_RAW.
// A test of one connection keeps its capture for the report's demo gallery.
enum class Keep : bool { no, yes };
void judge_data_segments(const std::string& cork, const Judge& judge, Keep keep = Keep::yes) {
  const auto server = start_demo_server("csd-cork", {"--cork", cork});
  const uint16_t port = server->port();
  CSD_START_CAPTURE(cap, port);
  if (keep == Keep::yes)
    cap->keep();

  client::StepResult failure;
  auto connection =
      client::Connection::open({"127.0.0.1", port}, harness::deadline_in(5s), &failure);
  ASSERT_TRUE(connection) << "connect: " << client::to_string(failure.status);
  const auto read = connection->read_to_end(harness::deadline_in(5s));
  ASSERT_EQ(read.status, client::Status::ok) << "reading to EOF: " << to_string(read.status);
  ASSERT_EQ(read.bytes, kHeaderBytes + kBodyBytes) << "bytes received";
  const auto fin = (*cap)->wait_for(
      "the server's FIN", [&](const harness::Segment& s) { return s.from(port) && s.fin(); });
  ASSERT_TRUE(fin) << fin.failure;

  std::vector<uint32_t> sizes;
  std::string listed;
  for (const auto& segment : (*cap)->segments()) {
    if (segment.from(port) && segment.payload > 0) {
      sizes.push_back(segment.payload);
      listed += fmt::format("{}{}", listed.empty() ? "" : " ", segment.payload);
    }
  }
  ::testing::Test::RecordProperty(cork + "_data_segments", static_cast<int>(sizes.size()));
  ::testing::Test::RecordProperty(cork + "_segment_sizes", listed);
  std::cout << "--cork " << cork << ": " << sizes.size() << " data segments (" << listed
            << " bytes)\n";
  SCOPED_TRACE((*cap)->listing());  // every segment, in the message of any failure below
  judge(sizes);
}

TEST(Cork, OnHeaderLeavesWithTheBody) {
  judge_data_segments("on", [](const std::vector<uint32_t>& sizes) {
    ASSERT_FALSE(sizes.empty());
    EXPECT_GT(sizes.front(), kHeaderBytes)
        << "with TCP_CORK the " << kHeaderBytes << "-byte header left in a segment of its own";
  });
}

TEST(Cork, OffNodelayHeaderLeavesAlone) {
  judge_data_segments("off", [](const std::vector<uint32_t>& sizes) {
    ASSERT_FALSE(sizes.empty());
    EXPECT_EQ(sizes.front(), kHeaderBytes)
        << "with TCP_NODELAY the header should leave at once, alone";
  });
}

// The same response, corked and not: the cork saves the header's segment.
TEST(Cork, FewerSegmentsThanNodelay) {
  std::size_t corked = 0;
  // Two connections, one evidence file name: neither is kept when it passes.
  judge_data_segments(
      "on", [&](const std::vector<uint32_t>& sizes) { corked = sizes.size(); }, Keep::no);
  if (HasFatalFailure() || IsSkipped())
    return;
  judge_data_segments(
      "off",
      [&](const std::vector<uint32_t>& sizes) {
        EXPECT_LT(corked, sizes.size()) << "data segments with TCP_CORK (" << corked
                                        << ") should be fewer than with TCP_NODELAY";
      },
      Keep::no);
}

}  // namespace
}  // namespace csd::suite
