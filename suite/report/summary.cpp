#include "summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "failure_reason.hpp"
#include "manifest.hpp"
#include "observed_model.hpp"
#include "timeouts.hpp"

namespace csd::report {

namespace {

using nlohmann::json;

// googletest writes durations as "1.234s".
double seconds_of(const json& node) {
  const std::string text = node.value("time", "0s");
  return std::strtod(text.c_str(), nullptr);
}

// The checks of implementations are registered under "Impl/FAMILY"; any
// other suite (Rst, Sendfile, ...) is a demo family, testing no manifest.
bool is_check_of_an_implementation(const json& suite) {
  return suite.value("name", "").starts_with("Impl/");
}

// The manifest's name: recorded by the suite as a property, else the value
// parameter, else what follows the last '/' of the test's name; kDemos for
// a demo family's test.
std::string implementation_of(const json& suite, const json& test) {
  if (test.contains("implementation"))
    return test["implementation"].get<std::string>();
  if (!is_check_of_an_implementation(suite))
    return std::string(kDemos);
  if (test.contains("value_param"))
    return test["value_param"].get<std::string>();
  const std::string name = test.value("name", "");
  return name.substr(std::min(name.rfind('/') + 1, name.size()));
}

// "Size.SmallRepliesExact" from the suite "Impl/Size" and the test
// "SmallRepliesAreExact/csd_fork"; a demo family's test keeps its whole
// name ("Sendfile.EveryByteAtItsOffset/splice_8MiB_SlowReader"), since
// what follows the '/' there is the variant, not an implementation.
std::string check_of(const json& suite, const json& test) {
  std::string family = suite.value("name", "?");
  if (const auto slash = family.find('/'); slash != std::string::npos)
    family.erase(0, slash + 1);
  std::string name = test.value("name", "?");
  if (is_check_of_an_implementation(suite))
    name.erase(std::min(name.find('/'), name.size()));
  return family + "." + name;
}

// The properties csd-suite records outside any test are attributes of the
// whole report; a number is written as a string.
int int_property(const json& node, const char* key) {
  if (!node.contains(key))
    return 0;
  const json& value = node[key];
  return value.is_number() ? value.get<int>() : std::atoi(value.get<std::string>().c_str());
}

void add_skip(Summary& summary, const std::string& check, const std::string& reason,
              const std::string& implementation) {
  const auto same = std::find_if(summary.skips.begin(), summary.skips.end(), [&](const Skip& s) {
    return s.check == check && s.reason == reason;
  });
  if (same != summary.skips.end()) {
    same->implementations.push_back(implementation);
  } else {
    summary.skips.push_back({check, reason, {implementation}});
  }
}

// "8 passed", "7 passed, 1 failed": the verdicts an implementation had on ::1.
std::string verdicts_in_words(const Tally& tally) {
  std::vector<std::string> words;
  for (const auto& [count, verdict] :
       {std::pair{tally.passed, "passed"}, std::pair{tally.failed, "failed"},
        std::pair{tally.warned, "warned"}, std::pair{tally.skipped, "skipped"},
        std::pair{tally.flaky, "flaky"}}) {
    if (count > 0)
      words.push_back(fmt::format("{} {}", count, verdict));
  }
  return words.empty() ? "none ran" : fmt::format("{}", fmt::join(words, ", "));
}

// How the run of `report` was made, as csd-suite recorded it; nullopt if it did not.
std::optional<harness::SuiteInvocation> invocation_of(const json& report) {
  if (!report.contains(harness::kRerunProperty) || !report[harness::kRerunProperty].is_string())
    return std::nullopt;
  try {
    return harness::invocation_from_json(
        json::parse(report[harness::kRerunProperty].get<std::string>()));
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// The line that reruns `outcome` alone, or "" where the run's invocation or
// the test's manifest is unknown.
std::string reproduce_line(const std::optional<harness::SuiteInvocation>& invocation,
                           const Outcome& outcome) {
  if (!invocation || (outcome.manifest.empty() && outcome.implementation != kDemos))
    return "";
  // A recommended check with --strict: its line exits 1 while it still fails.
  return harness::rerun_command(*invocation, outcome.manifest, outcome.test,
                                outcome.level == "recommended");
}

}  // namespace

Tally& Tally::operator+=(const Tally& other) {
  passed += other.passed;
  failed += other.failed;
  warned += other.warned;
  skipped += other.skipped;
  flaky += other.flaky;
  seconds += other.seconds;
  return *this;
}

Tally Summary::total() const {
  Tally total;
  for (const auto& [implementation, tally] : by_implementation) total += tally;
  return total;
}

bool is_ipv6_copy(std::string_view implementation) {
  return implementation.size() > harness::kIpv6VariantSuffix.size() &&
         implementation.ends_with(harness::kIpv6VariantSuffix);
}

std::string_view row_of(std::string_view implementation) {
  if (is_ipv6_copy(implementation))
    implementation.remove_suffix(harness::kIpv6VariantSuffix.size());
  return implementation;
}

std::vector<ImplementationRow> Summary::rows() const {
  std::map<std::string, ImplementationRow> by_row;
  for (const auto& [implementation, tally] : by_implementation) {
    const std::string name(row_of(implementation));
    ImplementationRow& row = by_row[name];
    row.name = name;
    row.all += tally;
    if (is_ipv6_copy(implementation))
      row.on_ipv6 = tally;
  }
  std::vector<ImplementationRow> rows;
  rows.reserve(by_row.size());
  for (auto& [name, row] : by_row) rows.push_back(std::move(row));
  return rows;
}

std::string_view to_string(Outcome::Verdict verdict) {
  switch (verdict) {
    case Outcome::Verdict::pass:
      return "pass";
    case Outcome::Verdict::fail:
      return "fail";
    case Outcome::Verdict::warn:
      return "warn";
    case Outcome::Verdict::skip:
      return "skip";
    case Outcome::Verdict::flaky:
      return "flaky";
  }
  return "?";
}

void add_results(const json& report, Summary& summary, const std::filesystem::path& results_dir) {
  const std::optional<harness::SuiteInvocation> invocation = invocation_of(report);
  if (!summary.invocation)
    summary.invocation = invocation;
  summary.not_applicable += int_property(report, "checks_not_applicable");
  summary.wall_seconds += seconds_of(report);
  if (summary.environment.empty()) {
    for (const auto& [key, value] : report.items()) {
      if (key.starts_with("env_") && value.is_string())
        summary.environment.emplace_back(key.substr(4), value.get<std::string>());
    }
  }
  for (const auto& suite : report.at("testsuites")) {
    for (const auto& test : suite.at("testsuite")) {
      if (test.value("status", "RUN") != "RUN")
        continue;
      const std::string implementation = implementation_of(suite, test);
      const std::string check = check_of(suite, test);
      Tally& tally = summary.by_implementation[implementation];
      tally.seconds += seconds_of(test);
      Outcome outcome;
      outcome.implementation = implementation;
      outcome.check = check;
      outcome.check_id = test.value("check_id", "");
      outcome.level = test.value("level", "");
      outcome.statement = test.value("statement", "");
      outcome.test = suite.value("name", "?") + "." + test.value("name", "?");
      outcome.manifest = test.value(harness::kManifestProperty, "");
      if (outcome.manifest.empty() && invocation && implementation != kDemos) {
        if (const auto known = invocation->manifests.find(implementation);
            known != invocation->manifests.end())
          outcome.manifest = known->second;
      }
      outcome.by_hand = test.value("by_hand", "");
      outcome.seconds = seconds_of(test);
      // Evidence files are named relative to the results they came with.
      const auto evidence = [&](const char* property) {
        const std::string file = test.value(property, "");
        return file.empty() ? file : (results_dir / file).string();
      };
      outcome.capture = evidence("capture");
      outcome.wire = evidence("wire");
      outcome.server_output = evidence("server_output");
      outcome.process_tree = evidence("process_tree");
      outcome.slow = test.value("slow", "");
      for (const char* figure : kFigures) {
        if (test.contains(figure) && test[figure].is_string())
          outcome.figures[figure] = test[figure].get<std::string>();
      }
      outcome.unfinished = test.contains(kUnfinishedKey);
      outcome.runs = std::max(1, int_property(test, kRepeatsKey));
      outcome.failed_runs = int_property(test, kFailedRepeatsKey);
      if (outcome.failed_runs > 0 && outcome.failed_runs < outcome.runs &&
          test.contains("failures") && !test["failures"].empty()) {
        // Failed in some runs only: neither a pass nor a failure to fix as such.
        ++tally.flaky;
        const auto& failures = test["failures"];
        outcome.verdict = Outcome::Verdict::flaky;
        outcome.reason = fmt::format("flaky: {} of {} failed; the first failure: {}",
                                     outcome.failed_runs, outcome.runs, reason_of(failures));
        for (const auto& failure : failures) outcome.details += failure.value("failure", "") + "\n";
        outcome.reproduce = reproduce_line(invocation, outcome);
        Failure flaky{implementation,
                      check,
                      outcome.reason,
                      static_cast<int>(failures.size()) - 1,
                      outcome.capture,
                      outcome.check_id,
                      false,
                      outcome.server_output,
                      outcome.process_tree,
                      /*flaky=*/true,
                      outcome.reproduce,
                      outcome.by_hand};
        summary.failures.push_back(std::move(flaky));
      } else if (test.contains("failures") && !test["failures"].empty()) {
        const bool warning = outcome.level == "recommended";
        ++(warning ? tally.warned : tally.failed);
        const auto& failures = test["failures"];
        outcome.verdict = warning ? Outcome::Verdict::warn : Outcome::Verdict::fail;
        outcome.reason = reason_of(failures);
        for (const auto& failure : failures) outcome.details += failure.value("failure", "") + "\n";
        outcome.reproduce = reproduce_line(invocation, outcome);
        summary.failures.push_back(
            {implementation, check, outcome.reason, static_cast<int>(failures.size()) - 1,
             outcome.capture, outcome.check_id, warning, outcome.server_output,
             outcome.process_tree, false, outcome.reproduce, outcome.by_hand});
      } else if (test.value("result", "") == "SKIPPED") {
        ++tally.skipped;
        outcome.verdict = Outcome::Verdict::skip;
        outcome.reason = test.value("skipped_because", "no reason recorded");
        add_skip(summary, check, outcome.reason, implementation);
      } else {
        ++tally.passed;
      }
      summary.tests.push_back(std::move(outcome));
    }
  }
}

void print_summary(const Summary& summary, std::ostream& out) {
  // One row per implementation, its copy on ::1 (NAME@ipv6) folded in: the
  // columns count both runs, and the last one how many of them were on ::1,
  // so a failure there shows in the row of the server that has to fix it.
  const std::vector<ImplementationRow> rows = summary.rows();
  const Tally total = summary.total();
  std::optional<Tally> total_on_ipv6;
  for (const auto& row : rows) {
    if (!row.on_ipv6)
      continue;
    if (!total_on_ipv6)
      total_on_ipv6.emplace();
    *total_on_ipv6 += *row.on_ipv6;
  }
  const bool with_demos = summary.by_implementation.contains(std::string(kDemos));
  const std::size_t servers = rows.size() - (with_demos ? 1 : 0);
  std::string total_label = fmt::format("all {} implementations", servers);
  if (with_demos)
    total_label = servers == 0 ? "all the demos" : total_label + " and the demos";
  std::size_t width = total_label.size();
  for (const auto& row : rows) width = std::max(width, row.name.size());
  // --repeat: a column of its own for the flaky tests, only when there are some.
  const bool with_flaky = total.flaky > 0;
  const auto print_row = [&](std::string_view label, const Tally& t, double seconds,
                             const std::optional<Tally>& on_ipv6) {
    out << fmt::format("{:<{}}  {:>6}  {:>6}  {:>6}  {:>7}", label, width, t.passed, t.failed,
                       t.warned, t.skipped);
    if (with_flaky)
      out << fmt::format("  {:>5}", t.flaky);
    out << fmt::format("  {:>6.1f}s", seconds);
    if (on_ipv6)
      out << "  " << verdicts_in_words(*on_ipv6);
    out << "\n";
  };
  out << fmt::format("{:<{}}  {:>6}  {:>6}  {:>6}  {:>7}{}  {:>7}{}\n", "implementation", width,
                     "passed", "failed", "warned", "skipped", with_flaky ? "  flaky" : "", "time",
                     total_on_ipv6 ? "  of which on ::1" : "");
  // Under a row, the design the server showed where it is news: the manifest
  // said auto, or declared another.
  const auto observed = observed_models(summary);
  for (const auto& row : rows) {
    print_row(row.name, row.all, row.all.seconds, row.on_ipv6);
    if (const auto found = observed.find(row.name); found != observed.end()) {
      if (const std::string note = observed_model_note(found->second); !note.empty())
        out << "  " << note << "\n";
    }
  }
  // The run's own clock, where the results say it: the tests' times leave
  // out starting and stopping the suite.
  print_row(total_label, total, summary.wall_seconds > 0 ? summary.wall_seconds : total.seconds,
            total_on_ipv6);
  if (summary.not_applicable > 0) {
    out << fmt::format(
        "{} (check, implementation) pairs did not apply to the designs and were not run "
        "(csd-suite --list-checks)\n",
        summary.not_applicable);
  }
  // By implementation, each in the order its checks ran, its failures on ::1
  // (named NAME@ipv6) right after the others: what one server has to fix
  // reads together.
  std::vector<Failure> failures = summary.failures;
  const auto fix_order = [](const Failure& f) {
    return std::pair{row_of(f.implementation), is_ipv6_copy(f.implementation)};
  };
  std::stable_sort(failures.begin(), failures.end(),
                   [&](const Failure& a, const Failure& b) { return fix_order(a) < fix_order(b); });
  for (const auto& f : failures) {
    const char* label = f.flaky ? "FLAKY  " : f.warning ? "WARNING" : "FAILED ";
    out << fmt::format("{} {} {}{}: {}{}\n", label, f.implementation,
                       f.check_id.empty() ? "" : f.check_id + " ", f.check, f.reason,
                       f.more > 0 ? fmt::format(" (and {} more)", f.more) : "");
    if (!f.reproduce.empty())
      out << fmt::format("        rerun: {}\n", f.reproduce);
    if (!f.by_hand.empty())
      out << fmt::format("        by hand, on a server you started on PORT: {}\n", f.by_hand);
    if (!f.capture.empty())
      out << fmt::format("        capture: {} (tcpdump -nr it)\n", f.capture);
    if (!f.server_output.empty())
      out << fmt::format("        server output: {}\n", f.server_output);
    if (!f.process_tree.empty())
      out << fmt::format("        processes: {}\n", f.process_tree);
  }
  // A passing server that was slow: judged by fewer exchanges than planned.
  for (const auto& test : summary.tests) {
    if (!test.slow.empty() && test.verdict == Outcome::Verdict::pass)
      out << fmt::format("SLOW    {} {} {}: {}\n", test.implementation, test.check_id, test.check,
                         test.slow);
  }
  for (const auto& s : summary.skips) {
    out << fmt::format("SKIPPED {} on {}: {}\n", s.check, fmt::join(s.implementations, ", "),
                       s.reason);
  }
  // Last, as a footnote: what the figures above were measured on.
  std::vector<std::string> sysctls;
  std::vector<std::string> features;
  for (const auto& [name, value] : summary.environment) {
    if (name == "csd" || name == "kernel" || name == "network")
      out << fmt::format("{}: {}\n", name, value);
    else if (name.starts_with("feature_"))
      features.push_back(fmt::format("{}={}", name.substr(8), value));
    else
      sysctls.push_back(value.find(' ') == std::string::npos
                            ? fmt::format("{}={}", name, value)
                            : fmt::format("{}=\"{}\"", name, value));
  }
  if (!sysctls.empty())
    out << fmt::format("sysctls: {}\n", fmt::join(sysctls, " "));
  if (!features.empty())
    out << fmt::format("kernel features: {}\n", fmt::join(features, " "));
}

}  // namespace csd::report
