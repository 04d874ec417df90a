// csd-report --grade: a rubric's points per check, in the formats graders
// read. Verify: the first pattern that matches gives a check its points; a
// warning earns its stated share; a skip is not counted unless the rubric
// says so; a bad rubric is refused with what is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "grade.hpp"
#include "grade_outputs.hpp"

namespace {

using csd::report::Outcome;
using Verdict = csd::report::Outcome::Verdict;
using ::testing::HasSubstr;

Outcome outcome(const std::string& implementation, const std::string& id, Verdict verdict) {
  Outcome test;
  test.implementation = implementation;
  test.check_id = id;
  test.verdict = verdict;
  if (verdict != Verdict::pass) {
    test.reason = "expected 10 bytes, got 9";
    test.reproduce = "csd-suite --impl /x/" + implementation + ".json --gtest_filter='...'";
  }
  return test;
}

TEST(Rubric, TheFirstPatternThatMatchesGivesThePoints) {
  const auto rubric = csd::report::parse_rubric(
      R"({"checks": {"size/split-request": 5, "size/*": 2, "shape/declared-model": 3, "*": 1}})");
  EXPECT_EQ(rubric.points_of("size/split-request"), 5);
  EXPECT_EQ(rubric.points_of("size/bare-request"), 2);
  EXPECT_EQ(rubric.points_of("shape/declared-model"), 3);
  EXPECT_EQ(rubric.points_of("close/fin-not-rst"), 1);
  const auto only_size = csd::report::parse_rubric(R"({"checks": {"size/*": 2}})");
  EXPECT_EQ(only_size.points_of("close/fin-not-rst"), std::nullopt) << "not graded";
}

TEST(Rubric, ABadOneIsRefusedWithWhatIsWrong) {
  const auto refused = [](const std::string& text) {
    try {
      (void)csd::report::parse_rubric(text, "r.json");
    } catch (const csd::report::BadRubric& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(refused("{"), HasSubstr("r.json: not JSON"));
  EXPECT_THAT(refused(R"({"points": {}})"), HasSubstr("unknown key \"points\""));
  EXPECT_THAT(refused(R"({"checks": {}})"), HasSubstr("expected \"checks\""));
  EXPECT_THAT(refused(R"({"checks": {"*": -1}})"), HasSubstr("\"*\": -1 is no number of points"));
  EXPECT_THAT(refused(R"({"checks": {"*": 1}, "warning_share": 2})"),
              HasSubstr("warning_share 2 is not a number from 0 to 1"));
  EXPECT_THAT(refused(R"({"checks": {"*": 1}, "skipped": "half"})"), HasSubstr("skipped"));
  EXPECT_THAT(refused(R"({"checks": {"*": 1}, "visibility": "public"})"),
              HasSubstr("visibility \"public\""));
  EXPECT_THAT(refused(R"({"checks": {"*": 1}, "limits": {"processes": 0}})"),
              HasSubstr("r.json: limits.processes: must be a whole number of processes"));
  EXPECT_THAT(refused(R"({"checks": {"*": 1}, "limits": {"threads": 8}})"),
              HasSubstr("r.json: limits.threads: unknown limit"));
  EXPECT_THAT(refused(R"({"checks": {"*": 1}, "limits": "64"})"),
              HasSubstr("r.json: limits: must be an object"));
}

// A class's limits are the rubric's, spelled as a manifest's "limits".
TEST(Rubric, CarriesTheLimitsOfEverySubmissionsServer) {
  const auto rubric = csd::report::parse_rubric(
      R"({"checks": {"*": 1}, "limits": {"processes": 512, "memory": "1G", "file_size": "64M"}})");
  EXPECT_EQ(rubric.limits.processes, 512);
  EXPECT_EQ(rubric.limits.memory, uint64_t{1} << 30);
  EXPECT_EQ(rubric.limits.file_size, uint64_t{64} << 20);
  EXPECT_FALSE(csd::report::parse_rubric(R"({"checks": {"*": 1}})").limits.any())
      << "without \"limits\": csd-report's default for a graded run";
}

TEST(Grade, VerdictsBecomePoints) {
  const auto rubric = csd::report::parse_rubric(
      R"({"checks": {"size/*": 2, "*": 1}, "warning_share": 0.25, "visibility": "hidden"})",
      "rubric.json");
  csd::report::Summary summary;
  summary.tests = {outcome("alice", "size/a", Verdict::pass),
                   outcome("alice", "close/fin-not-rst", Verdict::warn),
                   outcome("alice", "pool/x", Verdict::skip),
                   outcome("alice@ipv6", "size/a", Verdict::fail),
                   outcome("bob", "size/a", Verdict::flaky),
                   outcome("demos", "", Verdict::fail)};
  const auto graded = csd::report::grade(summary, rubric);
  ASSERT_EQ(graded.size(), 2U) << "alice (with her ::1 copy) and bob; the demos are no submission";
  const auto& alice = graded[0];
  EXPECT_EQ(alice.name, "alice");
  ASSERT_EQ(alice.checks.size(), 3U) << "size/a on ::1 is size/a";
  EXPECT_EQ(alice.checks[0].verdict, Verdict::fail) << "failed on ::1: the worse verdict counts";
  EXPECT_EQ(alice.checks[0].score, 0);
  EXPECT_EQ(alice.checks[1].score, 0.25) << "a warning earns the rubric's share";
  EXPECT_EQ(alice.checks[2].max_score, 0) << "a skip is not counted";
  EXPECT_EQ(alice.score, 0.25);
  EXPECT_EQ(alice.max_score, 3);
  EXPECT_EQ(graded[1].score, 0) << "a flaky test earns nothing";

  const auto results = csd::report::gradescope_results(alice, rubric);
  EXPECT_EQ(results["score"], 0.25);
  EXPECT_EQ(results["max_score"], 3);
  ASSERT_EQ(results["tests"].size(), 3U);
  const auto& failed = results["tests"][0];
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["visibility"], "hidden");
  EXPECT_THAT(failed["output"].get<std::string>(),
              HasSubstr("on ::1: fail: expected 10 bytes, got 9\nrerun: csd-suite --impl "
                        "/x/alice@ipv6"));
  EXPECT_EQ(results["tests"][1]["status"], "failed") << "a warning";

  std::ostringstream csv;
  csd::report::write_class_csv(graded, csv);
  EXPECT_EQ(csv.str(),
            "submission,score,max_score,size/a,close/fin-not-rst,pool/x,stopped_by\n"
            "alice,0.25,3,0,0.25,0,\n"
            "bob,0,2,0,,,\n");
  const auto page = csd::report::class_page(graded, rubric);
  EXPECT_THAT(page, HasSubstr("<tr id=\"alice\"><td class=\"name\">alice</td>"
                              "<td class=\"total\">0.25 / 3</td>"));
  EXPECT_THAT(page, HasSubstr("<td class=\"none\" title=\"not run\"></td>"));
}

TEST(Grade, SkippedEarnFullWhenTheRubricSaysSo) {
  const auto rubric = csd::report::parse_rubric(R"({"checks": {"*": 1}, "skipped": "full"})");
  csd::report::Summary summary;
  summary.tests = {outcome("carol", "pool/x", Verdict::skip)};
  const auto graded = csd::report::grade(summary, rubric);
  ASSERT_EQ(graded.size(), 1U);
  EXPECT_EQ(graded[0].score, 1);
  EXPECT_EQ(graded[0].max_score, 1);
  EXPECT_EQ(csd::report::gradescope_results(graded[0], rubric)["tests"][0]["status"], "passed");
}

TEST(Grade, NamesTheLimitsThatStoppedASubmissionsServer) {
  const auto rubric = csd::report::parse_rubric(R"({"checks": {"size/*": 1}})", "r.json");
  csd::report::Summary summary;
  summary.tests = {outcome("dan", "size/a", Verdict::fail), outcome("dan", "size/b", Verdict::fail),
                   outcome("dan", "close/c", Verdict::fail),
                   outcome("erin", "size/a", Verdict::fail)};
  for (int i = 0; i < 3; ++i)
    summary.tests[i].figures["stopped_by_limit"] =
        "processes: the tree reached 71 processes, over its limit of 64; killed";
  summary.tests[3].reason = "exceeded its budget of 20 s while awaiting the reply";
  const auto graded = csd::report::grade(summary, rubric);
  ASSERT_EQ(graded.size(), 2U);
  ASSERT_EQ(graded[0].stopped_by.size(), 1U);
  EXPECT_EQ(graded[0].stopped_by[0].limit, "processes");
  EXPECT_EQ(graded[0].stopped_by[0].checks, 3) << "counted in an ungraded check too";
  EXPECT_EQ(graded[1].stopped_by[0].limit, "time");
  EXPECT_EQ(graded[1].stopped_by[0].first, "exceeded its budget of 20 s while awaiting the reply");

  std::ostringstream table;
  csd::report::print_grades(graded, table);
  EXPECT_THAT(table.str(), HasSubstr("0 of 2     processes (3 checks)\n"));
  EXPECT_THAT(table.str(), HasSubstr("0 of 1     time (1 check)\n"));
  std::ostringstream csv;
  csd::report::write_class_csv(graded, csv);
  EXPECT_THAT(csv.str(), HasSubstr("dan,0,2,0,0,processes (3 checks)\n"));
  EXPECT_THAT(csd::report::gradescope_results(graded[0], rubric)["output"].get<std::string>(),
              HasSubstr("stopped by a limit, processes, in 3 check(s); the first: the tree "
                        "reached 71 processes, over its limit of 64; killed"));
  EXPECT_THAT(csd::report::class_page(graded, rubric),
              HasSubstr(R"(<span title="the tree reached 71 processes, over its limit of 64; )"
                        R"(killed">processes (3)</span>)"));
}

// A recommended check failed for a warning's share; one whose server a
// limit stopped failed for nothing.
TEST(Grade, AWarningWhoseServerALimitStoppedEarnsNothing) {
  const auto rubric = csd::report::parse_rubric(R"({"checks": {"*": 2}, "warning_share": 0.5})");
  csd::report::Summary summary;
  summary.tests = {outcome("ivan", "robust/a", Verdict::warn),
                   outcome("ivan", "robust/b", Verdict::warn)};
  summary.tests[1].figures["stopped_by_limit"] = "processes: the tree reached 1025 processes";
  const auto graded = csd::report::grade(summary, rubric);
  ASSERT_EQ(graded.size(), 1U);
  ASSERT_EQ(graded[0].checks.size(), 2U);
  EXPECT_EQ(graded[0].checks[0].score, 1) << "a warning: its share";
  EXPECT_EQ(graded[0].checks[1].score, 0);
  EXPECT_EQ(graded[0].checks[1].verdict, Verdict::fail);
  EXPECT_THAT(graded[0].checks[1].output, ::testing::StartsWith("fail: "));
}

// A server that never answers is stopped by time: a wait that ran out
// (the figure timed_out) as much as a check out of its budget.
TEST(Grade, AWaitThatRanOutIsATimeStop) {
  const auto rubric = csd::report::parse_rubric(R"({"checks": {"*": 1}})");
  csd::report::Summary summary;
  summary.tests = {outcome("judy", "size/a", Verdict::fail)};
  summary.tests[0].figures["timed_out"] = "timeout in recv after 0 of 1 bytes (limit 10.00 s)";
  const auto graded = csd::report::grade(summary, rubric);
  ASSERT_EQ(graded.size(), 1U);
  ASSERT_EQ(graded[0].stopped_by.size(), 1U);
  EXPECT_EQ(graded[0].stopped_by[0].limit, "time");
  EXPECT_EQ(graded[0].stopped_by[0].first, "timeout in recv after 0 of 1 bytes (limit 10.00 s)");
}

}  // namespace
