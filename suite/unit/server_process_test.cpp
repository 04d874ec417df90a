#include "server_process.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string_view>

#include "fd.hpp"
#include "guarded_process.hpp"  // detail::open_pidfd
#include "helpers/test_support.hpp"
#include "procfs.hpp"
#include "run.hpp"
#include "sockdiag.hpp"
#include "wait.hpp"

namespace csd::harness {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using unit::helper_server;

// The fake server as an implementation under test, with extra flags.
Manifest fake_server(std::vector<std::string> flags, bool listens = true) {
  Manifest m;
  m.path = "(unit test)";
  m.name = "fake-server";
  m.model = "other";
  m.command = {helper_server()};
  if (listens)
    m.command.insert(m.command.end(), {"--host", "{host}", "--port", "{port}"});
  m.command.insert(m.command.end(), flags.begin(), flags.end());
  return m;
}

bool can_connect(const std::string& host, uint16_t port) {
  const Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

pid_t pid_after(const std::string& output, const std::string& label) {
  const auto at = output.find(label);
  if (at == std::string::npos)
    return -1;
  return static_cast<pid_t>(std::stol(output.substr(at + label.size())));
}

// pidfds for `pids`, so that "gone" is checked without pid-reuse doubts.
std::vector<Fd> pidfds_of(const std::vector<pid_t>& pids) {
  std::vector<Fd> fds;
  fds.reserve(pids.size());
  for (const pid_t pid : pids) fds.push_back(detail::open_pidfd(pid));
  return fds;
}

bool exited(const Fd& pidfd) {
  pollfd p{pidfd.get(), POLLIN, 0};
  return !pidfd || ::poll(&p, 1, 0) > 0;
}

bool all_exit_within(const std::vector<Fd>& pidfds, std::chrono::milliseconds timeout) {
  return wait_until([&] { return std::all_of(pidfds.begin(), pidfds.end(), exited); }, timeout);
}

std::string survivors(const std::vector<pid_t>& pids, const std::vector<Fd>& pidfds) {
  std::string out;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    if (!exited(pidfds[i]))
      out += " " + describe(pids[i]);
  }
  return out;
}

std::string launch_error_of(const Manifest& m, const LaunchOptions& options = {}) {
  try {
    auto server = ServerProcess::start(m, options);
    ADD_FAILURE() << "started: " << server->output();
  } catch (const LaunchError& e) {
    return e.what();
  }
  return {};
}

// Every test must leave no child behind: no guard, no zombie.
class ServerProcessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::vector<std::string> left;
    for (const pid_t pid : children_of(::getpid())) left.push_back(describe(pid));
    EXPECT_THAT(left, IsEmpty()) << "processes left behind";
  }
};

TEST_F(ServerProcessTest, ReadyByLine) {
  const auto server = ServerProcess::start(fake_server({}));
  EXPECT_TRUE(server->running());
  EXPECT_EQ(server->name(), "fake-server");
  EXPECT_EQ(server->host(), "127.0.0.1");
  // Ready is "the line or the listening port", whichever is seen first.
  EXPECT_TRUE(
      server->wait_for_output(fmt::format("listening on 127.0.0.1:{}\n", server->port()), 5s));
  EXPECT_TRUE(can_connect(server->host(), server->port()));
  EXPECT_THAT(server->tree(), ElementsAre(server->pid()));

  const auto info = read_proc(server->pid());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->comm, "csd-unit-helper");  // comm is cut to 15 characters
  EXPECT_EQ(info->pgid, server->pid()) << "the server runs in its own process group";
  const auto guard = read_proc(info->ppid);
  ASSERT_TRUE(guard);
  EXPECT_EQ(guard->comm, "csd-guard");
  EXPECT_EQ(guard->ppid, ::getpid());

  const StopReport report = server->stop();
  EXPECT_EQ(report.signal_sent, SIGTERM);
  EXPECT_TRUE(report.exited_in_time);
  EXPECT_THAT(report.killed, IsEmpty());
  ASSERT_TRUE(report.exit_status);
  EXPECT_TRUE(WIFSIGNALED(*report.exit_status) && WTERMSIG(*report.exit_status) == SIGTERM)
      << "the guard passes on how the server ended: " << *report.exit_status;
  EXPECT_THAT(report.output, HasSubstr("listening on"));
  EXPECT_FALSE(server->running());
  EXPECT_THAT(server->tree(), IsEmpty());
  EXPECT_FALSE(read_proc(info->ppid)) << "the guard is reaped";

  const StopReport again = server->stop(SIGKILL);
  EXPECT_EQ(again.signal_sent, SIGTERM) << "stop() is idempotent";
}

