// csd-report's summary (suite/report/summary.hpp): the reasons it reads
// out of googletest's failure texts, and the lines it prints, with each
// implementation's copy on ::1 folded into its row (and kept apart in
// report.json). The texts are as googletest 1.12 writes them into
// csd-suite's JSON results.
#include "failure_reason.hpp"
#include "summary.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "report_json.hpp"

namespace csd::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FailureReason, PrefersTheAssertionsOwnMessageToTheExpression) {
  const std::string text =
      "/src/suite/tests/size_test.cpp:22\n"
      "Value of: GotExactReply(fetch(bytes), bytes)\n"
      "  Actual: false (asked for 1 bytes, got 0 (short_reply: EOF after 0 of 1 bytes))\n"
      "Expected: true\n"
      "request for 1 bytes";
  EXPECT_EQ(failure_reason(text),
            "asked for 1 bytes, got 0 (short_reply: EOF after 0 of 1 bytes); request for 1 bytes");
}

TEST(FailureReason, TakesTheFirstLineOfAMultiLineAssertionMessage) {
  const std::string text =
      "/src/suite/tests/shape_test.cpp:111\n"
      "Value of: EveryConnectionSucceeded(load(8, 10, 100))\n"
      "  Actual: false (3 of 80 connections failed: timeout=3\n"
      "  timeout in recv after 0 of 100 bytes\n"
      "  timeout in recv after 0 of 100 bytes)\n"
      "Expected: true\n"
      "after a worker was killed and replaced";
  EXPECT_EQ(failure_reason(text),
            "3 of 80 connections failed: timeout=3; after a worker was killed and replaced");
}

TEST(FailureReason, AStreamedMessageBeatsTheComparison) {
  EXPECT_EQ(failure_reason("/src/a.cpp:63\n"
                           "Expected equality of these values:\n"
                           "  served\n"
                           "    Which is: 0\n"
                           "  kOthers\n"
                           "    Which is: 8\n"
                           "8 of 8 other clients were not served within 5 s:\n"
                           "  timeout: timeout in recv after 0 of 100 bytes\n"
                           "  timeout: timeout in recv after 0 of 100 bytes\n"),
            "8 of 8 other clients were not served within 5 s: timeout: timeout in recv after 0 "
            "of 100 bytes");
  EXPECT_EQ(failure_reason("/src/a.cpp:112\n"
                           "Expected: (counts[i]) > (0), actual: 0 vs 0\n"
                           "worker 1 served nothing of 480 connections"),
            "worker 1 served nothing of 480 connections (counts[i] = 0)");
  EXPECT_EQ(failure_reason("/src/a.cpp:88\n"
                           "Value of: exact\n"
                           "  Actual: false\n"
                           "Expected: true\n"
                           "a pool of 4 worker processes has 6 live processes"),
            "a pool of 4 worker processes has 6 live processes");
}

// An EXPECT_EQ's values are what was observed: a message that does not say
// them gets them.
TEST(FailureReason, AddsTheValuesTheMessageDoesNotSay) {
  EXPECT_EQ(failure_reason("/src/a.cpp:143\n"
                           "Expected equality of these values:\n"
                           "  sum(reported)\n"
                           "    Which is: 480\n"
                           "  sum(observed)\n"
                           "    Which is: 479\n"
                           "the table's counts do not add up to the connections made"),
            "the table's counts do not add up to the connections made (sum(reported) = 480, "
            "sum(observed) = 479)");
  EXPECT_EQ(failure_reason("/src/a.cpp:44\n"
                           "Expected equality of these values:\n"
                           "  read.bytes\n"
                           "    Which is: 4000\n"
                           "  kHeaderBytes + kBodyBytes\n"
                           "    Which is: 4200\n"
                           "bytes received of 4200"),
            "bytes received of 4200 (read.bytes = 4000)");
  EXPECT_EQ(failure_reason("/src/a.cpp:229\n"
                           "Expected: (waits) >= (1U), actual: 0 vs 1\n"
                           "the server never waited for room"),
            "the server never waited for room (waits = 0)");
}

