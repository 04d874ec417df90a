// What a server may use (harness/limits.hpp) and csd-guard enforcing it:
// a fork bomb, a memory hog and a write past the file size are each stopped
// alone, said in one line, and leave nothing behind.
#include "limits.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "guarded_process.hpp"
#include "helpers/test_support.hpp"
#include "procfs.hpp"
#include "run.hpp"
#include "server_process.hpp"
#include "temp_dir.hpp"
#include "tree_usage.hpp"
#include "wait.hpp"

namespace csd::harness {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

TEST(ParseSize, BytesOrPowersOf1024) {
  EXPECT_EQ(parse_size("4096"), 4096U);
  EXPECT_EQ(parse_size("512K"), 512U << 10);
  EXPECT_EQ(parse_size("16M"), 16U << 20);
  EXPECT_EQ(parse_size("16MiB"), 16U << 20);
  EXPECT_EQ(parse_size("2G"), uint64_t{2} << 30);
  EXPECT_EQ(parse_size("1T"), uint64_t{1} << 40);
  for (const char* bad : {"", "0", "0M", "-1", "M", "12x", "1.5G", " 5", "5 M", "16m", "99999999T"})
    EXPECT_FALSE(parse_size(bad)) << '"' << bad << '"';
}

TEST(SizeText, ForPeople) {
  EXPECT_EQ(size_text(100), "100 B");
  EXPECT_EQ(size_text(16U << 20), "16 MiB");
  EXPECT_EQ(size_text(uint64_t{3} << 29), "1.5 GiB");
  EXPECT_EQ(size_text(65536), "64 KiB");
}

TEST(ServerLimits, TheTighterOfEachWins) {
  const ServerLimits manifest{.processes = 64, .memory = 512U << 20, .file_size = std::nullopt};
  const ServerLimits run{.processes = 100, .memory = 256U << 20, .file_size = 1U << 20};
  const ServerLimits both = manifest.tightest(run);
  EXPECT_EQ(both.processes, 64);
  EXPECT_EQ(both.memory, 256U << 20);
  EXPECT_EQ(both.file_size, 1U << 20) << "one side's limit holds when the other has none";
  EXPECT_FALSE(both.descriptors);
  EXPECT_FALSE(ServerLimits{}.any());
  EXPECT_THAT(both.guard_options(), ElementsAre("--max-processes", "64", "--max-memory",
                                                "268435456", "--max-file-size", "1048576"));
}

TEST(FindLimitStop, TheTextAfterTheGuardsWords) {
  EXPECT_FALSE(find_limit_stop("listening on 127.0.0.1:5000\n"));
  EXPECT_EQ(find_limit_stop("listening on 127.0.0.1:5000\ncsd-guard: limit: processes: the tree "
                            "reached 71 processes, over its limit of 64; killed\n"),
            "processes: the tree reached 71 processes, over its limit of 64; killed");
  EXPECT_EQ(find_limit_stop("csd-guard: limit: file size: pid 9 was killed"),
            "file size: pid 9 "
            "was killed");
}

// The guard's cheap walk of its tree finds what a scan of all of /proc does.
TEST(TreeUsage, TheChildrenListsSeeWhatProcSees) {
  detail::GuardedProcess three({"sh", "-c", "sleep 1000 & sleep 1000 & wait"});
  const pid_t guard = three.guard_pid();
  ASSERT_TRUE(wait_until([&] { return descendants(guard).size() == 3; }, 10s))
      << "awaited sh and its two sleeps below the guard";
  std::vector<pid_t> walked = tree_below(guard);
  std::vector<pid_t> scanned = descendants(guard);
  std::ranges::sort(walked);
  std::ranges::sort(scanned);
  EXPECT_EQ(walked, scanned);
  EXPECT_GT(anonymous_bytes(walked), 0U);
  EXPECT_EQ(anonymous_bytes({}), 0U);
  EXPECT_GE(tasks_on_the_machine().value_or(0), walked.size() + 1)
      << "the machine's tasks bound the tree's processes, the guard among them";
}

// The lines of `output` that say a limit stopped the tree.
std::vector<std::string> limit_lines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(kGuardLimitLine))
      lines.push_back(line);
  }
  return lines;
}

