// csd-report's options, as its command line gives them (command_line.cpp),
// and its exit statuses.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "baseline.hpp"
#include "grade.hpp"
#include "identify.hpp"
#include "limits.hpp"
#include "plan.hpp"

namespace csd::tools {

inline constexpr int kFailed = 1;      // a required check failed (or any, with --strict)
inline constexpr int kUsage = 2;       // bad usage, or the suite refused to run (a bad manifest)
inline constexpr int kUnfinished = 3;  // the suite did not finish (killed, crashed)

struct Options {
  std::vector<std::string> manifests;
  std::vector<std::string> from;
  std::string out;
  std::string suite;
  bool strict = false;
  std::vector<std::string> checks;
  std::vector<std::string> skip_checks;
  std::optional<double> timeout_multiplier;
  std::vector<std::string> network;  // csd-suite --network, each as given
  // csd-suite --max-processes, --max-memory, --max-file-size; with --grade
  // tightened by the rubric's
  harness::ServerLimits limits;
  // --rerun-failed: the earlier run's csd-suite flags csd-report has none
  // of its own for (--demo NAME=PATH), passed on as they were.
  std::vector<std::string> more_suite_flags;
  // "model": "auto": the models csd-report observed for the run, as
  // csd-suite's --assume-model flags, given to every csd-suite it starts.
  std::vector<std::string> assumed_models;
  std::string filter;
  int jobs = 1;
  std::optional<csd::report::Shard> shard;
  int repeat = 1;
  bool allow_flaky = false;
  std::vector<std::string> merge;
  std::optional<csd::report::Baseline> baseline;
  std::string rerun_failed;
  std::optional<csd::report::Rubric> rubric;  // --grade
  std::string manifest_template;              // --template: manifests are submission folders
};

// -o, or where a run's results go without it.
inline std::filesystem::path out_dir(const Options& options) {
  return options.out.empty() ? "results" : options.out;
}

// Reads the command line into `options` and `identify`: nullopt to go on,
// else the exit status to end with (0: the help was asked for and printed;
// kUsage: the error was printed).
std::optional<int> parse_command_line(int argc, char** argv, Options& options,
                                      IdentifyOptions& identify);

}  // namespace csd::tools
