// csd-report: validates servers and writes the results for people and for
// CI systems. It runs csd-suite over the manifests given (none: the
// reference implementations) and writes into one folder (-o, default
// results/): report.json (the verdicts, report_json.hpp), junit.xml (for CI
// systems' test summaries, junit.hpp), report.html (a verdict matrix with
// each failure's evidence, html.hpp), suite.json and suite.log (csd-suite's
// gtest JSON and output) and each failed check's evidence; then prints the
// summary (summary.hpp): one line per implementation, one per failure and
// warning with its check ID and reason. --from summarizes an earlier run's
// gtest JSON instead of running the suite.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "html.hpp"
#include "junit.hpp"
#include "report_json.hpp"
#include "run.hpp"
#include "suite_run.hpp"
#include "summary.hpp"

namespace {

namespace fs = std::filesystem;
using csd::report::Summary;

constexpr int kFailed = 1;      // a required check failed (or any, with --strict)
constexpr int kUsage = 2;       // bad usage, or the suite refused to run (a bad manifest)
constexpr int kUnfinished = 3;  // the suite did not finish (killed, crashed)

struct Options {
  std::vector<std::string> manifests;
  std::vector<std::string> from;
  std::string out;
  std::string suite;
  bool strict = false;
  std::vector<std::string> checks;
  std::vector<std::string> skip_checks;
  std::optional<double> timeout_multiplier;
  std::string filter;
};

std::optional<Summary> read_results(const std::vector<std::string>& files) {
  Summary summary;
  for (const auto& file : files) {
    try {
      std::ifstream in(file);
      csd::report::add_results(nlohmann::json::parse(in), summary, fs::path(file).parent_path());
    } catch (const std::exception& e) {
      std::cerr << "csd-report: " << file << ": not a gtest JSON report: " << e.what() << "\n";
      return std::nullopt;
    }
  }
  return summary;
}

// Writes report.json, junit.xml and report.html into `dir`; false if one
// cannot be written.
bool write_reports(const Summary& summary, const fs::path& dir) {
  const auto write = [&](const char* name, auto writer) {
    const fs::path file = dir / name;
    std::ofstream out(file);
    writer(summary, out);
    if (!out.flush())
      std::cerr << "csd-report: cannot write " << file.string() << "\n";
    return static_cast<bool>(out);
  };
  return write("report.json", csd::report::write_report_json) &
         write("junit.xml", csd::report::write_junit) &
         write("report.html", csd::report::write_html);
}

int verdict_of(const Summary& summary) {
  const csd::report::Tally total = summary.total();
  return total.failed == 0 && total.passed + total.warned > 0 ? 0 : kFailed;
}

// csd-report --from: the summary of runs already made; with -o, the reports too.
int summarize(const Options& options) {
  const auto summary = read_results(options.from);
  if (!summary)
    return kUsage;
  csd::report::print_summary(*summary, std::cout);
  if (!options.out.empty()) {
    fs::create_directories(options.out);
    if (!write_reports(*summary, options.out))
      return kUsage;
  }
  return verdict_of(*summary);
}

fs::path suite_program(const Options& options) {
  if (!options.suite.empty())
    return options.suite;
  // Installed or built, csd-suite is next to us.
  return fs::read_symlink("/proc/self/exe").parent_path() / "csd-suite";
}

std::vector<std::string> suite_arguments(const Options& options, const fs::path& suite,
                                         const fs::path& staging) {
  std::vector<std::string> argv{suite.string()};
  for (const auto& manifest : options.manifests)
    argv.insert(argv.end(), {"--impl", fs::absolute(manifest).string()});
  if (options.strict)
    argv.emplace_back("--strict");
  for (const auto& pattern : options.checks) argv.insert(argv.end(), {"--checks", pattern});
  for (const auto& pattern : options.skip_checks)
    argv.insert(argv.end(), {"--skip-checks", pattern});
  if (options.timeout_multiplier)
    argv.push_back("--timeout-multiplier=" + std::to_string(*options.timeout_multiplier));
  if (!options.filter.empty())
    argv.push_back("--gtest_filter=" + options.filter);
  argv.insert(argv.end(),
              {"--gtest_brief=1", "--gtest_output=json:" + (staging / "suite.json").string()});
  return argv;
}

// csd-report [MANIFEST...]: run the suite, then report.
int run(const Options& options) {
  const fs::path suite = suite_program(options);
  if (::access(suite.c_str(), X_OK) != 0) {
    std::cerr << "csd-report: cannot run " << suite.string()
              << " (use --suite to say where csd-suite is)\n";
    return kUsage;
  }
  csd::report::ResultsFolder folder(options.out.empty() ? "results" : options.out);
  const fs::path log = folder.staging() / "suite.log";
  const int status =
      csd::report::run_to_exit(suite_arguments(options, suite, folder.staging()), log);
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_code < 0 || exit_code > kFailed || !fs::exists(folder.staging() / "suite.json")) {
    std::cerr << "csd-report: csd-suite "
              << (exit_code == kUsage
                      ? "refused to run (exit 2)"
                      : "did not finish (" + csd::harness::describe_wait_status(status) + ")")
              << "; the results in " << folder.dir().string() << " are the last run's.\n";
    if (const std::string last_words = csd::report::tail_of(log, 20); !last_words.empty())
      std::cerr << "The end of its output:\n" << last_words;
    return exit_code == kUsage ? kUsage : kUnfinished;
  }
  folder.replace_last_run();
  const fs::path results = folder.dir() / "suite.json";
  const auto summary = read_results({results.string()});
  if (!summary)
    return kUnfinished;
  csd::report::print_summary(*summary, std::cout);
  const bool written = write_reports(*summary, folder.dir());
  const std::string dir = folder.dir().string();
  std::cout << "Full results in " << dir << "/: report.html (for people), junit.xml (for CI), "
            << "report.json (the verdicts), suite.log (the suite's output)\n";
  if (!written)
    return kUsage;
  return exit_code == kFailed ? kFailed : verdict_of(*summary);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{R"(NAME
  csd-report - validate servers with csd-suite; write the results for people and CI

SYNOPSIS
  csd-report [-o DIR] [--strict] [--checks ID]... [--skip-checks ID]... [MANIFEST|DIR]...
  csd-report --from SUITE.json... [-o DIR]

DESCRIPTION
  Runs csd-suite over each MANIFEST (a folder: every *.json in it; none: the reference
  implementations) and writes the results into one folder, then prints the summary: one
  line per implementation, one per failure and warning with its check ID and the reason.
  A run that is refused or killed leaves the folder as the last finished run left it.
  --from summarizes the gtest JSON of an earlier run instead of running the suite.
)"};
  app.option_defaults()->group("OPTIONS");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(R"(EXIT STATUS
  0  every required check passed (recommended ones may have failed: warnings)
  1  a required check failed (with --strict: any check); also a run where no check ran
  2  bad usage, a refused run (a bad manifest: csd-suite exits 2), an unreadable --from
     file, or a report that could not be written
  3  csd-suite did not finish (killed, crashed) or its results could not be read

ENVIRONMENT
  CSD_TIMEOUT_MULTIPLIER  scale every deadline, as --timeout-multiplier (the flag wins)
  CSD_IMPL                manifests for a run without MANIFEST (A.json:B.json, csd-suite's)
  CSD_GUARD               the csd-guard csd-suite starts servers under (default: next to it)

FILES
  DIR/report.html   a verdict matrix, each failure's evidence, the figures as charts
  DIR/junit.xml     for CI systems' test summaries
  DIR/report.json   the verdicts;  DIR/suite.json, DIR/suite.log: csd-suite's JSON, output
  DIR/*.pcap, *.txt the evidence each failed check kept (packets, server output, processes)

EXAMPLES
  csd-report -o results my-server.json           validate one server
  csd-report my-server.json --checks 'size/*'    only the size protocol's checks
                                                 (--checks takes every word up to an option)
  csd-report --from results/suite.json           the summary of the last run again

SEE ALSO
  csd-suite(1), csd-client(1), ci/conformance.sh, action.yml, docs/MANIFEST.md,
  docs/CHECKS.md)");
  Options options;
  app.add_option("manifests", options.manifests, "Manifests (JSON) or folders of them to validate")
      ->check(CLI::ExistingPath);
  app.add_option("-o,--out", options.out, "The output folder (default: results)");
  app.add_option("--from", options.from,
                 "Do not run the suite: summarize the gtest JSON of an earlier run "
                 "(csd-suite --gtest_output=json:FILE); with -o, also write the reports there")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false)
      ->excludes("manifests");
  app.add_flag("--strict", options.strict, "A failed recommended check fails the run too");
  // One pattern per --checks (repeat it for more), so that a manifest after
  // it is not taken for a pattern.
  app.add_option("--checks", options.checks,
                 "Only the checks whose ID matches (fnmatch: 'size/*'); repeatable")
      ->allow_extra_args(false);
  app.add_option("--skip-checks", options.skip_checks,
                 "Leave out the checks whose ID matches; repeatable")
      ->allow_extra_args(false);
  app.add_option("--timeout-multiplier", options.timeout_multiplier,
                 "Scale every deadline (slow machines, sanitizer builds)")
      ->check(CLI::PositiveNumber);
  app.add_option("--filter", options.filter, "A googletest filter (--gtest_filter) for the run");
  app.add_option("--suite", options.suite,
                 "The csd-suite to run (default: the one next to "
                 "csd-report)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;  // prints the help, or the error with a hint
  }
  try {
    return options.from.empty() ? run(options) : summarize(options);
  } catch (const std::exception& e) {
    std::cerr << "csd-report: " << e.what() << "\n";
    return kUsage;
  }
}