TEST_F(ServerProcessTest, ReadyByPortWhenItPrintsNothing) {
  Manifest m = fake_server({"--quiet"});
  m.prints_ready_line = false;
  const auto server = ServerProcess::start(m);
  EXPECT_TRUE(tcp_port_listening(server->port()));
  EXPECT_TRUE(can_connect(server->host(), server->port()));
  EXPECT_EQ(server->output(), "");
}

TEST_F(ServerProcessTest, SilentServerIsReadyByPortEvenWithALineManifest) {
  const auto server = ServerProcess::start(fake_server({"--quiet"}));
  EXPECT_TRUE(can_connect(server->host(), server->port()));
}

TEST_F(ServerProcessTest, StdoutAndStderrAreOneStream) {
  const auto server =
      ServerProcess::start(fake_server({"--say", "to stdout", "--say-stderr", "to stderr"}));
  EXPECT_TRUE(server->wait_for_output("to stderr", 5s));
  EXPECT_THAT(server->output(), AllOf(HasSubstr("to stdout\n"), HasSubstr("to stderr\n")));
  EXPECT_FALSE(server->wait_for_output("never printed", 20ms));
}

// 4 MiB before it listens: far more than a pipe holds, so it only gets to
// listen if the harness drains the pipe while it waits.
TEST_F(ServerProcessTest, AChattyServerDoesNotBlockOnItsOutput) {
  const auto server = ServerProcess::start(fake_server({"--flood", "4194304"}));
  EXPECT_TRUE(server->wait_for_output("listening on", 5s));
  EXPECT_GE(server->output().size(), 4194304u);
}

TEST_F(ServerProcessTest, LaunchErrorWhenTheServerExitsEarly) {
  const std::string message = launch_error_of(
      fake_server({"--say", "bad config: xyz", "--say-stderr", "and on stderr", "--exit", "3"}));
  EXPECT_THAT(message, HasSubstr("fake-server exited (exit status 3) before it was ready"));
  EXPECT_THAT(message, HasSubstr("print 'listening on' nor listen on 127.0.0.1:"));
  EXPECT_THAT(message, HasSubstr("bad config: xyz"));
  EXPECT_THAT(message, HasSubstr("and on stderr"));
}

TEST_F(ServerProcessTest, LaunchErrorWhenTheServerDiesBySignal) {
  const std::string message = launch_error_of(fake_server({"--quiet", "--raise", "6"}, false));
  EXPECT_THAT(message, HasSubstr("killed by signal 6 (SIGABRT)"));
}

TEST_F(ServerProcessTest, LaunchErrorWhenExecFails) {
  Manifest m = fake_server({}, false);
  m.command = {"/nonexistent/csd-server"};
  const std::string message = launch_error_of(m);
  EXPECT_THAT(message, HasSubstr("exit status 127"));
  EXPECT_THAT(message,
              HasSubstr("csd-guard: exec /nonexistent/csd-server: No such file or directory"));
}

TEST_F(ServerProcessTest, LaunchErrorAtTheDeadline) {
  LaunchOptions options;
  options.ready_timeout = 300ms;
  const std::string message =
      launch_error_of(fake_server({"--say", "starting", "--quiet"}, false), options);
  EXPECT_THAT(message,
              HasSubstr("fake-server did not print 'listening on' nor listen on 127.0.0.1:"));
  EXPECT_THAT(message, HasSubstr("within 0.3 s; it was still running and has been killed"));
  EXPECT_THAT(message, HasSubstr("starting"));
}

TEST_F(ServerProcessTest, LaunchErrorAtTheDeadlineForAPortManifest) {
  Manifest m = fake_server({"--quiet"}, false);
  m.prints_ready_line = false;
  LaunchOptions options;
  options.ready_timeout = 200ms;
  EXPECT_THAT(launch_error_of(m, options), HasSubstr("fake-server did not listen on 127.0.0.1:"));
}

