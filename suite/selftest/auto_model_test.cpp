// "model": "auto", run for real on copies of reference manifests written into
// a temporary folder. Verify: an auto copy of csd-prefork registers the pool
// checks (Pool.*, as csd-suite --gtest_list_tests lists them) and says what
// it saw on stderr; an auto copy of csd-thread registers none of them;
// --assume-model takes the place of watching, and a model that is not the
// server's fails shape/declared-model ("the design must be stable");
// csd-report --jobs 2 watches each auto server once (one line on stderr,
// none from its csd-suites) and every csd-suite registers the tests of the
// plan; report.json's implementation says what it was.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "files.hpp"
#include "run.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using csd::selftest::contents;

const fs::path kImpls = fs::path(CSD_BROKEN_DIR) / ".." / "impls";

// The reference manifest `file` of fixtures/impls, named `name`, its model
// "auto", written into `dir`; its {workers} and the rest as they were. Bare
// program names are found next to csd-suite, wherever the manifest is.
fs::path auto_copy(const fs::path& dir, const std::string& file, const std::string& name) {
  auto manifest = nlohmann::json::parse(contents(kImpls / file));
  manifest["name"] = name;
  manifest["model"] = "auto";
  fs::path copy = dir / (name + ".json");
  std::ofstream(copy) << manifest.dump(2);
  return copy;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

csd::harness::RunResult suite(std::vector<std::string> args) {
  args.insert(args.begin(), CSD_SUITE_BINARY);
  return csd::harness::run_to_completion(args, 120s);
}

TEST(AutoModel, APreforkServerGetsThePoolChecks) {
  const csd::harness::TempDir dir("csd-selftest-auto");
  const auto manifest = auto_copy(dir.path(), "prefork.json", "auto-prefork");
  const auto run = suite({"--impl", manifest.string(), "--gtest_list_tests"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(count(run.output,
                  "csd-suite: auto-prefork: model auto: observed prefork: a pool of "
                  "4 processes"),
            1U)
      << run.output;
  EXPECT_NE(run.output.find("Impl/Pool."), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("PoolSizeExact/auto_prefork"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("DeclaredModel/auto_prefork"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("auto_prefork_ipv6"), std::string::npos)
      << "its copy on ::1 has the model too:\n"
      << run.output;
}

TEST(AutoModel, AThreadServerGetsNoPoolCheck) {
  const csd::harness::TempDir dir("csd-selftest-auto");
  const auto manifest = auto_copy(dir.path(), "thread.json", "auto-thread");
  const auto run = suite({"--impl", manifest.string(), "--gtest_list_tests"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("csd-suite: auto-thread: model auto: observed thread: a new thread "
                            "per connection"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("Impl/Pool."), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("PoolSizeExact"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("PerClientWorkersExit/auto_thread"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("DeclaredModel/auto_thread"), std::string::npos) << run.output;
}

// --assume-model: not watched; a model the server does not show at the
// check's start fails shape/declared-model with both.
TEST(AutoModel, AnAssumedModelIsTakenAndHeldToTheServer) {
  const csd::harness::TempDir dir("csd-selftest-auto");
  const auto manifest = auto_copy(dir.path(), "thread.json", "auto-thread");
  const fs::path json = dir.path() / "results.json";
  const auto run =
      suite({"--impl", manifest.string(), "--assume-model", "auto-thread=prefork",
             "--gtest_filter=*DeclaredModel*", "--gtest_output=json:" + json.string()});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(run.output.find("model auto: observed"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("declared auto, observed prefork at the start, now a new thread per "
                            "connection"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("the design must be stable"), std::string::npos) << run.output;

  for (const auto& [spec, problem] :
       {std::pair{"nobody=prefork", "no manifest named nobody says \"model\": \"auto\""},
        std::pair{"auto-thread=forking", "forking is no model"},
        std::pair{"auto-thread", "expected NAME=MODEL"}}) {
    const auto refused =
        suite({"--impl", manifest.string(), "--assume-model", spec, "--gtest_list_tests"});
    EXPECT_EQ(refused.exit_code, 2) << spec << ":\n" << refused.output;
    EXPECT_NE(refused.output.find(problem), std::string::npos) << refused.output;
  }
}

// csd-report --jobs 2: watched once, by csd-report, and every csd-suite of
// the run registers the plan's tests.
TEST(AutoModel, ReportWatchesOnceForEveryJob) {
  const csd::harness::TempDir dir("csd-selftest-auto");
  const auto manifest = auto_copy(dir.path(), "prefork.json", "auto-prefork");
  const fs::path out = dir.path() / "results";
  const auto run = csd::harness::run_to_completion({CSD_REPORT_BINARY, manifest.string(), "--jobs",
                                                    "2", "--checks", "shape/*", "-o", out.string()},
                                                   300s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(count(run.output, "model auto: observed prefork"), 2U)
      << "once on stderr, once under its row of the summary:\n"
      << run.output;
  EXPECT_EQ(count(run.output, "csd-report: auto-prefork: model auto: observed prefork"), 1U)
      << run.output;
  EXPECT_EQ(count(contents(out / "suite.log"), "model auto"), 0U)
      << "a csd-suite watched it again:\n"
      << contents(out / "suite.log");
  const auto plan = nlohmann::json::parse(contents(out / "run.json")).at("plan");
  const auto report = nlohmann::json::parse(contents(out / "report.json"));
  std::vector<std::string> ran;
  for (const auto& result : report.at("results")) ran.push_back(result.at("test"));
  EXPECT_EQ(nlohmann::json(ran), plan) << run.output;
  EXPECT_NE(plan.dump().find("PoolSizeExact/auto_prefork"), std::string::npos) << plan.dump(2);
  bool found = false;
  for (const auto& implementation : report.at("implementations")) {
    if (implementation.at("name") != "auto-prefork")
      continue;
    found = true;
    const auto& observed = implementation.at("observed_model");
    EXPECT_EQ(observed.at("model"), "prefork") << observed.dump(2);
    EXPECT_EQ(observed.at("declared"), "auto") << observed.dump(2);
    EXPECT_FALSE(observed.at("evidence").empty()) << observed.dump(2);
  }
  EXPECT_TRUE(found) << report.at("implementations").dump(2);
  // The line that reruns a test names the user's manifest, not a copy.
  EXPECT_NE(contents(out / "suite.json").find(fs::absolute(manifest).string()), std::string::npos);
}

}  // namespace
