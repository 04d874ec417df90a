// csd-report: reads csd-suite's gtest JSON results and prints the conformance
// summary: one line per implementation and check family with pass, fail and
// skip counts, then each failure with its first message line.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
  std::string skip_reason;  // the first one recorded
};

struct Failure {
  std::string implementation, test, message;
};

struct Summary {
  std::map<std::string, std::map<std::string, Tally>> by_impl_family;  // sorted: stable output
  std::vector<Failure> failures;
  [[nodiscard]] Tally total() const {
    Tally t;
    for (const auto& [impl, families] : by_impl_family) {
      for (const auto& [family, tally] : families) {
        t.passed += tally.passed;
        t.failed += tally.failed;
        t.skipped += tally.skipped;
      }
    }
    return t;
  }
};

// "Impl/Reply.Small/csd_prefork": the implementation is the parameter after
// the last '/', unless the test recorded its manifest name as a property.
std::string implementation_of(const nlohmann::json& test) {
  if (test.contains("implementation"))
    return test["implementation"].get<std::string>();
  const auto name = test.value("value_param", test.value("name", ""));
  const auto slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

void add_results(const nlohmann::json& report, Summary& summary) {
  for (const auto& suite : report.at("testsuites")) {
    std::string family = suite.value("name", "?");
    if (const auto slash = family.find('/'); slash != std::string::npos)
      family = family.substr(slash + 1);
    for (const auto& test : suite.at("testsuite")) {
      if (test.value("status", "RUN") != "RUN")
        continue;
      const std::string impl = implementation_of(test);
      Tally& tally = summary.by_impl_family[impl][family];
      if (test.contains("failures")) {
        ++tally.failed;
        std::string message;
        for (const auto& f : test["failures"]) message += f.value("failure", "") + "\n";
        summary.failures.push_back({impl, family + "." + test.value("name", ""), message});
      } else if (test.value("result", "") == "SKIPPED") {
        ++tally.skipped;
        if (tally.skip_reason.empty())
          tally.skip_reason = test.value("skipped_because", "");
      } else {
        ++tally.passed;
      }
    }
  }
}

// The assertion text gtest stores starts with "file:line"; the reason is after it.
std::string reason(const std::string& message) {
  std::string text = message;
  if (const auto nl = text.find('\n');
      nl != std::string::npos && text.substr(0, nl).find(".cpp:") != std::string::npos) {
    text = text.substr(nl + 1);
  }
  return first_line(text);
}

void print_summary(const Summary& summary, std::ostream& out) {
  std::size_t width = 14;
  for (const auto& [impl, _] : summary.by_impl_family) width = std::max(width, impl.size());
  out << fmt::format("{:<{}}  {:<13} {:>5} {:>5} {:>5}\n", "implementation", width, "family",
                     "pass", "fail", "skip");
  for (const auto& [impl, families] : summary.by_impl_family) {
    for (const auto& [family, t] : families) {
      // A family that does not apply at all says why, instead of a row of skips.
      const bool none_applied = t.passed == 0 && t.failed == 0 && !t.skip_reason.empty();
      out << fmt::format("{:<{}}  {:<13} {:>5} {:>5} {:>5}{}\n", impl, width, family, t.passed,
                         t.failed, t.skipped,
                         t.failed > 0   ? "  FAIL"
                         : none_applied ? "  (" + t.skip_reason + ")"
                                        : "");
    }
  }
  const Tally t = summary.total();
  out << fmt::format("\n{} passed, {} failed, {} skipped across {} implementation(s)\n", t.passed,
                     t.failed, t.skipped, summary.by_impl_family.size());
  if (!summary.failures.empty()) {
    out << "\nFailures:\n";
    for (const auto& f : summary.failures) {
      out << fmt::format("  {} {}: {}\n", f.implementation, f.test, reason(f.message));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "csd-report: summarize csd-suite results (gtest JSON) per implementation and check family"};
  std::vector<std::string> files;
  app.add_option("results", files, "gtest JSON files written by csd-suite --gtest_output=json:FILE")
      ->required()
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);

  Summary summary;
  for (const auto& file : files) {
    try {
      std::ifstream in(file);
      add_results(nlohmann::json::parse(in), summary);
    } catch (const std::exception& e) {
      std::cerr << "csd-report: " << file << ": not a gtest JSON report: " << e.what() << "\n";
      return 2;
    }
  }
  print_summary(summary, std::cout);
  const Tally t = summary.total();
  return t.failed == 0 && t.passed > 0 ? 0 : 1;
}
