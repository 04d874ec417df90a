#include "merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <utility>

namespace csd::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// googletest writes durations as "1.234s".
double seconds_of(const json& node) {
  const std::string text = node.value("time", "0s");
  return std::strtod(text.c_str(), nullptr);
}

// The array node[key] by reference (value() would copy it, and the tests
// are found by pointer), or an empty one.
const json& items_of(const json& node, const char* key) {
  static const json kNone = json::array();
  const auto it = node.find(key);
  return it != node.end() && it->is_array() ? *it : kNone;
}

std::string duration(double seconds) { return fmt::format("{:.3f}s", seconds); }

bool failed(const json& test) { return test.contains("failures") && !test["failures"].empty(); }

// A run property (checks_not_applicable): googletest writes it as a string.
int int_property(const json& report, const char* key) {
  if (!report.contains(key))
    return 0;
  const json& value = report[key];
  return value.is_number() ? value.get<int>() : std::atoi(value.get<std::string>().c_str());
}

// The test suite's counts and time, from its tests.
void recount(json& suite) {
  int failures = 0;
  double seconds = 0;
  for (const auto& test : suite["testsuite"]) {
    failures += failed(test) ? 1 : 0;
    seconds += seconds_of(test);
  }
  suite["tests"] = suite["testsuite"].size();
  suite["failures"] = failures;
  suite["time"] = duration(seconds);
}

// The entry of a test that has no result: failed, with the reason.
json unfinished_entry(const MissingResult& missing, const std::string& suite,
                      const std::string& name) {
  json entry = {{"name", name},
                {"status", "RUN"},
                {"result", "COMPLETED"},
                {"time", "0s"},
                {"classname", suite},
                {"failures", json::array({{{"failure", missing.reason}, {"type", ""}}})},
                {kUnfinishedKey, missing.reason}};
  if (!missing.test.implementation.empty())
    entry["implementation"] = missing.test.implementation;
  if (!missing.test.check_id.empty())
    entry["check_id"] = missing.test.check_id;
  if (!missing.test.level.empty())
    entry["level"] = missing.test.level;
  return entry;
}

// "Impl/Size" and "SmallRepliesExact/csd_fork" of "Impl/Size.SmallRepliesExact/csd_fork".
std::pair<std::string, std::string> split_name(const std::string& full) {
  const auto dot = full.find('.');
  if (dot == std::string::npos)
    return {full, ""};
  return {full.substr(0, dot), full.substr(dot + 1)};
}

json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in)
    throw MergeRefused(fmt::format("{}: cannot read it", file.string()));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw MergeRefused(fmt::format("{}: not JSON: {}", file.string(), e.what()));
  }
}

}  // namespace

std::string full_name(const json& suite, const json& test) {
  return suite.value("name", "?") + "." + test.value("name", "?");
}

json merge_reports(const std::vector<json>& reports, const std::vector<std::string>& order,
                   const std::vector<MissingResult>& missing, double wall_seconds) {
  struct Found {
    const json* suite;
    const json* test;
  };
  std::map<std::string, Found> found;
  std::vector<std::string> unordered;  // in no order given: kept, after the others
  const std::set<std::string> ordered(order.begin(), order.end());
  for (const auto& report : reports) {
    for (const auto& suite : items_of(report, "testsuites")) {
      for (const auto& test : items_of(suite, "testsuite")) {
        const std::string name = full_name(suite, test);
        found.insert_or_assign(name, Found{&suite, &test});
        if (!ordered.contains(name))
          unordered.push_back(name);
      }
    }
  }
  std::map<std::string, const MissingResult*> missing_by_name;
  for (const auto& m : missing) missing_by_name[m.test.name] = &m;

  json merged = json::object();
  if (!reports.empty()) {
    for (const auto& [key, value] : reports.front().items()) {
      if (key != "testsuites")
        merged[key] = value;
    }
  }
  std::vector<std::string> suite_order;
  std::map<std::string, json> suites;
  const auto place = [&](const std::string& name) {
    const auto [suite_name, test_name] = split_name(name);
    json entry;
    const json* suite_fields = nullptr;
    if (const auto it = found.find(name); it != found.end()) {
      entry = *it->second.test;
      suite_fields = it->second.suite;
    } else if (const auto gone = missing_by_name.find(name); gone != missing_by_name.end()) {
      entry = unfinished_entry(*gone->second, suite_name, test_name);
    } else {
      return;
    }
    auto [suite, added] = suites.try_emplace(suite_name, json::object());
    if (added) {
      suite_order.push_back(suite_name);
      if (suite_fields != nullptr) {
        for (const auto& [key, value] : suite_fields->items()) {
          if (key != "testsuite")
            suite->second[key] = value;
        }
      }
      suite->second["name"] = suite_name;
      suite->second["testsuite"] = json::array();
    }
    suite->second["testsuite"].push_back(std::move(entry));
  };
  for (const auto& name : order) place(name);
  for (const auto& name : unordered) place(name);

  json testsuites = json::array();
  int tests = 0;
  int failures = 0;
  for (const auto& name : suite_order) {
    json& suite = suites[name];
    recount(suite);
    tests += suite["tests"].get<int>();
    failures += suite["failures"].get<int>();
    testsuites.push_back(std::move(suite));
  }
  merged["tests"] = tests;
  merged["failures"] = failures;
  merged["time"] = duration(wall_seconds);
  merged["testsuites"] = std::move(testsuites);
  return merged;
}