TEST_F(ServerProcessTest, WorkersOverrideAndTreeSize) {
  Manifest m = fake_server({"--workers", "{workers}"});
  m.workers = 2;
  LaunchOptions options;
  options.workers = 3;
  const auto server = ServerProcess::start(m, options);
  EXPECT_EQ(server->workers(), 3);
  ASSERT_TRUE(server->wait_for_tree_size(4, 5s)) << server->tree().size();
  const auto tree = server->tree();
  EXPECT_EQ(tree.front(), server->pid());
  for (const pid_t worker : tree)
    EXPECT_TRUE(worker == server->pid() || is_descendant(worker, server->pid()));
  EXPECT_FALSE(server->wait_for_tree_size(7, 20ms));
}

// "Max open files  SOFT  HARD  files" from /proc/PID/limits, as "SOFT HARD".
std::string nofile_limits(pid_t pid) {
  std::ifstream limits(fmt::format("/proc/{}/limits", pid));
  std::string line;
  while (std::getline(limits, line)) {
    if (line.starts_with("Max open files")) {
      std::istringstream fields(line.substr(std::string_view("Max open files").size()));
      std::string soft;
      std::string hard;
      fields >> soft >> hard;
      return fmt::format("{} {}", soft, hard);
    }
  }
  return "(no Max open files line)";
}

TEST_F(ServerProcessTest, NofileFromTheManifestAndItsOverride) {
  Manifest m = fake_server({});
  m.nofile = 48;
  const auto from_manifest = ServerProcess::start(m);
  EXPECT_EQ(nofile_limits(from_manifest->pid()), "48 48");
  LaunchOptions options;
  options.nofile = 32;
  const auto overridden = ServerProcess::start(m, options);
  EXPECT_EQ(nofile_limits(overridden->pid()), "32 32");
  // The guard keeps its own limit: only the program is constrained.
  const auto guard = read_proc(from_manifest->pid());
  ASSERT_TRUE(guard);
  EXPECT_NE(nofile_limits(guard->ppid), "48 48");
}

TEST_F(ServerProcessTest, GuardNofileSetsTheProgramsLimitAndRefusesNonsense) {
  const std::string guard = detail::guard_path().string();
  const auto limited =
      run_to_completion({guard, "--nofile", "20", "--", "sh", "-c", "ulimit -n"}, 5s);
  EXPECT_EQ(limited.exit_code, 0) << limited.output;
  EXPECT_EQ(limited.output, "20\n");
  for (const std::string bad : {"0", "-3", "many", "12x"}) {
    const auto refused = run_to_completion({guard, "--nofile", bad, "--", "true"}, 5s);
    EXPECT_EQ(refused.exit_code, 2) << "--nofile " << bad << ": " << refused.output;
    EXPECT_THAT(refused.output, HasSubstr("usage: csd-guard [--nofile N] [--max-processes N]"))
        << bad;
  }
}

TEST_F(ServerProcessTest, StopReportsWhatIgnoredSigterm) {
  const auto server = ServerProcess::start(fake_server({"--ignore-term", "--workers", "2"}));
  ASSERT_TRUE(server->wait_for_tree_size(3, 5s));
  const auto tree = server->tree();
  const auto pidfds = pidfds_of(tree);
  const StopReport report = server->stop(SIGTERM, 200ms);
  EXPECT_FALSE(report.exited_in_time);
  EXPECT_GE(report.took, 200ms);
  ASSERT_THAT(report.killed, SizeIs(3u));
  for (const pid_t pid : tree)
    EXPECT_THAT(report.killed, Contains(fmt::format("{} (csd-unit-helper)", pid)));
  ASSERT_TRUE(report.exit_status);
  EXPECT_TRUE(WIFSIGNALED(*report.exit_status) && WTERMSIG(*report.exit_status) == SIGKILL);
  EXPECT_TRUE(all_exit_within(pidfds, 0ms)) << survivors(tree, pidfds);
}