TEST(FailureReason, FailAndExceptionsKeepTheirText) {
  EXPECT_EQ(failure_reason("/src/server_test.cpp:20\nFailed\ncould not start csd-fork (x.json):\n"
                           "the server exited with status 1 before it was ready\n"),
            "could not start csd-fork (x.json): the server exited with status 1 before it was "
            "ready");
  EXPECT_EQ(failure_reason("unknown file\nC++ exception with description \"boom\" thrown in the "
                           "test body."),
            "C++ exception with description \"boom\" thrown in the test body.");
}

TEST(FailureReason, WithoutAnyMessageDescribesTheExpression) {
  EXPECT_EQ(failure_reason("/src/a.cpp:9\nExpected equality of these values:\n  a\n    Which is: "
                           "1\n  b\n    Which is: 2\n"),
            "Expected equality of these values: a Which is: 1 b Which is: 2");
}

// A report as csd-suite writes it: two implementations, one failure, one
// skip, and the pairs that did not apply. (The first failure message is two
// adjacent raw literals, only to keep within 100 columns.)
nlohmann::json sample_report() {
  return nlohmann::json::parse(
      R"({
    "tests": 4, "time": "3.5s", "checks_not_applicable": "7",
    "testsuites": [
      {"name": "Impl/Size", "testsuite": [
        {"name": "SmallRepliesExact/csd_fork", "value_param": "csd-fork", "status": "RUN",
         "result": "COMPLETED", "time": "0.5s", "implementation": "csd-fork"},
        {"name": "SmallRepliesExact/my_server", "value_param": "my-server", "status": "RUN",
         "result": "COMPLETED", "time": "1s", "implementation": "my-server",
         "failures": [
           {"failure": "x.cpp:1\nValue of: GotExactReply(r, 1)\n)"
      R"(  Actual: false (asked for 1 bytes, got 0)\nExpected: true\n", "type": ""},
           {"failure": "x.cpp:1\nFailed\nsecond", "type": ""}]}]},
      {"name": "Impl/Pool", "testsuite": [
        {"name": "ReportedCounts/my_server", "value_param": "my-server",
         "status": "RUN", "result": "SKIPPED", "time": "2s", "implementation": "my-server",
         "skipped_because": "prints no 'child N : K times' table when stopped"},
        {"name": "EveryWorkerAccepts/my_server", "value_param": "my-server",
         "status": "NOTRUN", "result": "SUPPRESSED", "time": "0s"}]}]
  })");
}

TEST(Summary, CountsPerImplementationFromTheResults) {
  Summary summary;
  add_results(sample_report(), summary);
  ASSERT_EQ(summary.by_implementation.size(), 2U);
  const Tally& mine = summary.by_implementation.at("my-server");
  EXPECT_EQ(mine.passed, 0);
  EXPECT_EQ(mine.failed, 1);
  EXPECT_EQ(mine.skipped, 1);
  EXPECT_DOUBLE_EQ(mine.seconds, 3.0);
  EXPECT_EQ(summary.by_implementation.at("csd-fork").passed, 1);
  EXPECT_EQ(summary.not_applicable, 7);
  ASSERT_EQ(summary.failures.size(), 1U);
  EXPECT_EQ(summary.failures[0].check, "Size.SmallRepliesExact");
  EXPECT_EQ(summary.failures[0].reason, "asked for 1 bytes, got 0");
  EXPECT_EQ(summary.failures[0].more, 1);
}

TEST(Summary, PrintsALinePerImplementationThenPerFailureAndSkip) {
  Summary summary;
  add_results(sample_report(), summary);
  std::ostringstream out;
  print_summary(summary, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("\ncsd-fork "));
  EXPECT_THAT(text, HasSubstr("\nmy-server "));
  EXPECT_THAT(text, HasSubstr("\nall 2 implementations "));
  EXPECT_THAT(text, HasSubstr("\n7 (check, implementation) pairs did not apply"));
  EXPECT_THAT(text, HasSubstr("\nFAILED  my-server Size.SmallRepliesExact: asked for 1 bytes, "
                              "got 0 (and 1 more)\n"));
  EXPECT_THAT(text, HasSubstr("\nSKIPPED Pool.ReportedCounts on my-server: "
                              "prints no 'child N : K times' table when stopped\n"));
  EXPECT_THAT(text, Not(HasSubstr("EveryWorkerAccepts")));  // filtered out: not run
  EXPECT_THAT(text, Not(HasSubstr("::1")));                 // no IPv6 copy: no column for it
  // header, 2 implementations, the total, not applicable, 1 failure, 1 skip
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7);
}

