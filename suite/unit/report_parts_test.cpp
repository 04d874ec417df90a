// A run made of parts (suite/report: plan.hpp, merge.hpp, baseline.hpp) on
// made-up inputs: the test list as csd-suite prints it, shards that cover it
// once, batches that keep its order, merged reports in the serial order,
// repeats that make a flaky test, and a baseline's three lists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "baseline.hpp"
#include "merge.hpp"
#include "plan.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

namespace {

using csd::report::PlannedTest;
using nlohmann::json;
using ::testing::ElementsAre;

constexpr std::string_view kListing = R"(Sendfile.
  EveryByteAtItsOffset/sendfile_0B_FastReader  # GetParam() = --mode sendfile, 0 bytes, fast reader
  EveryByteAtItsOffset/sendfile_256MiB_FastReader  # GetParam() = --mode sendfile, 268435456 bytes
Impl/Size.
  SmallRepliesExact/csd_fork  # GetParam() = csd-fork
  SmallRepliesExact/csd_poll  # GetParam() = csd-poll
Impl/Pool.
  EvenDistribution/csd_prefork  # GetParam() = csd-prefork
)";

std::vector<std::string> names(const std::vector<PlannedTest>& tests) {
  std::vector<std::string> out;
  out.reserve(tests.size());
  for (const auto& test : tests) out.push_back(test.name);
  return out;
}

TEST(RunPlan, ListedTestsInOrderWithTheirImplementations) {
  const auto tests = csd::report::parse_test_list(kListing);
  EXPECT_THAT(names(tests), ElementsAre("Sendfile.EveryByteAtItsOffset/sendfile_0B_FastReader",
                                        "Sendfile.EveryByteAtItsOffset/sendfile_256MiB_FastReader",
                                        "Impl/Size.SmallRepliesExact/csd_fork",
                                        "Impl/Size.SmallRepliesExact/csd_poll",
                                        "Impl/Pool.EvenDistribution/csd_prefork"));
  EXPECT_EQ(tests[0].implementation, "");
  EXPECT_EQ(tests[2].implementation, "csd-fork");
}

TEST(RunPlan, CatalogueAndDemoTableMarkTheTestsThatRunAlone) {
  auto tests = csd::report::parse_test_list(kListing);
  const json catalogue = json::array({{{"gtest", "Impl/Size.SmallRepliesExact"},
                                       {"id", "size/small-replies-exact"},
                                       {"level", "required"},
                                       {"runs_alone", false},
                                       {"why_alone", ""}},
                                      {{"gtest", "Impl/Pool.EvenDistribution"},
                                       {"id", "pool/even-distribution"},
                                       {"level", "required"},
                                       {"runs_alone", true},
                                       {"why_alone", "it measures the spread"}}});
  csd::report::annotate(tests, catalogue);
  EXPECT_EQ(tests[0].alone_because, "");
  EXPECT_NE(tests[1].alone_because, "");  // 256 MiB: in kDemosRunningAlone
  EXPECT_EQ(tests[2].check_id, "size/small-replies-exact");
  EXPECT_EQ(tests[2].alone_because, "");
  EXPECT_EQ(tests[4].alone_because, "it measures the spread");
}

TEST(RunPlan, ShardsCoverEveryTestOnce) {
  std::vector<PlannedTest> all;
  all.reserve(17);
  for (int i = 0; i < 17; ++i) all.push_back({"T." + std::to_string(i), "", "", "", ""});
  EXPECT_FALSE(csd::report::parse_shard("0/3"));
  EXPECT_FALSE(csd::report::parse_shard("4/3"));
  EXPECT_FALSE(csd::report::parse_shard("1/"));
  std::multiset<std::string> seen;
  for (int index = 1; index <= 3; ++index) {
    const auto shard = csd::report::parse_shard(std::to_string(index) + "/3");
    ASSERT_TRUE(shard);
    for (const auto& test : csd::report::tests_of_shard(all, *shard)) seen.insert(test.name);
  }
  EXPECT_EQ(seen.size(), all.size());
  for (const auto& test : all) EXPECT_EQ(seen.count(test.name), 1U) << test.name;
}

TEST(RunPlan, BatchesKeepTheOrderAndPutTheLoneTestsLast) {
  std::vector<PlannedTest> all;
  all.reserve(40);
  for (int i = 0; i < 40; ++i)
    all.push_back({"T." + std::to_string(i), "", "", "", i % 10 == 0 ? "alone" : ""});
  const auto batches = csd::report::make_batches(all, 2, 2);
  std::vector<std::string> round_one;
  std::size_t alone_batches = 0;
  for (const auto& batch : batches) {
    EXPECT_FALSE(batch.tests.empty());
    if (batch.alone) {
      ++alone_batches;
      EXPECT_EQ(batch.tests.size(), 4U);
    } else {
      EXPECT_EQ(alone_batches, 0U) << "a batch beside others after a lone one";
    }
    if (batch.round == 1 && !batch.alone)
      round_one.insert(round_one.end(), batch.tests.begin(), batch.tests.end());
  }
  EXPECT_EQ(alone_batches, 2U);
  EXPECT_EQ(round_one.size(), 36U);
  EXPECT_TRUE(std::is_sorted(round_one.begin(), round_one.end(), [](const auto& a, const auto& b) {
    return std::stoi(a.substr(2)) < std::stoi(b.substr(2));
  }));
  EXPECT_LT(batches.front().tests.size(), 36U) << "the first batch took the whole queue";
}

json test_entry(const std::string& name, bool failed) {
  json test = {{"name", name}, {"status", "RUN"}, {"result", "COMPLETED"}, {"time", "0.5s"}};
  if (failed)
    test["failures"] = json::array({{{"failure", "f.cpp:1\nit failed"}, {"type", ""}}});
  return test;
}

