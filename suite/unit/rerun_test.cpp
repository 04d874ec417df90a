// The line under each failure that reruns it alone (harness/rerun.hpp), in
// every output, and what csd-report --rerun-failed reads back
// (report/rerun_failed.hpp). Verify: words quoted for sh come back as they
// were from a real sh (spaces, quotes, $, `, \, newlines); the line names
// the program, the manifest, the run's flags and environment and the test
// alone; a warning's line exits non-zero (--strict); a demo's test has no
// --impl; the summary, report.json, junit.xml and report.html each carry
// it; a folder's failed, warned and flaky tests are planned for a rerun,
// and a folder with no report or with a manifest gone is refused.
#include "rerun.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "html.hpp"
#include "junit.hpp"
#include "report_json.hpp"
#include "rerun_failed.hpp"
#include "run.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

namespace csd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ShellQuoted, LeavesPlainWordsAsTheyAre) {
  EXPECT_EQ(harness::shell_quoted("/usr/bin/csd-suite"), "/usr/bin/csd-suite");
  EXPECT_EQ(harness::shell_quoted("--timeout-multiplier=2.5"), "--timeout-multiplier=2.5");
  EXPECT_EQ(harness::shell_quoted("csd-fork@ipv6"), "csd-fork@ipv6");
}

TEST(ShellQuoted, QuotesWhatAShellWouldRead) {
  EXPECT_EQ(harness::shell_quoted("loss 1%"), "'loss 1%'");
  EXPECT_EQ(harness::shell_quoted("/home/me/my servers/a.json"), "'/home/me/my servers/a.json'");
  EXPECT_EQ(harness::shell_quoted("it's"), "'it'\\''s'");
  EXPECT_EQ(harness::shell_quoted("$HOME"), "'$HOME'");
  EXPECT_EQ(harness::shell_quoted(""), "''");
}

// The proof of the quoting: sh gives back every word as it was.
TEST(ShellQuoted, AShGivesBackEveryWord) {
  const std::vector<std::string> words{
      "plain", "two words", "it's", "$HOME",      "`id`", "back\\slash", "star*",  "new\nline",
      "",      "'",         "a\"b", "semi;colon", "amp&", "(paren)",     "~tilde", "#hash"};
  // The words in the script itself, as a person pastes a line.
  const auto run = harness::run_to_completion(
      {"/bin/sh", "-c",
       "set -- " + harness::shell_line(words) + "; for w; do printf '[%s]' \"$w\"; done"},
      10s);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string expected;
  for (const auto& word : words) expected += "[" + word + "]";
  EXPECT_EQ(run.output, expected);
}

TEST(GtestFilterPattern, MatchesTheTestAlone) {
  EXPECT_EQ(harness::gtest_filter_pattern("Impl/Size.SplitRequest/my_server"),
            "Impl/Size.SplitRequest/my_server");
  // '-' would start the negative patterns, ':' a new pattern.
  EXPECT_EQ(harness::gtest_filter_pattern("A.B/x-y:z*?"), "A.B/x?y?z??");
}

harness::SuiteInvocation invocation() {
  harness::SuiteInvocation run;
  run.program = "/opt/csd/bin/csd-suite";
  run.flags = {"--network", "loss 1%", "--timeout-multiplier=2"};
  run.manifests = {{"my-server", "/home/me/my servers/my-server.json"}};
  return run;
}

TEST(RerunCommand, NamesTheProgramTheManifestTheRunsFlagsAndTheTestAlone) {
  EXPECT_EQ(harness::rerun_command(invocation(), "/home/me/my servers/my-server.json",
                                   "Impl/Size.SplitRequest/my_server"),
            "/opt/csd/bin/csd-suite --impl '/home/me/my servers/my-server.json' --network "
            "'loss 1%' --timeout-multiplier=2 --gtest_filter='Impl/Size.SplitRequest/my_server'");
}

TEST(RerunCommand, AWarningsLineExitsNonZeroWhileItFails) {
  const std::string line =
      harness::rerun_command(invocation(), "/m.json", "Impl/Pool.ReportedCounts/m", true);
  EXPECT_THAT(line, HasSubstr(" --strict --gtest_filter="));
  auto strict = invocation();
  strict.flags.emplace_back("--strict");
  const std::string once = harness::rerun_command(strict, "/m.json", "Impl/Pool.X/m", true);
  EXPECT_EQ(once.find("--strict"), once.rfind("--strict")) << once;
}

