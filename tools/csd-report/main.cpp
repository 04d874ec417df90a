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
//
// --jobs N (default: one per CPU) runs the tests in N csd-suite processes at
// once (parallel_run.hpp) and merges their results into the same files a
// serial run writes (merge.hpp); --jobs 1 is the serial run, one csd-suite.
// --shard I/N runs a stable part of the run; --merge DIR... makes one
// folder of several; --repeat K runs every test K times and marks the ones
// whose verdict changed as flaky. --rerun-failed DIR runs again the tests
// that failed, warned or were flaky in DIR, as DIR's run ran them
// (rerun_failed.hpp). --identify runs no check: it names each server's
// design from what it does (identify.hpp). Its options: command_line.cpp.
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "grade_outputs.hpp"
#include "html.hpp"
#include "junit.hpp"
#include "manifest_template.hpp"
#include "merge.hpp"
#include "options.hpp"
#include "parallel_run.hpp"
#include "plan.hpp"
#include "report_json.hpp"
#include "rerun_failed.hpp"
#include "run.hpp"
#include "suite_run.hpp"
#include "summary.hpp"

namespace {

namespace fs = std::filesystem;
using csd::report::Summary;

using csd::tools::kFailed;
using csd::tools::kUnfinished;
using csd::tools::kUsage;
using csd::tools::Options;
using csd::tools::out_dir;

std::string contents(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

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

// 1 for a failed required check (with --strict: any check), a flaky one
// (unless --allow-flaky), or a run where no check ran; else 0.
int verdict_of(const Summary& summary, const Options& options) {
  const csd::report::Tally total = summary.total();
  const bool failed = total.failed > 0 || (options.strict && total.warned > 0) ||
                      (!options.allow_flaky && total.flaky > 0);
  return !failed && total.passed + total.warned + total.flaky > 0 ? 0 : kFailed;
}

// --baseline: the comparison, after the summary; 1 for a new failure (or a
// run where nothing ran), else 0.
int verdict_against_baseline(const Summary& summary, const Options& options) {
  const csd::report::FailurePolicy policy{options.strict, options.allow_flaky};
  const auto comparison = csd::report::compare_with_baseline(summary, *options.baseline, policy);
  csd::report::print_comparison(comparison, *options.baseline, std::cout);
  return comparison.new_failures.empty() && !summary.tests.empty() ? 0 : kFailed;
}

// --grade: the submissions' points, printed and in DIR/grades/. A graded run
// exits 0: a failed check is a grade, not an error of the run.
int graded(const Summary& summary, const fs::path& dir, const Options& options) {
  const auto submissions = csd::report::grade(summary, *options.rubric);
  csd::report::print_grades(submissions, std::cout);
  if (dir.empty())
    return 0;
  std::cout << "Grades in " << (dir / "grades").string()
            << "/: NAME/results.json (Gradescope's format), class.csv, class.html\n";
  return csd::report::write_grades(submissions, *options.rubric, dir / "grades") ? 0 : kUsage;
}

// What every run ends with: the summary, the reports, the exit status.
int report(Summary& summary, const fs::path& dir, const Options& options, bool unfinished) {
  summary.flaky_allowed = options.allow_flaky;
  csd::report::print_summary(summary, std::cout);
  const bool written = write_reports(summary, dir);
  std::cout << "Full results in " << dir.string() << "/: report.html (for people), junit.xml "
            << "(for CI), report.json (the verdicts), suite.log (the suite's output)\n";
  const int verdict = options.rubric     ? graded(summary, dir, options)
                      : options.baseline ? verdict_against_baseline(summary, options)
                                         : verdict_of(summary, options);
  if (!written)
    return kUsage;
  if (unfinished) {
    std::cerr << "csd-report: a csd-suite did not finish: the tests it left without a result "
                 "are reported failed, with its last words (suite.log has all it printed)\n";
    return kUnfinished;
  }
  return verdict;
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
  return options.rubric     ? graded(*summary, options.out, options)
         : options.baseline ? verdict_against_baseline(*summary, options)
                            : verdict_of(*summary, options);
}

std::string fmt_seconds(double seconds) {
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(3);
  text << seconds << "s";
  return text.str();
}

fs::path suite_program(const Options& options) {
  if (!options.suite.empty())
    return options.suite;
  // Installed or built, csd-suite is next to us.
  return fs::read_symlink("/proc/self/exe").parent_path() / "csd-suite";
}

// csd-suite and the run's flags: what every csd-suite of a run is given.
std::vector<std::string> suite_flags(const Options& options, const fs::path& suite) {
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
  for (const auto& condition : options.network) argv.insert(argv.end(), {"--network", condition});
  for (auto& flag : options.limits.suite_flags()) argv.push_back(std::move(flag));
  argv.insert(argv.end(), options.more_suite_flags.begin(), options.more_suite_flags.end());
  argv.insert(argv.end(), options.assumed_models.begin(), options.assumed_models.end());
  return argv;
}

std::vector<std::string> suite_arguments(const Options& options, const fs::path& suite,
                                         const fs::path& staging) {
  std::vector<std::string> argv = suite_flags(options, suite);
  if (!options.filter.empty())
    argv.push_back("--gtest_filter=" + options.filter);
  argv.insert(argv.end(),
              {"--gtest_brief=1", "--gtest_output=json:" + (staging / "suite.json").string()});
  return argv;
}

// A csd-suite that refused to run or did not finish, before any result: the
// results folder stays as it was.
int suite_went_wrong(int status, const fs::path& dir, const fs::path& log) {
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::cerr << "csd-report: csd-suite "
            << (exit_code == kUsage
                    ? "refused to run (exit 2)"
                    : "did not finish (" + csd::harness::describe_wait_status(status) + ")")
            << "; the results in " << dir.string() << " are the last run's.\n";
  if (const std::string last_words = csd::report::tail_of(log, 20); !last_words.empty())
    std::cerr << "The end of its output:\n" << last_words;
  return exit_code == kUsage ? kUsage : kUnfinished;
}

bool exited_zero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// csd-report [MANIFEST...]: run the suite, then report.
int run(const Options& options) {
  const fs::path suite = suite_program(options);
  if (::access(suite.c_str(), X_OK) != 0) {
    std::cerr << "csd-report: cannot run " << suite.string()
              << " (use --suite to say where csd-suite is)\n";
    return kUsage;
  }
  csd::report::ResultsFolder folder(out_dir(options));
  const fs::path log = folder.staging() / "suite.log";
  const int status =
      csd::report::run_to_exit(suite_arguments(options, suite, folder.staging()), log);
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_code < 0 || exit_code > kFailed || !fs::exists(folder.staging() / "suite.json"))
    return suite_went_wrong(status, folder.dir(), log);
  folder.replace_last_run();
  const fs::path results = folder.dir() / "suite.json";
  auto summary = read_results({results.string()});
  if (!summary)
    return kUnfinished;
  const int verdict = report(*summary, folder.dir(), options, false);
  // csd-suite's own verdict stands, unless a baseline decides.
  return exit_code == kFailed && verdict == 0 && !options.baseline ? kFailed : verdict;
}

// The tests of the run as a serial run would run them (csd-suite
// --gtest_list_tests with the run's flags and filter), each with what the
// catalogue says of it; nullopt (and the exit status in `status`) if
// csd-suite refused or failed.
std::optional<std::vector<csd::report::PlannedTest>> plan_of(const Options& options,
                                                             const fs::path& suite,
                                                             const fs::path& staging, int& status) {
  std::vector<std::string> list = suite_flags(options, suite);
  if (!options.filter.empty())
    list.push_back("--gtest_filter=" + options.filter);
  list.emplace_back("--gtest_list_tests");
  const fs::path listing = staging / "tests.txt";
  status = csd::report::run_to_exit(list, listing);
  if (!exited_zero(status))
    return std::nullopt;
  std::vector<std::string> catalogue = suite_flags(options, suite);
  catalogue.emplace_back("--list-checks=json");
  const fs::path checks = staging / "checks.json";
  status = csd::report::run_to_exit(catalogue, checks);
  if (!exited_zero(status))
    return std::nullopt;
  auto tests = csd::report::parse_test_list(contents(listing));
  std::ifstream in(checks);
  csd::report::annotate(tests, nlohmann::json::parse(in));
  fs::remove(listing);
  fs::remove(checks);
  return tests;
}

std::vector<std::string> names_of(const std::vector<csd::report::PlannedTest>& tests) {
  std::vector<std::string> names;
  names.reserve(tests.size());
  for (const auto& test : tests) names.push_back(test.name);
  return names;
}

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

void write_json(const nlohmann::json& value, const fs::path& file) {
  std::ofstream out(file);
  out << value.dump(2) << "\n";
  if (!out.flush())
    throw std::runtime_error("cannot write " + file.string());
}

// suite.log of a run made of parts: each part's output, in the order they
// started, under a line that says which.
void join_logs(std::vector<fs::path> logs, const fs::path& into) {
  std::sort(logs.begin(), logs.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  std::ofstream out(into);
  for (const auto& log : logs) {
    out << "== " << log.parent_path().filename().string() << "/" << log.filename().string() << "\n"
        << contents(log);
  }
}

// csd-report --jobs N (N > 1), --shard, --repeat: the tests in csd-suite
// processes side by side, their results merged into one run's.
int run_side_by_side(const Options& options) {
  const fs::path suite = suite_program(options);
  if (::access(suite.c_str(), X_OK) != 0) {
    std::cerr << "csd-report: cannot run " << suite.string()
              << " (use --suite to say where csd-suite is)\n";
    return kUsage;
  }
  const auto started = std::chrono::steady_clock::now();
  csd::report::ResultsFolder folder(out_dir(options));
  const fs::path& staging = folder.staging();
  int status = 0;
  const auto plan = plan_of(options, suite, staging, status);
  if (!plan)
    return suite_went_wrong(status, folder.dir(), staging / "tests.txt");
  const std::vector<csd::report::PlannedTest> tests =
      options.shard ? csd::report::tests_of_shard(*plan, *options.shard) : *plan;
  const int rounds = tests.empty() ? 1 : options.repeat;
  std::vector<fs::path> round_dirs;
  for (int round = 1; round <= rounds; ++round) {
    round_dirs.push_back(rounds == 1 ? staging : staging / ("round-" + std::to_string(round)));
    fs::create_directories(round_dirs.back());
  }
  std::vector<csd::report::Batch> batches = csd::report::make_batches(tests, options.jobs, rounds);
  if (batches.empty())
    batches.push_back({1, false, {}});  // no test: still the run's properties, as a serial run
  const csd::report::ParallelRun run = csd::report::run_batches(
      suite_flags(options, suite), std::move(batches), options.jobs, round_dirs, tests);
  if (run.interrupted) {
    std::cerr << "csd-report: interrupted; the results in " << folder.dir().string()
              << " are the last run's.\n";
    return kUnfinished;
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<nlohmann::json> merged_rounds;
  std::vector<fs::path> logs;
  for (int round = 1; round <= rounds; ++round) {
    std::vector<nlohmann::json> parts;
    for (const auto& batch : run.finished) {
      if (batch.batch.round == round)
        parts.push_back(read_json(batch.json));
    }
    merged_rounds.push_back(csd::report::merge_reports(
        parts, names_of(tests), run.missing.at(static_cast<std::size_t>(round - 1)), wall));
  }
  for (const auto& dir : round_dirs) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("suite.batch-") && name.ends_with(".log"))
        logs.push_back(entry.path());
    }
  }
  nlohmann::json results = merged_rounds.front();
  if (rounds > 1) {
    std::map<std::string, std::size_t> chosen;
    results = csd::report::combine_repeats(merged_rounds, chosen);
    results["time"] = fmt_seconds(wall);
    // Each test's evidence is the run's whose entry it is.
    for (const auto& suite_entry : results["testsuites"]) {
      for (const auto& test : suite_entry["testsuite"]) {
        const fs::path& from = round_dirs.at(chosen[csd::report::full_name(suite_entry, test)]);
        for (const auto& file : csd::report::evidence_of(test)) {
          if (fs::exists(from / file))
            fs::rename(from / file, staging / file);
        }
      }
    }
  }
  join_logs(logs, staging / "suite.log");
  for (const auto& dir : round_dirs) {
    if (dir != staging)
      fs::remove_all(dir);
  }
  for (const auto& batch : run.finished) fs::remove(batch.json);
  for (const auto& log : logs) fs::remove(log);
  write_json(results, staging / "suite.json");
  nlohmann::json run_record = {{"format", "csd-run/1"}, {"repeat", rounds}};
  if (options.shard)
    run_record["shard"] =
        std::to_string(options.shard->index) + "/" + std::to_string(options.shard->count);
  nlohmann::json alone = nlohmann::json::array();
  for (const auto& test : tests) {
    if (!test.alone_because.empty())
      alone.push_back(test.name);
  }
  run_record["jobs"] = options.jobs;
  run_record["alone"] = alone;
  run_record["plan"] = names_of(*plan);
  write_json(run_record, staging / "run.json");
  folder.replace_last_run();
  auto summary = read_results({(folder.dir() / "suite.json").string()});
  if (!summary)
    return kUnfinished;
  return report(*summary, folder.dir(), options, csd::report::has_unfinished(results));
}

