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
// design from what it does (identify.hpp).
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

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

#include "baseline.hpp"
#include "grade_outputs.hpp"
#include "html.hpp"
#include "identify.hpp"
#include "junit.hpp"
#include "limits.hpp"
#include "manifest_template.hpp"
#include "merge.hpp"
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
  std::vector<std::string> network;  // csd-suite --network, each as given
  // csd-suite --max-processes, --max-memory, --max-file-size: flag -> value as given
  std::map<std::string, std::string> limits;
  // --rerun-failed: the earlier run's csd-suite flags csd-report has none
  // of its own for (--demo NAME=PATH), passed on as they were.
  std::vector<std::string> more_suite_flags;
  // "model": "auto": the models csd-report observed for the run, as
  // csd-suite's --assume-model flags, given to every csd-suite it starts.
  std::vector<std::string> assumed_models;
  std::string filter;
  int jobs = 1;
  std::optional<csd::report::Shard> shard;
  int repeat = 1;
  bool allow_flaky = false;
  std::vector<std::string> merge;
  std::optional<csd::report::Baseline> baseline;
  std::string rerun_failed;
  std::optional<csd::report::Rubric> rubric;  // --grade
  std::string manifest_template;              // --template: manifests are submission folders
};

// -o, or where a run's results go without it.
fs::path out_dir(const Options& options) { return options.out.empty() ? "results" : options.out; }

// The CPUs this process may run on.
int cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

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

