// Verify for the servers that cost a user most: one that accepts and never
// answers, and a pool that stops accepting (each worker dies after its first
// client, nobody reaps or replaces it, its backlog of 5 fills): every check
// fails on them, or passes, within its budget; and the run ends.
#include "budgets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "run.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace csd::selftest {

namespace {

// BudgetWatch::kGrace (suite/tests/budget_watch.hpp), scaled like the budget.
constexpr double kBackstopGraceSeconds = 5;

}  // namespace

::testing::AssertionResult EndedWithinBudgets(const csd::report::Summary& summary,
                                              double multiplier) {
  std::map<std::string, double> budgets;
  for (const auto& check : catalogue_checks())
    budgets[check.at("id").get<std::string>()] = check.at("budget_s").get<double>();
  std::string over;
  int checked = 0;
  for (const auto& test : summary.tests) {
    const auto budget = budgets.find(test.check_id);
    if (budget == budgets.end())
      continue;  // a demo's test: no check of the catalogue
    ++checked;
    const double most = (budget->second + kBackstopGraceSeconds) * multiplier;
    if (test.seconds > most) {
      over += fmt::format("\n  {} on {}: {:.1f} s, its budget {} s (x{}), at most {:.1f} s",
                          test.check_id, test.implementation, test.seconds, budget->second,
                          multiplier, most);
    }
  }
  if (!over.empty())
    return ::testing::AssertionFailure() << "checks that outlived their budgets:" << over;
  return ::testing::AssertionSuccess() << checked << " checks within their budgets";
}

namespace {

// Budgets and deadlines scale together: at x0.3 the run proves the same in a
// third of the time.
constexpr double kMultiplier = 0.3;

class Budget : public ::testing::TestWithParam<std::string> {};

TEST_P(Budget, EveryCheckEndsWithinItsBudget) {
  const fs::path manifest = fs::path(CSD_BROKEN_DIR) / (GetParam() + ".json");
  const csd::harness::TempDir results("csd-selftest-budget-" + GetParam());
  const fs::path json = results.path() / "results.json";
  const auto run =
      csd::harness::run_to_completion({CSD_SUITE_BINARY, "--strict", "--impl", manifest.string(),
                                       fmt::format("--timeout-multiplier={}", kMultiplier),
                                       "--gtest_brief=1", "--gtest_output=json:" + json.string()},
                                      600s);
  ASSERT_FALSE(run.timed_out) << "csd-suite did not end within 600 s:\n" << run.output;
  ASSERT_EQ(run.exit_code, 1) << "expected failed checks and a finished run:\n" << run.output;
  std::ifstream in(json);
  csd::report::Summary summary;
  csd::report::add_results(nlohmann::json::parse(in), summary, results.path());
  EXPECT_GT(summary.total().failed + summary.total().warned, 0);
  EXPECT_TRUE(EndedWithinBudgets(summary, kMultiplier));
}

// The backstop, apart from every check's own code: csd-suite's test
// Backstop.UnboundedWaitIsEnded (suite/tests/backstop.hpp, registered only
// for this) waits with no deadline for a program that never ends, as a check
// with a bug would. csd-suite must fail it just past its budget (1 s) and
// the grace, kill what it started, and end the run normally.
TEST(Budget, BackstopEndsATestThatOutlivesItsBudget) {
  const csd::harness::TempDir results("csd-selftest-backstop");
  const fs::path json = results.path() / "results.json";
  const auto run = csd::harness::run_to_completion(
      {"env", "CSD_BACKSTOP_SELFTEST=1", CSD_SUITE_BINARY, "--gtest_filter=Backstop.*",
       "--gtest_output=json:" + json.string()},
      120s);
  ASSERT_FALSE(run.timed_out) << "csd-suite did not end within 120 s:\n" << run.output;
  ASSERT_EQ(run.exit_code, 1) << run.output;
  std::ifstream in(json);
  csd::report::Summary summary;
  csd::report::add_results(nlohmann::json::parse(in), summary, results.path());
  ASSERT_EQ(summary.failures.size(), 1U) << run.output;
  const auto& failure = summary.failures.front();
  EXPECT_EQ(failure.check, "Backstop.UnboundedWaitIsEnded");
  EXPECT_NE(failure.reason.find("exceeded its budget of 1 s"), std::string::npos) << failure.reason;
  EXPECT_NE(failure.reason.find("csd-suite ended it and killed 1 process tree"), std::string::npos)
      << failure.reason;
  // Ended by the backstop: past the budget and the grace, and soon after.
  EXPECT_GE(summary.tests.front().seconds, 1 + kBackstopGraceSeconds) << run.output;
  EXPECT_LT(summary.tests.front().seconds, 1 + kBackstopGraceSeconds + 10) << run.output;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Budget,
                         ::testing::Values("never-answers", "pool-dies-after-first"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace csd::selftest
