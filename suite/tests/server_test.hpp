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

// How a check starts its server where it differs from the manifest: a
// variant of its family's fixture, as data (CheckInfo::server, check.hpp).
struct ServerStart {
  std::optional<int> workers{};  // a pool of this size, where the command takes {workers}
  std::optional<int> nofile{};   // RLIMIT_NOFILE
  std::optional<int> backlog{};  // listen()'s, where the command takes {backlog}
  bool full_pool_first = false;  // the check starts once the pool has all its workers,
                                 // and fails in SetUp if it does not within 5 s
};

// The part of a check's budget its loads may start connections in: the rest
// is for what the check does after them (stop the server, count, compare).
inline constexpr double kLoadShareOfBudget = 0.5;

// A family of checks is a subclass that inherits the constructor (`using
// ServerTest::ServerTest;`) and declares its checks with CSD_CHECK (check.hpp).
class ServerTest : public ::testing::Test {
 public:
  explicit ServerTest(const harness::Manifest& implementation, ServerStart start = {});

 protected:
  void SetUp() override;
  void TearDown() override;

  [[nodiscard]] const harness::Manifest& manifest() const { return manifest_; }
  [[nodiscard]] const harness::Traits& traits() const { return manifest_.traits; }
  [[nodiscard]] harness::ServerProcess& server() { return *server_; }
  [[nodiscard]] client::Target target() const;

  // For a server whose main process has exited: "main process 1234 gone
  // (exited with status 1)", having collected how it ended.
  std::string how_the_main_process_ended();

  // Stops the server now (for checks about stopping); TearDown won't again.
  harness::StopReport stop_server(int sig, std::chrono::milliseconds grace);

  // One exchange of `bytes` with the implementation's protocol.
  client::FetchResult fetch(uint64_t bytes, bool bare = false);
  // The same within `timeout` (scaled), in place of the default 10 s.
  client::FetchResult fetch_within(uint64_t bytes, std::chrono::milliseconds timeout);
  // The same until 1 s before the check's budget ends (already scaled), for
  // a server known to be slow; 1 s at least.
  client::FetchResult fetch_until_budget_ends(uint64_t bytes);

  // One exchange of each size in turn, each expected exact (`what`: "request
  // for", then the size names it), stopping at the first that timed out: that server has
  // shown its bug, and would make each next size wait out its deadline too.
  void expect_exact_exchanges(std::initializer_list<uint64_t> sizes, std::string_view what,
                              bool bare = false);

  // A load run: `clients` concurrent clients x `conns` connections each, or
  // as many as fit in half the check's budget; it stops at the first failed
  // connection. Records "slow" when it made fewer than planned.
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

  // The pool's strength now, one line: "4 of 4 workers (5 live processes)",
  // "4 threads for 4 workers".
  [[nodiscard]] std::string pool_strength() const;

  // Descriptors open in the server's whole tree.
  [[nodiscard]] int tree_descriptors() const;

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

  // The implementation speaks the echo protocol (else: size).
  [[nodiscard]] bool speaks_echo() const {
    return manifest_.protocol == harness::WireProtocol::echo;
  }

 private:
  // The server was stopped by csd-guard for a limit (`stop`: "processes:
  // ..."): the figure stopped_by_limit, and a failure that names it.
  void record_limit_stop(const std::string& stop);
  // One exchange, waiting at most `scaled_timeout` (already scaled) for it.
  client::FetchResult fetch_waiting(uint64_t bytes, bool bare,
                                    std::chrono::milliseconds scaled_timeout);

  const harness::Manifest& manifest_;
  harness::LaunchOptions launch_;
  bool full_pool_first_ = false;
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

// How a read to the end ended, in the words of a failure message: "EOF",
// "timeout", "reset".
std::string_view ending(const client::StepResult& read);

// A request as a failure message quotes it: "\"12a\\n\"".
std::string printable(std::string_view request);

// gtest assertions, named for what they assert. Where a wait for the
// server ran out of time, each records it as the test's figure timed_out
// (harness::kTimedOutProperty), for a grade's "stopped by a limit".
::testing::AssertionResult GotExactReply(const client::FetchResult& r, uint64_t asked);
// Every connection made succeeded, and at least a tenth of those planned
// (least_exchanges) were made: a load cut short by its budget is judged by
// what it did.
uint64_t least_exchanges(uint64_t planned);
::testing::AssertionResult EveryConnectionSucceeded(const client::LoadReport& report);

}  // namespace csd::suite
