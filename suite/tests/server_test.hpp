// The fixture every check family derives from: one server under test per
// test, started from its manifest, stopped afterwards; on failure its output
// and what had to be killed are printed, so a reader sees which process did
// what.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "load.hpp"
#include "manifest.hpp"
#include "server_process.hpp"

namespace csd::suite {

using namespace std::chrono_literals;

class ServerTest : public ::testing::TestWithParam<harness::Manifest> {
 protected:
  void SetUp() override;
  void TearDown() override;

  [[nodiscard]] const harness::Manifest& manifest() const { return GetParam(); }
  [[nodiscard]] std::string_view model() const { return GetParam().model; }
  [[nodiscard]] const harness::Traits& traits() const { return GetParam().traits; }
  [[nodiscard]] harness::ServerProcess& server() { return *server_; }
  [[nodiscard]] client::Target target() const;

  // Stops the server now (for checks about stopping); TearDown won't again.
  harness::StopReport stop_server(int sig, std::chrono::milliseconds grace);

  // For a derived family's constructor: the family's checks apply only to
  // implementations speaking `protocol`; others are skipped with the reason.
  void applies_to_protocol(harness::WireProtocol protocol) { protocol_ = protocol; }

  // One exchange of `bytes` with the implementation's protocol.
  client::FetchResult fetch(uint64_t bytes, bool bare = false);

  // A load run: `clients` concurrent clients x `conns` connections each.
  client::LoadReport load(int clients, int conns, uint64_t bytes);

  // Overrides the manifest's worker count (call before SetUp runs, i.e. from a
  // derived fixture's constructor).
  void set_workers(int workers) { launch_.workers = workers; }

 private:
  std::optional<harness::WireProtocol> protocol_;
  harness::LaunchOptions launch_;
  std::unique_ptr<harness::ServerProcess> server_;
  std::optional<harness::StopReport> stopped_;
};

// Skips the current test with `reason`, and records the reason in the JSON
// results (gtest's JSON has no field for it) so the summary can show it.
#define CSD_SKIP(reason)                                                  \
  do {                                                                    \
    const std::string csd_skip_reason_ = (reason);                        \
    ::testing::Test::RecordProperty("skipped_because", csd_skip_reason_); \
    GTEST_SKIP() << csd_skip_reason_;                                     \
  } while (false)

// gtest assertions, named for what they assert.
::testing::AssertionResult GotExactReply(const client::FetchResult& r, uint64_t asked);
::testing::AssertionResult EveryConnectionSucceeded(const client::LoadReport& report);

}  // namespace csd::suite