TEST(RerunCommand, ADemosTestHasNoManifestAndSetsTheRunsEnvironment) {
  harness::SuiteInvocation run;
  run.program = "/b/csd-suite";
  run.flags = {"--demo", "csd-rstserver=/tmp/my rst"};
  run.environment = {{"CSD_PRETEND_MISSING", "SO_REUSEPORT"}};
  EXPECT_EQ(harness::rerun_command(run, "", "Rst.ServerSendsRstNotFin"),
            "CSD_PRETEND_MISSING=SO_REUSEPORT /b/csd-suite --demo 'csd-rstserver=/tmp/my rst' "
            "--gtest_filter='Rst.ServerSendsRstNotFin'");
}

TEST(RerunCommand, TheInvocationComesBackFromItsJson) {
  auto run = invocation();
  run.environment = {{"CSD_PRETEND_MISSING", "EPOLLEXCLUSIVE"}};
  const auto back = harness::invocation_from_json(harness::to_json(run));
  EXPECT_EQ(back.program, run.program);
  EXPECT_EQ(back.flags, run.flags);
  EXPECT_EQ(back.environment, run.environment);
  EXPECT_EQ(back.manifests, run.manifests);
  EXPECT_TRUE(back.has_flag("--network"));
  EXPECT_FALSE(back.has_flag("loss"));
}

TEST(ByHandCommand, FillsTheHostLeavesThePortAndFindsTheProgram) {
  const harness::TempDir bin("csd-unit-by-hand");
  const fs::path client = bin.path() / "csd-client";
  std::ofstream(client) << "#!/bin/sh\n";
  fs::permissions(client, fs::perms::owner_all);
  EXPECT_EQ(
      harness::by_hand_command("csd-client -i {host} -p {port} -b 100", "::1", bin.path().string()),
      client.string() + " -i ::1 -p PORT -b 100");
  // Not in bin_dir: left for $PATH.
  EXPECT_EQ(harness::by_hand_command("nc {host} {port}", "127.0.0.1", bin.path().string()),
            "nc 127.0.0.1 PORT");
}

// A csd-suite run as its JSON says it: a failure, a warning and a pass of
// my-server, a demo's failure, and the invocation it recorded.
nlohmann::json recorded_run() {
  auto run = invocation();
  run.manifests["csd-fork"] = "/src/fixtures/impls/fork.json";
  nlohmann::json report = nlohmann::json::parse(R"json({"time": "3s", "testsuites": [
    {"name": "Impl/Size", "testsuite": [
      {"name": "SplitRequest/my_server", "status": "RUN", "result": "COMPLETED", "time": "1s",
       "implementation": "my-server", "check_id": "size/split-request", "level": "required",
       "manifest": "/home/me/my servers/my-server.json",
       "by_hand": "/b/csd-client -i 127.0.0.1 -p PORT -b 100",
       "failures": [{"failure": "x.cpp:1\nFailed\nobserved a reset", "type": ""}]},
      {"name": "SmallRepliesExact/my_server", "status": "RUN", "result": "COMPLETED",
       "time": "1s", "implementation": "my-server", "check_id": "size/small-replies-exact",
       "level": "required", "manifest": "/home/me/my servers/my-server.json",
       "by_hand": "/b/csd-client -i 127.0.0.1 -p PORT -b 100"}]},
    {"name": "Impl/Pool", "testsuite": [
      {"name": "ReportedCounts/csd_fork", "status": "RUN", "result": "COMPLETED", "time": "1s",
       "implementation": "csd-fork", "check_id": "pool/reported-counts",
       "level": "recommended", "unfinished": "csd-suite died",
       "failures": [{"failure": "csd-suite died", "type": ""}]}]},
    {"name": "Rst", "testsuite": [
      {"name": "ServerSendsRstNotFin", "status": "RUN", "result": "COMPLETED", "time": "1s",
       "failures": [{"failure": "x.cpp:9\nFailed\nsaw a FIN", "type": ""}]}]}]})json");
  report[harness::kRerunProperty] = harness::to_json(run).dump();
  return report;
}