// A run with IPv6 copies (NAME@ipv6, the correctness checks again on ::1):
// csd-fork passes on 127.0.0.1 and fails on ::1, csd-poll passes and is
// skipped on ::1, my-server has no copy; csd-fork-echo fails first.
nlohmann::json report_with_ipv6_copies() {
  return nlohmann::json::parse(R"json({"time": "4s", "testsuites": [
    {"name": "Impl/Echo", "testsuite": [
      {"name": "SmallRoundTrip/csd_fork_echo", "status": "RUN", "result": "COMPLETED",
       "time": "1s", "implementation": "csd-fork-echo", "check_id": "echo/small-round-trip",
       "failures": [{"failure": "x.cpp:1\nFailed\nno echo", "type": ""}]}]},
    {"name": "Impl/Size", "testsuite": [
      {"name": "SmallRepliesExact/csd_fork", "status": "RUN", "result": "COMPLETED",
       "time": "0.5s", "implementation": "csd-fork", "check_id": "size/small-replies-exact"},
      {"name": "SmallRepliesExact/csd_poll", "status": "RUN", "result": "COMPLETED",
       "time": "0.5s", "implementation": "csd-poll", "check_id": "size/small-replies-exact"},
      {"name": "SmallRepliesExact/my_server", "status": "RUN", "result": "COMPLETED",
       "time": "0.5s", "implementation": "my-server", "check_id": "size/small-replies-exact"},
      {"name": "SmallRepliesExact/csd_fork_ipv6", "status": "RUN", "result": "COMPLETED",
       "time": "0.25s", "implementation": "csd-fork@ipv6", "check_id": "size/small-replies-exact",
       "failures": [{"failure": "x.cpp:1\nFailed\nconnection refused on ::1", "type": ""}]},
      {"name": "SmallRepliesExact/csd_poll_ipv6", "status": "RUN", "result": "SKIPPED",
       "time": "0.25s", "implementation": "csd-poll@ipv6", "check_id": "size/small-replies-exact",
       "skipped_because": "this machine has no ::1"}]}]})json");
}

TEST(Summary, NamesAnIpv6CopyByTheRowItFoldsInto) {
  EXPECT_TRUE(is_ipv6_copy("csd-fork@ipv6"));
  EXPECT_FALSE(is_ipv6_copy("csd-fork"));
  EXPECT_FALSE(is_ipv6_copy("@ipv6"));  // a name of its own, not a copy of ""
  EXPECT_EQ(row_of("csd-fork@ipv6"), "csd-fork");
  EXPECT_EQ(row_of("csd-fork"), "csd-fork");
  EXPECT_EQ(row_of(kDemos), kDemos);
}

TEST(Summary, FoldsEachIpv6CopyIntoItsImplementationsRow) {
  Summary summary;
  add_results(report_with_ipv6_copies(), summary);
  // The results keep every copy apart; only the rows fold them.
  EXPECT_EQ(summary.by_implementation.size(), 6U);
  const std::vector<ImplementationRow> rows = summary.rows();
  ASSERT_EQ(rows.size(), 4U);
  EXPECT_EQ(rows[0].name, "csd-fork");
  EXPECT_EQ(rows[0].all.passed, 1);
  EXPECT_EQ(rows[0].all.failed, 1);
  EXPECT_DOUBLE_EQ(rows[0].all.seconds, 0.75);
  ASSERT_TRUE(rows[0].on_ipv6.has_value());
  EXPECT_EQ(rows[0].on_ipv6->failed, 1);
  EXPECT_EQ(rows[0].on_ipv6->passed, 0);
  EXPECT_EQ(rows[1].name, "csd-fork-echo");
  EXPECT_FALSE(rows[1].on_ipv6.has_value());
  EXPECT_EQ(rows[2].name, "csd-poll");
  EXPECT_EQ(rows[2].all.skipped, 1);
  ASSERT_TRUE(rows[2].on_ipv6.has_value());
  EXPECT_EQ(rows[2].on_ipv6->skipped, 1);
  EXPECT_EQ(rows[3].name, "my-server");
  EXPECT_FALSE(rows[3].on_ipv6.has_value());
}

