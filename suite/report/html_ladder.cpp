// The ladder and transcript of a test's capture on report.html (html_ladder.hpp).
#include "html_ladder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <optional>
#include <vector>

#include "capture.hpp"
#include "html_parts.hpp"
#include "ladder.hpp"

namespace csd::report::html {

namespace {

// A page a browser still opens with a few failures on it: a load's capture
// of thousands of connections is the .pcap's to show, not the page's.
constexpr std::size_t kMostDrawn = 3;
constexpr std::uintmax_t kLargestDrawn = std::uintmax_t{16} << 20;  // bytes of .pcap
constexpr std::size_t kTranscriptLines = 300;

// Whether a connection shows what a failure on the wire looks like.
bool stands_out(const wire::Connection& connection) {
  constexpr uint8_t kAlarming = wire::kRst | wire::kRetransmission | wire::kZeroWindow;
  return std::ranges::any_of(connection.rows, [](const wire::Row& row) {
    const auto* step = std::get_if<wire::Step>(&row);
    return step != nullptr && (step->marks & kAlarming) != 0;
  });
}

// The connections to draw, in capture order: those that stand out first,
// then the others, at most kMostDrawn.
std::vector<wire::Connection> to_draw(const std::vector<wire::Connection>& all) {
  std::vector<std::size_t> chosen;
  for (const bool alarming : {true, false}) {
    for (std::size_t i = 0; i < all.size() && chosen.size() < kMostDrawn; ++i) {
      if (stands_out(all[i]) == alarming)
        chosen.push_back(i);
    }
  }
  std::ranges::sort(chosen);
  std::vector<wire::Connection> drawn;
  drawn.reserve(chosen.size());
  for (const std::size_t i : chosen) drawn.push_back(all[i]);
  return drawn;
}

// At most `count` lines of `text`, then how many more the file has.
std::string first_lines(const std::string& text, std::size_t count, const std::string& file) {
  std::size_t at = 0;
  for (std::size_t line = 0; line < count && at != std::string::npos; ++line) {
    at = text.find('\n', at);
    if (at != std::string::npos)
      ++at;
  }
  if (at == std::string::npos || at >= text.size())
    return text;
  const auto rest = std::count(text.begin() + static_cast<std::ptrdiff_t>(at), text.end(), '\n');
  return text.substr(0, at) + fmt::format("... {} more lines in {}\n", rest, file);
}

// The capture's connections, or why they cannot be drawn.
std::optional<std::vector<wire::Connection>> read_connections(const std::string& pcap,
                                                              std::string& problem) {
  std::error_code error;
  const auto size = std::filesystem::file_size(pcap, error);
  if (error) {
    problem = fmt::format("cannot read {}: {}", pcap, error.message());
    return std::nullopt;
  }
  if (size > kLargestDrawn) {
    problem = fmt::format("{} is {:.1f} MB, too large to draw here: open it with Wireshark", pcap,
                          static_cast<double>(size) / 1e6);
    return std::nullopt;
  }
  try {
    return wire::connections(harness::read_pcap_file(pcap));
  } catch (const std::exception& e) {
    problem = fmt::format("cannot draw {}: {}", pcap, e.what());
    return std::nullopt;
  }
}

}  // namespace

std::string wire_story(const Outcome& test) {
  if (test.capture.empty() && test.wire.empty())
    return "";
  std::string problem;
  std::optional<std::vector<wire::Connection>> connections;
  if (!test.capture.empty())
    connections = read_connections(test.capture, problem);
  // The transcript as the check wrote it beside the .pcap, else told from it.
  std::string text;
  std::string source = test.wire;
  if (!test.wire.empty()) {
    text = head_of_file(test.wire);
  } else if (connections) {
    text = wire::transcript(*connections);
    source = test.capture;
  }
  std::string out = "<div class=\"wire\">\n";
  if (connections && !connections->empty()) {
    const std::vector<wire::Connection> drawn = to_draw(*connections);
    if (drawn.size() < connections->size()) {
      out += fmt::format(
          "<p class=\"note\">{} of the {} connections drawn (those with an RST, a "
          "retransmission or a zero window first); the transcript has them all.</p>\n",
          drawn.size(), connections->size());
    }
    out += "<figure class=\"ladder\">" + wire::svg(drawn) + "</figure>\n";
  } else if (connections) {
    out += "<p class=\"note\">The capture holds no TCP segment.</p>\n";
  } else if (!problem.empty()) {
    out += fmt::format("<p class=\"note\">{}</p>\n", xml_escaped(problem));
  }
  if (!text.empty()) {
    out += fmt::format(
        "<details class=\"transcript\"><summary>the transcript: one line per segment, seq and "
        "ack relative (as tcpdump without -S)</summary>\n<pre>{}</pre></details>\n",
        xml_escaped(first_lines(text, kTranscriptLines, source)));
  }
  return out + "</div>\n";
}

}  // namespace csd::report::html
