#include "evidence.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

namespace csd::suite {

namespace fs = std::filesystem;

namespace {

fs::path evidence_dir() {
  // --gtest_output=json:DIR/results.json (or xml:...): next to that file.
  const std::string output = ::testing::GTEST_FLAG(output);
  if (const auto colon = output.find(':'); colon != std::string::npos) {
    const fs::path file = output.substr(colon + 1);
    if (file.has_parent_path())
      return file.parent_path();
  }
  if (const char* dir = std::getenv("CSD_EVIDENCE_DIR"); dir != nullptr && *dir != '\0')
    return dir;
  return fs::current_path();
}

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

EvidenceCapture::~EvidenceCapture() {
  if (!::testing::Test::HasFailure())
    return;
  try {
    const fs::path file = evidence_path(".pcap");
    fs::create_directories(file.parent_path());
    capture_.save(file);
    // The name alone: the results may move with their directory (conformance.sh
    // moves a finished run into results/); csd-report finds it next to them.
    ::testing::Test::RecordProperty("capture", file.filename().string());
    std::cout << "capture of port " << capture_.port() << " saved: " << file.string()
              << " (tcpdump -nr " << file.string() << ")\n";
  } catch (const std::exception& e) {
    std::cout << "capture of port " << capture_.port() << " could not be saved: " << e.what()
              << "\n";
  }
}

}  // namespace csd::suite