TEST(Summary, PrintsAnIpv6CopyInItsImplementationsRowAndNamesItsFailuresAndSkips) {
  Summary summary;
  add_results(report_with_ipv6_copies(), summary);
  std::ostringstream out;
  print_summary(summary, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("  skipped     time  of which on ::1\n"));
  // The counts of both runs, and those on ::1 in words: a failure or a skip
  // only there shows in the implementation's own row.
  EXPECT_THAT(text, HasSubstr("\ncsd-fork                    1       1       0        0     "
                              "0.8s  1 failed\n"));
  EXPECT_THAT(text, HasSubstr("\ncsd-poll                    1       0       0        1     "
                              "0.8s  1 skipped\n"));
  // Without a copy, nothing in that column.
  EXPECT_THAT(text, HasSubstr("\nmy-server                   1       0       0        0     "
                              "0.5s\n"));
  EXPECT_THAT(text, HasSubstr("\nall 4 implementations       3       2       0        1     "
                              "4.0s  1 failed, 1 skipped\n"));
  EXPECT_THAT(text, Not(HasSubstr("\ncsd-fork@ipv6 ")));  // not a row of its own
  // Each failure and skip names the copy it happened on; a failure on ::1
  // reads right after the implementation's own, before csd-fork-echo's.
  EXPECT_THAT(text, HasSubstr("\nFAILED  csd-fork@ipv6 size/small-replies-exact "
                              "Size.SmallRepliesExact: connection refused on ::1\n"
                              "FAILED  csd-fork-echo echo/small-round-trip "
                              "Echo.SmallRoundTrip: no echo\n"));
  EXPECT_THAT(text, HasSubstr("\nSKIPPED Size.SmallRepliesExact on csd-poll@ipv6: "
                              "this machine has no ::1\n"));
  // header, 4 implementations, the total, 2 failures, 1 skip
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 9);
}

// report.json is what other programs read: every test keeps its own
// implementation's name, and every copy its own entry with its counts.
TEST(ReportJson, KeepsEachIpv6CopyUnderItsOwnName) {
  Summary summary;
  add_results(report_with_ipv6_copies(), summary);
  std::ostringstream out;
  write_report_json(summary, out);
  const auto report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report.at("format"), "csd-report/1");
  std::vector<std::string> names;
  for (const auto& implementation : report.at("implementations"))
    names.push_back(implementation.at("name"));
  EXPECT_THAT(names, ::testing::ElementsAre("csd-fork", "csd-fork-echo", "csd-fork@ipv6",
                                            "csd-poll", "csd-poll@ipv6", "my-server"));
  ASSERT_EQ(report.at("results").size(), 6U);
  EXPECT_EQ(report.at("results")[4].at("implementation"), "csd-fork@ipv6");
  EXPECT_EQ(report.at("results")[4].at("verdict"), "fail");
  EXPECT_EQ(report.at("results")[5].at("implementation"), "csd-poll@ipv6");
  EXPECT_EQ(report.at("results")[5].at("verdict"), "skip");
}

// shape/declared-model's observation reaches report.json with its result.
TEST(ReportJson, CarriesTheObservedModelAmongTheFigures) {
  const auto gtest = nlohmann::json::parse(R"({"testsuites": [{"name": "Impl/Shape",
    "testsuite": [{"name": "DeclaredModel/csd_fork", "value_param": "csd-fork", "status": "RUN",
      "result": "COMPLETED", "time": "0.3s", "implementation": "csd-fork",
      "check_id": "shape/declared-model", "level": "required", "observed_model": "fork",
      "observed": "fork: a new process per connection, gone after it"}]}]})");
  Summary summary;
  add_results(gtest, summary);
  std::ostringstream out;
  write_report_json(summary, out);
  const auto result = nlohmann::json::parse(out.str()).at("results").at(0);
  EXPECT_EQ(result.at("figures").at("observed_model"), "fork");
  EXPECT_EQ(result.at("figures").at("observed"),
            "fork: a new process per connection, gone after it");
}

