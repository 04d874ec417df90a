// Several csd-suite gtest JSON reports made one, as one csd-suite run over
// all their tests would have written it: the parts of a run with --jobs, the
// K runs of --repeat, the result folders of --merge (shards, or runs over
// other manifests). Every writer (summary, report.json, junit.xml,
// report.html) reads the one report, so a run made of parts reads as one.
//
// A results folder holds, beside csd-suite's merged gtest JSON (suite.json),
// run.json: what the run was made of, for a later merge:
//
//   {"format": "csd-run/1", "shard": "2/3", "repeat": 1, "jobs": 2,
//    "alone": ["Impl/Pool.EvenDistribution/csd_prefork", ...],
//    "plan": ["Impl/Size.SmallRepliesExact/csd_fork", ...]}
//
// plan lists every test of the whole run (all its shards), in the order a
// serial run runs them, so that merged shards are in that order again;
// alone, those of this run that ran with nothing beside them.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "plan.hpp"
#include "summary.hpp"

namespace csd::report {

// The full name of a test entry: "Impl/Size.SmallRepliesExact/csd_fork".
std::string full_name(const nlohmann::json& suite, const nlohmann::json& test);

// A test of the plan that has no result: its csd-suite died while it ran,
// or before it could.
struct MissingResult {
  PlannedTest test;
  std::string reason;  // "csd-suite did not finish this test (killed by signal 9): ..."
};

// One gtest JSON report of `reports`' tests, placed as `order` (full names)
// puts them and grouped in test suites as googletest groups them (each suite
// where its first test is); a test in no report is left out, unless it is
// `missing`: then it is a failed test whose failure is the reason, marked
// kUnfinishedKey. The run's properties (env_*, checks_not_applicable) are the
// first report's; time is `wall_seconds`.
nlohmann::json merge_reports(const std::vector<nlohmann::json>& reports,
                             const std::vector<std::string>& order,
                             const std::vector<MissingResult>& missing, double wall_seconds);

// --repeat K: one report of the K reports of the same run (`rounds`, each
// already merged). A test that failed in every run, or in none, is its first
// run's entry; one that failed in some only is the entry of its first failed
// run. Each entry records kRepeatsKey and kFailedRepeatsKey. `chosen` gets,
// per test, the index in `rounds` of the run whose entry (and evidence) it is.
nlohmann::json combine_repeats(const std::vector<nlohmann::json>& rounds,
                               std::map<std::string, std::size_t>& chosen);

// The evidence files a test entry names (capture and its transcript, server
// output, processes), relative to its report.
std::vector<std::string> evidence_of(const nlohmann::json& test);

// Whether any test of the report has no result (kUnfinishedKey).
bool has_unfinished(const nlohmann::json& report);

// csd-report --merge refuses, with a clear error (exit 2): folders of
// different csd versions, a pair present twice, a folder that is no results folder.
class MergeRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One results folder, as read for a merge.
struct ResultsFolderContents {
  std::filesystem::path dir;
  nlohmann::json suite;           // suite.json
  std::vector<std::string> plan;  // run.json's plan, else the order of suite.json's tests
  std::string csd_version;        // "0.1.0" of report.json's environment "csd"
};

// Reads DIR/suite.json, DIR/report.json and DIR/run.json (if it has one).
// Throws MergeRefused.
ResultsFolderContents read_results_folder(const std::filesystem::path& dir);

struct MergedFolders {
  nlohmann::json suite;           // the one gtest report
  std::vector<std::string> plan;  // the plans, each once, in the folders' order
};

// The folders as one run: their tests in the order of their plans (shards of
// one run share one: the serial order), then in the order of the folders.
// checks_not_applicable is added up over distinct plans. Throws MergeRefused
// for different csd versions or a (check, implementation) pair in two folders.
MergedFolders merge_folders(const std::vector<ResultsFolderContents>& folders);

}  // namespace csd::report
