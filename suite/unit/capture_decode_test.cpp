// The decoder against the captures kept in fixtures/pcaps (README.md there says
// how each was made): every link type a loopback capture comes in (EN10MB,
// LINUX_SLL, LINUX_SLL2, NULL in both byte orders, LOOP), IPv4 and IPv6, decodes
// to the addresses, flags, sequence numbers, lengths, windows and window
// scales that `tcpdump -r FILE -n -S -tt` reads.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "capture.hpp"
#include "helpers/tcpdump.hpp"

namespace csd::harness {
namespace {

namespace fs = std::filesystem;

const fs::path kPcaps = CSD_PCAP_FIXTURES;

struct Fixture {
  const char* scenario;  // the traffic (make.sh): "data-fin", "rst"...
  const char* variant;   // how it was captured or rewritten: "en10mb", "sll2", "null-be"...
  int linktype;
  // Each segment as "c" (from the client) or "s", its flags, its length:
  // written from tcpdump's reading of the file (README.md). nullptr for the
  // long transfer: its golden transcript (wire_test.cpp) pins its 78 segments.
  const char* shape;

  [[nodiscard]] std::string file() const { return fmt::format("{}-{}.pcap", scenario, variant); }
  // The Ethernet capture of the same traffic, by csd-capture (the suite's capture).
  [[nodiscard]] std::string ethernet_file() const {
    return fmt::format("{}-en10mb.pcap", scenario);
  }
};

void PrintTo(const Fixture& fixture, std::ostream* out) { *out << fixture.file(); }

constexpr const char* kDataFin = "cS0 sS.0 c.0 cP.4 s.0 sP.100 c.0 sF.0 cF.0 s.0";
constexpr const char* kRst = "cS0 sS.0 c.0 sR.0";
constexpr const char* kCork = "cS0 sS.0 c.0 sP.4200 c.0 sF.0 cF.0 s.0";
constexpr const char* kEcn = "cSEW0 sS.E0 c.0 cP.4 s.0 sP.100 c.0 sF.0 cF.0 s.0";
// The second data segment twice (dropped on its way in, resent), then the client's zero window.
constexpr const char* kZeroWindow =
    "cS0 sS.0 c.0 cP.5 s.0 s.576 c.0 sP.576 sP.576 c.0 c.0 s.576 c.0 s.576 c.0 s.576 c.0 sP.120 "
    "c.0 sF.0 cF.0 s.0";

const std::array kFixtures{
    Fixture{"data-fin", "en10mb", DLT_EN10MB, kDataFin},
    Fixture{"data-fin", "sll", DLT_LINUX_SLL, kDataFin},
    Fixture{"data-fin", "sll2", DLT_LINUX_SLL2, kDataFin},
    Fixture{"data-fin", "null", DLT_NULL, kDataFin},
    Fixture{"data-fin", "null-be", DLT_NULL, kDataFin},
    Fixture{"data-fin", "loop", DLT_LOOP, kDataFin},
    Fixture{"data-fin-ipv6", "en10mb", DLT_EN10MB, kDataFin},
    Fixture{"data-fin-ipv6", "sll2", DLT_LINUX_SLL2, kDataFin},
    Fixture{"data-fin-ipv6", "null", DLT_NULL, kDataFin},
    Fixture{"data-fin-ipv6", "loop", DLT_LOOP, kDataFin},
    Fixture{"rst", "en10mb", DLT_EN10MB, kRst},
    Fixture{"rst", "sll", DLT_LINUX_SLL, kRst},
    Fixture{"cork", "en10mb", DLT_EN10MB, kCork},
    Fixture{"cork", "sll2", DLT_LINUX_SLL2, kCork},
    Fixture{"ecn", "en10mb", DLT_EN10MB, kEcn},
    Fixture{"long", "en10mb", DLT_EN10MB, nullptr},
    Fixture{"zero-window", "en10mb", DLT_EN10MB, kZeroWindow},
};

int file_linktype(const fs::path& file) {
  std::array<char, PCAP_ERRBUF_SIZE> error{};
  const std::unique_ptr<pcap, void (*)(pcap*)> handle(pcap_open_offline(file.c_str(), error.data()),
                                                      pcap_close);
  return handle ? pcap_datalink(handle.get()) : -1;
}

std::string shape(const std::vector<Segment>& segments) {
  std::string out;
  const uint16_t server = segments.empty() ? 0 : segments.front().dst_port;
  for (const auto& s : segments) {
    out += fmt::format("{}{}{}{}", out.empty() ? "" : " ", s.from(server) ? 's' : 'c',
                       flag_string(s.flags), s.payload);
  }
  return out;
}

// Everything but the time, which differs by a microsecond or so between
// captures of the same traffic made by different programs.
std::string without_time(const Segment& s) {
  return fmt::format("{}.{} > {}.{} [{}] seq {} ack {} len {} win {} wscale {}", s.src_addr.text(),
                     s.src_port, s.dst_addr.text(), s.dst_port, flag_string(s.flags), s.seq, s.ack,
                     s.payload, s.window, s.window_scale ? int{*s.window_scale} : -1);
}

class CaptureDecode : public ::testing::TestWithParam<Fixture> {};

TEST_P(CaptureDecode, HasItsLinkTypeAndShape) {
  const Fixture& fixture = GetParam();
  const fs::path file = kPcaps / fixture.file();
  ASSERT_EQ(file_linktype(file), fixture.linktype)
      << file << " is not the link type its name says: the decoder path is not tested";
  if (fixture.shape != nullptr) {
    EXPECT_EQ(shape(read_pcap_file(file)), fixture.shape) << file;
  }
}

// The files made from the same traffic decode alike, segment for segment:
// whatever the link type, the IP and TCP fields are found in the same place.
TEST_P(CaptureDecode, DecodesLikeTheEthernetCaptureOfTheSameTraffic) {
  const std::string name = GetParam().file();
  const std::string ethernet = GetParam().ethernet_file();
  const auto segments = read_pcap_file(kPcaps / name);
  const auto reference = read_pcap_file(kPcaps / ethernet);
  ASSERT_EQ(segments.size(), reference.size()) << name << " vs " << ethernet;
  for (std::size_t i = 0; i < segments.size(); ++i)
    EXPECT_EQ(without_time(segments[i]), without_time(reference[i])) << name << " segment " << i;
}

TEST_P(CaptureDecode, AgreesWithTcpdump) {
  const auto tcpdump = unit::find_tcpdump();
  if (!tcpdump)
    GTEST_SKIP() << "tcpdump is not installed (ci/install-deps.sh installs it)";
  const fs::path file = kPcaps / GetParam().file();
  const auto ours = read_pcap_file(file);
  const auto theirs = unit::tcpdump_read(*tcpdump, file, /*absolute=*/true);
  ASSERT_EQ(ours.size(), theirs.size()) << "segments decoded vs lines tcpdump printed, " << file;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const Segment& s = ours[i];
    const unit::TcpdumpLine& t = theirs[i];
    SCOPED_TRACE(fmt::format("{} segment {}: {}", file.filename().string(), i, describe(s)));
    EXPECT_EQ(s.time, t.time - theirs.front().time);
    EXPECT_EQ(s.src_addr.text(), t.src_addr);
    EXPECT_EQ(s.dst_addr.text(), t.dst_addr);
    EXPECT_EQ(s.src_port, t.src_port);
    EXPECT_EQ(s.dst_port, t.dst_port);
    EXPECT_EQ(flag_string(s.flags), t.flags);
    EXPECT_EQ(s.payload, t.length);
    EXPECT_EQ(s.window, t.window);
    EXPECT_EQ(s.window_scale, t.window_scale);
    // tcpdump prints seq only for a segment that occupies sequence space,
    // and ack only when the ACK flag is set.
    if (t.seq) {
      EXPECT_EQ(s.seq, *t.seq);
    }
    if (t.seq_end) {
      EXPECT_EQ(s.seq + s.payload, *t.seq_end);
    }
    EXPECT_EQ(s.has(Segment::kAck), t.ack.has_value());
    if (t.ack) {
      EXPECT_EQ(s.ack, *t.ack);
    }
  }
}

std::string fixture_name(const ::testing::TestParamInfo<Fixture>& info) {
  std::string name = fs::path(info.param.file()).stem().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Pcaps, CaptureDecode, ::testing::ValuesIn(kFixtures), fixture_name);

// A .pcap added to fixtures/pcaps without a row above would be tested by nothing.
TEST(CaptureDecodeFixtures, EveryFileHasARow) {
  for (const auto& entry : fs::directory_iterator(kPcaps)) {
    if (entry.path().extension() != ".pcap")
      continue;
    const auto name = entry.path().filename().string();
    EXPECT_TRUE(std::any_of(kFixtures.begin(), kFixtures.end(),
                            [&](const Fixture& f) { return name == f.file(); }))
        << name << " has no row in kFixtures";
  }
}

// Frames cut short, or carrying no TCP, decode to nothing rather than to garbage.
TEST(CaptureDecodeFrames, ShortOrForeignFramesAreNotSegments) {
  std::array<uint8_t, 14 + 20 + 20> frame{};
  frame[12] = 0x08;            // EtherType IPv4
  frame[14] = 0x45;            // version 4, 20-byte header
  frame[17] = 40;              // total length: headers only
  frame[14 + 9] = 6;           // TCP
  frame[14 + 20 + 12] = 0x50;  // TCP data offset: 20 bytes
  EXPECT_TRUE(decode_frame(DLT_EN10MB, frame).has_value());
  EXPECT_FALSE(decode_frame(DLT_EN10MB, std::span(frame).first(14 + 20 + 19)));
  EXPECT_FALSE(decode_frame(DLT_EN10MB, std::span(frame).first(13)));
  EXPECT_FALSE(decode_frame(DLT_LINUX_SLL2, std::span(frame).first(19)));
  EXPECT_FALSE(decode_frame(DLT_NULL, std::span(frame).first(3)));
  auto udp = frame;
  udp[14 + 9] = 17;
  EXPECT_FALSE(decode_frame(DLT_EN10MB, udp));
  auto arp = frame;
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(decode_frame(DLT_EN10MB, arp));
  EXPECT_FALSE(decode_frame(12345, frame)) << "an unknown link type";
}

}  // namespace
}  // namespace csd::harness
