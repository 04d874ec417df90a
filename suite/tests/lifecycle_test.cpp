// Lifecycle: what the server's processes do over many connections and when
// told to stop. Children are reaped, descriptors are not leaked, SIGTERM
// ends the whole tree promptly.

#include <csignal>

#include <fmt/format.h>

#include <algorithm>

#include "check.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

class Lifecycle : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// Every check of the family: whatever the protocol and the design.
constexpr harness::AppliesTo kEveryImplementation{};

std::vector<pid_t> zombies_in(const std::vector<pid_t>& tree) {
  std::vector<pid_t> zombies;
  for (const pid_t pid : tree) {
    if (const auto info = harness::read_proc(pid); info && info->state == 'Z')
      zombies.push_back(pid);
  }
  return zombies;
}

// The first few, described; the rest counted (the evidence file lists them all).
std::string pids(const std::vector<pid_t>& list) {
  constexpr std::size_t kShown = 5;
  std::string out;
  for (std::size_t i = 0; i < std::min(list.size(), kShown); ++i)
    out += (out.empty() ? "" : ", ") + harness::describe(list[i]);
  if (list.size() > kShown)
    out += fmt::format(" and {} more", list.size() - kShown);
  return out;
}

CSD_CHECK(Lifecycle, NoZombiesAfter200Connections, kEveryImplementation, "life/no-zombies",
          Level::required,
          "After 200 connections, no child of the server stays a zombie for more than 3 s.",
          "Reaping children is part of the fork design (UNP 5.9, 5.10), not an extra.",
          {"no-reap"}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(4, 50, 100)));
  // A child that exits as its client leaves is a zombie for an instant, until
  // the parent's SIGCHLD handling reaps it; a reaping server gets there quickly.
  std::vector<pid_t> zombies;
  const bool reaped =
      harness::wait_until([&] { return (zombies = zombies_in(server().tree())).empty(); }, 3000ms);
  RecordProperty("zombies", static_cast<int>(zombies.size()));
  EXPECT_TRUE(reaped) << zombies.size()
                      << " zombie(s) 3 s after 200 connections ended: " << pids(zombies);
}

CSD_CHECK(
    Lifecycle, DescriptorCountStableOver500Connections, kEveryImplementation,
    "life/no-descriptor-leak", Level::required,
    "The main process holds no more descriptors after 500 connections than before (4 of slack).",
    "A descriptor per connection leaked is a server that stops at its limit: a bug in any "
    "design.",
    {"fd-leak"}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(2, 10, 100)));  // warm-up: lazy opens happen here
  const pid_t main_pid = server().pid();
  const int before = harness::open_fd_count(main_pid);
  ASSERT_GE(before, 0) << "cannot read /proc/" << main_pid << "/fd";

  ASSERT_TRUE(EveryConnectionSucceeded(load(5, 100, 100)));
  constexpr int kSlack =
      4;  // room for a descriptor opened lazily; a leak of one per connection is ~500
  int after = 0;
  const bool settled = harness::wait_until(
      [&] { return (after = harness::open_fd_count(main_pid)) <= before + kSlack; }, 3000ms);
  RecordProperty("fds_before", before);
  RecordProperty("fds_after", after);
  EXPECT_TRUE(settled) << "the main process " << harness::describe(main_pid) << " held " << before
                       << " descriptors before 500 connections and " << after << " after";
}

CSD_CHECK(Lifecycle, SigtermStopsWholeTreeWithinOneSecond, kEveryImplementation,
          "life/sigterm-stops-tree", Level::required,
          "SIGTERM to the main process ends it and every process it made within 1 s.",
          "UNP's pool servers kill their children on SIGINT (30.6, sig_int); a tree that outlives "
          "its parent is an orphan leak.",
          {"orphans", "ignores-sigterm"}) {
  // Exercise the design first, so that worker children exist and have served.
  ASSERT_TRUE(EveryConnectionSucceeded(load(4, 10, 100)));
  const auto tree = server().tree();
  const std::string main_process = harness::describe(server().pid());
  const auto report = stop_server(SIGTERM, 1000ms);
  RecordProperty("stop_ms", static_cast<int>(report.took.count()));
  std::string killed;
  for (const auto& k : report.killed) killed += " " + k;
  EXPECT_TRUE(report.exited_in_time)
      << "after SIGTERM to " << main_process << ", " << report.killed.size() << " of "
      << tree.size()
      << " processes were still running after 1 s and had to be SIGKILLed:" << killed;
}

}  // namespace
}  // namespace csd::suite