// A test of a demo family has no implementation; a failed check names the
// evidence it kept under its failure line, each file next to the results.
TEST(Summary, DemoTestsCountAsDemosAndFailuresNameTheirCapture) {
  const auto report = nlohmann::json::parse(R"({
    "testsuites": [{"name": "Rst", "testsuite": [
      {"name": "AbortiveCloseSendsRst", "status": "RUN", "result": "COMPLETED", "time": "1s",
       "capture": "Rst.AbortiveCloseSendsRst.pcap",
       "server_output": "Rst.AbortiveCloseSendsRst.server.txt",
       "process_tree": "Rst.AbortiveCloseSendsRst.processes.txt",
       "failures": [{"failure": "x.cpp:1\nFailed\nno RST from port 5000", "type": ""}]}]}]
  })");
  Summary summary;
  add_results(report, summary, "results");
  ASSERT_EQ(summary.by_implementation.count(std::string(kDemos)), 1U);
  std::ostringstream out;
  print_summary(summary, out);
  EXPECT_THAT(out.str(),
              HasSubstr("FAILED  demos Rst.AbortiveCloseSendsRst: no RST from port 5000\n"
                        "        capture: results/Rst.AbortiveCloseSendsRst.pcap (tcpdump -nr it)\n"
                        "        server output: results/Rst.AbortiveCloseSendsRst.server.txt\n"
                        "        processes: results/Rst.AbortiveCloseSendsRst.processes.txt\n"));
}

// A demo family's parameterized test is a variant of a check, not an
// implementation: it counts under demos, and a failure names the variant.
TEST(Summary, DemoVariantsAreNotImplementations) {
  const auto report = nlohmann::json::parse(R"json({"testsuites": [{"name": "Sendfile",
    "testsuite": [
      {"name": "EveryByteAtItsOffset/splice_8MiB_SlowReader", "value_param": "splice 8MiB",
       "status": "RUN", "result": "COMPLETED", "time": "1s",
       "failures": [{"failure": "x.cpp:1\nFailed\ngot 10240 bytes", "type": ""}]},
      {"name": "EveryByteAtItsOffset/sendfile_0B_FastReader", "value_param": "sendfile 0B",
       "status": "RUN", "result": "COMPLETED", "time": "1s"}]}]})json");
  Summary summary;
  add_results(report, summary);
  ASSERT_EQ(summary.by_implementation.size(), 1U);
  EXPECT_EQ(summary.by_implementation.at(std::string(kDemos)).passed, 1);
  ASSERT_EQ(summary.failures.size(), 1U);
  EXPECT_EQ(summary.failures[0].check, "Sendfile.EveryByteAtItsOffset/splice_8MiB_SlowReader");
}

// A recommended check that failed is a warning: counted apart, and printed
// as WARNING with its catalogue ID.
TEST(Summary, ARecommendedCheckFailingIsAWarning) {
  const auto report = nlohmann::json::parse(R"json({"testsuites": [{"name": "Impl/Shape",
    "testsuite": [{"name": "PoolReplacesKilledWorker/p", "value_param": "p",
      "status": "RUN", "result": "COMPLETED", "time": "3s", "implementation": "p",
      "check_id": "shape/pool-replaces-killed-worker", "level": "recommended",
      "failures": [{"failure": "x.cpp:1\nFailed\nno replacement", "type": ""}]}]}]})json");
  Summary summary;
  add_results(report, summary);
  EXPECT_EQ(summary.total().failed, 0);
  EXPECT_EQ(summary.total().warned, 1);
  std::ostringstream out;
  print_summary(summary, out);
  EXPECT_THAT(out.str(), HasSubstr("\nWARNING p shape/pool-replaces-killed-worker "
                                   "Shape.PoolReplacesKilledWorker: no replacement\n"));
}

// The environment csd-suite records (env_*) closes the summary: the build,
// the kernel, then the sysctls on one line.
TEST(Summary, EndsWithTheEnvironmentOfTheRun) {
  const auto report = nlohmann::json::parse(R"json({
    "env_csd": "0.1.0 (Debug, GCC 12.2.0)", "env_kernel": "Linux 6.1.0 x86_64",
    "env_net.core.somaxconn": "4096", "env_net.ipv4.ip_local_port_range": "32768 60999",
    "testsuites": []
  })json");
  Summary summary;
  add_results(report, summary);
  std::ostringstream out;
  print_summary(summary, out);
  EXPECT_THAT(out.str(), HasSubstr("\ncsd: 0.1.0 (Debug, GCC 12.2.0)\nkernel: Linux 6.1.0 x86_64\n"
                                   "sysctls: net.core.somaxconn=4096 "
                                   "net.ipv4.ip_local_port_range=\"32768 60999\"\n"));
}

}  // namespace
}  // namespace csd::report
