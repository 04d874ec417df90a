// Verify for the servers that would harm the others of a class: one that
// forks without end, one that fills the disk, one that eats the memory.
// Each is stopped by its limit (its manifest's "limits", or csd-suite's
// --max-*), alone and soon; the check that ran it fails with the limit named
// first in its reason and as the figure stopped_by_limit; and nothing of it
// is left on the machine.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "budgets.hpp"
#include "run.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace csd::selftest {
namespace {

// Set in the environment of the csd-suite a test runs, which its servers
// inherit: what carries it after the run is a process the run left behind.
constexpr std::string_view kMarkVariable = "CSD_SELFTEST_LIMITS";

struct LimitCase {
  std::string fixture;  // fixtures/broken/<fixture>.json
  std::string check;    // a gtest filter: checks that reach the bug (several connections)
  std::string limit;    // how stopped_by_limit begins: "processes: "
};

// What googletest shows of a case: its fixture, not its bytes.
void PrintTo(const LimitCase& c, std::ostream* os) { *os << c.fixture; }

// fork-bomb forks without end after its first reply; fills-disk and
// eats-memory pass their limit at their fifth request (1 MiB of log, or a
// 64 MiB buffer, per request): each check here makes more.
const LimitCase kLimitCases[] = {
    {"fork-bomb", "*Size.SmallRepliesExact/*:*Life.NoZombies*/*", "processes: "},
    {"fills-disk", "*Robust.GarbageThenValid/*:*Load.TenClientsSize/*", "file size: "},
    {"eats-memory", "*Load.TenClientsSize/*", "memory: "},
};

// Processes whose environment holds `mark`: what a run left behind.
std::vector<std::string> processes_marked(const std::string& mark) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream environ(entry.path() / "environ");
    const std::string text{std::istreambuf_iterator<char>(environ), {}};
    if (text.find(mark + '\0') == std::string::npos)
      continue;
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    found.push_back(fmt::format("{} ({})", pid, name));
  }
  return found;
}

struct LimitedRun {
  csd::harness::RunResult run;
  csd::report::Summary summary;
  std::vector<std::string> left_behind;
};

