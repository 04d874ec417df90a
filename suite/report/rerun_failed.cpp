#include "rerun_failed.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "summary.hpp"

namespace csd::report {

namespace fs = std::filesystem;
using nlohmann::json;

RerunPlan plan_rerun(const fs::path& dir) {
  const fs::path file = dir / "report.json";
  std::ifstream in(file);
  if (!in)
    throw RerunRefused(fmt::format("{}: no such file: {} is no results folder of csd-report",
                                   file.string(), dir.string()));
  json report;
  try {
    report = json::parse(in);
  } catch (const json::exception& e) {
    throw RerunRefused(fmt::format("{}: not JSON: {}", file.string(), e.what()));
  }
  if (!report.is_object() || report.value("format", "") != "csd-report/1" ||
      !report.contains("results"))
    throw RerunRefused(fmt::format("{}: not a csd-report/1 report", file.string()));
  if (!report.contains("rerun"))
    throw RerunRefused(fmt::format(
        "{}: it does not say how its run called csd-suite (a csd older than --rerun-failed "
        "made it): run again with csd-report --filter instead",
        file.string()));
  RerunPlan plan;
  try {
    plan.invocation = harness::invocation_from_json(report["rerun"]);
  } catch (const json::exception& e) {
    throw RerunRefused(
        fmt::format("{}: its \"rerun\" record is not one: {}", file.string(), e.what()));
  }
  bool any_demo = false;
  std::vector<std::string> manifests;
  for (const auto& result : report["results"]) {
    const std::string verdict = result.value("verdict", "");
    if (verdict != "fail" && verdict != "warn" && verdict != "flaky")
      continue;
    ++(verdict == "fail" ? plan.failed : verdict == "warn" ? plan.warned : plan.flaky);
    const std::string test = result.value("test", "");
    if (test.empty())
      throw RerunRefused(
          fmt::format("{}: a result names no test: {}", file.string(), result.dump()));
    plan.tests.push_back(test);
    const std::string id = result.value("id", "");
    if (!id.empty() &&
        std::find(plan.check_ids.begin(), plan.check_ids.end(), id) == plan.check_ids.end())
      plan.check_ids.push_back(id);
    if (result.value("implementation", "") == kDemos) {
      any_demo = true;
      continue;
    }
    const std::string manifest = result.value("manifest", "");
    if (manifest.empty())
      throw RerunRefused(fmt::format("{}: {} has no manifest recorded", file.string(), test));
    if (!fs::exists(manifest))
      throw RerunRefused(fmt::format("the manifest of {} ({}) is gone: {} cannot be rerun",
                                     result.value("implementation", "?"), manifest, test));
    if (std::find(manifests.begin(), manifests.end(), manifest) == manifests.end())
      manifests.push_back(manifest);
  }
  // A demo's test ran because the run had no --impl (or a --demo): so does
  // the rerun, or the demos would not be registered.
  if (!any_demo || plan.invocation.has_flag("--demo"))
    plan.manifests = std::move(manifests);
  return plan;
}

std::string gtest_filter_of(const std::vector<std::string>& tests) {
  std::string filter;
  for (const auto& test : tests)
    filter += (filter.empty() ? "" : ":") + harness::gtest_filter_pattern(test);
  return filter;
}

}  // namespace csd::report
