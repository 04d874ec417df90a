#include "report_json.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <utility>

#include "observed_model.hpp"

namespace csd::report {

namespace {

// Ordered: the keys in the order a person reads them, as the header shows.
using json = nlohmann::ordered_json;

json tally_json(const Tally& tally) {
  return {{"passed", tally.passed},   {"failed", tally.failed}, {"warned", tally.warned},
          {"skipped", tally.skipped}, {"flaky", tally.flaky},   {"seconds", tally.seconds}};
}

json outcome_json(const Outcome& test) {
  json evidence = json::object();
  for (const auto& [kind, file] :
       {std::pair{"capture", &test.capture}, std::pair{"wire", &test.wire},
        std::pair{"server_output", &test.server_output},
        std::pair{"process_tree", &test.process_tree}}) {
    // By name: report.json sits next to the evidence files.
    if (!file->empty())
      evidence[kind] = std::filesystem::path(*file).filename().string();
  }
  json result = {
      {"implementation", test.implementation}, {"id", test.check_id}, {"check", test.check}};
  if (!test.level.empty())
    result["level"] = test.level;
  result["verdict"] = to_string(test.verdict);
  if (!test.reason.empty())
    result["reason"] = test.reason;
  if (!test.reproduce.empty())
    result["reproduce"] = test.reproduce;
  const bool failed = test.verdict == Outcome::Verdict::fail ||
                      test.verdict == Outcome::Verdict::warn ||
                      test.verdict == Outcome::Verdict::flaky;
  if (!test.by_hand.empty() && failed)
    result["by_hand"] = test.by_hand;
  result["test"] = test.test;
  if (!test.manifest.empty())
    result["manifest"] = test.manifest;
  if (test.runs > 1)
    result["repeats"] = {{"runs", test.runs}, {"failed", test.failed_runs}};
  if (test.unfinished)
    result["unfinished"] = true;
  result["seconds"] = test.seconds;
  result["evidence"] = evidence;
  result["figures"] = test.figures;
  return result;
}

}  // namespace

void write_report_json(const Summary& summary, std::ostream& out) {
  json environment = json::object();
  for (const auto& [name, value] : summary.environment) environment[name] = value;
  json implementations = json::array();
  const auto observed = observed_models(summary);
  for (const auto& [name, tally] : summary.by_implementation) {
    json row = tally_json(tally);
    row["name"] = name;
    // NAME@ipv6 is NAME's server: the same observation.
    if (const auto found = observed.find(row_of(name)); found != observed.end())
      row["observed_model"] = to_json(found->second);
    implementations.push_back(std::move(row));
  }
  json results = json::array();
  for (const auto& test : summary.tests) results.push_back(outcome_json(test));
  Tally total = summary.total();
  if (summary.wall_seconds > 0)
    total.seconds = summary.wall_seconds;
  json report = {{"format", "csd-report/1"},
                 {"environment", environment},
                 {"totals", tally_json(total)},
                 {"not_applicable", summary.not_applicable}};
  if (summary.invocation) {
    json environment_set = json::object();
    for (const auto& [name, value] : summary.invocation->environment) environment_set[name] = value;
    report["rerun"] = {{"program", summary.invocation->program},
                       {"flags", summary.invocation->flags},
                       {"environment", environment_set}};
  }
  report["implementations"] = implementations;
  report["results"] = results;
  out << report.dump(2) << "\n";
}

}  // namespace csd::report
