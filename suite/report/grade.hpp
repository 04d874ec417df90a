// csd-report --grade RUBRIC.json: a run's verdicts as points, per submission
// (one manifest each), for a class. The rubric:
//
//   {"format": "csd-rubric/1",
//    "checks": {"size/*": 2, "shape/declared-model": 3, "*": 1},
//    "warning_share": 0.5,
//    "skipped": "not counted",
//    "visibility": "after_published",
//    "limits": {"processes": 2048, "memory": "2G", "file_size": "64M"}}
//
// "checks": check-ID patterns (fnmatch) and their points, in order: the first
// pattern that matches a check gives it its points; a check none matches is
// not graded. "warning_share": the share of a check's points a warning (a
// recommended check that failed) earns, 0 to 1 (default 0.5). "skipped": what
// a check the machine could not run counts: "not counted" (default: neither
// score nor max_score), or "full" (its points). "visibility": Gradescope's,
// for every test (default "visible"). "limits": what every submission's
// server may use (a manifest's "limits"; csd-report --max-*, the smaller
// wins); without, a graded run still holds each to kGradeProcesses. A
// failure, a flaky test, a test whose csd-suite died and a recommended
// check whose server a limit stopped (graded as failed) earn nothing.
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "limits.hpp"
#include "summary.hpp"

namespace csd::report {

struct Rubric {
  std::string file;
  std::vector<std::pair<std::string, double>> points;  // (pattern, points), in the file's order
  double warning_share = 0.5;
  bool skipped_earn_full = false;
  std::string visibility = "visible";
  harness::ServerLimits limits;  // "limits": for every submission's server

  // The points of check `id`: the first pattern's that matches; nullopt: not graded.
  [[nodiscard]] std::optional<double> points_of(std::string_view id) const;
};

// The processes a graded server may have when neither the rubric nor the
// command line says: a fork bomb among a class stops there, while a
// process per connection still serves robust/burst-above-backlog's 1000
// connections at once.
inline constexpr int kGradeProcesses = 2048;

class BadRubric : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws BadRubric with what is wrong and where.
Rubric read_rubric(const std::filesystem::path& file);
Rubric parse_rubric(std::string_view text, const std::string& file = "rubric");

// One graded test of a submission.
struct GradedCheck {
  std::string name;  // the check's ID: "size/split-request"
  double score = 0;
  double max_score = 0;
  Outcome::Verdict verdict = Outcome::Verdict::pass;
  std::string output;  // the reason and the line that reruns it; "" for a pass
};

// A limit that stopped a submission's server in some of its checks: one of
// csd-guard's ("processes", "memory", "file size": the test's figure
// stopped_by_limit) or "time" (a check that used up its budget).
struct LimitStop {
  std::string limit;
  int checks = 0;     // in how many checks, graded or not
  std::string first;  // what the first of them says: "the tree reached 71 processes, ..."
};

struct GradedSubmission {
  std::string name;  // the manifest's name
  std::vector<GradedCheck> checks;
  std::vector<LimitStop> stopped_by;  // in the order first met
  double score = 0;
  double max_score = 0;
};

// Every implementation of the run (not the demos) as a submission, in the
// summary's order of names. A check that ran on ::1 too (the NAME@ipv6
// copy) is one graded check, with the worse of its two verdicts.
std::vector<GradedSubmission> grade(const Summary& summary, const Rubric& rubric);

}  // namespace csd::report