// Runs csd-suite over `manifest` with `flags`, marked; reads its results.
LimitedRun run_suite(const fs::path& manifest, const std::string& filter,
                     const std::vector<std::string>& flags, const std::string& name) {
  const csd::harness::TempDir results("csd-selftest-limits-" + name);
  const fs::path json = results.path() / "results.json";
  const std::string mark = fmt::format("{}={}-{}", kMarkVariable, ::getpid(), name);
  std::vector<std::string> argv{"env",
                                mark,
                                CSD_SUITE_BINARY,
                                "--impl",
                                manifest.string(),
                                "--gtest_filter=" + filter,
                                "--gtest_output=json:" + json.string()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  LimitedRun limited;
  limited.run = csd::harness::run_to_completion(argv, 240s);
  if (fs::exists(json)) {
    std::ifstream in(json);
    csd::report::add_results(nlohmann::json::parse(in), limited.summary, results.path());
  }
  // csd-suite has ended: every csd-guard it started has reaped its tree.
  limited.left_behind = processes_marked(mark);
  return limited;
}

// What a run whose servers a limit stopped must show: a failed run, every
// test failed by the limit (its figure and its reason's start), within its
// budget, and nothing left.
void expect_stopped_by(const LimitedRun& limited, const std::string& limit) {
  ASSERT_FALSE(limited.run.timed_out) << limited.run.output;
  ASSERT_EQ(limited.run.exit_code, 1) << limited.run.output;
  ASSERT_FALSE(limited.summary.tests.empty()) << "no test ran:\n" << limited.run.output;
  for (const auto& test : limited.summary.tests) {
    SCOPED_TRACE(test.test);
    EXPECT_EQ(test.verdict, csd::report::Outcome::Verdict::fail);
    const auto figure = test.figures.find("stopped_by_limit");
    ASSERT_NE(figure, test.figures.end()) << "no stopped_by_limit: " << test.reason;
    EXPECT_TRUE(figure->second.starts_with(limit)) << figure->second;
    EXPECT_TRUE(test.reason.starts_with("the server was stopped by a limit: " + limit))
        << test.reason;
  }
  EXPECT_TRUE(EndedWithinBudgets(limited.summary));
  EXPECT_TRUE(limited.left_behind.empty())
      << "processes the run left behind: "
      << fmt::format("{}", fmt::join(limited.left_behind, ", "));
}

class Limits : public ::testing::TestWithParam<LimitCase> {};

TEST_P(Limits, TheLimitStopsTheServerAndTheReasonNamesIt) {
  const LimitCase& c = GetParam();
  const fs::path manifest = fs::path(CSD_BROKEN_DIR) / (c.fixture + ".json");
  expect_stopped_by(run_suite(manifest, c.check, {}, c.fixture), c.limit);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Limits, ::testing::ValuesIn(kLimitCases),
                         [](const auto& param_info) {
                           std::string name = param_info.param.fixture;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// A manifest of the fork bomb without its limit, named `name`, in `dir`.
fs::path unlimited_fork_bomb(const fs::path& dir, const std::string& name,
                             const std::string& model) {
  fs::path manifest = dir / "fork-bomb.json";
  const fs::path bomb = fs::path(CSD_SUITE_BINARY).parent_path() / "csd-broken-fork-bomb";
  std::ofstream(manifest) << nlohmann::json{
      {"name", name}, {"command", {bomb.string(), "-p", "{port}"}}, {"model", model}};
  return manifest;
}

// csd-suite --max-processes holds for a manifest that declares no limit,
// and the line that reruns a failed test keeps it.
TEST(Limits, TheRunsLimitHoldsForAManifestWithoutOne) {
  const csd::harness::TempDir dir("csd-selftest-limits-flag");
  const fs::path manifest = unlimited_fork_bomb(dir.path(), "unlimited-fork-bomb", "fork");
  const LimitedRun limited =
      run_suite(manifest, "*Size.SmallRepliesExact/*", {"--max-processes", "64"}, "flag");
  expect_stopped_by(limited, "processes: ");
  ASSERT_FALSE(limited.summary.tests.empty());
  const auto& test = limited.summary.tests.front();
  EXPECT_NE(test.figures.at("stopped_by_limit").find("over its limit of 64"), std::string::npos)
      << test.figures.at("stopped_by_limit");
  EXPECT_NE(test.reproduce.find("--max-processes=64"), std::string::npos) << test.reproduce;
}

// The servers csd-report watches itself, before any csd-suite (--identify,
// "model": "auto"), are held to the run's limits too, and the watch says
// the limit stopped it rather than name a design.
TEST(Limits, AWatchedServerIsHeldToTheRunsLimit) {
  const csd::harness::TempDir dir("csd-selftest-limits-watch");
  const fs::path manifest = unlimited_fork_bomb(dir.path(), "watched-fork-bomb", "auto");
  const std::string mark = fmt::format("{}={}-watch", kMarkVariable, ::getpid());
  const auto run = csd::harness::run_to_completion(
      {"env", mark, CSD_REPORT_BINARY, "--identify", "--max-processes", "64", manifest.string()},
      120s);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("watched-fork-bomb: not observed (declared auto)\n  unknown: not "
                            "observed: the server was stopped by a limit: processes: the tree "
                            "reached "),
            std::string::npos)
      << run.output;
  const auto left = processes_marked(mark);
  EXPECT_TRUE(left.empty()) << "processes the watch left behind: "
                            << fmt::format("{}", fmt::join(left, ", "));
}

// A limit that is no size is refused before anything runs.
TEST(Limits, ABadLimitIsAUsageError) {
  const auto run = csd::harness::run_to_completion(
      {CSD_SUITE_BINARY, "--max-memory", "lots", "--gtest_list_tests"}, 60s);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("--max-memory lots: a size"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace csd::selftest
