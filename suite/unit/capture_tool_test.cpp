// csd-capture run as a child on a leased port. Verify for the sequences:
// ready line, handshake, client RST, a second connection -> with -c 4, exactly
// the first four segments, in order, and a .pcap of those four; ready line,
// handshake, SIGINT -> "3 segments captured" and exit 0; bad usage -> exit 2.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "capture.hpp"
#include "child_process.hpp"
#include "fd.hpp"
#include "helpers/loopback_listener.hpp"
#include "ladder.hpp"
#include "ports.hpp"
#include "run.hpp"
#include "temp_dir.hpp"

namespace csd::harness {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const std::string kTool = CSD_CAPTURE;

// The segment lines of csd-capture's output (stderr's lines are not).
std::vector<std::string> segment_lines(const std::string& output) {
  static const std::regex kSegment(R"(^\d+\.\d{6}  (client>server|server>client)  \d+ > \d+  \[)");
  std::vector<std::string> lines;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_search(line, kSegment))
      lines.push_back(line);
  }
  return lines;
}

// The exact line csd-capture prints for a segment between these ports.
std::string expected_start(const char* direction, uint16_t from, uint16_t to, const char* flags) {
  return fmt::format("{}  {} > {}  [{}]", direction, from, to, flags);
}

bool exited_zero(std::optional<int> status) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// A listener on a leased loopback port; the test skips where this machine
// cannot capture (csd-capture would exit 3, CaptureToolUnavailable checks that).
class CaptureTool : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      Capture probe(port());
    } catch (const CaptureUnavailable& e) {
      GTEST_SKIP() << e.what();
    }
  }

  [[nodiscard]] uint16_t port() const { return listener_.port(); }
  // A connected client (the listener completes the handshake; nobody accepts).
  [[nodiscard]] Fd connect_client() const { return listener_.connect(); }
  static uint16_t local_port(const Fd& socket) {
    return unit::LoopbackListener::local_port(socket);
  }

  // Starts csd-capture on the port and waits for its ready line.
  std::unique_ptr<ChildProcess> start_tool(std::vector<std::string> flags) {
    std::vector<std::string> argv{kTool, "-p", std::to_string(port())};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto tool = std::make_unique<ChildProcess>(argv);
    const auto ready = fmt::format("capturing on lo port {}", port());
    EXPECT_TRUE(tool->wait_for_output(ready, 5s)) << "no '" << ready << "':\n" << tool->output();
    return tool;
  }

  [[nodiscard]] std::filesystem::path temp_pcap() const {
    return std::filesystem::temp_directory_path() /
           fmt::format("csd-capture-tool-test-{}-{}.pcap", ::getpid(), port());
  }

  unit::LoopbackListener listener_;
};

TEST_F(CaptureTool, CountStopsItAfterThatManySegmentsAndTheFileHoldsThem) {
  const auto file = temp_pcap();
  auto tool = start_tool({"-c", "4", "-w", file.string()});
  // Handshake, then the client's abortive close: exactly four segments.
  // A second connection follows at once: its segments must not be printed.
  Fd client = connect_client();
  const uint16_t client_port = local_port(client);
  const linger abortive{1, 0};
  ::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  client.reset();
  Fd second = connect_client();

  const auto status = tool->wait_exit(5s);
  const std::string output = tool->output();
  std::error_code ignored;
  const auto saved = std::filesystem::exists(file) ? read_pcap_file(file) : std::vector<Segment>{};
  std::filesystem::remove(file, ignored);
  ASSERT_TRUE(exited_zero(status)) << tool->describe_end(status, 5s) << "\n" << output;
  const auto lines = segment_lines(output);
  ASSERT_EQ(lines.size(), 4U) << output;
  EXPECT_THAT(lines[0], HasSubstr(expected_start("client>server", client_port, port(), "S")));
  EXPECT_THAT(lines[1], HasSubstr(expected_start("server>client", port(), client_port, "S.")));
  EXPECT_THAT(lines[2], HasSubstr(expected_start("client>server", client_port, port(), ".")));
  EXPECT_THAT(lines[3], HasSubstr(expected_start("client>server", client_port, port(), "R.")));
  EXPECT_THAT(output, HasSubstr("4 segments captured"));
  EXPECT_THAT(output, HasSubstr("wrote " + file.string()));
  ASSERT_EQ(saved.size(), 4U) << "the -w file holds the printed segments, no more";
  for (std::size_t i = 0; i < saved.size(); ++i)
    EXPECT_THAT(lines[i], HasSubstr(describe(saved[i], port()))) << "segment " << i;
}