// --grade: every server runs within the rubric's limits and the flags' (the
// smaller wins), and, where neither limits processes, kGradeProcesses: one
// submission that forks without end must not take the class down with it.
void hold_to_grade_limits(Options& options) {
  csd::harness::ServerLimits flags;
  if (const auto& text = options.limits["--max-processes"]; !text.empty())
    flags.processes = std::stoi(text);
  flags.memory = csd::harness::parse_size(options.limits["--max-memory"]);
  flags.file_size = csd::harness::parse_size(options.limits["--max-file-size"]);
  auto limits = flags.tightest(options.rubric->limits);
  if (!limits.processes)
    limits.processes = csd::report::kGradeProcesses;
  options.limits["--max-processes"] = std::to_string(*limits.processes);
  if (limits.memory)
    options.limits["--max-memory"] = std::to_string(*limits.memory);
  if (limits.file_size)
    options.limits["--max-file-size"] = std::to_string(*limits.file_size);
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
  for (const auto& [flag, value] : options.limits) {
    if (!value.empty())
      argv.push_back(flag + "=" + value);
  }
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
    } else if (const auto limit = options.limits.find(flag.substr(0, flag.find('=')));
               limit != options.limits.end() && flag.find('=') != std::string::npos) {
      if (limit->second.empty())
        limit->second = flag.substr(flag.find('=') + 1);
    } else if (flag == "--demo" && has_value) {
      options.more_suite_flags.insert(options.more_suite_flags.end(), {flag, flags[i + 1]});
      ++i;
    } else {
      options.more_suite_flags.push_back(flag);
    }
  }
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
  CLI::App app{R"(NAME
  csd-report - validate servers with csd-suite; write the results for people and CI

SYNOPSIS
  csd-report [-o DIR] [--strict] [--checks ID]... [--skip-checks ID]... [--jobs N]
             [--shard I/N] [--repeat K [--allow-flaky]] [--baseline FILE] [MANIFEST|DIR]...
  csd-report --merge DIR... -o OUT
  csd-report --rerun-failed DIR [-o OUT] [--jobs N] [--repeat K]
  csd-report --from SUITE.json... [-o DIR]
  csd-report --identify [--format text|json|markdown] [MANIFEST|DIR]...
  csd-report --grade RUBRIC.json [--template MANIFEST.json] [-o DIR] [MANIFEST|DIR]...

DESCRIPTION
  Runs csd-suite over each MANIFEST (a folder: every *.json in it; none: the reference
  implementations) and writes the results into one folder, then prints the summary: one
  line per implementation, one per failure and warning with its check ID and the reason.
  A run that is refused or killed leaves the folder as the last finished run left it.
  The tests run in N csd-suite processes side by side (--jobs, default: one per CPU),
  except those whose figures another test beside them would disturb: they run after, one
  at a time (docs/CHECKS.md says why each is marked). The results are one run's, in the
  order a serial run (--jobs 1) gives them. A csd-suite that dies loses only the test it
  was running: reported failed with its last words, and the run goes on (exit 3).
  --shard I/N runs the I-th of N parts of the run (stable: the same tests for the same
  manifests and checks on any machine); --merge makes one folder of shards' folders, or
  of runs over other manifests. --from summarizes the gtest JSON of an earlier run.
  Under each failure, warning and flaky test, a line reruns it alone, with the run's own
  options (rerun: csd-suite --impl /abs/my-server.json --gtest_filter='Impl/...'), and
  where a plain client shows the bug, a command to run against a server you started;
  --rerun-failed DIR runs all of DIR's failed, warned and flaky tests again, as DIR's
  run ran them (its manifests, --network, --timeout-multiplier, --strict, --max-*).
  --identify runs no check: it watches each server and names its design, with the evidence.
  A manifest whose model is "auto" has its server watched once, before the run (stderr
  says what it showed), and the design it showed decides its checks in every csd-suite
  of the run (csd-suite --assume-model); the summary and report.json say which it was.
)"};
  app.option_defaults()->group("OPTIONS");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(R"(EXIT STATUS
  0  every required check passed (recommended ones may have failed: warnings)
  1  a required check failed (with --strict: any check), or one was flaky (--repeat,
     unless --allow-flaky); also a run where no check ran. With --baseline: a failure
     the baseline did not expect. With --grade: never (a failed check is a grade)
  2  bad usage, a refused run (a bad manifest: csd-suite exits 2), an unreadable --from
     file, a refused --merge (folders of other csd versions, a test in two folders), a
     --rerun-failed DIR without report.json or whose manifests are gone, or a report that
     could not be written
  3  a csd-suite did not finish (killed, crashed): with --jobs 1, the folder is left as it
     was; else the tests it left without a result are reported failed
  With --identify: 0 when every server was observed (its design known or not), 1 when one
  did not start, 2 for a manifest that cannot be used

ENVIRONMENT
  CSD_TIMEOUT_MULTIPLIER  scale every deadline, as --timeout-multiplier (the flag wins)
  CSD_IMPL                manifests for a run without MANIFEST (A.json:B.json, csd-suite's)
  CSD_GUARD               the csd-guard csd-suite starts servers under (default: next to it)

FILES
  DIR/report.html   a verdict matrix, each failure's evidence, the figures as charts
  DIR/junit.xml     for CI systems' test summaries
  DIR/report.json   the verdicts;  DIR/suite.json, DIR/suite.log: csd-suite's JSON, output
  DIR/run.json      what the run was (its tests in order, its shard), for --merge
  DIR/*.pcap, *.txt the evidence each failed check kept (packets, server output, processes)

EXAMPLES
  csd-report -o results my-server.json           validate one server
  csd-report my-server.json --checks 'size/*'    only the size protocol's checks
                                                 (--checks takes every word up to an option)
  csd-report --from results/suite.json           the summary of the last run again
  csd-report --shard 2/3 -o part2 my-server.json the second of three parts (CI matrix)
  csd-report --merge part1 part2 part3 -o results   the three parts as one run
  csd-report --repeat 5 my-server.json           every test five times: which are flaky?
  csd-report --baseline known.json my-server.json   fail only on a failure not in known.json
  csd-report --rerun-failed results -o again     the failures of results/ again: fixed yet?
  csd-report --grade rubric.json -o class submissions/   grade a folder of manifests
  csd-report --grade rubric.json --template server.json -o class handed-in/
                                                 grade each sub-folder of handed-in/
  csd-report --identify my-server.json           which design is it? (no check runs)
  sudo csd-report --network 'loss 1%' my-server.json   every check on a lossy path

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
  app.add_option("--network", options.network,
                 "Run csd-suite under a network condition: 'loss 5%', 'rate 8mbit', 'delay 20ms' "
                 "(csd-suite --network; needs root); repeatable")
      ->allow_extra_args(false);
  // What each server may use, so that one of a class cannot stall or harm the others.
  const auto size_check = [](const std::string& text) {
    return csd::harness::parse_size(text) ? "" : "expected a size: bytes, or with K, M, G (512M)";
  };
  app.add_option("--max-processes", options.limits["--max-processes"],
                 "Every server's tree may have at most N processes (csd-suite --max-processes)")
      ->check(CLI::Range(1, 1 << 22));
  app.add_option("--max-memory", options.limits["--max-memory"],
                 "Every server's tree may use at most SIZE anonymous resident memory (csd-suite "
                 "--max-memory; 512M)")
      ->check(size_check);
  app.add_option("--max-file-size", options.limits["--max-file-size"],
                 "Every server writes files of at most SIZE (csd-suite --max-file-size; 16M)")
      ->check(size_check);
  options.jobs = cpu_count();
  app.add_option("-j,--jobs", options.jobs,
                 "Run the tests in N csd-suite processes at once (default: one per CPU); "
                 "1: one csd-suite, as csd-suite alone runs them")
      ->check(CLI::Range(1, 256))
      ->default_str("CPUs");
  std::string shard;
  app.add_option("--shard", shard,
                 "Run the I-th of N disjoint parts of the run (1 <= I <= N), for a CI matrix; "
                 "--merge makes one run of the parts' folders")
      ->check([](const std::string& text) {
        return csd::report::parse_shard(text) ? "" : "expected I/N with 1 <= I <= N: 2/3";
      })
      ->excludes("--from");
  app.add_option("--repeat", options.repeat,
                 "Run every test K times; one that fails in some runs only is flaky (\"3 of 5 "
                 "failed\") and fails the run")
      ->check(CLI::Range(1, 1000))
      ->excludes("--from");
  app.add_flag("--allow-flaky", options.allow_flaky,
               "A flaky test (--repeat) does not fail the run");
  app.add_option("--merge", options.merge,
                 "Do not run the suite: merge these results folders (shards, or runs over other "
                 "manifests) into one run's, in -o OUT")
      ->check(CLI::ExistingDirectory)
      ->excludes("manifests")
      ->excludes("--from")
      ->excludes("--shard")
      ->excludes("--repeat");
  std::string baseline;
  app.add_option("--baseline", baseline,
                 "Judge the run against the verdicts of FILE (an earlier report.json, or "
                 "{\"expected\": {\"NAME\": {\"CHECK-ID\": \"fail\"}}}): only a new failure "
                 "fails it; the summary lists new failures, fixed checks and those not run")
      ->check(CLI::ExistingFile);
  std::string rubric;
  app.add_option("--grade", rubric,
                 "Grade each implementation (a submission) with RUBRIC.json's points per check "
                 "({\"checks\": {\"size/*\": 2, \"*\": 1}}, docs/GRADING.md): prints the "
                 "class, writes OUT/grades/ (Gradescope's results.json per submission, "
                 "class.csv, class.html); exits 0 once graded. Every server is held to the "
                 "rubric's \"limits\" (without: 2048 processes)")
      ->check(CLI::ExistingFile)
      ->excludes("--baseline");
  app.add_option("--rerun-failed", options.rerun_failed,
                 "Run again the tests that failed, warned or were flaky in the results folder "
                 "DIR (its report.json), over its manifests with its run's options, into -o "
                 "OUT as any run; exit 0 if they all pass now")
      ->excludes("manifests")
      ->excludes("--from")
      ->excludes("--merge")
      ->excludes("--shard")
      ->excludes("--filter")
      ->excludes("--checks")
      ->excludes("--skip-checks");
  app.add_option("--template", options.manifest_template,
                 "MANIFEST|DIR are folders of submissions, each sub-folder one: its manifest is "
                 "this template's, {submission} (the sub-folder's path) and {name} (its name) "
                 "filled in, written to OUT/submissions/NAME.json (docs/GRADING.md)")
      ->check(CLI::ExistingFile)
      ->excludes("--from")
      ->excludes("--merge")
      ->excludes("--rerun-failed");
  csd::tools::IdentifyOptions identify;
  csd::tools::add_identify_options(app, identify);
  app.add_option("--suite", options.suite,
                 "The csd-suite to run (default: the one next to "
                 "csd-report)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;  // prints the help, or the error with a hint
  }
  if (!shard.empty())
    options.shard = csd::report::parse_shard(shard);
  if (!baseline.empty()) {
    try {
      options.baseline = csd::report::read_baseline(baseline);
    } catch (const csd::report::BadBaseline& e) {
      std::cerr << "csd-report: --baseline " << e.what() << "\n";
      return kUsage;
    }
  }
  if (!rubric.empty()) {
    try {
      options.rubric = csd::report::read_rubric(rubric);
      hold_to_grade_limits(options);
    } catch (const csd::report::BadRubric& e) {
      std::cerr << "csd-report: --grade " << e.what() << "\n";
      return kUsage;
    }
  }
  if (!options.merge.empty() && options.out.empty()) {
    std::cerr << "csd-report: --merge needs -o OUT, the folder of the merged run "
                 "(csd-report --help)\n";
    return kUsage;
  }
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
