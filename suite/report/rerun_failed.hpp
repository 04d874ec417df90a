// csd-report --rerun-failed DIR: which tests of an earlier run to run again
// (those that failed, warned or were flaky), over which manifests and with
// which of csd-suite's flags, all read from DIR/report.json: its "rerun"
// record (how the run called csd-suite) and each result's "test" and
// "manifest" (report_json.hpp).
#pragma once

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "rerun.hpp"

namespace csd::report {

struct RerunPlan {
  harness::SuiteInvocation invocation;  // the run's csd-suite, flags and environment
  std::vector<std::string> tests;       // googletest's full names, in the run's order
  // The manifests of those tests, each once, in that order; empty when the
  // tests include a demo's and the run had the reference implementations
  // (no --impl): the rerun has none either, so that the demos run again.
  std::vector<std::string> manifests;
  // Their checks' IDs, each once: the rerun selects these checks alone
  // (--checks), so that it counts no other check as not applicable.
  std::vector<std::string> check_ids;
  std::size_t failed = 0;
  std::size_t warned = 0;
  std::size_t flaky = 0;
};

// Why a folder cannot be rerun: it has no report.json, or one csd-report
// did not write, or one of an older csd (no "rerun" record), or a manifest
// of a test to rerun is gone. csd-report exits 2 with it.
class RerunRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads DIR/report.json. Throws RerunRefused.
RerunPlan plan_rerun(const std::filesystem::path& dir);

// One googletest filter that runs exactly `tests` (full names).
std::string gtest_filter_of(const std::vector<std::string>& tests);

}  // namespace csd::report