constexpr const char* kSplitRequestLine =
    "/opt/csd/bin/csd-suite --impl '/home/me/my servers/my-server.json' --network 'loss 1%' "
    "--timeout-multiplier=2 --gtest_filter='Impl/Size.SplitRequest/my_server'";

TEST(ReproduceLine, EveryFailureWarningAndDemoHasOneAndAPassNone) {
  report::Summary summary;
  report::add_results(recorded_run(), summary);
  ASSERT_EQ(summary.tests.size(), 4U);
  EXPECT_EQ(summary.tests[0].reproduce, kSplitRequestLine);
  EXPECT_EQ(summary.tests[1].reproduce, "");
  // No manifest in its entry (its csd-suite died): the run's list has it;
  // recommended: with --strict.
  EXPECT_EQ(summary.tests[2].reproduce,
            "/opt/csd/bin/csd-suite --impl /src/fixtures/impls/fork.json --network 'loss 1%' "
            "--timeout-multiplier=2 --strict --gtest_filter='Impl/Pool.ReportedCounts/csd_fork'");
  EXPECT_EQ(summary.tests[3].reproduce,
            "/opt/csd/bin/csd-suite --network 'loss 1%' --timeout-multiplier=2 "
            "--gtest_filter='Rst.ServerSendsRstNotFin'");
  ASSERT_TRUE(summary.invocation.has_value());
  EXPECT_EQ(summary.invocation->program, "/opt/csd/bin/csd-suite");
}

TEST(ReproduceLine, NoneWhereTheRunDidNotSayHowItRan) {
  auto report = recorded_run();
  report.erase(harness::kRerunProperty);
  report::Summary summary;
  report::add_results(report, summary);
  for (const auto& test : summary.tests) EXPECT_EQ(test.reproduce, "") << test.test;
  EXPECT_FALSE(summary.invocation.has_value());
}

TEST(ReproduceLine, InEveryOutput) {
  report::Summary summary;
  report::add_results(recorded_run(), summary);
  std::ostringstream text;
  report::print_summary(summary, text);
  EXPECT_THAT(text.str(), HasSubstr("FAILED  my-server size/split-request Size.SplitRequest: "
                                    "observed a reset\n        rerun: " +
                                    std::string(kSplitRequestLine) +
                                    "\n        by hand, on a server you started on PORT: "
                                    "/b/csd-client -i 127.0.0.1 -p PORT -b 100\n"));

  std::ostringstream json_text;
  report::write_report_json(summary, json_text);
  const auto json = nlohmann::json::parse(json_text.str());
  EXPECT_EQ(json.at("results")[0].at("reproduce"), kSplitRequestLine);
  EXPECT_EQ(json["results"][0].at("by_hand"), "/b/csd-client -i 127.0.0.1 -p PORT -b 100");
  EXPECT_EQ(json["results"][0].at("test"), "Impl/Size.SplitRequest/my_server");
  EXPECT_EQ(json["results"][0].at("manifest"), "/home/me/my servers/my-server.json");
  EXPECT_FALSE(json["results"][1].contains("reproduce"));  // a pass
  EXPECT_FALSE(json["results"][1].contains("by_hand"));
  EXPECT_EQ(json.at("rerun").at("program"), "/opt/csd/bin/csd-suite");
  EXPECT_EQ(json["rerun"].at("flags"),
            nlohmann::json({"--network", "loss 1%", "--timeout-multiplier=2"}));

  // XML and HTML escape the quotes; the text is the line.
  std::ostringstream junit;
  report::write_junit(summary, junit);
  EXPECT_THAT(junit.str(), HasSubstr("rerun: /opt/csd/bin/csd-suite --impl "
                                     "'/home/me/my servers/my-server.json' --network 'loss 1%'"));
  std::ostringstream html;
  report::write_html(summary, html);
  EXPECT_THAT(html.str(), HasSubstr("<pre class=\"rerun\">/opt/csd/bin/csd-suite --impl "
                                    "'/home/me/my servers/my-server.json'"));
  EXPECT_THAT(html.str(), HasSubstr("<pre class=\"by-hand\">/b/csd-client -i 127.0.0.1"));
}

