// The ladder (suite/wire/ladder.hpp) on the captures of fixtures/pcaps: each
// file's transcript and SVG against the reviewed golden files beside it
// (NAME.wire.txt, NAME.ladder.svg), and every label, in the transcript and on
// the diagram's arrows, against tcpdump's own relative reading of the file
// (`tcpdump -r FILE -n -tt`); then what the model says of retransmissions,
// zero windows, folds, wrap-around and several connections.
//
// To remake the golden files after a change meant to alter them, run
//   CSD_UPDATE_GOLDEN=1 build/bin/csd-unit --gtest_filter='WireGolden*'
// and review the diff (git diff fixtures/pcaps; an SVG: chromium --headless
// --screenshot=x.png --window-size=900,700 FILE.svg).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "capture.hpp"
#include "helpers/tcpdump.hpp"
#include "ladder.hpp"
#include "run.hpp"
#include "temp_dir.hpp"
#include "xml_text.hpp"

namespace csd::wire {
namespace {

using namespace std::chrono_literals;
using harness::Segment;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kPcaps = CSD_PCAP_FIXTURES;

std::vector<std::string> fixture_pcaps() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kPcaps)) {
    if (entry.path().extension() == ".pcap")
      names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<Connection> ladder_of(const std::string& name, const Options& options = {}) {
  return connections(harness::read_pcap_file(kPcaps / (name + ".pcap")), 0, options);
}

bool updating_golden_files() {
  const char* update = std::getenv("CSD_UPDATE_GOLDEN");
  return update != nullptr && std::string_view(update) == "1";
}

// Compares `actual` with the golden file; on a difference, the failure shows
// `diff -u GOLDEN ACTUAL`. With CSD_UPDATE_GOLDEN=1, writes it instead.
void expect_golden(const fs::path& golden, const std::string& actual) {
  if (updating_golden_files()) {
    std::ofstream(golden, std::ios::binary) << actual;
    std::cout << "wrote " << golden.string() << "\n";
    return;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing: make it with CSD_UPDATE_GOLDEN=1 "
                                  << "(see wire_test.cpp) and review it";
  const std::string expected = contents(golden);
  if (expected == actual)
    return;
  const harness::TempDir dir("csd-wire-test");
  const fs::path produced = dir.path() / golden.filename();
  std::ofstream(produced, std::ios::binary) << actual;
  const auto diff =
      harness::run_to_completion({"diff", "-u", golden.string(), produced.string()}, 10s);
  ADD_FAILURE() << golden.filename().string()
                << " differs from what the code makes now (remake it with CSD_UPDATE_GOLDEN=1 "
                << "if that is meant, and review the change):\n"
                << diff.output;
}

class WireGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(WireGolden, TranscriptIsTheReviewedOne) {
  expect_golden(kPcaps / (GetParam() + ".wire.txt"), transcript(ladder_of(GetParam())));
}

TEST_P(WireGolden, LadderIsTheReviewedOne) {
  expect_golden(kPcaps / (GetParam() + ".ladder.svg"), svg(ladder_of(GetParam())));
}

// The SVG is well-formed XML (what a browser needs to draw it inline or alone).
TEST_P(WireGolden, LadderIsWellFormedXml) {
  const auto xmllint = harness::find_in_path("xmllint");
  if (!xmllint)
    GTEST_SKIP() << "xmllint is not installed (libxml2-utils; ci/install-deps.sh installs it)";
  const harness::TempDir dir("csd-wire-test");
  const fs::path file = dir.path() / "ladder.svg";
  std::ofstream(file) << svg(ladder_of(GetParam()));
  const auto run = harness::run_to_completion({xmllint->string(), "--noout", file.string()}, 10s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

// What a label says, read back: "0.000077 [P.] seq 1:5(4) ack 1 win 64 wscale 10  (FIN)".
struct Label {
  std::string time, flags;
  uint32_t seq = 0, end = 0, length = 0;
  std::optional<uint32_t> ack;
  uint32_t window = 0;
  std::optional<uint32_t> window_scale;
};

std::optional<Label> read_label(const std::string& text) {
  static const std::regex kLabel(
      R"(^(\d+\.\d{6}) \[([^\]]+)\] +seq (\d+):(\d+)\((\d+)\)(?: ack (\d+))? win (\d+))"
      R"((?: wscale (\d+))?(?:  \([a-zA-Z ,]+\))?$)");
  std::smatch m;
  if (!std::regex_match(text, m, kLabel))
    return std::nullopt;
  const auto number = [&](int i) { return static_cast<uint32_t>(std::stoul(m[i].str())); };
  const auto optional = [&](int i) {
    return m[i].matched ? std::optional<uint32_t>(number(i)) : std::nullopt;
  };
  return Label{.time = m[1].str(),
               .flags = m[2].str(),
               .seq = number(3),
               .end = number(4),
               .length = number(5),
               .ack = optional(6),
               .window = number(7),
               .window_scale = optional(8)};
}

// The transcript's lines of segments, as labels: the direction taken out.
std::vector<std::string> transcript_labels(const std::string& text) {
  static const std::regex kDirection(R"(^(\S+) (?:client > server|server > client)  (.*)$)");
  std::vector<std::string> labels;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kDirection))
      labels.push_back(m[1].str() + " " + m[2].str());
  }
  return labels;
}

std::string unescaped(std::string text) {
  for (const auto& [entity, c] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}}) {
    for (auto at = text.find(entity); at != std::string::npos; at = text.find(entity, at + 1))
      text.replace(at, entity.size(), c);
  }
  return text;
}

