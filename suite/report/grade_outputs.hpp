// What --grade writes, in the formats graders read: a Gradescope-style
// results.json per submission, and the class as a CSV and a page (one row per
// submission, one column per graded check, totals). grade.hpp grades.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <span>
#include <string>

#include "grade.hpp"

namespace csd::report {

// Gradescope's results.json: score, max_score, and per test name, score,
// max_score, status ("passed" or "failed"; a warning is failed, with its
// share of the points), output (the reason, the line that reruns it) and
// visibility.
nlohmann::json gradescope_results(const GradedSubmission& submission, const Rubric& rubric);

// submission,score,max_score,CHECK...: the points each test earned, empty
// where it did not run.
void write_class_csv(std::span<const GradedSubmission> submissions, std::ostream& out);

// The same as a page that works from a file: a cell's colour is its verdict,
// its title the output.
std::string class_page(std::span<const GradedSubmission> submissions, const Rubric& rubric);

// One line per submission: its name, score and max_score, and how many of
// its tests passed.
void print_grades(std::span<const GradedSubmission> submissions, std::ostream& out);

// DIR/NAME/results.json for each submission (NAME with any character but
// [A-Za-z0-9._-] made '_'), DIR/class.csv, DIR/class.html.
// False, having said why on stderr, if one could not be written.
bool write_grades(std::span<const GradedSubmission> submissions, const Rubric& rubric,
                  const std::filesystem::path& dir);

}  // namespace csd::report