json report_of(const std::vector<std::pair<std::string, json>>& suites) {
  json report = {{"env_csd", "0.1.0 (Release)"},
                 {"checks_not_applicable", "7"},
                 {"testsuites", json::array()}};
  for (auto& [name, tests] : suites)
    report["testsuites"].push_back({{"name", name}, {"testsuite", tests}});
  return report;
}

std::vector<std::string> merged_names(const json& report) {
  std::vector<std::string> out;
  for (const auto& suite : report["testsuites"]) {
    for (const auto& test : suite["testsuite"]) out.push_back(csd::report::full_name(suite, test));
  }
  return out;
}

TEST(MergeReports, PartsComeBackInTheSerialOrderAndTheDeadAreFailed) {
  const json part1 = report_of({{"Impl/Size", json::array({test_entry("B/x", false)})},
                                {"Impl/Pool", json::array({test_entry("P/x", true)})}});
  const json part2 = report_of({{"Impl/Size", json::array({test_entry("A/x", false)})}});
  const std::vector<std::string> order{"Impl/Size.A/x", "Impl/Size.B/x", "Impl/Size.C/x",
                                       "Impl/Pool.P/x", "Impl/Pool.Q/x"};
  PlannedTest dead{"Impl/Size.C/x", "x", "size/c", "required", ""};
  const json merged =
      csd::report::merge_reports({part1, part2}, order, {{dead, "csd-suite ended"}}, 3.0);
  EXPECT_THAT(merged_names(merged),
              ElementsAre("Impl/Size.A/x", "Impl/Size.B/x", "Impl/Size.C/x", "Impl/Pool.P/x"));
  EXPECT_EQ(merged["tests"], 4);
  EXPECT_EQ(merged["failures"], 2);
  EXPECT_EQ(merged["env_csd"], "0.1.0 (Release)");
  EXPECT_TRUE(csd::report::has_unfinished(merged));

  csd::report::Summary summary;
  csd::report::add_results(merged, summary);
  ASSERT_EQ(summary.tests.size(), 4U);
  EXPECT_EQ(summary.tests[2].implementation, "x");
  EXPECT_EQ(summary.tests[2].check_id, "size/c");
  EXPECT_EQ(summary.tests[2].verdict, csd::report::Outcome::Verdict::fail);
  EXPECT_TRUE(summary.tests[2].unfinished);
  EXPECT_EQ(summary.tests[2].reason, "csd-suite ended");
  EXPECT_EQ(summary.not_applicable, 7);
}

TEST(MergeReports, RepeatsWithMixedVerdictsAreFlaky) {
  const json first =
      report_of({{"Impl/Size", json::array({test_entry("A/x", false), test_entry("B/x", true)})}});
  const json second =
      report_of({{"Impl/Size", json::array({test_entry("A/x", true), test_entry("B/x", true)})}});
  const json third =
      report_of({{"Impl/Size", json::array({test_entry("A/x", false), test_entry("B/x", true)})}});
  std::map<std::string, std::size_t> chosen;
  const json combined = csd::report::combine_repeats({first, second, third}, chosen);
  EXPECT_EQ(chosen["Impl/Size.A/x"], 1U) << "the entry of its failed run";
  EXPECT_EQ(chosen["Impl/Size.B/x"], 0U);
  csd::report::Summary summary;
  csd::report::add_results(combined, summary);
  ASSERT_EQ(summary.tests.size(), 2U);
  EXPECT_EQ(summary.tests[0].verdict, csd::report::Outcome::Verdict::flaky);
  EXPECT_THAT(summary.tests[0].reason, ::testing::StartsWith("flaky: 1 of 3 failed"));
  EXPECT_EQ(summary.tests[1].verdict, csd::report::Outcome::Verdict::fail);
  EXPECT_EQ(summary.total().flaky, 1);
  EXPECT_EQ(summary.total().failed, 1);
}

TEST(Baseline, NewFailuresFixedAndNotRunApart) {
  const csd::harness::TempDir dir("csd-unit-baseline");
  const auto file = dir.path() / "known.json";
  std::ofstream(file) << R"({"format": "csd-baseline/1",
    "expected": {"srv": {"size/a": "fail", "size/b": "fail", "size/gone": "fail"}}})";
  const auto baseline = csd::report::read_baseline(file);
  csd::report::Summary summary;
  const auto outcome = [](const std::string& id, csd::report::Outcome::Verdict verdict) {
    csd::report::Outcome test;
    test.implementation = "srv";
    test.check_id = id;
    test.verdict = verdict;
    return test;
  };
  using Verdict = csd::report::Outcome::Verdict;
  summary.tests = {outcome("size/a", Verdict::fail), outcome("size/b", Verdict::pass),
                   outcome("size/c", Verdict::fail), outcome("size/d", Verdict::pass)};
  const auto comparison = csd::report::compare_with_baseline(summary, baseline, {});
  ASSERT_EQ(comparison.new_failures.size(), 1U);
  EXPECT_EQ(comparison.new_failures[0]->check_id, "size/c");
  ASSERT_EQ(comparison.expected_failures.size(), 1U);
  ASSERT_EQ(comparison.fixed.size(), 1U);
  EXPECT_EQ(comparison.fixed[0]->check_id, "size/b");
  EXPECT_THAT(comparison.not_run, ElementsAre(csd::report::BaselinePair{"srv", "size/gone"}));

  std::ofstream(file) << R"({"expected": {"srv": {"size/a": "broken"}}})";
  EXPECT_THROW(csd::report::read_baseline(file), csd::report::BadBaseline);
}

}  // namespace