// The text above each arrow of the diagram, in the order drawn.
std::vector<std::string> arrow_labels(const std::string& svg_text) {
  static const std::regex kArrow(R"(<g><title>[^<]*</title>\n<text [^>]*>([^<]*)</text>)");
  std::vector<std::string> labels;
  for (auto it = std::sregex_iterator(svg_text.begin(), svg_text.end(), kArrow);
       it != std::sregex_iterator(); ++it)
    labels.push_back(unescaped((*it)[1].str()));
  return labels;
}

// Every label against tcpdump's line for the same segment. tcpdump's relative
// numbers start at its first segment with an ACK; before that (a SYN, a
// SYN-ACK, a segment without ACK) it prints them absolute, and its SYN and
// SYN-ACK lines give each side's initial sequence number to make them relative.
void expect_agree(const std::vector<std::string>& labels,
                  const std::vector<unit::TcpdumpLine>& theirs, std::string_view what) {
  ASSERT_EQ(labels.size(), theirs.size()) << what << ": labels vs lines tcpdump printed";
  std::map<uint16_t, uint32_t> isn;  // by the sending port
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const unit::TcpdumpLine& t = theirs[i];
    SCOPED_TRACE(
        fmt::format("{} segment {}:\n  ours:    {}\n  tcpdump: {}", what, i, labels[i], t.text));
    const auto ours = read_label(labels[i]);
    ASSERT_TRUE(ours) << "a label that does not read as one";
    const bool syn = t.flags.find('S') != std::string::npos;
    if (syn && t.seq)
      isn[t.src_port] = *t.seq;
    const bool absolute = syn || t.flags.find('.') == std::string::npos;
    const auto relative = [&](uint32_t value, uint16_t port) {
      return absolute ? value - isn[port] : value;
    };
    EXPECT_EQ(ours->time, fmt::format("{}", seconds(t.time - theirs.front().time)));
    EXPECT_EQ(ours->flags, t.flags);
    EXPECT_EQ(ours->length, t.length);
    EXPECT_EQ(ours->end - ours->seq, t.length);
    EXPECT_EQ(ours->window, t.window);
    EXPECT_EQ(ours->window_scale, t.window_scale);
    // tcpdump prints seq only for a segment that takes sequence space (data, SYN, FIN, RST).
    if (t.seq) {
      EXPECT_EQ(ours->seq, relative(*t.seq, t.src_port));
    }
    if (t.seq_end) {
      EXPECT_EQ(ours->end, relative(*t.seq_end, t.src_port));
    }
    ASSERT_EQ(ours->ack.has_value(), t.ack.has_value()) << "ack is printed with the ACK flag only";
    if (t.ack) {
      EXPECT_EQ(*ours->ack, relative(*t.ack, t.dst_port));
    }
  }
}

