// The live capture against connections made here: it sees its own port's
// segments, in order, decoded; it waits by event and, at the deadline, says
// what it awaited and what it saw; it saves a .pcap tcpdump can read.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "capture.hpp"
#include "fd.hpp"
#include "helpers/loopback_listener.hpp"

namespace csd::harness {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A listener on a leased loopback port, and a capture of that port.
class LiveCapture : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      capture_.emplace(listener_.port());
    } catch (const CaptureUnavailable& e) {
      GTEST_SKIP() << e.what();
    }
  }

  // A connected client and the server's accepted end.
  std::pair<Fd, Fd> connect_pair() {
    Fd client = listener_.connect();
    EXPECT_TRUE(client) << "connect: " << std::strerror(errno);
    return {std::move(client), listener_.accept()};
  }

  unit::LoopbackListener listener_;
  std::optional<Capture> capture_;
};

TEST_F(LiveCapture, SeesHandshakeDataAndFin) {
  auto [client, server] = connect_pair();
  ASSERT_EQ(::write(server.get(), "hello", 5), 5);
  server.reset();
  const uint16_t port = listener_.port();
  auto data = capture_->wait_for("5 data bytes from the server",
                                 [&](const Segment& s) { return s.from(port) && s.payload == 5; });
  ASSERT_TRUE(data) << data.failure;
  auto fin = capture_->wait_for("FIN from the server",
                                [&](const Segment& s) { return s.from(port) && s.fin(); });
  ASSERT_TRUE(fin) << fin.failure;
  EXPECT_EQ(fin->seq, data->seq + 5);
  const auto& seen = capture_->segments();
  ASSERT_GE(seen.size(), 3U);
  EXPECT_TRUE(seen[0].syn() && !seen[0].from(port));
  EXPECT_EQ(flag_string(seen[1].flags), "S.");
  EXPECT_EQ(seen[0].dst_port, port);
}

TEST_F(LiveCapture, SeesRstOfAnAbortiveClose) {
  auto [client, server] = connect_pair();
  const linger abortive{1, 0};
  ::setsockopt(server.get(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  server.reset();
  const uint16_t port = listener_.port();
  auto rst = capture_->wait_for("RST from the server",
                                [&](const Segment& s) { return s.from(port) && s.rst(); });
  ASSERT_TRUE(rst) << rst.failure;
  EXPECT_EQ(rst->payload, 0U);
}

TEST_F(LiveCapture, DeadlineSaysWhatWasAwaitedAndListsWhatWasSeen) {
  const auto open_connection = connect_pair();  // its handshake is what is seen
  const auto none = capture_->wait_for(
      "an RST", [](const Segment& s) { return s.rst(); }, 50ms);
  ASSERT_FALSE(none);
  EXPECT_THAT(none.failure, HasSubstr("no an RST on port"));
  EXPECT_THAT(none.failure, HasSubstr("within 50 ms"));
  EXPECT_THAT(none.failure, HasSubstr("[S]"));
  EXPECT_THAT(none.failure, HasSubstr("[S.]"));
}

TEST_F(LiveCapture, SavedFileReadsBackTheSameSegments) {
  auto [client, server] = connect_pair();
  ASSERT_EQ(::write(client.get(), "x", 1), 1);
  client.reset();
  server.reset();
  const uint16_t port = listener_.port();
  // The server closes with the client's byte unread: that close is an RST.
  const auto end = capture_->wait_for("the server's RST",
                                      [&](const Segment& s) { return s.from(port) && s.rst(); });
  ASSERT_TRUE(end) << end.failure;
  const auto file = std::filesystem::temp_directory_path() /
                    ("csd-capture-test-" + std::to_string(::getpid()) + ".pcap");
  capture_->save(file);
  const auto read_back = read_pcap_file(file);
  std::filesystem::remove(file);
  const auto& live = capture_->segments();
  ASSERT_EQ(read_back.size(), live.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(describe(read_back[i]), describe(live[i])) << "segment " << i;
  }
}

}  // namespace
}  // namespace csd::harness
