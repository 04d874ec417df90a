// csd-report and csd-suite as a user and a CI system meet them. Verify for
// the sequences: a run, then a refused run (bad manifest) -> exit 2 and the
// first run's results untouched; csd-report or csd-suite SIGKILLed while a
// server runs -> every process they started is gone, and the next run tidies
// the folder the killed one left.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "files.hpp"
#include "procfs.hpp"
#include "run.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using csd::selftest::contents;

// One reference server's quick check: a run that takes well under a second.
const std::string kQuickRun = "--filter=Impl/Size.SmallRepliesExact/csd_fork";

TEST(ReportRun, WritesItsFolderAndARefusedRunLeavesItAsItWas) {
  const csd::harness::TempDir results("csd-selftest-report");
  const auto first = csd::harness::run_to_completion(
      {CSD_REPORT_BINARY, "-o", results.path().string(), kQuickRun}, 120s);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (const char* file : {"report.json", "junit.xml", "report.html", "suite.json", "suite.log"})
    EXPECT_TRUE(fs::exists(results.path() / file)) << file << " missing:\n" << first.output;
  const auto report = nlohmann::json::parse(contents(results.path() / "report.json"));
  ASSERT_EQ(report.at("results").size(), 1U) << report.dump(2);
  EXPECT_EQ(report["results"][0]["id"], "size/small-replies-exact");
  EXPECT_EQ(report["results"][0]["verdict"], "pass");
  const std::string before = contents(results.path() / "report.json");

  const fs::path bad = results.path() / "bad-manifest.json";
  std::ofstream(bad) << R"({"name": "no-command"})";
  const auto refused = csd::harness::run_to_completion(
      {CSD_REPORT_BINARY, "-o", results.path().string(), bad.string()}, 120s);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("the last run's"), std::string::npos) << refused.output;
  EXPECT_EQ(contents(results.path() / "report.json"), before);
  for (const auto& entry : fs::directory_iterator(results.path()))
    EXPECT_FALSE(entry.path().filename().string().starts_with(".run.")) << entry.path();
}

// --checks takes one pattern per use: the manifest after it is a manifest.
TEST(ReportRun, ChecksTakeOnePatternEach) {
  const csd::harness::TempDir results("csd-selftest-report-checks");
  const auto run = csd::harness::run_to_completion(
      {CSD_REPORT_BINARY, "-o", results.path().string(), "--checks", "size/small-*",
       std::string(CSD_BROKEN_DIR) + "/short-reply.json", "--checks", "size/large-*"},
      120s);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const auto report = nlohmann::json::parse(contents(results.path() / "report.json"));
  std::vector<std::string> ids;
  for (const auto& result : report.at("results")) ids.push_back(result.at("id"));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"size/large-reply-exact", "size/small-replies-exact"}));
}

TEST(ReportRun, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{CSD_REPORT_BINARY, "--bogus"},
        std::vector<std::string>{CSD_REPORT_BINARY, "/nonexistent/manifest.json"},
        std::vector<std::string>{CSD_REPORT_BINARY, "--timeout-multiplier", "-1"}}) {
    const auto run = csd::harness::run_to_completion(argv, 30s);
    EXPECT_EQ(run.exit_code, 2) << argv[1] << ":\n" << run.output;
  }
}

// A process as /proc knows it now: its pid and start time, which together
// name it even after the pid is reused.
struct Process {
  pid_t pid = 0;
  uint64_t started = 0;
  std::string comm;
};

bool still_alive(const Process& p) {
  const auto now = csd::harness::read_proc(p.pid);
  return now && now->start_ticks == p.started && now->state != 'Z';
}

// For the length of a test, this process adopts the orphans of what it
// starts (PR_SET_CHILD_SUBREAPER), so that the test sees them, whereas under
// csd-guard, the guard would clean up the victim's mess and hide it; and it
// SIGKILLs and reaps whatever the victim left alive.
class Adopter {
 public:
  Adopter() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~Adopter() {
    for (const auto& p : adopted) {
      if (still_alive(p))
        ::kill(p.pid, SIGKILL);
    }
    for (const auto& p : adopted) (void)::waitpid(p.pid, nullptr, 0);
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  Adopter(const Adopter&) = delete;
  Adopter& operator=(const Adopter&) = delete;

  std::vector<Process> adopted;  // the victim's descendants, for the destructor
};

// Starts argv with a parent-death signal (it dies with this test's process).
pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
      ::_exit(126);
    // Keep the terminal and the test log clean; csd-report's results go to its folder.
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

class KilledMidRun : public ::testing::TestWithParam<const char*> {};

// SIGKILL gives a program no chance to clean up: what it started must die on
// its own (PR_SET_PDEATHSIG, csd-guard), while a server is running.
TEST_P(KilledMidRun, LeavesNoProcessBehind) {
  const std::string victim = GetParam();
  const csd::harness::TempDir results("csd-selftest-killed");
  // Every reference implementation: a run far longer than the 10 s the
  // test allows for the aftermath, so that an orphan cannot pass it by
  // finishing its run.
  std::vector<std::string> argv;
  if (victim == "csd-report") {
    argv = {CSD_REPORT_BINARY, "-o", results.path().string()};
  } else {
    argv = {CSD_SUITE_BINARY, "--gtest_output=json:" + (results.path() / "suite.json").string()};
  }
  Adopter adopter;
  const pid_t pid = spawn(argv);
  ASSERT_GT(pid, 0);
  // Under csd-report: csd-suite, csd-guard, a server (and its workers).
  std::vector<Process>& started = adopter.adopted;
  const bool server_up = csd::harness::wait_until(
      [&] {
        bool server = false;
        for (const pid_t child : csd::harness::descendants(pid)) {
          const auto info = csd::harness::read_proc(child);
          if (!info)
            continue;
          if (std::none_of(started.begin(), started.end(),
                           [&](const Process& p) { return p.pid == child; }))
            started.push_back({child, info->start_ticks, info->comm});
          server = server || (info->comm != "csd-suite" && info->comm != "csd-guard");
        }
        return server;
      },
      30s);
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(server_up) << "no server below " << victim << " within 30 s";
  const bool all_gone = csd::harness::wait_until(
      [&] { return std::none_of(started.begin(), started.end(), still_alive); }, 10s);
  std::string left;
  for (const auto& p : started) {
    if (still_alive(p))
      left += " " + std::to_string(p.pid) + " (" + p.comm + ")";
  }
  EXPECT_TRUE(all_gone) << "10 s after SIGKILL of " << victim << ", still alive:" << left;

  if (victim == "csd-report") {
    // It left its run's folder; the next run removes it.
    const auto next = csd::harness::run_to_completion(
        {CSD_REPORT_BINARY, "-o", results.path().string(), kQuickRun}, 120s);
    EXPECT_EQ(next.exit_code, 0) << next.output;
    for (const auto& entry : fs::directory_iterator(results.path()))
      EXPECT_FALSE(entry.path().filename().string().starts_with(".run.")) << entry.path();
  }
}

INSTANTIATE_TEST_SUITE_P(Programs, KilledMidRun, ::testing::Values("csd-report", "csd-suite"),
                         [](const ::testing::TestParamInfo<const char*>& program) {
                           std::string name = program.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
