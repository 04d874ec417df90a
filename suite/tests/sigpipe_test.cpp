// Sigpipe: csd-sigpipe writes twice to a connection that csd-rstserver has closed. Verify
// behavior for the sequence: its line, the server's RST (captured) -> two writes, neither on
// the wire -> the demo is killed by SIGPIPE (--sigpipe default) or exits 32, EPIPE (ignore,
// nosignal). And UNP 5.13's: its line, the server's FIN -> the first write goes out and draws
// an RST (both captured) -> the second write never reaches the wire and ends the demo the same
// way. Judged by the capture and the
// wait status; what the demo prints is shown on failure, not believed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "child_process.hpp"
#include "demos.hpp"
#include "evidence.hpp"

namespace csd::suite {
namespace {

using harness::Segment;

// The demo waits at most 10 s for the peer's close and says so: give it time to say it.
constexpr auto kDemoTimeout = 15s;

enum class PeerClose { rst, fin };

// The segments that tell the story, in order: "client data (6) -> server RST".
// Pure ACKs and the handshake are left out; every FIN, RST and data segment is in,
// except an RST right after the same side's RST: a closed socket's host answers each
// segment that still arrives (a late pure ACK too), and the repeat says nothing new.
std::string wire_story(std::span<const Segment> segments, uint16_t server_port) {
  std::string story;
  std::string last_event;
  for (const Segment& s : segments) {
    const std::string_view who = s.from(server_port) ? "server" : "client";
    std::vector<std::string> events;
    if (s.payload > 0)
      events.push_back(fmt::format("{} data ({})", who, s.payload));
    if (s.fin())
      events.push_back(fmt::format("{} FIN", who));
    if (s.rst())
      events.push_back(fmt::format("{} RST", who));
    for (auto& event : events) {
      if (event.ends_with(" RST") && event == last_event)
        continue;
      story += (story.empty() ? "" : " -> ") + event;
      last_event = std::move(event);
    }
  }
  return story.empty() ? "no FIN, RST or data" : story;
}

// csd-sigpipe --sigpipe `mode` against csd-rstserver (--graceful for a FIN), under a capture of
// the server's port. The assertions are made while the capture lives, so that a failure
// leaves its .pcap behind.
void check_sigpipe(PeerClose peer, std::string_view mode) {
  const auto server = start_demo_server(
      "csd-rstserver",
      peer == PeerClose::fin ? std::vector<std::string>{"--graceful"} : std::vector<std::string>{});
  const uint16_t port = server->port();
  CSD_START_CAPTURE(cap, port);
  cap->keep();  // the report's demo gallery draws it

  harness::ChildProcess demo({demo_path("csd-sigpipe").string(), "-i", server->host(), "-p",
                              std::to_string(port), "--sigpipe", std::string(mode)});
  const std::optional<int> status = demo.wait_exit(kDemoTimeout);
  ::testing::Test::RecordProperty("demo_output", demo.output());  // for the report's gallery

  // First the 6-byte line the server waits for. RST case: the writes fail on the client's host,
  // so the RST is the last word on the wire. 5.13 case: the first write goes out, the server's
  // host answers it with an RST, and the second write fails without a segment.
  const std::string expected_wire =
      peer == PeerClose::rst ? "client data (6) -> server RST"
                             : "client data (6) -> server FIN -> client data (1) -> server RST";
  (void)(*cap)->wait_for("an RST from the server's port",
                         [port](const Segment& s) { return s.from(port) && s.rst(); });
  const std::vector<Segment> segments = (*cap)->segments();
  const std::string observed_wire = wire_story(segments, port);
  if (observed_wire != expected_wire)
    ADD_FAILURE() << "expected on the wire: " << expected_wire << "; observed: " << observed_wire
                  << "\n"
                  << (*cap)->listing() << "\ncsd-sigpipe output:\n"
                  << demo.output();

  const bool killed_by_sigpipe = mode == "default";
  const bool ended_as_expected =
      status.has_value() &&
      (killed_by_sigpipe ? WIFSIGNALED(*status) && WTERMSIG(*status) == SIGPIPE
                         : WIFEXITED(*status) && WEXITSTATUS(*status) == EPIPE);
  if (!ended_as_expected)
    ADD_FAILURE() << "expected: csd-sigpipe --sigpipe " << mode << " "
                  << (killed_by_sigpipe ? "killed by SIGPIPE" : "exits 32 (EPIPE)")
                  << "; observed: " << demo.describe_end(status, kDemoTimeout) << "\n"
                  << (*cap)->listing() << "\ncsd-sigpipe output:\n"
                  << demo.output();
}

TEST(Sigpipe, AfterRstDefaultDispositionIsKilledBySigpipe) {
  check_sigpipe(PeerClose::rst, "default");
}

TEST(Sigpipe, AfterRstIgnoredSigpipeExitsWithEpipe) { check_sigpipe(PeerClose::rst, "ignore"); }

TEST(Sigpipe, AfterRstMsgNosignalExitsWithEpipe) { check_sigpipe(PeerClose::rst, "nosignal"); }

// UNP 5.13: the peer closed with a FIN, so the first write is still sent, and answered by RST.
TEST(Sigpipe, AfterFinSecondWriteIsKilledBySigpipe) { check_sigpipe(PeerClose::fin, "default"); }

TEST(Sigpipe, AfterFinIgnoredSigpipeSecondWriteExitsWithEpipe) {
  check_sigpipe(PeerClose::fin, "ignore");
}

TEST(Sigpipe, AfterFinMsgNosignalSecondWriteExitsWithEpipe) {
  check_sigpipe(PeerClose::fin, "nosignal");
}

}  // namespace
}  // namespace csd::suite
