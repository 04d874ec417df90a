#include "baseline.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <array>
#include <fstream>
#include <set>
#include <string_view>

namespace csd::report {

namespace {

constexpr std::array<std::string_view, 5> kVerdicts = {"pass", "fail", "warn", "skip", "flaky"};

std::string checked_verdict(const std::string& file, const std::string& where,
                            const nlohmann::json& value) {
  std::string verdict = value.is_string() ? value.get<std::string>() : value.dump();
  for (const auto known : kVerdicts) {
    if (verdict == known)
      return verdict;
  }
  throw BadBaseline(fmt::format("{}: {}: '{}' is no verdict (pass, fail, warn, skip, flaky)", file,
                                where, verdict));
}

// "1 new failure", "2 new failures".
std::string counted(std::size_t count, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

}  // namespace

Baseline read_baseline(const std::filesystem::path& path) {
  Baseline baseline;
  baseline.file = path.string();
  std::ifstream in(path);
  if (!in)
    throw BadBaseline(fmt::format("{}: cannot read it", baseline.file));
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw BadBaseline(fmt::format("{}: not JSON: {}", baseline.file, e.what()));
  }
  if (doc.is_object() && doc.contains("results") && doc["results"].is_array()) {
    // An earlier run's report.json.
    for (const auto& result : doc["results"]) {
      const std::string implementation = result.value("implementation", "");
      const std::string id = result.value("id", "");
      const std::string key = id.empty() ? result.value("check", "") : id;
      baseline.expected[{implementation, key}] = checked_verdict(
          baseline.file, fmt::format("{} {}", implementation, key), result.value("verdict", ""));
    }
    return baseline;
  }
  if (doc.is_object() && doc.contains("expected") && doc["expected"].is_object()) {
    for (const auto& [implementation, checks] : doc["expected"].items()) {
      if (!checks.is_object())
        throw BadBaseline(fmt::format(
            "{}: expected.{}: an object of check IDs and verdicts, as {{\"size/split-request\": "
            "\"fail\"}}",
            baseline.file, implementation));
      for (const auto& [id, verdict] : checks.items())
        baseline.expected[{implementation, id}] = checked_verdict(
            baseline.file, fmt::format("expected.{}.{}", implementation, id), verdict);
    }
    return baseline;
  }
  throw BadBaseline(fmt::format(
      "{}: neither a report.json of csd-report nor a baseline ({{\"format\": \"csd-baseline/1\", "
      "\"expected\": {{\"IMPLEMENTATION\": {{\"CHECK-ID\": \"fail\"}}}}}})",
      baseline.file));
}

bool FailurePolicy::fails(Outcome::Verdict verdict) const {
  switch (verdict) {
    case Outcome::Verdict::fail:
      return true;
    case Outcome::Verdict::flaky:
      return !allow_flaky;
    case Outcome::Verdict::warn:
      return strict;
    case Outcome::Verdict::pass:
    case Outcome::Verdict::skip:
      return false;
  }
  return false;
}

bool FailurePolicy::fails(const std::string& verdict) const {
  return verdict == "fail" || (verdict == "flaky" && !allow_flaky) || (verdict == "warn" && strict);
}

BaselinePair baseline_key(const Outcome& test) {
  return {test.implementation, test.check_id.empty() ? test.check : test.check_id};
}

BaselineComparison compare_with_baseline(const Summary& summary, const Baseline& baseline,
                                         const FailurePolicy& policy) {
  BaselineComparison comparison;
  std::set<BaselinePair> ran;
  for (const auto& test : summary.tests) {
    const BaselinePair key = baseline_key(test);
    ran.insert(key);
    const auto expected = baseline.expected.find(key);
    const bool expected_to_fail =
        expected != baseline.expected.end() && policy.fails(expected->second);
    if (policy.fails(test.verdict)) {
      (expected_to_fail ? comparison.expected_failures : comparison.new_failures).push_back(&test);
    } else if (expected_to_fail && test.verdict != Outcome::Verdict::skip) {
      comparison.fixed.push_back(&test);
    }
  }
  for (const auto& [key, verdict] : baseline.expected) {
    if (!ran.contains(key))
      comparison.not_run.push_back(key);
  }
  return comparison;
}

void print_comparison(const BaselineComparison& comparison, const Baseline& baseline,
                      std::ostream& out) {
  out << fmt::format(
      "Against the baseline {}: {}, {}, {}, {}\n", baseline.file,
      counted(comparison.new_failures.size(), "new failure", "new failures"),
      counted(comparison.expected_failures.size(), "expected failure", "expected failures"),
      counted(comparison.fixed.size(), "fixed", "fixed"),
      counted(comparison.not_run.size(), "not run", "not run"));
  const auto name = [](const Outcome& test) {
    return test.check_id.empty() ? test.check : fmt::format("{} {}", test.check_id, test.check);
  };
  for (const Outcome* test : comparison.new_failures)
    out << fmt::format("NEW FAILURE  {} {}: {}\n", test->implementation, name(*test), test->reason);
  for (const Outcome* test : comparison.fixed)
    out << fmt::format("FIXED        {} {}: expected to fail, {} now\n", test->implementation,
                       name(*test), to_string(test->verdict) == "pass" ? "passes" : "warns");
  for (const auto& [implementation, check] : comparison.not_run)
    out << fmt::format("NOT RUN      {} {}: in the baseline, not in this run\n", implementation,
                       check);
}

}  // namespace csd::report