// A grandchild that setsid()s and whose parent exits leaves the server's
// process group and session: only the guard, as subreaper, still has it.
TEST_F(ServerProcessTest, StopKillsAGrandchildThatEscapedBySetsid) {
  const auto server = ServerProcess::start(fake_server({"--setsid-grandchild"}));
  // Ready may come from the listening port, before the line naming the grandchild.
  ASSERT_TRUE(server->wait_for_output("listening on", 5s));
  const pid_t grandchild = pid_after(server->output(), "grandchild ");
  ASSERT_GT(grandchild, 0) << server->output();
  const Fd pidfd = detail::open_pidfd(grandchild);
  const auto info = read_proc(grandchild);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->session, grandchild) << "it has its own session";
  EXPECT_EQ(info->ppid, read_proc(server->pid())->ppid) << "it was re-parented to the guard";
  EXPECT_THAT(server->tree(), ElementsAre(server->pid(), grandchild));

  const StopReport report = server->stop(SIGTERM, 300ms);
  EXPECT_FALSE(report.exited_in_time)
      << "SIGTERM to the server does not reach the escaped grandchild";
  EXPECT_THAT(report.killed, ElementsAre(fmt::format("{} (csd-unit-helper)", grandchild)));
  EXPECT_TRUE(exited(pidfd));
}

TEST_F(ServerProcessTest, AServerThatDiedIsNotRunning) {
  const auto server = ServerProcess::start(fake_server({}));
  ASSERT_EQ(::kill(server->pid(), SIGKILL), 0);
  EXPECT_TRUE(wait_until([&] { return !server->running(); }, 5s));
  const StopReport report = server->stop();
  EXPECT_TRUE(report.exited_in_time);
  EXPECT_THAT(report.killed, IsEmpty());
  ASSERT_TRUE(report.exit_status);
  EXPECT_TRUE(WIFSIGNALED(*report.exit_status) && WTERMSIG(*report.exit_status) == SIGKILL);
}

TEST_F(ServerProcessTest, TheDestructorKillsTheTree) {
  std::vector<pid_t> tree;
  std::vector<Fd> pidfds;
  {
    const auto server = ServerProcess::start(fake_server({"--ignore-term", "--workers", "2"}));
    ASSERT_TRUE(server->wait_for_tree_size(3, 5s));
    tree = server->tree();
    pidfds = pidfds_of(tree);
  }
  EXPECT_TRUE(all_exit_within(pidfds, 0ms)) << survivors(tree, pidfds);
}

// What the guard is for: the suite dies by SIGKILL (no destructor, no
// atexit), and still no process of the server's tree survives it.
TEST_F(ServerProcessTest, KillMinusNineOfTheTestProcessLeavesNothing) {
  // The driver's orphaned guard re-parents to us, so that we, not PID 1, reap it.
  unit::SubreaperScope subreaper;
  int report_pipe[2];
  ASSERT_EQ(::pipe2(report_pipe, O_CLOEXEC), 0);
  Fd from_driver(report_pipe[0]);
  Fd to_test(report_pipe[1]);
  const pid_t driver = ::fork();
  ASSERT_GE(driver, 0);
  if (driver == 0) {
    // The driver: a test process that starts a server and is then killed.
    from_driver.reset();
    std::string report;
    try {
      const auto server =
          ServerProcess::start(fake_server({"--workers", "2", "--setsid-grandchild"}));
      server->wait_for_tree_size(4, 5s);
      report = fmt::format("guard {}\n", read_proc(server->pid())->ppid);
      for (const pid_t pid : server->tree()) report += fmt::format("tree {}\n", pid);
      report += "end\n";
      [[maybe_unused]] const auto n = ::write(to_test.get(), report.data(), report.size());
      for (;;) ::pause();  // until SIGKILLed
    } catch (const std::exception& e) {
      report = fmt::format("error {}\n", e.what());
      [[maybe_unused]] const auto n = ::write(to_test.get(), report.data(), report.size());
      ::_exit(1);
    }
  }
  to_test.reset();
  std::string report;
  const bool complete = wait_until(
      [&] {
        char buf[4096];
        pollfd p{from_driver.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) {
          const ssize_t n = ::read(from_driver.get(), buf, sizeof buf);
          if (n > 0)
            report.append(buf, static_cast<std::size_t>(n));
          if (n == 0)
            return true;
        }
        return report.find("end\n") != std::string::npos;
      },
      15s);
  pid_t guard = -1;
  std::vector<pid_t> tree;
  std::istringstream lines(report);
  for (std::string word; lines >> word;) {
    pid_t pid = -1;
    if (word == "guard" && lines >> pid)
      guard = pid;
    if (word == "tree" && lines >> pid)
      tree.push_back(pid);
  }
  std::vector<pid_t> everyone = tree;
  everyone.push_back(guard);
  auto pidfds = pidfds_of(everyone);

  ASSERT_EQ(::kill(driver, SIGKILL), 0);
  ASSERT_EQ(::waitpid(driver, nullptr, 0), driver);
  ASSERT_TRUE(complete && guard > 0) << "the driver reported: " << report;
  ASSERT_THAT(tree, SizeIs(4u)) << "server, 2 workers, escaped grandchild: " << report;

  EXPECT_TRUE(all_exit_within(pidfds, 10s))
      << "survived the test process:" << survivors(everyone, pidfds);
  // The guard killed and reaped its tree, then exited; it is our orphan now.
  EXPECT_TRUE(wait_until([&] { return ::waitpid(guard, nullptr, WNOHANG) == guard; }, 5s));
  for (const pid_t pid : tree) {
    EXPECT_FALSE(read_proc(pid) && is_descendant(pid, ::getpid()))
        << describe(pid) << " is still around";
  }
}

