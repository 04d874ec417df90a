// The fixture every check family derives from: one server under test per
// test, started from its manifest, stopped afterwards; on failure its output
// and what had to be killed are printed, so a reader sees which process did
// what.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connection.hpp"
#include "load.hpp"
#include "manifest.hpp"
#include "server_process.hpp"

namespace csd::suite {

using namespace std::chrono_literals;

// A family of checks is a subclass that inherits the constructor (`using
// ServerTest::ServerTest;`) and declares its checks with CSD_CHECK (check.hpp).
class ServerTest : public ::testing::Test {
 public:
  explicit ServerTest(const harness::Manifest& implementation) : manifest_(implementation) {}

 protected:
  void SetUp() override;
  void TearDown() override;

  [[nodiscard]] const harness::Manifest& manifest() const { return manifest_; }
  [[nodiscard]] const harness::Traits& traits() const { return manifest_.traits; }
  [[nodiscard]] harness::ServerProcess& server() { return *server_; }
  [[nodiscard]] client::Target target() const;

  // Stops the server now (for checks about stopping); TearDown won't again.
  harness::StopReport stop_server(int sig, std::chrono::milliseconds grace);

  // One exchange of `bytes` with the implementation's protocol.
  client::FetchResult fetch(uint64_t bytes, bool bare = false);

  // One exchange of each size in turn, each expected exact (`what`: "request
  // for", then the size names it), stopping at the first that timed out: that server has
  // shown its bug, and would make each next size wait out its deadline too.
  void expect_exact_exchanges(std::initializer_list<uint64_t> sizes, std::string_view what,
                              bool bare = false);

  // A load run: `clients` concurrent clients x `conns` connections each.
  client::LoadReport load(int clients, int conns, uint64_t bytes);

  // Success once the pool has all its workers (ServerProcess::wait_for_full_pool);
  // a failure saying how many there are at the deadline.
  ::testing::AssertionResult pool_is_full_within(std::chrono::milliseconds timeout);

  // Success once a pool has exactly its workers, alive: parent + N processes,
  // or main + N threads (within runtime_threads()); else a failure saying
  // what it has at the deadline ("a pool of 4 worker processes has 6 live
  // processes, not 5 (parent + workers)"). Records "pool_processes" or
  // "pool_threads".
  ::testing::AssertionResult pool_has_exactly_its_workers_within(std::chrono::milliseconds timeout);

  // Live members of the server's tree (a zombie is dead, if not yet reaped).
  [[nodiscard]] std::vector<pid_t> live_tree() const;
  [[nodiscard]] std::size_t threads_of_main() const;

  // Threads a runtime adds to the server beyond its design's own (a
  // sanitizer's background thread; a VM's helpers): $CSD_RUNTIME_THREADS,
  // which the tsan build sets to 1. Thread counts may exceed the design's by
  // at most this.
  static std::size_t runtime_threads();
  static bool within_runtime_allowance(std::size_t threads, std::size_t design) {
    return threads >= design && threads <= design + runtime_threads();
  }

  // Overrides the manifest's worker count (call before SetUp runs, i.e. from a
  // derived fixture's constructor).
  void set_workers(int workers) { launch_.workers = workers; }

  // Overrides the manifest's RLIMIT_NOFILE for the server (as set_workers).
  void set_nofile(int descriptors) { launch_.nofile = descriptors; }

  // Sets {backlog} for a command that takes it (as set_workers).
  void set_backlog(int backlog) { launch_.backlog = backlog; }

  // For a family's constructor: its checks start once the pool has all its
  // workers, and fail in SetUp if it does not within 5 s.
  void start_with_full_pool() { full_pool_at_start_ = true; }

 private:
  const harness::Manifest& manifest_;
  harness::LaunchOptions launch_;
  bool full_pool_at_start_ = false;
  std::unique_ptr<harness::ServerProcess> server_;
  std::optional<harness::StopReport> stopped_;
};

// Skips the current test with `reason`, and records the reason in the JSON
// results (gtest's JSON has no field for it) so the summary can show it. Only
// for what the machine lacks or what the server turns out not to offer at run
// time: a check that cannot apply to a design says so in its CSD_CHECK
// declaration instead, and is then not registered for it at all.
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
