// tcpdump's own reading of a .pcap file, line by line, for the tests that
// hold the decoder (capture_decode_test.cpp) and the ladder's labels
// (wire_test.cpp) to it. Where tcpdump is absent the tests skip, saying so.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "run.hpp"

namespace csd::unit {

// tcpdump in $PATH, or in the sbin folders a root shell has and a plain
// user's $PATH may lack.
inline std::optional<std::filesystem::path> find_tcpdump() {
  if (auto found = harness::find_in_path("tcpdump"))
    return found;
  for (const char* dir : {"/usr/sbin", "/sbin"}) {
    const std::filesystem::path candidate = std::filesystem::path(dir) / "tcpdump";
    if (harness::is_executable_file(candidate))
      return candidate;
  }
  return std::nullopt;
}

// One segment as tcpdump -n -tt prints it (with -S, absolute sequence numbers).
struct TcpdumpLine {
  std::chrono::microseconds time;  // since the epoch, as -tt prints it
  std::string src_addr, dst_addr;
  uint16_t src_port, dst_port;
  std::string flags;  // "P.", "S.E", ...
  std::optional<uint32_t> seq, seq_end, ack;
  uint32_t window;
  std::optional<uint8_t> window_scale;
  uint32_t length;
  std::string text;  // the whole line, for a failure's message
};

// `tcpdump -r FILE -n -tt` (and -S if `absolute`), one TcpdumpLine per segment.
inline std::vector<TcpdumpLine> tcpdump_read(const std::filesystem::path& tcpdump,
                                             const std::filesystem::path& file, bool absolute) {
  using namespace std::chrono_literals;
  std::vector<std::string> argv{tcpdump.string(), "-r", file.string(), "-n", "-tt"};
  if (absolute)
    argv.emplace_back("-S");
  const auto run = harness::run_to_completion(argv, 10s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  // "1795989019.597426 [lo    In  ]IP[6] 127.0.0.1.51484 > 127.0.0.1.27137: Flags [P.],
  //  seq 913083579:913083583, ack 2451230983, win 64, options [...], length 4"
  static const std::regex kLine(
      R"(^(\d+)\.(\d{6}) .*?(\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]+)\])"
      R"((?:, seq (\d+)(?::(\d+))?)?(?:, ack (\d+))?, win (\d+).*, length (\d+))");
  static const std::regex kWindowScale(R"(options \[[^\]]*wscale (\d+))");
  std::vector<TcpdumpLine> lines;
  std::istringstream output(run.output);
  std::string text;
  while (std::getline(output, text)) {
    std::smatch m;
    if (!std::regex_search(text, m, kLine))
      continue;  // "reading from file ...", warnings
    const auto number = [&](int i) { return static_cast<uint32_t>(std::stoul(m[i].str())); };
    const auto optional = [&](int i) {
      return m[i].matched ? std::optional<uint32_t>(number(i)) : std::nullopt;
    };
    TcpdumpLine line{.time = std::chrono::seconds{std::stoll(m[1].str())} +
                             std::chrono::microseconds{std::stoll(m[2].str())},
                     .src_addr = m[3].str(),
                     .dst_addr = m[5].str(),
                     .src_port = static_cast<uint16_t>(number(4)),
                     .dst_port = static_cast<uint16_t>(number(6)),
                     .flags = m[7].str(),
                     .seq = optional(8),
                     .seq_end = optional(9),
                     .ack = optional(10),
                     .window = number(11),
                     .window_scale = std::nullopt,
                     .length = number(12),
                     .text = text};
    if (std::smatch scale; std::regex_search(text, scale, kWindowScale))
      line.window_scale = static_cast<uint8_t>(std::stoul(scale[1].str()));
    lines.push_back(line);
  }
  return lines;
}

}  // namespace csd::unit