// A results folder whose report.json csd-report wrote from recorded_run(),
// its manifests made real files.
class RerunFailed : public ::testing::Test {
 protected:
  void SetUp() override {
    mine_ = dir_.path() / "my servers" / "my-server.json";
    fork_ = dir_.path() / "fork.json";
    fs::create_directories(mine_.parent_path());
    std::ofstream(mine_) << "{}";
    std::ofstream(fork_) << "{}";
  }

  // report.json of recorded_run() with the manifests here, and with or
  // without the demo's failure.
  void write_report(bool with_demo) {
    auto run = recorded_run();
    auto invocation = harness::invocation_from_json(
        nlohmann::json::parse(run[harness::kRerunProperty].get<std::string>()));
    invocation.manifests = {{"my-server", mine_.string()}, {"csd-fork", fork_.string()}};
    run[harness::kRerunProperty] = harness::to_json(invocation).dump();
    run["testsuites"][0]["testsuite"][0]["manifest"] = mine_.string();
    if (!with_demo)
      run["testsuites"].erase(2);
    report::Summary summary;
    report::add_results(run, summary);
    std::ofstream out(dir_.path() / "report.json");
    report::write_report_json(summary, out);
  }

  harness::TempDir dir_{"csd-unit-rerun-failed"};
  fs::path mine_;
  fs::path fork_;
};

TEST_F(RerunFailed, PlansTheFailedAndWarnedTestsOverTheirManifests) {
  write_report(false);
  const auto plan = report::plan_rerun(dir_.path());
  EXPECT_THAT(plan.tests,
              ElementsAre("Impl/Size.SplitRequest/my_server", "Impl/Pool.ReportedCounts/csd_fork"));
  EXPECT_THAT(plan.manifests, ElementsAre(mine_.string(), fork_.string()));
  EXPECT_THAT(plan.check_ids, ElementsAre("size/split-request", "pool/reported-counts"));
  EXPECT_EQ(plan.failed, 1U);
  EXPECT_EQ(plan.warned, 1U);
  EXPECT_EQ(plan.flaky, 0U);
  EXPECT_EQ(plan.invocation.flags,
            (std::vector<std::string>{"--network", "loss 1%", "--timeout-multiplier=2"}));
  EXPECT_EQ(report::gtest_filter_of(plan.tests),
            "Impl/Size.SplitRequest/my_server:Impl/Pool.ReportedCounts/csd_fork");
}

// The demos run only without --impl: a rerun with a demo's test has none.
TEST_F(RerunFailed, ADemosTestRerunsWithoutManifests) {
  write_report(true);
  const auto plan = report::plan_rerun(dir_.path());
  EXPECT_EQ(plan.tests.size(), 3U);
  EXPECT_THAT(plan.manifests, ::testing::IsEmpty());
}

TEST_F(RerunFailed, RefusesAFolderWithoutAReport) {
  EXPECT_THROW(
      {
        try {
          report::plan_rerun(dir_.path());
        } catch (const report::RerunRefused& e) {
          EXPECT_THAT(e.what(), HasSubstr("report.json: no such file"));
          throw;
        }
      },
      report::RerunRefused);
}

TEST_F(RerunFailed, RefusesWhenAManifestIsGone) {
  write_report(false);
  fs::remove(fork_);
  try {
    report::plan_rerun(dir_.path());
    ADD_FAILURE() << "a rerun planned without its manifest";
  } catch (const report::RerunRefused& e) {
    EXPECT_THAT(e.what(), HasSubstr("the manifest of csd-fork (" + fork_.string() + ") is gone"));
  }
}

TEST_F(RerunFailed, RefusesAReportOfAnOlderCsd) {
  write_report(false);
  auto json = nlohmann::json::parse(std::ifstream(dir_.path() / "report.json"));
  json.erase("rerun");
  std::ofstream(dir_.path() / "report.json") << json.dump();
  try {
    report::plan_rerun(dir_.path());
    ADD_FAILURE() << "a rerun planned without the run's invocation";
  } catch (const report::RerunRefused& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not say how its run called csd-suite"));
  }
}

}  // namespace
}  // namespace csd