// csd-report --merge DIR... -o OUT: one results folder of several.
int merge(const Options& options) {
  std::vector<csd::report::ResultsFolderContents> folders;
  csd::report::MergedFolders merged;
  try {
    for (const auto& dir : options.merge) folders.push_back(csd::report::read_results_folder(dir));
    merged = csd::report::merge_folders(folders);
  } catch (const csd::report::MergeRefused& e) {
    std::cerr << "csd-report --merge: " << e.what() << "\n";
    return kUsage;
  }
  csd::report::ResultsFolder folder(options.out);
  const fs::path& staging = folder.staging();
  std::ofstream log(staging / "suite.log");
  for (const auto& from : folders) {
    for (const auto& suite : from.suite.at("testsuites")) {
      for (const auto& test : suite.at("testsuite")) {
        for (const auto& file : csd::report::evidence_of(test)) {
          if (fs::exists(from.dir / file))
            fs::copy_file(from.dir / file, staging / file, fs::copy_options::overwrite_existing);
        }
      }
    }
    log << "== " << from.dir.string() << "/suite.log\n" << contents(from.dir / "suite.log");
  }
  log.close();
  write_json(merged.suite, staging / "suite.json");
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& from : folders) sources.push_back(fs::absolute(from.dir).string());
  write_json({{"format", "csd-run/1"}, {"merged_from", sources}, {"plan", merged.plan}},
             staging / "run.json");
  folder.replace_last_run();
  auto summary = read_results({(folder.dir() / "suite.json").string()});
  if (!summary)
    return kUnfinished;
  return report(*summary, folder.dir(), options, csd::report::has_unfinished(merged.suite));
}