json combine_repeats(const std::vector<json>& rounds, std::map<std::string, std::size_t>& chosen) {
  if (rounds.empty())
    return json::object();
  std::map<std::string, std::vector<std::pair<std::size_t, const json*>>> runs;
  double seconds = 0;
  for (std::size_t r = 0; r < rounds.size(); ++r) {
    seconds += seconds_of(rounds[r]);
    for (const auto& suite : items_of(rounds[r], "testsuites")) {
      for (const auto& test : items_of(suite, "testsuite"))
        runs[full_name(suite, test)].emplace_back(r, &test);
    }
  }
  json combined = rounds.front();
  int failures = 0;
  for (auto& suite : combined["testsuites"]) {
    for (auto& test : suite["testsuite"]) {
      const std::string name = full_name(suite, test);
      const auto& its_runs = runs[name];
      const auto failed_runs = std::count_if(its_runs.begin(), its_runs.end(),
                                             [](const auto& run) { return failed(*run.second); });
      auto pick = its_runs.begin();
      if (failed_runs > 0 && failed_runs < static_cast<std::ptrdiff_t>(its_runs.size()))
        pick = std::find_if(its_runs.begin(), its_runs.end(),
                            [](const auto& run) { return failed(*run.second); });
      test = *pick->second;
      test[kRepeatsKey] = its_runs.size();
      test[kFailedRepeatsKey] = failed_runs;
      chosen[name] = pick->first;
    }
    recount(suite);
    failures += suite["failures"].get<int>();
  }
  combined["failures"] = failures;
  combined["time"] = duration(seconds);
  return combined;
}

std::vector<std::string> evidence_of(const json& test) {
  std::vector<std::string> files;
  for (const char* key : {"capture", "wire", "server_output", "process_tree"}) {
    if (test.contains(key) && test[key].is_string() && !test[key].get<std::string>().empty())
      files.push_back(test[key].get<std::string>());
  }
  return files;
}

bool has_unfinished(const json& report) {
  for (const auto& suite : items_of(report, "testsuites")) {
    for (const auto& test : items_of(suite, "testsuite")) {
      if (test.contains(kUnfinishedKey))
        return true;
    }
  }
  return false;
}

ResultsFolderContents read_results_folder(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw MergeRefused(fmt::format("{}: no such folder", dir.string()));
  for (const char* file : {"suite.json", "report.json"}) {
    if (!fs::exists(dir / file))
      throw MergeRefused(
          fmt::format("{}: no {}: not a folder of csd-report's results", dir.string(), file));
  }
  ResultsFolderContents folder;
  folder.dir = dir;
  folder.suite = read_json(dir / "suite.json");
  const json report = read_json(dir / "report.json");
  const std::string csd = report.value("environment", json::object()).value("csd", "");
  folder.csd_version = csd.substr(0, csd.find(' '));
  if (fs::exists(dir / "run.json")) {
    const json run = read_json(dir / "run.json");
    for (const auto& name : run.value("plan", json::array()))
      folder.plan.push_back(name.get<std::string>());
  } else {  // a serial run's: its own tests, in their order
    for (const auto& suite : items_of(folder.suite, "testsuites")) {
      for (const auto& test : items_of(suite, "testsuite"))
        folder.plan.push_back(full_name(suite, test));
    }
  }
  return folder;
}

MergedFolders merge_folders(const std::vector<ResultsFolderContents>& folders) {
  MergedFolders merged;
  if (folders.empty())
    return merged;
  const ResultsFolderContents& first = folders.front();
  std::map<std::string, const ResultsFolderContents*> owner;
  std::vector<const std::vector<std::string>*> plans;
  std::set<std::string> planned;
  std::vector<json> reports;
  int not_applicable = 0;
  double seconds = 0;
  for (const auto& folder : folders) {
    if (folder.csd_version != first.csd_version)
      throw MergeRefused(fmt::format(
          "{} holds results of csd {}, {} of csd {}: merge results of one csd version only",
          first.dir.string(), first.csd_version.empty() ? "(unknown)" : first.csd_version,
          folder.dir.string(), folder.csd_version.empty() ? "(unknown)" : folder.csd_version));
    for (const auto& suite : items_of(folder.suite, "testsuites")) {
      for (const auto& test : items_of(suite, "testsuite")) {
        const std::string name = full_name(suite, test);
        const auto [it, added] = owner.try_emplace(name, &folder);
        if (!added)
          throw MergeRefused(fmt::format(
              "the test {} ({} on {}) is in both {} and {}: each (check, implementation) "
              "pair must come from one folder",
              name, test.value("check_id", name), test.value("implementation", "the demos"),
              it->second->dir.string(), folder.dir.string()));
      }
    }
    // Shards of one run share their plan: it counts once.
    const bool new_plan = std::none_of(plans.begin(), plans.end(),
                                       [&](const auto* plan) { return *plan == folder.plan; });
    if (new_plan) {
      plans.push_back(&folder.plan);
      not_applicable += int_property(folder.suite, "checks_not_applicable");
      for (const auto& name : folder.plan) {
        if (planned.insert(name).second)
          merged.plan.push_back(name);
      }
    }
    seconds += seconds_of(folder.suite);
    reports.push_back(folder.suite);
  }
  merged.suite = merge_reports(reports, merged.plan, {}, seconds);
  merged.suite["checks_not_applicable"] = std::to_string(not_applicable);
  return merged;
}

}  // namespace csd::report
