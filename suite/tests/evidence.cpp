#include "evidence.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "evidence_files.hpp"

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

EvidenceCapture::~EvidenceCapture() {
  if (!::testing::Test::HasFailure())
    return;
  save_evidence("capture", harness::evidence::kCapture,
                fmt::format("capture of port {}", capture_.port()),
                [&](const fs::path& file) { capture_.save(file); });
}

void capture_if_possible(std::optional<EvidenceCapture>& capture, uint16_t port) {
  try {
    capture.emplace(port);
  } catch (const harness::CaptureUnavailable& unavailable) {
    ::testing::Test::RecordProperty("capture_unavailable", unavailable.what());
  }
}

}  // namespace csd::suite