// The earlier run's csd-suite flags, as `options` takes them: those given
// on this command line win.
void take_flags_of_the_run(const std::vector<std::string>& flags, Options& options) {
  const bool network_given = !options.network.empty();
  csd::harness::ServerLimits earlier;  // the run's limits; those given here win
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const std::string& flag = flags[i];
    const bool has_value = i + 1 < flags.size();
    if (flag == "--network" && has_value) {
      if (!network_given)
        options.network.push_back(flags[i + 1]);
      ++i;
    } else if (flag.starts_with("--timeout-multiplier=")) {
      if (!options.timeout_multiplier)
        options.timeout_multiplier = std::stod(flag.substr(flag.find('=') + 1));
    } else if (flag == "--strict") {
      options.strict = true;
    } else if (const auto equals = flag.find('=');
               equals != std::string::npos &&
               earlier.set_from_flag(flag.substr(0, equals), flag.substr(equals + 1))) {
      continue;
    } else if (flag == "--demo" && has_value) {
      options.more_suite_flags.insert(options.more_suite_flags.end(), {flag, flags[i + 1]});
      ++i;
    } else {
      options.more_suite_flags.push_back(flag);
    }
  }
  options.limits.processes =
      options.limits.processes ? options.limits.processes : earlier.processes;
  options.limits.memory = options.limits.memory ? options.limits.memory : earlier.memory;
  options.limits.file_size =
      options.limits.file_size ? options.limits.file_size : earlier.file_size;
}

