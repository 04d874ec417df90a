// What a failed check leaves as evidence, in files next to the test results
// (the directory of --gtest_output, else $CSD_EVIDENCE_DIR, else the working
// directory), each named in the gtest JSON by a property csd-report reads:
// "capture" (the packets, a .pcap), "wire" (their transcript, a .wire.txt
// beside the .pcap, also printed in the log: suite/wire/ladder.hpp),
// "server_output" and "process_tree" (the server's output and its processes
// at the failure, written by ServerTest). A passing test leaves nothing behind,
// but for a demo's capture kept with keep(): the report's demo gallery draws it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "capture.hpp"
#include "server_test.hpp"

namespace csd::suite {

class EvidenceCapture {
 public:
  explicit EvidenceCapture(uint16_t port) : capture_(port) {}
  ~EvidenceCapture();  // saves the .pcap and its transcript if the running test has failed
  EvidenceCapture(const EvidenceCapture&) = delete;
  EvidenceCapture& operator=(const EvidenceCapture&) = delete;

  harness::Capture* operator->() { return &capture_; }
  harness::Capture& operator*() { return capture_; }

  // Saves the .pcap and its transcript whatever the verdict, where the run
  // keeps its results: a demo's one connection, which the report draws in its
  // gallery (a few kB).
  void keep() { keep_ = true; }

 private:
  harness::Capture capture_;
  bool keep_ = false;
};

// Starts an EvidenceCapture of `port` in `capture` where the machine can
// capture; where it cannot (no CAP_NET_RAW), none, with the reason recorded as the property
// "capture_unavailable": for a check whose capture is evidence, not its verdict.
void capture_if_possible(std::optional<EvidenceCapture>& capture, uint16_t port);

// Where evidence files of the running test go, and its file stem
// ("Rst.ServerSendsRstNotFin" for the test Rst.ServerSendsRstNotFin).
std::filesystem::path evidence_path(std::string_view extension);

// Writes `text` as the running test's evidence file with `extension`
// (".server.txt") and records its name as the property `property`; says on
// stdout where it went, or why it could not be written. Only where the run
// keeps its results (--gtest_output or $CSD_EVIDENCE_DIR): the text is in
// the log anyway. (A capture, which is not, goes to the working directory
// otherwise.)
void keep_evidence(const char* property, std::string_view extension, std::string_view text);

}  // namespace csd::suite

// Starts an EvidenceCapture of `port` in `name` (a std::optional the macro
// declares), or skips the test with the reason the machine cannot capture
// (no CAP_NET_RAW: "cannot capture on lo: ... permission denied").
#define CSD_START_CAPTURE(name, port)                               \
  std::optional<::csd::suite::EvidenceCapture> name;                \
  try {                                                             \
    (name).emplace(port);                                           \
  } catch (const ::csd::harness::CaptureUnavailable& unavailable) { \
    CSD_SKIP(unavailable.what());                                   \
  }
