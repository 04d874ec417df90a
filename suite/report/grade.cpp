#include "grade.hpp"

#include <fmt/format.h>
#include <fnmatch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "limits.hpp"
#include "timeouts.hpp"

namespace csd::report {

namespace {

const std::set<std::string> kRubricKeys = {"format",  "checks",     "warning_share",
                                           "skipped", "visibility", "limits"};
const std::set<std::string> kVisibilities = {"visible", "hidden", "after_due_date",
                                             "after_published"};

double checked_points(const std::string& file, const std::string& pattern,
                      const nlohmann::ordered_json& value) {
  if (!value.is_number() || value.get<double>() < 0)
    throw BadRubric(fmt::format("{}: checks: \"{}\": {} is no number of points (0 or more)", file,
                                pattern, value.dump()));
  return value.get<double>();
}

// What a test earns, of its check's points.
double earned(Outcome::Verdict verdict, double points, const Rubric& rubric) {
  switch (verdict) {
    case Outcome::Verdict::pass:
      return points;
    case Outcome::Verdict::warn:
      return points * rubric.warning_share;
    case Outcome::Verdict::skip:
      return rubric.skipped_earn_full ? points : 0;
    case Outcome::Verdict::fail:
    case Outcome::Verdict::flaky:
      break;
  }
  return 0;
}

// Of two verdicts of one check (on 127.0.0.1 and on ::1), whether `a` is
// the one that counts over `b`: a skip yields to any verdict that ran, and
// among those the worse wins (fail, then flaky, then warn, then pass).
bool worse(Outcome::Verdict a, Outcome::Verdict b) {
  if (a == Outcome::Verdict::skip || b == Outcome::Verdict::skip)
    return b == Outcome::Verdict::skip && a != Outcome::Verdict::skip;
  return severity(a) > severity(b);
}

// What a test earns points as: a recommended check whose server a limit
// had to stop (a fork bomb, a server that never answers) is no warning but
// a failure, and earns nothing.
Outcome::Verdict graded_verdict(const Outcome& test, bool stopped_by_limit) {
  return stopped_by_limit && test.verdict == Outcome::Verdict::warn ? Outcome::Verdict::fail
                                                                    : test.verdict;
}

std::string output_of(const Outcome& test, Outcome::Verdict verdict) {
  if (verdict == Outcome::Verdict::pass)
    return test.slow.empty() ? "" : "passed, slowly: " + test.slow;
  std::string out = fmt::format("{}: {}", to_string(verdict), test.reason);
  if (test.verdict == Outcome::Verdict::flaky)
    out += fmt::format(" ({} of {} runs failed)", test.failed_runs, test.runs);
  if (!test.reproduce.empty())
    out += "\nrerun: " + test.reproduce;
  if (!test.by_hand.empty())
    out += "\nby hand, on a server you started on PORT: " + test.by_hand;
  return out;
}

// The limit that stopped the test's server, if one did: its kind and words.
std::optional<std::pair<std::string, std::string>> limit_stop_of(const Outcome& test) {
  if (const auto figure = test.figures.find(std::string(harness::kLimitProperty));
      figure != test.figures.end()) {
    const std::string& text = figure->second;  // "processes: the tree reached ..."
    const auto colon = text.find(": ");
    if (colon == std::string::npos)
      return std::pair{text, text};
    return std::pair{text.substr(0, colon), text.substr(colon + 2)};
  }
  if (const auto at = test.reason.find(harness::budget::kExceeded); at != std::string::npos)
    return std::pair{std::string("time"), test.reason.substr(at, test.reason.find('\n', at) - at)};
  if (const auto figure = test.figures.find(std::string(harness::kTimedOutProperty));
      figure != test.figures.end())
    return std::pair{std::string("time"), figure->second};
  return std::nullopt;
}

// Counts the limit that stopped the test's server, if one did; whether one did.
bool count_limit_stop(const Outcome& test, GradedSubmission& submission) {
  const auto stop = limit_stop_of(test);
  if (!stop)
    return false;
  auto it = std::ranges::find(submission.stopped_by, stop->first, &LimitStop::limit);
  if (it == submission.stopped_by.end())
    it = submission.stopped_by.insert(it,
                                      {.limit = stop->first, .checks = 0, .first = stop->second});
  ++it->checks;
  return true;
}

}  // namespace

std::optional<double> Rubric::points_of(std::string_view id) const {
  const std::string text(id);
  for (const auto& [pattern, value] : points) {
    if (::fnmatch(pattern.c_str(), text.c_str(), 0) == 0)
      return value;
  }
  return std::nullopt;
}

Rubric parse_rubric(std::string_view text, const std::string& file) {
  Rubric rubric;
  rubric.file = file;
  nlohmann::ordered_json doc;  // ordered: the first pattern that matches wins
  try {
    doc = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw BadRubric(fmt::format("{}: not JSON: {}", file, e.what()));
  }
  if (!doc.is_object())
    throw BadRubric(fmt::format("{}: expected an object with \"checks\"", file));
  for (const auto& [key, value] : doc.items()) {
    if (!kRubricKeys.contains(key))
      throw BadRubric(
          fmt::format("{}: unknown key \"{}\" (known: checks, warning_share, "
                      "skipped, visibility, limits, format)",
                      file, key));
  }
  if (doc.contains("format") && doc["format"] != "csd-rubric/1")
    throw BadRubric(fmt::format("{}: format {} is not csd-rubric/1", file, doc["format"].dump()));
  if (!doc.contains("checks") || !doc["checks"].is_object() || doc["checks"].empty())
    throw BadRubric(fmt::format(
        "{}: expected \"checks\": {{\"PATTERN\": POINTS, ...}}, e.g. {{\"size/*\": 2, \"*\": 1}}",
        file));
  for (const auto& [pattern, value] : doc["checks"].items())
    rubric.points.emplace_back(pattern, checked_points(file, pattern, value));
  if (doc.contains("warning_share")) {
    const auto& share = doc["warning_share"];
    if (!share.is_number() || share.get<double>() < 0 || share.get<double>() > 1)
      throw BadRubric(
          fmt::format("{}: warning_share {} is not a number from 0 to 1", file, share.dump()));
    rubric.warning_share = share.get<double>();
  }
  if (doc.contains("skipped")) {
    const auto& skipped = doc["skipped"];
    if (skipped != "not counted" && skipped != "full")
      throw BadRubric(fmt::format("{}: skipped {} is neither \"not counted\" nor \"full\"", file,
                                  skipped.dump()));
    rubric.skipped_earn_full = skipped == "full";
  }
  if (doc.contains("visibility")) {
    const auto& visibility = doc["visibility"];
    if (!visibility.is_string() || !kVisibilities.contains(visibility.get<std::string>()))
      throw BadRubric(
          fmt::format("{}: visibility {} is not one of visible, hidden, "
                      "after_due_date, after_published",
                      file, visibility.dump()));
    rubric.visibility = visibility.get<std::string>();
  }
  if (doc.contains("limits")) {
    try {
      rubric.limits = harness::limits_from_json(nlohmann::json(doc["limits"]));
    } catch (const harness::BadLimits& e) {
      throw BadRubric(fmt::format("{}: {}: {}", file, e.key(), e.what()));
    }
  }
  return rubric;
}

Rubric read_rubric(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    throw BadRubric(fmt::format("{}: cannot read it", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_rubric(text.str(), file.string());
}

std::vector<GradedSubmission> grade(const Summary& summary, const Rubric& rubric) {
  std::map<std::string, GradedSubmission> by_name;  // sorted: the summary's order of rows
  for (const Outcome& test : summary.tests) {
    if (test.implementation == kDemos || test.check_id.empty())
      continue;
    const std::string name(row_of(test.implementation));
    GradedSubmission& submission = by_name[name];
    submission.name = name;
    const auto verdict = graded_verdict(test, count_limit_stop(test, submission));
    const auto points = rubric.points_of(test.check_id);
    if (!points)
      continue;
    // A check run on ::1 too (NAME@ipv6) is one check: its worse verdict
    // counts, so that declaring "ipv6" neither adds points nor costs any.
    const bool on_ipv6 = is_ipv6_copy(test.implementation);
    auto graded = std::ranges::find(submission.checks, test.check_id, &GradedCheck::name);
    const bool first = graded == submission.checks.end();
    if (first) {
      submission.checks.push_back({.name = test.check_id, .verdict = verdict, .output = {}});
      graded = std::prev(submission.checks.end());
    }
    if (first || worse(verdict, graded->verdict)) {
      graded->verdict = verdict;
      graded->output = (on_ipv6 ? "on ::1: " : "") + output_of(test, verdict);
    }
    const bool counted = graded->verdict != Outcome::Verdict::skip || rubric.skipped_earn_full;
    graded->max_score = counted ? *points : 0;
    graded->score = counted ? earned(graded->verdict, *points, rubric) : 0;
  }
  std::vector<GradedSubmission> submissions;
  submissions.reserve(by_name.size());
  for (auto& [name, submission] : by_name) {
    for (const auto& check : submission.checks) {
      submission.score += check.score;
      submission.max_score += check.max_score;
    }
    submissions.push_back(std::move(submission));
  }
  return submissions;
}

}  // namespace csd::report