int run_or_run_side_by_side(Options options) {
  // Once, here, for every csd-suite of the run (the plan's listing among
  // them): each watching on its own could see another design and register
  // other tests.
  options.assumed_models =
      csd::tools::observe_auto_models(options.manifests, options.timeout_multiplier);
  if (options.jobs == 1 && !options.shard && options.repeat == 1)
    return run(options);
  return run_side_by_side(options);
}

// csd-report --rerun-failed DIR: the failed, warned and flaky tests of DIR,
// as DIR's run ran them, into a results folder as any run.
int rerun_failed(Options options) {
  const fs::path dir = options.rerun_failed;
  csd::report::RerunPlan plan;
  try {
    plan = csd::report::plan_rerun(dir);
  } catch (const csd::report::RerunRefused& e) {
    std::cerr << "csd-report --rerun-failed: " << e.what() << "\n";
    return kUsage;
  }
  if (plan.tests.empty()) {
    std::cout << "csd-report: no test failed, warned or was flaky in " << dir.string()
              << ": nothing to rerun\n";
    return 0;
  }
  std::cout << "csd-report: rerunning " << plan.tests.size() << " test(s) of " << dir.string()
            << " (" << plan.failed << " failed, " << plan.warned << " warned, " << plan.flaky
            << " flaky)\n";
  options.manifests = plan.manifests;
  options.checks = plan.check_ids;
  options.filter = csd::report::gtest_filter_of(plan.tests);
  if (options.suite.empty() && ::access(plan.invocation.program.c_str(), X_OK) == 0)
    options.suite = plan.invocation.program;
  take_flags_of_the_run(plan.invocation.flags, options);
  // As the run had them: what it pretended the kernel lacked, for one.
  for (const auto& [name, value] : plan.invocation.environment)
    ::setenv(name.c_str(), value.c_str(), 1);
  return run_or_run_side_by_side(options);
}

}  // namespace

