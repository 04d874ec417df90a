#include "options.hpp"

#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>

#include "limits.hpp"

namespace csd::tools {

namespace {

// The CPUs this process may run on.
int cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

// --grade: every server runs within the rubric's limits and the flags' (the
// smaller wins), and, where neither limits processes, kGradeProcesses: one
// submission that forks without end must not take the class down with it.
void hold_to_grade_limits(Options& options) {
  options.limits = options.limits.tightest(options.rubric->limits);
  if (!options.limits.processes)
    options.limits.processes = report::kGradeProcesses;
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, Options& options,
                                      IdentifyOptions& identify) {
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
  could not be (it did not start, or a --max-* limit stopped it), 2 for a manifest that
  cannot be used

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
    return harness::parse_size(text) ? "" : "expected a size: bytes, or with K, M, G (512M)";
  };
  std::map<std::string, std::string> limits;  // flag -> value, read into options.limits
  app.add_option("--max-processes", limits["--max-processes"],
                 "Every server's tree may have at most N processes (csd-suite --max-processes)")
      ->check(CLI::Range(1, 1 << 22));
  app.add_option("--max-memory", limits["--max-memory"],
                 "Every server's tree may use at most SIZE anonymous resident memory (csd-suite "
                 "--max-memory; 512M)")
      ->check(size_check);
  app.add_option("--max-file-size", limits["--max-file-size"],
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
        return report::parse_shard(text) ? "" : "expected I/N with 1 <= I <= N: 2/3";
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
  add_identify_options(app, identify);
  app.add_option("--suite", options.suite,
                 "The csd-suite to run (default: the one next to "
                 "csd-report)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;  // prints the help, or the error with a hint
  }
  for (const auto& [flag, value] : limits) {
    if (!value.empty())
      options.limits.set_from_flag(flag, value);  // checked above
  }
  if (!shard.empty())
    options.shard = report::parse_shard(shard);
  if (!baseline.empty()) {
    try {
      options.baseline = report::read_baseline(baseline);
    } catch (const report::BadBaseline& e) {
      std::cerr << "csd-report: --baseline " << e.what() << "\n";
      return kUsage;
    }
  }
  if (!rubric.empty()) {
    try {
      options.rubric = report::read_rubric(rubric);
      hold_to_grade_limits(options);
    } catch (const report::BadRubric& e) {
      std::cerr << "csd-report: --grade " << e.what() << "\n";
      return kUsage;
    }
  }
  // The servers csd-report starts itself (--identify; a manifest's "model":
  // "auto", watched before the run) are held to the run's limits as well.
  harness::set_run_limits(options.limits);
  if (!options.merge.empty() && options.out.empty()) {
    std::cerr << "csd-report: --merge needs -o OUT, the folder of the merged run "
                 "(csd-report --help)\n";
    return kUsage;
  }
  return std::nullopt;
}

}  // namespace csd::tools