TEST_F(ServerProcessTest, RunToCompletionReportsExitCodeAndOutput) {
  const auto run = run_to_completion(
      {helper_server(), "--say", "hello", "--say-stderr", "oops", "--exit", "3"}, 10s);
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_THAT(run.output, AllOf(HasSubstr("hello\n"), HasSubstr("oops\n")));
}

TEST_F(ServerProcessTest, RunToCompletionOfAProgramKilledBySignal) {
  const auto run = run_to_completion({helper_server(), "--quiet", "--raise", "9"}, 10s);
  EXPECT_FALSE(run.timed_out);
  EXPECT_FALSE(run.exit_code);
}

TEST_F(ServerProcessTest, RunToCompletionLooksUpPathAndKillsAtTheDeadline) {
  const auto ok = run_to_completion({"sh", "-c", "echo from-sh"}, 10s);
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output, "from-sh\n");

  const auto run = run_to_completion({helper_server(), "--workers", "2"}, 300ms);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.exit_code);
  EXPECT_THAT(run.output, HasSubstr("ready"));
}

TEST_F(ServerProcessTest, RunToCompletionOfAMissingProgram) {
  const auto run = run_to_completion({"csd-no-such-program-xyz"}, 10s);
  EXPECT_EQ(run.exit_code, 127);
  EXPECT_THAT(run.output,
              HasSubstr("csd-guard: exec csd-no-such-program-xyz: No such file or directory"));
}

}  // namespace
}  // namespace csd::harness

namespace csd::harness {
namespace {

TEST(FindSanitizerReport, FindsTheFirstReportLineOfEachRuntime) {
  EXPECT_EQ(find_sanitizer_report(
                "listening on 127.0.0.1:1\n==================\nWARNING: ThreadSanitizer: data race "
                "(pid=42)\n  Write of size 8\n"),
            "WARNING: ThreadSanitizer: data race (pid=42)");
  EXPECT_EQ(
      find_sanitizer_report("==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x1"),
      "==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x1");
  EXPECT_EQ(find_sanitizer_report("x\n==7==ERROR: LeakSanitizer: detected memory leaks\n"),
            "==7==ERROR: LeakSanitizer: detected memory leaks");
  EXPECT_EQ(find_sanitizer_report(
                "a.cpp:3:5: runtime error: signed integer overflow\nWARNING: ThreadSanitizer: x"),
            "a.cpp:3:5: runtime error: signed integer overflow");
}

TEST(FindSanitizerReport, IgnoresOrdinaryOutput) {
  EXPECT_EQ(find_sanitizer_report(""), std::nullopt);
  EXPECT_EQ(find_sanitizer_report(
                "listening on 127.0.0.1:1\nchild 0 : 3 times\naccept: Too many open files\n"),
            std::nullopt);
}

}  // namespace
}  // namespace csd::harness
