#include "evidence.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "evidence_files.hpp"
#include "ladder.hpp"

namespace csd::suite {

namespace fs = std::filesystem;

namespace {

// Where the run's results go: next to --gtest_output=json:DIR/results.json
// (or xml:...), else $CSD_EVIDENCE_DIR; nullopt when neither says.
std::optional<fs::path> results_dir() {
  const std::string output = ::testing::GTEST_FLAG(output);
  if (const auto colon = output.find(':'); colon != std::string::npos) {
    const fs::path file = output.substr(colon + 1);
    if (file.has_parent_path())
      return file.parent_path();
  }
  if (const char* dir = std::getenv("CSD_EVIDENCE_DIR"); dir != nullptr && *dir != '\0')
    return dir;
  return std::nullopt;
}

fs::path evidence_dir() { return results_dir().value_or(fs::current_path()); }

}  // namespace

fs::path evidence_path(std::string_view extension) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string stem =
      test == nullptr ? "csd" : fmt::format("{}.{}", test->test_suite_name(), test->name());
  for (char& c : stem) {
    if (c == '/')
      c = '_';
  }
  return evidence_dir() / (stem + std::string(extension));
}

namespace {

// Writes the file with `write`, then records its name alone as `property`:
// the results may move with their directory (csd-report writes a run into a
// folder of its own, then moves it into place), and csd-report finds the
// file next to them.
template <typename Write>
void save_evidence(const char* property, std::string_view extension, std::string_view what,
                   Write write) {
  try {
    const fs::path file = evidence_path(extension);
    fs::create_directories(file.parent_path());
    write(file);
    ::testing::Test::RecordProperty(property, file.filename().string());
    std::cout << what << " saved: " << file.string() << "\n";
  } catch (const std::exception& e) {
    std::cout << what << " could not be saved: " << e.what() << "\n";
  }
}

}  // namespace

void keep_evidence(const char* property, std::string_view extension, std::string_view text) {
  // Text the log has too: a file only where the run keeps results, not in
  // whatever directory someone ran csd-suite from by hand.
  if (!results_dir())
    return;
  save_evidence(property, extension, property, [&](const fs::path& file) {
    std::ofstream out(file);
    out << text;
    if (!out.flush())
      throw std::runtime_error("cannot write " + file.string());
  });
}

namespace {

// The most of a transcript the log shows; the file beside the .pcap has it all.
constexpr std::size_t kLogLines = 60;

std::string first_lines(const std::string& text, std::size_t count, const fs::path& whole) {
  std::size_t at = 0;
  for (std::size_t line = 0; line < count; ++line) {
    at = text.find('\n', at);
    if (at == std::string::npos)
      return text;
    ++at;
  }
  if (at >= text.size())
    return text;
  const auto left = std::count(text.begin() + static_cast<std::ptrdiff_t>(at), text.end(), '\n');
  return text.substr(0, at) + fmt::format("... {} more lines in {}\n", left, whole.string());
}

}  // namespace

EvidenceCapture::~EvidenceCapture() {
  // A kept capture of a passing test only where the run keeps its results:
  // not in whatever directory someone ran csd-suite from by hand.
  const bool failed = ::testing::Test::HasFailure();
  if (!failed && !(keep_ && results_dir()))
    return;
  const std::string port = fmt::format("port {}", capture_.port());
  save_evidence("capture", harness::evidence::kCapture, "capture of " + port,
                [&](const fs::path& file) { capture_.save(file); });
  // The story of the capture, beside it and in the log (folded, and cut
  // short there): what a person reads first, before opening the .pcap.
  const std::string story =
      wire::transcript(wire::connections(capture_.segments(), capture_.port()));
  save_evidence("wire", harness::evidence::kWire, "transcript of " + port,
                [&](const fs::path& file) {
                  std::ofstream out(file);
                  out << story;
                  if (!out.flush())
                    throw std::runtime_error("cannot write " + file.string());
                });
  if (!failed)
    return;  // kept for the report: the log is for failures
  std::cout << "on the wire, " << port << " (seq and ack relative, as tcpdump without -S):\n"
            << (story.empty()
                    ? "(no segments)\n"
                    : first_lines(story, kLogLines, evidence_path(harness::evidence::kWire)));
}

void capture_if_possible(std::optional<EvidenceCapture>& capture, uint16_t port) {
  try {
    capture.emplace(port);
  } catch (const harness::CaptureUnavailable& unavailable) {
    ::testing::Test::RecordProperty("capture_unavailable", unavailable.what());
  }
}

}  // namespace csd::suite
