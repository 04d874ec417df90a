// csd-report: reads csd-suite's gtest JSON results and prints the conformance
// summary (summary.hpp): one line per implementation with its passed,
// failed, warned and skipped checks and how long they took, then one line
// per failure and warning with a reason a person can act on. --junit FILE
// writes the same results as JUnit XML for CI systems (junit.hpp).
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "junit.hpp"
#include "summary.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "csd-report: summarize csd-suite results (gtest JSON): one line per implementation, one "
      "per failure"};
  std::vector<std::string> files;
  app.add_option("results", files, "gtest JSON files written by csd-suite --gtest_output=json:FILE")
      ->required()
      ->check(CLI::ExistingFile);
  std::string junit;
  app.add_option("--junit", junit, "Also write the results as JUnit XML to this file");
  CLI11_PARSE(app, argc, argv);

  csd::report::Summary summary;
  for (const auto& file : files) {
    try {
      std::ifstream in(file);
      csd::report::add_results(nlohmann::json::parse(in), summary);
    } catch (const std::exception& e) {
      std::cerr << "csd-report: " << file << ": not a gtest JSON report: " << e.what() << "\n";
      return 2;
    }
  }
  csd::report::print_summary(summary, std::cout);
  if (!junit.empty()) {
    std::ofstream out(junit);
    csd::report::write_junit(summary, out);
    if (!out.flush()) {
      std::cerr << "csd-report: cannot write " << junit << "\n";
      return 2;
    }
  }
  const csd::report::Tally total = summary.total();
  return total.failed == 0 && total.passed + total.warned > 0 ? 0 : 1;
}