// Processes anywhere whose command line is exactly `argv`: what a test's
// program left behind (its arguments made unique to the test).
std::vector<pid_t> processes_running(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const auto& arg : argv) wanted += arg + '\0';
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    const std::string text{std::istreambuf_iterator<char>(cmdline), {}};
    if (text == wanted)
      found.push_back(std::stoi(name));
  }
  return found;
}

// The guard's way out, once it has gone: its wait status and everything it
// and its program wrote.
struct Ended {
  int status = 0;
  std::string output;
};

Ended end_of(detail::GuardedProcess& guarded, std::chrono::seconds within) {
  const auto deadline = detail::Clock::now() + within;
  EXPECT_TRUE(guarded.wait_guard_exit(deadline))
      << "csd-guard still running after " << within.count() << " s:\n"
      << guarded.output().text();
  const auto status = guarded.reap();
  EXPECT_TRUE(status);
  guarded.output().wait_eof(deadline);
  return {status.value_or(0), guarded.output().text()};
}

// That `ended` was killed by `signal`, and the guard said why in one line
// that matches `line`.
void expect_stopped(const Ended& ended, int signal, const std::string& line) {
  EXPECT_TRUE(WIFSIGNALED(ended.status) && WTERMSIG(ended.status) == signal)
      << describe_wait_status(ended.status) << "\n"
      << ended.output;
  const auto lines = limit_lines(ended.output);
  ASSERT_EQ(lines.size(), 1U) << ended.output;
  EXPECT_THAT(lines[0], MatchesRegex(line));
}

// A shell that starts sleeps without end, as fast as it can: the tree goes
// past 8 processes within milliseconds, and the guard must kill all of it.
TEST(GuardLimits, AForkBombIsKilledAtItsProcessLimit) {
  const std::string duration = fmt::format("1000.{}", ::getpid());  // unique to this test
  detail::GuardedProcess bomb({"sh", "-c", "while :; do sleep " + duration + " & done"}, false,
                              ServerLimits{.processes = 8});
  expect_stopped(end_of(bomb, 20s), SIGKILL,
                 "csd-guard: limit: processes: the tree reached [0-9]+ processes, over its "
                 "limit of 8; killed");
  EXPECT_THAT(processes_running({"sleep", duration}), ::testing::IsEmpty())
      << "the bomb's sleeps outlived the guard";
}

// `tail` of a file without a newline keeps all of it: its heap (anonymous
// memory) grows without end, summed over the tree by the guard.
TEST(GuardLimits, AMemoryHogIsKilledAtItsMemoryLimit) {
  detail::GuardedProcess hog({"tail", "/dev/zero"}, false, ServerLimits{.memory = 64U << 20});
  expect_stopped(end_of(hog, 30s), SIGKILL,
                 "csd-guard: limit: memory: the tree used [0-9.]+ MiB( \\([0-9]+ bytes\\))? of "
                 "anonymous memory, over its limit of 64 MiB( \\(67108864 bytes\\))?; killed");
}

// RLIMIT_FSIZE is the kernel's: the write past it is SIGXFSZ, and the guard,
// reaping its program, says which limit that was.
TEST(GuardLimits, AWritePastTheFileSizeLimitIsSaid) {
  const TempDir dir("csd-guard-fsize");
  const fs::path file = dir.path() / "log";
  detail::GuardedProcess writer(
      {"sh", "-c", "exec head -c 100000 /dev/zero > '" + file.string() + "'"}, false,
      ServerLimits{.file_size = 65536});
  expect_stopped(end_of(writer, 20s), SIGXFSZ,
                 "csd-guard: limit: file size: pid [0-9]+ was killed by SIGXFSZ writing past "
                 "64 KiB");
  EXPECT_EQ(fs::file_size(file), 65536U);
}

