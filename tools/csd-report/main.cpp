// csd-report: reads csd-suite's gtest JSON results and prints the conformance
// summary (summary.hpp): one line per implementation with its passed,
// failed, warned and skipped checks and how long they took, then one line
// per failure and warning with a reason a person can act on. --junit FILE
// writes the same results as JUnit XML for CI systems (junit.hpp), --html
// FILE as one HTML page for people (html.hpp).
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "html.hpp"
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
  std::string html;
  app.add_option("--html", html, "Also write the results as an HTML page to this file");
  CLI11_PARSE(app, argc, argv);

  csd::report::Summary summary;
  for (const auto& file : files) {
    try {
      std::ifstream in(file);
      csd::report::add_results(nlohmann::json::parse(in), summary,
                               std::filesystem::path(file).parent_path());
    } catch (const std::exception& e) {
      std::cerr << "csd-report: " << file << ": not a gtest JSON report: " << e.what() << "\n";
      return 2;
    }
  }
  csd::report::print_summary(summary, std::cout);
  const auto write = [&](const std::string& file, auto writer) {
    if (file.empty())
      return true;
    std::ofstream out(file);
    writer(summary, out);
    if (!out.flush())
      std::cerr << "csd-report: cannot write " << file << "\n";
    return static_cast<bool>(out);
  };
  if (!write(junit, csd::report::write_junit) || !write(html, csd::report::write_html))
    return 2;
  const csd::report::Tally total = summary.total();
  return total.failed == 0 && total.passed + total.warned > 0 ? 0 : 1;
}
