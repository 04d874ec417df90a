// The conformance summary of csd-suite's gtest JSON results: one line per
// implementation (passed, failed, skipped, time; its run on ::1 folded in
// and counted apart in a last column), then one line per failure
// with a reason a person can act on, one per kind of skip, and how many
// (check, implementation) pairs did not apply. Kept apart from csd-report's
// main() so that csd-unit can test it.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rerun.hpp"

namespace csd::report {

struct Tally {
  int passed = 0;
  int failed = 0;  // required checks (and demo tests) that failed
  int warned = 0;  // recommended checks that failed: warnings
  int skipped = 0;
  int flaky = 0;       // --repeat: failed in some of the runs only
  double seconds = 0;  // the tests' own times, added up

  Tally& operator+=(const Tally& other);
};

struct Failure {
  std::string implementation;  // the manifest's name: csd-fork
  std::string check;           // Size.SmallRepliesExact
  std::string reason;          // failure_reason() of its first failure
  int more = 0;                // further failures of the same test
  std::string capture;         // the .pcap the check left as evidence, if any
  std::string check_id;        // its ID in the catalogue ("size/split-request"), if it has one
  bool warning = false;        // a recommended check: a warning, not a failure
  std::string server_output;   // the server's output, a file the check left (evidence)
  std::string process_tree;    // its processes at the failure, likewise
  bool flaky = false;          // --repeat: it failed in some of the runs only
  std::string reproduce;       // the line that reruns it alone (harness/rerun.hpp), if known
  std::string by_hand;         // the catalogue's command a person runs, if it has one
};

// What the tests of the demo families (not parameterized over manifests)
// count under, in place of an implementation's name.
inline constexpr std::string_view kDemos = "demos";

// What csd-report adds to a test's entry in suite.json (merge.hpp): why a
// test has no result (its csd-suite died), and under --repeat K how many
// times it ran and failed.
inline constexpr const char* kUnfinishedKey = "unfinished";
inline constexpr const char* kRepeatsKey = "repeats";
inline constexpr const char* kFailedRepeatsKey = "failed_repeats";

// One test of one run, whatever its verdict: what the JUnit report lists.
struct Outcome {
  // flaky: under --repeat, failed in some of the runs and passed in the others.
  enum class Verdict { pass, fail, warn, skip, flaky };
  std::string implementation;
  std::string check;      // Size.SmallRepliesExact
  std::string check_id;   // size/small-replies-exact ("" for a demo's test)
  std::string test;       // googletest's full name: Impl/Size.SmallRepliesExact/csd_fork
  std::string manifest;   // the implementation's manifest, an absolute path, if known
  std::string level;      // "required" or "recommended" ("" for a demo's test)
  std::string statement;  // the catalogue's: what the check asserts ("" for a demo's test)
  Verdict verdict = Verdict::pass;
  double seconds = 0;
  std::string reason;         // a failure's or a skip's, one line
  std::string details;        // every failure's whole text (fail, warn)
  std::string capture;        // the .pcap a failed check (or a demo) kept, if any
  std::string wire;           // its transcript beside it (.wire.txt), if any
  std::string server_output;  // the server's output, kept by a failed check
  std::string process_tree;   // the server's processes at the failure, likewise
  // A check cut short by its budget: "made 312 of 1000 exchanges within its
  // budget" (a slow server, judged by what was done).
  std::string slow;
  // A failure's, warning's or flaky test's: the line that reruns it alone,
  // with the run's options (harness::rerun_command); empty where the run did
  // not record how it was run (a csd-suite older than the line).
  std::string reproduce;
  // The catalogue's by-hand command for its check, {host} filled in and the
  // port left as PORT ("" where the check has none).
  std::string by_hand;
  int runs = 1;             // --repeat K: K
  int failed_runs = 0;      // of which failed (a flaky test: "3 of 5 failed")
  bool unfinished = false;  // no result: its csd-suite died (the reason says how)
  // What a check recorded for the report (kFigures): for its charts
  // "distribution" (connections per worker, space-separated) and
  // "wakeups_per_connection"; for the matrix's close row "close" (FIN, RST,
  // "FIN, then RST", none); for the demo gallery "demo_output", the program's own;
  // shape/declared-model's observation: "observed_model" (fork, ..., unknown),
  // "observed" (its summary in words), "observed_evidence" (a line per step)
  // and "declared_model" (the manifest's: a model, or auto).
  std::map<std::string, std::string> figures;
};

// How bad a verdict is, for the one that speaks for several (a check on
// 127.0.0.1 and on ::1, a matrix cell): pass, skip, warn, flaky, fail. A skip
// outranks a pass, so that a cell shows it is not lost; grading lets a skip
// yield to any verdict that ran (grade.cpp).
constexpr int severity(Outcome::Verdict verdict) {
  switch (verdict) {
    case Outcome::Verdict::pass:
      return 0;
    case Outcome::Verdict::skip:
      return 1;
    case Outcome::Verdict::warn:
      return 2;
    case Outcome::Verdict::flaky:
      return 3;
    case Outcome::Verdict::fail:
      return 4;
  }
  return 4;
}

// The properties of a test that Outcome::figures keeps.
// stopped_by_limit: harness::kLimitProperty, the limit that stopped the server.
inline constexpr std::array<const char*, 10> kFigures = {
    "distribution",      "wakeups_per_connection", "close",
    "demo_output",       "observed_model",         "observed",
    "observed_evidence", "declared_model",         "stopped_by_limit",
    "timed_out"};

// "pass", "fail", "warn", "skip", "flaky": the verdict as report.json and the HTML
// page spell it.
std::string_view to_string(Outcome::Verdict verdict);

// An implementation with its copy on ::1 (NAME@ipv6, which csd-suite runs
// for a manifest that declares "ipv6"): one row of the terminal summary and
// one column of report.html. report.json and junit.xml keep the copy apart,
// under its own name, as CI jobs read them.
struct ImplementationRow {
  std::string name;              // the manifest's own name (csd-fork), or kDemos
  Tally all;                     // its tests on 127.0.0.1 and on ::1 together
  std::optional<Tally> on_ipv6;  // those of its NAME@ipv6 copy, if it has one
};

// Whether `implementation` is the copy on ::1 of another: "csd-fork@ipv6".
bool is_ipv6_copy(std::string_view implementation);

// The row `implementation` counts in: "csd-fork" for "csd-fork@ipv6" and for
// "csd-fork" itself.
std::string_view row_of(std::string_view implementation);

struct Skip {
  std::string check;
  std::string reason;
  std::vector<std::string> implementations;
};

struct Summary {
  std::map<std::string, Tally> by_implementation;  // sorted: stable output
  std::vector<Failure> failures;  // in the order they ran (printed by implementation),
                                  // warnings among them
  std::vector<Skip> skips;        // one per (check, reason)
  std::vector<Outcome> tests;     // every test that ran, in order
  int not_applicable = 0;         // (check, implementation) pairs csd-suite did not register
  double wall_seconds = 0;        // the runs' own elapsed times, added up
  // Where the first run was made: csd-suite's env_* properties without the
  // prefix ("csd", "kernel", "net.core.somaxconn", ...), in its order.
  std::vector<std::pair<std::string, std::string>> environment;
  // csd-report --allow-flaky: a flaky test does not fail the run, and
  // junit.xml does not list it as a failure.
  bool flaky_allowed = false;
  // How the first run was made, as csd-suite recorded it: what
  // `csd-report --rerun-failed` runs again with. nullopt from an older csd-suite.
  std::optional<harness::SuiteInvocation> invocation;

  [[nodiscard]] Tally total() const;
  // by_implementation with each NAME@ipv6 folded into NAME, sorted by name.
  [[nodiscard]] std::vector<ImplementationRow> rows() const;
};

// Adds one gtest JSON report (csd-suite --gtest_output=json:FILE) to `summary`.
// `results_dir` is the directory it was read from: a check's evidence
// (.pcap) is named relative to it. Throws nlohmann::json::exception if it
// is not one.
void add_results(const nlohmann::json& report, Summary& summary,
                 const std::filesystem::path& results_dir = {});

void print_summary(const Summary& summary, std::ostream& out);

}  // namespace csd::report