// Every arrow's label and every transcript line, unfolded, as tcpdump reads the file.
TEST_P(WireGolden, EveryLabelAgreesWithTcpdump) {
  const auto tcpdump = unit::find_tcpdump();
  if (!tcpdump)
    GTEST_SKIP() << "tcpdump is not installed (ci/install-deps.sh installs it)";
  const fs::path file = kPcaps / (GetParam() + ".pcap");
  const auto theirs = unit::tcpdump_read(*tcpdump, file, /*absolute=*/false);
  const auto ladder = ladder_of(GetParam(), {.fold_above = SIZE_MAX});
  ASSERT_EQ(ladder.size(), 1U) << "each fixture holds one connection";
  expect_agree(transcript_labels(transcript(ladder)), theirs, "transcript");
  expect_agree(arrow_labels(svg(ladder)), theirs, "ladder");
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Pcaps, WireGolden, ::testing::ValuesIn(fixture_pcaps()), param_name);

// A golden file whose capture is gone would be compared with nothing.
TEST(WireGoldenFiles, EachHasItsCapture) {
  for (const auto& entry : fs::directory_iterator(kPcaps)) {
    const std::string name = entry.path().filename().string();
    for (const std::string_view suffix : {".wire.txt", ".ladder.svg"}) {
      if (name.ends_with(suffix)) {
        const std::string stem = name.substr(0, name.size() - suffix.size());
        EXPECT_TRUE(fs::exists(kPcaps / (stem + ".pcap"))) << name << " has no " << stem << ".pcap";
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The model

std::vector<Step> steps_of(const Connection& c) {
  std::vector<Step> steps;
  for (const Row& row : c.rows) {
    if (const auto* step = std::get_if<Step>(&row))
      steps.push_back(*step);
  }
  return steps;
}

std::vector<Step> marked(const Connection& c, Mark mark) {
  std::vector<Step> out;
  for (const Step& step : steps_of(c)) {
    if (step.has(mark))
      out.push_back(step);
  }
  return out;
}

TEST(WireModel, TheServersResetIsMarkedAndItsColourIsTheReportsFailure) {
  const auto ladder = ladder_of("rst-en10mb");
  ASSERT_EQ(ladder.size(), 1U);
  const auto resets = marked(ladder[0], kRst);
  ASSERT_EQ(resets.size(), 1U);
  EXPECT_EQ(resets[0].direction, Direction::to_client);
  EXPECT_EQ(label(resets[0]), "0.000081 [R.] seq 1:1(0) ack 1 win 64  (RST)");
  EXPECT_THAT(svg(ladder), HasSubstr(R"(stroke="#f99" stroke-width="3")"));
}

TEST(WireModel, RetransmissionAndZeroWindowAreMarkedWhereTheyHappen) {
  const auto ladder = ladder_of("zero-window-en10mb");
  ASSERT_EQ(ladder.size(), 1U);
  const auto resent = marked(ladder[0], kRetransmission);
  ASSERT_EQ(resent.size(), 1U) << transcript(ladder);
  EXPECT_EQ(resent[0].direction, Direction::to_client);
  EXPECT_EQ(resent[0].seq, 577U);
  EXPECT_EQ(resent[0].end(), 1153U);
  const auto closed = marked(ladder[0], kZeroWindow);
  ASSERT_EQ(closed.size(), 1U) << transcript(ladder);
  EXPECT_EQ(closed[0].direction, Direction::to_server);
  EXPECT_EQ(closed[0].ack, 1153U);
  EXPECT_THAT(transcript(ladder), HasSubstr("(retransmission)"));
  EXPECT_THAT(transcript(ladder), HasSubstr("(zero window)"));
}

TEST(WireModel, ALongTransferFoldsToOneLineThatCountsWhatItHolds) {
  const auto unfolded = ladder_of("long-en10mb", {.fold_above = SIZE_MAX});
  const auto folded = ladder_of("long-en10mb");
  ASSERT_EQ(folded.size(), 1U);
  std::size_t data = 0;
  uint64_t bytes = 0;
  for (const Step& step : steps_of(unfolded[0])) {
    if (step.direction == Direction::to_client) {
      data += step.segment.payload > 0 ? 1 : 0;
      bytes += step.segment.payload;
    }
  }
  EXPECT_EQ(bytes, 20000U);
  std::vector<Fold> folds;
  std::size_t kept_data = 0;
  uint64_t kept_bytes = 0;
  for (const Row& row : folded[0].rows) {
    if (const auto* fold = std::get_if<Fold>(&row)) {
      folds.push_back(*fold);
    } else if (const auto& step = std::get<Step>(row); step.direction == Direction::to_client) {
      kept_data += step.segment.payload > 0 ? 1 : 0;
      kept_bytes += step.segment.payload;
    }
  }
  ASSERT_EQ(folds.size(), 1U) << transcript(folded);
  EXPECT_EQ(folds[0].data_segments + kept_data, data);
  EXPECT_EQ(folds[0].bytes + kept_bytes, bytes);
  EXPECT_EQ(folds[0].end - folds[0].seq, folds[0].bytes);
  EXPECT_EQ(folded[0].segments, unfolded[0].rows.size());
  EXPECT_LE(folded[0].rows.size(), 15U) << "one screen:\n" << transcript(folded);
  EXPECT_THAT(svg(folded), HasSubstr(R"(stroke-dasharray="6 4")"));
}

TEST(WireModel, IPv6EndpointsAreBracketed) {
  const auto ladder = ladder_of("data-fin-ipv6-en10mb");
  ASSERT_EQ(ladder.size(), 1U);
  EXPECT_THAT(ladder[0].client.text(), ::testing::MatchesRegex(R"(\[::1\]:[0-9]+)"));
  EXPECT_EQ(ladder[0].server.address, "::1");
}

Segment segment(uint16_t from, uint16_t to, uint8_t flags, uint32_t seq, uint32_t ack,
                uint32_t payload = 0, uint16_t window = 512) {
  Segment s;
  s.src_port = from;
  s.dst_port = to;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.payload = payload;
  s.window = window;
  s.src_addr.bytes = {127, 0, 0, 1};
  s.dst_addr.bytes = {127, 0, 0, 1};
  return s;
}

constexpr uint8_t kSynFlag = Segment::kSyn;
constexpr uint8_t kSynAck = Segment::kSyn | Segment::kAck;
constexpr uint8_t kAckFlag = Segment::kAck;
constexpr uint8_t kPushAck = Segment::kPsh | Segment::kAck;

// Sequence numbers relative to initial ones just below 2^32 go on across the wrap.
TEST(WireModel, RelativeNumbersCrossTheWrap) {
  const uint32_t client_isn = 0xFFFFFFF0U;
  const uint32_t server_isn = 0xFFFFFFFFU;
  const auto ladder = connections({
      segment(40000, 5000, kSynFlag, client_isn, 0),
      segment(5000, 40000, kSynAck, server_isn, client_isn + 1),
      segment(40000, 5000, kPushAck, client_isn + 1, server_isn + 1, 100),
      segment(5000, 40000, kPushAck, server_isn + 1, client_isn + 101, 200),
  });
  ASSERT_EQ(ladder.size(), 1U);
  const auto steps = steps_of(ladder[0]);
  ASSERT_EQ(steps.size(), 4U);
  EXPECT_EQ(label(steps[2]), "0.000000 [P.] seq 1:101(100) ack 1 win 512");
  EXPECT_EQ(label(steps[3]), "0.000000 [P.] seq 1:201(200) ack 101 win 512");
  EXPECT_EQ(marked(ladder[0], kRetransmission).size(), 0U);
}

// A capture that starts mid-connection numbers each side from its first
// byte seen; the server is the given port's end, whoever sends first.
TEST(WireModel, MidConnectionTheServerIsTheGivenPort) {
  const auto ladder = connections(
      {
          segment(5000, 40000, kPushAck, 7000, 9000, 10),
          segment(40000, 5000, kAckFlag, 9000, 7010),
      },
      5000);
  ASSERT_EQ(ladder.size(), 1U);
  EXPECT_EQ(ladder[0].server.port, 5000);
  EXPECT_EQ(ladder[0].client.port, 40000);
  const auto steps = steps_of(ladder[0]);
  EXPECT_EQ(steps[0].direction, Direction::to_client);
  EXPECT_EQ(label(steps[0]), "0.000000 [P.] seq 1:11(10) ack 1 win 512");
  EXPECT_EQ(label(steps[1]), "0.000000 [.] seq 1:1(0) ack 11 win 512");
}

// The same pair of ports used again (a new SYN) is a new connection; another
// client port is another connection; each has its own numbers.
TEST(WireModel, ANewSynOrAnotherClientIsAnotherConnection) {
  const auto ladder = connections({
      segment(40000, 5000, kSynFlag, 100, 0), segment(40001, 5000, kSynFlag, 500, 0),
      segment(40000, 5000, kSynFlag, 100, 0),  // the first SYN resent: the same connection
      segment(40000, 5000, kSynFlag, 900, 0),  // a new one on the same ports
  });
  ASSERT_EQ(ladder.size(), 3U);
  EXPECT_EQ(ladder[0].segments, 2U);
  EXPECT_EQ(ladder[1].client.port, 40001);
  EXPECT_EQ(ladder[2].client.port, 40000);
  EXPECT_EQ(marked(ladder[0], kRetransmission).size(), 1U) << "the resent SYN";
  EXPECT_THAT(transcript(ladder), HasSubstr("# client 127.0.0.1:40001, server 127.0.0.1:5000"));
}

// Marked segments stay in the diagram however long the run around them.
TEST(WireModel, AFoldNeverHidesAMarkedSegment) {
  std::vector<Segment> segments{segment(40000, 5000, kSynFlag, 0, 0),
                                segment(5000, 40000, kSynAck, 0, 1)};
  uint32_t seq = 1;
  for (int i = 0; i < 20; ++i) {
    // The tenth resends the ninth's data.
    const uint32_t at = i == 9 ? seq - 100 : seq;
    segments.push_back(segment(5000, 40000, kAckFlag, at, 1, 100));
    seq = std::max(seq, at + 100);
  }
  const auto ladder = connections(segments);
  ASSERT_EQ(ladder.size(), 1U);
  EXPECT_EQ(marked(ladder[0], kRetransmission).size(), 1U) << transcript(ladder);
  std::size_t folds = 0;
  for (const Row& row : ladder[0].rows) folds += std::holds_alternative<Fold>(row) ? 1 : 0;
  EXPECT_EQ(folds, 2U) << "the runs before and after the retransmission:\n" << transcript(ladder);
}

TEST(WireModel, TextIsEscapedForXml) {
  using harness::xml_escaped;
  EXPECT_EQ(xml_escaped(R"(a<b>&"c'd)"), "a&lt;b&gt;&amp;&quot;c'd");
  EXPECT_EQ(xml_escaped("bell\a, line\r\n\t"), "bell?, line\r\n\t");
}

TEST(WireModel, NoSegmentsIsAnEmptyStory) {
  EXPECT_EQ(transcript(connections({})), "");
  EXPECT_THAT(svg(connections({})), HasSubstr("no TCP segments"));
}

}  // namespace
}  // namespace csd::wire