// --template: the manifests become the submissions' own, written where the
// run's results go, so a rerun line names a file that is still there.
int fill_in_submissions(Options& options) {
  if (options.manifests.empty()) {
    std::cerr << "csd-report: --template needs the folder(s) of submissions (csd-report --help)\n";
    return kUsage;
  }
  try {
    const nlohmann::json manifest_template =
        csd::harness::read_manifest_template(options.manifest_template);
    const std::vector<fs::path> folders(options.manifests.begin(), options.manifests.end());
    const fs::path out = out_dir(options) / "submissions";
    const auto written = csd::harness::write_submission_manifests(
        manifest_template, csd::harness::submission_folders(folders), out);
    options.manifests.assign(written.size(), {});
    std::transform(written.begin(), written.end(), options.manifests.begin(),
                   [](const fs::path& file) { return file.string(); });
    std::cerr << "csd-report: " << written.size() << " submission(s), their manifests in "
              << out.string() << "/\n";
    return 0;
  } catch (const std::exception& e) {  // TemplateError, or a folder that cannot be written
    std::cerr << "csd-report: --template " << e.what() << "\n";
    return kUsage;
  }
}

int main(int argc, char** argv) {
  Options options;
  csd::tools::IdentifyOptions identify;
  if (const auto exit_status = csd::tools::parse_command_line(argc, argv, options, identify))
    return *exit_status;
  if (!options.manifest_template.empty()) {
    if (const int refused = fill_in_submissions(options); refused != 0)
      return refused;
  }
  if (identify.requested)
    return csd::tools::identify(options.manifests, identify, options.timeout_multiplier);
  try {
    if (!options.from.empty())
      return summarize(options);
    if (!options.merge.empty())
      return merge(options);
    if (!options.rerun_failed.empty())
      return rerun_failed(options);
    return run_or_run_side_by_side(options);
  } catch (const std::exception& e) {
    std::cerr << "csd-report: " << e.what() << "\n";
    return kUsage;
  }
}
