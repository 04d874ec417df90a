// The tests of a run, in the order csd-suite runs them, and how csd-report
// splits them: into stable shards (--shard I/N), into batches that csd-suite
// processes run side by side (--jobs N), and apart from those, the tests
// that must run with nothing beside them (the catalogue's runs_alone, and
// the demo tests of kDemosRunningAlone).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::report {

// One test as csd-suite lists it: "Impl/Size.SmallRepliesExact/csd_fork".
struct PlannedTest {
  std::string name;            // FAMILY_SUITE.TEST, googletest's full name
  std::string implementation;  // its manifest's name (value parameter), "" for a demo's test
  std::string check_id;        // from the catalogue, "" for a demo's test
  std::string level;           // likewise
  std::string alone_because;   // why it runs with nothing beside it; "" if it need not
};

// The tests of `csd-suite --gtest_list_tests` output, in its order (the
// order a serial run runs them in).
std::vector<PlannedTest> parse_test_list(std::string_view listing);

// A demo test (not in the catalogue, so marked here) whose outcome another
// test beside it could change: a pattern of googletest names (fnmatch), and why.
struct AloneDemo {
  std::string_view pattern;
  std::string_view why;
};

// The demo tests that run alone under csd-report --jobs, and why. The
// catalogue's checks say it in their own entries (CheckInfo::runs).
inline constexpr std::array kDemosRunningAlone = {
    AloneDemo{"Sendfile.EveryByteAtItsOffset/*_256MiB_*",
              "It moves 256 MiB through loopback as fast as both ends can go: it takes a "
              "core and the memory bandwidth for seconds, which would slow every check "
              "beside it, and their load would make it the slowest test of the run."},
    AloneDemo{"Sendfile.EveryByteAtItsOffset/*_SlowReader",
              "It counts the server's voluntary context switches (its waits for room in "
              "the send buffer) from /proc: what another check's load beside it changes."},
    AloneDemo{"SignalRace.*",
              "Each test holds a program's signal window open 50 times in a row and waits "
              "for its state in /proc at every step: under a loaded CPU each wait lasts "
              "as long as the scheduler keeps the program from running."},
    AloneDemo{"Cork.*",
              "It counts the segments a response leaves in: with TCP_NODELAY a busy CPU "
              "delays the write of the body, and the kernel may coalesce what it queued."},
};

// Why the test `name` (a demo's) runs alone, or "" if it need not.
std::string_view demo_alone_because(std::string_view name);

// Adds to `tests` what the catalogue (`csd-suite --list-checks=json`) says
// of each check: its ID, level and whether it runs alone; and marks the demo
// tests of kDemosRunningAlone.
void annotate(std::vector<PlannedTest>& tests, const nlohmann::json& catalogue);

// --shard I/N: 1 <= index <= count.
struct Shard {
  int index = 1;
  int count = 1;
};
std::optional<Shard> parse_shard(std::string_view text);

// The tests of shard I/N: those at positions I-1, I-1+N, ... of the whole
// run's list. Stable: the list is the same for the same manifests, checks
// and flags on any machine, and every test is in exactly one shard.
std::vector<PlannedTest> tests_of_shard(const std::vector<PlannedTest>& all, Shard shard);

// A part of the run for one csd-suite process: tests in the serial order.
struct Batch {
  int round = 1;       // --repeat: which of the K runs
  bool alone = false;  // run with nothing beside it
  std::vector<std::string> tests;
};

// The batches of a run of `tests` with `jobs` processes, `rounds` times
// over. The tests that run alone make one batch per round, run after the
// others with nothing beside it; the rest are cut into batches that shrink
// as the queue does (each a share of what is left, no fewer than one test),
// so that the processes end near together although a test takes from
// 0.03 s to 45 s.
std::vector<Batch> make_batches(const std::vector<PlannedTest>& tests, int jobs, int rounds);

// A googletest filter that selects exactly `tests` (whose names contain no
// filter syntax: googletest names are [A-Za-z0-9_/.]).
std::string filter_of(const std::vector<std::string>& tests);

}  // namespace csd::report