// --transcript: no line per segment as it comes, the connection's story at the end.
TEST_F(CaptureTool, TranscriptTellsTheConnectionAtTheEnd) {
  auto tool = start_tool({"-c", "4", "--transcript"});
  Fd client = connect_client();
  const uint16_t client_port = local_port(client);
  const linger abortive{1, 0};
  ::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  client.reset();
  const auto status = tool->wait_exit(5s);
  const std::string output = tool->output();
  ASSERT_TRUE(exited_zero(status)) << tool->describe_end(status, 5s) << "\n" << output;
  EXPECT_THAT(segment_lines(output), ::testing::IsEmpty()) << output;
  EXPECT_THAT(output,
              HasSubstr(fmt::format("# client 127.0.0.1:{}, server 127.0.0.1:{}: 4 segments",
                                    client_port, port())));
  EXPECT_THAT(output, ::testing::ContainsRegex(R"(client > server  \[S\] +seq 0:0\(0\) win)"));
  EXPECT_THAT(output,
              ::testing::ContainsRegex(R"(client > server  \[R\.\] +seq 1:1\(0\) .*\(RST\))"));
  EXPECT_THAT(output, HasSubstr("4 segments captured"));
}

TEST_F(CaptureTool, SigintStopsItWithACount) {
  auto tool = start_tool({});
  Fd client = connect_client();
  const uint16_t client_port = local_port(client);
  // The handshake's last segment, printed: all three have been seen.
  const auto third = expected_start("client>server", client_port, port(), ".");
  ASSERT_TRUE(tool->wait_for_output(third, 5s)) << "no '" << third << "':\n" << tool->output();
  ASSERT_EQ(::kill(tool->pid(), SIGINT), 0);
  const auto status = tool->wait_exit(5s);
  ASSERT_TRUE(exited_zero(status)) << tool->describe_end(status, 5s) << "\n" << tool->output();
  EXPECT_EQ(segment_lines(tool->output()).size(), 3U) << tool->output();
  EXPECT_THAT(tool->output(), HasSubstr("3 segments captured"));
}

TEST_F(CaptureTool, TimeoutStopsIt) {
  const auto run = run_to_completion({kTool, "-p", std::to_string(port()), "--timeout", "0.2"}, 5s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("0 segments captured"));
}

TEST_F(CaptureTool, AFileItCannotWriteIsAnErrorAtOnce) {
  const auto run =
      run_to_completion({kTool, "-p", std::to_string(port()), "-w", "/nonexistent/dir/x.pcap"}, 5s);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("/nonexistent/dir/x.pcap: No such file or directory"));
}

TEST(CaptureToolRead, AFileItCannotReadIsAnError) {
  const auto run = run_to_completion({kTool, "-r", "/nonexistent/x.pcap"}, 5s);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("/nonexistent/x.pcap: No such file or directory"));
}

// Where it cannot capture, csd-capture says why and exits 3: on a device
// that does not exist (anywhere), and on lo without CAP_NET_RAW (where the
// machine lacks it: then the reason names the capability).
TEST(CaptureToolUnavailable, SaysWhyAndExitsThree) {
  const PortLease lease = PortLease::acquire("127.0.0.1");
  const auto absent =
      run_to_completion({kTool, "-p", std::to_string(lease.port()), "-i", "csd-absent0"}, 5s);
  EXPECT_EQ(absent.exit_code, 3) << absent.output;
  EXPECT_THAT(absent.output, HasSubstr("cannot capture on csd-absent0"));
  try {
    Capture probe(lease.port());
  } catch (const CaptureUnavailable& e) {
    const auto run = run_to_completion({kTool, "-p", std::to_string(lease.port())}, 5s);
    EXPECT_EQ(run.exit_code, 3) << run.output;
    EXPECT_THAT(run.output, HasSubstr(e.what()));
    EXPECT_THAT(run.output, HasSubstr("CAP_NET_RAW"));
  }
}