// Within its limits a program runs as it would without them, and the guard
// exits as it did.
TEST(GuardLimits, AProgramWithinItsLimitsEndsAsItWould) {
  detail::GuardedProcess quiet({"sh", "-c", "echo fine; exit 3"}, false,
                               ServerLimits{.processes = 8, .memory = 256U << 20});
  const Ended ended = end_of(quiet, 20s);
  EXPECT_TRUE(WIFEXITED(ended.status) && WEXITSTATUS(ended.status) == 3)
      << describe_wait_status(ended.status);
  EXPECT_EQ(ended.output, "fine\n");
}

// "Max file size  SOFT  HARD  bytes" and "Max open files ..." of a program
// the guard started with its options in any order.
TEST(GuardLimits, OptionsInAnyOrderAndNonsenseRefused) {
  const std::string guard = detail::guard_path().string();
  const auto limits = run_to_completion({guard, "--max-file-size", "1048576", "--nofile", "20",
                                         "--max-processes", "50", "--", "cat", "/proc/self/limits"},
                                        10s);
  EXPECT_EQ(limits.exit_code, 0) << limits.output;
  EXPECT_THAT(limits.output, MatchesRegex("(.|\n)*Max file size +1048576 +1048576 +bytes(.|\n)*"));
  EXPECT_THAT(limits.output, MatchesRegex("(.|\n)*Max open files +20 +20 +files(.|\n)*"));
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--max-processes", "0"},
                                              {"--max-memory", "512M"},
                                              {"--max-file-size", "-1"},
                                              {"--max-cpu", "3"},
                                              {"--max-processes"}}) {
    std::vector<std::string> argv{guard};
    argv.insert(argv.end(), bad.begin(), bad.end());
    argv.insert(argv.end(), {"--", "true"});
    const auto refused = run_to_completion(argv, 10s);
    EXPECT_EQ(refused.exit_code, 2) << bad[0] << ": " << refused.output;
    EXPECT_THAT(refused.output, StartsWith("usage: csd-guard [--nofile N] [--max-processes N]"))
        << bad[0];
  }
}

// "Max file size    SOFT    HARD    bytes" from /proc/PID/limits, as "SOFT HARD".
std::string file_size_limits(pid_t pid) {
  std::ifstream limits(fmt::format("/proc/{}/limits", pid));
  for (std::string line; std::getline(limits, line);) {
    if (line.starts_with("Max file size")) {
      std::istringstream fields(line.substr(std::string_view("Max file size").size()));
      std::string soft;
      std::string hard;
      fields >> soft >> hard;
      return soft.append(" ").append(hard);
    }
  }
  return "(no Max file size line)";
}

// The manifest's limits and the run's (csd-suite --max-*) reach the server,
// the tighter of each.
TEST(GuardLimits, AServerRunsWithinTheTighterOfTheManifestsAndTheRunsLimits) {
  Manifest m;
  m.path = "(unit test)";
  m.name = "fake-server";
  m.model = "other";
  m.command = {unit::helper_server(), "--host", "{host}", "--port", "{port}"};
  m.limits.file_size = 1U << 20;
  m.limits.processes = 50;
  struct RunLimits {
    RunLimits() { set_run_limits({.file_size = 512U << 10}); }
    ~RunLimits() { set_run_limits({}); }
    RunLimits(const RunLimits&) = delete;
    RunLimits& operator=(const RunLimits&) = delete;
  };
  std::unique_ptr<ServerProcess> server;
  {
    const RunLimits run;
    server = ServerProcess::start(m);
  }
  EXPECT_EQ(file_size_limits(server->pid()), "524288 524288");
  m.limits = {};
  const auto unlimited = ServerProcess::start(m);
  EXPECT_EQ(file_size_limits(unlimited->pid()), "unlimited unlimited");
}

}  // namespace
}  // namespace csd::harness
