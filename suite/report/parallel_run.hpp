// csd-report --jobs N: the batches of a run (plan.hpp) in up to N csd-suite
// processes at once, each with its own gtest JSON and output; a batch of
// tests that run alone with nothing beside it; one progress line for them
// all; and a batch whose csd-suite died is not lost: the test it was running
// is reported failed with its last words, and the rest of the batch runs
// again in a fresh process.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "merge.hpp"
#include "plan.hpp"

namespace csd::report {

// A batch that ran to its end: its gtest JSON and its output.
struct FinishedBatch {
  Batch batch;
  std::filesystem::path json;
  std::filesystem::path log;
};

struct ParallelRun {
  std::vector<FinishedBatch> finished;  // in the order they were started
  // Tests whose csd-suite died before they had a result, with its last
  // words, by round (index round - 1).
  std::vector<std::vector<MissingResult>> missing;
  std::vector<std::filesystem::path> logs_of_the_dead;  // the output of each csd-suite that died
  bool interrupted = false;  // SIGINT, SIGTERM or SIGHUP: passed on, nothing more started
};

// Runs `batches` with `suite_argv` (csd-suite and the run's own flags:
// manifests, --strict, --checks, --timeout-multiplier, ...; a filter and an
// output are added per batch), `jobs` processes at once. Round R's files go
// into `round_dirs[R - 1]` (its evidence lands next to its JSON). Each
// process dies with us (SIGKILL, PR_SET_PDEATHSIG), and a SIGINT, SIGTERM or
// SIGHUP we get is passed on to each. `tests` gives what the plan knows of
// each test, for the record of one that has no result.
ParallelRun run_batches(const std::vector<std::string>& suite_argv, std::vector<Batch> batches,
                        int jobs, const std::vector<std::filesystem::path>& round_dirs,
                        const std::vector<PlannedTest>& tests);

}  // namespace csd::report