TEST(CaptureToolUsage, BadInputExitsTwoWithAReason) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{}, "-p PORT is required"},
      {{"-p", "0"}, "--port"},
      {{"-p", "70000"}, "--port"},
      {{"-p", "http"}, "--port"},
      {{"-p", "5000", "-c", "0"}, "--count"},
      {{"-p", "5000", "--timeout", "-1"}, "--timeout"},
      {{"-p", "5000", "--bogus"}, "--bogus"},
      {{"-r", "x.pcap", "-w", "y.pcap"}, "-r reads a file"},
      {{"-r", "x.pcap", "--ladder"}, "--ladder"},
  };
  for (const auto& [flags, reason] : cases) {
    std::vector<std::string> argv{kTool};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto run = run_to_completion(argv, 5s);
    EXPECT_EQ(run.exit_code, 2) << fmt::format("{}", fmt::join(argv, " ")) << "\n" << run.output;
    EXPECT_THAT(run.output, HasSubstr(reason)) << fmt::format("{}", fmt::join(argv, " "));
  }
}

TEST(CaptureToolUsage, HelpIsAManualPage) {
  const auto run = run_to_completion({kTool, "--help"}, 5s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* section : {"OUTPUT", "STOPPING", "EXAMPLES", "PRIVILEGE", "EXIT STATUS",
                              "--transcript", "--ladder FILE.svg"})
    EXPECT_THAT(run.output, HasSubstr(section));
}

// -r prints a saved capture as a live one is printed.
TEST(CaptureToolRead, PrintsAFileLikeALiveCapture) {
  const std::filesystem::path file = std::filesystem::path(CSD_PCAP_FIXTURES) / "rst-en10mb.pcap";
  const auto segments = read_pcap_file(file);
  ASSERT_FALSE(segments.empty());
  const uint16_t server = segments.front().dst_port;
  const auto run =
      run_to_completion({kTool, "-r", file.string(), "-p", std::to_string(server)}, 5s);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto lines = segment_lines(run.output);
  ASSERT_EQ(lines.size(), segments.size()) << run.output;
  for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i], describe(segments[i], server));
}

// -r --transcript --ladder: the suite's own transcript and diagram of the file
// (suite/wire, whose golden tests hold them to fixtures/pcaps' reviewed files).
TEST(CaptureToolRead, TranscriptAndLadderOfAFile) {
  const std::filesystem::path file = std::filesystem::path(CSD_PCAP_FIXTURES) / "rst-en10mb.pcap";
  const TempDir dir("csd-capture-tool-test");
  const auto svg = dir.path() / "rst.svg";
  const auto run =
      run_to_completion({kTool, "-r", file.string(), "--transcript", "--ladder", svg.string()}, 5s);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto connections = wire::connections(read_pcap_file(file));
  EXPECT_EQ(run.output,
            wire::transcript(connections) + "4 segments captured\nwrote " + svg.string() + "\n");
  std::ifstream in(svg);
  const std::string drawn{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_EQ(drawn, wire::svg(connections));
}

TEST(CaptureToolRead, ALadderItCannotWriteIsAnError) {
  const std::filesystem::path file = std::filesystem::path(CSD_PCAP_FIXTURES) / "rst-en10mb.pcap";
  const auto run =
      run_to_completion({kTool, "-r", file.string(), "--ladder", "/nonexistent/dir/x.svg"}, 5s);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("/nonexistent/dir/x.svg: No such file or directory"));
}

}  // namespace
}  // namespace csd::harness
