// csd-suite's own command line, parsed in one place (CLI11) with its help
// text beside it; googletest's flags pass through to InitGoogleTest.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalogue.hpp"
#include "check.hpp"
#include "limits.hpp"
#include "progress.hpp"

namespace csd::suite {

struct SuiteOptions {
  std::vector<std::string> impls;            // --impl FILE.json|DIR, in order; else $CSD_IMPL
  bool demo_given = false;                   // a --demo NAME=PATH put a program in a demo's place
  std::optional<double> timeout_multiplier;  // else $CSD_TIMEOUT_MULTIPLIER
  ProgressMode progress = ProgressMode::automatic;
  std::optional<CatalogueFormat> list_checks;
  CheckSelection selection;  // --checks, --skip-checks
  bool strict = false;
  std::vector<std::string> network;  // --network COND, each as given
  // --max-processes, --max-memory, --max-file-size: every server's, tightened
  // by its manifest's "limits"
  harness::ServerLimits limits;
  // --assume-model NAME=MODEL: an auto manifest's model, observed by
  // csd-report for every csd-suite of its run (auto_models.hpp).
  std::vector<std::string> assume_models;
};

// Takes csd-suite's own flags out of argv, leaving argv[0] and what it does
// not know (googletest's flags, and mistakes, which googletest leaves in
// turn) for InitGoogleTest; then reads the environment the help lists. --help prints the help, then
// googletest's own flags, and exits 0; a bad flag or value prints the problem and exits 2.
SuiteOptions parse_suite_options(int& argc, char** argv);

// Prints "csd-suite: PROBLEM (csd-suite --help)" and exits 2: what the
// command line asked for cannot be done, and nothing has run.
[[noreturn]] void usage_error(const std::string& problem);

}  // namespace csd::suite
