// csd-report --baseline FILE: a run judged against what is known. FILE is an
// earlier run's report.json, or a small file of the verdicts expected:
//
//   {"format": "csd-baseline/1",
//    "expected": {"my-server": {"size/split-request": "fail",
//                               "close/fin-not-rst": "fail"}}}
//
// per implementation (its manifest's name), per check ID (a demo's test: its
// name, "Rst.ServerClosesWithRstNotFin"), a verdict: pass, fail, warn, skip
// or flaky. A pair the file does not name is expected to pass. Only new
// failures fail the run: a test that fails (fail; flaky unless
// --allow-flaky; warn under --strict) where the baseline expected no
// failure. The summary also lists the fixed ones (expected to fail, now
// passing) and those not run (in the baseline, not in this run: a run over
// fewer implementations or checks), neither of which fails the run.
#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "summary.hpp"

namespace csd::report {

// (implementation, check ID) -> expected verdict ("pass", "fail", ...).
using BaselinePair = std::pair<std::string, std::string>;

struct Baseline {
  std::string file;
  std::map<BaselinePair, std::string> expected;
};

class BadBaseline : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads either form. Throws BadBaseline with what is wrong and where.
Baseline read_baseline(const std::filesystem::path& file);

// What counts as a failure of the run, for a verdict: fail; flaky unless
// allowed; warn under --strict.
struct FailurePolicy {
  bool strict = false;
  bool allow_flaky = false;
  [[nodiscard]] bool fails(Outcome::Verdict verdict) const;
  [[nodiscard]] bool fails(const std::string& verdict) const;  // "fail", "flaky", ...
};

struct BaselineComparison {
  std::vector<const Outcome*> new_failures;       // fail now, expected not to
  std::vector<const Outcome*> expected_failures;  // fail now, as expected
  std::vector<const Outcome*> fixed;              // expected to fail, pass now
  std::vector<BaselinePair> not_run;              // expected, not in this run
};

// The key of a test in a baseline: its check ID, or a demo's test name.
BaselinePair baseline_key(const Outcome& test);

BaselineComparison compare_with_baseline(const Summary& summary, const Baseline& baseline,
                                         const FailurePolicy& policy);

// The comparison for a person: one line of counts, then one line per new
// failure, fix and test not run, each list apart.
void print_comparison(const BaselineComparison& comparison, const Baseline& baseline,
                      std::ostream& out);

}  // namespace csd::report
